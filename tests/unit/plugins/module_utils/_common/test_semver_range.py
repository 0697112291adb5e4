"""Unit tests of version ranges (_common/semver_range.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.semver_range import RangeError, Range, parse_range
from ansible_collections.airgap.mirror.plugins.module_utils._common.version import Version

VERSIONS = ["7.17.25", "8.15.5", "8.16.0-rc1", "8.16.0-rc2", "8.16.0", "8.16.1", "8.16.1-amd64", "8.16.10",
            "8.17.0-rc1", "8.17.0", "9.0.0", "0.2.3", "0.2.9", "0.3.0", "0.0.3", "0.0.4"]


def selected(text):
    rng = Range(text)
    return [v for v in VERSIONS if rng.contains(Version(v))]


@pytest.mark.parametrize("text, expected", [
    (">=8.16.0 <8.17.0", ["8.16.0", "8.16.1", "8.16.10"]),
    (">= 8.16.0, < 8.17.0", ["8.16.0", "8.16.1", "8.16.10"]),
    (">=8.16.0-rc1 <8.17.0", ["8.16.0-rc1", "8.16.0-rc2", "8.16.0", "8.16.1", "8.16.10"]),
    (">=8.16.0-rc2 <8.17.0", ["8.16.0-rc2", "8.16.0", "8.16.1", "8.16.10"]),
    ("8.16.x", ["8.16.0", "8.16.1", "8.16.10"]),
    ("8.16", ["8.16.0", "8.16.1", "8.16.10"]),
    ("v8.16.*", ["8.16.0", "8.16.1", "8.16.10"]),
    ("~8.16.1", ["8.16.1", "8.16.10"]),
    ("~8", ["8.15.5", "8.16.0", "8.16.1", "8.16.10", "8.17.0"]),
    ("^8.16.1", ["8.16.1", "8.16.10", "8.17.0"]),
    ("^0.2.3", ["0.2.3", "0.2.9"]),
    ("^0.0.3", ["0.0.3"]),
    ("8.16.1", ["8.16.1"]),
    ("=8.16.0-rc1", ["8.16.0-rc1"]),
    ("<8.16", ["7.17.25", "8.15.5", "0.2.3", "0.2.9", "0.3.0", "0.0.3", "0.0.4"]),
    (">8.16 <9", ["8.17.0"]),
    ("<=8.16 >8.15.5", ["8.16.0", "8.16.1", "8.16.10"]),
    ("8.15.0 - 8.16", ["8.15.5", "8.16.0", "8.16.1", "8.16.10"]),
    ("8.15.0 - 8.16.1", ["8.15.5", "8.16.0", "8.16.1"]),
    ("7.x || >=9.0.0", ["7.17.25", "9.0.0"]),
    (">=8.16.0 <8.17.0 != 8.16.1", ["8.16.0", "8.16.10"]),
    ("*", ["7.17.25", "8.15.5", "8.16.0", "8.16.1", "8.16.10", "8.17.0", "9.0.0", "0.2.3", "0.2.9", "0.3.0",
           "0.0.3", "0.0.4"]),
])
def test_range_selects(text, expected):
    assert selected(text) == expected


def test_prerelease_only_with_the_same_release():
    # 8.17.0-rc1 is within the bounds, but the range names a pre-release of 8.16.0 only
    assert not Range(">=8.16.0-rc1 <8.18.0").contains(Version("8.17.0-rc1"))
    assert Range(">=8.16.0-rc1 <8.18.0").contains(Version("8.16.0-rc3"))
    # a bound that is a pre-release of 8.17.0 lets the pre-releases of 8.17.0 in (npm's rule)
    assert Range(">=8.16.0 <8.17.0-rc2").contains(Version("8.17.0-rc1"))
    # a v tag is a version when the caller allows it
    assert Range("8.16.x").contains(Version("v8.16.2", allow_v=True))


@pytest.mark.parametrize("text, message", [
    ("", "non-empty string"),
    (">=8.16.0 ||", "empty alternative"),
    (">=eight", "'eight' in the range '>=eight' is not a version"),
    (">=", "no version after the operator"),
    ("!=8.16", "!= needs a whole version"),
    ("8.16.0-", "is not a version"),
])
def test_range_errors(text, message):
    with pytest.raises(RangeError) as err:
        parse_range(text, "tags.semver")
    assert str(err.value).startswith("tags.semver: ")
    assert message in str(err.value)
