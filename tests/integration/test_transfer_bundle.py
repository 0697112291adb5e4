"""airgap.mirror.transfer_bundle across a simulated air gap, with real parts only.

Connected side: a real docker-registry seeded with skopeo, mirrored by the engine into an OCI
layout (as ``image_mirror dest: oci:…`` does) with a mirror map. The bundle is packed, verified and
unpacked with ``ansible-playbook`` (check mode, real run, re-run), and skopeo — the independent
client — reads the images from the unpacked layout into another real registry and compares
digests. Full disks are real tmpfs mounts (root needed), hostile tar streams are hand-made files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.names import FORMAT, TAR_WRITER
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.pack import pack as pack_bundle
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify
from ansible_collections.airgap.mirror.plugins.module_utils._common.sizes import human_size
from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool

from support import images as I
from support.registry import Registry

pytestmark = pytest.mark.integration

KiB = 1024
MiB = 1024 * 1024


# ----------------------------------------------------------------------------- helpers

def run_bundle(ansible_run, workdir, args, check=False, diff=False):
    """Run one airgap.mirror.transfer_bundle task through ansible-playbook; (result, record)."""
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "Bundle", "airgap.mirror.transfer_bundle": args}]}]
    path = workdir / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(yaml.safe_dump(play))
    res = ansible_run.playbook(path, check=check, diff=diff)
    return res, res.one("Bundle")


def mirror_to_layout(refs, layout, map_path, src_registry):
    pool = ClientPool(insecure_registries=[src_registry.host])
    report = mirror(MirrorRequest(list(refs), "oci:%s" % layout), pool=pool)
    assert not report["failed"], report["failed"]
    mirrormap_io.write(str(map_path), report["map"])
    return report


def is_oci(image):
    return image.media_type in (M.OCI_MANIFEST, M.OCI_INDEX)


def layout_refs(path):
    """The layout's ref names and digests; {} when there is no layout (yet)."""
    if not os.path.exists(os.path.join(path, "oci-layout")):
        return {}
    return {name: desc.digest for name, desc in Layout(str(path)).entries()}


