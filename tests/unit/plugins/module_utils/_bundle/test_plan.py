"""The pack plan: part_size (K/M/G = 1024, KB/MB/GB = 1000), what is selected, what is refused
before any byte is written."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.names import DEFAULT_PART_SIZE
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._common.sizes import parse_size

from support import images as I

from .helpers import pack


@pytest.mark.parametrize("text, size", [
    ("4G", 4 << 30), ("4g", 4 << 30), ("4GiB", 4 << 30), ("4Gi", 4 << 30), ("4GB", 4 * 1000 ** 3),
    ("700M", 700 << 20), ("700MB", 700 * 1000 ** 2), ("64K", 64 << 10), ("1.5G", 3 << 29), ("4095M", 4095 << 20),
    ("65536", 65536), (65536, 65536), ("12B", 12), (" 2 M ", 2 << 20), ("1T", 1 << 40),
])
def test_human_sizes(text, size):
    assert parse_size(text, "part_size") == size


@pytest.mark.parametrize("text", ["", "G", "4X", "-1", "0", "4 G B", "1e9", True, "4..5M", 0])
def test_bad_sizes_are_refused_with_the_value(text):
    with pytest.raises(ValueError, match="part_size"):
        parse_size(text, "part_size")


def test_default_part_size_fits_fat32():
    assert parse_size(DEFAULT_PART_SIZE, "part_size") <= 4 * 1024 ** 3 - 1


def test_selecting_images_and_unknown_names(source, tmp_path):
    layout, images = source
    report = pack(layout, tmp_path / "b", images=["app-1.0", "tool-2.0"])
    assert sorted(i["ref_name"] for i in report["images"]) == ["app-1.0", "tool-2.0"]
    wanted = {}
    for ref in ("app-1.0", "tool-2.0"):
        wanted.update(images[ref].blobs())
    assert report["blobs"] == len(wanted) and report["blob_bytes"] == sum(wanted.values())
    with pytest.raises(BundleError, match=r"not in the layout .*: nope:1 \(it holds 6 images: app-1.0"):
        plan_pack(layout, images=["app-1.0", "nope:1"])


def test_incomplete_image_is_refused_naming_it(tmp_path):
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "broken", layers=[{"a": "1"}, {"b": "2"}])
    os.unlink(layout.blob_path(img.layers[1].digest))
    with pytest.raises(BundleError, match=r"broken \(1 missing: %s\)" % img.layers[1].digest):
        plan_pack(str(tmp_path / "l"))


def test_too_many_parts_is_refused(source):
    layout, _images = source
    with pytest.raises(BundleError, match="use a larger part_size"):
        plan_pack(layout, part_size="1")


def test_pack_refuses_a_ref_name_the_other_side_would_refuse(tmp_path):
    layout = I.OCILayout(tmp_path / "src")
    I.build_image(layout, "with space", layers=[{"app": "1"}])
    I.build_image(layout, "fine", layers=[{"app": "2"}])
    with pytest.raises(BundleError, match=r"%s/index.json: ref name 'with space' is neither an image reference"
                       % layout.path) as caught:
        plan_pack(str(layout.path))
    assert "the other side would refuse this bundle" in str(caught.value)
    assert plan_pack(str(layout.path), images=["fine"]).graphs[0].ref_name == "fine"
