"""Benchmark: airgap.mirror.image_mirror (run by ansible-playbook) against the seed's skopeo loops.

A script that prints measurements, not a test. One run starts one source registry (seeded with
skopeo, never with our engine), builds the workloads of ``bench/workloads.py`` and, for every
measurement, gives each tool a fresh destination (registry or directory) so runs never help each
other. skopeo's blob-info cache (``/var/lib/containers/cache/blob-info-cache-v1.boltdb`` for root;
skopeo 1.9 has no flag or variable to move it) is replaced, for every skopeo run, by a fresh
empty directory bind-mounted over ``/var/lib/containers/cache`` in a private mount namespace
(``unshare --mount``): no hidden help from earlier runs, and the machine's own cache is untouched.

Usage (from the checkout, with the venv's Python; needs root)::

    .venv/bin/python bench/run.py                 # everything (about 5 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick         # small sizes: a smoke run (about 1-2 minutes)
    .venv/bin/python bench/run.py --only a,c      # some workloads
    .venv/bin/python bench/run.py --sweep 2,4,8   # concurrency values for the sweep ("" skips it)
    .venv/bin/python bench/run.py --link wan      # the source registry behind a simulated link (wan, far)
    .venv/bin/python bench/run.py --link wan,loopback --chart bench.png   # both, and a chart

Prints a table per phase and a final table (workload, link, ours, the seed's skopeo loop, skopeo
sync, the link floor, ratios, target, pass/fail, unique bytes), draws it with ``--chart``, and
writes everything as JSON to ``bench/results/`` (gitignored). Exit status: 0 when every copy was
correct (targets missed are reported, not fatal), 1 when a copy failed or a verification found a
wrong digest. See bench/README.md for what each number means.

The pieces: ``testbed`` (work directory, registries, workloads), ``link`` (the simulated link),
``runners`` (the tools, measured), ``skopeo_sync`` (its rows), ``accounting`` (what a run cost
the registries), ``verify`` (digests after every copy), ``pairs`` and ``phases_*`` (the
measurements), ``floor`` (the lower bounds), ``results``, ``report`` and ``chart`` (the table,
the JSON, the PNG); this file is the command line.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads as W  # noqa: E402
from chart import draw, title  # noqa: E402
from context import Bench  # noqa: E402
from link import PROFILES, LinkProfile  # noqa: E402
from measure import BenchError, log, median  # noqa: E402
from phases_disk import from_disk, to_disk  # noqa: E402
from phases_large import large  # noqa: E402
from phases_registry import ansible_overhead, concurrency_sweep, registry_to_registry  # noqa: E402
from report import environment, print_sweep, print_table  # noqa: E402
from results import Results  # noqa: E402
from runners import RESULTS_DIR, Runner  # noqa: E402
from testbed import Testbed  # noqa: E402
from verify import Verifier  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", default="a,b,c", help="workloads to run, e.g. a,b (default a,b,c)")
    parser.add_argument("--sweep", default="2,4,8,16", help="module concurrency values for the sweep ('' skips it)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="paired runs (skopeo, then ours, alternately) per comparison of (a) and (b); the table "
                             "shows medians (default 3)")
    parser.add_argument("--sweep-repeat", type=int, default=2,
                        help="rounds over the sweep's values (interleaved; the table shows medians; default 2)")
    parser.add_argument("--link", default="loopback",
                        help="link profiles, comma-separated, each measured in turn with the source registry behind "
                             "it (the mirror stays local): %s (default loopback: no link)" % "; ".join(
                                 PROFILES[name].describe() for name in sorted(PROFILES) if PROFILES[name].simulated))
    parser.add_argument("--setup-rtts", type=float,
                        help="round trips a new connection waits on a simulated link (overrides the profile's 2)")
    parser.add_argument("--chart", help="draw the time rows as a PNG chart at this path (needs matplotlib: "
                                        "bench/requirements.txt)")
    parser.add_argument("--workdir", help="work directory (default: a new temp dir, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--output", help="JSON results file (default bench/results/bench-<time>.json)")
    parser.add_argument("--profile", choices=("cpu", "wall"),
                        help="run every module process under py-spy (cpu: busy threads only; wall: --idle too) and "
                             "print the top frames; profiles go to bench/results/profiles/. Times and RSS are then "
                             "not representative")
    args = parser.parse_args(argv)
    args.names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(args.names) - {"a", "b", "c"}
    if unknown:
        parser.error("unknown workloads: %s" % ", ".join(sorted(unknown)))
    args.sweep_values = [int(v) for v in args.sweep.split(",") if v.strip()]
    links = [n.strip() for n in args.link.split(",") if n.strip()]
    if not links or set(links) - set(PROFILES):
        parser.error("--link takes profiles among %s" % ", ".join(sorted(PROFILES)))
    args.profiles = [PROFILES[n].with_setup(args.setup_rtts) for n in links]
    if args.chart:
        try:
            import matplotlib  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
        except ImportError:
            parser.error("--chart needs matplotlib: %s -m pip install -r bench/requirements.txt" % sys.executable)
    return args


def measure_all(bench: Bench, args: argparse.Namespace, specs: dict[str, dict]) -> dict[str, float]:
    """Every phase in order; returns the seconds each took."""
    bed = bench.bed
    phases: dict[str, float] = {}
    bed.check_tools()
    bed.setup()
    log("\n== workloads (deterministic; generated, then seeded into %s with skopeo)" % bed.src.direct_host)
    phases["generate"] = bed.generate(args.names, specs)
    phases["seed"] = bench.runner.seed(bed.seed_listing(args.names))["wall"]
    bed.check_seeded(args.names)
    log("  generated in %.1fs, seeded in %.1fs" % (phases["generate"], phases["seed"]))
    log("\n== fixed cost of ansible-playbook + module start")
    phases["overhead"] = ansible_overhead(bench) or 0.0
    for name in args.names:
        wl = bed.workloads[name]
        t0 = time.monotonic()
        if name in ("a", "b"):
            log("\n== (%s) registry -> registry: %s" % (name, wl.title))
            registry_to_registry(bench, wl, args.repeat)
            if name == "a":
                log("\n== (a) registry -> disk")
                tree, layout = to_disk(bench, wl, args.repeat)
                log("\n== (a) disk -> registry")
                from_disk(bench, wl, args.repeat, tree, layout)
                shutil.rmtree(tree, ignore_errors=True)
                shutil.rmtree(layout, ignore_errors=True)
            if args.sweep_values:
                log("\n== (%s) concurrency sweep, registry -> registry" % name)
                concurrency_sweep(bench, wl, args.sweep_values, args.sweep_repeat)
        else:
            log("\n== (c) one image with a %s layer" % W.human(specs["c"]["size"], binary=True))
            large(bench, wl)
        phases[name] = time.monotonic() - t0
    return phases


def report(results: Results, args: argparse.Namespace) -> None:
    """The sweep table, the final table and the problems."""
    if results.sweep:
        print_sweep(results.sweep, args.sweep_repeat)
    log("\n== results%s\n   ours = ansible-playbook running airgap.mirror.image_mirror, skopeo loop = the seed's "
        "per-image loop, skopeo sync = one `skopeo sync --src yaml` of the list; seconds are wall-clock medians of %d "
        "rounds for (a)/(b) (1 for c), ratios = medians of the per-round ratios; load = 1-minute load average when "
        "the runs started (2 CPUs)" % (" (QUICK sizes: targets are for the full run)" if args.quick else "",
                                       args.repeat))
    for profile in args.profiles:
        log("   link %s" % profile.describe())
    log("   link floor = fixed cost + bytes that must cross the link / bandwidth (source behind the link, mirror "
        "local); machine floor = fixed cost + max(registries' CPU / CPUs, measured link bytes / bandwidth + set-up "
        "+ 1 round trip)")
    print_table(results.rows)
    loads = median([r["load"][0] for r in results.rows if r.get("load")])
    if loads is not None and loads > 1.5 * (os.cpu_count() or 1):
        log("\nNOTE: the machine was busy (median load %.1f on %d CPUs while these ran): wall times are inflated and "
            "ratios noisy (see 'ratio per run'); the client CPU seconds are the steadier comparison."
            % (loads, os.cpu_count() or 1))
    if results.problems:
        log("\nPROBLEMS:")
        for problem in results.problems:
            log("  - %s" % problem)


def write_json(bench: Bench, args: argparse.Namespace, doc: dict[str, Any]) -> Path:
    """Every row, record and problem of the run as JSON; returns the file."""
    stamp = doc["started"]
    links = "-".join(p.name for p in args.profiles)
    default_name = "bench-%s%s%s.json" % (stamp, "-quick" if args.quick else "", "" if links == "loopback" else
                                          "-" + links)
    output = Path(args.output) if args.output else RESULTS_DIR / default_name
    output.parent.mkdir(parents=True, exist_ok=True)
    results = bench.results
    doc.update({"workload_bytes": {n: {"unique": wl.unique_bytes, "per_image": wl.per_image_bytes,
                                       "images": len(wl.images)} for n, wl in bench.bed.workloads.items()},
                "rows": results.rows, "sweep": {n: {str(c): v for c, v in d.items()} for n, d in results.sweep.items()},
                "records": results.records, "problems": results.problems, "argv": sys.argv})
    output.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return output


def measure_profile(args: argparse.Namespace, specs: dict[str, dict], results: Results,
                    profile: LinkProfile) -> tuple[Bench, dict[str, float]]:
    """Every phase on one link profile, on its own test bed (removed after unless ``--keep``)."""
    many = len(args.profiles) > 1
    if args.workdir:
        work = Path(args.workdir) / profile.name if many else Path(args.workdir)
    else:
        work = Path(tempfile.mkdtemp(prefix="airgap-bench-%s-" % profile.name))
    bed = Testbed(work, profile, args.keep)
    bench = Bench(bed, Runner(bed, args.profile), Verifier(results.problems), results)
    log("\n==== link: %s; work dir %s" % (profile.describe(), bed.work))
    phases: dict[str, float] = {}
    try:
        phases = measure_all(bench, args, specs)
    except BenchError as exc:
        log("\nBENCH ERROR: %s" % exc)
        results.problems.append("%s: %s" % (profile.name, exc))
    finally:
        bed.close()
    return bench, {("%s %s" % (profile.name, k) if many else k): v for k, v in phases.items()}


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; the exit status is 1 when a copy failed or a digest was wrong."""
    args = parse_args(argv)
    specs = W.QUICK if args.quick else W.FULL
    started = time.monotonic()
    results = Results()
    env = environment()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    log("airgap.mirror benchmark %s%s: workloads %s, links %s" % (
        stamp, " (quick)" if args.quick else "", ",".join(args.names), ",".join(p.name for p in args.profiles)))
    log("machine: %d CPUs (registry, skopeo and the module all share them), %s, %s, ansible-core %s, httpx %s" % (
        env["cpus"], env["skopeo"], env["registry"], env["ansible_core"], env["httpx"]))
    phases: dict[str, float] = {}
    bench = None
    for profile in args.profiles:
        bench, done = measure_profile(args, specs, results, profile)
        phases.update(done)
    total = time.monotonic() - started
    report(results, args)
    log("\ntotal %.0fs (%s)" % (total, ", ".join("%s %.0fs" % item for item in phases.items())))
    assert bench is not None  # at least one profile
    output = write_json(bench, args, {
        "started": stamp, "quick": args.quick, "workloads": args.names, "specs": {n: specs[n] for n in args.names},
        "link": [vars(p) for p in args.profiles], "environment": env, "phases": phases, "total_seconds": total})
    log("results written to %s" % output)
    if args.chart:
        log("chart written to %s" % draw(results.rows, Path(args.chart), title(stamp, args.quick, results.rows)))
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
