# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, then copy: the one entry point behind ``airgap.mirror.image_mirror``, the demo and the
benchmark. Takes a :class:`~.request.MirrorRequest`; returns a plain-data report (per image,
totals, mirror map entries, diff; see report.py)."""

from __future__ import annotations

import time
from typing import Any

from .._common.progress import Progress
from .._oci.errors import OCIError
from .copy import Copier, estimate, preflight_space
from .job import ImageJob, Status, iter_jobs
from .plan import ClientPool, build_jobs, resolve, unique_blobs
from .plan import verify as _verify
from .report import Counts, report
from .request import Limits, MirrorRequest


def mirror(request: MirrorRequest, pool: ClientPool | None = None, sessions: Any = None,
           warnings: list[str] | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Mirror what *request* says. *pool* is a :class:`ClientPool` (registry options, credentials,
    deadline; a default one is made and closed when not given). Never raises for a per-image
    failure: see ``report["failed"]``.

    *sessions*: where upload sessions are recorded to resume them (default: an
    :class:`~.resume.UploadSessions` in ``request.state.state_dir``, when set and not in check mode).
    *warnings*: a list that warnings about the input are appended to (see ``build_jobs``).
    *progress*: counts images and bytes as the copy goes (phases ``resolve`` and ``copy``; the
    caller starts and stops it). The report's ``timings`` has the seconds of each phase, and
    ``requests`` the requests sent to each registry, ``limit_wait_seconds`` how long requests to each
    registry waited for its limits (``pool.options.registry_limits``, its rate-limit headers).

    In a sharded run (``request.sharding``), images left to the other workers are
    ``other_shard``, and images whose blobs another worker had not uploaded within
    ``sharding.wait`` seconds are ``deferred``."""
    started = time.monotonic()
    own_pool = pool is None
    pool = pool or ClientPool()
    if sessions is None and request.state.state_dir and not request.check_mode:
        from .resume import UploadSessions  # imported where used, as shard and mirrorspace: a no-op run needs none
        sessions = UploadSessions(request.state.state_dir)
    shard = request.sharding.active
    concurrency = request.limits.concurrency
    check_mode = request.check_mode
    progress = progress or Progress()
    pool.limiters.listener = lambda message, seconds: progress.emit("limit", message=message, wait=round(seconds, 1))
    try:
        progress.set_phase("resolve")
        jobs, rejected = build_jobs(request.images, request.dest, pool, src=request.src, naming=request.naming,
                                    warnings=warnings, sources=request.source_mirrors,
                                    platforms=request.platforms)
        if not check_mode:  # one token per mirror repository that serves its checks and its pushes
            for job in jobs:
                if job.dest is not None and job.dest.kind == "registry":
                    job.dest.will_push()
        if shard is not None and request.trust is not None:
            raise OCIError("signature_policy cannot be used in a sharded run yet: verify with one worker")
        if shard is not None and any(j.dest is not None and j.dest.kind != "registry" for j in jobs):
            raise OCIError("a sharded run needs a registry destination: %s workers cannot share one OCI layout "
                           "safely; copy to disk with one worker" % shard.count)
        resolve(jobs, concurrency=request.limits.lookups, lock=request.lock, attachments=request.attachments,
                immutable=request.state.immutable_patterns())
        if request.verify:
            _verify(jobs, concurrency=request.limits.lookups)
        if request.trust is not None:  # before anything is copied: a refused image writes nothing
            from .signatures import check as check_signatures  # only a run that verifies pays for it
            check_signatures(jobs, request.trust, concurrency=request.limits.lookups)
        planned = unique_blobs(jobs)
        resolved = time.monotonic()
        progress.plan(len(jobs) + len(rejected), 0,
                      len(rejected) + sum(1 for job in jobs if job.status != Status.COPY))
        progress.set_phase("copy")
        counts = Counts()
        assignment = None
        if shard is not None:
            from .shard import run_shard
            copier = Copier(concurrency=concurrency, deadline=pool.deadline, cancel=pool.cancel, sessions=sessions,
                            progress=progress, light=request.limits.small_requests)
            assignment, counts.would_bytes, counts.would_blobs = run_shard(
                jobs, shard, copier, concurrency=concurrency, wait=request.sharding.wait, check_mode=check_mode,
                deadline=pool.deadline, cancel=pool.cancel)
            counts.blobs = copier.counts
        elif any(j.status == Status.COPY for j in iter_jobs(jobs)) and \
                not _space_refused(jobs, request.limits):
            if check_mode:
                counts.would_bytes, counts.would_blobs = estimate(jobs, request.limits.lookups)
            else:
                from .shard import homes
                copier = Copier(concurrency=concurrency, deadline=pool.deadline, cancel=pool.cancel,
                                sessions=sessions, progress=progress, light=request.limits.small_requests)
                counts.blobs = copier.run(jobs, homes=homes(jobs))
        _cleanup_layouts(jobs)
        lookaside = 0
        if request.trust is not None and request.trust.lookaside_dir and not check_mode:
            from .signatures import write_lookaside
            lookaside = write_lookaside(jobs, request.trust.lookaside_dir)
        if not check_mode:
            _cleanup_sessions(jobs, rejected, sessions)
        result = report(jobs, rejected, planned, counts, check_mode, pool.stats.as_dict(),
                        time.monotonic() - started, request.state.previous, request.state.prune_map)
        result["timings"] = {"resolve": round(resolved - started, 3), "copy": round(time.monotonic() - resolved, 3)}
        result["requests"] = pool.stats.by_registry()
        result["limit_wait_seconds"] = pool.limiters.waited()
        if request.trust is not None:
            result["totals"]["verified"] = sum(1 for job in jobs if job.verified is not None)
            result["totals"]["lookaside_files_written"] = lookaside
            result["changed"] = result["changed"] or bool(lookaside)
        if warnings is not None:
            warnings.extend(pool.limiters.messages)
        if assignment is not None and shard is not None:
            result["totals"]["shard"] = assignment.summary(shard.index)
            result["changed"] = result["changed"] or bool(counts.blobs["copied"] or counts.blobs["mounted"])
        return result
    finally:
        if own_pool:
            pool.close()


