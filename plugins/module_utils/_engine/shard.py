# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Split one mirroring job across N workers.

Every worker resolves the whole image set the same way, then computes the same assignment from
the plan alone (never from what the destination holds, which changes while the workers run):

- each unique blob of the set has a *home*: the destination repository of the first image, in
  the order given, that contains it. The blob is uploaded there once and mounted from there into
  every other repository that needs it;
- each unique blob is owned by one worker, chosen by size (largest first, to the worker with the
  fewest bytes so far; ties broken by digest and worker number), so every worker uploads about
  the same number of bytes and a blob shared by many images is uploaded exactly once;
- each image (with its attached artifacts) is owned by one worker, round-robin by position: that
  worker mounts the image's blobs into its repository and pushes its manifests once every blob it
  needs is at home.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._oci import manifest as _manifest
from .._oci.errors import OCIError
from .copy import missing_bytes
from .job import ImageJob, Status, iter_jobs

#: (blob scope, digest): where a blob is shared (a registry, a layout) and which one
BlobKey = tuple[Any, str]


class Shard:
    """This worker's number (0-based) among *count* workers."""

    __slots__ = ("index", "count")

    def __init__(self, index: int, count: int) -> None:
        try:
            index, count = int(index), int(count)
        except (TypeError, ValueError):
            raise OCIError("shard_index and shard_count must be integers, got %r and %r" % (index, count)) from None
        if count < 1:
            raise OCIError("shard_count must be at least 1, got %d" % count)
        if not 0 <= index < count:
            raise OCIError("shard_index must be between 0 and shard_count - 1 (%d), got %d" % (count - 1, index))
        self.index = index
        self.count = count

    def __repr__(self) -> str:
        return "Shard(%d, %d)" % (self.index, self.count)


class Home:
    """Where a blob is uploaded once: the destination of the first job that contains it."""

    __slots__ = ("dest", "job", "desc")

    def __init__(self, dest: Any, job: ImageJob, desc: _manifest.Descriptor) -> None:
        self.dest = dest
        self.job = job
        self.desc = desc


def homes(jobs: list[ImageJob]) -> dict[BlobKey, Home]:
    """{(blob scope, digest): Home} over every resolved job (present or to copy), in plan order."""
    out: dict[BlobKey, Home] = {}
    for job in iter_jobs(jobs):
        if job.dest is None or job.status not in (Status.PRESENT, Status.COPY):
            continue
        for desc in job.blobs.values():
            out.setdefault((job.dest.blob_scope, desc.digest), Home(job.dest, job, desc))
    return out


class Assignment:
    """Who uploads which blob and who pushes which image, identical on every worker."""

    def __init__(self, jobs: list[ImageJob], count: int, blob_homes: dict[BlobKey, Home] | None = None) -> None:
        self.count = count
        self.homes = blob_homes if blob_homes is not None else homes(jobs)
        self.blob_owner: dict[BlobKey, int] = {}
        self.loads = [0] * count
        self.blob_counts = [0] * count
        order = sorted(self.homes.items(), key=lambda item: (-item[1].desc.size, item[0][1], repr(item[0][0])))
        for key, home in order:
            owner = min(range(count), key=lambda n: (self.loads[n], n))
            self.blob_owner[key] = owner
            self.loads[owner] += home.desc.size
            self.blob_counts[owner] += 1
        self.image_owner: dict[int, int] = {}
        self.top_owners: list[int] = []
        for position, job in enumerate(jobs):
            owner = position % count
            self.top_owners.append(owner)
            self.image_owner[id(job)] = owner
            for att in job.attachments:
                self.image_owner[id(att)] = owner

    def owns_image(self, job: ImageJob, index: int) -> bool:
        return self.image_owner.get(id(job)) == index

    def owned_blobs(self, index: int) -> list[tuple[BlobKey, Home]]:
        """[(key, Home)] of the blobs worker *index* uploads, largest first."""
        return sorted(((k, h) for k, h in self.homes.items() if self.blob_owner[k] == index),
                      key=lambda item: (-item[1].desc.size, item[0][1]))

    def summary(self, index: int) -> dict[str, Any]:
        return {
            "index": index,
            "count": self.count,
            "assigned_blobs": self.blob_counts[index],
            "assigned_bytes": self.loads[index],
            "assigned_images": self.top_owners.count(index),
            "bytes_per_shard": list(self.loads),
        }


