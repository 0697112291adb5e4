"""Paired runs: the seed's skopeo loop, ``skopeo sync`` (where the row has one), then our module,
alternately, so that every tool of a round sees the same machine load; one row per variant of
ours with the medians, the per-round ratios to the loop and to ``skopeo sync``, and the link
floor (``floor.link_floor``) with our ratio to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import workloads as W
from context import Bench
from floor import floor, link_floor
from measure import cpu_of, log, median
from report import describe_module, describe_skopeo, requests
from results import Row, link_verdict, slim
from runners import Accounted

RunFn = Callable[[int], Accounted]


def _label(name: str) -> str:
    """`` (name)`` for a named variant of ours, nothing for the only one."""
    return " (%s)" % name if name else ""


def paired(bench: Bench, key: str, wl: W.Workload, n: int, skopeo_fn: RunFn, ours_fns: Sequence[tuple[str, RunFn]],
           target: float | None = None, note: str = "", sync_fn: RunFn | None = None,
           link_bytes: int | None = None) -> tuple[list[Accounted], dict[str, list[Accounted]]]:
    """Run ``skopeo_fn(i)``, ``sync_fn(i)`` (if any) and then each ``ours_fns`` variant ``fn(i)``
    for i in range(n), interleaved so that each round sees the same machine load. Every fn
    returns a dict with ``res`` (a run) and optionally ``stats``, ``verify``. One row per ours
    variant: the medians of the wall times and of the per-round ratios, and the link floor of
    ``link_bytes`` (default: the workload's unique bytes, all from the source behind the link)."""
    sk_runs: list[Accounted] = []
    sync_runs: list[Accounted] = []
    our_runs: dict[str, list[Accounted]] = {name: [] for name, _fn in ours_fns}
    for i in range(n):
        if n > 1:
            log("  -- run %d of %d" % (i + 1, n))
        sk = skopeo_fn(i)
        log("  skopeo loop: %s" % describe_skopeo(sk["res"]))
        sk_runs.append(sk)
        if sync_fn is not None:
            sync_runs.append(sync_fn(i))
            log("  skopeo sync: %s" % describe_skopeo(sync_runs[-1]["res"]))
        for name, fn in ours_fns:
            ours = fn(i)
            log("  ours%s: %s" % (_label(name), describe_module(ours["res"])))
            our_runs[name].append(ours)
        if i == 0:
            log("  requests  skopeo loop: %s" % requests(sk.get("stats") or {}))
            if sync_runs:
                log("            skopeo sync: %s" % requests(sync_runs[0].get("stats") or {}))
            for name, _fn in ours_fns:
                log("            ours%s: %s" % (_label(name), requests(our_runs[name][0].get("stats") or {})))
    syncs = [r["res"]["sync_after"] for r in sk_runs if "sync_after" in r["res"]]
    if syncs:
        note += "; skopeo's files then need %.2fs of fsync (not counted)" % (median(syncs) or 0.0)
    record = {"skopeo": [slim(r["res"], registries=r.get("stats"), verify=r.get("verify")) for r in sk_runs]}
    if sync_runs:
        record["skopeo sync"] = [slim(r["res"], registries=r.get("stats"), verify=r.get("verify")) for r in sync_runs]
    lfloor = link_floor(bench.results.fixed_cost, wl.unique_bytes if link_bytes is None else link_bytes,
                        bench.profile)
    for idx, (name, _fn) in enumerate(ours_fns):
        runs = our_runs[name]
        record["ours" + ("/" + name if name else "")] = [
            slim(r["res"], registries=r.get("stats"), verify=r.get("verify")) for r in runs]
        row = _row(bench, wl, runs, (sk_runs, sync_runs), target if idx == 0 else None,
                   note + (", %s" % name if name else ""), lfloor)
        verdict = link_verdict(key, row["ours"], row["ratio"], lfloor, bench.results.fixed_cost) \
            if bench.profile.simulated else None
        if verdict is not None:  # on a link, issue 16's targets replace the loopback ones
            row.update(target=None, link_target=verdict[0], result=verdict[1])
    bench.results.records[key] = record
    return sk_runs, our_runs


def _row(bench: Bench, wl: W.Workload, runs: list[Accounted], others: tuple[list[Accounted], list[Accounted]],
         target: float | None, note: str, lfloor: float | None) -> Row:
    """The final table's row of one variant of ours against the skopeo loop and ``skopeo sync``
    runs of the same rounds, and against the link floor."""
    sk_runs, sync_runs = others
    sk_walls = [r["res"]["wall"] for r in sk_runs]
    sync_walls = [r["res"]["wall"] for r in sync_runs]
    walls = [r["res"]["wall"] for r in runs]
    ratios = [o / s for o, s in zip(walls, sk_walls)]
    sync_ratios = [o / s for o, s in zip(walls, sync_walls)]
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
        "link": bench.profile.name, "sync": median(sync_walls), "sync_ratios": sync_ratios,
        "ratio_sync": median(sync_ratios), "link_floor_s": lfloor,
        "ratio_floor": median([w / lfloor for w in walls]) if lfloor else None}
    return bench.results.row(wl.name, "seconds", median(walls), median(sk_walls), target, wl.unique_bytes, note,
                             ratio=median(ratios), ratios=ratios, loads=loads, extra=extra)
