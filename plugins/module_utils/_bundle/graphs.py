# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The images of a layout as sets of digests, walked with the one manifest-graph walker
(``_oci/graph.py``): what a pack must carry and what an unpack must find."""

from __future__ import annotations

import dataclasses
from typing import Any

from .._oci import graph as _graph
from .._oci import manifest as _manifest
from .._oci.errors import LayoutError, NotFound, OCIError
from .errors import BundleError


@dataclasses.dataclass
class LayoutGraph:
    """Every digest an image needs: manifests (and indexes) and blobs (configs and layers), with
    their sizes; ``missing`` lists those the layout lacks."""

    ref_name: str
    desc: _manifest.Descriptor
    manifests: dict[str, int] = dataclasses.field(default_factory=dict)
    blobs: dict[str, int] = dataclasses.field(default_factory=dict)
    platforms: list[str] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)

    @property
    def digests(self) -> dict[str, int]:
        out = dict(self.manifests)
        out.update(self.blobs)
        return out

    @property
    def total_size(self) -> int:
        return sum(self.digests.values())


def _fetch(layout: Any, desc: _manifest.Descriptor, where: str, need_blobs: bool) -> tuple[bytes, str | None] | None:
    try:
        return layout.read_blob(desc.digest), desc.media_type
    except NotFound:
        if need_blobs:
            return None
        raise BundleError("%s: manifest %s is not in the layout %s" % (where, desc.digest, layout.path)) from None
    except LayoutError as exc:
        raise BundleError("%s: %s" % (where, exc.message)) from None


def image_graph(layout: Any, ref_name: str, desc: _manifest.Descriptor, need_blobs: bool = True) -> LayoutGraph:
    """The graph of the image *desc* (named *ref_name*) in *layout*. With *need_blobs*, what the
    layout lacks is listed in ``missing``; without, only manifests are read (a missing one raises)."""
    out = LayoutGraph(ref_name, desc)
    where = ref_name or desc.digest
    fetched = _fetch(layout, desc, where, need_blobs)
    if fetched is None:
        out.missing.append(desc.digest)
        return out
    try:
        root = _manifest.parse(fetched[0], content_type=desc.media_type, expected_digest=desc.digest, where=where)
        if root.size != desc.size:
            raise BundleError("%s: manifest %s is %d bytes, its descriptor says %d"
                              % (where, desc.digest, root.size, desc.size))
        graph = _graph.walk(root, lambda child, child_where: _fetch(layout, child, child_where, need_blobs), where)
    except BundleError:
        raise
    except OCIError as exc:
        raise BundleError("%s (in the layout %s)" % (exc.message, layout.path)) from None
    out.manifests = {m.digest: m.size for m in graph.manifests}
    out.platforms = list(graph.platforms)
    out.missing = list(graph.missing)
    for digest, blob in graph.blobs.items():
        out.blobs[digest] = blob.size
        if need_blobs:
            have = layout.blob_size(digest)
            if have is None:
                out.missing.append(digest)
            elif have != blob.size:
                raise BundleError("%s: blob %s is %d bytes in the layout %s, the manifest says %d"
                                  % (where, digest, have, layout.path, blob.size))
    return out


def missing_message(graphs: list[LayoutGraph], layout: str, what: str) -> str:
    """One message naming the incomplete images and (some of) what each lacks."""
    lines = []
    for graph in graphs:
        more = len(graph.missing) - 3
        shown = ", ".join(graph.missing[:3]) + (" and %d more" % more if more > 0 else "")
        lines.append("%s (%d missing: %s)" % (graph.ref_name, len(graph.missing), shown))
    return "%d image(s) %s in %s: %s" % (len(graphs), what, layout, "; ".join(lines))
