"""An insecure registry may speak https (its certificate unverified) or plain http. The client's
first request decides which: an https GET /v2/, with the plain http GET sent beside it, not after
it. On a link with a 150 ms round trip the plain registry's answer then comes after one connection
set-up instead of two in a row."""

from __future__ import annotations

import socket
import socketserver
import threading

import pytest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import ClientOptions
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.transport import Transport

from support.connect_proxy import splice

pytestmark = pytest.mark.integration

HOLD = 20.0  # seconds the front holds a TLS hello when no plain request comes


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class HoldingFront:
    """A TCP front to a plain http registry that holds every connection opening with a TLS hello
    until a plain connection has reached the registry (or :data:`HOLD` seconds passed), then
    closes it: the https probe fails only once the plain request is under way."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.plain_seen = threading.Event()
        self.tls_released: list[str] = []  # per TLS hello: "plain" (released by it) or "timeout"
        front = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                front._serve(self.request)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.host = "127.0.0.1:%d" % self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        first = conn.recv(1, socket.MSG_PEEK)
        if first == b"\x16":  # a TLS handshake record: hold it, then fail it
            self.tls_released.append("plain" if self.plain_seen.wait(HOLD) else "timeout")
            conn.close()
            return
        host, port = self.upstream.rsplit(":", 1)
        up = socket.create_connection((host, int(port)))
        self.plain_seen.set()
        try:
            splice(conn, up)
        finally:
            up.close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_plain_insecure_registry_is_asked_over_http_beside_the_https_probe(plain_registry):
    front = HoldingFront(plain_registry.host)
    transport = Transport(front.host, ClientOptions.build(insecure_registries=[front.host]))
    try:
        assert transport.base == "http://%s" % front.host
        catalog = transport._send_with_retries("GET", transport.base + "/v2/_catalog", scopes=())
        assert catalog.status_code == 200, catalog.status_code
    finally:
        transport.close()
        front.stop()
    # the https probe was still waiting when the plain request reached the registry; one after the
    # other, the front would have held the probe for HOLD seconds and recorded "timeout"
    assert front.tls_released == ["plain"], front.tls_released


def test_an_insecure_tls_registry_is_asked_over_https_without_verification(tls_registry):
    transport = Transport(tls_registry.host, ClientOptions.build(insecure_registries=[tls_registry.host]))
    try:
        assert transport.base == "https://%s" % tls_registry.host
    finally:
        transport.close()
