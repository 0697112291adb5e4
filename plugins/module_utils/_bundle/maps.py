# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A bundle and the mirror map: the map's images selected for a pack, the map embedded in the
bundle manifest, and the map an unpack writes (merged by ``_mirrormap/io.merge``: the bundle's
images replace the entries of the same sources, every other entry stays).

Entries and destinations are the types of ``_mirrormap/model.py``; files go through
``_mirrormap/io.py``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from .._mirrormap import io as _mapio
from .._mirrormap.model import Entry, LayoutDestination, MirrorMap, MirrorMapError, Verified
from .._oci import reference as _ref
from .._oci.errors import OCIError
from .errors import BundleError, os_error


def load_for_pack(path: str) -> MirrorMap:
    """The map that selects the images of a pack."""
    try:
        return _mapio.load(path)
    except FileNotFoundError:
        raise BundleError("the mirror map %s does not exist" % path) from None
    except (OSError, MirrorMapError) as exc:
        raise BundleError("cannot read the mirror map: %s" % exc) from None


def layout_ref(entry: Entry, layout_path: str) -> str | None:
    """The ref name *entry* has in the layout at *layout_path*, or None when it does not point there."""
    dest = entry.destination
    if isinstance(dest, LayoutDestination) and dest.path == layout_path:
        return dest.ref_name
    return None


def embedded(mirror_map: MirrorMap, layout_path: str, ref_names: set[str]) -> list[dict[str, Any]]:
    """The entries of *mirror_map* for the bundled images, as the bundle manifest holds them."""
    return [e.to_dict() for e in mirror_map if (layout_ref(e, layout_path) or str(e.source)) in ref_names]


def verified_by_ref(mirror_map: MirrorMap, layout_path: str, ref_names: set[str]) -> dict[str, dict[str, Any]]:
    """``{ref name: verified}`` of the bundled images whose map entry records what was verified."""
    out: dict[str, dict[str, Any]] = {}
    for entry in mirror_map:
        ref_name = layout_ref(entry, layout_path) or str(entry.source)
        if ref_name in ref_names and entry.verified is not None:
            out.setdefault(ref_name, entry.verified.to_dict())
    return out


def unpacked_entries(doc: dict[str, Any], layout_path: str) -> list[Entry]:
    """Mirror map entries for the bundle's images, pointing at the unpacked layout."""
    refs = {i["ref_name"]: i for i in doc["images"]}
    out = []
    covered = set()
    for entry in _mapio.from_document({"images": doc.get("mirror_map") or []}, origin="bundle mirror_map"):
        ref_name = None
        dest = entry.destination
        if isinstance(dest, LayoutDestination) and dest.ref_name in refs:
            ref_name = dest.ref_name
        elif str(entry.source) in refs:
            ref_name = str(entry.source)
        if ref_name is None:
            continue
        out.append(dataclasses.replace(entry, destination=LayoutDestination(layout_path, ref_name)))
        covered.add(ref_name)
    for ref_name, image in refs.items():
        if ref_name in covered:
            continue
        try:
            source = _ref.parse(ref_name)
        except (OCIError, ValueError):
            continue
        verified = Verified.from_dict(image["verified"]) if image.get("verified") is not None else None
        out.append(Entry(source, image["digest"], image["media_type"], LayoutDestination(layout_path, ref_name),
                         tuple(image.get("platforms") or ()), int(image.get("total_size") or image["size"]),
                         source_digest=image.get("source_digest") or None, verified=verified))
    return out


def write_unpacked(path: str | None, doc: dict[str, Any], layout_path: str, check_mode: bool,
                   prune: bool = False) -> bool:
    """Merge the bundle's images into the mirror map at *path* with the one rule of
    ``_mirrormap/io.merge`` (entries of the same sources are replaced, the others stay; with *prune*
    only the bundle's images stay). Returns True when the file changed (or would change)."""
    if not path:
        return False
    try:
        existing = _mapio.load_if_exists(path)
    except (OSError, MirrorMapError) as exc:
        raise BundleError("cannot read the mirror map to update: %s" % exc) from None
    entries = unpacked_entries(doc, layout_path)
    merged = _mapio.merge(existing, entries, prune_to={str(e.source) for e in entries} if prune else None)
    try:
        return _mapio.write(os.path.abspath(path), merged, check_mode)
    except OSError as exc:
        raise BundleError(os_error(exc, "writing the mirror map %s" % path)) from None
