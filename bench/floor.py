"""Two lower bounds on the wall time of one of our runs.

The **link floor** (issue 16) is what any client needs on the link alone: the fixed cost of
``ansible-playbook`` running the module with nothing to do (an ``images: []`` run, measured at
the start) plus the bytes that must cross the link (the workload's unique bytes when it comes
from the source behind the link; none for a no-op re-run or a source on disk) over its
bandwidth. On loopback it is the fixed cost alone. Every time row is compared with it.

The **machine floor** counts what the run made the registries and the link do: the fixed cost
plus the larger of

- the registries' CPU seconds spread over every CPU (on loopback the registries' own work), and
- on a simulated link: the bytes that crossed it in its busier direction over its bandwidth, plus
  one connection's set-up and one round trip (the shortest chain of dependent exchanges any
  client has).
"""

from __future__ import annotations

import os

from accounting import Stats
from link import LinkProfile


def link_floor(fixed_cost: float | None, nbytes: int, profile: LinkProfile) -> float | None:
    """Fixed cost plus ``nbytes`` over the link's bandwidth; None without the fixed cost."""
    if fixed_cost is None:
        return None
    return fixed_cost + profile.transfer_seconds(nbytes)


def cpu_seconds(stats: dict[str, Stats]) -> float:
    """The registries' CPU seconds of a run, spread over every CPU."""
    return sum(s["cpu_seconds"] for s in stats.values()) / (os.cpu_count() or 1)


def link_seconds(stats: dict[str, Stats], profile: LinkProfile) -> float:
    """What the link alone needs for a run's measured traffic (0 on loopback)."""
    per_link = [max(profile.transfer_seconds(s["link"]["bytes_up"]), profile.transfer_seconds(s["link"]["bytes_down"]))
                for s in stats.values() if s.get("link")]
    if not profile.simulated or not per_link:
        return 0.0
    return max(per_link) + profile.setup_seconds + profile.rtt


def floor(fixed_cost: float | None, stats: dict[str, Stats] | None, profile: LinkProfile) -> float | None:
    """The machine floor of one of our runs; None without a registry or the fixed cost."""
    if fixed_cost is None or not stats:
        return None
    return fixed_cost + max(cpu_seconds(stats), link_seconds(stats, profile))
