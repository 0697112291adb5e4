"""Packing a layout into parts on real files."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.pack import pack as pack_bundle
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import REF_NAME

from support import images as I

from .helpers import sha, all_blobs, part_paths, pack, KiB


def test_pack_splits_one_tar_stream_at_byte_boundaries(source, tmp_path):
    layout, images = source
    report = pack(layout, tmp_path / "b", part_size="64K")
    assert report["changed"] and report["status"] == "written"
    sizes = [p["size"] for p in report["parts"]]
    assert all(s == 64 * KiB for s in sizes[:-1]) and 0 < sizes[-1] <= 64 * KiB
    assert sum(sizes) == report["bytes"]
    # the parts concatenated are one tar: oci-layout, every blob of every image (digest order), index.json last
    stream = b"".join(open(p, "rb").read() for p in part_paths(tmp_path / "b", report))
    with tarfile.open(fileobj=io.BytesIO(stream), mode="r:") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        wanted = all_blobs(images)
        assert names[0] == "oci-layout" and names[-1] == "index.json"
        assert names[1:-1] == sorted("blobs/sha256/" + d[7:] for d in wanted)
        for member in members[1:-1]:
            assert member.isreg() and member.mtime == 0 and member.uid == 0 and member.mode == 0o644
            data = tar.extractfile(member).read()
            assert "sha256:" + sha(data) == "sha256:" + member.name.rsplit("/", 1)[1]
        index = json.loads(tar.extractfile("index.json").read())
        assert {m["annotations"][REF_NAME]: m["digest"] for m in index["manifests"]} == {
            ref: img.digest for ref, img in images.items()}
    # the large layer is cut across parts
    big_layer = images["large"].layers[0]
    assert big_layer.size > 4 * 64 * KiB
    # manifest: parts with hashes, images, blobs, bytes
    doc = json.loads((tmp_path / "b" / "images.bundle.json").read_text())
    assert doc["format"] == "airgap.mirror/bundle/v1" and doc["tar"]["split"] == "bytes"
    assert [(p["name"], p["size"]) for p in doc["parts"]] == [(p["name"], p["size"]) for p in report["parts"]]
    for part, path in zip(doc["parts"], part_paths(tmp_path / "b", report)):
        assert sha(open(path, "rb").read()) == part["sha256"]
    assert {b["digest"]: b["size"] for b in doc["blobs"]} == wanted
    assert doc["blob_bytes"] == sum(wanted.values()) == report["blob_bytes"]
    assert {i["ref_name"]: i["digest"] for i in doc["images"]} == {r: img.digest for r, img in images.items()}
    assert set(doc["images"][0]["blobs"]) <= set(wanted)
    # sha256sum -c lines
    sums = (tmp_path / "b" / "images.sha256").read_text().splitlines()
    assert sums == ["%s  %s" % (p["sha256"], p["name"]) for p in doc["parts"]]


def test_pack_is_deterministic_and_idempotent(source, tmp_path):
    layout, _images = source
    first = pack(layout, tmp_path / "one")
    second = pack(layout, tmp_path / "two")
    assert [p["sha256"] for p in first["parts"]] == [p["sha256"] for p in second["parts"]]
    before = {p: os.stat(p).st_mtime_ns for p in part_paths(tmp_path / "one", first)}
    again = pack(layout, tmp_path / "one")
    assert not again["changed"] and again["status"] == "present"
    assert {p: os.stat(p).st_mtime_ns for p in part_paths(tmp_path / "one", first)} == before
    # a damaged part is not "present": re-packing repairs it
    victim = part_paths(tmp_path / "one", first)[1]
    with open(victim, "r+b") as handle:
        handle.seek(100)
        handle.write(b"X")
    repaired = pack(layout, tmp_path / "one")
    assert repaired["changed"]
    assert verify(str(tmp_path / "one"))["valid"]


def test_check_mode_predicts_the_parts_and_writes_nothing(source, tmp_path):
    layout, _images = source
    predicted = pack(layout, tmp_path / "b", check_mode=True)
    assert predicted["changed"] and predicted["status"] == "would_write"
    assert not (tmp_path / "b").exists()
    real = pack(layout, tmp_path / "b")
    assert [(p["name"], p["size"]) for p in predicted["parts"]] == [(p["name"], p["size"]) for p in real["parts"]]
    assert predicted["bytes"] == real["bytes"]
    assert "(to be written)" in predicted["diff"]["after"] and predicted["diff"]["before"] == ""
    assert not pack(layout, tmp_path / "b", check_mode=True)["changed"]


def test_interrupted_pack_never_leaves_a_manifest(source, tmp_path):
    layout, _images = source
    pack(layout, tmp_path / "b", part_size="64K")
    assert (tmp_path / "b" / "images.bundle.json").exists()

    class Stop(Exception):
        pass

    def stop_after_two_parts(event, info):
        if event == "part_written" and info["part"].endswith(".0002"):
            raise Stop()

    # different content (another part size) into the same directory, killed after two parts
    with pytest.raises(Stop):
        pack(layout, tmp_path / "b", part_size="48K", progress=stop_after_two_parts)
    assert not (tmp_path / "b" / "images.bundle.json").exists(), "the old manifest must go before any new part"
    assert not [e for e in os.listdir(tmp_path / "b") if e.endswith(".tmp")]
    with pytest.raises(BundleError, match="images.bundle.json does not exist: the bundle is incomplete"):
        verify(str(tmp_path / "b"))
    # a re-run completes it
    assert pack(layout, tmp_path / "b", part_size="48K")["changed"]
    assert verify(str(tmp_path / "b"))["valid"]


def test_resume_state_is_never_bundled(source, tmp_path):
    layout, _images = source
    state = os.path.join(layout, ".airgap-state", "partial")
    os.makedirs(state, exist_ok=True)
    with open(os.path.join(state, "sha256-" + "0" * 64), "wb") as handle:
        handle.write(b"half a blob")
    try:
        report = pack(layout, tmp_path / "b")
    finally:
        os.unlink(os.path.join(state, "sha256-" + "0" * 64))
    stream = b"".join(open(p, "rb").read() for p in part_paths(tmp_path / "b", report))
    assert b"airgap-state" not in stream and b"half a blob" not in stream


def test_damaged_blob_in_the_layout_stops_the_pack(tmp_path):
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "victim", layers=[{"a": "x" * 5000}])
    path = layout.blob_path(img.layers[0].digest)
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"victim: blob %s in the layout .* does not match its digest"
                       % img.layers[0].digest):
        pack(tmp_path / "l", tmp_path / "b")
    assert not (tmp_path / "b" / "images.bundle.json").exists()


def test_a_refused_pack_leaves_no_directory_behind(source, tmp_path):
    """The real pack makes the bundle directory to lock it; a pack refused before writing a part
    removes the directories it made."""
    layout, _images = source
    plan = plan_pack(str(layout), part_size="64K")
    plan.tar_size = 1 << 62  # more than any file system has free
    with pytest.raises(BundleError, match="not enough free space"):
        pack_bundle(plan, str(tmp_path / "new" / "media"))
    assert not (tmp_path / "new").exists()
