# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Unpacking a bundle into an OCI image layout on the air-gapped side (and recording its images
in the mirror map)."""

from __future__ import annotations

import os
import time
from typing import Any

from .._common.sizes import human_size
from .._common.space import free_bytes, space_margin
from .._engine.layout import SOURCE_DIGEST, Layout
from .._mirrormap.model import check_layout_path
from .._oci import manifest as _manifest
from .._oci.errors import LayoutError
from . import maps as _maps
from .errors import BundleError, Progress
from .graphs import LayoutGraph, image_graph, missing_message
from .intake import stream_into
from .lock import bundle_lock
from .names import DEFAULT_NAME, check_name, manifest_file_name
from .parts import check_parts, extra_files
from .report import timing
from .signing import TrustedKeys, read_signed


def unpack(bundle_dir: str, layout_path: str, name: str = DEFAULT_NAME, check_mode: bool = False,
           check_space: bool = True, progress: Progress | None = None,
           mirror_map: str | None = None, map_prune: bool = False,
           trusted: TrustedKeys | None = None, mirror_storage_path: str | None = None) -> dict[str, Any]:
    """Unpack bundle *name* of *bundle_dir* into the layout at *layout_path* (created when missing),
    and record its images in *mirror_map* (pruned to them when *map_prune*; see maps.write_unpacked).

    Order: with *trusted* keys the manifest's signature and then every part's sha256 (so a changed
    part is refused before anything is written, check mode included); manifest checks, part sizes,
    the layout has what an incremental bundle assumes, free space, then one pass over the stream
    (members checked, blobs verified as they are written, part hashes checked as they are crossed),
    then every image checked complete, then ``index.json`` merged in one atomic replacement. The
    bundle's lock is shared with other readers (a pack of it at the same time fails, or makes this
    fail, at once); the layout takes concurrent writers (see :class:`Layout`). Returns a report dict."""
    bundle_dir = os.path.abspath(bundle_dir)
    layout_path = os.path.abspath(layout_path)
    check_name(name)
    if mirror_map:
        try:
            check_layout_path(layout_path)
        except ValueError as exc:
            raise BundleError("the mirror map %s cannot record the unpacked images: %s" % (mirror_map, exc)) from None
    with bundle_lock(bundle_dir, name, exclusive=False, action="unpack"):
        return _unpack(bundle_dir, layout_path, name, check_mode, check_space, progress, mirror_map, map_prune,
                       trusted, mirror_storage_path)


def _open_layout(path: str) -> Any:
    """The layout at *path*; a missing one is created by its first write (``Layout(create=True)``),
    so a refused or check-mode unpack leaves no directory behind."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise BundleError("%s exists and is not a directory" % path)
    try:
        return Layout(path, create=True)
    except LayoutError as exc:
        raise BundleError("%s; unpack into a layout or into a new or empty directory" % exc.message) from None


def _check_signed_parts(bundle_dir: str, doc: dict[str, Any]) -> None:
    """Every part against the signed manifest's sha256, before anything is written."""
    problems = check_parts(bundle_dir, doc, full=True)
    if problems:
        raise BundleError("the bundle %s in %s is refused: its parts do not match its signed manifest:\n%s"
                          % (doc["name"], bundle_dir, "\n".join(p["message"] for p in problems)),
                          part=problems[0]["part"], problems=problems)


def _graphs_from_layout(layout: Any, doc: dict[str, Any]) -> list[LayoutGraph]:
    graphs = []
    for image in doc["images"]:
        desc = _manifest.Descriptor(image["media_type"], image["digest"], image["size"])
        graphs.append(image_graph(layout, image["ref_name"], desc))
    return graphs


def in_mirror(doc: dict[str, Any]) -> set[str]:
    """What a bundle packed from a mirror inventory left out: it is in the mirror registry, not
    expected in the layout (the push from the layout finds it there; see baseline.py)."""
    if (doc.get("previous") or {}).get("kind") != "inventory":
        return set()
    return set(b["digest"] for b in doc["assumed_present"])


