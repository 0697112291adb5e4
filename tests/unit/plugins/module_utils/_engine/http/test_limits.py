"""Per-registry limits: the token bucket, the rate-limit headers, the option, with a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.limits import (
    MAX_HEADER_WAIT, HostLimit, HostLimiter, LimitError, Limiters, RegistryLimits, TokenBucket, parse_rate_limit)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


# ---------------------------------------------------------------- token bucket

def test_bucket_gives_its_burst_at_once_then_paces_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(5.0, 5.0, clock)
    assert [bucket.reserve() for _unused in range(5)] == [0.0] * 5
    # reservations queue up: the 6th waits 1/5 s, the 7th 2/5 s...
    assert [round(bucket.reserve(), 6) for _unused in range(3)] == [0.2, 0.4, 0.6]


def test_bucket_refills_with_time_but_not_above_the_burst():
    clock = FakeClock()
    bucket = TokenBucket(2.0, 2.0, clock)
    bucket.reserve()
    bucket.reserve()
    clock.now += 0.5  # one token back
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)
    clock.now += 100  # a long quiet spell saves no more than the burst
    assert [bucket.reserve() for _unused in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)


def test_bucket_fractional_rate():
    clock = FakeClock()
    bucket = TokenBucket(0.5, 1.0, clock)
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(2.0)
    assert bucket.reserve() == pytest.approx(4.0)


@pytest.mark.parametrize("rate", [0.5, 3.0, 10.0])
def test_bucket_never_starts_more_than_burst_plus_rate_times_span(rate):
    """Requests started at the times the bucket gives: any span of T seconds holds at most
    burst + rate * T of them."""
    clock = FakeClock(0.0)
    limit = HostLimit(requests_per_second=rate)
    bucket = TokenBucket(rate, limit.burst, clock)
    starts = []
    for _unused in range(200):
        starts.append(clock.now + bucket.reserve())
        clock.now += 0.01  # callers keep asking faster than the rate
    for i, first in enumerate(starts):
        for j in range(i, len(starts)):
            span = starts[j] - first
            assert j - i + 1 <= limit.burst + rate * span + 1e-9


def test_burst_is_one_seconds_worth_at_least_one():
    assert HostLimit(requests_per_second=5).burst == 5
    assert HostLimit(requests_per_second=2.5).burst == 3
    assert HostLimit(requests_per_second=0.01).burst == 1
    assert HostLimit().burst == 0


# ---------------------------------------------------------------- headers

@pytest.mark.parametrize("headers, expected", [
    ({"RateLimit-Remaining": "7", "RateLimit-Reset": "30"}, (7, 30.0, None)),
    ({"ratelimit-remaining": "0", "ratelimit-reset": "2.5"}, (0, 2.5, None)),
    ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1700000060"}, (3, 60.0, None)),  # epoch
    ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "45"}, (3, 45.0, None)),
    ({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600"}, (76, None, 21600.0)),
    ({"RateLimit-Remaining": "5, 50"}, (5, None, None)),  # a list: the first policy
])
def test_parse_rate_limit(headers, expected):
    info = parse_rate_limit(headers, now=1700000000.0)
    assert info is not None
    assert (info.remaining, info.reset, info.window) == expected


@pytest.mark.parametrize("headers", [
    {}, {"RateLimit-Reset": "3"}, {"RateLimit-Remaining": "many"}, {"RateLimit-Remaining": "-1"},
    {"Content-Type": "application/json"},
])
def test_parse_rate_limit_without_a_count(headers):
    assert parse_rate_limit(headers, now=0.0) is None


def test_epoch_reset_in_the_past_is_no_wait():
    info = parse_rate_limit({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1600000000"}, now=1700000000.0)
    assert info is not None and info.reset == 0.0


# ---------------------------------------------------------------- the limiter of one registry

def test_limiter_without_limits_never_waits():
    clock = FakeClock()
    limiter = HostLimiter("r.example", None, clock, clock)
    for _unused in range(100):
        limiter.acquire(clock.wait).release()
    assert clock.waits == [] and limiter.waited == 0.0


def test_limiter_waits_for_tokens_and_counts_the_wait():
    clock = FakeClock()
    limiter = HostLimiter("r.example", HostLimit(requests_per_second=2), clock, clock)
    for _unused in range(4):
        limiter.acquire(clock.wait).release()
    assert clock.waits == [pytest.approx(0.5), pytest.approx(0.5)]
    assert limiter.waited == pytest.approx(1.0)


def test_headers_with_few_left_pause_the_next_requests_until_reset():
    clock = FakeClock()
    notes = []
    limiter = HostLimiter("r.example", HostLimit(connections=2), clock, lambda: 1700000000.0,
                          lambda message, seconds: notes.append((message, seconds)))
    limiter.observe({"RateLimit-Remaining": "10", "RateLimit-Reset": "20"})
    limiter.acquire(clock.wait).release()
    assert clock.waits == []  # plenty left
    limiter.observe({"RateLimit-Remaining": "2", "RateLimit-Reset": "20"})  # <= connections
    assert len(notes) == 1 and "2 requests left" in notes[0][0] and notes[0][1] == 20.0
    limiter.acquire(clock.wait).release()
    assert clock.waits == [pytest.approx(20.0)]
    limiter.acquire(clock.wait).release()  # the pause is over
    assert len(clock.waits) == 1
    assert limiter.waited == pytest.approx(20.0)


def test_header_pause_is_capped():
    clock = FakeClock()
    notes = []
    limiter = HostLimiter("r.example", None, clock, lambda: 1700000000.0,
                          lambda message, seconds: notes.append(message))
    limiter.observe({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(1700000000 + 7200)})
    limiter.acquire(clock.wait).release()
    assert clock.waits == [MAX_HEADER_WAIT]
    assert "at most" in notes[0]


def test_header_without_reset_warns_once_and_does_not_wait():
    clock = FakeClock()
    notes = []
    limiter = HostLimiter("docker.io", None, clock, clock, lambda message, seconds: notes.append(message))
    for _unused in range(3):
        limiter.observe({"ratelimit-remaining": "1;w=21600"})
        limiter.acquire(clock.wait).release()
    assert clock.waits == []
    assert len(notes) == 1 and "429" in notes[0] and "21600" in notes[0]


def test_connections_bound_requests_in_flight():
    limiter = HostLimiter("r.example", HostLimit(connections=2))
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def request():
        nonlocal in_flight, peak
        slot = limiter.acquire(lambda seconds: None, poll=0.01)
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        release.wait(5)
        with lock:
            in_flight -= 1
        slot.release()

    threads = [threading.Thread(target=request) for _unused in range(6)]
    for thread in threads:
        thread.start()
    for _unused in range(100):
        with lock:
            if in_flight == 2:
                break
        threading.Event().wait(0.01)
    with lock:
        assert in_flight == 2  # four wait
    release.set()
    for thread in threads:
        thread.join(5)
    assert peak == 2 and limiter.waited > 0


def test_a_slot_is_released_once_and_a_nested_request_of_the_same_thread_does_not_wait():
    limiter = HostLimiter("r.example", HostLimit(connections=1))

    def never(seconds):
        raise AssertionError("waited")

    outer = limiter.acquire(never)
    inner = limiter.acquire(never)  # the download feeding an upload to the same registry
    inner.release()
    inner.release()
    outer.release()
    outer.release()
    limiter.acquire(never).release()  # the one slot is free again, not doubled
    first = limiter.acquire(never)
    got = []
    thread = threading.Thread(target=lambda: got.append(limiter._sem.acquire(timeout=0.05)))
    thread.start()
    thread.join()
    assert got == [False]
    first.release()


def test_a_wait_that_gives_up_releases_the_slot():
    clock = FakeClock()
    limiter = HostLimiter("r.example", HostLimit(connections=1, requests_per_second=1), clock, clock)
    limiter.acquire(clock.wait).release()

    def cancelled(seconds):
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError):
        limiter.acquire(cancelled)
    limiter.acquire(clock.wait).release()  # the slot was given back


# ---------------------------------------------------------------- the option

def test_registry_limits_parse():
    limits = RegistryLimits.parse({
        "default": {"connections": 4},
        "registry-1.docker.io": {"requests_per_second": 0.5},
        "mirror.example.com:5000": {"connections": "8", "requests_per_second": "20"},
        "quay.io": None,
    })
    assert limits.for_registry("docker.io") == HostLimit(None, 0.5)
    assert limits.for_registry("mirror.example.com:5000") == HostLimit(8, 20.0)
    assert limits.for_registry("quay.io") == HostLimit()
    assert limits.for_registry("ghcr.io") == HostLimit(4, None)
    assert RegistryLimits.parse(None) == RegistryLimits() and RegistryLimits.parse({}) == RegistryLimits()


@pytest.mark.parametrize("value, words", [
    ({"quay.io": {"connections": 0}}, ["registry_limits.quay.io.connections", "at least 1"]),
    ({"quay.io": {"connections": 1.5}}, ["registry_limits.quay.io.connections"]),
    ({"quay.io": {"connections": True}}, ["registry_limits.quay.io.connections"]),
    ({"default": {"requests_per_second": 0}}, ["registry_limits.default.requests_per_second", "above 0"]),
    ({"default": {"requests_per_second": "fast"}}, ["registry_limits.default.requests_per_second"]),
    ({"default": {"requests_per_second": "inf"}}, ["registry_limits.default.requests_per_second"]),
    ({"quay.io": {"rps": 3}}, ["registry_limits.quay.io", "unknown keys rps"]),
    ({"quay.io": 3}, ["registry_limits.quay.io", "dictionary"]),
    ({"quay.io/org": {"connections": 1}}, ["'quay.io/org'", "host[:port]"]),
    ({"docker.io": {}, "index.docker.io": {}}, ["'docker.io'", "'index.docker.io'", "same registry"]),
    (["quay.io"], ["registry_limits must be a dictionary"]),
])
def test_registry_limits_errors_name_the_key(value, words):
    with pytest.raises(LimitError) as info:
        RegistryLimits.parse(value)
    for word in words:
        assert word in str(info.value)


def test_limiters_one_per_registry_with_their_waits_and_messages():
    clock = FakeClock()
    heard = []
    limiters = Limiters(RegistryLimits.parse({"src.example": {"requests_per_second": 1}}), clock, clock)
    limiters.listener = lambda message, seconds: heard.append(seconds)
    src = limiters.get("src.example")
    assert limiters.get("src.example") is src
    dest = limiters.get("dest.example")
    for _unused in range(3):
        src.acquire(clock.wait).release()
        dest.acquire(clock.wait).release()
    assert limiters.waited() == {"dest.example": 0.0, "src.example": pytest.approx(2.0)}
    dest.observe({"RateLimit-Remaining": "0", "RateLimit-Reset": "3"})
    assert heard == [3.0] and "dest.example" in limiters.messages[0]


def test_a_download_feeding_an_upload_in_progress_never_waits_for_a_slot():
    """One connection each at the source and the destination. Thread A holds the source's slot
    (its download is open) and waits for the destination's; thread B uploads (holds the
    destination's slot) and must re-open its source after a broken stream. Waiting for the
    source's slot would wait forever; B goes over the source's limit by one instead, finishes, and
    A gets its slot."""
    src = HostLimiter("src.example", HostLimit(connections=1))
    dst = HostLimiter("dst.example", HostLimit(connections=1))

    def sleep(seconds):
        if seconds:
            time.sleep(seconds)

    b_holds_dest = threading.Event()
    a_holds_source = threading.Event()
    a_done = threading.Event()
    b_result = {}

    def thread_a():
        source = src.acquire(sleep, poll=0.05, download=True)
        a_holds_source.set()
        b_holds_dest.wait(5)
        dest = dst.acquire(sleep, poll=0.05)  # waits until B is done
        dest.release()
        source.release()
        a_done.set()

    def thread_b():
        dest = dst.acquire(sleep, poll=0.05)
        b_holds_dest.set()
        a_holds_source.wait(5)
        again = src.acquire(sleep, poll=0.05, download=True)  # the re-opened source
        b_result["over"] = src.over_limit
        again.release()
        dest.release()

    threads = [threading.Thread(target=thread_a, daemon=True), threading.Thread(target=thread_b, daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert a_done.is_set() and b_result == {"over": 1}
    # a download opened by a thread that holds nothing waits as any request does
    held = src.acquire(sleep, poll=0.05, download=True)
    waited = []
    other = threading.Thread(target=lambda: waited.append(src.acquire(sleep, poll=0.05, download=True)), daemon=True)
    other.start()
    other.join(0.3)
    assert other.is_alive() and src.over_limit == 1
    held.release()
    other.join(5)
    waited[0].release()
    assert not other.is_alive()
