# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The free-space preflight on the mirror itself: before a push into a registry whose storage is
at a path on this host (``mirror_storage_path``: a ``docker-registry`` rootdirectory, a mounted
volume), the bytes the plan sends are compared with the free space there.

First the upper bound - every unique blob and manifest of the images to copy (a registry stores
a blob once, whatever the number of repositories). Only when that does not fit are the blobs asked
for at the mirror (one HEAD each) and only the missing ones counted, so a push that fits costs no
request. A mirror whose storage is on another host: the mirror_images role counts the bytes (check
mode) and checks them there with the free_space module (``_common/space.py``), delegated to it.
"""

from __future__ import annotations

from typing import Any

from .._common.sizes import human_size
from .._common.space import free_bytes, space_margin
from .._oci import manifest as _manifest
from .._oci.errors import OCIError
from .copy import missing_bytes
from .job import ImageJob, Status, iter_jobs


class MirrorSpaceError(OCIError):
    """The mirror's storage cannot hold what the push would send."""


def preflight_mirror_space(jobs: list[ImageJob], path: str, concurrency: int = 8) -> dict[str, Any]:
    """Refuse (``MirrorSpaceError``) a push into a registry when the file system of *path* cannot
    hold what it sends plus :func:`space_margin`; returns ``{path, free, upper_bound, needed,
    asked}`` (*asked*: whether the blobs were asked for at the mirror)."""
    blobs: dict[str, tuple[ImageJob, Any, _manifest.Descriptor]] = {}
    manifests: dict[str, int] = {}
    for job in iter_jobs(jobs):
        if job.status != Status.COPY or job.dest is None or job.dest.kind != "registry":
            continue
        for desc in job.blobs.values():
            blobs.setdefault(desc.digest, (job, job.dest, desc))
        for man in job.manifests:
            manifests.setdefault(man.digest, man.size)
    upper = sum(item[2].size for item in blobs.values()) + sum(manifests.values())
    free = free_bytes(path)
    out = {"path": path, "free": free, "upper_bound": upper, "needed": upper, "asked": False}
    if upper + space_margin(upper) <= free:
        return out
    missing, _count = missing_bytes(blobs.values(), concurrency)
    needed = missing + sum(manifests.values())
    out.update(needed=needed, asked=True)
    margin = space_margin(needed)
    if needed + margin > free:
        raise MirrorSpaceError("not enough free space on the mirror's storage %s: the push sends %s (%s of blobs the "
                               "mirror lacks and manifests, plus a %s margin), the file system has %s free "
                               "(mirror_storage_path; space_check: false skips this check)"
                               % (path, human_size(needed + margin), human_size(needed), human_size(margin),
                                  human_size(free)))
    return out
