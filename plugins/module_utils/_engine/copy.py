# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Execute a resolved plan.

Every unit of work is a task in one dependency graph run by one bounded thread pool, across all
images and blobs:

- a blob is copied once per destination: to the first repository of a registry that needs it, then
  mounted (cross-repository mount, no bytes) into every other repository of that registry; into a
  layout it is written once to the shared ``blobs/``;
- a manifest task depends on the tasks of its blobs, an index on its children, an attached
  artifact on its subject: nothing is ever pushed before what it points to, so no tag ever points
  at something missing;
- a failed task fails its dependents (the images that need it) and nothing else: every image is
  attempted and failures are reported per image with their cause.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .._common.progress import Progress
from .._common.sizes import human_size
from .._common.space import free_bytes, space_margin
from .._oci import manifest as _manifest
from .._oci.errors import LayoutError, OCIError
from .job import ImageJob, Status, iter_jobs
from .scheduler import Scheduler, Task

if TYPE_CHECKING:  # a registry-to-registry run does not load the layout code
    from .layout import Layout

#: (blob scope, digest) of a blob, ({dest key}, digest) of a blob or manifest in one repository
Key = tuple[Any, str]

#: a blob this size or smaller is a light task: its time is a round trip more than its bytes (1 MiB
#: is about one 40 ms round trip at 200 Mbit/s), so it runs beside the heavy ones, not in their place
SMALL_BLOB = 1 << 20


