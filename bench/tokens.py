"""Pushing into a mirror registry that demands Bearer tokens (as Quay, Harbor and most registries in
front of a site do), for two or more checkouts of the collection, A/B on one test bed.

A script that prints measurements, not a test (it asserts nothing). The mirror is a real
``docker-registry`` in distribution's ``auth: token`` mode with the test bed's token service
(``tests/support/tokenserver.py``: RS256-signed tokens, per-repository grants), the user granted
``pull,push``; ``--link`` puts both the registry and its token service behind a simulated link
(``bench/link.py``), as a mirror in another site is. The workload is the catalog (``b``: small images
on one shared base layer), read from an OCI layout on this disk.

Each round runs every checkout once, in turn (a slow minute of the machine hits all of them), each
round starting with the next checkout:

- ``push``: the engine copies the catalog from the layout into fresh repositories of the mirror;
- ``noop``: the same again, everything already there.

The engine runs in a child process per run (``mirror()`` with a :class:`ClientPool` holding the
user's credentials, ``concurrency`` 8), without ``ansible-playbook`` around it: what is measured is
the engine against the registry and its token service. Printed per run: wall seconds, the child's
CPU seconds, token requests (answered by the token service during the run) and all requests the
engine sent (to the registry and its token service); then per checkout and kind the medians.

Usage (from the checkout; ``git worktree add /tmp/old <commit>`` makes an old one)::

    .venv/bin/python bench/tokens.py --tree /tmp/old --tree . --rounds 3
    .venv/bin/python bench/tokens.py --tree /tmp/old --tree . --link wan --rounds 3 --quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import workloads as W  # noqa: E402
from link import PROFILES, Link  # noqa: E402
from measure import in_turn  # noqa: E402
from support.registry import Registry  # noqa: E402
from support.tokenserver import TokenServer  # noqa: E402
from testbed import collection_shim  # noqa: E402

KINDS = ("push", "noop")
USER = "mirror-bot"

# The engine in a child process: copy the layout's images into the mirror, print what it measured.
_CHILD = r"""
import json, os, sys, time
coll, layout, registry, user, password = sys.argv[1:6]
images = json.loads(sys.argv[6])
sys.path.insert(0, coll)
from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import Credentials, CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import Limits, MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
store = CredentialStore(explicit={registry: Credentials(user, password)}, use_default_files=False)
pool = ClientPool(insecure_registries=[registry], credentials=store)
started, cpu = time.monotonic(), time.process_time()
try:
    report = mirror(MirrorRequest(images, registry, src="oci:" + layout, limits=Limits(concurrency=8)), pool=pool)
finally:
    pool.close()
print(json.dumps({"wall": time.monotonic() - started, "cpu": time.process_time() - cpu,
                  "failed": len(report["failed"]), "copied": report["totals"]["copied"],
                  "requests": sum(report["requests"].values())}))
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tree", action="append", default=[], help="a checkout (repeat; at least two)")
    parser.add_argument("--link", choices=sorted(PROFILES), default="loopback",
                        help="the link in front of the mirror and its token service (default loopback)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the quick catalog (30 images), not the full (150)")
    args = parser.parse_args(argv)
    if len(args.tree) < 2 or args.rounds < 1:
        parser.error("give two or more --tree and --rounds of at least 1")
    return args


def run_once(coll: str, layout: Path, registry: str, password: str, images: list[dict[str, str]]) -> dict[str, Any]:
    """One engine run in a child process."""
    done = subprocess.run([sys.executable, "-c", _CHILD, coll, str(layout), registry, USER, password,
                           json.dumps(images)],
                          capture_output=True, text=True, check=False, env=dict(os.environ, PYTHONHASHSEED="0"))
    if done.returncode != 0:
        raise SystemExit("engine run failed:\n%s%s" % (done.stdout, done.stderr))
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    profile = PROFILES[args.link]
    spec = (W.QUICK if args.quick else W.FULL)["b"]
    with tempfile.TemporaryDirectory(prefix="airgap-bench-tokens-") as tmp:
        work = Path(tmp)
        colls = [str(collection_shim(Path(tree), work / ("tree%d" % n))) for n, tree in enumerate(args.tree, 1)]
        workload = W.build("b", spec, work / "layout")
        password = "tok-" + os.urandom(6).hex()
        tokens = TokenServer(work / "tokens", users={USER: password}).start()
        tokens.grant(USER, r".*", "pull,push")
        links: list[Link] = []
        config = tokens.registry_config()
        if profile.simulated:
            links.append(Link("127.0.0.1:%d" % tokens.port, profile).start())
            config["auth"]["token"]["realm"] = "http://%s/token" % links[-1].host
        registry = Registry(work / "mirror", extra_config=config).start()
        host = registry.host
        if profile.simulated:
            links.append(Link(registry.host, profile).start())
            host = links[-1].host
        print("tokens A/B, mirror %s with its token service; %s; %d rounds: %s" % (
            "behind link " + profile.describe() if profile.simulated else "on loopback", workload.describe(),
            args.rounds, ", ".join("%d:%s" % (n, t) for n, t in enumerate(args.tree, 1))))
        rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
        try:
            for rnd in range(args.rounds):
                for index, coll in in_turn(colls, rnd):
                    n = index + 1
                    images = [{"src": "img-%03d" % i, "dest": "%s/r%dt%d/img-%03d:1.0" % (host, rnd, n, i)}
                              for i in range(spec["count"])]
                    for kind in KINDS:
                        before = len(tokens.issued)
                        got = run_once(coll, work / "layout", host, password, images)
                        got["tokens"] = len(tokens.issued) - before
                        rows.setdefault((kind, n), []).append(got)
                        print("%-5s round %d tree %d  wall %6.2f s  cpu %5.2f s  token requests %4d  "
                              "requests %5d  copied %3d  failed %d" % (
                                  kind, rnd, n, got["wall"], got["cpu"], got["tokens"], got["requests"],
                                  got["copied"], got["failed"]))
        finally:
            registry.stop()
            for link in links:
                link.stop()
            tokens.stop()
        header = ("kind", "checkout", "wall median", "cpu median", "token requests", "all requests")
        print("\n%-5s %-28s %12s %12s %14s %16s" % header)
        for kind in KINDS:
            for n, tree in enumerate(args.tree, 1):
                runs = rows[(kind, n)]
                print("%-5s %-28s %10.2f s %10.2f s %14s %16s" % (
                    kind, "%d:%s" % (n, Path(tree).resolve().name), statistics.median(r["wall"] for r in runs),
                    statistics.median(r["cpu"] for r in runs), _span([r["tokens"] for r in runs]),
                    _span([r["requests"] for r in runs])))


def _span(values: list[int]) -> str:
    return "%d" % values[0] if min(values) == max(values) else "%d-%d" % (min(values), max(values))


if __name__ == "__main__":
    main()
