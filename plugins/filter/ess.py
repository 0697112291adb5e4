# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Element Server Suite filters: the images_digests override ConfigMap and installer settings (the
classic installer), and the matrix-stack Helm chart's image values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.utils.display import Display

from ansible_collections.airgap.mirror.plugins.module_utils._products import ess as _ess
from ansible_collections.airgap.mirror.plugins.module_utils._products import ess_helm as _ess_helm
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

_display = Display()


@reported
def ess_images_digests_override(installer: Any, mirror_map: Any, name: str, namespace: str,
                                image_digest: str = "keep", on_missing: str = "fail", include: Any = None,
                                exclude: Any = None, labels: dict[str, str] | None = None,
                                source_name: str = "images_digests.yml") -> dict[str, Any]:
    """Report dict with ``configmap`` (the override ConfigMap), ``overridden``, ``missing``,
    ``digest_changed``, ``matches`` and ``warnings``."""
    report = _ess.override_configmap(
        installer, mirror_map, name, namespace, labels=labels, image_digest=image_digest,
        on_missing=on_missing, include=include, exclude=exclude, origin=source_name or "images_digests.yml",
    )
    for warning in report["warnings"]:
        _display.warning("ess_images_digests_override: %s" % warning)
    return report


@reported
def ess_installer_settings(configmap_name: str | None = None, secret_name: str | None = None,
                           keys: dict[str, str] | None = None, secret_as_list: bool = True,
                           current: str | None = None) -> list[dict[str, Any]]:
    """``[{key, value}]`` edits recording the ConfigMap and Secret names in the installer settings."""
    return _ess.settings_edits(configmap_name, secret_name, keys=keys, secret_as_list=secret_as_list,
                               current=current)


@reported
def ess_helm_values(chart_values: Any, mirror_map: Any, pull_secret: str | None = None, on_missing: str = "fail",
                    include: Any = None, exclude: Any = None, site_values: Any = None,
                    source_name: str = "values.yaml", header: str | None = None) -> dict[str, Any]:
    """Report dict with ``values`` (the overlay for ``helm -f``), ``text`` (it as YAML), ``components``,
    ``missing``, ``skipped``, ``matches``, ``registries`` and ``warnings``."""
    report = _ess_helm.build_values(chart_values, mirror_map, pull_secret=pull_secret or None,
                                    on_missing=on_missing, include=include, exclude=exclude,
                                    site_values=site_values, origin=source_name or "values.yaml")
    report["text"] = _ess_helm.dump_values(report["values"], header=header)
    for warning in report["warnings"]:
        _display.warning("ess_helm_values: %s" % warning)
    return report


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "ess_helm_values": ess_helm_values,
            "ess_images_digests_override": ess_images_digests_override,
            "ess_installer_settings": ess_installer_settings,
        }
