"""Transfer bundles (plugins/module_utils/_bundle.py) on real files: layouts built by the test bed
(tests/support/images.py), parts on disk, hand-made hostile tar streams. No daemons, no mocks."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle import bundle as B
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import legacy as mirrormap
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import REF_NAME, Layout

from support import images as I

KiB = 1024


def sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The demo's sample set plus an image with a 300 KiB layer (parts of 64 KiB split inside it)."""
    samples = I.sample_set(tmp_path_factory.mktemp("src") / "layout")
    big = I.build_large_image(samples.layout, "large", size=300 * KiB, seed=7)
    images = dict(samples.images)
    images["large"] = big
    return samples.layout.path, images


def all_blobs(images):
    out = {}
    for image in images.values():
        out.update(image.blobs())
    return out


def part_paths(bundle_dir, report):
    return [os.path.join(bundle_dir, p["name"]) for p in report["parts"]]


def refs(layout_path):
    """The layout's ref names and digests; {} when there is no layout (yet)."""
    if not os.path.exists(os.path.join(layout_path, "oci-layout")):
        return {}
    return {name: desc.digest for name, desc in Layout(layout_path).entries()}


def pack(layout, bundle_dir, **kwargs):
    opts = {k: kwargs.pop(k) for k in ("name", "part_size", "images", "mirror_map", "previous") if k in kwargs}
    opts.setdefault("part_size", "64K")
    return B.pack(B.plan_pack(str(layout), **opts), str(bundle_dir), **kwargs)


# ----------------------------------------------------------------------------- sizes and names

@pytest.mark.parametrize("text, size", [
    ("4G", 4 << 30), ("4g", 4 << 30), ("4GiB", 4 << 30), ("4Gi", 4 << 30), ("4GB", 4 * 1000 ** 3),
    ("700M", 700 << 20), ("700MB", 700 * 1000 ** 2), ("64K", 64 << 10), ("1.5G", 3 << 29), ("4095M", 4095 << 20),
    ("65536", 65536), (65536, 65536), ("12B", 12), (" 2 M ", 2 << 20), ("1T", 1 << 40),
])
def test_human_sizes(text, size):
    assert B.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "4X", "-1", "0", "4 G B", "1e9", True, "4..5M", 0])
def test_bad_sizes_are_refused_with_the_value(text):
    with pytest.raises(ValueError, match="part_size"):
        B.parse_size(text)


def test_default_part_size_fits_fat32():
    assert B.parse_size(B.DEFAULT_PART_SIZE) <= 4 * 1024 ** 3 - 1


def test_names():
    assert B.part_file_name("r1", 3, 12) == "r1.tar.0003"
    assert B.part_file_name("r1", 3, 123456) == "r1.tar.000003"
    for bad in ("", "../x", "a/b", ".hidden", "x y", "-x"):
        with pytest.raises(ValueError, match="bundle name"):
            B.check_name(bad)


# ----------------------------------------------------------------------------- pack

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
    assert B.verify(str(tmp_path / "one"))["valid"]


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
    with pytest.raises(B.BundleError, match="images.bundle.json does not exist: the bundle is incomplete"):
        B.verify(str(tmp_path / "b"))
    # a re-run completes it
    assert pack(layout, tmp_path / "b", part_size="48K")["changed"]
    assert B.verify(str(tmp_path / "b"))["valid"]


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


def test_selecting_images_and_unknown_names(source, tmp_path):
    layout, images = source
    report = pack(layout, tmp_path / "b", images=["app-1.0", "tool-2.0"])
    assert sorted(i["ref_name"] for i in report["images"]) == ["app-1.0", "tool-2.0"]
    wanted = {}
    for ref in ("app-1.0", "tool-2.0"):
        wanted.update(images[ref].blobs())
    assert report["blobs"] == len(wanted) and report["blob_bytes"] == sum(wanted.values())
    with pytest.raises(B.BundleError, match=r"not in the layout .*: nope:1 \(it holds 6 images: app-1.0"):
        B.plan_pack(layout, images=["app-1.0", "nope:1"])


def test_incomplete_image_is_refused_naming_it(tmp_path):
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "broken", layers=[{"a": "1"}, {"b": "2"}])
    os.unlink(layout.blob_path(img.layers[1].digest))
    with pytest.raises(B.BundleError, match=r"broken \(1 missing: %s\)" % img.layers[1].digest):
        B.plan_pack(str(tmp_path / "l"))


