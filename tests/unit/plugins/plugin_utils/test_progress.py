"""Reading a progress file as it grows, and the console lines (plugins/plugin_utils/_progress.py)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.airgap.mirror.plugins.plugin_utils._progress import (
    STARTED, Job, JobLost, ProgressReader, duration, format_record, launch_command, lines_to_show, poll_command, split_poll)

GIB = 1 << 30
MIB = 1 << 20


def line(**record: object) -> bytes:
    return (json.dumps(record) + "\n").encode()


def test_the_reader_keeps_a_line_until_it_ends_and_counts_the_offset() -> None:
    reader = ProgressReader()
    data = line(event="start") + line(event="tick", images_done=1)
    first, rest = data[:30], data[30:]
    records = reader.feed(first)
    assert records == [{"event": "start"}]
    records += reader.feed(rest[:-1])
    records += reader.feed(rest[-1:])
    assert records == [{"event": "start"}, {"event": "tick", "images_done": 1}]
    assert reader.offset == len(data)
    assert reader.feed(b"") == []


def test_the_reader_learns_the_pid_of_the_run_from_its_start() -> None:
    reader = ProgressReader()
    reader.feed(line(event="tick"))
    assert reader.pid is None
    reader.feed(line(event="start", pid=4242))
    assert reader.pid == 4242


def test_the_reader_skips_what_is_not_a_record() -> None:
    reader = ProgressReader()
    assert reader.feed(b"garbage\n[1]\n\xff\n" + line(event="end")) == [{"event": "end"}]


def test_a_copy_line_has_images_bytes_rate_and_time_left() -> None:
    record = {"event": "tick", "phase": "copy", "images_done": 12, "images_total": 40,
              "bytes_done": int(1.2 * GIB), "bytes_total": int(3.4 * GIB), "rate": 85 * MIB, "eta": 26.4,
              "elapsed": 14}
    assert format_record("image_mirror", record) == \
        "image_mirror: 12/40 images, 1.2 GiB/3.4 GiB, 85.0 MiB/s, ~26 s left, 14 s elapsed"


def test_an_image_line_names_the_image_and_an_early_line_the_phase() -> None:
    image = {"event": "image", "phase": "copy", "image": "quay.io/a/b:1", "status": "copied", "images_done": 1,
             "images_total": 2, "bytes_done": 0, "bytes_total": 0, "rate": None, "eta": None, "elapsed": 2}
    assert format_record("image_mirror", image) == "image_mirror: copied quay.io/a/b:1, 1/2 images, 2 s elapsed"
    resolving = {"event": "tick", "phase": "resolve", "images_total": 0, "elapsed": 3}
    assert format_record("image_mirror", resolving) == "image_mirror: resolving, 3 s elapsed"
    writing = {"event": "phase", "phase": "write_map", "images_done": 2, "images_total": 2, "eta": 0, "elapsed": 61}
    assert format_record("x", writing, unit="parts") == "x: 2/2 parts, writing the mirror map, 1 min 01 s elapsed"


def test_durations() -> None:
    assert [duration(s) for s in (0, 59.4, 61, 3599, 7380)] == ["0 s", "59 s", "1 min 01 s", "59 min 59 s",
                                                                "2 h 03 min"]


def test_one_poll_shows_every_image_end_then_the_latest_state() -> None:
    records = [{"event": "start", "phase": "start"},
               {"event": "tick", "phase": "copy", "images_done": 0, "images_total": 2},
               {"event": "image", "phase": "copy", "image": "a", "status": "copied", "images_done": 1,
                "images_total": 2},
               {"event": "tick", "phase": "copy", "images_done": 1, "images_total": 2, "elapsed": 5},
               {"event": "end", "phase": "copy"}]
    assert lines_to_show("m", records) == ["m: copied a, 1/2 images, 0 s elapsed", "m: 1/2 images, 5 s elapsed"]
    assert lines_to_show("m", records[:3]) == ["m: copied a, 1/2 images, 0 s elapsed"]
    assert lines_to_show("m", [records[0], records[-1]]) == []


def test_a_limit_record_is_always_shown_with_its_message() -> None:
    records = [{"event": "limit", "phase": "copy", "message": "quay.io: waiting 20.0s", "images_done": 0,
                "images_total": 2, "elapsed": 4},
               {"event": "tick", "phase": "copy", "images_done": 1, "images_total": 2, "elapsed": 5}]
    assert lines_to_show("image_mirror", records) == [
        "image_mirror: quay.io: waiting 20.0s, 0/2 images, 4 s elapsed",
        "image_mirror: 1/2 images, 5 s elapsed"]


# ---------------------------------------------------------------- the launch and the poll, run by a real sh

def _sh(script: str) -> tuple[float, str]:
    started = time.monotonic()
    out = subprocess.run(["sh", "-c", script], check=False, capture_output=True, text=True).stdout
    return time.monotonic() - started, out


def _job(tmp_path: Path) -> tuple[Job, Path]:
    job = Job(str(tmp_path / "async dir's"), "0123abcd")  # a space and a quote: everything is quoted
    progress = tmp_path / "run.progress"
    progress.write_bytes(line(event="start", pid=1) + line(event="tick", images_done=1))
    return job, progress


def _launch(job: Job, module: str) -> tuple[float, str]:
    return _sh(launch_command("/bin/sh -c %s" % shlex.quote(module), job))


def test_the_launch_returns_at_once_and_the_poll_carries_the_result(tmp_path: Path) -> None:
    job, progress = _job(tmp_path)
    took, out = _launch(job, "sleep 0.4; echo '{\"changed\": true}'; echo oops >&2; exit 3")
    assert out.strip() == STARTED and took < 0.3, (took, out)
    took, out = _sh(poll_command(str(progress), job, len(line(event="start", pid=1)), 4.0))
    assert 0.3 <= took < 1.5, took  # returned when the job ended, not at the end of its pause
    polled = split_poll(out, job)
    assert polled is not None
    new, ended = polled
    assert json.loads(new) == {"event": "tick", "images_done": 1}
    assert ended == (3, '{"changed": true}\n', "oops\n")
    assert sorted(p.name for p in Path(job.directory).iterdir()) == [
        "airgap-0123abcd.err", "airgap-0123abcd.out", "airgap-0123abcd.pid", "airgap-0123abcd.rc"]
    assert oct(Path(job.out).stat().st_mode & 0o777) == "0o600"


def test_a_poll_waits_its_whole_pause_while_the_job_runs(tmp_path: Path) -> None:
    job, progress = _job(tmp_path)
    _launch(job, "sleep 3")
    took, out = _sh(poll_command(str(progress), job, 0, 0.6))
    assert took >= 0.55
    polled = split_poll(out, job)
    assert polled is not None and polled[1] is None
    assert polled[0] == progress.read_bytes()


def test_a_poll_without_wait_does_not_wait(tmp_path: Path) -> None:
    job, progress = _job(tmp_path)
    _launch(job, "sleep 3")
    took, out = _sh(poll_command(str(progress), job, 0))
    assert took < 0.5 and split_poll(out, job) == (progress.read_bytes(), None)


def test_a_module_whose_output_holds_the_plain_marker_is_still_split(tmp_path: Path) -> None:
    job, progress = _job(tmp_path)
    other = Job(job.directory, "ffff0000")  # another task's marker in the module's output
    _launch(job, "echo %s; echo {}; echo %s" % (other.marker, other.marker))
    _took, out = _sh(poll_command(str(progress), job, 0, 2.0))
    polled = split_poll(out, job)
    assert polled is not None and polled[1] == (0, "%s\n{}\n%s\n" % (other.marker, other.marker), "")


def test_the_launch_says_why_it_cannot_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    job = Job(str(blocker / "async"), "0123abcd")  # a directory below a file cannot be made
    _took, out = _launch(job, "true")
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["failed"] is True and str(blocker / "async") in answer["msg"]


def test_the_output_of_something_else_is_not_taken_for_a_poll(tmp_path: Path) -> None:
    job, _progress = _job(tmp_path)
    assert split_poll("sh: 1: tail: not found\n", job) is None
    _launch(job, "echo 'x'")
    assert split_poll("%s\n%s\n" % ("a", job.marker), job) == (b"a", None)
    assert split_poll("\n%s\nnot a number\n%s\nout\n%s\nerr" % ((job.marker,) * 3), job) == (b"", (None, "out", "err"))


def test_a_hang_up_right_after_the_launch_does_not_kill_the_job(tmp_path: Path) -> None:
    """As when an ssh session with a terminal ends: SIGHUP to the launching shell's whole process
    group at once, before the background job has reached ``nohup``."""
    job, progress = _job(tmp_path)
    script = launch_command("/bin/sh -c %s" % shlex.quote("sleep 0.2; echo '{}'"), job) + "; kill -HUP 0"
    subprocess.run(["sh", "-c", script], check=False, capture_output=True, start_new_session=True)
    _took, out = _sh(poll_command(str(progress), job, 0, 3.0))
    polled = split_poll(out, job)
    assert polled is not None and polled[1] == (0, "{}\n", ""), out


def test_a_job_killed_outright_is_reported_lost_not_polled_for_ever(tmp_path: Path) -> None:
    job, progress = _job(tmp_path)
    _launch(job, "sleep 30")
    pid = int(Path(job.pid).read_text())
    os.kill(pid, signal.SIGKILL)  # the shell that would write the exit status
    took, out = _sh(poll_command(str(progress), job, 0, 0.3))
    assert took >= 0.25  # the wait ran; then the shell was found gone
    with pytest.raises(JobLost, match="without an exit status"):
        split_poll(out, job)
