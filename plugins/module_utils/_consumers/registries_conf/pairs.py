# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Pairs for :func:`.model.build` from the mirror map (through :mod:`_mirrormap.views`)."""

from __future__ import annotations

from typing import Any

from ..._mirrormap import views as _views


def pairs_from_mirror_map(value: Any, origin: str = "<mirror map>") -> list[dict[str, str]]:
    """``[{"source": prefix, "mirror": location}]`` covering the images of a mirror map.

    *value*: a map's text, its document, a list of entry dicts or a ``MirrorMap``. Raises
    ``MirrorMapError`` for an invalid map or a source repository sent to two mirror locations.
    """
    pairs = _views.source_prefix_pairs(_views.labeled_entries(value, origin))
    return [{"source": source, "mirror": mirror} for source, mirror in pairs]
