"""A small forward proxy that speaks HTTP ``CONNECT`` (what clients use for https:// URLs through
``HTTPS_PROXY``), stdlib only, one thread per client connection.

Usage::

    with ConnectProxy() as proxy:                 # listens on 127.0.0.1:PORT
        env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": ""}
        ...                                       # a client run with env
        proxy.tunnels                             # ["127.0.0.1:4443", ...] CONNECT targets, in order

It tunnels bytes both ways and never sees inside TLS; anything but CONNECT gets 405.
"""

from __future__ import annotations

import socket
import socketserver
import threading

__all__ = ["ConnectProxy"]


class ConnectProxy:
    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def start(self) -> "ConnectProxy":
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._handle(self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "ConnectProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _handle(self, req: socketserver.StreamRequestHandler) -> None:
        line = req.rfile.readline(65536).decode("latin-1").split()
        while req.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
            pass
        if len(line) < 2 or line[0] != "CONNECT":
            req.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _sep, port = line[1].rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=30)
        except OSError:
            req.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.tunnels.append(line[1])
        req.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        req.wfile.flush()
        splice(req.connection, upstream)
        upstream.close()


def splice(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways between *client* and *upstream* until both directions ended (each end's
    close is passed on as a half-close); returns then."""

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    back.start()
    pipe(client, upstream)
    back.join(60)
