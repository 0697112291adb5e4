"""The floor: a lower bound on the wall time of one of our runs, from what it made the registries
and the link do. No client making those requests finishes sooner on this machine.

- ansible-playbook's fixed cost (an ``images: []`` run, measured at the start; serial, before the
  first request and after the last), plus the larger of:
- the registries' CPU seconds spread over every CPU (on loopback the registries' own work), and
- on a simulated link: the bytes that crossed it in its busier direction over its bandwidth
  (the busiest link when there are several: they run in parallel), plus two round trips (a
  connection and one request: the shortest chain of dependent exchanges any client has).
"""

from __future__ import annotations

import os

from accounting import Stats
from link import LinkProfile


def cpu_seconds(stats: dict[str, Stats]) -> float:
    """The registries' CPU seconds of a run, spread over every CPU."""
    return sum(s["cpu_seconds"] for s in stats.values()) / (os.cpu_count() or 1)


def link_seconds(stats: dict[str, Stats], profile: LinkProfile) -> float:
    """What the link alone needs for a run's traffic (0 on loopback)."""
    per_link = [max(profile.transfer_seconds(s["link"]["bytes_up"]), profile.transfer_seconds(s["link"]["bytes_down"]))
                for s in stats.values() if s.get("link")]
    if not profile.simulated or not per_link:
        return 0.0
    return max(per_link) + 2 * profile.rtt


def floor(fixed_cost: float | None, stats: dict[str, Stats] | None, profile: LinkProfile) -> float | None:
    """The lower bound of one of our runs; None without a registry or the fixed cost."""
    if fixed_cost is None or not stats:
        return None
    return fixed_cost + max(cpu_seconds(stats), link_seconds(stats, profile))
