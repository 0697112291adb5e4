# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""What the mirror map holds, as ECK asks it: the mirror location of an upstream image, and
whether an image the operator would pull is in the mirror."""

from __future__ import annotations

from collections.abc import Iterable

from ..._mirrormap.model import MirrorMap
from ..._oci import reference as _ref
from ..._oci.errors import InvalidReference
from .images import ECKError


class MirrorIndex:
    """The registry destinations of a mirror map, by source and as a listing."""

    def __init__(self, mirror_map: MirrorMap) -> None:
        self.mirror_map = mirror_map
        self.destinations: set[str] = set()
        self.pinned: set[str] = set()
        for entry, dest in mirror_map.registry_entries():
            self.destinations.add(str(dest.ref.without_digest()))
            self.pinned.add("%s@%s" % (dest.name, entry.digest))

    def lookup(self, source_text: str) -> _ref.Reference | None:
        """The registry destination of a source ``name:tag`` (None if absent)."""
        src = _ref.parse(source_text)
        for entry in self.mirror_map.by_source_name(src.name):
            if entry.source.tag == src.tag:
                dest = entry.registry_destination
                if dest is None:
                    raise ECKError("%s is mirrored to an OCI layout (%s), not a registry"
                                   % (source_text, entry.destination))
                return dest.ref
        return None

    def has(self, image_text: str) -> bool:
        """True when *image_text* is a mirror image of the map."""
        return listed(image_text, self.destinations | self.pinned)

    def listing(self) -> list[str]:
        """Every mirror image, as ``name:tag`` and ``name@digest`` (what a plan carries)."""
        return sorted(self.destinations | self.pinned)


def listed(image: str, listing: Iterable[str]) -> bool:
    """True when *image* is in a :meth:`MirrorIndex.listing` (by tag, and by digest if pinned)."""
    try:
        ref = _ref.parse(image)
    except InvalidReference:
        return False
    names = listing if isinstance(listing, (set, frozenset)) else set(listing)
    if ref.digest and "%s@%s" % (ref.name, ref.digest) not in names:
        return False
    return ref.tag is None or str(ref.without_digest()) in names
