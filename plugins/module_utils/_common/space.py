# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Free space: what a file system has free, the margin kept beyond the bytes a copy writes, and
the one check of the two against each other that runs on the mirror's storage host
(``airgap.mirror.free_space``). Standard library only: it also runs on hosts without the engine's
dependencies."""

from __future__ import annotations

import os
import shutil
from typing import Any

from .sizes import human_size

SPACE_MARGIN_MIN = 1024 * 1024


class NotEnoughSpace(Exception):
    """The file system cannot hold the bytes asked for plus the margin; *result* is what
    :func:`check_fits` would have returned."""

    def __init__(self, msg: str, result: dict[str, Any]) -> None:
        super().__init__(msg)
        self.result = result


def space_margin(nbytes: int) -> int:
    """Room kept free beyond the bytes a copy writes: for ``index.json`` (replaced by a new copy),
    the resume state and the file system's own bookkeeping -- 1% of *nbytes*, at least 1 MiB.
    Documented in image_mirror's ``space_check``; keep the two in step."""
    return max(SPACE_MARGIN_MIN, nbytes // 100)


def free_bytes(path: str) -> int:
    """Free bytes for an unprivileged writer on the filesystem holding *path* (or its parent)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    return shutil.disk_usage(probe).free


def check_fits(needed: int, free: int, where: str) -> dict[str, Any]:
    """``{needed, margin, free, fits}`` for *needed* bytes plus :func:`space_margin` against *free*
    bytes; raise :class:`NotEnoughSpace` naming *where* (``host:path``) when they do not fit.
    *needed* 0 only reports (nothing is to be written, so nothing is refused)."""
    if needed < 0:
        raise ValueError("bytes must not be negative (got %d)" % needed)
    margin = space_margin(needed) if needed else 0
    out = {"needed": needed, "margin": margin, "free": free, "fits": needed + margin <= free}
    if not out["fits"]:
        raise NotEnoughSpace("not enough free space at %s: the push sends %s (%s plus a %s margin), the file "
                             "system has %s free" % (where, human_size(needed + margin), human_size(needed),
                                                     human_size(margin), human_size(free)), out)
    return out
