"""The progress counter and its JSON-lines file (plugins/module_utils/_common/progress.py)."""

from __future__ import annotations

import json
import threading

from ansible_collections.airgap.mirror.plugins.module_utils._common.progress import Progress, ProgressFile, progress_to


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_records_count_images_and_bytes_and_estimate_the_time_left() -> None:
    clock = Clock()
    records: list[dict] = []
    progress = Progress(records.append, interval=5, clock=clock)
    progress.set_phase("copy")
    progress.plan(4, 1000, images_done=1)
    clock.now += 2
    progress.add_bytes(200)
    progress.add_bytes(100, moved=False)  # found at the destination: done, but not part of the rate
    progress.image_done("quay.io/a/b:1", "copied")
    clock.now += 2
    progress.add_bytes(200)
    progress.emit("tick")
    phase, plan, image, tick = records
    assert phase["event"] == "phase" and phase["phase"] == "copy"
    assert (plan["images_total"], plan["images_done"], plan["bytes_total"]) == (4, 1, 1000)
    assert image["event"] == "image" and image["image"] == "quay.io/a/b:1" and image["status"] == "copied"
    assert image["images_done"] == 2 and image["bytes_done"] == 300
    assert tick["bytes_done"] == 500
    # 400 bytes moved since the first sample 4 s earlier: 100 B/s, 500 left: 5 s
    assert tick["rate"] == 100.0 and tick["eta"] == 5.0
    assert tick["elapsed"] == 4.0


def test_no_estimate_while_resolving_or_before_a_rate_is_known() -> None:
    clock = Clock()
    records: list[dict] = []
    progress = Progress(records.append, clock=clock)
    progress.set_phase("resolve")
    progress.plan(2, 100)
    assert records[-1]["rate"] is None and records[-1]["eta"] is None
    clock.now += 1
    progress.add_bytes(10)
    progress.emit("tick")
    assert records[-1]["eta"] is None  # resolve: the bytes are not the copy's


def test_bytes_done_never_exceed_the_total() -> None:
    records: list[dict] = []
    progress = Progress(records.append)
    progress.plan(1, 100)
    progress.add_bytes(150)  # a retried download streams some bytes twice
    progress.emit("tick")
    assert records[-1]["bytes_done"] == 100


def test_a_failing_sink_is_dropped_and_never_fails_the_run() -> None:
    calls = []

    def sink(record: dict) -> None:
        calls.append(record)
        raise OSError("disk full")

    progress = Progress(sink)
    progress.emit("tick")
    progress.emit("tick")
    assert len(calls) == 1 and progress.sink is None


def test_ticks_come_every_interval_until_stopped(tmp_path) -> None:
    path = str(tmp_path / "sub" / "progress.jsonl")
    progress, close = progress_to(path, 0.1)
    progress.start()
    threading.Event().wait(0.45)
    progress.stop()
    close()
    with open(path, encoding="utf-8") as f:
        events = [json.loads(line)["event"] for line in f]
    assert events[0] == "start" and events[-1] == "end"
    assert events.count("tick") >= 2


def test_the_file_is_appended_to_with_whole_lines_from_many_threads(tmp_path) -> None:
    path = str(tmp_path / "progress.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"event": "earlier"}\n')
    out = ProgressFile(path)

    def write(n: int) -> None:
        for i in range(200):
            out({"event": "tick", "thread": n, "i": i, "pad": "x" * 300})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.close()
    out({"event": "after close"})  # ignored
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert lines[0] == {"event": "earlier"}
    assert len(lines) == 801


def test_no_file_counts_only() -> None:
    progress, close = progress_to(None, 5)
    progress.start()
    progress.add_bytes(5)
    progress.stop()
    close()
    assert progress.bytes_done == 5
