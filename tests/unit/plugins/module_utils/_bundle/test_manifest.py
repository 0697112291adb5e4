"""The bundle manifest read from media is validated before any name in it is used."""

from __future__ import annotations

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify

from .helpers import pack, self_consistent_bundle, BAD_REF_NAMES


def test_manifest_from_media_is_validated(source, tmp_path):
    layout, _images = source
    pack(layout, tmp_path / "b")
    path = tmp_path / "b" / "images.bundle.json"
    doc = json.loads(path.read_text())
    for mutate, message in [
        (lambda d: d.update(format="airgap.mirror/bundle/v9"), "unsupported format"),
        (lambda d: d["parts"][0].update(name="../../etc/passwd"), "invalid part name"),
        (lambda d: d["parts"][0].update(sha256="nothex"), "sha256 of 64 hex digits"),
        (lambda d: d["tar"].update(size=1), "not the sum of the part sizes"),
        (lambda d: d["images"][0]["blobs"].append("sha256:" + "a" * 64), "neither in the bundle's blobs"),
    ]:
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(BundleError, match=message):
            verify(str(tmp_path / "b"))
    path.write_text("{not json")
    with pytest.raises(BundleError, match="images.bundle.json is not valid JSON"):
        unpack(str(tmp_path / "b"), str(tmp_path / "out"))


@pytest.mark.parametrize("with_map", [False, True], ids=["no-map", "map"])
@pytest.mark.parametrize("name", BAD_REF_NAMES)
def test_bad_ref_names_in_a_bundle_are_refused_by_verify_and_unpack(tmp_path, name, with_map):
    self_consistent_bundle(tmp_path / "b", tmp_path / "src", name)
    manifest = str(tmp_path / "b" / "images.bundle.json")
    assert json.loads(open(manifest).read())["images"][0]["ref_name"] == name
    expected = "%s: images[0]: ref name %r is neither an image reference nor an OCI ref name" % (manifest, name)
    with pytest.raises(BundleError) as caught:
        verify(str(tmp_path / "b"))
    assert str(caught.value).startswith(expected)
    assert caught.value.part == "images.bundle.json"
    map_path = tmp_path / "map.yml" if with_map else None
    with pytest.raises(BundleError) as caught:
        unpack(str(tmp_path / "b"), str(tmp_path / "out"), mirror_map=str(map_path) if map_path else None)
    assert str(caught.value).startswith(expected)
    assert not (tmp_path / "out").exists() and not (tmp_path / "map.yml").exists()
