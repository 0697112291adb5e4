"""The catalog no-op's look-ups over a simulated link to a TLS registry: HTTP/1.1 with N connections
against HTTP/2 on one connection.

A script that prints measurements, not a test (it asserts nothing about the figures). It is the
evidence behind two choices of the engine: look-ups run 64 at once per registry over HTTP/1.1, and
the engine does not speak HTTP/2 (README, "Performance").

It starts a Debian ``docker-registry`` with TLS on loopback, pushes ``--images`` small images into
as many repositories over HTTP/1.1 directly, and puts the bench's link proxy (``bench/link.py``,
in a child process, so that the proxy and the client threads do not share a GIL) in front of it.
Each trial is a fresh ``httpx`` client that sends what a no-op re-run with a lockfile sends to the
source: the ``/v2/`` ping, then per image a manifest ``HEAD`` and its repository's ``tags/list``,
all submitted at once. With HTTP/1.1 a client has N connections (each one TCP + TLS over the
link), in pools of 4 as the engine has them; with HTTP/2 all requests share one connection, N of
them in flight. Trials alternate between the variants;
the last lines are the medians and the failed trials per variant.

HTTP/2 needs ``h2`` (``bench/requirements.txt``; the collection does not depend on it).

Usage (from the checkout)::

    .venv/bin/python bench/lookup_protocols.py                          # far, 150 images, 3 rounds
    .venv/bin/python bench/lookup_protocols.py --link wan --rounds 5 --connections 32,64
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position  # this checkout as ansible_collections.airgap.mirror
import httpx  # noqa: E402  pylint: disable=wrong-import-position
from link import PROFILES, Link  # noqa: E402  pylint: disable=wrong-import-position
from measure import proc_cpu  # noqa: E402  pylint: disable=wrong-import-position
from support.pki import PKI  # noqa: E402  pylint: disable=wrong-import-position
from support.registry import Registry  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.transport import shard_sizes  # noqa: E402  pylint: disable=wrong-import-position

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def serve_link(upstream: str, profile: str, ports: multiprocessing.Queue) -> None:
    """The link proxy to *upstream*, in its own process until it is terminated; its port goes to *ports*."""
    link = Link(upstream, PROFILES[profile]).start()
    ports.put(link.port)
    while True:
        time.sleep(3600)


def push_images(client: httpx.Client, count: int) -> list[str]:
    """*count* images of a config and one 2,000-byte layer, one per repository; their repositories."""
    repos = []
    for i in range(count):
        repo = "catalog/app%03d" % i
        blobs = []
        for data in (json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": []}, "n": i}).encode(),
                     os.urandom(2000)):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            started = client.post("/v2/%s/blobs/uploads/" % repo)
            started.raise_for_status()
            location = started.headers["location"]
            client.put(location + ("&" if "?" in location else "?") + "digest=" + digest, content=data,
                       headers={"content-type": "application/octet-stream"}).raise_for_status()
            blobs.append({"digest": digest, "size": len(data)})
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": dict(blobs[0], mediaType="application/vnd.oci.image.config.v1+json"),
                    "layers": [dict(blobs[1], mediaType="application/vnd.oci.image.layer.v1.tar")]}
        client.put("/v2/%s/manifests/1.0" % repo, content=json.dumps(manifest).encode(),
                   headers={"content-type": MANIFEST}).raise_for_status()
        repos.append(repo)
    return repos


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of process *pid* (this one by default) so far."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    return proc_cpu(pid)


def look_up(base: str, ca: Path, repos: list[str], http2: bool, number: int) -> tuple[float, str]:
    """One trial: (seconds, the HTTP version the answers came in). With HTTP/1.1, *number*
    connections, split into pools as the engine splits them (``shard_sizes``: pools of 4, each
    thread keeps to one); with HTTP/2, one connection and *number* requests in flight on it."""
    started = time.perf_counter()
    pools, per_pool = (1, 1) if http2 else shard_sizes(number)
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
    clients = [httpx.Client(base_url=base, verify=str(ca), http2=http2, limits=limits, timeout=60) for _pool in range(pools)]
    mine = threading.local()
    taken = itertools.count()

    def client() -> httpx.Client:
        if not hasattr(mine, "client"):
            mine.client = clients[next(taken) % pools]
        return mine.client

    def head(repo: str) -> httpx.Response:
        return client().head("/v2/%s/manifests/1.0" % repo, headers={"accept": MANIFEST})

    def tags(repo: str) -> httpx.Response:
        return client().get("/v2/%s/tags/list" % repo)

    try:
        clients[0].get("/v2/").raise_for_status()
        calls: list[tuple[Callable[[str], httpx.Response], str]] = [(f, r) for r in repos for f in (head, tags)]
        with ThreadPoolExecutor(number) as pool:
            answers = [f.result() for f in [pool.submit(call, repo) for call, repo in calls]]
    finally:
        for each in clients:
            each.close()
    seconds = time.perf_counter() - started
    wrong = [a for a in answers if a.status_code != 200]
    if wrong:
        raise RuntimeError("%d answers were not 200 (first: %s %s)" % (len(wrong), wrong[0].status_code, wrong[0].url))
    return seconds, answers[0].http_version


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--link", choices=sorted(p for p in PROFILES if p != "loopback"), default="far")
    parser.add_argument("--images", type=int, default=150, help="images, one per repository (default 150)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="16,32,64,128", help="HTTP/1.1 connection counts (default 16,32,64,128)")
    parser.add_argument("--streams", default="100,300", help="HTTP/2 requests in flight (default 100,300)")
    args = parser.parse_args(argv)
    try:
        import h2  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        sys.exit("lookup_protocols: HTTP/2 needs the h2 package: .venv/bin/pip install -r bench/requirements.txt")
    variants = [("HTTP/1.1, %d connections" % n, False, n) for n in (int(c) for c in args.connections.split(","))]
    variants += [("HTTP/2, %d streams" % n, True, n) for n in (int(c) for c in args.streams.split(","))]

    work = Path(tempfile.mkdtemp(prefix="airgap-lookups-"))
    registry = Registry(work / "registry", tls=True, pki=PKI(work / "pki")).start()
    ca = Path(str(registry.ca_path))
    ports: multiprocessing.Queue = multiprocessing.Queue()
    proxy = multiprocessing.Process(target=serve_link, args=(registry.host, args.link, ports), daemon=True)
    proxy.start()
    try:
        with httpx.Client(base_url=registry.url, verify=str(ca)) as direct:
            repos = push_images(direct, args.images)
        base = "https://127.0.0.1:%d" % ports.get(timeout=30)
        print("link %s; %d images in as many repositories of a TLS docker-registry: %d requests a trial"
              % (PROFILES[args.link].describe(), len(repos), 1 + 2 * len(repos)), flush=True)
        labels = [variant[0] for variant in variants]
        times: dict[str, list[float]] = {label: [] for label in labels}
        failed: dict[str, list[str]] = {label: [] for label in labels}
        for round_ in range(args.rounds):
            for label, http2, number in variants:
                pids = (None, registry.pid, proxy.pid)
                before = [cpu_seconds(pid) for pid in pids]
                try:
                    seconds, version = look_up(base, ca, repos, http2, number)
                except (httpx.HTTPError, RuntimeError) as exc:
                    failed[label].append("%s: %s" % (type(exc).__name__, exc))
                    print("round %d  %-26s failed: %s: %s" % (round_, label, type(exc).__name__, exc), flush=True)
                    continue
                used = [cpu_seconds(pid) - b for pid, b in zip(pids, before)]
                times[label].append(seconds)
                print("round %d  %-26s %5.2f s  (%s)  CPU: client %.2f s, registry %.2f s, link proxy %.2f s"
                      % (round_, label, seconds, version, *used), flush=True)
        print()
        for label in labels:
            got = times[label]
            print("%-26s median %s  range %s  failed %d of %d" % (
                label, "%5.2f s" % statistics.median(got) if got else "   --  ",
                "%.2f-%.2f s" % (min(got), max(got)) if got else "--", len(failed[label]), args.rounds))
    finally:
        proxy.terminate()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
