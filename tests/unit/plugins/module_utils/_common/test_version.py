"""The one version type (plugins/module_utils/_common/version.py): Semantic Versioning 2.0."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.version import Version, VersionError


def test_semver_precedence_with_prereleases() -> None:
    # the example list of semver.org, section 11
    texts = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
             "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"]
    versions = [Version(t) for t in texts]
    assert sorted(reversed(versions)) == versions
    assert [str(v) for v in sorted(Version(t) for t in ("9.0.0", "8.16.10", "8.16.2", "10.0.0"))] == [
        "8.16.2", "8.16.10", "9.0.0", "10.0.0"]


def test_build_metadata_is_kept_but_takes_no_part_in_order_or_equality() -> None:
    v = Version("9.0.0+build1")
    assert (str(v), v.build, v.release) == ("9.0.0+build1", "build1", (9, 0, 0))
    assert v == Version("9.0.0") and hash(v) == hash(Version("9.0.0"))
    assert Version("9.0.0-rc1+b") < v


def test_a_leading_v_only_where_allowed() -> None:
    assert Version("v8.16.1", allow_v=True).release == (8, 16, 1)
    with pytest.raises(VersionError, match="stack version 'v8.16.1' is not a version"):
        Version("v8.16.1", "stack version")


@pytest.mark.parametrize("text", ["8.16", "8.16.1.2", "08.1.1", "latest", "8.16.1-", "8.16.1-a..b", "", None, 8])
def test_not_versions(text) -> None:
    with pytest.raises(VersionError):
        Version(text)
    assert Version.parse(text) is None


def test_versions_are_immutable() -> None:
    with pytest.raises(AttributeError):
        Version("1.0.0").major = 2
