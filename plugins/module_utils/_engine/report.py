# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The report of a run: per image, totals, the mirror map and the diff, as the module returns
them (see the RETURN of ``airgap.mirror.image_mirror``)."""

from __future__ import annotations

import dataclasses
import resource
from collections.abc import Iterable
from typing import Any

from .._mirrormap import io as _io
from .._mirrormap.model import Entry, MirrorMap
from .job import IN_PLACE, ImageJob, Status, iter_jobs


@dataclasses.dataclass
class Counts:
    """What the copy did (``blobs``: copied, mounted, skipped, manifests) or, in check mode, would
    do (``would_bytes``, ``would_blobs``)."""

    blobs: dict[str, int] = dataclasses.field(
        default_factory=lambda: {"copied": 0, "mounted": 0, "skipped": 0, "manifests": 0})
    would_bytes: int = 0
    would_blobs: int = 0


def image_result(job: ImageJob, check_mode: bool) -> dict[str, Any]:
    """One entry of RV(images) or RV(attachments)."""
    status = job.status
    if check_mode and status == Status.COPY:
        status = Status.WOULD_COPY
    result: dict[str, Any] = {
        "source": job.source,
        "destination": job.destination,
        "digest": job.digest,
        "media_type": job.media_type,
        "platforms": job.platforms,
        "size": job.size,
        "status": status.value,
        "changed": status in (Status.COPIED, Status.WOULD_COPY),
        "bytes": job.bytes,
        "seconds": round(job.finished - job.started, 3) if job.started and job.finished else 0.0,
        "blobs": dict(job.blob_counts),
        "attachments": [a.attachment_name for a in job.attachments] or list(job.attachment_tags),
    }
    if job.source_digest is not None:
        result["source_digest"] = job.source_digest
    if job.source_via is not None:
        result["source_via"] = job.source_via
    if not job.source_checked:
        result["source_checked"] = False
    if job.verified is not None:
        result["verified"] = job.verified.to_dict()
    if job.missing:
        result["missing"] = list(job.missing)
    if job.error is not None:
        result["error"] = str(job.error)
        result["error_type"] = type(job.error).__name__
    return result


def map_entries(jobs: list[ImageJob], previous: MirrorMap | None, prune: bool = True,
                rejected: Iterable[ImageJob] = ()) -> tuple[list[Entry], MirrorMap, int]:
    """The entries of the images in place after the run, in the request's order; the mirror map
    they make with *previous* (``_mirrormap/io.merge``: pruned to the images of this request when
    *prune*); and how many entries of failed images were kept from *previous* (a failed copy never
    moves a destination tag or ref, so that entry still describes the mirror, and a failed re-run
    does not shrink the map). A tag selection that failed (*rejected* jobs with a ``selection``)
    keeps the entries of its repository's tags."""
    earlier = previous if previous is not None else MirrorMap()
    ordered: list[Entry] = []
    run: list[Entry] = []
    kept = 0
    for job in jobs:
        target = job.target
        if target is None:
            continue
        if job.status in IN_PLACE and job.src_ref is not None and job.digest and job.media_type:
            tags = [a.attachment_name for a in job.attachments if a.status in IN_PLACE]
            entry = Entry(job.src_ref, job.digest, job.media_type, target, tuple(job.platforms), int(job.size),
                          tuple(tags or job.attachment_tags), source_digest=job.source_digest,
                          source_via=job.source_via, verified=job.verified)
            run.append(entry)
            ordered.append(entry)
        elif job.status == Status.FAILED and job.src_ref is not None:
            old = earlier.by_source(job.src_ref)
            kept += len(old)
            ordered.extend(old)
    rejected = list(rejected)
    repos = {job.selection for job in rejected if job.selection}
    produced = {str(e.source) for e in run}
    selected = [e for e in earlier if repos and e.source.name in repos and e.source.tag
                and str(e.source) not in produced]
    kept += len(selected)
    ordered.extend(selected)
    requested = {_source_text(j) for j in list(jobs) + rejected} | {str(e.source) for e in selected} \
        if prune else None
    return ordered, _io.merge(previous, run, prune_to=requested), kept


def _source_text(job: ImageJob) -> str:
    """The source of *job* as the map writes it."""
    return str(job.src_ref) if job.src_ref is not None else job.source


def _diff(jobs: list[ImageJob]) -> dict[str, dict[str, str | None]]:
    """Destination digests before and after the run (in check mode: after it would have run)."""
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    for job in iter_jobs(jobs):
        if job.destination is None:
            continue
        before[job.destination] = job.before
        if job.status in IN_PLACE or job.status == Status.COPY:  # copy: check mode
            after[job.destination] = job.digest
        else:
            after[job.destination] = job.before
    return {"before": before, "after": after}


def report(jobs: list[ImageJob], rejected: list[ImageJob], planned: dict[Any, Any], counts: Counts,
           check_mode: bool, stats: dict[str, int], seconds: float,
           previous: MirrorMap | None = None, prune: bool = True) -> dict[str, Any]:
    """The report of a run. ``mirror_map`` holds the entries as the module returns them (dicts);
    ``map`` is the :class:`MirrorMap` to write."""
    images = [image_result(j, check_mode) for j in list(rejected) + list(jobs)]
    attachments = [image_result(a, check_mode) for j in jobs for a in j.attachments]
    entries, mirror_map, kept = map_entries(jobs, previous, prune, rejected)

    def count(status: Status) -> int:
        return sum(1 for i in images if i["status"] == status.value)

    totals = {
        "images": len(images),
        "copied": count(Status.COPIED),
        "present": count(Status.PRESENT),
        "would_copy": count(Status.WOULD_COPY),
        "failed": count(Status.FAILED),
        "deferred": count(Status.DEFERRED),
        "other_shard": count(Status.OTHER_SHARD),
        "repaired": sum(1 for j in jobs if j.missing and j.status == Status.COPIED),
        "kept_in_map": kept,
        "source_not_checked": sum(1 for j in jobs if not j.source_checked),
        "attachments": len(attachments),
        "unique_blobs": len(planned),
        "unique_bytes": sum(d.size for d in planned.values()),
        # bytes the platforms filter kept from crossing (images to copy only)
        "bytes_filtered_out": sum(j.bytes_filtered_out for j in jobs
                                  if j.status in (Status.COPY, Status.COPIED)),
        "bytes_to_copy": counts.would_bytes if check_mode else None,
        "blobs_to_copy": counts.would_blobs if check_mode else None,
        "blobs_copied": counts.blobs["copied"],
        "blobs_mounted": counts.blobs["mounted"],
        "blobs_skipped": counts.blobs["skipped"],
        "manifests_pushed": counts.blobs["manifests"],
        "bytes_transferred": stats["bytes_uploaded"] if not check_mode else 0,
        "bytes_downloaded": stats["bytes_downloaded"],
        "requests": stats["requests"],
        "retries": stats["retries"],
        "seconds": round(seconds, 3),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    if any(j.dest is not None and j.dest.kind == "layout" for j in jobs):
        totals["bytes_transferred"] = sum(i["bytes"] for i in images + attachments)
    return {
        "changed": any(i["changed"] for i in images + attachments),
        "images": images,
        "attachments": attachments,
        "failed": [i for i in images + attachments if i["status"] == Status.FAILED.value],
        "totals": totals,
        "mirror_map": [e.to_dict() for e in entries],
        "map": mirror_map,
        "diff": _diff(jobs),
    }
