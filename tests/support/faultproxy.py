"""A small fault-injecting HTTP proxy in front of a REAL registry (stdlib only, one thread per
client connection).

It is a reverse proxy: clients talk to it as if it were the registry (``docker://PROXY/repo``);
every request is forwarded to the upstream registry with its ``Host`` header unchanged, so the
absolute ``Location`` URLs the registry builds for upload sessions point back at the proxy and
every later request of the session goes through it too. Plain HTTP only (the registry behind it is
plain HTTP, or uses token auth whose realm clients reach directly).

Usage::

    proxy = FaultProxy(registry).start()        # or FaultProxy("127.0.0.1:5000"); ``with`` works
    proxy.host                                   # "127.0.0.1:41234" -> use as the registry host

    # the next matching request(s) get a fault; a rule matches method + path regex (re.search on
    # the request target, query string included), skips ``skip`` matches, then acts ``times`` times
    # (``times=None``: on every match)
    r = proxy.add_rule("GET", r"/blobs/sha256:", reset_response_after=1 << 20)   # RST mid-download
    proxy.add_rule("GET", r"/blobs/sha256:", cut_response_after=1 << 20)          # FIN mid-download
    proxy.add_rule("PATCH", r"/blobs/uploads/", reset_request_after=300_000)      # RST mid-upload
    proxy.add_rule("GET", r"/blobs/", status=503, times=3)                        # a burst of 503
    proxy.add_rule("GET", r"/manifests/", status=429, retry_after=2)              # 429 + Retry-After
    proxy.add_rule("GET", r"/blobs/" + digest, corrupt_at=100)                    # flip one byte
    proxy.add_rule("GET", r"/blobs/", throttle=512 * 1024, times=None)            # 512 KiB/s
    proxy.add_rule(None, r"/v2/", delay=1.5)                                      # answer late
    s = proxy.add_rule("PATCH", r"/blobs/uploads/", stall_request_after=8 << 20)  # hold mid-body
    s.stalled.wait(30); ...kill the client or restart the registry...; s.release()  # or release(reset=True)
    r.hits                                       # how many times the rule acted

    # what passed: one Exchange per request, in arrival order
    proxy.exchanges("GET", r"/blobs/")           # .method .path .status .request_headers
                                                 # .bytes_in (request body) .bytes_out (response
                                                 # body) .fault .started .ended
    m = proxy.mark(); ...; proxy.exchanges(since=m)
    proxy.peak_in_flight                         # most requests in flight at once (head read ->
                                                 # response sent), since start or reset_peak()

    # a registry's rate limit: N requests per fixed window of S seconds (the window starts with
    # its first request); every answer carries RateLimit-Limit/-Remaining/-Reset (seconds, rounded
    # up), and a request over the budget is answered 429 with Retry-After (not forwarded)
    proxy.rate_limit(20, 2.0)                    # style="x": X-RateLimit-* with an epoch reset;
                                                 # style="docker": Docker Hub's "N;w=S", no reset
    proxy.stop()

Faults:

- ``status=N`` (with ``retry_after=S``, ``body=b"..."``, ``headers={...}``): answer N without
  forwarding (the request body is read and dropped). A distribution-style error JSON is the default body.
- ``reset_response_after=N``: forward, send the response head and N bytes of its body, then reset
  the connection (TCP RST: SO_LINGER 0). ``0`` resets before the head: the registry did the work
  (stored a chunk, a manifest) but the client never hears of it. Data still in flight when the
  reset arrives is lost to the client (its kernel drops it), as with a real reset.
- ``cut_response_after=N``: send the head and exactly N body bytes, then end the connection cleanly
  (FIN): the client gets every one of the N bytes, then an early end of the body.
- ``reset_request_after=N``: forward the request head and N bytes of its body upstream, then reset
  the client connection and drop the upstream one (the registry sees a truncated body).
- ``corrupt_at=N``: flip (xor 0xff) the response body byte at offset N (``-1``: the middle); the
  length is unchanged, so only a digest check can notice.
- ``throttle=B``: pace request and response bodies at B bytes/s.
- ``delay=S``: wait S seconds before forwarding.
- ``stall_request_after=N`` / ``stall_response_after=N``: after N body bytes, hold the exchange
  until :meth:`Rule.release` (``rule.stalled`` is set when it holds) -- a deterministic point to
  SIGKILL a client or restart the registry at. After the release the exchange continues; if the
  upstream connection died meanwhile, the client connection is reset. ``stall_request_after=0``
  holds the request before anything of it is forwarded (the registry has not seen it at all).

An upstream that cannot be reached (registry stopped) resets the client connection, as the dead
registry port itself would.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["FaultProxy", "Rule", "Exchange"]

_CHUNK = 64 * 1024
_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}
_ACTIONS = ("status", "reset_response_after", "cut_response_after", "reset_request_after", "corrupt_at", "throttle",
            "delay", "stall_request_after", "stall_response_after")


class _Reset(Exception):
    """Abort the exchange and reset the client connection."""


class _Cut(Exception):
    """End the client connection cleanly (FIN) in the middle of a response body."""


@dataclass
class Rule:
    """One fault. See the module docstring for the actions."""

    method: Optional[str]
    path: Optional[str]
    times: Optional[int] = 1
    skip: int = 0
    status: Optional[int] = None
    retry_after: Optional[str] = None
    body: Optional[bytes] = None
    headers: Optional[dict] = None
    reset_response_after: Optional[int] = None
    cut_response_after: Optional[int] = None
    reset_request_after: Optional[int] = None
    corrupt_at: Optional[int] = None
    throttle: Optional[float] = None
    delay: Optional[float] = None
    stall_request_after: Optional[int] = None
    stall_response_after: Optional[int] = None
    matched: int = 0
    hits: int = 0
    stalled: threading.Event = field(default_factory=threading.Event, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        self._regex = re.compile(self.path) if self.path else None
        self._reset_on_release = False

    def release(self, reset: bool = False) -> None:
        """Let a stalled exchange continue (``reset=True``: reset the client connection instead)."""
        self._reset_on_release = reset
        self._released.set()

    def describe(self) -> str:
        acts = [f"{a}={getattr(self, a)}" for a in _ACTIONS if getattr(self, a) is not None]
        return f"{self.method or '*'} {self.path or '*'} " + ",".join(acts)

    def _matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self._regex is None or bool(self._regex.search(path)))


@dataclass
class Exchange:
    """One request through the proxy."""

    method: str
    path: str
    request_headers: dict
    started: float
    status: Optional[int] = None
    response_headers: dict = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    fault: Optional[str] = None
    ended: Optional[float] = None
    #: headers the proxy added to the answer (the rate limit)
    extra_headers: list = field(default_factory=list)
    #: when the exchange stopped counting as in flight: just before its last bytes were sent (the
    #: client cannot be done with it earlier), or when it failed
    flight_ended: Optional[float] = None

    @property
    def range(self) -> Optional[str]:
        return self.request_headers.get("range")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5; an engine opening 16-32 connections at once would see
    # connections wait in SYN retransmits, which no real registry front end imposes
    request_queue_size = 128

    def __init__(self, address, proxy):
        self.proxy = proxy
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        pass  # a client that goes away mid-request is part of the game


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.proxy._serve(self.request)


class FaultProxy:
    """A reverse proxy to ``upstream`` (a :class:`support.registry.Registry` or ``"host:port"``)."""

    def __init__(self, upstream, bind: str = "127.0.0.1", port: int = 0, timeout: float = 120.0) -> None:
        self._upstream = upstream
        self.bind = bind
        self.port = port
        self.timeout = timeout
        self._rules: list[Rule] = []
        self._log: list[Exchange] = []
        self._lock = threading.Lock()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._sockets: set = set()
        self._in_flight = 0
        self.peak_in_flight = 0
        self._budget: Optional[dict] = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def upstream(self) -> str:
        up = self._upstream
        return up if isinstance(up, str) else up.host

    @property
    def host(self) -> str:
        return f"{self.bind}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> "FaultProxy":
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.bind, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"faultproxy-{self.port}",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, release every stall and close every open connection."""
        if self._server is None:
            return
        self._stopping.set()
        for rule in list(self._rules):
            rule.release()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = list(self._sockets)
        for sock in socks:
            _close(sock)
        self._thread.join(5)
        self._server = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- rules and accounting ---------------------------------------------------------------------

    def add_rule(self, method: Optional[str] = None, path: Optional[str] = None, *, times: Optional[int] = 1,
                 skip: int = 0, **action) -> Rule:
        unknown = set(action) - set(_ACTIONS) - {"retry_after", "body", "headers"}
        if unknown:
            raise TypeError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        if not any(action.get(a) is not None for a in _ACTIONS):
            raise TypeError(f"a rule needs one of: {', '.join(_ACTIONS)}")
        if action.get("retry_after") is not None:
            action["retry_after"] = str(action["retry_after"])
        rule = Rule(method, path, times=times, skip=skip, **action)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        with self._lock:
            rules, self._rules = self._rules, []
        for rule in rules:
            rule.release()

    def mark(self) -> int:
        with self._lock:
            return len(self._log)

    def exchanges(self, method: Optional[str] = None, path: Optional[str] = None, *, since: int = 0,
                  status: Optional[int] = None) -> list[Exchange]:
        """Requests seen (complete or not), oldest first, filtered like ``Registry.filter``."""
        regex = re.compile(path) if path else None
        with self._lock:
            log = list(self._log[since:])
        return [e for e in log if (method is None or e.method == method)
                and (regex is None or regex.search(e.path)) and (status is None or e.status == status)]

    def bytes_out(self, method: Optional[str] = None, path: Optional[str] = None, *, since: int = 0) -> int:
        """Response body bytes sent to clients by matching exchanges."""
        return sum(e.bytes_out for e in self.exchanges(method, path, since=since))

    def bytes_in(self, method: Optional[str] = None, path: Optional[str] = None, *, since: int = 0) -> int:
        """Request body bytes received from clients by matching exchanges."""
        return sum(e.bytes_in for e in self.exchanges(method, path, since=since))

    def _land(self, exchange: Exchange) -> None:
        """The exchange is no longer in flight (once)."""
        with self._lock:
            if exchange.flight_ended is None:
                exchange.flight_ended = time.monotonic()
                self._in_flight -= 1

    def reset_peak(self) -> None:
        with self._lock:
            self.peak_in_flight = self._in_flight

    def rate_limit(self, limit: Optional[int], window: float = 1.0, style: str = "ietf") -> None:
        """Answer as a registry with a rate limit of *limit* requests per *window* seconds
        (None: no limit). *style*: ``ietf`` (``RateLimit-*``, reset in seconds), ``x``
        (``X-RateLimit-*``, reset in epoch seconds), ``docker`` (``ratelimit-remaining: N;w=S``)."""
        with self._lock:
            self._budget = None if limit is None else {"limit": limit, "window": window, "style": style,
                                                       "start": None, "used": 0}

    def _take_budget(self) -> tuple[list, Optional[int]]:
        """The rate-limit headers of the next answer, and the Retry-After of a 429 (None: go on)."""
        with self._lock:
            budget = self._budget
            if budget is None:
                return [], None
            now = time.monotonic()
            if budget["start"] is None or now >= budget["start"] + budget["window"]:
                budget["start"], budget["used"] = now, 0
            budget["used"] += 1
            left = budget["start"] + budget["window"] - now
            reset = max(1, int(-(-left // 1)))
            remaining = max(0, budget["limit"] - budget["used"])
            over = budget["used"] > budget["limit"]
            style, limit, window = budget["style"], budget["limit"], budget["window"]
        if style == "docker":
            headers = [("RateLimit-Limit", f"{limit};w={window:g}"),
                       ("RateLimit-Remaining", f"{remaining};w={window:g}")]
        elif style == "x":
            headers = [("X-RateLimit-Limit", str(limit)), ("X-RateLimit-Remaining", str(remaining)),
                       ("X-RateLimit-Reset", str(int(time.time() + left) + 1))]
        else:
            headers = [("RateLimit-Limit", str(limit)), ("RateLimit-Remaining", str(remaining)),
                       ("RateLimit-Reset", str(reset))]
        return headers, (reset if over else None)

    def _pick(self, method: str, path: str) -> Optional[Rule]:
        with self._lock:
            for rule in self._rules:
                if not rule._matches(method, path):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                rule.hits += 1
                return rule
        return None

    # -- the work -------------------------------------------------------------------------------

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._sockets.add(client)
        client.settimeout(self.timeout)
        rfile = client.makefile("rb")
        try:
            while not self._stopping.is_set():
                head = _read_head(rfile)
                if head is None:
                    return
                method, target, _version, headers = head
                exchange = Exchange(method, target, {k.lower(): v for k, v in headers}, time.monotonic())
                with self._lock:
                    self._log.append(exchange)
                    self._in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
                rule = self._pick(method, target)
                if rule is not None:
                    exchange.fault = rule.describe()
                exchange.extra_headers, retry_after = self._take_budget()
                if retry_after is not None and (rule is None or rule.status is None):
                    rule = Rule(None, None, status=429, retry_after=str(retry_after))
                    exchange.fault = "rate limit: 429"
                upstream = None
                try:
                    if rule is not None and rule.status is not None:
                        keep = self._answer(client, rfile, rule, exchange, method, headers)
                    else:
                        # a fresh upstream connection per request: a registry restarted between
                        # two requests is reached again (as behind a load balancer); only a
                        # restart *during* a request breaks that request
                        upstream = http.client.HTTPConnection(self.upstream, timeout=self.timeout)
                        keep = self._forward(client, rfile, upstream, method, target, headers, rule, exchange)
                except _Cut:
                    rfile.close()
                    _cut(client)
                    return
                except (_Reset, OSError, http.client.HTTPException, ValueError):
                    rfile.close()  # the socket really closes only once its makefile is closed too
                    _reset(client)
                    return
                finally:
                    exchange.ended = time.monotonic()
                    self._land(exchange)
                    if upstream is not None:
                        upstream.close()
                if not keep:
                    return
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(client)
            rfile.close()
            _close(client)

    def _forward(self, client, rfile, upstream, method, target, headers, rule, exchange) -> bool:
        lower = {k.lower(): v for k, v in headers}
        chunked = "chunked" in lower.get("transfer-encoding", "").lower()
        client_close = lower.get("connection", "").lower() == "close"
        if rule is not None and rule.delay:
            time.sleep(rule.delay)
        if rule is not None and rule.stall_request_after == 0:
            self._stall(rule)  # hold the whole request: the registry has not seen any of it

        upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            if name.lower() in _HOP or name.lower() == "transfer-encoding":
                continue
            upstream.putheader(name, value)
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        upstream.endheaders()
        sent = 0
        for chunk in _body_reader(rfile, headers):
            chunk, cut = self._pace_request(rule, exchange, sent, chunk)
            exchange.bytes_in += len(chunk)
            sent += len(chunk)
            if chunk:
                upstream.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if cut:
                raise _Reset()
            if rule is not None and rule.stall_request_after is not None \
                    and sent >= rule.stall_request_after and not rule.stalled.is_set():
                self._stall(rule)
        if chunked:
            upstream.send(b"0\r\n\r\n")
        resp = upstream.getresponse()

        # relay the response
        exchange.status = resp.status  # what the registry answered (also when the client never sees it)
        exchange.response_headers = {k.lower(): v for k, v in resp.getheaders()}
        if rule is not None and rule.reset_response_after == 0:
            raise _Reset()  # the registry did the work, the client never hears of it
        resp_chunked = "chunked" in exchange.response_headers.get("transfer-encoding", "").lower()
        no_body = method == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        if not (no_body or resp_chunked or "content-length" in exchange.response_headers):
            client_close = True  # a body delimited by the end of the connection
        lines = [f"HTTP/1.1 {resp.status} {resp.reason}"]
        lines += [f"{name}: {value}" for name, value in resp.getheaders() if name.lower() not in _HOP]
        lines += [f"{name}: {value}" for name, value in exchange.extra_headers]
        if client_close:
            lines.append("Connection: close")
        total = None if resp_chunked else int(exchange.response_headers.get("content-length") or 0)
        if no_body or total == 0:
            self._land(exchange)
        client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if no_body:
            return not client_close
        corrupt_at = None
        if rule is not None and rule.corrupt_at is not None:
            corrupt_at = rule.corrupt_at if rule.corrupt_at >= 0 else (total or 0) // 2
        sent = 0
        while True:
            chunk = resp.read1(_CHUNK)
            if not chunk:
                break
            if corrupt_at is not None and sent <= corrupt_at < sent + len(chunk):
                i = corrupt_at - sent
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1:]
            limits = ((rule.reset_response_after, _Reset), (rule.cut_response_after, _Cut)) if rule else ()
            for limit, error in limits:
                if limit is not None and sent + len(chunk) >= limit:
                    self._send_body(client, chunk[: max(0, limit - sent)], resp_chunked, rule, exchange)
                    raise error()
            self._send_body(client, chunk, resp_chunked, rule, exchange)
            sent += len(chunk)
            if rule is not None and rule.stall_response_after is not None \
                    and sent >= rule.stall_response_after and not rule.stalled.is_set():
                self._stall(rule)
        if total is not None and sent < total:
            raise _Reset()  # the registry went away mid-body: so does the client's connection
        if resp_chunked:
            self._land(exchange)
            client.sendall(b"0\r\n\r\n")
        return not client_close

    def _pace_request(self, rule, exchange, sent, chunk):
        """Apply request-side faults to one chunk: (bytes to forward, reset after them?)."""
        if rule is None:
            return chunk, False
        if rule.reset_request_after is not None and sent + len(chunk) >= rule.reset_request_after:
            return chunk[: max(0, rule.reset_request_after - sent)], True
        if rule.throttle:
            _throttle(rule.throttle, exchange.started, sent + len(chunk))
        return chunk, False

    def _send_body(self, client, data, chunked, rule, exchange):
        step = _CHUNK
        if rule is not None and rule.throttle:
            step = max(1024, min(_CHUNK, int(rule.throttle // 20)))
        for i in range(0, len(data), step):
            piece = data[i:i + step]
            if rule is not None and rule.throttle:
                _throttle(rule.throttle, exchange.started, exchange.bytes_out + len(piece))
            total = exchange.response_headers.get("content-length")
            if not chunked and total is not None and exchange.bytes_out + len(piece) >= int(total):
                self._land(exchange)  # the last bytes: the client may be done as soon as they arrive
            client.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            exchange.bytes_out += len(piece)

    def _stall(self, rule: Rule) -> None:
        rule.stalled.set()
        while not rule._released.wait(0.05):
            if self._stopping.is_set():
                raise _Reset()
        if rule._reset_on_release:
            raise _Reset()

    def _answer(self, client, rfile, rule, exchange, method, headers) -> bool:
        if rule.delay:
            time.sleep(rule.delay)
        for chunk in _body_reader(rfile, headers):
            exchange.bytes_in += len(chunk)
        status = rule.status
        reason = http.client.responses.get(status, "Injected")
        body = rule.body
        if body is None:
            code = {429: "TOOMANYREQUESTS"}.get(status, "UNAVAILABLE")
            body = json.dumps({"errors": [{"code": code, "message": f"injected by the fault proxy ({status})",
                                           "detail": None}]}).encode()
        out = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
               ("Docker-Distribution-Api-Version", "registry/2.0")]
        if rule.retry_after is not None:
            out.append(("Retry-After", rule.retry_after))
        out.extend((rule.headers or {}).items())
        out += exchange.extra_headers
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in out) + "\r\n"
        # recorded before the answer leaves: a client done with it may read the log at once
        exchange.status = status
        exchange.response_headers = {k.lower(): v for k, v in out}
        exchange.bytes_out = 0 if method == "HEAD" else len(body)
        self._land(exchange)
        client.sendall(head.encode("latin-1") + (b"" if method == "HEAD" else body))
        return {k.lower(): v for k, v in headers}.get("connection", "").lower() != "close"


def _throttle(rate: float, started: float, total: int) -> None:
    due = started + total / rate
    wait = due - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def _read_head(rfile):
    """(method, target, version, [(name, value)]) of the next request, or None at EOF."""
    line = rfile.readline(65537)
    while line in (b"\r\n", b"\n"):
        line = rfile.readline(65537)
    if not line:
        return None
    try:
        method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    except ValueError:
        return None
    if not method.isalpha() or not method.isupper() or not version.startswith("HTTP/"):
        return None  # not HTTP (for example a TLS probe of a client that tries https first)
    headers = []
    while True:
        raw = rfile.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _sep, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return method, target, version, headers


def _body_reader(rfile, headers):
    """Yield the decoded request body in chunks; a body cut short (the client died) resets."""
    lower = {k.lower(): v for k, v in headers}
    if "chunked" in lower.get("transfer-encoding", "").lower():
        while True:
            size_line = rfile.readline(1024)
            if not size_line:
                raise _Reset()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            remaining = size
            while remaining:
                data = rfile.read1(min(_CHUNK, remaining))
                if not data:
                    raise _Reset()
                remaining -= len(data)
                yield data
            rfile.readline(1024)
    remaining = int(lower.get("content-length") or 0)
    while remaining > 0:
        data = rfile.read1(min(_CHUNK, remaining))
        if not data:
            raise _Reset()
        remaining -= len(data)
        yield data


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _close(sock)


def _cut(sock: socket.socket) -> None:
    """Send FIN after what was sent (the client reads all of it, then the end of the stream), wait
    briefly for the client to close its side, then close."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(2)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
