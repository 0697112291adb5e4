# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Pairs for :func:`.model.build` from the mirror map (through :mod:`_mirrormap.views`)."""

from __future__ import annotations

from typing import Any

from ..._mirrormap import views as _views
from .model import RegistriesConfError

#: what to do with images pinned by a digest the mirror does not serve (a platform-filtered index)
FILTERED_DIGESTS = ("fail", "warn")


def pairs_from_mirror_map(value: Any, origin: str = "<mirror map>", filtered_digests: str = "fail",
                          warnings: list[str] | None = None) -> list[dict[str, str]]:
    """``[{"source": prefix, "mirror": location}]`` covering the images of a mirror map.

    *value*: a map's text, its document, a list of entry dicts or a ``MirrorMap``. Raises
    ``MirrorMapError`` for an invalid map or a source repository sent to two mirror locations.
    An image whose source pins a digest the mirror does not serve (filtered to some platforms) is a
    :class:`RegistriesConfError` naming it with *filtered_digests* ``fail``; with ``warn`` the
    message is appended to *warnings*.
    """
    if filtered_digests not in FILTERED_DIGESTS:
        raise RegistriesConfError("filtered_digests must be one of %s, not %r"
                                  % (", ".join(FILTERED_DIGESTS), filtered_digests))
    labeled = _views.labeled_entries(value, origin)
    pinned = _views.filtered_pinned(labeled)
    if pinned:
        message = filtered_message(pinned)
        if filtered_digests == "fail":
            raise RegistriesConfError(message)
        if warnings is not None:
            warnings.append(message)
    pairs = _views.source_prefix_pairs(labeled)
    return [{"source": source, "mirror": mirror} for source, mirror in pairs]


def filtered_message(pinned: list[tuple[str, Any]]) -> str:
    """Why a prefix mirror cannot serve these images, and what to do."""
    names = "; ".join("%s (%s: the mirror serves %s, platforms %s)"
                      % (entry.source, label, entry.digest, ", ".join(entry.platforms) or "-")
                      for label, entry in pinned)
    return ("%d image(s) are pinned by the digest of their source, but the mirror holds a platform-filtered "
            "index with another digest, so a pull of SOURCE@DIGEST through a registries.conf or hosts.toml mirror "
            "finds nothing there and goes to the source: %s. Mirror these images without a platforms filter "
            "(an images entry with platforms: []), or pin the mirror's digest where the consumer allows it; "
            "filtered_digests=warn (the role variable *_filtered_digests: warn) writes the configuration anyway "
            "(see docs/platforms.md)" % (len(pinned), names))
