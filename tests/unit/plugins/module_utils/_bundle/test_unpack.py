"""Unpacking bundles into layouts on real files."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.pack import pack as pack_bundle
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import PackPlan, plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout

from support import images as I

from .helpers import all_blobs, part_paths, refs, pack


def test_unpack_round_trip_into_a_new_layout(source, tmp_path):
    layout, images = source
    pack(layout, tmp_path / "b")
    report = unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert report["changed"] and report["status"] == "unpacked"
    wanted = all_blobs(images)
    assert report["blobs_written"] == len(wanted) and report["bytes_written"] == sum(wanted.values())
    assert {i["status"] for i in report["images"]} == {"added"}
    for digest in wanted:
        assert (tmp_path / "out" / "blobs" / "sha256" / digest[7:]).read_bytes() == \
            open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb").read()
    assert refs(tmp_path / "out") == {r: img.digest for r, img in images.items()}
    assert not (tmp_path / "out" / ".airgap-state").exists()
    # unpacking again reads no part at all
    for path in os.listdir(tmp_path / "b"):
        if ".tar." in path:
            os.chmod(tmp_path / "b" / path, 0)
    again = unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert not again["changed"] and again["status"] == "present"
    assert {i["status"] for i in again["images"]} == {"present"}


def test_unpack_merges_into_an_existing_layout(source, tmp_path):
    layout, images = source
    pack(layout, tmp_path / "b", images=["app-1.1"])
    target = I.OCILayout(tmp_path / "out")
    mine = I.build_image(target, "local/mine:1", layers=[{"x": "local"}])
    I.build_image(target, "app-1.1", layers=[{"x": "an older app-1.1"}])
    report = unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert [(i["ref_name"], i["status"]) for i in report["images"]] == [("app-1.1", "updated")]
    assert refs(tmp_path / "out") == {"local/mine:1": mine.digest, "app-1.1": images["app-1.1"].digest}
    assert "app-1.1 %s" % images["app-1.1"].digest in report["diff"]["after"]


def test_unpack_check_mode(source, tmp_path):
    layout, images = source
    pack(layout, tmp_path / "b")
    report = unpack(str(tmp_path / "b"), str(tmp_path / "out"), check_mode=True)
    assert report["changed"] and report["status"] == "would_unpack"
    assert report["bytes_to_write"] == sum(all_blobs(images).values())
    assert {i["status"] for i in report["images"]} == {"would_be_added"}
    assert not (tmp_path / "out").exists()


def test_unpack_refuses_a_directory_that_is_not_a_layout(source, tmp_path):
    layout, _images = source
    pack(layout, tmp_path / "b")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="exists and is not an OCI image layout"):
        unpack(str(tmp_path / "b"), str(tmp_path / "home"))


@pytest.mark.parametrize("damage", ["missing", "truncated", "corrupted"])
def test_unpack_names_the_bad_part_and_leaves_index_json_alone(source, tmp_path, damage):
    layout, images = source
    report = pack(layout, tmp_path / "b", part_size="32K")
    victim = part_paths(tmp_path / "b", report)[3]
    name = os.path.basename(victim)
    if damage == "missing":
        os.unlink(victim)
    elif damage == "truncated":
        with open(victim, "r+b") as handle:
            handle.truncate(5000)
    else:
        with open(victim, "r+b") as handle:
            handle.seek(20000)
            byte = handle.read(1)
            handle.seek(20000)
            handle.write(bytes([byte[0] ^ 0x55]))
    target = I.OCILayout(tmp_path / "out")
    with pytest.raises(BundleError) as caught:
        unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert caught.value.part == name
    assert "%s: %s" % (name, damage) in str(caught.value)
    assert refs(tmp_path / "out") == {}
    if damage != "corrupted":  # refused before anything was read
        assert os.listdir(target.path / "blobs" / "sha256") == []


def test_unpack_resumes_after_an_interruption(source, tmp_path):
    layout, images = source
    pack(layout, tmp_path / "b")

    class Stop(Exception):
        pass

    seen = []

    def stop(event, info):
        if event == "blob_unpacked":
            seen.append(info["digest"])
            if len(seen) == 5:
                raise Stop()

    with pytest.raises(Stop):
        unpack(str(tmp_path / "b"), str(tmp_path / "out"), progress=stop)
    assert refs(tmp_path / "out") == {}, "no image may be visible before the whole bundle is in"
    report = unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert report["blobs_written"] == len(all_blobs(images)) - 5
    assert refs(tmp_path / "out") == {r: img.digest for r, img in images.items()}


def test_a_bundle_whose_image_list_lies_fails_the_completeness_check(tmp_path):
    """An image whose manifest needs a blob that the bundle neither carries nor assumes: the
    stream unpacks, the completeness check catches it, index.json stays unchanged."""
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "liar", layers=[{"a": "1"}, {"b": "2"}])
    plan = plan_pack(str(tmp_path / "l"), part_size="64K")
    dropped = img.layers[1].digest
    graph = plan.graphs[0]
    del graph.blobs[dropped]
    lying = PackPlan(plan.layout, plan.name, plan.part_size, plan.graphs,
                     [(d, s) for d, s in plan.blobs if d != dropped], [], plan.owners, None, None, [])
    pack_bundle(lying, str(tmp_path / "b"))
    with pytest.raises(BundleError, match=r"liar \(1 missing: %s\)" % dropped):
        unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert refs(tmp_path / "out") == {}


def test_unpack_that_only_names_images_reads_no_part(source, tmp_path):
    """Every blob is already in the layout (from another bundle) but the ref names are new: the
    images are recorded without reading a part."""
    layout, images = source
    pack(layout, tmp_path / "all")
    unpack(str(tmp_path / "all"), str(tmp_path / "out"))
    Layout(str(tmp_path / "out")).remove_refs(["app-1.0", "db-15"])
    for entry in os.listdir(tmp_path / "all"):
        if ".tar." in entry:
            os.unlink(tmp_path / "all" / entry)
    report = unpack(str(tmp_path / "all"), str(tmp_path / "out"))
    assert report["changed"] and report["blobs_written"] == 0
    assert sorted(i["ref_name"] for i in report["images"] if i["status"] == "added") == ["app-1.0", "db-15"]
    assert refs(tmp_path / "out") == {r: img.digest for r, img in images.items()}
