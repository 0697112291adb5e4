# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A DAG of tasks run on one bounded thread pool: a task runs once every task it depends on is
done; a failed task fails its dependents (and nothing else); a bug in a task is reported on it,
never raised; the run's deadline and cancel event stop what has not started.

Tasks marked *heavy* (large blob transfers, whose time is the bandwidth) run at most
``heavy_limit`` at once; the others (small blobs, mounts, manifests: their time is the round
trip) fill every worker. A heavy task that is ready while the limit is reached waits in a queue,
not on a worker."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .._oci.errors import OCIError


class Task:
    """One unit of work: *fn* once its *deps* are done; *owner* is the image it is done for;
    *heavy*: counts against the scheduler's ``heavy_limit``."""

    __slots__ = ("name", "fn", "deps", "dependents", "pending", "error", "result", "owner", "started", "ended",
                 "heavy")

    def __init__(self, name: str, fn: Callable[[], Any], deps: Iterable[Task | None] = (),
                 owner: Any = None, heavy: bool = False) -> None:
        self.name = name
        self.heavy = heavy
        self.fn = fn
        self.deps: list[Task] = [d for d in deps if d is not None]
        self.dependents: list[Task] = []
        self.pending = 0
        self.error: OCIError | None = None
        self.result: Any = None
        self.owner = owner
        self.started: float | None = None
        self.ended: float | None = None


class Scheduler:
    """Runs a DAG of tasks on a fixed number of worker threads."""

    def __init__(self, workers: int, deadline: Any = None, cancel: threading.Event | None = None,
                 on_done: Callable[[Task], None] | None = None, heavy_limit: int | None = None) -> None:
        """*on_done* is called with every task once it ended (done or failed), from the thread
        that ended it; what it raises is ignored. *heavy_limit*: heavy tasks running at once
        (default and at most: *workers*)."""
        self.workers = max(1, int(workers))
        self.heavy_limit = self.workers if heavy_limit is None else max(1, min(self.workers, int(heavy_limit)))
        self._heavy_running = 0
        self._heavy_waiting: collections.deque[Task] = collections.deque()
        self.on_done = on_done
        self.deadline = deadline
        self.cancel = cancel or threading.Event()
        self._lock = threading.Lock()
        self._remaining = 0
        self._done = threading.Event()
        self._pool: ThreadPoolExecutor | None = None

    def run(self, tasks: Iterable[Task]) -> None:
        tasks = list(tasks)
        if not tasks:
            return
        for task in tasks:
            task.pending = len(task.deps)
            for dep in task.deps:
                dep.dependents.append(task)
        self._remaining = len(tasks)
        # the ready set is taken before anything runs: a task whose dependencies finish while
        # this loop submits is submitted by _finish, and must not be submitted here again
        initial = [task for task in tasks if task.pending == 0]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="airgap-copy") as pool:
            self._pool = pool
            for task in initial:
                self._submit(task)
            self._done.wait()
        self._pool = None

    def _run(self, task: Task) -> None:
        try:
            if self.cancel.is_set():
                raise OCIError("cancelled")
            if self.deadline is not None:
                self.deadline.check(task.name)
            task.started = time.monotonic()
            task.result = task.fn()
        except OCIError as exc:
            task.error = exc
        except Exception as exc:  # a bug in one task must not hang the run
            task.error = OCIError("internal error in %s: %s: %s" % (task.name, type(exc).__name__, exc))
        task.ended = time.monotonic()
        if task.heavy:
            with self._lock:
                self._heavy_running -= 1
                waiting = self._heavy_waiting.popleft() if self._heavy_waiting else None
                if waiting is not None:
                    self._heavy_running += 1
            if waiting is not None:
                self._pool_submit(waiting)
        self._finish(task)

    def _finish(self, task: Task) -> None:
        if self.on_done is not None:
            try:
                self.on_done(task)
            except Exception:  # pylint: disable=broad-except  # progress must never hang the run
                pass
        ready: list[Task] = []
        failed: list[Task] = []
        with self._lock:
            self._remaining -= 1
            for dep in task.dependents:
                if task.error is not None and dep.error is None:
                    dep.error = task.error
                dep.pending -= 1
                if dep.pending == 0:
                    (failed if dep.error is not None else ready).append(dep)
            if self._remaining == 0:
                self._done.set()
        for dep in ready:
            self._submit(dep)
        for dep in failed:
            dep.ended = time.monotonic()
            self._finish(dep)

    def _submit(self, task: Task) -> None:
        """Run *task* on a worker, or queue it when it is heavy and ``heavy_limit`` heavy tasks run."""
        if task.heavy:
            with self._lock:
                if self._heavy_running >= self.heavy_limit:
                    self._heavy_waiting.append(task)
                    return
                self._heavy_running += 1
        self._pool_submit(task)

    def _pool_submit(self, task: Task) -> Future[None]:
        if self._pool is None:
            raise AssertionError('submitted outside run()')
        return self._pool.submit(self._run, task)
