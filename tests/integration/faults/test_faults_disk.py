"""Fault matrix case 7: the disk filling up -- while writing an OCI layout and while writing a
transfer bundle -- and the free-space preflight refusing to start.

Each case gets a small tmpfs of its own (``mount -t tmpfs -o size=…``; the tests run as root, a
failing mount fails the test). "The disk fills up" is a filler file written by the test while the
copy is held at the fault proxy: another process taking the space, as on a shared transfer disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

import pytest

from .harness import (MiB, audit_layout, failures, run_engine, seed, verify_layout_image)

pytestmark = pytest.mark.integration


@pytest.fixture
def tmpfs(tmpfs_mib):
    """``tmpfs(size_mib)`` -> a fresh tmpfs mounted under the test's tmp dir (support/fixtures.py)."""
    return tmpfs_mib


@pytest.fixture
def source(registry_factory, proxy_factory, fault_images):
    src = registry_factory()
    seed(fault_images["big"], src, "app/big", "1")
    for n in (1, 2, 3):
        seed(fault_images[f"app{n}"], src, f"app/app{n}", "1")
    return src, proxy_factory(src)


def _fill(directory: Path, leave: int) -> Path:
    """Write a filler file until only ``leave`` bytes are free on ``directory``'s file system."""
    filler = directory / "filler.bin"
    free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
    with open(filler, "wb") as handle:
        remaining = max(0, free - leave)
        block = b"\0" * MiB
        while remaining > 0:
            try:
                handle.write(block[: min(MiB, remaining)])
            except OSError:
                break
            remaining -= min(MiB, remaining)
    return filler


def test_preflight_refuses_to_start(source, tmpfs, tmp_path, recovery):
    src, psrc = source
    disk = tmpfs(8)  # 9 MiB of blobs do not fit
    layout = disk / "images"
    refs = [f"{psrc.host}/app/big:1", f"{psrc.host}/app/app1:1"]
    mark = psrc.mark()
    report, seconds = run_engine(refs, f"oci:{layout}", insecure=[psrc.host])

    errors = failures(report)
    assert sorted(errors) == sorted(refs)
    for ref in refs:
        assert ref in errors[ref] and "not enough free space" in errors[ref] and str(layout) in errors[ref]
    assert not psrc.exchanges("GET", r"/blobs/", since=mark), "no blob may be fetched once the preflight refused"
    assert not list(layout.glob("blobs/*/*")), "no blob may be written once the preflight refused"
    if (layout / "index.json").exists():
        assert audit_layout(layout) == []
    recovery("7 free-space preflight (8 MiB disk)", "refused before any blob; error names images + needs",
             seconds)


def test_disk_full_while_writing_a_layout(source, tmpfs, fault_images, tmp_path, recovery):
    src, psrc = source
    disk = tmpfs(96)
    layout = disk / "images"
    big = fault_images["big"].layers[0]
    hexpart = big.digest.split(":", 1)[1]
    hold = psrc.add_rule("GET", "/blobs/" + big.digest, stall_response_after=2 * MiB)
    refs = [f"{psrc.host}/app/big:1"] + [f"{psrc.host}/app/app{n}:1" for n in (1, 2, 3)]
    out = {}

    def work():
        out["report"], out["seconds"] = run_engine(refs, f"oci:{layout}", insecure=[psrc.host], concurrency=1)

    thread = threading.Thread(target=work)
    thread.start()
    try:
        assert hold.stalled.wait(60)
        time.sleep(0.2)
        filler = _fill(disk, leave=256 * 1024)  # another process takes the space
    finally:
        hold.release()
        thread.join(120)
    report = out["report"]
    errors = failures(report)
    source_ref = f"{psrc.host}/app/big:1"
    assert source_ref in errors, errors
    assert "no space left on device" in errors[source_ref] and big.digest in errors[source_ref]
    for ref, error in errors.items():
        assert ref in error and "no space left" in error, error
    # never a half-written file in place of a good one: blobs verify, index.json names complete images
    assert not (layout / "blobs" / "sha256" / hexpart).exists()
    assert audit_layout(layout) == []
    recorded = {m["annotations"]["org.opencontainers.image.ref.name"]
                for m in json.loads((layout / "index.json").read_text())["manifests"]}
    assert source_ref not in recorded
    partial = layout / ".airgap-state" / "partial" / f"sha256-{hexpart}"
    have = partial.stat().st_size if partial.exists() else 0

    # space comes back; the same copy again finishes, continuing the partial blob
    filler.unlink()
    mark = psrc.mark()
    report, seconds = run_engine(refs, f"oci:{layout}", insecure=[psrc.host])
    assert report["failed"] == [], failures(report)
    gets = psrc.exchanges("GET", "/blobs/" + big.digest, since=mark)
    assert len(gets) == 1
    if have:
        assert gets[0].range == f"bytes={have}-" and gets[0].bytes_out == big.size - have
    for ref, name in zip(refs, ["big", "app1", "app2", "app3"]):
        verify_layout_image(layout, ref, fault_images[name].digest, tmp_path)
    assert audit_layout(layout) == []
    assert not (layout / ".airgap-state").exists()
    recovery("7 disk full while writing a layout, then space freed",
             f"error names image+blob; re-run completes (Range from {have})", seconds)


