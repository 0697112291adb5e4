"""Registry -> registry measurements: the paired copy, the no-op re-run on the same destinations,
the module's concurrency sweep, and the fixed cost of an ansible-playbook run."""

from __future__ import annotations

from typing import Any

import skopeo_sync
import workloads as W
from context import Bench
from measure import log, median, quote
from pairs import paired
from report import describe_module
from results import TARGETS, slim
from runners import Accounted


def skopeo_r2r(bench: Bench, wl: W.Workload, tag: str, keep: bool = False) -> Accounted:
    """A fresh registry and the per-image skopeo copy loop into it."""
    bed = bench.bed
    reg = bed.new_registry("%s-skopeo-%s" % (wl.name, tag))
    lst = bed.work / ("%s.%s.list" % (wl.name, tag))
    lst.write_text("".join("%s %s/%s:%s\n" % (ref, reg.host, item.repo, bench.dest_tag(wl, item))
                           for ref, item in zip(bench.refs(wl), wl.images)), encoding="utf-8")
    script = bed.script("%s-%s" % (wl.name, tag), """
while read -r src dst; do
  skopeo copy --all --quiet --preserve-digests --src-tls-verify=false --dest-tls-verify=false \\
    "docker://${src}" "docker://${dst}"
done < %s
""" % quote(lst))
    out = bench.runner.skopeo_loop(tag, wl.name, script, reg)
    out["verify"] = bench.verify.registry("%s skopeo %s" % (wl.name, tag), reg, bench.expected_in_registry(wl))
    out.update(reg=reg, script=script)
    if not keep:
        bed.drop(reg)
    return out


def ours_r2r(bench: Bench, wl: W.Workload, tag: str, keep: bool = False, **extra: Any) -> Accounted:
    """A fresh registry and the module copying the workload into it (with a mirror map)."""
    bed = bench.bed
    reg = bed.new_registry("%s-ours-%s" % (wl.name, tag))
    map_path = bed.work / "maps" / ("%s-%s.yml" % (wl.name, tag))
    map_path.parent.mkdir(parents=True, exist_ok=True)
    out = bench.runner.ours_run(tag, wl.name, bench.module_args(wl, reg.host, mirror_map=str(map_path), **extra), reg)
    out["verify"] = bench.verify.registry("%s ours %s" % (wl.name, tag), reg, bench.expected_in_registry(wl))
    out.update(reg=reg, map_path=map_path)
    if not keep:
        bed.drop(reg)
    return out


#: the release-tag pattern the no-op re-run declares immutable (every workload's tags are releases)
IMMUTABLE = r"v?\d+(\.\d+)+"


def registry_to_registry(bench: Bench, wl: W.Workload, n: int) -> None:
    """(a)/(b) registry -> registry (the seed's loop, skopeo sync, ours), then the no-op re-runs
    on the last round's registries."""
    kept: dict[str, Accounted] = {}

    def sync_fn(i: int) -> Accounted:
        kept["sync"] = skopeo_sync.r2r(bench, wl, "r2r-%d" % i, keep=(i == n - 1))
        return kept["sync"]

    def skopeo_fn(i: int) -> Accounted:
        kept["skopeo"] = skopeo_r2r(bench, wl, "r2r-%d" % i, keep=(i == n - 1))
        return kept["skopeo"]

    def ours_fn(i: int) -> Accounted:
        kept["ours"] = ours_r2r(bench, wl, "r2r-%d" % i, keep=(i == n - 1))
        return kept["ours"]

    paired(bench, "%s r->r" % wl.name, wl, n, skopeo_fn, [("", ours_fn)], TARGETS.get("%s r->r" % wl.name),
           "registry -> registry", sync_fn=sync_fn)
    log("\n== (%s) no-op re-run (everything already there; same destinations)" % wl.name)
    noop(bench, wl, n, kept)


def ours_again(bench: Bench, wl: W.Workload, kept: Accounted, tag: str, lock: bool = True,
               immutable: bool = False) -> Accounted:
    """The module again into *kept*'s registry (an ``ours_r2r(keep=True)`` run), which holds
    everything: with its mirror map as lockfile (*lock*), the release tags in ``immutable_tags``
    (*immutable*). A run that reports a change is a problem of the bench's results."""
    args = bench.module_args(wl, kept["reg"].host, mirror_map=str(kept["map_path"]))
    if not lock:
        args["use_mirror_map"] = False
    if immutable:
        args["immutable_tags"] = [IMMUTABLE]
    out = bench.runner.ours_run(tag, wl.name, args, kept["reg"])
    t = out["res"]["result"]
    if t.get("changed") or t["totals"].get("copied"):
        bench.results.problems.append("%s no-op re-run %s reported changes: %s" % (wl.name, tag, t["totals"]))
    return out


