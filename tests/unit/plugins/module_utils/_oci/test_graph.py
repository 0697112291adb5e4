"""The one manifest-graph walk (plugins/module_utils/_oci/graph.py), on manifests built here."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import graph as G
from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import DigestMismatch, ManifestError


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Store(dict):
    def add(self, body: dict) -> dict:
        data = json.dumps(body).encode()
        self[digest(data)] = data
        return {"mediaType": body["mediaType"], "digest": digest(data), "size": len(data)}

    def fetch(self, desc: M.Descriptor, where: str):
        return (self[desc.digest], desc.media_type) if desc.digest in self else None


def image(store: Store, layer: bytes) -> dict:
    blob = {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(b"{}"), "size": 2}
    return store.add({"schemaVersion": 2, "mediaType": M.OCI_MANIFEST, "config": config, "layers": [blob]})


def index(store: Store, children: list) -> M.Manifest:
    body = {"schemaVersion": 2, "mediaType": M.OCI_INDEX, "manifests": children}
    desc = store.add(body)
    return M.parse(store[desc["digest"]], M.OCI_INDEX, expected_digest=desc["digest"])


def test_children_come_before_the_index_and_shared_blobs_once() -> None:
    store = Store()
    amd = dict(image(store, b"a"), platform={"os": "linux", "architecture": "amd64"})
    arm = dict(image(store, b"b"), platform={"os": "linux", "architecture": "arm64", "variant": "v8"})
    root = index(store, [amd, arm])
    graph = G.walk(root, store.fetch, "img")
    assert [m.digest for m in graph.manifests] == [amd["digest"], arm["digest"], root.digest]
    assert sorted(graph.blobs) == sorted({digest(b"a"), digest(b"b"), digest(b"{}")})
    assert graph.platforms == ["linux/amd64", "linux/arm64/v8"]
    assert graph.size == sum(len(store[d]) for d in store) + 1 + 1 + 2
    assert graph.missing == []


def test_a_missing_child_is_recorded_when_the_fetcher_says_so() -> None:
    store = Store()
    child = image(store, b"a")
    root = index(store, [child])
    del store[child["digest"]]
    assert G.walk(root, store.fetch, "img").missing == [child["digest"]]


def test_a_child_of_another_size_or_digest_is_refused_naming_the_path() -> None:
    store = Store()
    child = image(store, b"a")
    root = index(store, [dict(child, size=child["size"] + 1)])
    with pytest.raises(ManifestError, match=r"img > sha256:.*: the index says \d+ bytes"):
        G.walk(root, store.fetch, "img")
    store[child["digest"]] = store[child["digest"]] + b" "
    root = index(store, [child])
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        G.walk(root, store.fetch, "img")


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    store = Store()
    desc = image(store, b"a")
    for _level in range(G.MAX_DEPTH + 1):
        desc = store.add({"schemaVersion": 2, "mediaType": M.OCI_INDEX, "manifests": [desc]})
    root = index(store, [desc])
    with pytest.raises(ManifestError, match="nested deeper than %d levels" % G.MAX_DEPTH):
        G.walk(root, store.fetch, "img")
