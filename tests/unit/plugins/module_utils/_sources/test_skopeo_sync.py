"""Unit tests of skopeo sync YAML (_sources/skopeo_sync.py)."""

from __future__ import annotations


import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._sources.skopeo_sync import read_skopeo_sync
from ansible_collections.airgap.mirror.plugins.module_utils._sources.documents import SourceError
from support.sources import fixture


def test_skopeo_sync_images():
    refs = read_skopeo_sync(fixture("skopeo-sync.yml"), "sync.yml")
    assert refs == [
        "registry.example.com/redis:1.0",
        "registry.example.com/redis:2.0",
        "registry.example.com/redis@sha256:0000000000000000000000000000000011111111111111111111111111111111",
        "quay.io/coreos/etcd:latest",
        "docker.io/library/busybox:1.36",
    ]


def test_skopeo_sync_regex_not_supported_and_credentials_never_echoed():
    with pytest.raises(SourceError) as err:
        read_skopeo_sync(fixture("skopeo-sync-regex.yml"), "sync.yml")
    text = str(err.value)
    assert text.startswith("sync.yml:4: registry.example.com.images-by-tag-regex: images-by-tag-regex is not "
                           "supported: it needs the registry's tag listing")
    assert "secret" not in text and "john" not in text


@pytest.mark.parametrize("text, message", [
    ("r.io:\n  images:\n    busybox: []\n", "sync.yml:3: r.io.images.busybox: an empty tag list means 'all tags'"),
    ("r.io:\n  images-by-semver:\n    busybox: '>= 1.0'\n", "images-by-semver is not supported"),
    ("r.io:\n  imagse:\n    busybox: [a]\n", "sync.yml:2: r.io: unknown key 'imagse'"),
    ("r.io:\n  images:\n    busybox: latest\n", "r.io.images.busybox: expected a list of tags or digests, got a string"),
    ("r.io:\n  images:\n    busybox: ['bad tag']\n", "sync.yml:3: r.io.images.busybox[0]: invalid image reference"),
    ("r.io:\n  images:\n    busybox: [true]\n", "busybox[0]: tag or digest is a boolean"),
    ("- a\n", "top level is a list"),
])
def test_skopeo_sync_errors(text, message):
    with pytest.raises(SourceError) as err:
        read_skopeo_sync(text, "sync.yml")
    assert message in str(err.value)
