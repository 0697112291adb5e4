"""Unit tests of tag selection (_oci/tagselect.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci.tagselect import (
    TagSelector, TagSelectorError, selection_of)

TAGS = ["latest", "8.15.5", "v8.15.5", "8.16.0-rc1", "8.16.0", "v8.16.1", "8.16.1", "8.16.1-amd64", "8.16.2",
        "8.16.10", "8.17.0-rc1", "8.17.0", "edge", "8.16"]


def select(selector):
    return TagSelector.parse(selector, "r.io/app").select(TAGS)


@pytest.mark.parametrize("selector, expected", [
    ({}, ["8.15.5", "v8.15.5", "8.16.0-rc1", "8.16.0", "8.16.1-amd64", "8.16.1", "v8.16.1", "8.16.2", "8.16.10",
          "8.17.0-rc1", "8.17.0", "8.16", "edge", "latest"]),
    ({"include": r"8\.16\.\d+"}, ["8.16.0", "8.16.1", "8.16.2", "8.16.10"]),
    ({"include": r"8\.16"}, ["8.16"]),  # a whole match, not a search
    ({"include": [r"latest", r"edge"]}, ["edge", "latest"]),
    ({"exclude": r".*-.*|v.*|8\.1[56].*"}, ["8.17.0", "edge", "latest"]),
    ({"semver": ">=8.16.0 <8.17.0"}, ["8.16.0", "8.16.1", "v8.16.1", "8.16.2", "8.16.10"]),
    ({"semver": ">=8.16.0-rc1 <8.17.0", "exclude": "v.*"}, ["8.16.0-rc1", "8.16.0", "8.16.1", "8.16.2", "8.16.10"]),
    ({"semver": "8.16.1-amd64"}, ["8.16.1-amd64"]),
    ({"newest": 3}, ["8.16.10", "8.17.0-rc1", "8.17.0"]),
    ({"newest": 2, "semver": "*"}, ["8.16.10", "8.17.0"]),
    ({"newest": "2", "include": "v.*"}, ["v8.15.5", "v8.16.1"]),
    ({"newest": 100, "include": "8.15.5|latest"}, ["8.15.5"]),
    ({"include": "nothing"}, []),
])
def test_selectors(selector, expected):
    assert select(selector) == expected


@pytest.mark.parametrize("item, message", [
    ({"src": "r.io/app", "tags": {"include": "("}}, "r.io/app: tags.include '(' is not a valid regular expression"),
    ({"src": "r.io/app", "tags": {"exclude": [1]}}, "r.io/app: tags.exclude must be a regular expression"),
    ({"src": "r.io/app", "tags": {"semver": ">=x.y.z.w"}}, "r.io/app: tags.semver: 'x.y.z.w' in the range"),
    ({"src": "r.io/app", "tags": {"newest": 0}}, "r.io/app: tags.newest must be a positive whole number, got 0"),
    ({"src": "r.io/app", "tags": {"newest": True}}, "tags.newest must be a positive whole number"),
    ({"src": "r.io/app", "tags": {"newset": 3}}, "r.io/app: tags has unknown key(s) newset (known: include"),
    ({"src": "r.io/app", "tags": "8.*"}, "r.io/app: tags must be a dictionary"),
    ({"src": "r.io/app:1.0", "tags": {}}, "r.io/app:1.0: src of an entry with tags is a repository: leave out "
                                          "the tag or digest (r.io/app)"),
    ({"src": "r.io/App", "tags": {}}, "invalid image reference"),
    ({"tags": {}}, "an entry with tags needs src"),
])
def test_selector_errors(item, message):
    with pytest.raises(TagSelectorError) as err:
        selection_of(item)
    assert message in str(err.value)


def test_selection_of():
    assert selection_of("r.io/app:1") is None
    assert selection_of({"src": "r.io/app:1"}) is None
    repo, selector = selection_of({"src": " busybox ", "tags": {"newest": 1, "semver": "1.x"}})
    assert repo == "docker.io/library/busybox"
    assert selector.describe() == "semver '1.x'; newest 1"
    assert TagSelector.parse({"include": ["a", "b"]}).describe() == "include 'a', 'b'"
    assert TagSelector().describe() == "every tag"