@pytest.fixture
def tmpfs(tmp_path):
    """``make(name, size)`` mounts a real tmpfs of that size under the test's tmp dir (root only);
    everything is unmounted at teardown."""
    mounted = []

    def make(name, size="8m"):
        if os.geteuid() != 0:
            pytest.fail("the full-disk tests mount a small tmpfs and need root (run the suite as root)",
                        pytrace=False)
        path = tmp_path / name
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", str(path)], check=True)
        mounted.append(path)
        return path

    yield make
    for path in reversed(mounted):
        if subprocess.run(["umount", str(path)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory, leave):
    """Fill the file system of *directory* until about *leave* bytes are free."""
    free = shutil.disk_usage(directory).free
    remaining = free - leave
    with open(os.path.join(directory, "filler.bin"), "wb") as handle:
        block = b"\0" * MiB
        while remaining > 0:
            step = min(remaining, MiB)
            handle.write(block[:step])
            remaining -= step
    return shutil.disk_usage(directory).free


@pytest.fixture(scope="module")
def connected(tmp_path_factory):
    """A source registry holding the sample set and a 2.5 MiB-layer image, mirrored into a layout."""
    base = tmp_path_factory.mktemp("connected")
    reg = Registry(base / "registry")
    reg.start()
    try:
        samples = I.sample_set(base / "samples")
        big = I.build_large_image(samples.layout, "large", size=int(2.5 * MiB), seed=3)
        images = {}
        for name, image in list(samples.images.items()) + [("large", big)]:
            repo, tag = samples.targets.get(name, ("sample/large", "1"))
            images[I.seed_registry(image, reg, "bundle/" + repo, tag)] = image
        layout = base / "layout"
        mirror_to_layout(images, layout, base / "mirror-map.yml", reg)
        yield {"registry": reg, "images": images, "layout": layout, "map": base / "mirror-map.yml", "big": big}
    finally:
        reg.stop()


# ----------------------------------------------------------------------------- the whole flow

def test_pack_verify_unpack_through_ansible_and_skopeo_reads_the_result(connected, tmp_path, ansible_run, skopeo,
                                                                        registry_factory):
    media = tmp_path / "media"
    pack_args = {"action": "pack", "layout": str(connected["layout"]), "mirror_map": str(connected["map"]),
                 "bundle": str(media), "name": "release-1", "part_size": "512K"}

    # pack, check mode: the parts are announced, nothing is written
    res, rec = run_bundle(ansible_run, tmp_path, pack_args, check=True, diff=True)
    assert res.rc == 0, res.output
    r = rec["result"]
    assert rec["changed"] and r["status"] == "would_write"
    assert not media.exists()
    announced = [(p["name"], p["size"]) for p in r["parts"]]
    assert "(to be written)" in r["diff"]["after"]

    # pack for real
    res, rec = run_bundle(ansible_run, tmp_path, pack_args)
    assert res.rc == 0, res.output
    r = rec["result"]
    assert rec["changed"] and r["status"] == "written"
    assert [(p["name"], p["size"]) for p in r["parts"]] == announced
    assert len(r["parts"]) >= 6 and all(p["size"] == 512 * KiB for p in r["parts"][:-1])
    assert sorted(i["ref_name"] for i in r["images"]) == sorted(connected["images"])
    big_layer = connected["big"].layers[0]
    assert big_layer.size > 4 * 512 * KiB, "the large layer must span several parts"
    union = {}
    for image in connected["images"].values():
        union.update(image.blobs())
    assert r["blob_bytes"] == sum(union.values()) and r["blobs"] == len(union)
    assert sorted(os.listdir(media)) == sorted([p["name"] for p in r["parts"]] + ["release-1.bundle.json",
                                                                                  "release-1.sha256"])
    # the by-hand check the docs describe works on the media
    check = subprocess.run(["sha256sum", "-c", "release-1.sha256"], cwd=media, capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr

    # pack again: nothing to do
    res, rec = run_bundle(ansible_run, tmp_path, pack_args)
    assert res.rc == 0, res.output
    assert not rec["changed"] and rec["result"]["status"] == "present"

    # the other side: verify, then unpack (check, real, again)
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(media), "name": "release-1"})
    assert res.rc == 0, res.output
    assert rec["result"]["valid"] and not rec["changed"]
    assert {p["status"] for p in rec["result"]["parts"]} == {"ok"}

    airgap = tmp_path / "airgap-layout"
    unpack_args = {"action": "unpack", "bundle": str(media), "name": "release-1", "layout": str(airgap),
                   "mirror_map": str(tmp_path / "airgap-map.yml")}
    res, rec = run_bundle(ansible_run, tmp_path, unpack_args, check=True, diff=True)
    assert res.rc == 0, res.output
    assert rec["changed"] and rec["result"]["status"] == "would_unpack"
    assert "(absent)" in rec["result"]["diff"]["before"]
    assert not airgap.exists()

    res, rec = run_bundle(ansible_run, tmp_path, unpack_args, diff=True)
    assert res.rc == 0, res.output
    r = rec["result"]
    assert rec["changed"] and r["status"] == "unpacked" and r["blobs_written"] == r["blobs"]
    assert {i["status"] for i in r["images"]} == {"added"}

    res, rec = run_bundle(ansible_run, tmp_path, unpack_args)
    assert res.rc == 0, res.output
    assert not rec["changed"] and rec["result"]["status"] == "present"

    # the mirror map of the other side points at the unpacked layout
    airgap_map = yaml.safe_load((tmp_path / "airgap-map.yml").read_text())
    assert {e["source"]: e["digest"] for e in airgap_map["images"]} == {
        ref: img.digest for ref, img in connected["images"].items()}
    assert all(e["destination"] == "oci:%s:%s" % (airgap, e["source"]) for e in airgap_map["images"])

    # skopeo reads every OCI-typed image from the unpacked layout into a real registry
    dest = registry_factory()
    for ref, image in connected["images"].items():
        if not is_oci(image):
            continue  # skopeo 1.9's oci: transport only finds OCI-typed index.json entries
        target = "docker://%s/skopeo/%s" % (dest.host, ref.split("/", 1)[1])
        skopeo.copy("oci:%s:%s" % (airgap, ref), target, dest_registry=dest)
        assert skopeo.digest_of(target, registry=dest) == image.digest, ref
    # and image_mirror pushes all of them (Docker-typed too) from the unpacked layout
    report = mirror(MirrorRequest(["all"], dest.host + "/engine", src="oci:%s" % airgap),
                    pool=ClientPool(insecure_registries=[dest.host]))
    assert not report["failed"], report["failed"]
    for ref, image in connected["images"].items():
        assert skopeo.digest_of("docker://%s/engine/%s" % (dest.host, ref.split("/", 1)[1]),
                                registry=dest) == image.digest, ref


# ----------------------------------------------------------------------------- incremental