def test_damaged_blob_in_the_layout_stops_the_pack(tmp_path):
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "victim", layers=[{"a": "x" * 5000}])
    path = layout.blob_path(img.layers[0].digest)
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(B.BundleError, match=r"victim: blob %s in the layout .* does not match its digest"
                       % img.layers[0].digest):
        pack(tmp_path / "l", tmp_path / "b")
    assert not (tmp_path / "b" / "images.bundle.json").exists()


def test_too_many_parts_is_refused(source):
    layout, _images = source
    with pytest.raises(B.BundleError, match="use a larger part_size"):
        B.plan_pack(layout, part_size="1")


# ----------------------------------------------------------------------------- verify

def test_verify_names_every_bad_part(source, tmp_path):
    layout, _images = source
    report = pack(layout, tmp_path / "b", part_size="32K")
    paths = part_paths(tmp_path / "b", report)
    assert len(paths) >= 6
    assert B.verify(str(tmp_path / "b"))["valid"]
    corrupt, truncated, missing, longer = paths[1], paths[2], paths[3], paths[4]
    with open(corrupt, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0x01]))
    with open(truncated, "r+b") as handle:
        handle.truncate(1000)
    os.unlink(missing)
    with open(longer, "ab") as handle:
        handle.write(b"\0")
    extra = tmp_path / "b" / "images.tar.0999"
    extra.write_bytes(b"left over")
    (tmp_path / "b" / ".images.tar.0003.abc123.tmp").write_bytes(b"x")
    (tmp_path / "b" / "other.tar.0001").write_bytes(b"another bundle's part: not ours")

    result = B.verify(str(tmp_path / "b"))
    assert not result["valid"]
    got = {(p["part"], p["problem"]) for p in result["problems"]}
    assert got == {
        (os.path.basename(corrupt), "corrupted"),
        (os.path.basename(truncated), "truncated"),
        (os.path.basename(missing), "missing"),
        (os.path.basename(longer), "too_long"),
    }
    # files of the bundle's name that the manifest does not list are named, not counted as damage
    assert {(p["part"], p["problem"]) for p in result["extra"]} == {
        ("images.tar.0999", "extra"), (".images.tar.0003.abc123.tmp", "extra")}
    messages = {p["part"]: p["message"] for p in result["problems"]}
    assert messages[os.path.basename(truncated)] == "%s: truncated: 1000 of %d bytes" % (
        os.path.basename(truncated), 32 * KiB)
    assert "sha256 is" in messages[os.path.basename(corrupt)]
    assert "missing" in messages[os.path.basename(missing)]
    statuses = {p["name"]: p["status"] for p in result["parts"]}
    assert statuses[os.path.basename(paths[0])] == "ok" and statuses["images.tar.0999"] == "extra"


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
        with pytest.raises(B.BundleError, match=message):
            B.verify(str(tmp_path / "b"))
    path.write_text("{not json")
    with pytest.raises(B.BundleError, match="images.bundle.json is not valid JSON"):
        B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))


# ----------------------------------------------------------------------------- unpack

def test_unpack_round_trip_into_a_new_layout(source, tmp_path):
    layout, images = source
    pack(layout, tmp_path / "b")
    report = B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
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
    again = B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert not again["changed"] and again["status"] == "present"
    assert {i["status"] for i in again["images"]} == {"present"}


def test_unpack_merges_into_an_existing_layout(source, tmp_path):
    layout, images = source
    pack(layout, tmp_path / "b", images=["app-1.1"])
    target = I.OCILayout(tmp_path / "out")
    mine = I.build_image(target, "local/mine:1", layers=[{"x": "local"}])
    I.build_image(target, "app-1.1", layers=[{"x": "an older app-1.1"}])
    report = B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert [(i["ref_name"], i["status"]) for i in report["images"]] == [("app-1.1", "updated")]
    assert refs(tmp_path / "out") == {"local/mine:1": mine.digest, "app-1.1": images["app-1.1"].digest}
    assert "app-1.1 %s" % images["app-1.1"].digest in report["diff"]["after"]


