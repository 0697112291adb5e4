# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The Ansible edge of ``airgap.mirror.signature_policy``: its argument spec."""

from __future__ import annotations

from typing import Any


def module_kwargs() -> dict[str, Any]:
    """The keyword arguments of the module's AnsibleModule."""
    key = dict(name=dict(type="str", required=True), content=dict(type="str", required=True))
    signature = dict(
        scope=dict(type="str", required=True),
        kind=dict(type="str", required=True, choices=["gpg", "sigstore"]),
        keys=dict(type="list", elements="dict", required=True, options=key, no_log=False),  # public keys
        signed_identity=dict(type="dict"),
        lookaside=dict(type="str"),
    )
    return dict(
        argument_spec=dict(
            policy=dict(type="path", default="/etc/containers/policy.json"),
            registries_d=dict(type="path", default="/etc/containers/registries.d/airgap-mirror.yaml"),
            keys_dir=dict(type="path", default="/etc/containers/keys"),
            record=dict(type="path", default="/var/lib/airgap-mirror/signature_policy-airgap-mirror.json"),
            signatures=dict(type="list", elements="dict", default=[], options=signature),
            pairs=dict(type="list", elements="dict", default=[],
                       options=dict(source=dict(type="str", required=True), mirror=dict(type="str", required=True))),
            lookaside=dict(type="str"),
            default=dict(type="str", choices=["leave", "reject", "insecureAcceptAnything"], default="leave"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
