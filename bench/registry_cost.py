"""What one request costs the registry: CPU seconds per request kind, for the benchmark's floor.

A script that prints measurements, not a test. It starts one Debian ``docker-registry``
(distribution 2.8) on loopback, configured as bench/run.py configures its registries, sends N
requests of each kind over one keep-alive connection (stdlib ``http.client``: the client's own
cost is not measured, only the registry's) and reads the registry's CPU time from
``/proc/<pid>/stat`` before and after each kind.

Usage (from the checkout)::

    .venv/bin/python bench/registry_cost.py            # 300 requests of each kind
    .venv/bin/python bench/registry_cost.py -n 1000 --blob-size 100000
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from measure import proc_cpu  # noqa: E402  (bench/ is the script's directory)
from support.registry import Registry  # noqa: E402

ACCEPT = ", ".join(("application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"))


class Conn:
    def __init__(self, host: str) -> None:
        name, port = host.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(name, int(port), timeout=60)

    def send(self, method: str, path: str, body: bytes | None = None, expect: int | None = None,
             ctype: str = "application/octet-stream") -> http.client.HTTPResponse:
        # the Accept list a client sends: distribution 2.8 hides an OCI manifest from a client that
        # does not accept its media type
        self.conn.request(method, path, body=body, headers={"Content-Type": ctype, "Accept": ACCEPT})
        resp = self.conn.getresponse()
        resp.read()
        if expect is not None and resp.status != expect:
            raise SystemExit("%s %s answered %d, expected %d" % (method, path, resp.status, expect))
        return resp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("-n", type=int, default=300, help="requests of each kind (default 300)")
    parser.add_argument("--blob-size", type=int, default=100_000, help="bytes per uploaded blob (default 100000)")
    args = parser.parse_args(argv)
    n = args.n
    rng = random.Random(1)
    blobs = [rng.randbytes(args.blob_size) for _i in range(n)]
    digests = ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]
    manifests = []
    for i in range(n):
        config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"i":%d}' % i
        manifests.append((config, (
            '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":'
            '"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":'
            '"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}'
            % (hashlib.sha256(config).hexdigest(), len(config), digests[i], len(blobs[i]))).encode()))

    with tempfile.TemporaryDirectory(prefix="airgap-regcost-") as work:
        reg = Registry(Path(work) / "reg", extra_config={
            "log": {"level": "warn"}, "storage": {"cache": {"blobdescriptor": "inmemory"}}}).start()
        try:
            c = Conn(reg.host)

            def upload(repo: str, data: bytes, digest: str) -> None:
                location = c.send("POST", "/v2/%s/blobs/uploads/" % repo, b"", 202).getheader("location") or ""
                target = urlsplit(location)
                path = target.path + "?" + (target.query + "&" if target.query else "") + "digest=" + digest
                c.send("PUT", path, data, 201)

            kinds = [
                ("GET /v2/ (ping)", lambda i: c.send("GET", "/v2/", expect=200)),
                ("HEAD blob, absent", lambda i: c.send("HEAD", "/v2/r%d/blobs/%s" % (i, digests[i]), expect=404)),
                ("POST upload (start only)", lambda i: c.send("POST", "/v2/s%d/blobs/uploads/" % i, b"", 202)),
                ("POST + PUT %d B blob" % args.blob_size, lambda i: upload("r%d" % i, blobs[i], digests[i])),
                ("HEAD blob, present", lambda i: c.send("HEAD", "/v2/r%d/blobs/%s" % (i, digests[i]), expect=200)),
                ("POST mount from the same repository (201)", lambda i: c.send(
                    "POST", "/v2/r%d/blobs/uploads/?mount=%s&from=r%d" % (i, digests[i], i), b"", 201)),
                ("POST mount from another repository (201)", lambda i: c.send(
                    "POST", "/v2/m%d/blobs/uploads/?mount=%s&from=r%d" % (i, digests[i], i), b"", 201)),
                ("POST + PUT config blob", lambda i: upload(
                    "r%d" % i, manifests[i][0], "sha256:" + hashlib.sha256(manifests[i][0]).hexdigest())),
                ("PUT manifest (tag)", lambda i: c.send("PUT", "/v2/r%d/manifests/v1" % i, manifests[i][1], 201,
                                                        "application/vnd.oci.image.manifest.v1+json")),
                ("HEAD manifest (tag)", lambda i: c.send("HEAD", "/v2/r%d/manifests/v1" % i, expect=200)),
                ("GET tags/list", lambda i: c.send("GET", "/v2/r%d/tags/list" % i, expect=200)),
            ]
            print("docker-registry %s, %d requests of each kind, one keep-alive connection" % (reg.host, n))
            print("%-46s %12s %10s" % ("request", "cpu ms/req", "wall s"))
            for name, fn in kinds:
                reg.mark()
                cpu0, t0 = proc_cpu(reg.pid), time.monotonic()
                for i in range(n):
                    fn(i)
                wall = time.monotonic() - t0
                reg.mark()  # the access log is flushed: the registry's work for these requests is done
                cpu = proc_cpu(reg.pid) - cpu0
                print("%-46s %12.2f %10.2f" % (name, cpu / n * 1000, wall))
        finally:
            reg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