def noop(bench: Bench, wl: W.Workload, n: int, kept: dict[str, Accounted]) -> None:
    """The same loops again into the destinations that already hold everything (skopeo's loop and
    sync, the module with the mirror map as lockfile and without it); the destinations are
    dropped after. Nothing needs to cross the link: the link floor is the fixed cost."""
    sk_kept, our_kept = kept["skopeo"], kept["ours"]
    sk_reg, our_reg = sk_kept["reg"], our_kept["reg"]

    def skopeo_noop(i: int) -> Accounted:
        return bench.runner.skopeo_loop("noop-%d" % i, wl.name, sk_kept["script"], sk_reg)

    def ours_noop(i: int, lock: bool = True, immutable: bool = False) -> Accounted:
        suffix = "" if lock and not immutable else "-nolock" if not lock else "-immutable"
        return ours_again(bench, wl, our_kept, "noop-%d%s" % (i, suffix), lock, immutable)

    paired(bench, "%s r->r no-op" % wl.name, wl, n, skopeo_noop,
           [("mirror map as lockfile", ours_noop),
            ("immutable_tags", lambda i: ours_noop(i, immutable=True)),
            ("use_mirror_map: false", lambda i: ours_noop(i, False))],
           TARGETS["b r->r no-op"] if wl.name == "b" else None, "no-op re-run",
           sync_fn=lambda i: skopeo_sync.again(bench, wl, "noop-%d" % i, kept["sync"]), link_bytes=0)
    for reg in (sk_reg, kept["sync"]["reg"], our_reg):
        bench.bed.drop(reg)


def concurrency_sweep(bench: Bench, wl: W.Workload, values: list[int], rounds: int) -> None:
    """The module alone with each ``concurrency`` value, registry -> registry into fresh
    registries; ``rounds`` rounds over all values (interleaved, so load drifts hit every value)."""
    runs: dict[int, list[dict[str, Any]]] = {conc: [] for conc in values}
    for rnd in range(rounds):
        for conc in values:
            reg = bench.bed.new_registry("%s-sweep-c%d-%d" % (wl.name, conc, rnd))
            run = bench.runner.ours_run("sweep-c%d-%d" % (conc, rnd), wl.name,
                                        bench.module_args(wl, reg.host, concurrency=conc), reg)
            res = run["res"]
            ver = bench.verify.registry("%s sweep c=%d" % (wl.name, conc), reg, bench.expected_in_registry(wl))
            t = res["result"]["totals"]
            mt = res.get("module_time") or {}
            runs[conc].append({"wall": res["wall"], "module_seconds": t.get("seconds"), "cpu_user": mt.get("user"),
                               "cpu_sys": mt.get("sys"), "peak_rss_mib": mt.get("maxrss_mib"),
                               "dest_registry_cpu": run["stats"]["dest"]["cpu_seconds"],
                               "source_registry_cpu": run["stats"]["source"]["cpu_seconds"],
                               "load": res["load_before"], "verify_ok": ver["ok"]})
            log("  concurrency %2d: %s" % (conc, describe_module(res)))
            bench.bed.drop(reg)
    out: dict[int, dict[str, Any]] = {}
    for conc, items in runs.items():
        out[conc] = {key: median([i[key] for i in items]) for key in items[0] if key != "verify_ok"}
        out[conc]["verify_ok"] = all(i["verify_ok"] for i in items)
        out[conc]["runs"] = items
    bench.results.sweep[wl.name if not bench.profile.simulated else "%s %s" % (wl.name, bench.profile.name)] = out


def ansible_overhead(bench: Bench) -> float | None:
    """ansible-playbook running the module with nothing to do: the fixed cost of every run."""
    bench.runner.module_run("warm-up", {"images": [], "dest": "127.0.0.1:1"})  # first run compiles bytecode
    walls = []
    for i in range(3):
        res = bench.runner.module_run("overhead-%d" % i, {"images": [], "dest": "127.0.0.1:1"})
        mt = res.get("module_time") or {}
        walls.append(res["wall"])
        log("  ansible-playbook with images: [] -> %.2fs wall (module process %.2fs, cpu %.2fu+%.2fs; "
            "load %.1f)" % (res["wall"], mt.get("wall", 0), mt.get("user", 0), mt.get("sys", 0), res["load_before"]))
        bench.results.records["ansible overhead %d" % i] = slim(res)
    bench.results.fixed_cost = median(walls)
    return bench.results.fixed_cost
