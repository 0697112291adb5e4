# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Per-registry limits: how many requests may be in flight to one registry at once
(``connections``), how many may start per second (``requests_per_second``, a token bucket), and
the pauses a registry asks for in its rate-limit headers before it would answer 429.

A :class:`HostLimiter` guards every request a registry's client sends (see
``Transport._send``): it waits for a connection slot first, then for the end of a pause the
registry's headers asked for, then for a token; the slot is held until the response is closed
(a streamed blob download holds it until its last byte); a request sent by a thread that holds a
slot of the same registry already (a blob copied within one registry: the download feeds the
upload) goes within that slot. Each registry has its own limiter, so
a tight limit on a source never delays the requests to the destination; the run's thread pool
(``concurrency``) is shared, though: a worker waiting for a source's slot or token is a worker
not copying anything else.

No Ansible and no httpx here: clocks and waits are injected, so the arithmetic is tested without
sleeping."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Optional

from ..._common.errors import UserError
from ..._oci import reference as _ref

#: the longest pause a registry's rate-limit headers can impose on one request (seconds)
MAX_HEADER_WAIT = 300.0
#: a reset value above this is a point in time (epoch seconds, GitHub style), not a delay
EPOCH_THRESHOLD = 10 ** 9
#: the key of ``registry_limits`` that applies to every registry without a key of its own
DEFAULT_KEY = "default"

Clock = Callable[[], float]
#: waits the given seconds (raises when the run is cancelled or its deadline would pass)
Wait = Callable[[float], None]


class LimitError(UserError):
    """``registry_limits`` that cannot work; the message names the key."""


@dataclasses.dataclass(frozen=True)
class HostLimit:
    """The limits of one registry: None is no limit."""

    connections: Optional[int] = None
    requests_per_second: Optional[float] = None

    @property
    def burst(self) -> float:
        """How many requests may start at once after a quiet spell: one second's worth, at least one."""
        rate = self.requests_per_second
        return float(max(1, math.ceil(rate))) if rate else 0.0

    @classmethod
    def parse(cls, key: str, value: Any) -> HostLimit:
        """The limit given as ``registry_limits[key]``."""
        where = "registry_limits.%s" % key
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise LimitError("%s must be a dictionary with connections and/or requests_per_second, not %r"
                             % (where, value))
        unknown = sorted(str(k) for k in value if k not in ("connections", "requests_per_second"))
        if unknown:
            raise LimitError("%s has unknown keys %s: it takes connections and requests_per_second"
                             % (where, ", ".join(unknown)))
        connections = value.get("connections")
        if connections is not None:
            if isinstance(connections, bool) or not _is_int(connections) or int(connections) < 1:
                raise LimitError("%s.connections must be a whole number of at least 1, not %r" % (where, connections))
            connections = int(connections)
        raw = value.get("requests_per_second")
        rate = None
        if raw is not None:
            rate = _number(raw)
            if rate is None or not 0 < rate < math.inf:
                raise LimitError("%s.requests_per_second must be a number above 0 (fractions allowed), not %r"
                                 % (where, raw))
        return cls(connections, rate)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _is_int(value: Any) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.strip().isdigit()


@dataclasses.dataclass(frozen=True)
class RegistryLimits:
    """``registry_limits``: a :class:`HostLimit` per canonical registry name, and the default."""

    hosts: Mapping[str, HostLimit] = dataclasses.field(default_factory=dict)
    default: HostLimit = HostLimit()

    def for_registry(self, registry: str) -> HostLimit:
        return self.hosts.get(registry, self.default)

    @classmethod
    def parse(cls, value: Mapping[str, Any] | None) -> RegistryLimits:
        """The limits of the option's value (``{host[:port]: {...}, default: {...}}``); registry
        names in any spelling (``registry-1.docker.io`` is ``docker.io``). Raises
        :class:`LimitError` naming the key at fault."""
        if not value:
            return cls()
        if not isinstance(value, Mapping):
            raise LimitError("registry_limits must be a dictionary of registry names, not %r" % (value,))
        hosts: dict[str, HostLimit] = {}
        default = HostLimit()
        spelled: dict[str, str] = {}
        for key, limit in value.items():
            name = str(key).strip()
            if name == DEFAULT_KEY:
                default = HostLimit.parse(name, limit)
                continue
            if not name or "/" in name or "@" in name or " " in name:
                raise LimitError("registry_limits key %r is not a registry host[:port]" % (key,))
            canonical = _ref.normalize_registry(name)
            if canonical in spelled:
                raise LimitError("registry_limits keys %r and %r name the same registry %s"
                                 % (spelled[canonical], name, canonical))
            spelled[canonical] = name
            hosts[canonical] = HostLimit.parse(name, limit)
        return cls(hosts, default)