def test_incremental_bundle_between_two_releases(tmp_path, registry_factory, ansible_run, skopeo):
    src = registry_factory()
    build = I.OCILayout(tmp_path / "build")
    base = I.add_large_layer(build, 3 * MiB, seed=11, compress=True)
    r1_images = {
        "app": I.build_image(build, "app-1", layers=[base, {"app/VERSION": "1\n"}]),
        "tool": I.build_index(build, "tool-1", base=base),
    }
    r2_images = {
        "app": I.build_image(build, "app-2", layers=[base, {"app/VERSION": "2\n"}]),
        "tool": r1_images["tool"],
    }
    r1 = {I.seed_registry(r1_images["app"], src, "rel/app", "1"): r1_images["app"],
          I.seed_registry(r1_images["tool"], src, "rel/tool", "1"): r1_images["tool"]}
    r2 = {I.seed_registry(r2_images["app"], src, "rel/app", "2"): r2_images["app"],
          I.seed_registry(r2_images["tool"], src, "rel/tool", "1"): r2_images["tool"]}
    connected = tmp_path / "connected"  # cumulative: release 2 is mirrored into the same layout
    mirror_to_layout(r1, connected, tmp_path / "map-r1.yml", src)
    mirror_to_layout(r2, connected, tmp_path / "map-r2.yml", src)

    media = tmp_path / "media"
    res, rec = run_bundle(ansible_run, tmp_path, {
        "action": "pack", "layout": str(connected), "mirror_map": str(tmp_path / "map-r1.yml"),
        "bundle": str(media), "name": "r1", "part_size": "1M"})
    assert res.rc == 0, res.output
    full = rec["result"]
    res, rec = run_bundle(ansible_run, tmp_path, {
        "action": "pack", "layout": str(connected), "mirror_map": str(tmp_path / "map-r2.yml"),
        "previous": str(tmp_path / "map-r1.yml"), "bundle": str(media), "name": "r2", "part_size": "1M"})
    assert res.rc == 0, res.output
    inc = rec["result"]
    assert sorted(i["ref_name"] for i in inc["images"]) == sorted(r2)
    assert inc["bytes"] * 10 < full["bytes"], (inc["bytes"], full["bytes"])
    assert inc["assumed_bytes"] >= base.size and inc["previous"]["kind"] == "mirror_map"
    assert len(inc["parts"]) == 1 and len(full["parts"]) >= 3

    # r2 on a layout without r1: refused, naming the images, nothing written
    fresh = tmp_path / "fresh"
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media), "name": "r2",
                                                  "layout": str(fresh)})
    assert res.rc != 0 and rec["failed"]
    msg = rec["result"]["msg"]
    for ref in r2:
        assert ref in msg
    assert "Unpack the bundle of" in msg and "map-r1.yml" in msg
    assert not fresh.exists()

    # r1 then r2 on the air-gapped side, and skopeo reads release 2 from the result
    airgap = tmp_path / "airgap"
    for name in ("r1", "r2"):
        res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media), "name": name,
                                                      "layout": str(airgap)})
        assert res.rc == 0, res.output
        assert rec["changed"]
    assert rec["result"]["bytes_written"] < base.size
    dest = registry_factory()
    for ref, image in r2.items():
        target = "docker://%s/%s" % (dest.host, ref.split("/", 1)[1])
        skopeo.copy("oci:%s:%s" % (airgap, ref), target, dest_registry=dest)
        assert skopeo.digest_of(target, registry=dest) == image.digest, ref
    assert set(layout_refs(airgap)) == set(r1) | set(r2)


# ----------------------------------------------------------------------------- full disks

@pytest.fixture
def big_layout(tmp_path):
    """A layout of about 10 MiB: more than an 8 MiB tmpfs holds."""
    layout = I.OCILayout(tmp_path / "big-layout")
    a = I.build_large_image(layout, "big-a", size=5 * MiB, seed=21)
    b = I.build_large_image(layout, "big-b", size=5 * MiB, seed=22)
    return layout, {"big-a": a, "big-b": b}


@pytest.fixture
def mid_layout(tmp_path):
    """A layout of about 6 MiB: fits an 8 MiB tmpfs, unless something else fills it."""
    layout = I.OCILayout(tmp_path / "mid-layout")
    a = I.build_large_image(layout, "mid-a", size=3 * MiB, seed=31)
    b = I.build_large_image(layout, "mid-b", size=3 * MiB, seed=32)
    return layout, {"mid-a": a, "mid-b": b}


