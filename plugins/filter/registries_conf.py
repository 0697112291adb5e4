# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn the mirror map into containers registries.conf input.

``registries_conf_pairs``: mirror map -> ``[{source, mirror}]`` for airgap.mirror.registries_conf.
``registries_conf_toml``: pairs (and full entries) -> validated drop-in text, for places that
need the text itself (a MachineConfig, a ConfigMap, a cloud-init file).
Documentation: registries_conf_pairs.yml and registries_conf_toml.yml next to this file.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import registries_conf as rc
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import legacy as mirrormap


def _entries(data):
    if isinstance(data, (str, bytes)):
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return mirrormap.loads(text, origin="<mirror map text>")
    if isinstance(data, dict):
        if not isinstance(data.get("images"), list):
            raise AnsibleFilterError("registries_conf_pairs: a mirror map document needs an 'images' list")
        return data["images"]
    if isinstance(data, (list, tuple)):
        return list(data)
    raise AnsibleFilterError(
        "registries_conf_pairs: expected a mirror map (document, text or list of entries), not %s"
        % type(data).__name__
    )


def registries_conf_pairs(data):
    """Source prefix -> mirror prefix pairs covering the images of a mirror map."""
    try:
        return rc.pairs_from_mirror_map(_entries(data))
    except (rc.RegistriesConfError, mirrormap.MirrorMapError) as exc:
        raise AnsibleFilterError("registries_conf_pairs: %s" % exc) from None


def registries_conf_toml(pairs, registries=None, mirror_insecure=False, mirror_by_digest_only=True,
                         mirror_registry_entry=True):
    """The validated text of a registries.conf.d drop-in, as airgap.mirror.registries_conf writes it."""
    try:
        entries = rc.build(
            registries=registries, pairs=pairs, mirror_insecure=mirror_insecure,
            mirror_by_digest_only=mirror_by_digest_only, mirror_registry_entry=mirror_registry_entry,
        )
        if not entries:
            raise rc.RegistriesConfError("nothing to write: no pairs and no registries")
        rc.validate(entries)
        text = rc.render(entries)
        rc.check_text(text, entries, "<registries_conf_toml>")
        return text
    except rc.RegistriesConfError as exc:
        raise AnsibleFilterError("registries_conf_toml: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {
            "registries_conf_pairs": registries_conf_pairs,
            "registries_conf_toml": registries_conf_toml,
        }
