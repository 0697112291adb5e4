# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The pack plan: every byte of a bundle decided from the layout before any byte is written."""

from __future__ import annotations

import json
from typing import Any

from .._common.sizes import human_size, parse_size
from .._engine.layout import LAYOUT_VERSION, REF_NAME, SOURCE_DIGEST, Layout
from .._oci import manifest as _manifest
from . import baseline as _baseline
from . import maps as _maps
from .errors import BundleError
from .graphs import LayoutGraph, image_graph, missing_message
from .manifest import dumps
from .names import DEFAULT_NAME, DEFAULT_PART_SIZE, FORMAT, TAR_WRITER, check_name, check_ref_name, part_file_name
from .previous import load_previous
from .selection import select_images
from .tarstream import BLOCK, RECORD, padding, tar_header

MAX_PARTS = 99999

#: [(digest, size)]
Blobs = list[tuple[str, int]]


class PackPlan:
    """What a pack will write: computed from the layout before any byte is written."""

    def __init__(self, layout: Any, name: str, part_size: int, graphs: list[LayoutGraph], blobs: Blobs,
                 assumed: Blobs, owners: dict[str, str], mirror_map: list[dict[str, Any]] | None,
                 previous: dict[str, Any] | None, warnings: list[str],
                 verified: dict[str, dict[str, Any]] | None = None) -> None:
        self.layout = layout
        self.name = name
        self.part_size = part_size
        self.graphs = graphs
        self.blobs = blobs  # [(digest, size)] in the tar, digest order
        self.assumed = assumed  # [(digest, size)] needed by the images, left out (incremental)
        self.owners = owners  # digest -> first image needing it (for messages)
        self.mirror_map = mirror_map
        self.previous = previous
        self.warnings = warnings
        self.verified = verified or {}  # ref name -> the map entry's "verified" (what was checked at mirror time)
        self.index_bytes = dumps(self._index())
        self.layout_bytes = json.dumps(LAYOUT_VERSION).encode()
        self.members: list[tuple[str, int, str | None]] = [("oci-layout", len(self.layout_bytes), None)]
        self.members += [("blobs/%s/%s" % tuple(d.split(":", 1)), s, d) for d, s in blobs]
        self.members.append(("index.json", len(self.index_bytes), None))
        size = 0
        for member, member_size, _digest in self.members:
            size += len(tar_header(member, member_size)) + member_size + padding(member_size)
        size += 2 * BLOCK
        size += (RECORD - size % RECORD) % RECORD
        self.tar_size = size
        count = -(-size // part_size)
        if count > MAX_PARTS:
            raise BundleError("part_size %d would cut %s into %d parts (at most %d); use a larger part_size"
                              % (part_size, human_size(size), count, MAX_PARTS))
        self.part_names = [part_file_name(name, i + 1, count) for i in range(count)]
        self.part_sizes = [min(part_size, size - i * part_size) for i in range(count)]

    @property
    def blob_bytes(self) -> int:
        return sum(s for _d, s in self.blobs)

    @property
    def assumed_bytes(self) -> int:
        return sum(s for _d, s in self.assumed)

    def _index(self) -> dict[str, Any]:
        manifests = []
        for graph in sorted(self.graphs, key=lambda g: g.ref_name):
            entry: dict[str, Any] = {"mediaType": graph.desc.media_type, "digest": graph.desc.digest,
                                     "size": graph.desc.size}
            if graph.desc.artifact_type:
                entry["artifactType"] = graph.desc.artifact_type
            entry["annotations"] = {REF_NAME: graph.ref_name}
            if graph.desc.annotations.get(SOURCE_DIGEST):  # a platform-filtered image: its source's digest
                entry["annotations"][SOURCE_DIGEST] = graph.desc.annotations[SOURCE_DIGEST]
            manifests.append(entry)
        return {"schemaVersion": 2, "mediaType": _manifest.OCI_INDEX, "manifests": manifests}

    def images(self) -> list[dict[str, Any]]:
        out = []
        for g in sorted(self.graphs, key=lambda g: g.ref_name):
            image: dict[str, Any] = {
                "ref_name": g.ref_name,
                "digest": g.desc.digest,
                "media_type": g.desc.media_type,
                "size": g.desc.size,
                "total_size": g.total_size,
                "platforms": list(g.platforms),
                "blobs": sorted(g.digests),
            }
            if g.desc.annotations.get(SOURCE_DIGEST):
                image["source_digest"] = g.desc.annotations[SOURCE_DIGEST]
            if g.ref_name in self.verified:
                image["verified"] = self.verified[g.ref_name]
            out.append(image)
        return out

    def document(self, parts: list[tuple[str, int, str]] | None) -> dict[str, Any]:
        """The manifest; *parts* is [(name, size, sha256)] (None: sizes only, hashes unknown yet)."""
        listed: list[tuple[str, int, str | None]] = list(parts) if parts is not None else \
            [(n, s, None) for n, s in zip(self.part_names, self.part_sizes)]
        return {
            "format": FORMAT,
            "name": self.name,
            "tar": {"writer": TAR_WRITER, "split": "bytes", "part_size": self.part_size, "size": self.tar_size},
            "parts": [{"name": n, "size": s, "sha256": h} for n, s, h in listed],
            "images": self.images(),
            "blobs": [{"digest": d, "size": s} for d, s in self.blobs],
            "blob_bytes": self.blob_bytes,
            "assumed_present": [{"digest": d, "size": s} for d, s in self.assumed],
            "assumed_bytes": self.assumed_bytes,
            "previous": self.previous,
            "mirror_map": self.mirror_map,
        }


def plan_pack(layout_path: str, name: str = DEFAULT_NAME, part_size: int | str = DEFAULT_PART_SIZE,
              images: list[str] | None = None, mirror_map: str | None = None,
              previous: str | None = None, trusted: Any = None) -> PackPlan:
    """Read the layout and decide every byte of the bundle. Nothing is written. *previous*: a
    mirror map, bundle manifest or mirror inventory (its signature checked with *trusted* keys,
    see baseline.py)."""
    check_name(name)
    size = parse_size(part_size, "part_size")
    layout = Layout(layout_path)
    map_entries = _maps.load_for_pack(mirror_map) if mirror_map else None
    selected, warnings = select_images(layout, images, map_entries)
    if not selected:
        raise BundleError("nothing to bundle: no images selected in the layout %s" % layout.path)
    for ref_name, _desc in selected:
        try:
            check_ref_name(ref_name)
        except ValueError as exc:
            raise BundleError("%s/index.json: %s; the other side would refuse this bundle (leave the image out "
                              "with images)" % (layout.path, exc)) from None
    graphs = [image_graph(layout, ref_name, desc) for ref_name, desc in selected]
    incomplete = [g for g in graphs if g.missing]
    if incomplete:
        raise BundleError(missing_message(incomplete, layout.path, "are incomplete (blobs missing)"))
    have: dict[str, int] = {}
    by_image = None
    previous_summary = None
    if previous and _baseline.is_inventory_file(_read_previous(previous)):
        by_image, previous_summary = _inventory_baseline(layout, name, previous, trusted, graphs, warnings)
    elif trusted is not None:
        raise BundleError("verify_keys with action=pack checks the signature of an inventory given as previous; "
                          "%s" % ("%s is not an inventory" % previous if previous else "no previous was given"))
    elif previous:
        have, previous_summary = load_previous(previous, layout)
    blobs, assumed, owners = _split_blobs(graphs, have, by_image)
    embedded = None
    verified = None
    if map_entries is not None:
        embedded = _maps.embedded(map_entries, layout.path, set(g.ref_name for g in graphs))
        verified = _maps.verified_by_ref(map_entries, layout.path, set(g.ref_name for g in graphs))
    return PackPlan(layout, name, size, graphs, blobs, assumed, owners, embedded, previous_summary, warnings,
                    verified)


def _read_previous(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise BundleError("cannot read the previous transfer record %s: %s" % (path, exc.strerror)) from None


def _inventory_baseline(layout: Any, name: str, path: str, trusted: Any, graphs: list[LayoutGraph],
                        warnings: list[str]) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """What the mirror holds where each image goes, and the ``previous`` summary (with ``stale``)."""
    inv, summary = _baseline.load_baseline(path, trusted)
    by_image, unmatched = _baseline.have_by_image(inv, [g.ref_name for g in graphs])
    if unmatched:
        warnings.append("%d image(s) match no repository of the inventory %s, so all their blobs are carried: %s"
                        % (len(unmatched), path, ", ".join(unmatched)))
    because = _baseline.stale_because(layout, name, summary)
    summary["stale"] = because is not None
    if because is not None:
        summary["stale_because"] = {k: because.get(k) for k in ("name", "read_at", "state_digest")}
        warnings.append(_baseline.stale_message(summary, because))
    return by_image, summary


def _split_blobs(graphs: list[LayoutGraph], have: dict[str, int],
                 by_image: dict[str, dict[str, int]] | None = None) -> tuple[Blobs, Blobs, dict[str, str]]:
    """(blobs the tar carries, blobs left out as present on the other side, {digest: first image}).
    With *by_image* (ref name -> what the mirror holds where that image goes), a blob is left out
    only when every image needing it has it there."""
    wanted: dict[str, int] = {}
    owners: dict[str, str] = {}
    lacking: set[str] = set()
    for graph in graphs:
        for digest, size in graph.manifests.items():
            wanted[digest] = size
            owners.setdefault(digest, graph.ref_name)
        for digest, size in graph.blobs.items():
            owners.setdefault(digest, graph.ref_name)
            if digest not in graph.manifests:
                wanted.setdefault(digest, size)
            if by_image is not None and digest not in by_image.get(graph.ref_name, {}):
                lacking.add(digest)
    if by_image is not None:
        have = {d: s for d, s in wanted.items() if d not in lacking}
    manifest_digests: set[str] = set()
    for graph in graphs:
        manifest_digests.update(graph.manifests)
    blobs = []
    assumed = []
    for digest in sorted(wanted):
        if digest in have and digest not in manifest_digests:
            assumed.append((digest, wanted[digest]))
        else:
            blobs.append((digest, wanted[digest]))
    return blobs, assumed, owners