class Copier:
    """Builds and runs the task graph for resolved jobs."""

    def __init__(self, concurrency: int = 8, deadline: Any = None, cancel: threading.Event | None = None,
                 sessions: Any = None, progress: Progress | None = None, light: int | None = None) -> None:
        """*concurrency*: transfers of blobs over :data:`SMALL_BLOB` at once; *light*: tasks of
        any kind at once (smaller blobs, mounts, manifests; default and at least *concurrency*)."""
        self.concurrency = concurrency
        self.light = max(concurrency, light or concurrency)
        self.deadline = deadline
        self.cancel = cancel
        self.sessions = sessions  # optional: factory(dest, digest) -> upload session store
        self.counts = {"copied": 0, "mounted": 0, "skipped": 0, "manifests": 0}
        #: counts bytes as they stream and images as they end (see _common/progress.py)
        self.progress = progress
        #: bytes of the blobs the built graph copies (not mounts): the progress' total
        self.planned_bytes = 0
        self._image_roots: dict[int, ImageJob] = {}  # id(root task) -> top-level job it completes
        self._lock = threading.Lock()

    def _count(self, job: ImageJob | None, action: str, nbytes: int = 0) -> None:
        with self._lock:
            self.counts[action] += 1
            if job is not None:
                if action in job.blob_counts:
                    job.blob_counts[action] += 1
                job.bytes += nbytes

    # ---------------------------------------------------------------- work units

    def _copy_blob(self, job: ImageJob, dest: Any, desc: _manifest.Descriptor, from_dest: Any = None) -> int:
        """Make *desc* present in *dest*, mounting it from *from_dest* if given. A blob that is
        there already is never sent again: the destination is asked first (for a registry, in
        the same request that starts the upload; see RegistryClient.ensure_blob)."""
        src = job.src
        progress = self.progress if from_dest is None else None
        streamed = [0]

        def opener(offset: int) -> Iterable[bytes]:
            chunks = src.open_blob(desc, offset, image=job.source)
            return chunks if progress is None else _counted(chunks, progress, streamed)

        session = self.sessions(dest, desc.digest) if self.sessions and dest.kind == "registry" else None
        action = dest.ensure_blob(desc, opener, image=job.source, session=session, mount_from=from_dest)
        sent = desc.size if action == "copied" else 0
        self._count(job, action, sent)
        if progress is not None:  # a blob found there (or resumed) is done without moving its bytes
            progress.add_bytes(max(0, desc.size - streamed[0]), moved=False)
        return sent

    def _push_manifest(self, job: ImageJob, dest: Any, ident: str, man: _manifest.Manifest, root: bool) -> None:
        dest.put_manifest(ident, man, image=job.source, root=root,
                          source_digest=job.source_digest if root and man is job.root else None)
        with self._lock:
            self.counts["manifests"] += 1

    # ---------------------------------------------------------------- graph

    def _copy_task(self, job: ImageJob, dest: Any, desc: _manifest.Descriptor, owner: ImageJob | None = None) -> Task:
        self.planned_bytes += desc.size
        return Task("copy blob %s to %s" % (desc.digest[:19], dest.describe()),
                    _bind(self._copy_blob, job, dest, desc), owner=owner, heavy=desc.size > SMALL_BLOB)

    def build(self, jobs: list[ImageJob], homes: dict[Key, Any] | None = None,
              ready: Iterable[Key] = ()) -> tuple[list[Task], dict[int, Task]]:
        """Task graph for every job (and attachment) whose status is "copy".

        *homes* ({(blob scope, digest): Home}, see shard.py) names the repository where each blob
        is uploaded once; a blob whose home is already complete (its image is present) or listed
        in *ready* is mounted from there instead of being uploaded again."""
        homes = homes or {}
        ready = set(ready)
        tasks: list[Task] = []
        per_repo: dict[Key, Task | None] = {}  # (dest key, digest) -> task making the blob present there
        primary: dict[Key, tuple[Task | None, Any]] = {}  # (blob scope, digest) -> first copy in that scope
        manifests: dict[Key, Task] = {}  # (dest key, digest) -> task pushing that manifest by digest
        roots: dict[int, Task] = {}

        for job in iter_jobs(jobs):
            if job.status != Status.COPY:
                continue
            dest = job.dest
            blob_task: dict[str, Task | None] = {}
            for desc in job.blobs.values():
                key = (dest.key, desc.digest)
                if key in per_repo:
                    task = per_repo[key]
                else:
                    scope = (dest.blob_scope, desc.digest)
                    first = primary.get(scope)
                    home = homes.get(scope)
                    if first is None and home is not None and home.dest.key == dest.key and scope in ready:
                        # this is the blob's home and it is there (uploaded, or found by HEAD): no
                        # request at all. Asked again, a registry re-links the blob here, and
                        # distribution 2.8 was seen answering 202 (no mount) to another worker's
                        # mount from here at that moment -- whose bytes then crossed twice
                        primary[scope] = (None, dest)
                        self._count(job, "skipped")
                        task = None
                    elif first is None and home is not None and getattr(dest, "can_mount", False) and \
                            home.dest.key != dest.key and (home.job.status == Status.PRESENT or scope in ready):
                        # the blob is already at home: mount it from there, no bytes
                        primary[scope] = (None, home.dest)
                        task = Task("mount blob %s into %s" % (desc.digest[:19], dest.describe()),
                                    _bind(self._copy_blob, job, dest, desc, home.dest), owner=job)
                        tasks.append(task)
                    elif first is None:
                        task = self._copy_task(job, dest, desc, owner=job)
                        primary[scope] = (task, dest)
                        tasks.append(task)
                    elif getattr(dest, "can_mount", False):
                        first_task, first_dest = first
                        task = Task("mount blob %s into %s" % (desc.digest[:19], dest.describe()),
                                    _bind(self._copy_blob, job, dest, desc, first_dest), deps=[first_task],
                                    owner=job)
                        tasks.append(task)
                    else:
                        task = first[0]
                    per_repo[key] = task
                blob_task[desc.digest] = task

            pushed: dict[str, Task] = {}
            for man in job.manifests:
                is_root = man is job.root
                deps: list[Task | None]
                if man.is_index:
                    deps = [pushed[c.digest] for c in man.children if c.digest in pushed]
                else:
                    deps = [blob_task[b.digest] for b in man.blobs]
                if job.parent is not None and is_root:
                    deps.append(roots.get(id(job.parent)))
                if not is_root:
                    key = (dest.key, man.digest)
                    task = manifests.get(key)
                    if task is None:
                        task = Task("push manifest %s to %s" % (man.digest[:19], dest.describe()),
                                    _bind(self._push_manifest, job, dest, man.digest, man, False), deps=deps,
                                    owner=job)
                        manifests[key] = task
                        tasks.append(task)
                else:
                    # a referrer is stored by digest only; it is listed by the referrers index
                    record = job.referrer is None
                    task = Task("push %s" % job.destination,
                                _bind(self._push_manifest, job, dest, job.dest_ident, man, record), deps=deps,
                                owner=job)
                    tasks.append(task)
                    roots[id(job)] = task
                    if job.parent is None:
                        self._image_roots[id(task)] = job
                pushed[man.digest] = task
        tasks.extend(self._referrers_tag_tasks(jobs, roots))
        return tasks, roots

    def _referrers_tag_tasks(self, jobs: list[ImageJob], roots: dict[int, Task]) -> list[Task]:
        """For destinations without the referrers API, list copied referrers in the referrers
        tag-schema index of their subject (``sha256-<hex>``), merging with what is there."""
        groups: dict[Key, tuple[Any, str, ImageJob | None, list[dict[str, Any]], list[Task | None]]] = {}
        for job in iter_jobs(jobs):
            if job.referrer is not None and job.status == Status.COPY:
                subject, desc = job.referrer
                key = (job.dest.key, subject)
                group = groups.setdefault(key, (job.dest, subject, job.parent, [], []))
                group[3].append(desc)
                group[4].append(roots.get(id(job)))
        return [Task("referrers index of %s in %s" % (subject[:19], dest.describe()),
                     _bind(self._update_referrers_tag, parent, dest, subject, descs), deps=deps, owner=parent)
                for dest, subject, parent, descs, deps in groups.values()]

    def _update_referrers_tag(self, job: ImageJob, dest: Any, subject: str, descriptors: list[dict[str, Any]]) -> None:
        if dest.supports_referrers(subject, image=job.source):
            return
        existing = dest.read_referrers_tag(subject, image=job.source)
        have = {d.get("digest") for d in existing}
        merged = existing + [d for d in descriptors if d.get("digest") not in have]
        if len(merged) != len(existing):
            dest.write_referrers_tag(subject, merged, image=job.source)
            with self._lock:
                self.counts["manifests"] += 1

    def upload(self, homes: dict[Key, Any]) -> dict[Key, OCIError]:
        """Upload each blob of *homes* ({key: Home}) to its home repository (a sharded worker's
        share). Returns {key: error} of the blobs that could not be uploaded."""
        tasks = {key: self._copy_task(home.job, home.dest, home.desc) for key, home in homes.items()}
        self._scheduler().run(tasks.values())
        return {key: task.error for key, task in tasks.items() if task.error is not None}

    def run(self, jobs: list[ImageJob], homes: dict[Key, Any] | None = None,
            ready: Iterable[Key] = ()) -> dict[str, int]:
        tasks, roots = self.build(jobs, homes, ready)
        if self.progress is not None:
            self.progress.plan(self.progress.images_total, self.planned_bytes, self.progress.images_done)
        self._scheduler().run(tasks)
        started: dict[int, float] = {}
        for task in tasks:
            if task.owner is not None and task.started is not None:
                prev = started.get(id(task.owner))
                started[id(task.owner)] = task.started if prev is None else min(prev, task.started)
        for job in iter_jobs(jobs):
            if job.status != Status.COPY:
                continue
            root = roots.get(id(job))
            if root is None or root.error is not None:
                job.fail(root.error if root is not None and root.error is not None else OCIError("nothing was pushed"))
            else:
                job.status = Status.COPIED
            job.started = started.get(id(job))
            job.finished = root.ended if root is not None else None
        return self.counts

    def _scheduler(self) -> Scheduler:
        return Scheduler(self.light, self.deadline, self.cancel, heavy_limit=self.concurrency,
                         on_done=self._task_done if self.progress is not None else None)

    def _task_done(self, task: Task) -> None:
        """An image whose last push ended is done (progress)."""
        job = self._image_roots.get(id(task))
        if job is not None and self.progress is not None:
            status = Status.COPIED if task.error is None else Status.FAILED
            self.progress.image_done(job.source, status.value)


