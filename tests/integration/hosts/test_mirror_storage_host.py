"""The free-space preflight on the mirror's storage on another host (issue 19): the role
airgap.mirror.mirror_images pushes from this machine into a real docker-registry, with
``mirror_images_mirror_storage_host`` naming a Debian host of the test bed (over ssh) whose small
tmpfs stands in for the mirror's storage. The role counts the bytes (image_mirror in check mode),
checks them on that host (airgap.mirror.free_space, delegated), and pushes only when they fit.

What is proven: the count, the delegated check over ssh on a real file system of another host, the
refusal before any blob is sent (the registry's access log shows no upload), check mode, and the
push that fits. Not proven: a real registry writing on that host's storage (the registry here
runs on this machine; the tmpfs only gives the free space a mirror host would report)."""

from __future__ import annotations

import json
import time

import pytest

from support import images as I
from support import skopeo
from support.ansible_run import AnsibleRunner

MiB = 1024 * 1024
HOST = "store1"
STORAGE = "/srv/registry"
COUNT = "airgap.mirror.mirror_images : Count the bytes the push sends to %s"
CHECK = "airgap.mirror.mirror_images : Check the free space on the mirror's storage %s:%s" % (HOST, STORAGE)
MOUNT = ("import ctypes, os, sys; os.makedirs(sys.argv[1], exist_ok=True); libc = ctypes.CDLL(None, use_errno=True); "
         "rc = libc.mount(b'tmpfs', sys.argv[1].encode(), b'tmpfs', 0, b'size=8m'); "
         "sys.exit(rc and os.strerror(ctypes.get_errno()))")
PUSH = "airgap.mirror.mirror_images : Mirror the images to %s"


def inventory(bed, tmp_path):
    inv = json.loads(bed.inventory.read_text())
    inv["all"]["vars"]["ansible_pipelining"] = True
    inv["all"].setdefault("children", {})["controller"] = {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inv))
    return path


def play(src, mir, refs: list[str]) -> str:
    return json.dumps([{"name": "push", "hosts": "localhost", "gather_facts": False, "roles": [{
        "role": "airgap.mirror.mirror_images",
        "mirror_images_images": ["%s/%s" % (src.host, ref) for ref in refs],
        "mirror_images_registry": mir.host,
        "mirror_images_insecure_registries": [src.host, mir.host],
        "mirror_images_mirror_storage_host": HOST,
        "mirror_images_mirror_storage_path": STORAGE,
    }]}]) + "\n"


@pytest.mark.integration
@pytest.mark.hosts
def test_a_push_the_mirror_host_cannot_hold_is_refused_before_any_blob_one_that_fits_passes(
        debian_hosts, registry_factory, tmp_path):
    t0 = time.monotonic()
    bed = debian_hosts(1, "store", with_podman=True)  # privileged: it may mount a tmpfs
    # the hosts have no mount(8): mount(2) through ctypes
    bed.exec(HOST, "/usr/bin/python3", "-c", MOUNT, STORAGE)
    assert "tmpfs" in bed.exec(HOST, "/usr/bin/python3", "-c", "import sys; print(open('/proc/mounts').read())").stdout
    src, mir = registry_factory(), registry_factory()
    layout = I.OCILayout(tmp_path / "build")
    big = I.build_image(layout, "big", layers=[I.add_large_layer(layout, 9 * MiB, seed=23)])
    small = I.build_image(layout, "small", layers=[{"small.txt": "small\n"}])
    I.seed_registry(big, src, "app/big", "1")
    I.seed_registry(small, src, "app/small", "1")
    inv = inventory(bed, tmp_path)
    runner = AnsibleRunner(tmp_path / "ansible")

    # 9 MiB (plus the 1 MiB margin) on an 8 MiB tmpfs: refused, in check mode and for real, before anything is sent
    mark = mir.mark()
    for check in (True, False):
        res = runner.playbook(play(src, mir, ["app/big:1", "app/small:1"]), inventory=inv, check=check)
        assert res.rc != 0, res.output
        counted = res.one(COUNT % mir.host)["result"]["totals"]
        assert counted["bytes_to_copy"] >= 9 * MiB, counted
        refused = res.one(CHECK)
        assert refused["failed"], refused
        result = refused["result"]
        assert result["host"] == HOST and result["path"] == STORAGE and not result["fits"]
        assert result["needed"] == counted["bytes_to_copy"] and result["free"] <= 8 * MiB
        assert "not enough free space at %s:%s" % (HOST, STORAGE) in result["msg"]
        assert not res.task(PUSH % mir.host)  # never started
    assert not mir.filter(("POST", "PUT", "PATCH"), since=mark)
    assert not mir.filter("GET", r"/v2/app/[a-z]+/manifests/", since=mark)

    # the small image fits: check mode checks on the host and pushes nothing
    mark = mir.mark()
    res = runner.playbook(play(src, mir, ["app/small:1"]), inventory=inv, check=True)
    assert res.rc == 0, res.output
    assert res.one(CHECK)["result"]["fits"]
    assert res.one(PUSH % mir.host)["result"]["totals"]["would_copy"] == 1
    assert not mir.filter(("POST", "PUT", "PATCH"), since=mark)

    # for real: checked on the host, then pushed; the mirror serves it
    mark = mir.mark()
    res = runner.playbook(play(src, mir, ["app/small:1"]), inventory=inv)
    assert res.rc == 0, res.output
    checked = res.one(CHECK)["result"]
    assert checked["fits"] and 0 < checked["needed"] < MiB and checked["host"] == HOST
    pushed = res.one(PUSH % mir.host)["result"]["totals"]
    assert pushed["copied"] == 1 and pushed["failed"] == 0, pushed
    assert skopeo.digest_of("docker://%s/app/small:1" % mir.host, registry=mir) == small.digest
    assert not mir.filter(None, r"/v2/app/big/", since=mark)
    assert time.monotonic() - t0 < 60
