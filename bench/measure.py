"""Measuring processes: wall time, CPU and peak RSS of a process tree, sizes, small statistics.

Stdlib only; the other bench modules build on these.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

CLK_TCK = os.sysconf("SC_CLK_TCK")
TIME_BIN = "/usr/bin/time"

T = TypeVar("T")
Run = dict[str, Any]  # one measured run (see run_measured), extended by the runners


def log(msg: str = "") -> None:
    print(msg, flush=True)


class BenchError(RuntimeError):
    """The benchmark cannot go on (a tool is missing, a copy failed)."""


class RssSampler(threading.Thread):
    """Samples VmHWM of the python process running the AnsiballZ module (found by its command
    line) every ``interval`` seconds until it exits."""

    def __init__(self, markers: Sequence[str], interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.markers = [m.encode() for m in markers]
        self.interval = interval
        self.pid: int | None = None
        self.hwm_kb = 0
        self.samples = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def _find(self) -> int | None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    argv = handle.read().split(b"\0")
            except OSError:
                continue
            if all(any(m in a for a in argv) for m in self.markers) and b"python" in os.path.basename(argv[0]):
                return int(entry)
        return None

    def run(self) -> None:
        while not self._halt.is_set():
            if self.pid is None:
                self.pid = self._find()
                if self.pid is None:
                    self._halt.wait(self.interval)
                    continue
            try:
                with open("/proc/%d/status" % self.pid, encoding="utf-8") as handle:
                    status = handle.read()
            except OSError:
                return  # exited
            match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if match:
                self.hwm_kb = max(self.hwm_kb, int(match.group(1)))
                self.samples += 1
            self._halt.wait(self.interval)


def run_measured(cmd: Sequence[str | os.PathLike[str]], *, out_dir: Path, name: str,
                 env: dict[str, str] | None = None, cwd: str | None = None, sampler: RssSampler | None = None,
                 timeout: float = 3600) -> Run:
    """Run ``cmd``; return wall seconds, rc, output files and the rusage of the whole process tree."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = out_dir / ("%s.stdout" % name), out_dir / ("%s.stderr" % name)
    load = os.getloadavg()[0]
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        if sampler is not None:
            sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    if sampler is not None:
        sampler.stop()
    return {
        "cmd": [str(c) for c in cmd],
        "wall": wall,
        "load_before": load,
        "rc": proc.returncode,
        "cpu_user": usage.ru_utime,
        "cpu_sys": usage.ru_stime,
        "tree_maxrss_kb": usage.ru_maxrss,
        "stdout": stdout_path,
        "stderr": stderr_path,
    }


def proc_cpu(pid: int | None) -> float:
    """user+system CPU seconds of a running process (for the registries)."""
    try:
        with open("/proc/%s/stat" % pid, encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, TypeError):
        return 0.0


def tail(path: str | os.PathLike[str], lines: int = 40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(missing)"


def tree_size(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(apparent bytes, allocated bytes, files) of every regular file under ``path``."""
    apparent = allocated = files = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            if not os.path.islink(os.path.join(dirpath, name)):
                apparent += st.st_size
                allocated += st.st_blocks * 512
                files += 1
    return apparent, allocated, files


def sync_files(tree: str | os.PathLike[str]) -> float:
    """Seconds to fsync every file skopeo wrote (``sync FILE...``): the write-back its dir: loop
    leaves to the kernel, which the module does itself (it fsyncs every blob). Reported, not
    added to skopeo's time."""
    files = [str(p) for p in Path(tree).rglob("*") if p.is_file()]
    t0 = time.monotonic()
    for start in range(0, len(files), 200):
        subprocess.run(["sync", *files[start:start + 200]], check=False)
    return time.monotonic() - t0


def parse_time_v(path: str | os.PathLike[str]) -> dict[str, float] | None:
    """The fields of ``/usr/bin/time -v`` we use."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return None
    out: dict[str, float] = {}
    for key, pattern in (("maxrss_kb", r"Maximum resident set size \(kbytes\): (\d+)"),
                         ("user", r"User time \(seconds\): ([\d.]+)"),
                         ("sys", r"System time \(seconds\): ([\d.]+)")):
        match = re.search(pattern, text)
        if match:
            out[key] = float(match.group(1))
    match = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if match:
        seconds = 0.0
        for part in match.group(1).split(":"):
            seconds = seconds * 60 + float(part)
        out["wall"] = seconds
    if "maxrss_kb" in out:
        out["maxrss_mib"] = round(out["maxrss_kb"] / 1024, 1)
    return out


def median(values: Iterable[float | None]) -> float | None:
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def sample(items: Iterable[T]) -> list[T]:
    """The first, middle and last item (all of them when there are at most three)."""
    listed = list(items)
    if len(listed) <= 3:
        return listed
    return [listed[0], listed[len(listed) // 2], listed[-1]]


def quote(path: object) -> str:
    """``path`` as one single-quoted shell word."""
    return "'" + str(path).replace("'", "'\\''") + "'"


def cpu_of(run: dict[str, Any]) -> float:
    """user+system CPU seconds of a run's whole process tree (ansible-playbook + module, or the
    skopeo loop)."""
    return run["res"]["cpu_user"] + run["res"]["cpu_sys"]


def in_turn(trees: Sequence[T], rnd: int) -> list[tuple[int, T]]:
    """(index, checkout) in the order of A/B round *rnd*: each round starts with the next checkout,
    so each goes first as often as the others (a machine slowing down through a round does not
    always hit the same one)."""
    order = list(enumerate(trees))
    shift = rnd % len(order)
    return order[shift:] + order[:shift]
