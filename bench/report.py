"""Printing: one line per run, the request counts, the sweep table and the final table; the
machine's description for the JSON."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from typing import Any

import workloads as W
from accounting import Stats
from measure import log
from results import Row
from testbed import ROOT, SKOPEO


def describe_module(res: dict[str, Any]) -> str:
    t = (res.get("result") or {}).get("totals") or {}
    mt = res.get("module_time") or {}
    return ("ansible-playbook %.2fs (in-module %.2fs, module cpu %.1fu+%.1fs, peak RSS %s MiB; load %.1f); "
            "copied %s present %s; blobs copied %s mounted %s skipped %s; %s requests; %s sent" % (
                res["wall"], t.get("seconds") or 0, mt.get("user", 0), mt.get("sys", 0),
                mt.get("maxrss_mib"), res["load_before"], t.get("copied"), t.get("present"),
                t.get("blobs_copied"), t.get("blobs_mounted"), t.get("blobs_skipped"), t.get("requests"),
                W.human(t.get("bytes_transferred") or 0)))


def describe_skopeo(res: dict[str, Any]) -> str:
    return "loop %.2fs (cpu %.1fu+%.1fs, peak RSS %s MiB, load %.1f; private blob cache %d bytes after)%s" % (
        res["wall"], res["cpu_user"], res["cpu_sys"], res["peak_rss_mib"], res["load_before"],
        res["blob_cache"]["bytes"],
        "; then fsync of its files (not counted): %.2fs" % res["sync_after"] if "sync_after" in res else "")


def requests(stats: dict[str, Stats]) -> str:
    """One run's registry requests and CPU per side (and its link traffic, through a link)."""
    parts = []
    for side, s in stats.items():
        link = s.get("link")
        parts.append("%s: %d req (blob GET %d = %s, blob HEAD %d, manifest GET %d/HEAD %d/PUT %d, uploads %d "
                     "[%d PATCH], mounts %d), registry cpu %.1fs%s" % (
                         side, s["requests"], s["blob_gets"], W.human(s["blob_get_bytes"]), s["blob_heads"],
                         s["manifest_gets"], s["manifest_heads"], s["manifest_puts"], s["uploads_finished"],
                         s["upload_patches"], s["mounts"], s["cpu_seconds"],
                         ", link %s down / %s up in %d connections" % (
                             W.human(link["bytes_down"]), W.human(link["bytes_up"]), link["connections"])
                         if link else ""))
    return "; ".join(parts)


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    if metric == "seconds":
        return "%.2f" % value
    if metric == "layout/unique":
        return "%.4f" % value
    return "%.1f" % value


def _ratio(value: float | None) -> str:
    return "%.3f" % value if value is not None else "-"


def _line(r: Row) -> tuple[str, ...]:
    """One row of the final table, as printed."""
    metric = r["metric"]
    if metric == "seconds":
        target = r.get("link_target") or ("<= %.2f" % r["target"] if r["target"] is not None else "-")
        what = "%s (s)" % r["note"]
    elif metric == "peak RSS MiB":
        target = "<= %d MiB" % r["target"]
        what = "peak RSS MiB, %s" % r["note"]
    else:
        target = "<= %.2f" % r["target"]
        what = r["note"]
    return (r["workload"], r.get("link") or "-", what, _fmt(r["ours"], metric), _fmt(r["skopeo"], metric),
            _fmt(r.get("sync"), metric), _fmt(r.get("link_floor_s"), metric), _ratio(r["ratio"]),
            _ratio(r.get("ratio_sync")), _ratio(r.get("ratio_floor")), target, r["result"],
            "%.2f" % r["floor_ratio"] if r.get("floor_ratio") is not None else "-",
            "%d (%s)" % (r["unique_bytes"], W.human(r["unique_bytes"])),
            " ".join("%.2f" % x for x in r["ratios"]) if r.get("ratios") else "-",
            "%.2f" % r["in_module_median"] if r.get("in_module_median") is not None else "-",
            "%.1f / %.1f" % (r["cpu_ours_median"], r["cpu_skopeo_median"])
            if r.get("cpu_ours_median") is not None else "-",
            "%.1f / %.1f" % tuple(r["load"]) if r.get("load") else "-")


def print_table(rows: list[Row]) -> None:
    """The final table: ours, the seed's skopeo loop, skopeo sync and the link floor, in seconds,
    and our ratios to each (target: ours / loop)."""
    header = ("workload", "link", "measurement", "ours", "skopeo loop", "skopeo sync", "link floor", "ours/loop",
              "ours/sync", "ours/floor", "target", "result", "machine floor/loop", "unique bytes", "ours/loop per run",
              "in-module s", "client cpu s (ours/loop)", "load (ours/loop)")
    lines = [_line(r) for r in rows]
    widths = [max(len(str(x[i])) for x in lines + [header]) for i in range(len(header))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    log(fmt % header)
    log("  ".join("-" * w for w in widths))
    for line in lines:
        log(fmt % line)


def print_sweep(sweep: dict[str, dict[int, dict[str, Any]]], rounds: int) -> None:
    log("\n== concurrency sweep (module alone, registry -> registry, fresh registry per run; medians of %d "
        "interleaved rounds: ansible-playbook wall s / in-module s, module cpu, registries' cpu source/dest, load)"
        % rounds)
    values = sorted({c for d in sweep.values() for c in d})
    log("  %-12s" % "concurrency" + "".join("%-24s" % ("(%s) wall / module" % n) for n in sweep)
        + "".join("%-16s" % ("(%s) cpu u+s" % n) for n in sweep)
        + "".join("%-18s" % ("(%s) reg cpu s/d" % n) for n in sweep)
        + "".join("%-10s" % ("(%s) load" % n) for n in sweep))
    for conc in values:
        cells = cpus = regs = loads = ""
        for data in sweep.values():
            d = data.get(conc)
            cells += "%-24s" % ("%.2f / %.2f" % (d["wall"], d["module_seconds"]) if d else "-")
            cpus += "%-16s" % ("%.1f+%.1f" % (d["cpu_user"] or 0, d["cpu_sys"] or 0) if d else "-")
            regs += "%-18s" % ("%.1f / %.1f" % (d["source_registry_cpu"], d["dest_registry_cpu"]) if d else "-")
            loads += "%-10s" % ("%.1f" % d["load"] if d else "-")
        log("  %-12d%s%s%s%s" % (conc, cells, cpus, regs, loads))


def _version(cmd: list[str]) -> str | None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        return proc.stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """The machine and the versions of everything measured."""
    # the module needs httpx: fail early
    import httpx  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    import ansible  # pylint: disable=import-outside-toplevel
    return {"host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": sys.version.split()[0], "ansible_core": ansible.__version__, "httpx": httpx.__version__,
            "skopeo": _version([SKOPEO, "--version"]),
            "registry": _version(["/usr/bin/docker-registry", "--version"]),
            "commit": _version(["git", "-C", str(ROOT), "rev-parse", "HEAD"]),
            "dirty": bool(_version(["git", "-C", str(ROOT), "status", "--porcelain", "--", "plugins"]))}