def test_pack_refuses_media_that_is_too_small(big_layout, tmpfs, tmp_path, ansible_run):
    layout, _images = big_layout
    media = tmpfs("media", "8m")
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "pack", "layout": str(layout.path),
                                                  "bundle": str(media), "part_size": "1M"})
    assert res.rc != 0
    msg = rec["result"]["msg"]
    assert msg.startswith("not enough free space in %s for the bundle: it needs " % media), msg
    needed = int(msg.split("it needs ")[1].split(" ")[0])
    free = int(msg.split("), ")[1].split(" ")[0])
    assert needed > 10 * MiB and free <= 8 * MiB
    assert os.listdir(media) == []
    # check mode tells the same truth
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "pack", "layout": str(layout.path),
                                                  "bundle": str(media), "part_size": "1M"}, check=True)
    assert res.rc != 0 and "not enough free space" in rec["result"]["msg"]


def test_pack_running_out_of_space_midway_names_the_part_and_leaves_no_manifest(mid_layout, tmpfs, tmp_path):
    layout, _images = mid_layout
    media = tmpfs("media", "8m")
    plan = plan_pack(str(layout.path), part_size="1M")

    def fill_after_preflight(event, info):
        if event == "preflight":
            fill(media, 2 * MiB + 300 * KiB)

    with pytest.raises(BundleError) as caught:
        pack_bundle(plan, str(media), progress=fill_after_preflight)
    msg = str(caught.value)
    assert "no space left on device while writing part images.tar.000" in msg, msg
    assert "the bundle is incomplete and has no manifest" in msg
    assert caught.value.part and caught.value.part.startswith("images.tar.000")
    assert not (media / "images.bundle.json").exists()
    assert not [e for e in os.listdir(media) if e.endswith(".tmp")], "the temporary part must be removed"
    with pytest.raises(BundleError, match="the bundle is incomplete"):
        verify(str(media))
    # with the space back, the same pack completes and verifies
    os.unlink(media / "filler.bin")
    report = pack_bundle(plan, str(media))
    assert report["changed"] and verify(str(media))["valid"]


def test_pack_without_preflight_fails_midway_through_ansible(big_layout, tmpfs, tmp_path, ansible_run):
    layout, _images = big_layout
    media = tmpfs("media", "8m")
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "pack", "layout": str(layout.path), "bundle": str(media),
                                                  "part_size": "1M", "space_check": False})
    assert res.rc != 0
    r = rec["result"]
    assert "no space left on device while writing part images.tar.00" in r["msg"], r["msg"]
    assert r["part"] in r["msg"]
    assert not (media / "images.bundle.json").exists()


def test_unpack_refuses_a_layout_disk_that_is_too_small(big_layout, tmpfs, tmp_path, ansible_run):
    layout, _images = big_layout
    pack_bundle(plan_pack(str(layout.path), part_size="2M"), str(tmp_path / "media"))
    target = tmpfs("airgap", "8m")
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(tmp_path / "media"),
                                                  "layout": str(target / "layout")})
    assert res.rc != 0
    msg = rec["result"]["msg"]
    assert msg.startswith("not enough free space in %s for the bundle's blobs: " % (target / "layout")), msg
    assert "blob(s) not already in the layout need" in msg
    needed = int(msg.split(" need ")[1].split(" ")[0])
    assert needed > 10 * MiB
    assert not (target / "layout").exists()

    # blobs already there do not count: with big-a in the layout, only big-b's bytes are needed
    # (still more than the 3 MiB left, so still refused, in check mode too)
    pack_bundle(plan_pack(str(layout.path), images=["big-a"], part_size="2M"), str(tmp_path / "media-a"))
    unpack(str(tmp_path / "media-a"), str(target / "layout"))
    before = layout_refs(target / "layout")
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(tmp_path / "media"),
                                                  "layout": str(target / "layout")}, check=True)
    assert res.rc != 0
    msg = rec["result"]["msg"]
    assert "3 blob(s) not already in the layout need" in msg, msg
    assert 5 * MiB < int(msg.split(" need ")[1].split(" ")[0]) < 6 * MiB
    assert layout_refs(target / "layout") == before == {"big-a": _images["big-a"].digest}