def _incomplete(layout: Any, doc: dict[str, Any]) -> list[LayoutGraph]:
    """The bundle's images that lack something in the layout the mirror is not said to have."""
    skip = in_mirror(doc)
    graphs = _graphs_from_layout(layout, doc)
    for graph in graphs:
        graph.missing = [d for d in graph.missing if d not in skip]
    return [g for g in graphs if g.missing]


def _check_assumed(layout: Any, layout_path: str, doc: dict[str, Any]) -> None:
    """An incremental bundle needs what it left out to be in the layout already (unless it was
    packed from a mirror inventory: then in the mirror)."""
    skip = in_mirror(doc)
    absent = [b for b in doc["assumed_present"]
              if b["digest"] not in skip and not layout.has_blob(b["digest"], b["size"])]
    if absent:
        gone = set(b["digest"] for b in absent)
        images = [i for i in doc["images"] if gone.intersection(i["blobs"])]
        previous = (doc.get("previous") or {}).get("path") or "the previous transfer"
        raise BundleError("%d image(s) of this incremental bundle need %d blob(s) (%s) that are not in the layout %s "
                          "and not in the bundle: %s. Unpack the bundle of %s into this layout first"
                          % (len(images), len(absent), human_size(sum(b["size"] for b in absent)), layout_path,
                             ", ".join(i["ref_name"] for i in images), previous))


def _mirror_summary(doc: dict[str, Any]) -> dict[str, Any] | None:
    """What an inventory-based bundle expects in the mirror registry rather than in the layout."""
    skip = in_mirror(doc)
    if not skip and (doc.get("previous") or {}).get("kind") != "inventory":
        return None
    previous = doc["previous"]
    return {"registry": previous.get("registry"), "inventory": previous.get("path"),
            "inventory_read_at": previous.get("read_at"), "blobs": len(skip),
            "bytes": sum(b["size"] for b in doc["assumed_present"] if b["digest"] in skip)}


def _check_mirror_space(doc: dict[str, Any], path: str) -> dict[str, Any]:
    """The mirror's storage (on this host) must hold what the push after this unpack sends at most:
    every blob the bundle carries, plus the margin of image_mirror's preflight."""
    needed = sum(b["size"] for b in doc["blobs"])
    free = free_bytes(path)
    margin = space_margin(needed)
    if needed + margin > free:
        raise BundleError("not enough free space on the mirror's storage %s for what this bundle brings: %s (%s of "
                          "blobs plus a %s margin), the file system has %s free (mirror_storage_path)"
                          % (path, human_size(needed + margin), human_size(needed), human_size(margin),
                             human_size(free)))
    return {"path": path, "needed": needed + margin, "free": free}


def _image_status(layout: Any, doc: dict[str, Any]) -> list[tuple[dict[str, Any], str | None, str]]:
    """[(image, digest the layout records for its name or None, added|updated|present)]."""
    current: dict[str, Any] = {}
    for ref_name, desc in layout.entries():
        current.setdefault(ref_name, desc)
    out = []
    for image in doc["images"]:
        old = current.get(image["ref_name"])
        if old is None:
            status = "added"
        elif old.digest != image["digest"]:
            status = "updated"
        else:
            status = "present"
        out.append((image, old.digest if old is not None else None, status))
    return out


