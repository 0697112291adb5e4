# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, then copy: the one entry point behind ``airgap.mirror.image_mirror``, the demo and the
benchmark. Returns a plain-data report (per image, totals, mirror map entries, diff)."""

from __future__ import annotations

import resource
import time

from .._mirrormap import legacy as _mirrormap
from .copy import Copier, estimate, preflight_space
from .._oci.errors import OCIError
from .plan import ClientPool, ImageJob, build_jobs, iter_jobs, resolve, unique_blobs
from .plan import verify as _verify
from .shard import Shard, homes, run_shard


def mirror(images: list, dest: str, src: str | None = None, pool: ClientPool | None = None, concurrency: int = 8,
           check_mode: bool = False, mapping_mode: str = "keep", overrides: dict | None = None,
           tag_style: str = "deterministic", lock_entries: list[dict] | None = None, attachments: bool = True,
           src_registry: str | None = None, sessions: object | None = None, verify: bool = False,
           shard: Shard | None = None, shard_wait: float = 60.0, previous_entries: list[dict] | None = None,
           space_check: bool = True, warnings: list[str] | None = None) -> dict:
    """Mirror *images* to *dest*. *pool* is a :class:`ClientPool` (registry options, credentials,
    deadline). Never raises for a per-image failure: see ``report["failed"]``.

    *verify*: resolve every image fully (no lockfile) and check each blob and manifest at the
    destination; whatever is missing is copied. *shard*: a :class:`~.shard.Shard` — copy only this
    worker's share (see shard.py); images left to the others are ``other_shard``, images whose
    blobs another worker had not uploaded within *shard_wait* seconds are ``deferred``.

    *previous_entries*: the mirror map as it was before this run. An image that fails keeps its
    entry from it (same source and destination): a failed copy never moves a destination tag or
    ref, so that entry still describes the mirror, and a failed re-run does not shrink the map.

    *space_check*: before copying into a layout (and in check mode), fail every image to be copied
    when the layout's file system cannot hold it (see :func:`~.copy.preflight_space`).

    *warnings*: a list that warnings about the input are appended to (see ``build_jobs``)."""
    started = time.monotonic()
    own_pool = pool is None
    pool = pool or ClientPool()
    if shard is not None and shard.count == 1:
        shard = None
    if verify or shard is not None:
        lock_entries = None  # every worker must see the same, full plan; verify trusts nothing
    try:
        jobs, rejected = build_jobs(images, dest, pool, src=src, mapping_mode=mapping_mode, overrides=overrides,
                                    tag_style=tag_style, src_registry=src_registry, warnings=warnings)
        if shard is not None and any(j.dest is not None and j.dest.kind != "registry" for j in jobs):
            raise OCIError("a sharded run needs a registry destination: %s workers cannot share one OCI layout "
                           "safely; copy to disk with one worker" % shard.count)
        resolve(jobs, concurrency=concurrency, lock_entries=lock_entries, attachments=attachments)
        if verify:
            _verify(jobs, concurrency=concurrency)
        planned = unique_blobs(jobs)
        would_bytes, would_blobs = (0, 0)
        counts = {"copied": 0, "mounted": 0, "skipped": 0, "manifests": 0}
        assignment = None
        if shard is not None:
            copier = Copier(concurrency=concurrency, deadline=pool.deadline, cancel=pool.cancel, sessions=sessions)
            assignment, would_bytes, would_blobs = run_shard(
                jobs, shard, copier, concurrency=concurrency, wait=shard_wait, check_mode=check_mode,
                deadline=pool.deadline, cancel=pool.cancel)
            counts = copier.counts
        elif any(j.status == "copy" for j in iter_jobs(jobs)) and not _space_refused(jobs, space_check):
            if check_mode:
                would_bytes, would_blobs = estimate(jobs, concurrency)
            else:
                copier = Copier(concurrency=concurrency, deadline=pool.deadline, cancel=pool.cancel,
                                sessions=sessions)
                counts = copier.run(jobs, homes=homes(jobs))
        _cleanup_layouts(jobs)
        if not check_mode:
            _cleanup_sessions(jobs, rejected, sessions)
        report = _report(jobs, rejected, planned, counts, would_bytes, would_blobs, check_mode, pool,
                         time.monotonic() - started, previous_entries)
        if assignment is not None:
            report["totals"]["shard"] = assignment.summary(shard.index)
            report["changed"] = report["changed"] or bool(counts["copied"] or counts["mounted"])
        return report
    finally:
        if own_pool:
            pool.close()


def _space_refused(jobs: list[ImageJob], space_check: bool) -> bool:
    """Run the free-space preflight; on refusal fail every image still to be copied with it."""
    if not space_check:
        return False
    try:
        preflight_space(jobs)
    except OCIError as exc:
        for job in iter_jobs(jobs):
            if job.status == "copy":
                job.fail(exc)
        return True
    return False


def _cleanup_layouts(jobs):
    """Drop resume state of layouts into which every image was copied."""
    layouts = {}
    for job in iter_jobs(jobs):
        if job.dest is not None and job.dest.kind == "layout":
            ok = layouts.setdefault(job.dest.layout.path, [job.dest.layout, True])
            if job.status == "failed":
                ok[1] = False
    for layout, ok in layouts.values():
        if ok:
            layout.cleanup_state()


def _cleanup_sessions(jobs, rejected, sessions):
    """Drop the persistent upload-session records once every image is in place (a failed image
    keeps them, so its re-run resumes)."""
    cleanup = getattr(sessions, "cleanup", None)
    if cleanup is None:
        return
    if any(job.status in ("failed", "deferred") for job in list(rejected) + list(iter_jobs(jobs))):
        return
    cleanup()


def _image_result(job, check_mode):
    status = job.status
    if check_mode and status == "copy":
        status = "would_copy"
    result = {
        "source": job.source,
        "destination": job.destination,
        "digest": job.digest,
        "media_type": job.media_type,
        "platforms": job.platforms,
        "size": job.size,
        "status": status,
        "changed": status in ("copied", "would_copy"),
        "bytes": job.bytes,
        "seconds": round(job.finished - job.started, 3) if job.started and job.finished else 0.0,
        "blobs": dict(job.blob_counts),
        "attachments": [a.attachment_name for a in job.attachments] or list(job.attachment_tags),
    }
    if job.missing:
        result["missing"] = list(job.missing)
    if job.error is not None:
        result["error"] = str(job.error)
        result["error_type"] = type(job.error).__name__
    return result


def _report(jobs, rejected, planned, counts, would_bytes, would_blobs, check_mode, pool, seconds,
            previous_entries=None):
    images = [_image_result(j, check_mode) for j in list(rejected) + list(jobs)]
    attachments = [_image_result(a, check_mode) for j in jobs for a in j.attachments]
    failed = [i for i in images + attachments if i["status"] == "failed"]
    previous = {(e.get("source"), e.get("destination")): e for e in previous_entries or ()}
    entries = []
    kept = 0
    for job in jobs:
        if job.status in ("present", "copied") and job.src_ref is not None:
            tags = [a.attachment_name for a in job.attachments if a.status in ("present", "copied")]
            entries.append(_mirrormap.make_entry(job.src_ref, job.digest, job.media_type, job.platforms, job.size,
                                                 job.destination, tags or job.attachment_tags))
        elif job.status == "failed" and (job.source, job.destination) in previous:
            entries.append(previous[(job.source, job.destination)])
            kept += 1
    before = {}
    after = {}
    for job in iter_jobs(jobs):
        if job.destination is None:
            continue
        before[job.destination] = job.before
        if job.status in ("present", "copied"):
            after[job.destination] = job.digest
        elif job.status == "copy":  # check mode
            after[job.destination] = job.digest
        else:
            after[job.destination] = job.before
    unique_bytes = sum(d.size for d in planned.values())
    stats = pool.stats.as_dict()
    changed_images = [i for i in images + attachments if i["changed"]]
    totals = {
        "images": len(images),
        "copied": sum(1 for i in images if i["status"] == "copied"),
        "present": sum(1 for i in images if i["status"] == "present"),
        "would_copy": sum(1 for i in images if i["status"] == "would_copy"),
        "failed": sum(1 for i in images if i["status"] == "failed"),
        "deferred": sum(1 for i in images if i["status"] == "deferred"),
        "other_shard": sum(1 for i in images if i["status"] == "other_shard"),
        "repaired": sum(1 for j in jobs if j.missing and j.status == "copied"),
        "kept_in_map": kept,
        "attachments": len(attachments),
        "unique_blobs": len(planned),
        "unique_bytes": unique_bytes,
        "bytes_to_copy": would_bytes if check_mode else None,
        "blobs_to_copy": would_blobs if check_mode else None,
        "blobs_copied": counts["copied"],
        "blobs_mounted": counts["mounted"],
        "blobs_skipped": counts["skipped"],
        "manifests_pushed": counts["manifests"],
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
        "changed": bool(changed_images),
        "images": images,
        "attachments": attachments,
        "failed": failed,
        "totals": totals,
        "mirror_map": entries,
        "diff": {"before": before, "after": after},
    }


def write_mirror_map(path, entries, check_mode=False):
    """Write the mirror map atomically; returns True when the file changed (or would change)."""
    return _mirrormap.write(path, entries, check_mode)
