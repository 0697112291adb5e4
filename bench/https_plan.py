"""The engine's plan of a catalog from a TLS registry behind a simulated link, for one or more
checkouts side by side.

A script that prints measurements, not a test. The bench's main source (``bench/run.py``,
``bench/ab.py``) is a plain-http registry listed in ``insecure_registries``: its ``/v2/`` ping picks
the scheme, so it must come first. A source spoken to over verified https, as quay.io, docker.io
and docker.elastic.co are, needs no ping first; this script measures that case. It starts a Debian
``docker-registry`` with TLS (the test CA) and pushes ``--images`` small images into as many
repositories, puts the bench's link proxy in front of it (in a child process), and starts a local
plain registry as the destination. Then, per round and per ``--tree`` (alternating), a fresh
process of that checkout runs the engine in check mode, registry to registry: it looks every image
up at the source (manifest, tag list for attachments) and at the destination, and copies nothing.
It prints each run's wall seconds and requests per registry, then the medians.

Usage (from the checkout)::

    git worktree add /tmp/old <commit>
    .venv/bin/python bench/https_plan.py --tree /tmp/old --tree . --link far --rounds 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, sys, time
tree, source, dest, ca, repos = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
sys.path.insert(0, tree + "/tests")
import conftest  # noqa: F401  this checkout as ansible_collections.airgap.mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine import run
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
assert os.path.realpath(run.__file__).startswith(tree + "/"), "the engine of %s was imported" % run.__file__
pool = ClientPool(credentials=CredentialStore(use_default_files=False), insecure_registries=[dest], ca_path=ca,
                  max_connections=64)
started = time.perf_counter()
try:
    report = mirror(MirrorRequest(["%s/%s:1.0" % (source, r) for r in repos], dest + "/plan", check_mode=True),
                    pool=pool)
finally:
    seconds = time.perf_counter() - started
    pool.close()
print(json.dumps({"seconds": seconds, "failed": len(report["failed"]), "requests": report.get("requests")}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="a checkout (repeat; default: this one)")
    parser.add_argument("--link", choices=("wan", "far"), default="far")
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    trees = [str(Path(t).resolve()) for t in args.tree] or [str(ROOT)]

    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "bench"))
    import httpx  # pylint: disable=import-outside-toplevel
    from link import PROFILES  # pylint: disable=import-outside-toplevel
    from lookup_protocols import push_images, serve_link  # pylint: disable=import-outside-toplevel
    from support.pki import PKI  # pylint: disable=import-outside-toplevel
    from support.registry import Registry  # pylint: disable=import-outside-toplevel

    # each child makes its own checkout importable (its tests/conftest.py), not this one's
    env = {k: v for k, v in os.environ.items() if k != "AIRGAP_COLLECTIONS_PATH"}
    work = Path(tempfile.mkdtemp(prefix="airgap-https-plan-"))
    source = Registry(work / "source", tls=True, pki=PKI(work / "pki")).start()
    dest = Registry(work / "dest").start()
    ports: multiprocessing.Queue = multiprocessing.Queue()
    proxy = multiprocessing.Process(target=serve_link, args=(source.host, args.link, ports), daemon=True)
    proxy.start()
    try:
        with httpx.Client(base_url=source.url, verify=str(source.ca_path)) as direct:
            repos = push_images(direct, args.images)
        linked = "127.0.0.1:%d" % ports.get(timeout=30)
        print("link %s; %d images from a TLS docker-registry (verified https, no ping needed first), check mode, "
              "into a local registry" % (PROFILES[args.link].describe(), len(repos)), flush=True)
        seconds: dict[str, list[float]] = {tree: [] for tree in trees}
        for round_ in range(args.rounds):
            for tree in trees if round_ % 2 == 0 else list(reversed(trees)):
                done = subprocess.run([sys.executable, "-c", CHILD, tree, linked, dest.host, str(source.ca_path),
                                       json.dumps(repos)], capture_output=True, text=True, check=False, env=env)
                if done.returncode != 0:
                    raise SystemExit("https_plan: the run of %s failed:\n%s" % (tree, done.stderr[-2000:]))
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if result["failed"]:
                    raise SystemExit("https_plan: %d images failed in the run of %s" % (result["failed"], tree))
                seconds[tree].append(result["seconds"])
                print("round %d  %-40s %5.2f s  requests %s"
                      % (round_, tree, result["seconds"], result["requests"]), flush=True)
        print()
        for tree in trees:
            got = seconds[tree]
            print("%-40s median %5.2f s  range %.2f-%.2f s" % (tree, statistics.median(got), min(got), max(got)))
    finally:
        proxy.terminate()
        source.stop()
        dest.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
