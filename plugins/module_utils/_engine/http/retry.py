# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Retries and the deadline: connect errors, timeouts, dropped connections, 408/425/429 and 5xx (but
501/505) are retried with exponential backoff and full jitter, honouring ``Retry-After``; the
overall deadline bounds every wait."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable

from ..._oci.errors import DeadlineExceeded

TRANSIENT_STATUS = frozenset((408, 425, 429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524))


class Deadline:
    """An optional point in time after which no new work starts and no wait is begun."""

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds else None

    def remaining(self) -> float | None:
        return None if self.end is None else self.end - time.monotonic()

    def check(self, what: str | None = None) -> None:
        if self.end is not None and time.monotonic() >= self.end:
            raise DeadlineExceeded("the deadline of %ss passed%s" % (self.seconds, " during %s" % what if what else ""))


class RetryPolicy:
    """How often and after how long a transient failure is tried again."""

    def __init__(self, attempts: int = 5, base: float = 0.5, cap: float = 30.0, max_retry_after: float = 300.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.attempts = max(1, int(attempts))
        self.base = base
        self.cap = cap
        self.max_retry_after = max_retry_after
        self.sleep = sleep

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return random.uniform(0, min(self.cap, self.base * (2 ** attempt)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), None without one."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
