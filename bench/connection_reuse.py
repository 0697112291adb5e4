"""How many TCP connections a registry-to-registry copy opens to each registry, and how long it takes.

A script that prints one measurement, not a test (tests/integration/test_connection_reuse.py is the
test). It starts two Debian ``docker-registry`` processes on loopback (the source with TLS when
asked), seeds an image of N small layers into the source with skopeo, copies it with the engine in
this process and counts ``socket.create_connection`` calls per registry port.

Usage (from the checkout)::

    .venv/bin/python bench/connection_reuse.py                 # 60 layers, plain HTTP source
    .venv/bin/python bench/connection_reuse.py --layers 200 --tls
"""

from __future__ import annotations

import argparse
import collections
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import conftest  # noqa: E402,F401  pylint: disable=unused-import  # makes this checkout importable as ansible_collections.airgap.mirror
from support import images as I  # noqa: E402
from support.pki import PKI  # noqa: E402
from support.registry import Registry  # noqa: E402

from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore  # noqa: E402
from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool  # noqa: E402
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import Limits, MirrorRequest  # noqa: E402
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--tls", action="store_true", help="the source registry speaks TLS")
    args = parser.parse_args(argv)

    opened: collections.Counter[int] = collections.Counter()
    connect = socket.create_connection

    def counting(address, *rest, **kwargs):  # type: ignore[no-untyped-def]
        opened[address[1]] += 1
        return connect(address, *rest, **kwargs)

    work = Path(tempfile.mkdtemp(prefix="airgap-connections-"))
    layout = I.OCILayout(work / "oci")
    image = I.build_image(layout, "many", layers=[{"f%d" % i: "layer %d\n" % i * 2000} for i in range(args.layers)])
    src = Registry(work / "src", tls=True, pki=PKI(work / "pki")) if args.tls else Registry(work / "src")
    dest = Registry(work / "dest")
    src.start()
    dest.start()
    try:
        ref = I.seed_registry(image, src, "many/app", "v1")
        pool = ClientPool(credentials=CredentialStore(use_default_files=False),
                          insecure_registries=[dest.host] + ([] if args.tls else [src.host]),
                          ca_path=str(src.ca_path) if args.tls else None)
        socket.create_connection = counting
        started = time.monotonic()
        try:
            report = mirror(MirrorRequest([ref], dest.host + "/m", limits=Limits(concurrency=args.concurrency)), pool=pool)
        finally:
            seconds = time.monotonic() - started
            socket.create_connection = connect
            pool.close()
        if report["failed"]:
            raise SystemExit("the copy failed: %s" % report["failed"])
        port = {name: int(reg.host.rsplit(":", 1)[1]) for name, reg in (("source", src), ("destination", dest))}
        print("%d blobs, concurrency %d, %s source: connections to the source %d, to the destination %d; "
              "%d requests; %.2f s" % (args.layers + 1, args.concurrency, "TLS" if args.tls else "plain HTTP",
                                       opened[port["source"]], opened[port["destination"]],
                                       pool.stats.requests, seconds))
    finally:
        src.stop()
        dest.stop()


if __name__ == "__main__":
    main()