def _space_refused(jobs: list[ImageJob], limits: Limits) -> bool:
    """Run the free-space preflights (a layout destination's; the mirror's storage with
    ``mirror_storage_path``); on refusal fail every image still to be copied with it."""
    if not limits.space_check:
        return False
    try:
        preflight_space(jobs)
        if limits.mirror_storage_path:
            from .mirrorspace import preflight_mirror_space
            preflight_mirror_space(jobs, limits.mirror_storage_path, limits.lookups)
    except OCIError as exc:
        for job in iter_jobs(jobs):
            if job.status == Status.COPY:
                job.fail(exc)
        return True
    return False


def _cleanup_layouts(jobs: list[ImageJob]) -> None:
    """Drop resume state of layouts into which every image was copied."""
    layouts: dict[str, list[Any]] = {}
    for job in iter_jobs(jobs):
        if job.dest is not None and job.dest.kind == "layout":
            ok = layouts.setdefault(job.dest.layout.path, [job.dest.layout, True])
            if job.status == Status.FAILED:
                ok[1] = False
    for layout, ok in layouts.values():
        if ok:
            layout.cleanup_state()


def _cleanup_sessions(jobs: list[ImageJob], rejected: list[ImageJob], sessions: Any) -> None:
    """Drop the persistent upload-session records once every image is in place (a failed image
    keeps them, so its re-run resumes)."""
    cleanup = getattr(sessions, "cleanup", None)
    if cleanup is None:
        return
    if any(job.status in (Status.FAILED, Status.DEFERRED) for job in list(rejected) + list(iter_jobs(jobs))):
        return
    cleanup()
