# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, second step: resolve every job into digests, the manifest tree and the blob graph, before
a single byte is copied; find the artifacts attached to each image.

A re-run is cheap: with the previous mirror map as lockfile, an image whose source digest is known
(pinned by digest, or one HEAD for a tag) and whose destination already holds that digest costs one
HEAD on the destination and nothing else (and its repository's tag list, where new attachments would
show). An image's look-ups do not wait for one another: the destination's HEAD and the source's tag
list are sent beside the source's HEAD or manifest (:class:`_Early`), so an image costs one round
trip to each registry, not three in a row.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .._mirrormap.model import Entry, MirrorMap
from .._oci import graph as _graph
from .._oci import manifest as _manifest
from .._oci.errors import ManifestError, NotFound, OCIError
from . import platforms as _platforms
from .job import ImageJob, Status
from .repos import attachment_tags, referrers_tag


class _TagCache:
    """Tag lists of source repositories, fetched once per repository."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[Any, threading.Event] = {}
        self._values: dict[Any, Any] = {}

    def get(self, src: Any, image: str) -> list[str]:
        key = src.key
        with self._lock:
            event = self._events.get(key)
            owner = event is None
            if event is None:
                event = self._events[key] = threading.Event()
        if owner:
            try:
                self._values[key] = src.list_tags(image=image)
            except OCIError as exc:
                self._values[key] = exc
            finally:
                event.set()
        event.wait()
        value = self._values[key]
        if isinstance(value, OCIError):
            raise value.copy_for(image)
        return value


def resolve(jobs: list[ImageJob], concurrency: int = 8, lock: MirrorMap | None = None,
            attachments: bool = True, immutable: Sequence[re.Pattern[str]] = ()) -> list[ImageJob]:
    """Resolve every job (concurrently). Failures are recorded on the job, never raised.

    *lock*: the mirror map of an earlier run, whose entries spare a full resolution of an image the
    destination already holds. *attachments*: also find the artifacts attached to each image.
    *immutable*: patterns of source tags declared never to move (see ``State.immutable_tags``)."""
    entries = lock.by_key() if lock is not None else {}
    tags = _TagCache()
    todo = [j for j in jobs if j.status == Status.PENDING]
    _resolve_all(todo, concurrency, entries, tags, attachments, immutable)
    pending = [a for job in todo for a in job.attachments if a.status == Status.PENDING]
    if pending:
        _resolve_all(pending, concurrency, {}, tags, False, ())
    return jobs


def _resolve_all(jobs: list[ImageJob], concurrency: int, lock: dict[tuple[str, str], Entry], tags: _TagCache,
                 attachments: bool, immutable: Sequence[re.Pattern[str]]) -> None:
    """Resolve *jobs*, *concurrency* look-ups at a time. Each job's early look-ups are queued just
    before the job itself, so a worker that runs the job finds them taken by other workers already
    (or done): it never waits on queued work."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        done = [pool.submit(_resolve_job, job, lock, tags, attachments, immutable,
                            _Early.start(pool, job, lock, tags, attachments, immutable)) for job in jobs]
        for future in done:
            future.result()


class _Early:
    """The look-ups that do not depend on the source's answer, sent beside it instead of after it:
    the destination's digest (every resolution needs it) and, where attachments are looked for,
    the source repository's tag list. Their answers (or errors) are read in the order the checks
    need them; one that is not needed (the image failed first) is dropped unread. An image that
    resolves costs no extra request: both paths take the destination's digest from here, and the
    tag list goes through the run's :class:`_TagCache`. One whose source fails has cost these two
    look-ups, which used to wait for the source's answer."""

    def __init__(self, dest: Future[str | None], tags: Future[list[str]] | None) -> None:
        self.dest = dest
        self.tags = tags

    @classmethod
    def start(cls, pool: ThreadPoolExecutor, job: ImageJob, lock: dict[tuple[str, str], Entry], tags: _TagCache,
              attachments: bool, immutable: Sequence[re.Pattern[str]]) -> _Early:
        """Queue the look-ups of *job*. The tag list is not asked early for an image the lockfile
        records under a tag the user declared immutable (that image is taken as recorded), nor from
        a pull-through source (its first manifest request picks where the image comes from)."""
        trusted = (job.source, str(job.destination)) in lock and not job.platform_filter and \
            job.expect_digest is None and _immutable(job, immutable)
        listed = None
        if attachments and job.src.kind == "registry" and job.src.tags_before_manifest and not trusted:
            listed = pool.submit(tags.get, job.src, job.source)
        return cls(pool.submit(job.dest.current_digest, job.dest_ident, image=job.source), listed)

    def held(self) -> str | None:
        """The digest the destination holds (None: nothing there)."""
        return self.dest.result()

    def listed(self, tags: _TagCache, job: ImageJob) -> list[str]:
        """The source repository's tags (from the cache when they were not asked for early)."""
        return self.tags.result() if self.tags is not None else tags.get(job.src, job.source)


def _resolve_job(job: ImageJob, lock: dict[tuple[str, str], Entry], tags: _TagCache,
                 attachments: bool, immutable: Sequence[re.Pattern[str]], early: _Early) -> None:
    try:
        if not _from_lock(job, lock, tags, attachments, immutable, early):
            _resolve_full(job, early)
            if attachments and job.src.kind in ("registry", "layout"):
                _find_attachments(job, tags, early)
    except OCIError as exc:
        job.fail(exc)
    except Exception as exc:  # a bug must not take the other images down: report it on the image
        job.fail(OCIError("internal error while resolving: %s: %s" % (type(exc).__name__, exc)))