def wait_for_blobs(needed: dict[BlobKey, Home], seconds: float, concurrency: int = 8, deadline: Any = None,
                   cancel: threading.Event | None = None) -> set[BlobKey]:
    """Poll (HEAD) the home of each blob in *needed* ({key: Home}) until every one is there or
    *seconds* have passed. Returns the set of keys found."""
    found: set[BlobKey] = set()
    todo = dict(needed)
    limit = time.monotonic() + max(0.0, float(seconds))
    interval = 0.5
    sleep: Callable[[float], Any] = cancel.wait if cancel is not None else time.sleep

    def present(item: tuple[BlobKey, Home]) -> BlobKey | None:
        key, home = item
        try:
            return key if home.dest.has_blob(home.desc, image=home.job.source) else None
        except OCIError:
            return None

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        while todo:
            for key in pool.map(present, list(todo.items())):
                if key is not None:
                    found.add(key)
                    todo.pop(key, None)
            left = limit - time.monotonic()
            if not todo or left <= 0 or (cancel is not None and cancel.is_set()):
                break
            remaining = deadline.remaining() if deadline is not None else None
            if remaining is not None:
                if remaining <= 0:
                    break
                left = min(left, remaining)
            sleep(min(interval, left))
            interval = min(interval * 2, 5.0)
    return found


def run_shard(jobs: list[ImageJob], shard: Shard, copier: Any, concurrency: int = 8, wait: float = 60.0,
              check_mode: bool = False, deadline: Any = None,
              cancel: threading.Event | None = None) -> tuple[Assignment, int, int]:
    """Copy this worker's share of a resolved plan. Sets every job's status: its own images are
    copied (or deferred when a blob another worker uploads is not there within *wait* seconds),
    the others' are marked ``other_shard``. Returns (Assignment, would-copy bytes, would-copy blobs)."""
    blob_homes = homes(jobs)
    assignment = Assignment(jobs, shard.count, blob_homes)
    owned = {key: home for key, home in assignment.owned_blobs(shard.index) if home.job.status == Status.COPY}
    for job in iter_jobs(jobs):
        if job.status == Status.COPY and not assignment.owns_image(job, shard.index):
            job.status = Status.OTHER_SHARD
    if check_mode:
        nbytes, nblobs = missing_bytes([(h.job, h.dest, h.desc) for h in owned.values()], concurrency)
        return assignment, nbytes, nblobs

    failed = copier.upload(owned) if owned else {}
    ready = {key for key in owned if key not in failed}
    ready.update(key for key, home in blob_homes.items() if home.job.status == Status.PRESENT)
    needed: dict[BlobKey, Home] = {}
    for job in iter_jobs(jobs):
        if job.status == Status.COPY:
            for desc in job.blobs.values():
                key = (job.dest.blob_scope, desc.digest)
                if key not in ready and key not in failed:
                    needed[key] = blob_homes[key]
    if needed:
        ready |= wait_for_blobs(needed, wait, concurrency, deadline=deadline, cancel=cancel)

    for job in jobs:
        # an image goes with its attached artifacts; a present image's new attachments alone
        members = [m for m in [job] + list(job.attachments) if m.status == Status.COPY]
        error: OCIError | None = None
        waiting: list[BlobKey] = []
        for member in members:
            for desc in member.blobs.values():
                key = (member.dest.blob_scope, desc.digest)
                if key in failed:
                    error = error or failed[key]
                elif key not in ready:
                    waiting.append(key)
        if error is not None:
            for member in members:
                member.fail(error)
        elif waiting:
            key = waiting[0]
            reason = OCIError("left for the final run: blob %s (%d bytes), uploaded by shard %d of %d, was not in %s "
                              "after %.0f s; %d blob(s) missing" % (
                                  key[1], blob_homes[key].desc.size, assignment.blob_owner[key], shard.count,
                                  blob_homes[key].dest.describe(), wait, len(set(waiting))))
            for member in members:
                member.status = Status.DEFERRED
                member.error = reason.copy_for(member.source)
    copier.run(jobs, homes=blob_homes, ready=ready)
    return assignment, 0, 0


__all__ = ["Shard", "Home", "homes", "Assignment", "wait_for_blobs", "run_shard"]
