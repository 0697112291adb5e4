"""The mirror-state reader (_inventory/read.py) against a real docker-registry seeded with skopeo.

The mirror is seeded by skopeo (the independent client), the mirror map is built with the typed
model, and what the reader reports is compared with what skopeo pushed and what the registry's
access log says it was asked."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._inventory import read as R
from ansible_collections.airgap.mirror.plugins.module_utils._inventory.model import Inventory
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as MMIO

from support import images as I
from support import mirror_maps as MM

pytestmark = pytest.mark.integration


@pytest.fixture
def mirror(registry_factory, sample_layout):
    """A mirror registry holding the sample set under mirror/..., and its mirror map."""
    reg = registry_factory()
    entries = []
    for ref, image in sample_layout.images.items():
        repo, tag = sample_layout.targets[ref]
        I.seed_registry(image, reg, "mirror/" + repo, tag)
        entries.append(MM.entry("quay.io/%s:%s" % (repo, tag), image.digest,
                                "%s/mirror/%s:%s" % (reg.host, repo, tag), image.media_type))
    pool = ClientPool(insecure_registries=[reg.host])
    yield {"registry": reg, "map": MMIO.loads(MM.dumps(entries)), "pool": pool, "samples": sample_layout}
    pool.close()


def asked_since(reg, mark):
    """The requests after *mark*, less the client's one-time ``GET /v2/`` probe."""
    return [r for r in reg.since(mark) if r.path != "/v2/"]


def expected_manifests(image):
    return {m.digest for m in image.manifests()}


def expected_blobs(image):
    return {d for d in image.blobs() if d not in expected_manifests(image)}


def test_map_driven_read_lists_every_manifest_and_blob_and_a_rerun_costs_one_request_per_image(mirror):
    reg, samples = mirror["registry"], mirror["samples"]
    mark = reg.mark()
    inv = R.read_for_map(mirror["pool"], mirror["map"])
    assert inv.registry == reg.host and inv.scope["kind"] == "mirror_map"
    assert len(inv.images) == 5 and all(i.present and i.complete for i in inv.images)
    for ref, image in samples.images.items():
        repo_name, tag = samples.targets[ref]
        repo = inv.repositories["mirror/" + repo_name]
        assert repo.tags[tag] == image.digest
        present, absent = repo.closure(image.digest)
        assert not absent
        assert set(present) == set(image.blobs()), ref
        assert expected_manifests(image) <= set(repo.manifests)
        assert expected_blobs(image) <= set(repo.blobs())
    tool = samples["tool-2.0"]
    record = inv.repositories["mirror/sample/tool"].manifests[tool.digest]
    assert record.children == tuple(c.digest for c in tool.children)
    # first read: one GET per image and one per index child, nothing else
    children = sum(len(i.children) for i in samples.images.values())
    asked = asked_since(reg, mark)
    assert len(asked) == inv.requests == 5 + children
    assert all(r.method == "GET" and "/manifests/" in r.path for r in asked)

    known = {d: m for repo in inv.repositories.values() for d, m in repo.manifests.items()}
    mark = reg.mark()
    again = R.read_for_map(mirror["pool"], mirror["map"], known=known)
    asked = asked_since(reg, mark)
    assert len(asked) == again.requests == 5, [r.path for r in asked]
    assert all(r.method == "HEAD" for r in asked)
    assert again.state_digest() == inv.state_digest()
    assert again.read_at >= inv.read_at


def test_catalog_read_with_pagination_equals_the_map_driven_state(mirror):
    reg = mirror["registry"]
    client = mirror["pool"].get(reg.host)
    inv = R.read_repositories(client, page_size=2)
    assert sorted(inv.repositories) == ["mirror/sample/app", "mirror/sample/db", "mirror/sample/tool",
                                        "mirror/sample/web"]
    assert inv.scope == {"kind": "repositories", "repositories": None}
    assert inv.repositories["mirror/sample/app"].tags == {
        "1.0": mirror["samples"]["app-1.0"].digest, "1.1": mirror["samples"]["app-1.1"].digest}
    by_map = R.read_for_map(mirror["pool"], mirror["map"])
    for name, repo in inv.repositories.items():
        assert repo.manifests == by_map.repositories[name].manifests
        assert repo.tags == by_map.repositories[name].tags
    # the catalog and every tag list were read in pages of two and one
    assert reg.count("GET", r"^/v2/_catalog\?.*n=2") >= 2
    one = R.read_repositories(client, ["mirror/sample/app"], page_size=1)
    assert list(one.repositories) == ["mirror/sample/app"] and len(one.repositories["mirror/sample/app"].tags) == 2
    assert R.read_repositories(client, page_size=100).state_digest() == inv.state_digest()


