"""Incremental bundles: what the other side already has is left out."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack

from .helpers import refs, pack


@pytest.mark.parametrize("previous", ["mirror map", "bundle manifest"])
def test_incremental_bundle_holds_only_what_the_other_side_lacks(tmp_path, releases, previous):
    layout, r1, r2, base = releases
    full = pack(layout.path, tmp_path / "media", name="r1", mirror_map=str(tmp_path / "map1.yml"))
    prev = str(tmp_path / "map1.yml") if previous == "mirror map" else str(tmp_path / "media" / "r1.bundle.json")
    inc = pack(layout.path, tmp_path / "media", name="r2", mirror_map=str(tmp_path / "map2.yml"), previous=prev)
    assert sorted(i["ref_name"] for i in inc["images"]) == ["example.com/app:2", "example.com/tool:1"]
    assert inc["bytes"] < full["bytes"] / 5, (inc["bytes"], full["bytes"])
    doc = json.loads((tmp_path / "media" / "r2.bundle.json").read_text())
    in_bundle = {b["digest"] for b in doc["blobs"]}
    assumed = {b["digest"] for b in doc["assumed_present"]}
    assert base.digest in assumed and base.digest not in in_bundle
    # manifests are always included, even of an image the other side already has
    assert r1["example.com/tool:1"].digest in in_bundle and r2["example.com/app:2"].digest in in_bundle
    assert doc["previous"]["kind"] == ("mirror_map" if previous == "mirror map" else "bundle")

    # air-gapped side: r1 then r2
    unpack(str(tmp_path / "media"), str(tmp_path / "airgap"), name="r1")
    report = unpack(str(tmp_path / "media"), str(tmp_path / "airgap"), name="r2")
    r1_blobs = set()
    for img in r1.values():
        r1_blobs.update(img.blobs())
    assert report["blobs_written"] == len(in_bundle - r1_blobs) > 0
    assert refs(tmp_path / "airgap") == {ref: img.digest for ref, img in {**r1, **r2}.items()}

    # r2 alone into a fresh layout: refused before anything is written, naming the images
    with pytest.raises(BundleError, match=r"2 image\(s\) of this incremental bundle need 3 blob\(s\) .* not in "
                       r"the layout .*: example.com/app:2, example.com/tool:1\. Unpack the bundle of"):
        unpack(str(tmp_path / "media"), str(tmp_path / "fresh"), name="r2")
    assert not (tmp_path / "fresh").exists()


def test_previous_map_image_gone_from_the_layout_is_a_clear_error(tmp_path, releases):
    layout, r1, _r2, _base = releases
    gone = r1["example.com/app:1"]
    os.unlink(layout.blob_path(gone.digest))
    with pytest.raises(BundleError, match=r"no longer holds 1 image\(s\) of the previous mirror map .*map1.yml: "
                       r"example.com/app:1 \(%s\).*give the previous bundle's manifest" % gone.digest):
        plan_pack(layout.path, images=["example.com/tool:1"], previous=str(tmp_path / "map1.yml"))
