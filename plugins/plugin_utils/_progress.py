# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The controller's side of a module's ``progress_file``: read its JSON lines as they come
(:class:`ProgressReader`) and turn them into console lines (:func:`format_record`,
:func:`lines_to_show`). See ``module_utils/_common/progress.py`` for the writer and the fields.
"""

from __future__ import annotations

import json
import math
import shlex
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._common.sizes import human_size

Record = dict[str, Any]


class ProgressReader:
    """Turns the text appended to a progress file, piece by piece, into records. A last line
    without its newline yet is kept until the rest arrives; a line that is not JSON is skipped.
    ``offset`` is how many bytes were consumed (where the next read starts); ``pid`` the process
    that writes the file, once its ``start`` record was read."""

    def __init__(self) -> None:
        self.offset = 0
        self.pid: int | None = None
        self._partial = b""

    def feed(self, data: bytes) -> list[Record]:
        """The records completed by *data* (the bytes of the file from ``offset`` on)."""
        self.offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        records = []
        for line in lines:
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue
            if isinstance(record, dict):
                records.append(record)
                if record.get("event") == "start" and isinstance(record.get("pid"), int):
                    self.pid = record["pid"]
        return records


def duration(seconds: float) -> str:
    """``26 s``, ``4 min 05 s``, ``2 h 03 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 3600:
        return "%d min %02d s" % (seconds // 60, seconds % 60)
    return "%d h %02d min" % (seconds // 3600, seconds % 3600 // 60)


def format_record(label: str, record: Record, unit: str = "images") -> str:
    """One console line: ``image_mirror: 12/40 images, 1.2 GiB/3.4 GiB, 85.0 MiB/s, ~26 s left``;
    an ``image`` record starts with its image and status; before the totals are known, the phase."""
    parts = []
    if record.get("event") == "image":
        parts.append("%s %s" % (record.get("status", "done"), record.get("image", "?")))
    elif record.get("event") == "limit":  # a registry's rate limit makes the run wait
        parts.append(str(record.get("message", "waiting for a registry's rate limit")))
    phase = record.get("phase")
    if phase in ("start", "resolve"):
        parts.append("resolving%s" % (" %d %s" % (record["images_total"], unit) if record.get("images_total") else ""))
    else:
        if record.get("images_total"):
            parts.append("%d/%d %s" % (record.get("images_done", 0), record["images_total"], unit))
        if record.get("bytes_total"):
            parts.append("%s/%s" % (human_size(record.get("bytes_done", 0)), human_size(record["bytes_total"])))
        if record.get("rate") is not None:
            parts.append("%s/s" % human_size(int(record["rate"])))
        if record.get("eta") is not None and phase not in ("write_map", "end"):
            parts.append("~%s left" % duration(record["eta"]))
        if phase == "write_map":
            parts.append("writing the mirror map")
    parts.append("%s elapsed" % duration(record.get("elapsed", 0)))
    return "%s: %s" % (label, ", ".join(parts))


def lines_to_show(label: str, records: list[Record], unit: str = "images") -> list[str]:
    """The console lines of the records read in one poll: every ``image`` record (an image
    ended) and every ``limit`` record (a registry's rate limit makes the run wait), then the latest
    other record if it came after the last ``image`` one (the state now).
    ``start`` and ``end`` are not shown (the task's own lines say that)."""
    lines = []
    latest: Record | None = None
    for record in records:
        if record.get("event") in ("image", "limit"):
            lines.append(format_record(label, record, unit))
            latest = None
        elif record.get("event") not in ("start", "end"):
            latest = record
    if latest is not None:
        lines.append(format_record(label, latest, unit))
    return lines


#: what a job's marker starts with (the marker separates the parts of one poll's output)
MARKER = "--airgap-mirror-progress-status--"

#: the shortest and the longest look for the exit status while a poll waits on the host
WAIT_STEP_MIN = 0.05
WAIT_STEP_MAX = 0.25


class Job:
    """The files of one module run in the background on its host, in *directory* (the async
    directory), named after *token*: the module's standard output and error, its exit status
    (written last) and a progress file for a task that names none. ``marker`` separates their
    texts in a poll's output (*token* makes it unique)."""

    def __init__(self, directory: str, token: str) -> None:
        self.directory = directory
        base = "%s/airgap-%s" % (directory.rstrip("/"), token)
        self.out = base + ".out"
        self.err = base + ".err"
        self.rc = base + ".rc"
        self.pid = base + ".pid"
        self.progress = base + ".progress"
        self.marker = "%s-%s" % (MARKER, token)

    def files(self) -> list[str]:
        return [self.out, self.err, self.rc, self.rc + ".tmp", self.pid]


#: what the launch prints once the module runs in the background
STARTED = '{"airgap_started": true}'


def launch_command(module_command: str, job: Job) -> str:
    """A shell command that starts *module_command* (the command ansible-core runs a module with)
    in the background and returns at once, printing :data:`STARTED`: the module's output and error
    go to the job's files, then its exit status to ``job.rc`` (renamed into place, so a reader sees
    it whole); the background shell's pid goes to ``job.pid``. SIGHUP is ignored from the start
    (``trap '' HUP``, inherited by everything the command starts): when the connection's session
    ends (an ssh channel with a terminal hangs up) the job may not yet have reached ``nohup``, and
    would die of it. ``umask 077``: the files are the user's own."""
    q = shlex.quote
    inner = "{ %s ; } </dev/null >%s 2>%s; echo $? >%s && mv %s %s" % (
        module_command, q(job.out), q(job.err), q(job.rc + ".tmp"), q(job.rc + ".tmp"), q(job.rc))
    failed = json.dumps({"failed": True, "msg": "cannot start the module in the background on its host: "
                         "cannot create %s" % job.directory})
    return ("trap '' HUP; umask 077 && mkdir -p %s && { nohup /bin/sh -c %s </dev/null >/dev/null 2>&1 & "
            "echo $! >%s; } && echo %s || echo %s"
            % (q(job.directory), q(inner), q(job.pid), q(STARTED), q(failed)))


#: what a poll prints, after the progress, when the job's shell is gone without an exit status
LOST = "lost"


def poll_command(path: str, job: Job, offset: int, wait: float = 0.0) -> str:
    """One shell command that waits on the host up to *wait* seconds for the job to end, then
    prints the progress file from byte *offset* and ``job.marker``; once the job has ended, also
    its exit status, its output and its error, each after ``job.marker`` (see :func:`split_poll`);
    when the job's shell is gone without an exit status (killed outright), :data:`LOST` instead
    (gone: ``kill -0`` fails, or on Linux it is a zombie no one reaped).

    The wait looks for the exit status every tenth of *wait* (between :data:`WAIT_STEP_MIN` and
    :data:`WAIT_STEP_MAX` seconds) and stops as soon as it is there: the end of a run is seen
    within a quarter second however long the pause between polls, and a pause costs one round
    trip to the host, not one per look."""
    q = shlex.quote
    sep = "printf '\\n%s\\n'" % job.marker
    ended = "cat %s; %s; cat %s; %s; cat %s" % (q(job.rc), sep, q(job.out), sep, q(job.err))
    tail = ("tail -c +%d %s 2>/dev/null; %s; if [ -f %s ]; then %s; "
            "elif [ -f %s ] && p=$(cat %s) && ! { kill -0 \"$p\" && ! grep -qs ') Z ' /proc/\"$p\"/stat; } "
            "2>/dev/null; then if [ -f %s ]; then %s; else printf %s; fi; fi" % (
                offset + 1, q(path), sep, q(job.rc), ended, q(job.pid), q(job.pid), q(job.rc), ended, q(LOST)))
    if wait <= 0:
        return tail
    step = min(WAIT_STEP_MAX, max(WAIT_STEP_MIN, wait / 10))
    looks = max(1, math.ceil(wait / step - 1e-9))
    return ("n=%d; while [ $n -gt 0 ] && [ ! -f %s ]; do sleep %s; n=$((n-1)); done; %s"
            % (looks, q(job.rc), ("%.3f" % step).rstrip("0"), tail))


def split_poll(output: str, job: Job) -> tuple[bytes, tuple[int | None, str, str] | None] | None:
    """(the progress file's new bytes, (exit status, output, error) once the job ended, else None)
    from a poll's *output*; None when the output is not a poll's (the command failed). An exit
    status that is not a number (the file cut short) is None. Raises :class:`JobLost` when the
    job's shell is gone without an exit status."""
    parts = output.split("\n%s\n" % job.marker)
    if len(parts) not in (2, 4):
        return None
    new = parts[0].encode("utf-8", "surrogateescape")
    if len(parts) == 2:
        if parts[1].strip() == LOST:
            raise JobLost("the module's process on the host ended without an exit status (killed?)")
        return new, None
    try:
        rc: int | None = int(parts[1].strip())
    except ValueError:
        rc = None
    return new, (rc, parts[2], parts[3])


class JobLost(Exception):
    """The background job's shell on the host is gone and left no exit status."""
