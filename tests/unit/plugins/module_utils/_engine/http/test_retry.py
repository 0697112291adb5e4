import email.utils
import time

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http import retry as R


def test_retry_after_seconds_and_dates():
    assert R.parse_retry_after("7") == 7.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < R.parse_retry_after(future) <= 31
    assert R.parse_retry_after("garbage") is None and R.parse_retry_after(None) is None


def test_backoff_is_bounded_and_retry_after_capped():
    policy = R.RetryPolicy(attempts=5, base=0.5, cap=4.0, max_retry_after=10)
    for attempt in range(8):
        assert 0 <= policy.delay(attempt) <= 4.0
    assert policy.delay(0, retry_after=3) == 3
    assert policy.delay(0, retry_after=999) == 10


def test_deadline():
    assert R.Deadline().remaining() is None
    deadline = R.Deadline(0.001)
    time.sleep(0.005)
    with pytest.raises(Exception, match="deadline"):
        deadline.check("x")