def test_unpack_check_mode(source, tmp_path):
    layout, images = source
    pack(layout, tmp_path / "b")
    report = B.unpack(str(tmp_path / "b"), str(tmp_path / "out"), check_mode=True)
    assert report["changed"] and report["status"] == "would_unpack"
    assert report["bytes_to_write"] == sum(all_blobs(images).values())
    assert {i["status"] for i in report["images"]} == {"would_be_added"}
    assert not (tmp_path / "out").exists()


def test_unpack_refuses_a_directory_that_is_not_a_layout(source, tmp_path):
    layout, _images = source
    pack(layout, tmp_path / "b")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    with pytest.raises(B.BundleError, match="exists and is not an OCI image layout"):
        B.unpack(str(tmp_path / "b"), str(tmp_path / "home"))


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
    with pytest.raises(B.BundleError) as caught:
        B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
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
        B.unpack(str(tmp_path / "b"), str(tmp_path / "out"), progress=stop)
    assert refs(tmp_path / "out") == {}, "no image may be visible before the whole bundle is in"
    report = B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert report["blobs_written"] == len(all_blobs(images)) - 5
    assert refs(tmp_path / "out") == {r: img.digest for r, img in images.items()}


def test_unpack_writes_the_mirror_map_for_the_new_layout(tmp_path):
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "quay.io/org/app:1.0", layers=[{"a": "1"}])
    entry = mirrormap.make_entry(_parse("quay.io/org/app:1.0"), img.digest, img.media_type, [], img.total_size,
                                 "oci:%s:quay.io/org/app:1.0" % layout.path)
    (tmp_path / "map.yml").write_text(mirrormap.dumps([entry]))
    pack(tmp_path / "l", tmp_path / "b", mirror_map=str(tmp_path / "map.yml"))
    doc = json.loads((tmp_path / "b" / "images.bundle.json").read_text())
    assert doc["mirror_map"] == [entry]
    other = mirrormap.make_entry(_parse("docker.io/library/x:1"), "sha256:" + "b" * 64, img.media_type, [], 1,
                                 "oci:/elsewhere:docker.io/library/x:1")
    (tmp_path / "out-map.yml").write_text(mirrormap.dumps([other]))
    B.unpack(str(tmp_path / "b"), str(tmp_path / "out"), mirror_map=str(tmp_path / "out-map.yml"))
    written = mirrormap.load(str(tmp_path / "out-map.yml"))
    by_source = {e["source"]: e for e in written}
    assert by_source["quay.io/org/app:1.0"]["destination"] == "oci:%s:quay.io/org/app:1.0" % (tmp_path / "out")
    assert by_source["quay.io/org/app:1.0"]["digest"] == img.digest
    assert by_source["docker.io/library/x:1"] == other
    # the mirror map is part of what "already unpacked" means
    again = B.unpack(str(tmp_path / "b"), str(tmp_path / "out"), mirror_map=str(tmp_path / "out-map.yml"))
    assert not again["changed"]


def _parse(text):
    from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference
    return reference.parse(text)


def test_a_bundle_whose_image_list_lies_fails_the_completeness_check(tmp_path):
    """An image whose manifest needs a blob that the bundle neither carries nor assumes: the
    stream unpacks, the completeness check catches it, index.json stays unchanged."""
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "liar", layers=[{"a": "1"}, {"b": "2"}])
    plan = B.plan_pack(str(tmp_path / "l"), part_size="64K")
    dropped = img.layers[1].digest
    graph = plan.graphs[0]
    del graph.blobs[dropped]
    lying = B.PackPlan(plan.layout, plan.name, plan.part_size, plan.graphs,
                       [(d, s) for d, s in plan.blobs if d != dropped], [], plan.owners, None, None, [])
    B.pack(lying, str(tmp_path / "b"))
    with pytest.raises(B.BundleError, match=r"liar \(1 missing: %s\)" % dropped):
        B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert refs(tmp_path / "out") == {}


# ----------------------------------------------------------------------------- hostile tar streams

