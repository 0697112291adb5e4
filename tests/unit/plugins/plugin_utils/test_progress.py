"""Reading a progress file as it grows, and the console lines (plugins/plugin_utils/_progress.py)."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path

from ansible_collections.airgap.mirror.plugins.plugin_utils._progress import (
    MARKER, ProgressReader, duration, format_record, lines_to_show, poll_command)

#: async_wrapper's status file while the module runs (ansible-core 2.19, modules/async_wrapper.py)
RUNNING_STATUS = '{"started": true, "finished": false, "ansible_job_id": "j1.2"}'

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


# ---------------------------------------------------------------- the poll command, run by a real sh

def _run_poll(tmp_path: Path, wait: float, status: str | None, finish_after: float | None = None) -> tuple[float, str]:
    progress = tmp_path / "run.progress"
    progress.write_bytes(line(event="start", pid=1) + line(event="tick", images_done=1))
    status_file = tmp_path / "jid"
    if status is not None:
        status_file.write_text(status)
    script = poll_command(str(progress), str(status_file), len(line(event="start", pid=1)), wait)
    if finish_after is not None:  # the module ends while the poll waits: async_wrapper renames its result in
        tmp, final = shlex.quote(str(status_file) + ".tmp"), shlex.quote(str(status_file))
        script = "( sleep %s; printf '%%s' '{\"changed\": true}' > %s; mv %s %s ) & %s; wait" % (
            finish_after, tmp, tmp, final, script)
    started = time.monotonic()
    out = subprocess.run(["sh", "-c", script], check=False, capture_output=True, text=True).stdout  # cat of no file: rc 1
    return time.monotonic() - started, out


def test_a_poll_without_wait_prints_the_new_bytes_the_marker_and_the_status(tmp_path: Path) -> None:
    took, out = _run_poll(tmp_path, 0.0, RUNNING_STATUS)
    new, _marker, status = out.rpartition("\n%s\n" % MARKER)
    assert json.loads(new) == {"event": "tick", "images_done": 1}
    assert status == RUNNING_STATUS
    assert took < 1.0


def test_a_poll_waits_its_whole_pause_while_the_job_runs(tmp_path: Path) -> None:
    took, out = _run_poll(tmp_path, 0.6, RUNNING_STATUS)
    assert took >= 0.55
    assert out.endswith(RUNNING_STATUS)


def test_a_poll_returns_soon_after_the_job_ends_not_at_the_end_of_its_pause(tmp_path: Path) -> None:
    took, out = _run_poll(tmp_path, 4.0, RUNNING_STATUS, finish_after=0.3)
    assert 0.3 <= took < 1.0, took
    assert out.endswith('{"changed": true}')


def test_a_poll_of_an_ended_job_does_not_wait(tmp_path: Path) -> None:
    took, out = _run_poll(tmp_path, 4.0, '{"changed": false, "msg": "finished: false is not the status"}')
    assert took < 1.0
    assert out.endswith('"finished: false is not the status"}')


def test_a_poll_waits_for_a_status_file_not_written_yet(tmp_path: Path) -> None:
    took, _out = _run_poll(tmp_path, 0.4, None)
    assert took >= 0.35


def test_paths_with_spaces_and_quotes_are_quoted(tmp_path: Path) -> None:
    odd = tmp_path / "it's a dir"
    odd.mkdir()
    took, out = _run_poll(odd, 4.0, RUNNING_STATUS, finish_after=0.1)
    assert took < 1.0
    assert out.endswith('{"changed": true}')