def _from_lock(job: ImageJob, lock: dict[tuple[str, str], Entry], tags: _TagCache, attachments: bool,
               immutable: Sequence[re.Pattern[str]], early: _Early) -> bool:
    entry = lock.get((job.source, str(job.destination)))
    if entry is None:
        return False
    trusted = False
    if job.platform_filter:  # the source index is filtered again: its digest and the filter's
        digest = _platforms.lock_digest(job, entry)
    else:
        digest = _platforms.expected_digest(job)
        trusted = digest is None and _immutable(job, immutable)
        if trusted:  # the user declared this tag never moves: the lockfile's digest is the source's
            digest = entry.digest
        elif digest is None:
            found = job.src.resolve(job.src_ident, image=job.source)
            digest = found[0] if found else None
    if digest != entry.digest:
        return False
    if early.held() != digest:
        return False
    if attachments and job.src.kind == "registry" and not trusted:
        wanted = attachment_tags(early.listed(tags, job), [digest])
        if referrers_tag(digest) not in wanted:
            wanted += [d.get("digest") for d in job.src.referrers(digest, image=job.source) or ()]
        if not set(wanted) <= set(entry.attachments):
            return False
    job.digest = digest
    job.source_digest = job.source_digest or entry.source_digest
    job.before = digest
    job.media_type = entry.media_type
    job.platforms = list(entry.platforms)
    job.size = entry.size
    job.attachment_tags = list(entry.attachments)
    job.status = Status.PRESENT
    job.from_lock = True
    job.source_checked = not trusted
    job.locked_via = entry.source_via
    job.verified = entry.verified  # the same digest: what was checked when it was mirrored still holds
    return True


def _immutable(job: ImageJob, patterns: Sequence[re.Pattern[str]]) -> bool:
    """Whether *job*'s source tag matches one of *patterns* (a full match)."""
    tag = job.src_ref.tag if job.src_ref is not None and job.src.kind == "registry" else None
    return tag is not None and any(p.fullmatch(tag) for p in patterns)


def _resolve_full(job: ImageJob, early: _Early) -> None:
    image = job.source
    data, ctype = job.src.fetch_manifest(job.src_ident, image=image)
    via = getattr(job.src, "via", None)
    root = _manifest.parse(data, ctype, expected_digest=_platforms.expected_digest(job),
                           where="manifest of %s%s" % (job.src.describe(job.src_ident),
                                                       " (fetched through %s)" % via if via else ""))
    cache = _platforms.ManifestCache(job)
    root = _platforms.select(job, root, cache, "manifest of %s" % image)

    def fetch(desc: _manifest.Descriptor, where: str) -> tuple[bytes, str | None]:
        try:
            data, ctype = cache.fetch(desc, where)
        except NotFound as exc:
            parent = where.rsplit(" > ", 1)[0] if " > " in where else "manifest of %s" % image
            raise ManifestError("%s: the index lists %s, which the source does not have (%s)" % (
                parent, desc.digest, exc.message), image=image) from None
        return data, ctype

    graph = _graph.walk(root, fetch, "manifest of %s" % image)
    ordered, blobs = graph.manifests, graph.blobs
    job.root = root
    job.manifests = ordered
    job.blobs = blobs
    job.digest = root.digest
    job.media_type = root.media_type
    job.platforms = graph.platforms or list(job.filtered_platforms)
    job.size = graph.size
    job.before = early.held()
    complete = job.before == root.digest
    if complete and job.dest.kind == "layout":
        complete = all(job.dest.layout.has_blob(d.digest, d.size) for d in blobs.values()) and \
            all(job.dest.layout.has_blob(m.digest, m.size) for m in ordered)
    job.status = Status.PRESENT if complete else Status.COPY


def _find_attachments(job: ImageJob, tags: _TagCache, early: _Early) -> None:
    digests = [m.digest for m in job.manifests]
    found = attachment_tags(early.listed(tags, job), digests)
    for tag in found:
        if job.src.kind == "registry":
            src_ident = tag
            source = "%s:%s" % (job.src.describe(), tag)
        else:
            src_ident = "%s:%s" % (job.src.name, tag)
            source = src_ident
        if job.dest.kind == "registry":
            dest_ident = tag
        else:
            base = job.src_ref.name if job.src_ref else job.dest.name
            dest_ident = "%s:%s" % (base, tag)
        att = ImageJob(source, job.src, src_ident, job.dest, dest_ident, parent=job)
        job.attachments.append(att)
    job.attachment_tags = list(found)
    if job.src.kind != "registry":
        return
    # OCI referrers API: referrers pushed by digest that no tag lists. A subject whose referrers
    # tag-schema index is already copied above needs no API call.
    seen: set[str] = set()
    for digest in digests:
        if referrers_tag(digest) in found:
            continue
        descriptors = job.src.referrers(digest, image=job.source)
        if descriptors is None:
            break  # the source has no referrers API
        for desc in descriptors:
            ref_digest = desc.get("digest")
            if not ref_digest or ref_digest in seen:
                continue
            seen.add(ref_digest)
            att = ImageJob("%s@%s" % (job.src.describe(), ref_digest), job.src, ref_digest, job.dest, ref_digest,
                           parent=job)
            att.referrer = (digest, desc)
            job.attachments.append(att)
            job.attachment_tags.append(ref_digest)