def _counted(chunks: Iterable[bytes], progress: Progress, streamed: list[int]) -> Iterable[bytes]:
    """*chunks*, adding each one's length to *progress* (and to ``streamed[0]``) as it passes."""
    for chunk in chunks:
        streamed[0] += len(chunk)
        progress.add_bytes(len(chunk))
        yield chunk


def _bind(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


def preflight_space(jobs: list[ImageJob]) -> dict[str, int]:
    """Refuse to start a copy into a layout whose filesystem cannot hold what it would write: the
    blobs and manifests the layout does not have yet (less what an interrupted run left in its
    partial files), each rounded up to the file system's block, plus :func:`space_margin`.
    Returns ``{layout path: bytes needed}``."""
    needed: dict[str, int] = {}
    stores: dict[str, Layout] = {}
    items: dict[tuple[str, str], int] = {}
    for job in iter_jobs(jobs):
        if job.status != Status.COPY or job.dest is None or job.dest.kind != "layout":
            continue
        layout = job.dest.layout
        stores[layout.path] = layout
        for desc in job.blobs.values():
            items.setdefault((layout.path, desc.digest), desc.size)
        for man in job.manifests:
            items.setdefault((layout.path, man.digest), man.size)
    blocks = {path: _block_size(path) for path in stores}
    for (path, digest), size in items.items():
        layout = stores[path]
        if layout.has_blob(digest, size):
            continue
        missing = max(0, size - layout.partial_size(digest))
        block = blocks[path]
        needed[path] = needed.get(path, 0) + -(-missing // block) * block
    for path, nbytes in needed.items():
        free = free_bytes(path)
        margin = space_margin(nbytes)
        if nbytes + margin > free:
            raise LayoutError("not enough free space for %s: the copy needs %s (%s of blobs and manifests not in the "
                              "layout yet plus a %s margin), the file system has %s free (space_check: false skips "
                              "this check)" % (path, human_size(nbytes + margin), human_size(nbytes),
                                               human_size(margin), human_size(free)))
    return needed


def _block_size(path: str) -> int:
    probe = os.path.abspath(path)
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    try:
        return max(512, os.statvfs(probe).f_frsize)
    except OSError:
        return 4096


def estimate(jobs: list[ImageJob], concurrency: int = 8) -> tuple[int, int]:
    """Check mode: bytes a copy would transfer (unique blobs missing from each destination's
    first repository), found with HEAD requests only."""
    todo: dict[Key, tuple[ImageJob, Any, _manifest.Descriptor]] = {}
    for job in iter_jobs(jobs):
        if job.status != Status.COPY:
            continue
        for desc in job.blobs.values():
            todo.setdefault((job.dest.blob_scope, desc.digest), (job, job.dest, desc))
    return missing_bytes(todo.values(), concurrency)


def missing_bytes(items: Iterable[tuple[ImageJob, Any, _manifest.Descriptor]],
                  concurrency: int = 8) -> tuple[int, int]:
    """(bytes, blobs) of the ``(job, dest, desc)`` items whose blob *dest* does not have (HEAD
    requests; a blob that cannot be asked about counts as missing)."""

    def missing(item: tuple[ImageJob, Any, _manifest.Descriptor]) -> int:
        job, dest, desc = item
        try:
            return 0 if dest.has_blob(desc, image=job.source) else desc.size
        except OCIError:
            return desc.size

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        sizes = list(pool.map(missing, items))
    return sum(sizes), sum(1 for s in sizes if s)