def _info(name, size=0, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mode = size, kind, linkname, 0o644
    return info


def crafted_bundle(directory, entries, fmt=tarfile.GNU_FORMAT, mangle=None):
    """A one-part bundle around a hand-made tar whose manifest checksums MATCH (the attacker wrote
    both), listing one real image so that only the member checks can stop it. *mangle* edits the
    tar bytes before the checksums are taken."""
    directory.mkdir()
    layout = I.OCILayout(directory / "src")
    img = I.build_image(layout, "good", layers=[{"a": "1"}])
    blobs = img.blobs()
    members = []
    for digest in sorted(blobs):
        members.append((_info("blobs/sha256/" + digest[7:], blobs[digest]),
                        layout.blob_path(digest).read_bytes()))
    members = entries(members)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    stream = buf.getvalue()
    if mangle is not None:
        stream = mangle(stream)
    (directory / "images.tar.0001").write_bytes(stream)
    doc = {
        "format": B.FORMAT, "name": "images",
        "tar": {"writer": B.TAR_WRITER, "split": "bytes", "part_size": len(stream), "size": len(stream)},
        "parts": [{"name": "images.tar.0001", "size": len(stream), "sha256": sha(stream)}],
        "images": [{"ref_name": "good", "digest": img.digest, "media_type": img.media_type, "size": img.size,
                    "blobs": sorted(blobs)}],
        "blobs": [{"digest": d, "size": s} for d, s in sorted(blobs.items())],
        "blob_bytes": sum(blobs.values()), "assumed_present": [], "assumed_bytes": 0,
        "previous": None, "mirror_map": None,
    }
    (directory / "images.bundle.json").write_text(json.dumps(doc))
    assert B.verify(str(directory))["valid"]
    return img


HOSTILE = {
    "parent": (lambda m: [(_info("../evil", 4), b"evil")] + m, r"'\.\./evil': path with '\.\.' escapes the layout"),
    "nested-parent": (lambda m: [(_info("blobs/../../evil", 4), b"evil")] + m, r"path with '\.\.'"),
    "absolute": (lambda m: [(_info("/tmp/airgap-evil-absolute", 4), b"evil")] + m, r"absolute path"),
    "symlink-escape": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.SYMTYPE,
                                         linkname="../../../../../../etc/passwd"), None)] + m,
                       r"symbolic link to '\.\./\.\./\.\./\.\./\.\./\.\./etc/passwd' escapes the layout"),
    "symlink-absolute": (lambda m: [(_info("oci-layout", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), None)] + m,
                         r"symbolic link to '/etc/passwd' escapes the layout"),
    "symlink-inside": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.SYMTYPE,
                                         linkname="d" * 64), None)] + m,
                       r"symbolic link to 'd{64}' \(a bundle holds only regular files\)"),
    "hardlink-escape": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.LNKTYPE,
                                          linkname="../../etc/shadow"), None)] + m,
                        r"hard link to '\.\./\.\./etc/shadow' escapes the layout"),
    "device": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.CHRTYPE), None)] + m, r"device file"),
    "fifo": (lambda m: [(_info("index.json", kind=tarfile.FIFOTYPE), None)] + m, r"FIFO"),
    "duplicate": (lambda m: m + [m[0]], r"duplicate entry"),
    "unexpected": (lambda m: [(_info("etc/cron.d/evil", 4), b"evil")] + m, r"unexpected file"),
    "dot-dir": (lambda m: [(_info(".airgap-state/partial/x", 4), b"evil")] + m, r"unexpected file"),
    "not-listed": (lambda m: [(_info("blobs/sha256/" + sha(b"evil"), 4), b"evil")] + m,
                   r"is not listed in the bundle manifest"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_by_name(tmp_path, case):
    entries, message = HOSTILE[case]
    crafted_bundle(tmp_path / "bundle", entries)
    target = tmp_path / "deep" / "er" / "out"
    with pytest.raises(B.BundleError, match=message) as caught:
        B.unpack(str(tmp_path / "bundle"), str(target))
    assert caught.value.part == "images.tar.0001"
    assert caught.value.member, "the tar member must be named"
    assert str(caught.value).startswith("images.tar.0001: tar member ")
    # nothing landed outside the layout, and no image became visible
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()
    assert not os.path.exists("/tmp/airgap-evil-absolute")
    assert not (target / "etc").exists()
    assert refs(target) == {}


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["gnu-longname", "pax-path"])
def test_long_names_from_extension_headers_are_checked_too(tmp_path, fmt):
    name = "blobs/" + "x" * 150 + "/../../../../evil"
    crafted_bundle(tmp_path / "bundle", lambda m: [(_info(name, 4), b"evil")] + m, fmt=fmt)
    raw = (tmp_path / "bundle" / "images.tar.0001").read_bytes()
    assert name.encode() not in raw[:100], "the name must be in an extension header, not the ustar field"
    with pytest.raises(B.BundleError, match=r"tar member '%s': path with '\.\.'" % name):
        B.unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))
    assert not (tmp_path / "evil").exists()


