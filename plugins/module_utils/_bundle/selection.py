# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Which images of a layout a pack carries: named ones, those of a mirror map, or every named one."""

from __future__ import annotations

from typing import Any

from .._engine.layout import REF_NAME
from .._mirrormap.model import MirrorMap
from .._oci import manifest as _manifest
from .._oci import reference as _ref
from .._oci.errors import OCIError
from .errors import BundleError
from .maps import layout_ref

Selected = list[tuple[str, _manifest.Descriptor]]


def select_images(layout: Any, names: list[str] | None,
                  mirror_map: MirrorMap | None) -> tuple[Selected, list[str]]:
    """``([(ref name, descriptor)], warnings)``: the images to pack."""
    entries = list(layout.entries())
    by_name: dict[str, _manifest.Descriptor] = {}
    for name, desc in entries:
        if name is not None and name not in by_name:
            by_name[name] = desc
    if names is not None and list(names) == ["all"]:
        names = None
    if names is not None:
        return _by_names(layout, by_name, names), []
    if mirror_map is not None:
        return _by_map(layout, by_name, mirror_map), []
    warnings = []
    unnamed = sum(1 for name, _desc in entries if name is None)
    if unnamed:
        warnings.append("%d entries of %s/index.json have no %s annotation and are not bundled"
                        % (unnamed, layout.path, REF_NAME))
    return sorted(by_name.items()), warnings


def _by_names(layout: Any, by_name: dict[str, _manifest.Descriptor], names: list[str]) -> Selected:
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = sorted(by_name)
        raise BundleError("not in the layout %s: %s (it holds %d images%s)"
                          % (layout.path, ", ".join(unknown), len(known),
                             ": " + ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else ""))
    selected = []
    chosen = set()
    for name in names:
        if name not in chosen:
            chosen.add(name)
            selected.append((name, by_name[name]))
    return selected


def _by_map(layout: Any, by_name: dict[str, _manifest.Descriptor], mirror_map: MirrorMap) -> Selected:
    selected = []
    chosen = set()
    for entry in mirror_map:
        found = layout_ref(entry, layout.path) or str(entry.source)
        if found not in by_name:
            raise BundleError("not in the layout %s (the mirror map's destination is %s)"
                              % (layout.path, entry.destination), image=str(entry.source))
        if by_name[found].digest != entry.digest:
            raise BundleError("the mirror map says %s, the layout %s records %s for %s"
                              % (entry.digest, layout.path, by_name[found].digest, found), image=str(entry.source))
        extra = [found]
        try:
            repo_name: str | None = _ref.parse(found).name
        except (OCIError, ValueError):
            repo_name = None
        for tag in entry.attachments:
            if repo_name and "%s:%s" % (repo_name, tag) in by_name:
                extra.append("%s:%s" % (repo_name, tag))
        for name in extra:
            if name not in chosen:
                chosen.add(name)
                selected.append((name, by_name[name]))
    return selected
