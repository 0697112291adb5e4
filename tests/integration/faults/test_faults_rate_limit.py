"""Per-registry limits (``registry_limits``) and a registry's rate-limit headers, measured at the
fault proxy in front of a real registry: the timestamps of the requests it saw and how many were in
flight at once. skopeo verifies every mirrored image.

Tolerance of the rate: a token bucket of ``rps`` tokens a second holding at most ``burst`` (one
second's worth) lets at most ``burst + rps * T`` requests start in any span of T seconds; the proxy
sees a request a little after the client started it (loopback, threads of one busy process), so a
span measured at the proxy may be shorter than at the client by that jitter: the check allows
``JITTER`` seconds of it.
"""

from __future__ import annotations

import math
import time

import pytest

from .harness import audit_registry, failures, proxied_bed, verify_registry_image

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.limits import HostLimit, RegistryLimits
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.registry import Deadline
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import Limits, MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror

pytestmark = pytest.mark.integration

JITTER = 0.25
SEEDS = {"app1": ("app/one", "1"), "app2": ("app/two", "1"), "app3": ("app/three", "1"),
         "multi": ("app/multi", "2")}


@pytest.fixture
def bed(registry_factory, proxy_factory, fault_images):
    """Source and destination registries, each behind a fault proxy; three 1 MiB images and a
    two-platform index in the source."""
    return proxied_bed(registry_factory, proxy_factory, fault_images, **SEEDS)


def run(bed, limits, concurrency=8):
    """Mirror every seeded image from the source proxy to the destination proxy with *limits*;
    ``(report, warnings, seconds)``."""
    pool = ClientPool(insecure_registries=bed.insecure, retries=8, deadline=Deadline(120),
                      registry_limits=RegistryLimits.parse(limits))
    warnings: list[str] = []
    refs = [f"{bed.psrc.host}/{repo}:{tag}" for repo, tag in SEEDS.values()]
    started = time.monotonic()
    try:
        report = mirror(MirrorRequest(refs, bed.pdst.host, limits=Limits(concurrency=concurrency)), pool=pool,
                        warnings=warnings)
    finally:
        pool.close()
    return report, warnings, time.monotonic() - started


def assert_mirrored(bed, report, workdir):
    assert report["failed"] == [], failures(report)
    for name, (repo, tag) in SEEDS.items():
        verify_registry_image(bed.dst, f"{repo}:{tag}", getattr(bed, name).digest, workdir)
    assert audit_registry(bed.dst) == []


def most_in_one_span(starts: list[float], span: float) -> int:
    """The most requests that started within *span* seconds of each other."""
    starts = sorted(starts)
    best = 0
    first = 0
    for last, when in enumerate(starts):
        while when - starts[first] > span:
            first += 1
        best = max(best, last - first + 1)
    return best


def peak_overlap(exchanges) -> int:
    """The most exchanges in flight at once, from the proxy's timestamps (head read -> just before
    its last bytes were sent)."""
    events = sorted([(e.started, 1) for e in exchanges] + [(e.flight_ended, -1) for e in exchanges],
                    key=lambda ev: (ev[0], ev[1]))
    now = peak = 0
    for _when, step in events:
        now += step
        peak = max(peak, now)
    return peak


def test_source_connections_and_requests_per_second_hold_at_the_proxy(bed, tmp_path):
    """connections 2 and 5 requests a second on the source: the proxy never sees more than 2 in
    flight, nor more than burst + 5 * T requests in any span of T seconds."""
    rps, connections = 5.0, 2
    report, _warnings, seconds = run(bed, {bed.psrc.host: {"connections": connections, "requests_per_second": rps}})
    assert_mirrored(bed, report, tmp_path)

    seen = bed.psrc.exchanges()
    starts = [e.started for e in seen]
    burst = HostLimit(requests_per_second=rps).burst
    assert len(seen) > 2 * burst, "too few requests to tell a rate"
    for span in (0.5, 1.0, 2.0, 3.0):
        most = most_in_one_span(starts, span)
        assert most <= burst + rps * (span + JITTER), (span, most)
    assert bed.psrc.peak_in_flight <= connections
    assert peak_overlap(seen) <= connections
    # and the limits were what paced the run
    assert seconds >= (len(seen) - burst) / rps - JITTER
    assert report["limit_wait_seconds"][bed.psrc.host] > 0
    assert report["requests"][bed.psrc.host] == len(seen)


def test_rate_limit_headers_slow_the_run_down_before_a_429(bed, tmp_path):
    """The source allows 6 requests per 2 s window and says so in RateLimit-* headers; the run
    (connections 2) waits for each reset once 2 or fewer remain: complete, and not one 429."""
    limit, window = 6, 2.0
    bed.psrc.rate_limit(limit, window)
    report, warnings, seconds = run(bed, {bed.psrc.host: {"connections": 2}}, concurrency=4)
    assert_mirrored(bed, report, tmp_path)

    seen = bed.psrc.exchanges()
    refused = [e for e in seen if e.status == 429]
    assert refused == [], [(e.method, e.path) for e in refused]
    assert any(h[0] == "RateLimit-Remaining" for h in seen[-1].extra_headers)
    windows = math.ceil(len(seen) / (limit - 1))
    assert seconds >= (windows - 1) * window - JITTER
    assert report["limit_wait_seconds"][bed.psrc.host] > 0
    assert any("waiting" in w and bed.psrc.host in w for w in warnings), warnings


def test_429_over_the_budget_is_retried_after_retry_after(bed, tmp_path):
    """No connection limit (4 workers): requests already on their way when the budget ran out
    get 429 with Retry-After; they are sent again after it, and the run completes."""
    bed.psrc.rate_limit(5, 1.0, style="x")
    report, _warnings, _seconds = run(bed, None, concurrency=4)
    assert_mirrored(bed, report, tmp_path)
    seen = bed.psrc.exchanges()
    for refused in [e for e in seen if e.status == 429]:
        later = [e for e in seen if e.started > refused.ended and e.method == refused.method
                 and e.path == refused.path]
        assert later, "a refused request was never sent again"
        assert later[0].started - refused.ended >= 1.0 - JITTER  # Retry-After: 1


def test_a_tight_source_limit_does_not_slow_the_destination(bed, tmp_path):
    """The source is limited to 5 requests a second, the destination not at all: destination
    requests never wait for a limit and come faster than the source's limit would let them."""
    rps = 5.0
    report, _warnings, seconds = run(bed, {bed.psrc.host: {"requests_per_second": rps}})
    assert_mirrored(bed, report, tmp_path)
    assert seconds < 30
    assert report["limit_wait_seconds"][bed.psrc.host] > 0
    assert report["limit_wait_seconds"][bed.pdst.host] == 0.0
    burst = HostLimit(requests_per_second=rps).burst
    source = [e.started for e in bed.psrc.exchanges()]
    dest = [e.started for e in bed.pdst.exchanges()]
    assert most_in_one_span(source, 1.0) <= burst + rps * (1.0 + JITTER)
    # more destination requests in one second than the source's bucket could ever pass
    assert most_in_one_span(dest, 1.0) > burst + rps * (1.0 + JITTER), most_in_one_span(dest, 1.0)