def test_unpack_running_out_of_space_midway_then_resumes(mid_layout, tmpfs, tmp_path, skopeo, registry_factory):
    layout, images = mid_layout
    pack_bundle(plan_pack(str(layout.path), part_size="1M"), str(tmp_path / "media"))
    target = tmpfs("airgap", "8m")

    def fill_after_preflight(event, info):
        if event == "preflight":
            fill(target, 4 * MiB)

    with pytest.raises(BundleError) as caught:
        unpack(str(tmp_path / "media"), str(target / "layout"), progress=fill_after_preflight)
    msg = str(caught.value)
    assert "no space left on device while writing blob sha256:" in msg, msg
    assert caught.value.part.startswith("images.tar.000") and msg.startswith(caught.value.part)
    assert caught.value.member.startswith("blobs/sha256/") and repr(caught.value.member) in msg
    assert layout_refs(target / "layout") == {}, "no image may become visible"

    os.unlink(target / "filler.bin")
    report = unpack(str(tmp_path / "media"), str(target / "layout"))
    assert report["changed"]
    assert layout_refs(target / "layout") == {ref: img.digest for ref, img in images.items()}
    assert not (target / "layout" / ".airgap-state").exists()
    dest = registry_factory()
    for ref, image in images.items():
        skopeo.copy("oci:%s:%s" % (target / "layout", ref), "docker://%s/full/%s:1" % (dest.host, ref),
                    dest_registry=dest)
        assert skopeo.digest_of("docker://%s/full/%s:1" % (dest.host, ref), registry=dest) == image.digest


# ----------------------------------------------------------------------------- damaged and hostile bundles

def test_verify_and_unpack_report_damaged_parts_through_ansible(connected, tmp_path, ansible_run):
    media = tmp_path / "media"
    report = pack_bundle(plan_pack(str(connected["layout"]), part_size="256K"), str(media))
    names = [p["name"] for p in report["parts"]]
    (media / names[1]).unlink()
    with open(media / names[2], "r+b") as handle:
        handle.truncate(100)
    with open(media / names[3], "r+b") as handle:
        handle.seek(5000)
        byte = handle.read(1)
        handle.seek(5000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    (media / "images.tar.9999").write_bytes(b"stray")

    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(media)})
    assert res.rc != 0
    r = rec["result"]
    assert not r["valid"]
    assert {(p["part"], p["problem"]) for p in r["problems"]} == {
        (names[1], "missing"), (names[2], "truncated"), (names[3], "corrupted")}
    for name in (names[1], names[2], names[3]):
        assert name in r["msg"]
    assert [p["part"] for p in r["extra"]] == ["images.tar.9999"]
    assert rec["warnings"] == [r["extra"][0]["message"]]

    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media),
                                                  "layout": str(tmp_path / "out")})
    assert res.rc != 0
    msg = rec["result"]["msg"]
    assert "%s: missing" % names[1] in msg and "%s: truncated: 100 of" % names[2] in msg
    assert not (tmp_path / "out").exists() or layout_refs(tmp_path / "out") == {}


