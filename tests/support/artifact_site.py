"""A loopback HTTPS file server standing in for an artifact site (``artifacts.elastic.co``).

Usage::

    site = ArtifactSite(root_dir, pki=PKI(tmp_path / "pki")).start()   # https://127.0.0.1:PORT/
    site.url("downloads/a.tar.gz")
    site.cut_once("downloads/big.bin", after=5 * MiB)   # the next GET of it breaks after 5 MiB
    site.log                                            # [(method, path, Range header or None, status)]
    ArtifactSite(root, pki=pki, client_certs=True)      # mutual TLS: clients need a certificate of the CA
    site.stop()

Real ``http.server`` + ``ssl`` with the test CA's server certificate; serves files below *root*
with ``ETag`` (from size and mtime) and ``Last-Modified``, answers ``Range: bytes=N-`` with 206 (and
``If-Range`` that does not match with 200), 404 for what is missing. ``cut_once`` makes the next
response for a path announce the whole length, send *after* bytes and close the connection.
"""

from __future__ import annotations

import email.utils
import os
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["ArtifactSite"]

CHUNK = 256 * 1024


class ArtifactSite:
    def __init__(self, root: os.PathLike | str, pki=None, tls: bool = True, client_certs: bool = False) -> None:
        self.root = Path(root)
        self.pki = pki
        self.tls = tls
        self.client_certs = client_certs
        self.log: list[tuple[str, str, str | None, int]] = []
        self._cuts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        assert self._server is not None
        return "127.0.0.1:%d" % self._server.server_address[1]

    def url(self, path: str) -> str:
        return "%s://%s/%s" % ("https" if self.tls else "http", self.host, path.lstrip("/"))

    def cut_once(self, path: str, after: int) -> None:
        with self._lock:
            self._cuts["/" + path.lstrip("/")] = after

    def gets(self, path: str) -> list[tuple[str, str, str | None, int]]:
        """The logged GETs of *path*."""
        return [e for e in self.log if e[0] == "GET" and e[1] == "/" + path.lstrip("/")]

    def start(self) -> "ArtifactSite":
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                site._serve(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls:
            pair = self.pki.server_cert(["IP:127.0.0.1", "DNS:localhost"])
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(pair.cert), str(pair.key))
            if self.client_certs:  # mutual TLS: a client certificate issued by the test CA is required
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(str(self.pki.ca_cert))
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "ArtifactSite":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        rng = req.headers.get("Range")
        target = (self.root / path.lstrip("/")).resolve()
        if not str(target).startswith(str(self.root.resolve())) or not target.is_file():
            self._record(req, path, rng, 404)
            req.send_response(404)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        st = target.stat()
        etag = '"%x-%x"' % (st.st_size, int(st.st_mtime_ns))
        start = 0
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            if_range = req.headers.get("If-Range")
            if if_range is None or if_range == etag:
                start = int(rng[len("bytes="):-1])
        if start >= st.st_size and start:
            self._record(req, path, rng, 416)
            req.send_response(416)
            req.send_header("Content-Range", "bytes */%d" % st.st_size)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        status = 206 if start else 200
        self._record(req, path, rng, status)
        req.send_response(status)
        req.send_header("Content-Length", str(st.st_size - start))
        if start:
            req.send_header("Content-Range", "bytes %d-%d/%d" % (start, st.st_size - 1, st.st_size))
        req.send_header("Accept-Ranges", "bytes")
        req.send_header("ETag", etag)
        req.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
        req.send_header("Content-Type", "application/octet-stream")
        req.end_headers()
        with self._lock:
            cut = self._cuts.pop(path, None)
        sent = 0
        with open(target, "rb") as handle:
            handle.seek(start)
            while True:
                chunk = handle.read(CHUNK)
                if not chunk:
                    break
                if cut is not None and sent + len(chunk) > cut:
                    req.wfile.write(chunk[:cut - sent])
                    req.wfile.flush()
                    req.close_connection = True
                    try:
                        req.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                req.wfile.write(chunk)
                sent += len(chunk)

    def _record(self, req: BaseHTTPRequestHandler, path: str, rng: str | None, status: int) -> None:
        with self._lock:
            self.log.append((req.command, path, rng, status))
