"""A simulated network link: a TCP proxy in front of a real registry that adds latency in each
direction and shares one bandwidth limit per direction between all its connections.

``Link(upstream, profile).start()`` listens on a free loopback port; clients use ``link.host``
instead of the registry's address. It forwards bytes, not requests (the ``Host`` header passes
unchanged, so the upload ``Location`` URLs the registry builds point back at the link). Each chunk
read from one side is queued for the other side; it leaves when the direction's pipe has
transmitted it (``size / bandwidth`` after the pipe is free: all connections share the pipe, as
they share a real line) and arrives half a round trip later. A new connection carries no data
before its set-up cost, ``setup_rtts`` round trips (2 in the profiles: TCP's handshake and TLS
1.3's, which the client did not have to make on loopback).

Not the test bed's ``support.faultproxy.FaultProxy``: that one paces each HTTP exchange on its
own, with a thread per connection; a link is one pipe for every connection at once.
The proxy runs an asyncio loop in a thread of the bench process (its CPU is the bench's, small
next to the registries': a few hundred 64 KiB chunks per second).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, replace

_CHUNK = 64 * 1024
_QUEUE = 64  # chunks in flight per direction and connection (4 MiB): backpressure beyond that


@dataclass(frozen=True)
class LinkProfile:
    """A link: round-trip time (seconds), bandwidth per direction (bits per second, shared by
    every connection) and the set-up cost of a new connection (round trips before its first
    byte); a bandwidth of 0 is the loopback itself (no link in front of the registries)."""

    name: str
    rtt: float
    bandwidth: float
    setup_rtts: float = 0.0

    @property
    def simulated(self) -> bool:
        return self.bandwidth > 0

    @property
    def setup_seconds(self) -> float:
        """What a new connection waits before it carries data."""
        return self.setup_rtts * self.rtt

    def with_setup(self, rtts: float | None) -> LinkProfile:
        """The same link with another connection set-up cost (None: unchanged)."""
        return self if rtts is None else replace(self, setup_rtts=rtts)

    def describe(self) -> str:
        if not self.simulated:
            return "loopback (no simulated link)"
        return "%s: %.0f ms round trip, %.0f Mbit/s each way (shared), %g round trips per new connection" % (
            self.name, self.rtt * 1000, self.bandwidth / 1e6, self.setup_rtts)

    def transfer_seconds(self, nbytes: int) -> float:
        """Seconds to push ``nbytes`` through one direction of the link (0 on loopback)."""
        return nbytes * 8 / self.bandwidth if self.simulated else 0.0


PROFILES = {
    "loopback": LinkProfile("loopback", 0.0, 0.0),
    "wan": LinkProfile("wan", 0.040, 200e6, 2),
    "far": LinkProfile("far", 0.150, 50e6, 2),
}


class Counters:
    """What crossed a link since the last ``reset()`` (bytes include HTTP heads)."""

    def __init__(self) -> None:
        self.bytes_up = self.bytes_down = self.connections = 0

    def reset(self) -> None:
        self.bytes_up = self.bytes_down = self.connections = 0

    def snapshot(self) -> dict[str, int]:
        return {"bytes_up": self.bytes_up, "bytes_down": self.bytes_down, "connections": self.connections}


class _Pipe:
    """One direction of the link: chunks leave one after another at the link's bandwidth."""

    def __init__(self, profile: LinkProfile) -> None:
        self.bytes_per_second = profile.bandwidth / 8
        self.one_way = profile.rtt / 2
        self.busy_until = 0.0

    def arrival(self, size: int, now: float, not_before: float) -> float:
        """When a chunk of ``size`` bytes read at ``now`` reaches the other side."""
        start = max(now, self.busy_until, not_before)
        self.busy_until = start + size / self.bytes_per_second
        return self.busy_until + self.one_way


class Link:
    """The proxy: ``start()``, use ``host``, ``stop()``; ``counters`` for accounting."""

    def __init__(self, upstream: str, profile: LinkProfile) -> None:
        self.upstream = upstream
        self.profile = profile
        self.counters = Counters()
        self.port = 0
        self._up = _Pipe(profile)
        self._down = _Pipe(profile)
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt: asyncio.Future[None] | None = None
        self._conns: set[asyncio.Task[None]] = set()

    @property
    def host(self) -> str:
        return "127.0.0.1:%d" % self.port

    def start(self) -> Link:
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True,
                                        name="link-%s" % self.upstream)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the link proxy to %s did not start" % self.upstream)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._halt is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._halt.set_result, None)
        if self._thread is not None:
            self._thread.join(10)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._halt = self._loop.create_future()
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._halt
        finally:
            server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        self.counters.connections += 1
        loop = asyncio.get_running_loop()
        handshake_done = loop.time() + self.profile.setup_seconds
        name, port = self.upstream.rsplit(":", 1)
        try:
            up_reader, up_writer = await asyncio.open_connection(name, int(port))
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(self._pump(reader, up_writer, self._up, handshake_done, "bytes_up"),
                                 self._pump(up_reader, writer, self._down, handshake_done, "bytes_down"))
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass  # a peer went away, or the link is stopping
        finally:
            for side in (writer, up_writer):
                side.close()
            if task is not None:
                self._conns.discard(task)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, pipe: _Pipe, not_before: float,
                    counter: str) -> None:
        """Copies ``src`` to ``dst``, each chunk arriving when the pipe delivers it; at the end
        of ``src`` half-closes ``dst``. An error on either side closes both."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(maxsize=_QUEUE)

        async def deliver() -> None:
            while (item := await queue.get()) is not None:
                when, data = item
                if when > loop.time():
                    await asyncio.sleep(when - loop.time())
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()

        writer_task = asyncio.ensure_future(deliver())
        try:
            while data := await src.read(_CHUNK):
                setattr(self.counters, counter, getattr(self.counters, counter) + len(data))
                await queue.put((pipe.arrival(len(data), loop.time(), not_before), data))
                if writer_task.done():
                    break
        finally:
            if not writer_task.done():
                await queue.put(None)
        await writer_task
