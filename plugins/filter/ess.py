# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Element Server Suite filters: the images_digests override ConfigMap and installer settings."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.airgap.mirror.plugins.module_utils._products import ess as _ess
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import k8s as _dockerconfig
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.legacy import MirrorMapError

_display = Display()


def ess_images_digests_override(installer, mirror_map, name, namespace, image_digest="keep",
                                on_missing="fail", include=None, exclude=None, labels=None,
                                source_name="images_digests.yml"):
    """Report dict with ``configmap`` (the override ConfigMap), ``overridden``, ``missing``,
    ``digest_changed``, ``matches`` and ``warnings``."""
    try:
        report = _ess.override_configmap(
            installer, mirror_map, name, namespace, labels=labels, image_digest=image_digest,
            on_missing=on_missing, include=include, exclude=exclude, origin=source_name or "images_digests.yml",
        )
    except (_ess.ESSError, MirrorMapError, _dockerconfig.KubernetesObjectError) as exc:
        raise AnsibleFilterError("ess_images_digests_override: %s" % exc) from None
    for warning in report["warnings"]:
        _display.warning("ess_images_digests_override: %s" % warning)
    return report


def ess_installer_settings(configmap_name=None, secret_name=None, keys=None, secret_as_list=True, current=None):
    """``[{key, value}]`` edits recording the ConfigMap and Secret names in the installer settings."""
    try:
        return _ess.settings_edits(configmap_name, secret_name, keys=keys, secret_as_list=secret_as_list,
                                   current=current)
    except (_ess.ESSError, _dockerconfig.KubernetesObjectError) as exc:
        raise AnsibleFilterError("ess_installer_settings: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {
            "ess_images_digests_override": ess_images_digests_override,
            "ess_installer_settings": ess_installer_settings,
        }
