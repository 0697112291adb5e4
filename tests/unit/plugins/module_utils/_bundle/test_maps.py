"""Bundles and the mirror map: the map selects what is packed and records what is unpacked."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mapio

from support import images as I

from .helpers import map_entry, pack


def test_unpack_writes_the_mirror_map_for_the_new_layout(tmp_path):
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "quay.io/org/app:1.0", layers=[{"a": "1"}])
    entry = map_entry("quay.io/org/app:1.0", img, "oci:%s:quay.io/org/app:1.0" % layout.path)
    (tmp_path / "map.yml").write_text(mapio.dumps([entry]))
    pack(tmp_path / "l", tmp_path / "b", mirror_map=str(tmp_path / "map.yml"))
    doc = json.loads((tmp_path / "b" / "images.bundle.json").read_text())
    assert doc["mirror_map"] == [entry.to_dict()]
    other = dataclasses.replace(map_entry("docker.io/library/x:1", img, "oci:/elsewhere:docker.io/library/x:1"),
                                digest="sha256:" + "b" * 64, size=1)
    (tmp_path / "out-map.yml").write_text(mapio.dumps([other]))
    unpack(str(tmp_path / "b"), str(tmp_path / "out"), mirror_map=str(tmp_path / "out-map.yml"))
    written = mapio.load(str(tmp_path / "out-map.yml"))
    by_source = {str(e.source): e for e in written}
    assert str(by_source["quay.io/org/app:1.0"].destination) == "oci:%s:quay.io/org/app:1.0" % (tmp_path / "out")
    assert by_source["quay.io/org/app:1.0"].digest == img.digest
    assert by_source["docker.io/library/x:1"] == other
    # the mirror map is part of what "already unpacked" means
    again = unpack(str(tmp_path / "b"), str(tmp_path / "out"), mirror_map=str(tmp_path / "out-map.yml"))
    assert not again["changed"]
    # pruned, the map holds exactly the bundle's images; the same rule as image_mirror's map_prune
    pruned = unpack(str(tmp_path / "b"), str(tmp_path / "out"), mirror_map=str(tmp_path / "out-map.yml"),
                    map_prune=True)
    assert pruned["changed"]
    assert [str(e.source) for e in mapio.load(str(tmp_path / "out-map.yml"))] == ["quay.io/org/app:1.0"]


def test_mirror_map_selects_the_images_and_must_agree_with_the_layout(tmp_path, releases):
    layout, r1, _r2, _base = releases
    plan = plan_pack(layout.path, mirror_map=str(tmp_path / "map1.yml"))
    assert sorted(g.ref_name for g in plan.graphs) == sorted(r1)
    entries = list(mapio.load(str(tmp_path / "map1.yml")))
    entries[0] = dataclasses.replace(entries[0], digest="sha256:" + "e" * 64)
    (tmp_path / "bad.yml").write_text(mapio.dumps(entries))
    with pytest.raises(BundleError, match="the mirror map says sha256:e+, the layout .* records"):
        plan_pack(layout.path, mirror_map=str(tmp_path / "bad.yml"))


def test_unpack_with_a_map_refuses_a_layout_path_that_oci_destinations_cannot_carry(source, tmp_path):
    """``oci:PATH:REF`` is split at the first colon: a layout path with one would be recorded as a
    destination no reader can use, so the unpack stops before touching anything."""
    layout, _images = source
    pack(layout, tmp_path / "b")
    with pytest.raises(BundleError, match=r"cannot record the unpacked images: OCI layout path '.*/a:b' contains ':'"):
        unpack(str(tmp_path / "b"), str(tmp_path / "a:b"), mirror_map=str(tmp_path / "map.yml"))
    assert not (tmp_path / "a:b").exists() and not (tmp_path / "map.yml").exists()
    assert unpack(str(tmp_path / "b"), str(tmp_path / "a:b"))["status"] == "unpacked"
