"""Paired runs: skopeo, then our module, alternately, so that both tools of a pair see the same
machine load; one row per variant of ours with the medians and the per-pair ratios."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import workloads as W
from context import Bench
from floor import floor
from measure import cpu_of, log, median
from report import describe_module, describe_skopeo, requests
from results import slim
from runners import Accounted

RunFn = Callable[[int], Accounted]


def _label(name: str) -> str:
    return " (%s)" % name if name else ""


def paired(bench: Bench, key: str, wl: W.Workload, n: int, skopeo_fn: RunFn, ours_fns: Sequence[tuple[str, RunFn]],
           target: float | None = None, note: str = "") -> tuple[list[Accounted], dict[str, list[Accounted]]]:
    """Run ``skopeo_fn(i)`` and then each ``ours_fns`` variant ``fn(i)`` for i in range(n),
    interleaved so that each pair sees the same machine load. Every fn returns a dict with
    ``res`` (a run) and optionally ``stats``, ``verify``. One row per ours variant: the medians
    of the wall times and the median of the per-pair ratios."""
    sk_runs: list[Accounted] = []
    our_runs: dict[str, list[Accounted]] = {name: [] for name, _fn in ours_fns}
    for i in range(n):
        if n > 1:
            log("  -- run %d of %d" % (i + 1, n))
        sk = skopeo_fn(i)
        log("  skopeo: %s" % describe_skopeo(sk["res"]))
        sk_runs.append(sk)
        for name, fn in ours_fns:
            ours = fn(i)
            log("  ours%s: %s" % (_label(name), describe_module(ours["res"])))
            our_runs[name].append(ours)
        if i == 0:
            log("  requests  skopeo: %s" % requests(sk.get("stats") or {}))
            for name, _fn in ours_fns:
                log("            ours%s: %s" % (_label(name), requests(our_runs[name][0].get("stats") or {})))
    syncs = [r["res"]["sync_after"] for r in sk_runs if "sync_after" in r["res"]]
    if syncs:
        note += "; skopeo's files then need %.2fs of fsync (not counted)" % (median(syncs) or 0.0)
    record = {"skopeo": [slim(r["res"], registries=r.get("stats"), verify=r.get("verify")) for r in sk_runs]}
    for idx, (name, _fn) in enumerate(ours_fns):
        runs = our_runs[name]
        record["ours" + ("/" + name if name else "")] = [
            slim(r["res"], registries=r.get("stats"), verify=r.get("verify")) for r in runs]
        _row(bench, wl, runs, sk_runs, target if idx == 0 else None, note + (", %s" % name if name else ""))
    bench.results.records[key] = record
    return sk_runs, our_runs


def _row(bench: Bench, wl: W.Workload, runs: list[Accounted], sk_runs: list[Accounted], target: float | None,
         note: str) -> None:
    """The final table's row of one variant of ours against the skopeo runs of the same pairs."""
    sk_walls = [r["res"]["wall"] for r in sk_runs]
    walls = [r["res"]["wall"] for r in runs]
    ratios = [o / s for o, s in zip(walls, sk_walls)]
    floors = [floor(bench.results.fixed_cost, r.get("stats"), bench.profile) for r in runs]
    floor_ratios = [f / s for f, s in zip(floors, sk_walls) if f is not None]
    loads = (round(median([r["res"]["load_before"] for r in runs]) or 0, 1),
             round(median([r["res"]["load_before"] for r in sk_runs]) or 0, 1))
    extra: dict[str, Any] = {
        "ours_min": min(walls), "skopeo_min": min(sk_walls),
        "cpu_ours_median": median([cpu_of(r) for r in runs]),
        "cpu_skopeo_median": median([cpu_of(r) for r in sk_runs]),
        "in_module_median": median([r["res"]["result"]["totals"]["seconds"] for r in runs]),
        "floor_s": median(floors), "floor_ratio": median(floor_ratios), "runs": len(runs),
        "link": bench.profile.name}
    bench.results.row(wl.name, "seconds", median(walls), median(sk_walls), target, wl.unique_bytes, note,
                      ratio=median(ratios), ratios=ratios, loads=loads, extra=extra)
