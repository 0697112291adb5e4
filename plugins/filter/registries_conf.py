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

from collections.abc import Callable
from typing import Any

from ansible.utils.display import Display

from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.model import (
    RegistriesConfError, build,
)
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.pairs import (
    pairs_from_mirror_map,
)
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.render import render
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.validate import (
    check_text, validate,
)
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


@reported
def registries_conf_pairs(data: Any, filtered_digests: str = "fail") -> list[dict[str, str]]:
    """Source prefix -> mirror prefix pairs covering the images of a mirror map."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    warnings: list[str] = []
    pairs = pairs_from_mirror_map(data, origin="<mirror map text>", filtered_digests=filtered_digests,
                                  warnings=warnings)
    for warning in warnings:
        Display().warning("registries_conf_pairs: %s" % warning)
    return pairs


@reported
def registries_conf_toml(pairs: list[Any] | None, registries: list[Any] | None = None, mirror_insecure: bool = False,
                         mirror_by_digest_only: bool = True, mirror_registry_entry: bool = True) -> str:
    """The validated text of a registries.conf.d drop-in, as airgap.mirror.registries_conf writes it."""
    entries = build(
        registries=registries, pairs=pairs, mirror_insecure=mirror_insecure,
        mirror_by_digest_only=mirror_by_digest_only, mirror_registry_entry=mirror_registry_entry,
    )
    if not entries:
        raise RegistriesConfError("nothing to write: no pairs and no registries")
    validate(entries)
    text = render(entries)
    check_text(text, entries, "<registries_conf_toml>")
    return text


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "registries_conf_pairs": registries_conf_pairs,
            "registries_conf_toml": registries_conf_toml,
        }
