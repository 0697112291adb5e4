"""Two or more checkouts of the collection, A/B, on one test bed: the same source registry behind the
same simulated link, the same workload, runs alternating between the checkouts.

A script that prints measurements, not a test (it asserts nothing). ``bench/run.py`` measures one
checkout against skopeo; when a change to the engine is smaller than the drift of a shared machine
between two such runs, this compares the checkouts inside one run instead: each round runs every
checkout once, in turn, so a slow minute of the machine hits all of them, and each round starts
with the next checkout, so none always goes first.

For each round and checkout:

- ``copy``: the module copies the workload into a fresh registry (registry -> registry);
- ``lock``: the no-op re-run with the mirror map as lockfile, into a registry that already holds
  everything (one copy made before the rounds, by the first checkout);
- ``immutable``: the same no-op with the workload's release tags in ``immutable_tags``.

It prints every run (ansible-playbook's wall seconds, the engine's own seconds and its phases, the
requests to the source) and, per checkout and kind, the medians of the wall and resolve seconds and
how many rounds the checkout was the faster one of.

Usage (from the checkout; ``git worktree add /tmp/old <commit>`` makes an old one)::

    .venv/bin/python bench/ab.py --tree /tmp/old --tree . --link far --rounds 3
    .venv/bin/python bench/ab.py --tree /tmp/old --tree . --link wan --kinds copy,lock,immutable --workload b
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import phases_registry as P
import workloads as W
from context import Bench
from link import PROFILES
from measure import in_turn
from results import Results
from runners import Runner
from testbed import Testbed
from verify import Verifier

KINDS = ("copy", "lock", "immutable")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tree", action="append", default=[], help="a checkout (repeat; at least two)")
    parser.add_argument("--link", default="wan", choices=sorted(PROFILES), help="link profile (default wan)")
    parser.add_argument("--workload", default="b", choices=("a", "b"), help="a: release, b: catalog (default)")
    parser.add_argument("--kinds", default="copy,lock", help="comma-separated, of %s (default copy,lock)"
                        % ", ".join(KINDS))
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the checkouts (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--profile", choices=("cpu", "wall"),
                        help="run the module under py-spy; one raw profile per run in bench/results/profiles/")
    args = parser.parse_args(argv)
    args.kinds = [k for k in args.kinds.split(",") if k]
    if len(args.tree) < 2 or not args.kinds or any(k not in KINDS for k in args.kinds) or args.rounds < 1:
        parser.error("give two or more --tree, --kinds from %s and --rounds of at least 1" % ", ".join(KINDS))
    args.tree = [Path(t).resolve() for t in args.tree]
    return args


class AB:
    """The test bed, and which checkout the collection shim points at."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.link = bench.bed.collections / "ansible_collections" / "airgap" / "mirror"

    def use(self, tree: Path) -> None:
        """Point ``airgap.mirror`` at *tree* for the next runs."""
        os.unlink(self.link)
        os.symlink(tree, self.link)


def record(name: str, out: dict[str, Any], seen: dict[str, list[tuple[float, float]]]) -> None:
    """Print one run and keep (wall, resolve) under *name*."""
    res = out["res"]
    result = res["result"]
    timings = result.get("timings") or {}
    module = res.get("module_time") or {}
    print("%-16s wall %6.2f s  engine %6.2f s  resolve %6.3f  copy %6.3f  write map %6.3f  source requests %s  "
          "CPU: module %5.2f s, all %5.2f s" % (
              name, res["wall"], result["totals"].get("seconds") or 0.0, timings.get("resolve", 0.0),
              timings.get("copy", 0.0), timings.get("write_map", 0.0), out["stats"]["source"].get("requests"),
              module.get("user", 0.0) + module.get("sys", 0.0), res["cpu_user"] + res["cpu_sys"]), flush=True)
    seen.setdefault(name, []).append((res["wall"], timings.get("resolve", 0.0)))


def summary(args: argparse.Namespace, seen: dict[str, list[tuple[float, float]]]) -> None:
    """Medians per checkout and kind, and rounds won."""
    print("\n%-8s %-28s %12s %14s %s" % ("kind", "checkout", "wall median", "resolve median", "faster in"))
    for kind in args.kinds:
        walls = [[w for w, _r in seen["%s-%d" % (kind, i)]] for i in range(len(args.tree))]
        for i, tree in enumerate(args.tree):
            runs = seen["%s-%d" % (kind, i)]
            won = sum(1 for r in range(len(runs)) if walls[i][r] == min(w[r] for w in walls))
            print("%-8s %-28s %10.2f s %12.3f s %d of %d rounds" % (
                kind, "%d:%s" % (i + 1, tree.name), statistics.median(w for w, _r in runs),
                statistics.median(r for _w, r in runs), won, len(runs)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = PROFILES[args.link]
    work = Path(tempfile.mkdtemp(prefix="airgap-ab-%s-" % profile.name))
    bed = Testbed(work, profile, False)
    results = Results()
    bench = Bench(bed, Runner(bed, args.profile), Verifier(results.problems), results)
    ab = AB(bench)
    seen: dict[str, list[tuple[float, float]]] = {}
    trees = ", ".join("%d:%s" % (i + 1, t) for i, t in enumerate(args.tree))
    print("A/B on link %s, workload %s, %d rounds: %s" % (profile.describe(), args.workload, args.rounds, trees))
    try:
        bed.check_tools()
        bed.setup()
        bed.generate([args.workload], W.QUICK if args.quick else W.FULL)
        bench.runner.seed(bed.seed_listing([args.workload]))
        wl = bed.workloads[args.workload]
        if "copy" in args.kinds:
            for rnd in range(args.rounds):
                for i, tree in in_turn(args.tree, rnd):
                    ab.use(tree)
                    record("copy-%d" % i, P.ours_r2r(bench, wl, "ab-copy-%d-%d" % (rnd, i)), seen)
        noops = [k for k in args.kinds if k != "copy"]
        if noops:
            ab.use(args.tree[0])
            base = P.ours_r2r(bench, wl, "ab-base", keep=True)
            for rnd in range(args.rounds):
                for i, tree in in_turn(args.tree, rnd):
                    ab.use(tree)
                    for kind in noops:
                        out = P.ours_again(bench, wl, base, "ab-%s-%d-%d" % (kind, rnd, i),
                                           immutable=kind == "immutable")
                        record("%s-%d" % (kind, i), out, seen)
    finally:
        bed.close()
    summary(args, seen)
    for problem in results.problems:
        print("PROBLEM: %s" % problem)
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
