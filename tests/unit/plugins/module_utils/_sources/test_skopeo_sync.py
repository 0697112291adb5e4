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


def test_skopeo_sync_credentials_refused_and_never_echoed():
    with pytest.raises(SourceError) as err:
        read_skopeo_sync(fixture("skopeo-sync-regex.yml"), "sync.yml")
    text = str(err.value)
    assert text.startswith("sync.yml:6: registry.example.com.credentials: credentials is not taken from an image "
                           "list: give them to image_mirror (src_username and src_password, or auth_file")
    assert "secret" not in text and "john" not in text


@pytest.mark.parametrize("text, message", [
    ("r.io:\n  tls-verify: false\n  images: {a: [b]}\n",
     "sync.yml:2: r.io.tls-verify: tls-verify: False is not taken from an image list: list the registry in "
     "image_mirror's insecure_registries"),
    ("r.io:\n  cert-dir: /certs\n",
     "sync.yml:2: r.io.cert-dir: cert-dir is not taken from an image list: put the registry's CA in ca_path"),
])
def test_skopeo_sync_transport_settings_refused(text, message):
    with pytest.raises(SourceError) as err:
        read_skopeo_sync(text, "sync.yml")
    assert message in str(err.value)


def test_skopeo_sync_tag_selections():
    text = """
r.io:
  tls-verify: true
  images:
    busybox: []
    app: ["1.0"]
  images-by-tag-regex:
    nginx: ^1\\.13\\.[12]-alpine-perl$
    loose: 8\\.16
  images-by-semver:
    org/es: ">= 8.16.0, < 8.17.0"
"""
    assert read_skopeo_sync(text, "sync.yml") == [
        {"src": "r.io/busybox", "tags": {}},
        "r.io/app:1.0",
        {"src": "r.io/nginx", "tags": {"include": r".*(?:^1\.13\.[12]-alpine-perl$).*"}},
        {"src": "r.io/loose", "tags": {"include": r".*(?:8\.16).*"}},
        {"src": "r.io/org/es", "tags": {"semver": ">= 8.16.0, < 8.17.0"}},
    ]


def test_skopeo_regex_is_found_anywhere_in_a_tag_as_skopeo_does():
    from ansible_collections.airgap.mirror.plugins.module_utils._oci.tagselect import TagSelector
    items = read_skopeo_sync("r.io:\n  images-by-tag-regex:\n    a: 8\\.16\n    b: ^8\\.16$\n", "sync.yml")
    tags = ["8.16", "v8.16.1", "8.17"]
    assert TagSelector.parse(items[0]["tags"]).select(tags) == ["v8.16.1", "8.16"]
    assert TagSelector.parse(items[1]["tags"]).select(tags) == ["8.16"]


@pytest.mark.parametrize("text, message", [
    ("r.io:\n  images-by-semver:\n    busybox: '>= eight'\n",
     "sync.yml:3: r.io.images-by-semver.busybox: tags.semver: 'eight' in the range '>= eight' is not a version"),
    ("r.io:\n  images-by-tag-regex:\n    busybox: '('\n",
     "sync.yml:3: r.io.images-by-tag-regex.busybox: tags.include '.*(?:().*' is not a valid regular expression"),
    ("r.io:\n  images-by-tag-regex: [a]\n", "sync.yml:2: r.io: 'images-by-tag-regex' is a list, expected a map"),
    ("r.io:\n  images-by-semver:\n    Bad: '1.x'\n", "r.io.images-by-semver.Bad: src: invalid image reference"),
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