def test_hostile_tar_through_ansible(tmp_path, ansible_run):
    """A hand-made bundle with a ``../`` member, consistent checksums (the attacker wrote the
    manifest too): refused by the member check, naming part and member; nothing escapes."""
    media = tmp_path / "media"
    media.mkdir()
    source = I.OCILayout(tmp_path / "source")
    image = I.build_image(source, "example.com/app:1", layers=[{"app": "1"}])
    blobs = image.blobs()
    evil = b"escaped\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("../../escaped.txt")
        info.size = len(evil)
        tar.addfile(info, io.BytesIO(evil))
        for digest in sorted(blobs):  # the real image after it
            info = tarfile.TarInfo("blobs/sha256/" + digest[7:])
            info.size = blobs[digest]
            tar.addfile(info, io.BytesIO(source.blob_path(digest).read_bytes()))
    stream = buf.getvalue()
    (media / "images.tar.0001").write_bytes(stream)
    doc = {"format": FORMAT, "name": "images",
           "tar": {"writer": TAR_WRITER, "split": "bytes", "part_size": len(stream), "size": len(stream)},
           "parts": [{"name": "images.tar.0001", "size": len(stream), "sha256": hashlib.sha256(stream).hexdigest()}],
           "images": [{"ref_name": "example.com/app:1", "digest": image.digest, "media_type": image.media_type,
                       "size": image.size, "blobs": sorted(blobs)}],
           "blobs": [{"digest": d, "size": n} for d, n in sorted(blobs.items())],
           "blob_bytes": sum(blobs.values()), "assumed_present": [], "assumed_bytes": 0,
           "previous": None, "mirror_map": None}
    (media / "images.bundle.json").write_text(json.dumps(doc))
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(media)})
    assert res.rc == 0 and rec["result"]["valid"], res.output

    target = tmp_path / "a" / "b" / "layout"
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media), "layout": str(target)})
    assert res.rc != 0
    r = rec["result"]
    assert r["msg"] == ("images.tar.0001: tar member '../../escaped.txt': path with '..' escapes the layout")
    assert r["part"] == "images.tar.0001" and r["member"] == "../../escaped.txt"
    assert not (tmp_path / "a" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert layout_refs(target) == {}


def test_extra_and_symlinked_parts_through_ansible(tmp_path, ansible_run):
    """A leftover part the manifest does not list: verify and unpack agree (valid, unpacked) and
    both name it in a warning. A part that is a symbolic link: both refuse it by name."""
    layout = I.OCILayout(tmp_path / "layout")
    big = I.build_large_image(layout, "example.com/big:1", size=300 * KiB, seed=5)
    media = tmp_path / "media"
    names = [p["name"] for p in pack_bundle(plan_pack(str(layout.path), part_size="64K"), str(media))["parts"]]
    (media / "images.tar.9999").write_bytes(b"left over from an earlier bundle of this name")
    warning = ("images.tar.9999: extra part: not listed in images.bundle.json (left over from another bundle of the "
               "same name?); not read, the bundle does not need it: delete it (a 'cat images.tar.*' by hand would "
               "read it)")

    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(media)})
    assert res.rc == 0 and rec["result"]["valid"], res.output
    assert rec["warnings"] == [warning] and [p["part"] for p in rec["result"]["extra"]] == ["images.tar.9999"]
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media),
                                                  "layout": str(tmp_path / "out")})
    assert res.rc == 0 and rec["result"]["status"] == "unpacked", res.output
    assert rec["warnings"] == [warning]
    assert layout_refs(tmp_path / "out") == {"example.com/big:1": big.digest}

    copy = tmp_path / "copy-of-part-2"
    shutil.copyfile(media / names[1], copy)
    (media / names[1]).unlink()
    os.symlink(str(copy), str(media / names[1]))  # the right bytes, behind a link
    message = "%s: a symbolic link (to %r), not the part itself" % (names[1], str(copy))
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(media)})
    assert res.rc != 0 and not rec["result"]["valid"], res.output
    assert [(p["part"], p["problem"]) for p in rec["result"]["problems"]] == [(names[1], "symlink")]
    assert message in rec["result"]["msg"]
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media),
                                                  "layout": str(tmp_path / "out2")})
    assert res.rc != 0 and message in rec["result"]["msg"] and rec["result"]["part"] == names[1], res.output
    assert layout_refs(tmp_path / "out2") == {}


# ----------------------------------------------------------------------------- concurrent runs (issue 12, D6)

PAUSING_PACK = """
import os, sys
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.pack import pack as pack_bundle
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
layout, bundle, name = sys.argv[1:4]
paused = []

def progress(event, info):  # stop in the middle of a part: its temporary file is open
    if event == "blob_packed" and not paused and any(n.endswith(".tmp") for n in os.listdir(bundle)):
        paused.append(True)
        print("paused", flush=True)
        sys.stdin.readline()

print(pack_bundle(plan_pack(layout, name=name, part_size="64K"), bundle, progress=progress)["status"], flush=True)
"""


def start_pausing_pack(layout, media, name):
    """A real pack in another process, stopped mid-part until a line arrives on its stdin."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    process = subprocess.Popen([sys.executable, "-c", PAUSING_PACK, str(layout), str(media), name], env=env,
                               text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = process.stdout.readline()
    assert line == "paused\n", (line, process.communicate(timeout=30))
    return process


def test_a_second_run_on_a_bundle_being_packed_fails_at_once_naming_the_lock(tmp_path, ansible_run):
    """Two packs into one bundle: before, the second deleted the first one's temporary part and the
    first failed with "No such file or directory". Now the second (and a verify) stop at once,
    naming the lock and the directory; a bundle of another name packs alongside; a pack killed
    with -9 leaves no lock that blocks the next run."""
    layout = I.OCILayout(tmp_path / "layout")
    images = {"example.com/big:1": I.build_large_image(layout, "example.com/big:1", size=MiB, seed=8),
              "example.com/small:1": I.build_image(layout, "example.com/small:1", layers=[{"a": "1"}])}
    media = tmp_path / "media"
    media.mkdir()
    first = start_pausing_pack(layout.path, media, "images")
    try:
        lock = media / ".images.lock"
        for action in ("pack", "verify"):
            args = {"action": action, "bundle": str(media)}
            if action == "pack":
                args.update(layout=str(layout.path), part_size="64K")
            res, rec = run_bundle(ansible_run, tmp_path, args)
            assert res.rc != 0, res.output
            assert rec["result"]["msg"] == (
                "the bundle images in %s is in use by another run, which holds its lock %s (a pack holds it alone, "
                "verify and unpack share it): this %s stopped before touching the bundle; run it again when the "
                "other run has finished" % (media, lock, action))
        res, rec = run_bundle(ansible_run, tmp_path, {"action": "pack", "layout": str(layout.path),
                                                      "bundle": str(media), "name": "other", "part_size": "64K"})
        assert res.rc == 0 and rec["result"]["status"] == "written", res.output
    finally:
        out, err = first.communicate("go\n", timeout=60)
    assert first.returncode == 0 and out == "written\n", err
    assert verify(str(media))["valid"] and verify(str(media), name="other")["valid"]
    assert not lock.exists()
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media),
                                                  "layout": str(tmp_path / "out")})
    assert res.rc == 0, res.output
    assert layout_refs(tmp_path / "out") == {ref: image.digest for ref, image in images.items()}

    killed = start_pausing_pack(layout.path, media, "third")
    killed.kill()  # SIGKILL: the kernel drops its flock; its lock file stays behind
    killed.communicate(timeout=30)
    assert (media / ".third.lock").exists()
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "pack", "layout": str(layout.path),
                                                  "bundle": str(media), "name": "third", "part_size": "64K"})
    assert res.rc == 0 and rec["result"]["status"] == "written", res.output
    assert verify(str(media), name="third")["valid"] and not (media / ".third.lock").exists()


PAUSING_UNPACK = """
import os, sys
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
bundle, layout, name = sys.argv[1:4]
parts = []