# -- the module on a small disk: the margin, the map, the message -------------------------------------

LAYOUT_PLAYBOOK = """
- name: Mirror to a layout on a small disk
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror
      airgap.mirror.image_mirror:
        images: "{{ images }}"
        dest: "oci:{{ layout }}"
        mirror_map: "{{ map_path }}"
        insecure_registries: "{{ insecure }}"
        concurrency: 1
        space_check: "{{ space_check | default(omit) }}"
"""


def _layout_run(ansible_run, refs, layout, map_path, insecure, check=False, **extra):
    res = ansible_run.playbook(LAYOUT_PLAYBOOK, check=check, extra_vars={
        "images": refs, "layout": str(layout), "map_path": str(map_path), "insecure": insecure, **extra})
    return res, res.one("Mirror")


def test_layout_space_margin_and_a_refused_run_keeps_the_map(source, tmpfs, ansible_run, fault_images):
    """A small image fits a small disk (the margin is proportional, not a fixed 64 MiB); a copy that
    does not fit is refused -- also in check mode -- and leaves the mirror map exactly as it was
    (and creates none); space_check: false lets it run into the full disk instead."""
    src, _psrc = source
    disk = tmpfs(16)
    layout, map_path = disk / "images", disk / "mirror-map.yml"
    small = [f"{src.host}/app/app1:1", f"{src.host}/app/app2:1"]
    res, record = _layout_run(ansible_run, small, layout, map_path, [src.host])
    assert res.rc == 0, record["result"].get("msg")
    assert record["result"]["totals"]["copied"] == 2 and record["result"]["mirror_map_written"]
    before = map_path.read_bytes()
    stat = map_path.stat()

    _fill(disk, leave=4 * MiB)
    big = [f"{src.host}/app/big:1"]
    for check in (True, False):
        res, record = _layout_run(ansible_run, big, layout, map_path, [src.host], check=check)
        assert res.rc != 0 and record["failed"], res.output
        msg = record["result"]["msg"]
        assert msg.startswith("1 of 1 images failed:\n%s: not enough free space for %s" % (big[0], layout)), msg
        assert "8.0 MiB of blobs and manifests not in the layout yet plus a 1.0 MiB margin" in msg, msg
        assert "the mirror map %s was left as it was" % map_path in msg, msg
        assert record["result"]["mirror_map_written"] is False
        assert map_path.read_bytes() == before, "a refused run must leave the map untouched (check=%s)" % check
        assert (map_path.stat().st_ino, map_path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert not list((layout / "blobs" / "sha256").glob(fault_images["big"].layers[0].digest.split(":")[1]))
    other_map = disk / "other-map.yml"
    res, record = _layout_run(ansible_run, big, layout, other_map, [src.host])
    assert record["failed"] and not other_map.exists(), "a refused run creates no map"


def test_disk_full_in_a_module_run_leads_with_the_image_error(source, tmpfs, ansible_run, fault_images, tmp_path):
    """space_check: false and a disk too small: the blob write fails, and so does the mirror map
    that follows it on the same full disk. The message leads with the image and its blob, then
    says the map could not be written; the map on disk is the earlier one, whole."""
    src, _psrc = source
    disk = tmpfs(16)
    layout, map_path = disk / "images", disk / "mirror-map.yml"
    first = [f"{src.host}/app/app1:1", f"{src.host}/app/app2:1"]
    res, record = _layout_run(ansible_run, first, layout, map_path, [src.host])
    assert res.rc == 0, record["result"].get("msg")
    before = map_path.read_bytes()
    filler = _fill(disk, leave=4 * MiB)

    big = fault_images["big"].layers[0].digest
    refs = [f"{src.host}/app/app1:1", f"{src.host}/app/big:1"]
    res, record = _layout_run(ansible_run, refs, layout, map_path, [src.host], space_check=False)
    assert res.rc != 0 and record["failed"], res.output
    msg = record["result"]["msg"]
    lines = msg.splitlines()
    assert lines[0] == "1 of 2 images failed:", msg
    assert lines[1].startswith(refs[1]) and "no space left on device while writing blob %s" % big in lines[1], msg
    assert lines[-1] == "cannot write the mirror map %s: No space left on device" % map_path, msg
    assert record["result"]["mirror_map_written"] is False
    assert [i["status"] for i in record["result"]["images"]] == ["present", "failed"]
    assert map_path.read_bytes() == before

    # space back: the same run completes (continuing the partial blob) and writes the map
    filler.unlink()
    res, record = _layout_run(ansible_run, refs, layout, map_path, [src.host])
    assert res.rc == 0, record["result"].get("msg")
    assert [e["source"] for e in record["result"]["mirror_map"]] == refs
    verify_layout_image(layout, refs[1], fault_images["big"].digest, tmp_path)
    assert audit_layout(layout) == []


# -- bundles (airgap.mirror.transfer_bundle) --------------------------------------------------------

BUNDLE_PLAYBOOK = """
- name: Pack a bundle onto a small disk
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Pack
      airgap.mirror.transfer_bundle:
        action: pack
        layout: "{{ layout }}"
        bundle: "{{ bundle }}"
        name: images
        part_size: 4M
        space_check: "{{ space_check }}"
"""


@pytest.fixture
def packed_layout(source, tmp_path):
    """A layout (on the normal disk) with about 11 MiB of images, written by the engine."""
    _src, psrc = source
    layout = tmp_path / "layout"
    refs = [f"{psrc.host}/app/big:1", f"{psrc.host}/app/app1:1", f"{psrc.host}/app/app2:1"]
    report, _s = run_engine(refs, f"oci:{layout}", insecure=[psrc.host])
    assert report["failed"] == [], failures(report)
    return layout


def _require_bundle_module():
    module = Path(__file__).resolve().parents[3] / "plugins" / "modules" / "transfer_bundle.py"
    if not module.exists():
        pytest.fail("airgap.mirror.transfer_bundle is not in the tree: the bundle half of case 7 cannot run",
                    pytrace=False)


def test_bundle_preflight_refuses_to_start(packed_layout, tmpfs, ansible_run, recovery):
    _require_bundle_module()
    disk = tmpfs(8, "media")
    started = time.monotonic()
    res = ansible_run.playbook(BUNDLE_PLAYBOOK, extra_vars={
        "layout": str(packed_layout), "bundle": str(disk / "b"), "space_check": True})
    seconds = time.monotonic() - started
    assert res.rc != 0
    record = res.one("Pack")
    assert record["failed"]
    msg = record["result"]["msg"]
    assert "space" in msg.lower() and str(disk) in msg, msg
    written = [p for p in disk.rglob("*") if p.is_file()]
    assert written == [], written
    recovery("7 bundle free-space preflight (8 MiB media)", "refused before any part; message names needs",
             seconds)


def test_disk_full_while_writing_a_bundle(packed_layout, tmpfs, ansible_run, recovery):
    _require_bundle_module()
    disk = tmpfs(8, "media")
    bundle = disk / "b"
    started = time.monotonic()
    res = ansible_run.playbook(BUNDLE_PLAYBOOK, extra_vars={
        "layout": str(packed_layout), "bundle": str(bundle), "space_check": False})
    seconds = time.monotonic() - started
    assert res.rc != 0
    record = res.one("Pack")
    msg = record["result"]["msg"]
    assert "space" in msg.lower(), msg
    # no manifest, so nobody takes the bundle for complete; every part under its final name is whole
    assert not (bundle / "images.bundle.json").exists()
    parts = sorted(bundle.glob("images.tar.[0-9]*"))
    for part in parts:
        assert part.stat().st_size == 4 * MiB, f"{part} is {part.stat().st_size} bytes: a half-written part"
    recovery("7 disk full while writing a bundle", "error names the part; no manifest, no half part", seconds)
    # with the space back, the same pack completes and its parts verify
    bigger = disk.parent / "media2"
    bigger.mkdir()
    res = ansible_run.playbook(BUNDLE_PLAYBOOK, extra_vars={
        "layout": str(packed_layout), "bundle": str(bigger), "space_check": True})
    assert res.rc == 0, res.output
    manifest = json.loads((bigger / "images.bundle.json").read_text())
    for entry in manifest["parts"]:
        data = (bigger / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"].split(":")[-1]
