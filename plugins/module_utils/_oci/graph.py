# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The one walk of an image's manifest graph: an index, its child manifests (and nested indexes),
and the blobs (configs and layers) they need.

The caller says how to fetch a child manifest (a registry, a layout, a dir: export); the walk
parses and verifies each child against its descriptor (digest and size), keeps children before
their parents (the order in which they must be written), lists every distributable blob once,
and the platforms of the image manifests of an index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from . import manifest as _manifest
from .errors import ManifestError

#: Indexes nested deeper than this are refused (real images nest one level; OCI sets no limit).
MAX_DEPTH = 8

#: ``fetch(descriptor, where)`` -> ``(bytes, content type or None)``, or None when the child is
#: missing and the caller wants it recorded rather than raised.
Fetch = Callable[[_manifest.Descriptor, str], "tuple[bytes, str | None] | None"]


@dataclasses.dataclass
class ImageGraph:
    """Everything one image needs, in write order."""

    root: _manifest.Manifest
    manifests: list[_manifest.Manifest] = dataclasses.field(default_factory=list)
    blobs: dict[str, _manifest.Descriptor] = dataclasses.field(default_factory=dict)
    platforms: list[str] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)

    @property
    def size(self) -> int:
        """Bytes of every manifest and blob of the image."""
        return sum(m.size for m in self.manifests) + sum(d.size for d in self.blobs.values())


def walk(root: _manifest.Manifest, fetch: Fetch, where: str) -> ImageGraph:
    """The graph under *root* (already parsed and verified). Raises :class:`ManifestError` naming
    the path from *where* down to the child at fault."""
    graph = ImageGraph(root)
    _walk(graph, root, fetch, 0, where)
    return graph


def _walk(graph: ImageGraph, man: _manifest.Manifest, fetch: Fetch, depth: int, where: str) -> None:
    if depth > MAX_DEPTH:
        raise ManifestError("%s: indexes nested deeper than %d levels" % (where, MAX_DEPTH))
    if man.is_index:
        for desc in man.children:
            child_where = _manifest.child_where(where, desc)
            if desc.media_type not in _manifest.MANIFEST_TYPES:
                raise ManifestError("%s has an unknown media type %r" % (child_where, desc.media_type))
            fetched = fetch(desc, child_where)
            if fetched is None:
                graph.missing.append(desc.digest)
                continue
            data, ctype = fetched
            child = _manifest.parse(data, ctype or desc.media_type, expected_digest=desc.digest, where=child_where)
            if child.size != desc.size:
                raise ManifestError("%s: the index says %d bytes, the manifest has %d"
                                    % (child_where, desc.size, child.size))
            if desc.platform_string and not child.is_index and desc.platform_string not in graph.platforms:
                graph.platforms.append(desc.platform_string)
            _walk(graph, child, fetch, depth + 1, child_where)
    else:
        for desc in man.blobs:
            graph.blobs.setdefault(desc.digest, desc)
    if all(m.digest != man.digest for m in graph.manifests):
        graph.manifests.append(man)
