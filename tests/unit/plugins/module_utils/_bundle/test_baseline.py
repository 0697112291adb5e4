"""A mirror inventory as the baseline of a pack (baseline.py, plan.py) and the unpack of such a
bundle: layouts built by the test bed, inventories built with the model, no daemons."""

from __future__ import annotations

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle import baseline as B
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._inventory import document as D
from ansible_collections.airgap.mirror.plugins.module_utils._inventory.model import (
    ImageRecord, Inventory, ManifestRecord)

from .helpers import pack


def record(image):
    return ManifestRecord(image.digest, image.media_type, image.size,
                          tuple((d.digest, d.size) for d in [image.config] + image.layers))


@pytest.fixture
def mirrored(releases, tmp_path):
    """Release 1 in the mirror as repositories app and tool, with tool's own layer lost; an inventory of it."""
    layout, r1, r2, base = releases
    inv = Inventory("mirror.example:5000", "2026-12-06T03:00:00Z", {"kind": "mirror_map", "images": 2}, True)
    for ref, img in r1.items():
        repo = inv.repository(ref.split("/", 1)[1].split(":")[0])
        repo.manifests[img.digest] = record(img)
        repo.tags["1"] = img.digest
        inv.images.append(ImageRecord(ref, repo.name, "1", img.digest, True, True))
    lost = r1["example.com/tool:1"].layers[-1]
    inv.repositories["tool"].missing_blobs[lost.digest] = lost.size
    path = tmp_path / "inventory.json"
    D.write(str(path), inv)
    return layout, r1, r2, base, lost, path


def test_the_bundle_carries_exactly_what_each_repository_lacks(mirrored, tmp_path):
    layout, r1, r2, base, lost, path = mirrored
    plan = plan_pack(str(layout.path), "r2", "64K", mirror_map=str(tmp_path / "map2.yml"), previous=str(path))
    carried = {d for d, _s in plan.blobs}
    manifests = {img.digest for img in r2.values()}
    app2 = r2["example.com/app:2"]
    # app:2 goes to repository app, which holds the base layer: its config and own layer travel
    assert carried == manifests | {app2.config.digest, app2.layers[-1].digest, lost.digest}
    assert {d for d, _s in plan.assumed} == {base.digest, r1["example.com/tool:1"].config.digest}
    assert plan.previous["kind"] == "inventory" and plan.previous["stale"] is False
    assert plan.previous["sha256"] == D.load(str(path))[1]["sha256"]
    assert plan.previous["state_digest"] == D.load(str(path))[0].state_digest()
    assert not plan.warnings


def test_an_image_of_a_repository_the_inventory_has_not_seen_has_nothing_assumed(mirrored):
    _layout, _r1, _r2, base, _lost, path = mirrored
    inv = D.load(str(path))[0]  # images are named by source: web is a repository the inventory has not seen
    have, unmatched = B.have_by_image(inv, ["example.com/app:2", "example.com/web:1", "not a reference"])
    assert unmatched == ["example.com/web:1", "not a reference"]
    assert base.digest in have["example.com/app:2"] and have["example.com/web:1"] == {}


def test_stale_is_another_bundle_packed_from_this_layout_with_an_inventory_read_as_late_or_later(mirrored, tmp_path):
    layout, r1, r2, base, lost, path = mirrored
    plan = plan_pack(str(layout.path), "r2", "64K", mirror_map=str(tmp_path / "map2.yml"), previous=str(path))
    pack(layout.path, tmp_path / "media", name="r2", mirror_map=str(tmp_path / "map2.yml"), previous=str(path))
    history = json.loads((tmp_path / "connected" / ".airgap-state" / B.HISTORY).read_text())["bundles"]
    assert history == [{"name": "r2", "registry": "mirror.example:5000", "read_at": "2026-12-06T03:00:00Z",
                        "state_digest": plan.previous["state_digest"], "sha256": plan.previous["sha256"]}]
    same = plan_pack(str(layout.path), "r2", "64K", mirror_map=str(tmp_path / "map2.yml"), previous=str(path))
    assert not same.previous["stale"] and not same.warnings
    other = plan_pack(str(layout.path), "r3", "64K", mirror_map=str(tmp_path / "map2.yml"), previous=str(path))
    assert other.previous["stale"] and other.previous["stale_because"]["name"] == "r2"
    assert other.warnings == [B.stale_message(other.previous, history[0])]
    assert "is stale: the bundle r2 was already packed from this inventory" in other.warnings[0]
    # a newer read is not stale; an older one than the recorded is
    newer = D.load(str(path))[0]
    newer.read_at = "2026-12-07T00:00:00Z"
    (tmp_path / "newer.json").write_bytes(D.dumps(newer))
    assert not plan_pack(str(layout.path), "r3", "64K", previous=str(tmp_path / "newer.json")).previous["stale"]
    older = D.load(str(path))[0]
    older.read_at = "2026-12-01T00:00:00Z"
    (tmp_path / "older.json").write_bytes(D.dumps(older))
    assert plan_pack(str(layout.path), "r3", "64K", previous=str(tmp_path / "older.json")).previous["stale"]
    # check mode records nothing
    pack(layout.path, tmp_path / "media4", name="r4", previous=str(tmp_path / "newer.json"), check_mode=True)
    assert "r4" not in (tmp_path / "connected" / ".airgap-state" / B.HISTORY).read_text()


def test_verify_keys_needs_an_inventory(mirrored, tmp_path):
    layout = mirrored[0]
    with pytest.raises(BundleError, match="verify_keys with action=pack checks the signature of an inventory"):
        plan_pack(str(layout.path), "r2", "64K", previous=str(tmp_path / "map1.yml"), trusted=object())
    with pytest.raises(BundleError, match="no previous was given"):
        plan_pack(str(layout.path), "r2", "64K", trusted=object())


def test_unpack_expects_what_the_bundle_left_out_in_the_mirror_not_in_the_layout(mirrored, tmp_path):
    layout, r1, r2, base, lost, path = mirrored
    pack(layout.path, tmp_path / "media", name="r2", mirror_map=str(tmp_path / "map2.yml"), previous=str(path))
    report = unpack(str(tmp_path / "media"), str(tmp_path / "staging"), "r2")
    assert report["status"] == "unpacked"
    assert report["assumed_in_mirror"] == {
        "registry": "mirror.example:5000", "inventory": str(path), "inventory_read_at": "2026-12-06T03:00:00Z",
        "blobs": 2, "bytes": base.size + r1["example.com/tool:1"].config.size}
    staged = Layout(str(tmp_path / "staging"))
    assert sorted(name for name, _d in staged.entries()) == sorted(r2)
    assert not staged.has_blob(base.digest) and staged.has_blob(lost.digest)
    again = unpack(str(tmp_path / "media"), str(tmp_path / "staging"), "r2")
    assert again["status"] == "present" and not again["changed"]
    # an ordinary incremental bundle still needs its earlier transfer in the layout
    pack(layout.path, tmp_path / "media-inc", name="inc", mirror_map=str(tmp_path / "map2.yml"),
         previous=str(tmp_path / "map1.yml"))
    with pytest.raises(BundleError, match="Unpack the bundle of"):
        unpack(str(tmp_path / "media-inc"), str(tmp_path / "fresh"), "inc")