class TokenBucket:
    """*rate* tokens a second, at most *burst* saved up; one request takes one token.

    :meth:`reserve` takes a token at once and says how long to wait before using it, so waiters
    are served in turn: in any span of T seconds at most ``burst + rate * T`` requests start."""

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a rate above 0 and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; the seconds to wait before it may be used (0.0: now)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


@dataclasses.dataclass(frozen=True)
class RateLimitInfo:
    """What a registry's rate-limit headers said: requests *remaining*, seconds to the *reset*
    (None: not said), the *window* of a Docker Hub style ``100;w=21600`` value."""

    remaining: int
    reset: Optional[float] = None
    window: Optional[float] = None


def _first_number(value: str | None) -> tuple[float | None, float | None]:
    """The number of a header value, and its ``w=`` window: ``100;w=21600`` -> (100, 21600);
    the first item of a list counts."""
    if value is None:
        return None, None
    item = value.split(",")[0]
    parts = [p.strip() for p in item.split(";")]
    try:
        number = float(parts[0])
    except ValueError:
        return None, None
    window = None
    for param in parts[1:]:
        name, _sep, val = param.partition("=")
        if name.strip().lower() == "w":
            try:
                window = float(val)
            except ValueError:
                window = None
    return (number if number >= 0 and not math.isinf(number) else None), window


def parse_rate_limit(headers: Mapping[str, str], now: float) -> RateLimitInfo | None:
    """The rate-limit state of a response's *headers* (``RateLimit-Remaining``/``-Reset``: reset
    in seconds; ``X-RateLimit-*``: a reset above 10^9 is epoch seconds; Docker Hub's
    ``ratelimit-remaining: 100;w=21600``), None without a remaining count. *now* is the epoch time
    (``time.time()``) an epoch reset is measured from."""
    lowered = {str(k).lower(): v for k, v in headers.items()}
    for prefix in ("ratelimit-", "x-ratelimit-"):
        remaining, window = _first_number(lowered.get(prefix + "remaining"))
        if remaining is None:
            continue
        reset, _unused = _first_number(lowered.get(prefix + "reset"))
        if reset is not None and reset > EPOCH_THRESHOLD:
            reset = max(0.0, reset - now)
        return RateLimitInfo(int(remaining), reset, window)
    return None


#: per thread: how many connection slots (of any registry) it holds now
_HELD_ANYWHERE = threading.local()


def _held_anywhere() -> list[int]:
    return _HELD_ANYWHERE.__dict__.setdefault("held", [0])


class Slot:
    """A request's place among the connections of a registry: :meth:`release` (once) when its
    response is closed."""

    __slots__ = ("_sem", "_held", "_anywhere", "_lock", "_released")

    def __init__(self, sem: threading.Semaphore | None, held: list[int] | None = None) -> None:
        self._sem = sem
        self._held = held
        self._anywhere = _held_anywhere() if held is not None else None
        self._lock = threading.Lock()
        self._released = sem is None and held is None
        if held is not None:
            held[0] += 1
        if self._anywhere is not None:
            self._anywhere[0] += 1

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        if self._held is not None:
            self._held[0] -= 1
        if self._anywhere is not None:
            self._anywhere[0] -= 1
        if self._sem is not None:
            self._sem.release()