def test_a_blob_and_a_manifest_deleted_behind_the_maps_back(mirror):
    reg, samples = mirror["registry"], mirror["samples"]
    app = samples["app-1.1"]
    layer = app.layers[-1].digest
    status, _h, _b = reg.request("DELETE", "/v2/mirror/sample/app/blobs/%s" % layer)
    assert status == 202
    db = samples["db-15"]
    status, _h, _b = reg.request("DELETE", "/v2/mirror/sample/db/manifests/%s" % db.digest)
    assert status == 202

    cheap = R.read_for_map(mirror["pool"], mirror["map"])
    # without check_blobs a blob under a present manifest is taken as present (documented)
    assert not cheap.repositories["mirror/sample/app"].missing_blobs
    assert cheap.repositories["mirror/sample/db"].missing_manifests == {db.digest}

    deep = R.read_for_map(mirror["pool"], mirror["map"], check_blobs=True)
    app_repo = deep.repositories["mirror/sample/app"]
    assert app_repo.missing_blobs == {layer: app.layers[-1].size}
    status = {i.source: (i.present, i.complete) for i in deep.images}
    assert status["quay.io/sample/app:1.1"] == (True, False)
    assert status["quay.io/sample/app:1.0"] == (True, True)
    assert status["quay.io/sample/db:15"] == (False, False)
    assert deep.missing() == {"mirror/sample/app": {"manifests": [], "blobs": [layer]},
                              "mirror/sample/db": {"manifests": [db.digest], "blobs": []}}
    assert deep.state_digest() != cheap.state_digest()
    # the document round-trips and keeps its fingerprint
    back = Inventory.from_dict(deep.to_dict(), "inv.json")
    assert back.state_digest() == deep.state_digest()
    assert back.repositories["mirror/sample/app"].missing_blobs == app_repo.missing_blobs


def test_manifests_known_from_the_staging_layout_make_even_the_first_read_one_request_per_image(mirror):
    reg, samples = mirror["registry"], mirror["samples"]
    known = R.known_from_layout(Layout(str(samples.layout.path)), [e.digest for e in mirror["map"]])
    assert set(known) == {m.digest for image in samples.images.values() for m in image.manifests()}
    mark = reg.mark()
    inv = R.read_for_map(mirror["pool"], mirror["map"], known=known)
    asked = asked_since(reg, mark)
    assert len(asked) == inv.requests == 5 and all(r.method == "HEAD" for r in asked)
    assert inv.state_digest() == R.read_for_map(mirror["pool"], mirror["map"]).state_digest()


def test_check_blobs_asks_for_index_children_known_from_earlier(mirror):
    reg, samples = mirror["registry"], mirror["samples"]
    tool = samples["tool-2.0"]
    child = tool.children[0].digest
    assert reg.request("DELETE", "/v2/mirror/sample/tool/manifests/%s" % child)[0] == 202
    known = R.known_from_layout(Layout(str(samples.layout.path)), [e.digest for e in mirror["map"]])
    cheap = R.read_for_map(mirror["pool"], mirror["map"], known=known)
    assert not cheap.repositories["mirror/sample/tool"].missing_manifests  # one HEAD per image trusts the tree
    deep = R.read_for_map(mirror["pool"], mirror["map"], known=known, check_blobs=True)
    assert deep.repositories["mirror/sample/tool"].missing_manifests == {child}
    status = {i.source: (i.present, i.complete) for i in deep.images}
    assert status["quay.io/sample/tool:2.0"] == (True, False)
    # without the known tree the walk finds the same
    fetched = R.read_for_map(mirror["pool"], mirror["map"], check_blobs=True)
    assert fetched.repositories["mirror/sample/tool"].missing_manifests == {child}
