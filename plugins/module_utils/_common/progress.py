# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Progress of a long run, as JSON lines in a file (the modules' ``progress_file`` option).

:class:`Progress` counts what a run has done (items and bytes, done and total), measures the
current rate over a sliding window and estimates the time left. Every record it emits is one
JSON object on one line::

    {"event": "tick", "phase": "copy", "time": 1733389200.5, "elapsed": 12.0,
     "images_done": 12, "images_total": 40, "bytes_done": 1288490188, "bytes_total": 3650722201,
     "rate": 89128960.0, "eta": 26.0}

Events: ``start`` (the run began), ``plan`` (totals are known), ``tick`` (every *interval*
seconds while the run goes on), ``image`` (one image ended: with ``image`` and ``status``),
``phase`` (a phase began: ``phase``), ``end`` (the run is over). ``start`` also has ``pid``, the
process of the run. ``rate`` (bytes per second) and
``eta`` (seconds) are ``null`` while unknown.

:class:`ProgressFile` appends each record with one ``write(2)`` on a file opened ``O_APPEND``,
so a reader never sees two records interleaved, and at worst a last line still incomplete (see
``airgap.mirror`` ``plugin_utils/_progress.py``, which keeps such a line until it ends).
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

#: a record of progress, as written to the file
Record = dict[str, Any]
Sink = Callable[[Record], None]

#: phases whose bytes are not what the total counts (no estimate of the time left)
_NO_ETA = ("start", "resolve")

#: seconds of history the current rate is measured over
RATE_WINDOW = 10.0


class ProgressFile:
    """Appends records to *path* as JSON lines (the file is created, or appended to)."""

    def __init__(self, path: str) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()

    def __call__(self, record: Record) -> None:
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            if self._fd < 0:
                return
            os.write(self._fd, line)  # O_APPEND: one write, one whole line at the end of the file

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


class Progress:
    """Counts done/total images and bytes; sends records to *sink* at each event and, once
    :meth:`start` was called, every *interval* seconds from a background thread.

    *clock* is ``time.monotonic`` (tests pass their own)."""

    def __init__(self, sink: Sink | None = None, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.interval = max(0.1, float(interval))
        self.clock = clock
        self.phase = "start"
        self.images_done = 0
        self.images_total = 0
        self.bytes_done = 0
        self.bytes_total = 0
        self._started = clock()
        self._sent = 0  # bytes that actually moved (the rate); bytes_done also counts skipped blobs
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ counting

    def set_phase(self, phase: str) -> None:
        """Enter *phase* (``resolve``, ``copy``, ``write_map``, ``pack``...)."""
        with self._lock:
            self.phase = phase
        self.emit("phase")

    def plan(self, images_total: int, bytes_total: int, images_done: int = 0) -> None:
        """The totals are known (*images_done*: already done, e.g. present in the destination)."""
        with self._lock:
            self.images_total = images_total
            self.bytes_total = bytes_total
            self.images_done = images_done
        self.emit("plan")

    def add_bytes(self, nbytes: int, moved: bool = True) -> None:
        """*nbytes* more are done (*moved*: sent over the wire or to disk, counted in the rate)."""
        with self._lock:
            self.bytes_done += nbytes
            if moved:
                self._sent += nbytes

    def image_done(self, image: str, status: str) -> None:
        """One image ended (copied, failed...): an ``image`` record."""
        with self._lock:
            self.images_done += 1
        self.emit("image", image=image, status=status)

    # ------------------------------------------------------------------ records

    def rate(self) -> float | None:
        """Bytes per second over the last :data:`RATE_WINDOW` seconds (None: too early to tell)."""
        now = self.clock()
        with self._lock:
            self._samples.append((now, self._sent))
            while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW:
                self._samples.popleft()
            first_time, first_sent = self._samples[0]
            sent = self._sent
        if now - first_time < 0.5:
            return None
        return (sent - first_sent) / (now - first_time)

    def snapshot(self, event: str, **extra: Any) -> Record:
        """The record of *event* as things stand."""
        rate = self.rate()
        with self._lock:
            left = max(0, self.bytes_total - self.bytes_done)
            record: Record = {
                "event": event, "phase": self.phase, "time": round(time.time(), 3),
                "elapsed": round(self.clock() - self._started, 3),
                "images_done": self.images_done, "images_total": self.images_total,
                "bytes_done": min(self.bytes_done, self.bytes_total) if self.bytes_total else self.bytes_done,
                "bytes_total": self.bytes_total,
                "rate": round(rate, 1) if rate is not None else None,
                "eta": round(left / rate, 1) if rate and self.bytes_total and self.phase not in _NO_ETA else None,
            }
        record.update(extra)
        return record

    def emit(self, event: str, **extra: Any) -> None:
        """Send the record of *event* to the sink (if any). A sink that fails is dropped: progress
        never fails a run."""
        sink = self.sink
        if sink is None:
            return
        try:
            sink(self.snapshot(event, **extra))
        except (OSError, ValueError, TypeError):
            self.sink = None

    # ------------------------------------------------------------------ ticks

    def start(self) -> None:
        """Emit ``start`` (with ``pid``, the process to signal to stop the run) and begin ticking
        every *interval* seconds."""
        self.emit("start", pid=os.getpid())
        if self.sink is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._tick, name="airgap-progress", daemon=True)
        self._thread.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.emit("tick")

    def stop(self) -> None:
        """Stop ticking and emit ``end``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.emit("end")


def progress_to(path: str | None, interval: float) -> tuple[Progress, Callable[[], None]]:
    """A :class:`Progress` writing to the file *path* (None: counting only) and the function that
    closes it."""
    if not path:
        return Progress(None, interval), lambda: None
    out = ProgressFile(path)
    return Progress(out, interval), out.close