def progress(event, info):  # stop while a blob that spans parts is half written
    if event == "part_read":
        parts.append(info["part"])
        if len(parts) == 2:
            print("paused", flush=True)
            sys.stdin.readline()

print(unpack(bundle, layout, name=name, progress=progress)["status"], flush=True)
"""


def test_two_unpacks_into_one_layout_at_once_both_complete(tmp_path, ansible_run):
    """The layout takes concurrent writers: per-blob locks, and index.json merged under its lock
    (which a finishing run no longer removes from under another). One unpack stops half-way through
    a blob, another unpacks a different bundle into the same layout and tidies up; both complete."""
    layout = I.OCILayout(tmp_path / "layout")
    big = I.build_large_image(layout, "example.com/big:1", size=MiB, seed=9)
    small = I.build_image(layout, "example.com/small:1", layers=[{"a": "1"}])
    for name, ref in (("big", "example.com/big:1"), ("small", "example.com/small:1")):
        pack_bundle(plan_pack(str(layout.path), name=name, images=[ref], part_size="64K"), str(tmp_path / name))
    target = tmp_path / "target"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    first = subprocess.Popen([sys.executable, "-c", PAUSING_UNPACK, str(tmp_path / "big"), str(target), "big"],
                             env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = first.stdout.readline()
    assert line == "paused\n", (line, first.communicate(timeout=30))
    try:
        assert os.listdir(target / ".airgap-state" / "partial"), "the first unpack must be inside a blob"
        res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(tmp_path / "small"),
                                                      "name": "small", "layout": str(target)})
        assert res.rc == 0 and rec["result"]["status"] == "unpacked", res.output
    finally:
        out, err = first.communicate("go\n", timeout=60)
    assert first.returncode == 0 and out == "unpacked\n", err
    assert layout_refs(target) == {"example.com/big:1": big.digest, "example.com/small:1": small.digest}
    assert I.OCILayout(target).verify() == len(set(big.blobs()) | set(small.blobs()))
    assert not (target / ".airgap-state").exists()


def test_read_only_media_are_verified_and_unpacked_without_a_lock_file(tmpfs, tmp_path):
    """Verify and unpack share the bundle's lock through a lock file; on media mounted read-only
    no file can be made there, and no pack can write there either, so they run unlocked."""
    layout = I.OCILayout(tmp_path / "layout")
    image = I.build_image(layout, "example.com/app:1", layers=[{"a": "1"}])
    media = tmpfs("media")
    pack_bundle(plan_pack(str(layout.path)), str(media))
    subprocess.run(["mount", "-o", "remount,ro", str(media)], check=True)
    assert verify(str(media))["valid"]
    assert unpack(str(media), str(tmp_path / "out"))["status"] == "unpacked"
    assert layout_refs(tmp_path / "out") == {"example.com/app:1": image.digest}
    assert sorted(os.listdir(media)) == ["images.bundle.json", "images.sha256", "images.tar.0001"]


# ----------------------------------------------------------------------------- throughput

@pytest.mark.slow
def test_throughput_of_a_few_hundred_megabytes(tmp_path, ansible_run, skopeo, registry_factory):
    size = 300 * MiB
    layout = I.OCILayout(tmp_path / "layout")
    big = I.build_large_image(layout, "big", size=size, seed=99)
    media = tmp_path / "media"
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "pack", "layout": str(layout.path),
                                                  "bundle": str(media), "part_size": "64M"})
    assert res.rc == 0, res.output
    packed = rec["result"]
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(media)})
    assert res.rc == 0, res.output
    verified = rec["result"]
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "unpack", "bundle": str(media),
                                                  "layout": str(tmp_path / "airgap")})
    assert res.rc == 0, res.output
    unpacked = rec["result"]
    assert packed["bytes"] > size and len(packed["parts"]) == 5
    assert unpacked["bytes_written"] == sum(big.blobs().values())
    for name, r in (("pack", packed), ("verify", verified), ("unpack", unpacked)):
        # streaming: the module never holds a blob (or a part) in memory
        assert r["peak_rss_bytes"] < 120 * MiB, (name, r["peak_rss_bytes"])
        print("\n%-6s %s in %.2f s: %.0f MiB/s, peak RSS %.0f MiB" % (
            name, human_size(r["bytes"]), r["seconds"], r["bytes_per_second"] / MiB, r["peak_rss_bytes"] / MiB))
    dest = registry_factory()
    skopeo.copy("oci:%s:big" % (tmp_path / "airgap"), "docker://%s/big/image:1" % dest.host, dest_registry=dest)
    assert skopeo.digest_of("docker://%s/big/image:1" % dest.host, registry=dest) == big.digest


def test_option_mistakes_are_refused_with_the_option_named(tmp_path, ansible_run):
    play = tmp_path / "mistakes.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "part_size with unpack", "ignore_errors": True, "airgap.mirror.transfer_bundle": {
            "action": "unpack", "bundle": str(tmp_path), "layout": str(tmp_path / "l"), "part_size": "1M"}},
        {"name": "pack without layout", "ignore_errors": True, "airgap.mirror.transfer_bundle": {
            "action": "pack", "bundle": str(tmp_path)}},
        {"name": "bad size", "ignore_errors": True, "airgap.mirror.transfer_bundle": {
            "action": "pack", "bundle": str(tmp_path / "b"), "layout": str(tmp_path), "part_size": "4X"}},
        {"name": "bad name", "ignore_errors": True, "airgap.mirror.transfer_bundle": {
            "action": "verify", "bundle": str(tmp_path), "name": "../x"}},
        {"name": "no bundle here", "ignore_errors": True, "airgap.mirror.transfer_bundle": {
            "action": "verify", "bundle": str(tmp_path)}},
    ]}]))
    res = ansible_run.playbook(play)
    expected = {
        "part_size with unpack": "part_size is only used with action=pack",
        "pack without layout": "action is pack but all of the following are missing: layout",
        "bad size": "part_size: '4X' is not a size",
        "bad name": "bundle name '../x'",
        "no bundle here": "images.bundle.json does not exist: the bundle is incomplete",
    }
    for task, message in expected.items():
        record = res.one(task)
        assert record["failed"] and message in record["result"]["msg"], (task, record["result"]["msg"])
    assert not (tmp_path / "b").exists()


# ----------------------------------------------------------------------------- warnings (issue 12, D5)

def test_pack_warns_through_ansible_without_a_deprecation(tmp_path, ansible_run):
    """ansible-core 2.19 deprecates ``warnings`` passed to ``exit_json``: a pack (a no-op one too)
    prints no deprecation, and a real warning (an unnamed index entry) still reaches the user."""
    layout = I.OCILayout(tmp_path / "layout")
    I.build_image(layout, "example.com/app:1", layers=[{"app": "1"}])
    unnamed = I.build_image(layout, None, layers=[{"unnamed": "1"}])
    index = json.loads((layout.path / "index.json").read_text())
    index["manifests"].append(unnamed.descriptor.to_json())
    (layout.path / "index.json").write_text(json.dumps(index))
    args = {"action": "pack", "layout": str(layout.path), "bundle": str(tmp_path / "media"), "part_size": "1M"}
    for status in ("written", "present"):
        res, rec = run_bundle(ansible_run, tmp_path, args)
        assert res.rc == 0, res.output
        assert rec["result"]["status"] == status
        assert "DEPRECATION" not in res.output and "Passing `warnings`" not in res.output, res.output
        assert rec["warnings"] == ["1 entries of %s/index.json have no org.opencontainers.image.ref.name annotation "
                                   "and are not bundled" % layout.path], rec
        assert "[WARNING]: 1 entries of %s/index.json" % layout.path in res.output, res.output
