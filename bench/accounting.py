"""What a run cost each registry: requests by kind and bytes served (from the registry's access
log) and the registry process's CPU seconds (from ``/proc``), between two marks."""

from __future__ import annotations

import re
from typing import Any

from measure import proc_cpu

Stats = dict[str, Any]  # one registry's counters for one run (see count_requests)

_ACCESS_RE = re.compile(r'^\S+ \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) '
                        r'(?P<size>\d+|-)')
_MANIFEST_KEYS = {"GET": "manifest_gets", "HEAD": "manifest_heads", "PUT": "manifest_puts"}


def count_requests(text: str) -> Stats:
    """Requests by kind and blob bytes served, from access log lines (Apache combined format);
    the test bed's flush requests are not counted."""
    stats: Stats = {"requests": 0, "blob_get_bytes": 0, "blob_gets": 0, "blob_heads": 0, "manifest_gets": 0,
                    "manifest_heads": 0, "manifest_puts": 0, "uploads_started": 0, "upload_patches": 0,
                    "uploads_finished": 0, "mounts": 0}
    for line in text.splitlines():
        match = _ACCESS_RE.match(line)
        if not match or "airgap-testbed-flush" in match["path"]:
            continue
        method, path, status = match["method"], match["path"], int(match["status"])
        size = int(match["size"]) if match["size"] != "-" else 0
        stats["requests"] += 1
        if "/blobs/uploads/" in path:
            _count_upload(stats, method, path, status)
        elif "/blobs/" in path:
            if method == "GET":
                stats["blob_gets"] += 1
                stats["blob_get_bytes"] += size
            elif method == "HEAD":
                stats["blob_heads"] += 1
        elif "/manifests/" in path and method in _MANIFEST_KEYS:
            stats[_MANIFEST_KEYS[method]] += 1
    return stats


def _count_upload(stats: Stats, method: str, path: str, status: int) -> None:
    if method == "POST" and "mount=" in path and status == 201:
        stats["mounts"] += 1
    elif method == "POST":
        stats["uploads_started"] += 1
    elif method == "PATCH":
        stats["upload_patches"] += 1
    elif method == "PUT" and status == 201:
        stats["uploads_finished"] += 1


class Meter:
    """Marks a registry's access log and CPU at ``begin()``; ``end()`` returns what happened since
    (and, with a link in front of the registry, what crossed the link)."""

    def __init__(self, registry: Any, link: Any = None) -> None:
        self.registry = registry  # support.registry.Registry
        self.link = link          # link.Link or None
        self._offset = 0
        self._cpu = 0.0

    def begin(self) -> None:
        self.registry.mark()  # flushes the access log
        self._offset = self.registry.access_log.stat().st_size
        self._cpu = proc_cpu(self.registry.pid)
        if self.link is not None:
            self.link.counters.reset()

    def end(self) -> Stats:
        self.registry.mark()
        cpu = proc_cpu(self.registry.pid) - self._cpu
        with open(self.registry.access_log, "rb") as handle:
            handle.seek(self._offset)
            text = handle.read().decode(errors="replace")
        stats = count_requests(text)
        stats["cpu_seconds"] = round(cpu, 2)
        if self.link is not None:
            stats["link"] = self.link.counters.snapshot()
        return stats