def test_pax_long_link_target_is_checked(tmp_path):
    target = "../" * 60 + "etc/passwd"
    crafted_bundle(tmp_path / "bundle", lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.SYMTYPE,
                                                          linkname=target), None)] + m, fmt=tarfile.PAX_FORMAT)
    with pytest.raises(B.BundleError, match=r"symbolic link to '(\.\./)+etc/passwd' escapes the layout"):
        B.unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))


def test_a_stream_cut_inside_a_member_is_reported(tmp_path):
    def cut(stream):  # inside the second member's data (consistent checksums: the attacker re-hashed)
        with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
            second = tar.getmembers()[1]
        assert second.size > 20
        return stream[:second.offset_data + 10]

    crafted_bundle(tmp_path / "bundle", lambda m: m, mangle=cut)
    with pytest.raises(B.BundleError, match=r"images.tar.0001: the tar stream ends inside tar member "
                       r"'blobs/sha256/[0-9a-f]{64}' \(\d+ bytes missing\)"):
        B.unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))
    assert refs(tmp_path / "out") == {}


def test_a_header_with_a_bad_checksum_is_reported(tmp_path):
    def garble(stream):
        return b"Z" + stream[1:]

    crafted_bundle(tmp_path / "bundle", lambda m: m, mangle=garble)
    with pytest.raises(B.BundleError, match=r"images.tar.0001: invalid tar header at byte 0 of the stream: "
                       r"bad checksum"):
        B.unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))


def test_a_global_pax_header_is_refused(tmp_path):
    def with_global(stream):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                          pax_headers={"path": "../../evil"}) as tar:
            tar.addfile(_info("oci-layout", 2), io.BytesIO(b"{}"))
        return buf.getvalue()

    crafted_bundle(tmp_path / "bundle", lambda m: m, mangle=with_global)
    with pytest.raises(B.BundleError, match=r"global pax header at byte 0"):
        B.unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))


def test_the_crafted_bundle_is_fine_without_hostile_members(tmp_path):
    """The control for the hostile cases: the same construction without them unpacks."""
    img = crafted_bundle(tmp_path / "bundle", lambda m: m)
    with pytest.raises(B.BundleError, match="no index.json"):  # our own packer always ends with one
        B.unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))
    img2 = crafted_bundle(tmp_path / "bundle2", lambda m: m + [(
        _info("index.json", len(_index(img))), _index(img))])
    assert img2.digest == img.digest
    report = B.unpack(str(tmp_path / "bundle2"), str(tmp_path / "out2"))
    assert refs(tmp_path / "out2") == {"good": img.digest} and report["blobs_written"] == len(img.blobs())


def _index(img):
    return json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": img.media_type, "digest": img.digest,
                                                          "size": img.size,
                                                          "annotations": {REF_NAME: "good"}}]}).encode()


# ----------------------------------------------------------------------------- incremental bundles

@pytest.fixture
def releases(tmp_path):
    """A cumulative connected-side layout with two releases sharing a 400 KiB base layer."""
    layout = I.OCILayout(tmp_path / "connected")
    base = I.add_large_layer(layout, 400 * KiB, seed=1)
    r1 = {
        "example.com/app:1": I.build_image(layout, "example.com/app:1", layers=[base, {"app": "1"}]),
        "example.com/tool:1": I.build_image(layout, "example.com/tool:1", layers=[base, {"tool": "1"}]),
    }
    r2 = {
        "example.com/app:2": I.build_image(layout, "example.com/app:2", layers=[base, {"app": "2"}]),
        "example.com/tool:1": r1["example.com/tool:1"],
    }
    for name, images in (("map1.yml", r1), ("map2.yml", r2)):
        entries = [mirrormap.make_entry(_parse(ref), img.digest, img.media_type, [], img.total_size,
                                        "oci:%s:%s" % (layout.path, ref)) for ref, img in images.items()]
        (tmp_path / name).write_text(mirrormap.dumps(entries))
    return layout, r1, r2, base


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
    B.unpack(str(tmp_path / "media"), str(tmp_path / "airgap"), name="r1")
    report = B.unpack(str(tmp_path / "media"), str(tmp_path / "airgap"), name="r2")
    r1_blobs = set()
    for img in r1.values():
        r1_blobs.update(img.blobs())
    assert report["blobs_written"] == len(in_bundle - r1_blobs) > 0
    assert refs(tmp_path / "airgap") == {ref: img.digest for ref, img in {**r1, **r2}.items()}

    # r2 alone into a fresh layout: refused before anything is written, naming the images
    with pytest.raises(B.BundleError, match=r"2 image\(s\) of this incremental bundle need 3 blob\(s\) .* not in "
                       r"the layout .*: example.com/app:2, example.com/tool:1\. Unpack the bundle of"):
        B.unpack(str(tmp_path / "media"), str(tmp_path / "fresh"), name="r2")
    assert not (tmp_path / "fresh").exists()