class HostLimiter:
    """The limits of one registry while a run goes: connection slots, the token bucket, the
    pause its rate-limit headers asked for, and the seconds requests waited for them.

    *clock* is monotonic, *epoch* the wall clock (for epoch resets); *notify* gets a message when
    a registry's headers make the run wait or say the limit is almost used up."""

    def __init__(self, registry: str, limit: HostLimit | None = None, clock: Clock = time.monotonic,
                 epoch: Clock = time.time, notify: Callable[[str, float], None] | None = None) -> None:
        self.registry = registry
        self.limit = limit or HostLimit()
        self._clock = clock
        self._epoch = epoch
        self.notify = notify
        self._sem = threading.Semaphore(self.limit.connections) if self.limit.connections else None
        rate = self.limit.requests_per_second
        self._bucket = TokenBucket(rate, self.limit.burst, clock) if rate else None
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._warned_no_reset = False
        self._local = threading.local()
        self.waited = 0.0
        #: downloads that went over the connection limit to feed an upload in progress
        self.over_limit = 0

    @property
    def low_water(self) -> int:
        """A registry saying this many requests remain (or fewer) is waited for until its reset:
        as many requests as may be in flight at once."""
        return self.limit.connections or 1

    def acquire(self, wait: Wait, poll: float = 0.5, download: bool = False) -> Slot:
        """Wait for a connection slot, the end of a pause and a token; the slot to release when the
        response is closed. *wait(seconds)* sleeps (and raises to give up: cancelled, deadline);
        a wait for a slot calls it with 0 every *poll* seconds.

        Connections are taken source first (the download, then the upload it feeds). A *download*
        opened by a thread that already holds another registry's slot re-opens the source of an
        upload in progress (after a broken stream): it must not wait for a slot, which threads
        holding this registry's slots while they wait for the upload's registry may never free.
        When none is free it goes over the limit by one, for the length of that download."""
        started = self._clock()
        slot = Slot(None)
        waited = False
        try:
            if self._sem is not None:
                held: list[int] = self._local.__dict__.setdefault("held", [0])
                if held[0] > 0:
                    # this thread holds a slot of this registry already (the download feeding an
                    # upload to the same registry): waiting for another could wait forever
                    slot = Slot(None, held)
                elif not self._sem.acquire(blocking=False):
                    if download and _held_anywhere()[0] > 0:
                        self.over_limit += 1
                        slot = Slot(None, held)  # over the limit by one: see the docstring
                    else:
                        waited = True
                        while not self._sem.acquire(timeout=poll):
                            wait(0.0)
                        slot = Slot(self._sem, held)
                else:
                    slot = Slot(self._sem, held)
            with self._lock:
                pause = self._paused_until - self._clock()
            if pause > 0:
                waited = True
                wait(pause)
            if self._bucket is not None:
                delay = self._bucket.reserve()
                if delay > 0:
                    waited = True
                    wait(delay)
        except BaseException:
            slot.release()
            raise
        finally:
            if waited:
                spent = self._clock() - started
                with self._lock:
                    self.waited += max(0.0, spent)
        return slot

    def observe(self, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Take note of a response's rate-limit headers: with few requests left and a reset
        given, the next requests wait until it (at most :data:`MAX_HEADER_WAIT` seconds)."""
        info = parse_rate_limit(headers, self._epoch())
        if info is None or info.remaining > self.low_water:
            return info
        message = None
        seconds = 0.0
        with self._lock:
            if info.reset is not None and info.reset > 0:
                seconds = min(info.reset, MAX_HEADER_WAIT)
                now = self._clock()
                if now + seconds > self._paused_until + 1.0:
                    if self._paused_until <= now:
                        message = ("%s: the registry's rate limit has %d requests left; waiting %.1fs for it to "
                                   "reset" % (self.registry, info.remaining, seconds))
                        if info.reset > MAX_HEADER_WAIT:
                            message += " (it said %.0fs; waiting at most %.0fs)" % (info.reset, MAX_HEADER_WAIT)
                    self._paused_until = now + seconds
            elif not self._warned_no_reset:
                self._warned_no_reset = True
                message = ("%s: the registry's rate limit has %d requests left%s and no reset time; further requests "
                           "may be refused with 429 (see registry_limits)"
                           % (self.registry, info.remaining,
                              " in a window of %.0fs" % info.window if info.window else ""))
        if message and self.notify is not None:
            self.notify(message, seconds)
        return info


class Limiters:
    """The :class:`HostLimiter` of every registry of a run (created on first use) and what the
    registries' headers made it say (:attr:`messages`, for the run's warnings)."""

    def __init__(self, limits: RegistryLimits | None = None, clock: Clock = time.monotonic,
                 epoch: Clock = time.time) -> None:
        self.limits = limits or RegistryLimits()
        self._clock = clock
        self._epoch = epoch
        self._lock = threading.Lock()
        self._hosts: dict[str, HostLimiter] = {}
        self.messages: list[str] = []
        #: called with (registry message, seconds of the pause) besides recording the message
        self.listener: Callable[[str, float], None] | None = None

    def get(self, registry: str) -> HostLimiter:
        with self._lock:
            limiter = self._hosts.get(registry)
            if limiter is None:
                limiter = self._hosts[registry] = HostLimiter(
                    registry, self.limits.for_registry(registry), self._clock, self._epoch, self._note)
            return limiter

    def _note(self, message: str, seconds: float) -> None:
        with self._lock:
            self.messages.append(message)
        listener = self.listener
        if listener is not None:
            try:
                listener(message, seconds)
            except Exception:  # pylint: disable=broad-except  # progress must never fail a request
                pass

    def waited(self) -> dict[str, float]:
        """``{registry: seconds its requests waited for its limits}`` for every registry used."""
        with self._lock:
            hosts = dict(self._hosts)
        return {name: round(hosts[name].waited, 3) for name in sorted(hosts)}