def _unpack(bundle_dir: str, layout_path: str, name: str, check_mode: bool, check_space: bool,
            progress: Progress | None, mirror_map: str | None, map_prune: bool,
            trusted: TrustedKeys | None, mirror_storage_path: str | None = None) -> dict[str, Any]:
    started = time.monotonic()
    doc, signature = read_signed(bundle_dir, name, trusted)
    if trusted is not None:
        _check_signed_parts(bundle_dir, doc)
    layout = _open_layout(layout_path)
    _check_assumed(layout, layout_path, doc)
    to_write = [b for b in doc["blobs"] if not layout.has_blob(b["digest"], b["size"])]
    image_status = _image_status(layout, doc)
    changing = [s for s in image_status if s[2] != "present"]
    report: dict[str, Any] = {
        "bundle": bundle_dir,
        "manifest": os.path.join(bundle_dir, manifest_file_name(name)),
        "name": name,
        "layout": layout_path,
        "extra": extra_files(bundle_dir, doc),
        "blobs": len(doc["blobs"]),
        "blob_bytes": sum(b["size"] for b in doc["blobs"]),
        "blobs_to_write": len(to_write),
        "bytes_to_write": sum(b["size"] for b in to_write),
        "assumed_present": len(doc["assumed_present"]),
        "assumed_in_mirror": _mirror_summary(doc),
        "bytes": doc["tar"]["size"],
        "signature": signature,
        "diff": {
            "before": "".join("%s %s\n" % (i["ref_name"], old or "(absent)") for i, old, _s in image_status),
            "after": "".join("%s %s\n" % (i["ref_name"], i["digest"]) for i, _old, _s in image_status),
        },
    }

    def image_results(prefix: str = "") -> list[dict[str, Any]]:
        return [dict({"ref_name": i["ref_name"], "digest": i["digest"], "media_type": i["media_type"],
                      "previous_digest": old, "status": (prefix + s) if s != "present" else s,
                      "total_size": i.get("total_size")}, **({"verified": i["verified"]} if i.get("verified") else {}))
                for i, old, s in image_status]

    if not to_write and not changing and layout.exists:
        incomplete = _incomplete(layout, doc)
        if incomplete:
            raise BundleError(missing_message(incomplete, layout_path, "recorded by the bundle are incomplete"))
        map_changed = _maps.write_unpacked(mirror_map, doc, layout_path, check_mode, map_prune)
        report.update(changed=map_changed, status="present", images=image_results(), blobs_written=0,
                      bytes_written=0, mirror_map=mirror_map)
        report.update(timing(started, 0))
        return report

    # only images to name (their blobs are all in the layout already): no part needs reading
    problems = check_parts(bundle_dir, doc, full=False) if to_write else []
    if problems:
        raise BundleError("the bundle in %s cannot be unpacked:\n%s" % (bundle_dir, "\n".join(
            p["message"] for p in problems)), part=problems[0]["part"], problems=problems)
    if check_space and mirror_storage_path:
        report["mirror_space"] = _check_mirror_space(doc, mirror_storage_path)
    partial = sum(layout.partial_size(b["digest"]) for b in to_write)
    needed = sum(b["size"] for b in to_write) - partial + len(doc["images"]) * 1024 + 65536
    free = free_bytes(layout_path)
    report["space"] = {"needed": needed, "free": free, "path": layout_path}
    if check_space and free < needed:
        raise BundleError("not enough free space in %s for the bundle's blobs: %d blob(s) not already in the layout "
                          "need %d bytes (%s), %d bytes (%s) are free"
                          % (layout_path, len(to_write), needed, human_size(needed), free, human_size(free)))
    if check_mode:
        report.update(changed=True, status="would_unpack", images=image_results("would_be_"), blobs_written=0,
                      bytes_written=0, mirror_map=mirror_map)
        report.update(timing(started, 0))
        return report
    if progress:
        progress("preflight", {"needed": needed, "free": free, "path": layout_path})

    written, written_bytes = stream_into(layout, bundle_dir, doc, progress) if to_write else (0, 0)
    incomplete = _incomplete(layout, doc)
    if incomplete:
        raise BundleError(missing_message(incomplete, layout_path, "are incomplete after unpacking (index.json "
                                          "left unchanged)"))
    layout.set_refs([(i["ref_name"], _manifest.Descriptor(
        i["media_type"], i["digest"], i["size"],
        annotations={SOURCE_DIGEST: i["source_digest"]} if i.get("source_digest") else None))
        for i in doc["images"]])
    layout.cleanup_state()
    _maps.write_unpacked(mirror_map, doc, layout_path, False, map_prune)
    report.update(changed=True, status="unpacked", images=image_results(), blobs_written=written,
                  bytes_written=written_bytes, mirror_map=mirror_map)
    report.update(timing(started, doc["tar"]["size"]))
    return report