def test_previous_map_image_gone_from_the_layout_is_a_clear_error(tmp_path, releases):
    layout, r1, _r2, _base = releases
    gone = r1["example.com/app:1"]
    os.unlink(layout.blob_path(gone.digest))
    with pytest.raises(B.BundleError, match=r"no longer holds 1 image\(s\) of the previous mirror map .*map1.yml: "
                       r"example.com/app:1 \(%s\).*give the previous bundle's manifest" % gone.digest):
        B.plan_pack(layout.path, images=["example.com/tool:1"], previous=str(tmp_path / "map1.yml"))


def test_mirror_map_selects_the_images_and_must_agree_with_the_layout(tmp_path, releases):
    layout, r1, _r2, _base = releases
    plan = B.plan_pack(layout.path, mirror_map=str(tmp_path / "map1.yml"))
    assert sorted(g.ref_name for g in plan.graphs) == sorted(r1)
    entries = mirrormap.load(str(tmp_path / "map1.yml"))
    entries[0]["digest"] = "sha256:" + "e" * 64
    (tmp_path / "bad.yml").write_text(mirrormap.dumps(entries))
    with pytest.raises(B.BundleError, match="the mirror map says sha256:e+, the layout .* records"):
        B.plan_pack(layout.path, mirror_map=str(tmp_path / "bad.yml"))


def test_blobs_over_8_gib_get_a_pax_size_record_that_the_reader_honours(tmp_path):
    """ustar's size field ends at 8 GiB - 1; the packer's header then carries a pax ``size``
    record (and the plan counts its extra blocks), and the unpacker's own header reader uses it."""
    size = 9 * 1024 ** 3 + 123
    header = B._tar_header("blobs/sha256/" + "a" * 64, size)
    assert len(header) == 3 * 512 and b"size=%d" % size in header
    (tmp_path / "t.tar.0001").write_bytes(header)
    reader = B._PartsReader(str(tmp_path), [{"name": "t.tar.0001", "size": len(header), "sha256": sha(header)}])
    member = B._TarStream(reader).next()
    assert member.name == "blobs/sha256/" + "a" * 64 and member.size == size and member.isreg()
    assert member.offset == 0 and member.offset_data == 3 * 512


def test_unpack_that_only_names_images_reads_no_part(source, tmp_path):
    """Every blob is already in the layout (from another bundle) but the ref names are new: the
    images are recorded without reading a part."""
    layout, images = source
    pack(layout, tmp_path / "all")
    B.unpack(str(tmp_path / "all"), str(tmp_path / "out"))
    Layout(str(tmp_path / "out")).remove_refs(["app-1.0", "db-15"])
    for entry in os.listdir(tmp_path / "all"):
        if ".tar." in entry:
            os.unlink(tmp_path / "all" / entry)
    report = B.unpack(str(tmp_path / "all"), str(tmp_path / "out"))
    assert report["changed"] and report["blobs_written"] == 0
    assert sorted(i["ref_name"] for i in report["images"] if i["status"] == "added") == ["app-1.0", "db-15"]
    assert refs(tmp_path / "out") == {r: img.digest for r, img in images.items()}


# ----------------------------------------------------------------------------- ref names (issue 12, D7)

BAD_REF_NAMES = ["../../../../etc/passwd", "with space", "quay.io/org/app:1 ", "a\nb", "/etc/passwd", "a//b"]


