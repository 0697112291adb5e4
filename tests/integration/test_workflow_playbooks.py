"""The air-gap workflow playbooks end to end: airgap.mirror.mirror_to_disk on the connected side,
the parts on "removable media", airgap.mirror.disk_to_mirror on the air-gapped side, and
airgap.mirror.mirror for the direct case — from a vendor release file, re-run at an upgrade."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from support import images as I

pytestmark = pytest.mark.integration


def release_file(path, vendor, images):
    """A MicroShift-style release-<arch>.json listing the images by digest only."""
    body = {"release": {"base": "4.99.0-demo"},
            "images": {name: "%s/%s@%s" % (vendor.host, repo, img.digest) for name, (repo, img) in images.items()}}
    path.write_text(json.dumps(body, indent=2))
    return body


@pytest.fixture
def vendor(registry_factory, tmp_path):
    reg = registry_factory()
    layout = I.OCILayout(tmp_path / "vendor-oci")
    base = I.add_layer(layout, {"base/blob.bin": os.urandom(256 * 1024)})
    release1 = {
        "api": ("release/api", I.build_index(layout, "api", base=base)),
        "cli": ("release/cli", I.build_image(layout, "cli", layers=[base, {"cli": "v1"}])),
    }
    release2 = dict(release1, web=("release/web", I.build_image(layout, "web", layers=[base, {"web": os.urandom(64 * 1024)}])))
    for repo, img in release2.values():
        I.seed_registry(img, reg, repo, None)
    return reg, release1, release2


def run(ansible_run, playbook, extra, check=False):
    res = ansible_run.playbook(playbook, extra_vars=extra, check=check)
    assert res.rc == 0, res.output
    return res


def test_connected_to_airgapped_with_an_incremental_upgrade(vendor, tmp_path, registry_factory, ansible_run, skopeo):
    src, release1, release2 = vendor
    mirror = registry_factory(tls=True, auth=True)
    media = tmp_path / "usb"
    rel = tmp_path / "release-x86_64.json"
    release_file(rel, src, release1)
    connected = {
        "mirror_images_microshift_release_files": [str(rel)],
        "mirror_images_layout": str(tmp_path / "connected" / "images"),
        "mirror_images_mirror_map": str(tmp_path / "connected" / "map-1.yml"),
        "mirror_images_bundle_dir": str(media / "r1"),
        "mirror_images_part_size": "200K",
        "mirror_images_insecure_registries": [src.host],
    }
    res = run(ansible_run, "airgap.mirror.mirror_to_disk", connected, check=True)
    assert res.changed, "check mode must report the copy it would do"
    assert not (tmp_path / "connected").exists() or not os.listdir(tmp_path / "connected")
    res = run(ansible_run, "airgap.mirror.mirror_to_disk", connected)
    parts = sorted(p for p in os.listdir(media / "r1") if ".tar." in p)
    assert len(parts) >= 2, parts  # 200K parts: the bundle is split
    again = run(ansible_run, "airgap.mirror.mirror_to_disk", connected)
    assert not again.changed, [r["task"] for r in again.changed]

    airgapped = {
        "mirror_images_bundle_dir": str(media / "r1"),
        "mirror_images_layout": str(tmp_path / "airgapped" / "images"),
        "mirror_images_registry": mirror.host,
        "mirror_images_dest_username": mirror.username,
        "mirror_images_dest_password": mirror.password,
        "mirror_images_ca_path": str(mirror.ca_path),
        "mirror_images_mirror_map": str(tmp_path / "airgapped" / "mirror-map.yml"),
    }
    run(ansible_run, "airgap.mirror.disk_to_mirror", airgapped)
    mirror_map = yaml.safe_load((tmp_path / "airgapped" / "mirror-map.yml").read_text())["images"]
    assert len(mirror_map) == len(release1)
    for name, (repo, img) in release1.items():
        entry = next(e for e in mirror_map if e["digest"] == img.digest)
        assert entry["source"] == "%s/%s@%s" % (src.host, repo, img.digest)
        assert skopeo.digest_of("docker://" + entry["destination"], registry=mirror) == img.digest
        assert entry["destination"].endswith(":mirror-sha256-" + img.digest[7:])
    again = run(ansible_run, "airgap.mirror.disk_to_mirror", airgapped)
    assert not again.changed, [r["task"] for r in again.changed]

    # the upgrade: release 2 adds an image; the incremental bundle leaves out what the other side has
    release_file(rel, src, release2)
    upgrade = dict(connected, mirror_images_mirror_map=str(tmp_path / "connected" / "map-2.yml"),
                   mirror_images_bundle_dir=str(media / "r2"),
                   mirror_images_previous=str(tmp_path / "connected" / "map-1.yml"))
    run(ansible_run, "airgap.mirror.mirror_to_disk", upgrade)
    size1 = sum(os.path.getsize(media / "r1" / p) for p in os.listdir(media / "r1"))
    size2 = sum(os.path.getsize(media / "r2" / p) for p in os.listdir(media / "r2"))
    assert size2 < size1 / 2, (size1, size2)  # the shared 256 KiB base layer is not in it again
    run(ansible_run, "airgap.mirror.disk_to_mirror", dict(airgapped, mirror_images_bundle_dir=str(media / "r2")))
    web_repo, web = release2["web"]
    final = yaml.safe_load((tmp_path / "airgapped" / "mirror-map.yml").read_text())["images"]
    assert {e["digest"] for e in final} == {img.digest for _r, img in release2.values()}
    assert skopeo.digest_of("docker://%s/%s:mirror-sha256-%s" % (mirror.host, web_repo, web.digest[7:]),
                            registry=mirror) == web.digest


def test_direct_mirror_playbook(vendor, tmp_path, registry_factory, ansible_run, skopeo):
    src, release1, _release2 = vendor
    mirror = registry_factory()
    listing = tmp_path / "images.txt"
    listing.write_text("# the release, as a plain list\n" + "".join(
        "%s/%s@%s\n" % (src.host, repo, img.digest) for repo, img in release1.values()))
    extra = {"mirror_images_list_files": [str(listing)], "mirror_images_registry": mirror.host + "/ocp",
             "mirror_images_insecure_registries": [src.host, mirror.host],
             "mirror_images_mirror_map": str(tmp_path / "map.yml")}
    run(ansible_run, "airgap.mirror.mirror", extra)
    for repo, img in release1.values():
        assert skopeo.digest_of("docker://%s/ocp/%s@%s" % (mirror.host, repo, img.digest), registry=mirror) == img.digest
    assert not run(ansible_run, "airgap.mirror.mirror", extra).changed


def test_bad_vendor_file_fails_naming_it(tmp_path, ansible_run):
    rel = tmp_path / "release-x86_64.json"
    rel.write_text('{"release": {}, "image": {}}')
    res = ansible_run.playbook("airgap.mirror.mirror", extra_vars={
        "mirror_images_microshift_release_files": [str(rel)], "mirror_images_registry": "mirror.invalid:5000"})
    assert res.rc != 0
    assert str(rel) in res.output and "images" in res.output