@pytest.mark.parametrize("name", ["good", "1.0", "v1-rc--2", "quay.io/org/app:1.0", "quay.io/x:_foo",
                                  "docker.io/a__b/c:1", "localhost:5000/a/b@sha256:" + "a" * 64])
def test_ref_names_that_layouts_use_are_accepted(name):
    assert B.check_ref_name(name) == name


def self_consistent_bundle(directory, layout_dir, ref_name):
    """A bundle whose manifest and tar ``index.json`` both name the image *ref_name*, with correct
    checksums (an attacker who writes the whole bundle, or a packer that does not check names)."""
    layout = I.OCILayout(layout_dir)
    img = I.build_image(layout, "example.com/app:1", layers=[{"app": "1"}])
    plan = B.plan_pack(str(layout_dir), part_size="64K")
    plan.graphs[0].ref_name = ref_name
    forged = B.PackPlan(plan.layout, plan.name, plan.part_size, plan.graphs, plan.blobs, [], plan.owners, None,
                        None, [])
    B.pack(forged, str(directory))
    return img


@pytest.mark.parametrize("with_map", [False, True], ids=["no-map", "map"])
@pytest.mark.parametrize("name", BAD_REF_NAMES)
def test_bad_ref_names_in_a_bundle_are_refused_by_verify_and_unpack(tmp_path, name, with_map):
    self_consistent_bundle(tmp_path / "b", tmp_path / "src", name)
    manifest = str(tmp_path / "b" / "images.bundle.json")
    assert json.loads(open(manifest).read())["images"][0]["ref_name"] == name
    expected = "%s: images[0]: ref name %r is neither an image reference nor an OCI ref name" % (manifest, name)
    with pytest.raises(B.BundleError) as caught:
        B.verify(str(tmp_path / "b"))
    assert str(caught.value).startswith(expected)
    assert caught.value.part == "images.bundle.json"
    map_path = tmp_path / "map.yml" if with_map else None
    with pytest.raises(B.BundleError) as caught:
        B.unpack(str(tmp_path / "b"), str(tmp_path / "out"), mirror_map=str(map_path) if map_path else None)
    assert str(caught.value).startswith(expected)
    assert not (tmp_path / "out").exists() and not (tmp_path / "map.yml").exists()


def test_pack_refuses_a_ref_name_the_other_side_would_refuse(tmp_path):
    layout = I.OCILayout(tmp_path / "src")
    I.build_image(layout, "with space", layers=[{"app": "1"}])
    I.build_image(layout, "fine", layers=[{"app": "2"}])
    with pytest.raises(B.BundleError, match=r"%s/index.json: ref name 'with space' is neither an image reference"
                       % layout.path) as caught:
        B.plan_pack(str(layout.path))
    assert "the other side would refuse this bundle" in str(caught.value)
    assert B.plan_pack(str(layout.path), images=["fine"]).graphs[0].ref_name == "fine"


# ----------------------------------------------------------------------------- extra and symlinked parts (issue 12, D8)

def test_an_extra_part_is_named_by_verify_and_unpack_alike_and_is_not_damage(source, tmp_path):
    """A part the manifest does not list is never read: verify calls the bundle valid, unpack
    unpacks it, and both name the extra files in the same words."""
    layout, images = source
    pack(layout, tmp_path / "b", part_size="32K")
    (tmp_path / "b" / "images.tar.0999").write_bytes(b"left over from an earlier bundle of this name")
    (tmp_path / "b" / ".images.tar.0003.abc123.tmp").write_bytes(b"x")
    verified = B.verify(str(tmp_path / "b"))
    assert verified["valid"] and verified["problems"] == []
    assert [p["part"] for p in verified["extra"]] == [".images.tar.0003.abc123.tmp", "images.tar.0999"]
    assert verified["extra"][1]["message"].startswith(
        "images.tar.0999: extra part: not listed in images.bundle.json (left over from another bundle of the "
        "same name?); not read")
    assert {p["name"]: p["status"] for p in verified["parts"]}["images.tar.0999"] == "extra"
    unpacked = B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert unpacked["status"] == "unpacked" and refs(tmp_path / "out") == {r: i.digest for r, i in images.items()}
    assert unpacked["extra"] == verified["extra"]
    assert B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))["extra"] == verified["extra"]


@pytest.mark.parametrize("target", ["same content", "shorter file"])
def test_a_symlinked_part_is_refused_by_name(source, tmp_path, target):
    """A part that is a symbolic link is not followed (not even to a file with the right bytes):
    verify and unpack name it as a symbolic link, not as truncated or intact."""
    layout, _images = source
    report = pack(layout, tmp_path / "b", part_size="32K")
    name = report["parts"][1]["name"]
    elsewhere = tmp_path / "elsewhere"
    data = (tmp_path / "b" / name).read_bytes()
    elsewhere.write_bytes(data if target == "same content" else data[:1000])
    (tmp_path / "b" / name).unlink()
    os.symlink(str(elsewhere), str(tmp_path / "b" / name))
    message = "%s: a symbolic link (to %r), not the part itself: copy the file, not the link" % (name, str(elsewhere))
    result = B.verify(str(tmp_path / "b"))
    assert not result["valid"]
    assert result["problems"] == [{"part": name, "problem": "symlink", "message": message}]
    assert {p["name"]: p["status"] for p in result["parts"]}[name] == "symlink"
    with pytest.raises(B.BundleError) as caught:
        B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert caught.value.part == name and message in str(caught.value)
    assert refs(tmp_path / "out") == {}


# ----------------------------------------------------------------------------- concurrent runs (issue 12, D6)

def python(code, *args):
    """A real second process running *code* (with this checkout importable), pipes on stdin/stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


HOLD_INDEX_LOCK = """
import fcntl, os, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), exist_ok=True)
handle = open(path, "a")  # what another process's set_refs holds while it rewrites index.json
fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""

LAYOUT_CALL = """
import sys
from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
layout = Layout(sys.argv[1])
if sys.argv[2] == "cleanup":
    layout.cleanup_state()
else:
    layout.set_refs([(sys.argv[2], manifest.Descriptor(manifest.OCI_MANIFEST, sys.argv[3], int(sys.argv[4])))])
print("done", flush=True)
"""


def test_layout_cleanup_never_lets_two_processes_rewrite_index_json_at_once(source, tmp_path):
    """A run that finishes (cleanup_state) while another process rewrites index.json under the
    layout's lock must not remove that lock: before, it unlinked ``.airgap-state/index.lock`` and a
    third process's set_refs locked a new file and ran alongside the holder (a lost update)."""
    layout, images = source
    pack(layout, tmp_path / "b")
    B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    out = Layout(str(tmp_path / "out"))
    lock = out.state_dir("index.lock")
    holder = python(HOLD_INDEX_LOCK, lock)
    assert holder.stdout.readline() == "held\n"
    image = images["large"]
    cleanup = python(LAYOUT_CALL, out.path, "cleanup")
    with contextlib.suppress(subprocess.TimeoutExpired):
        cleanup.wait(timeout=1.5)  # it must wait for the holder; before, it removed the lock at once
    writer = python(LAYOUT_CALL, out.path, "example.com/renamed:1", image.digest, image.size)
    try:
        time.sleep(1.5)
        assert writer.poll() is None, "set_refs ran while another process held the index.json lock: %s" % (
            writer.communicate(timeout=5),)
        assert cleanup.poll() is None and os.path.exists(lock)
    finally:
        holder.communicate("go\n", timeout=10)
        for process in (cleanup, writer):
            out_text, err = process.communicate(timeout=30)
            assert process.returncode == 0 and out_text == "done\n", err
    assert refs(out.path)["example.com/renamed:1"] == image.digest


def test_the_bundle_lock_leaves_no_file_behind(source, tmp_path):
    layout, _images = source
    pack(layout, tmp_path / "b")
    B.verify(str(tmp_path / "b"))
    B.unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    pack(layout, tmp_path / "b", check_mode=True)
    assert sorted(n for n in os.listdir(tmp_path / "b") if not n.startswith("images.tar.")) == [
        "images.bundle.json", "images.sha256"]


def test_a_refused_pack_leaves_no_directory_behind(source, tmp_path):
    """The real pack makes the bundle directory to lock it; a pack refused before writing a part
    removes the directories it made."""
    layout, _images = source
    plan = B.plan_pack(str(layout), part_size="64K")
    plan.tar_size = 1 << 62  # more than any file system has free
    with pytest.raises(B.BundleError, match="not enough free space"):
        B.pack(plan, str(tmp_path / "new" / "media"))
    assert not (tmp_path / "new").exists()
