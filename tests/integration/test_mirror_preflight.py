"""The free-space preflight on the mirror itself (issue 19): a real docker-registry whose storage
lives on a small tmpfs, ``image_mirror`` given that storage as ``mirror_storage_path``.

Refused before the first byte is sent (the registry's access log shows no upload), passed without
a single extra request when the upper bound fits, and passed after asking the mirror (HEAD) when
only the upper bound does not fit but what the mirror lacks does. ``transfer_bundle unpack`` with
the same path refuses a bundle the mirror cannot hold before it writes anything."""

from __future__ import annotations

import os
import uuid

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.pack import pack as pack_bundle
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import Limits, MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror

from support import images as I
from support.registry import Registry

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def fill(directory, leave):
    """A filler file leaving about *leave* bytes free on *directory*'s file system."""
    stat = os.statvfs(directory)
    remaining = stat.f_bavail * stat.f_frsize - leave
    with open(os.path.join(directory, "filler.bin"), "wb") as handle:
        while remaining > 0:
            step = min(remaining, MiB)
            handle.write(b"\0" * step)
            remaining -= step


@pytest.fixture
def setup(registry_factory, tmpfs_mib, tmp_path):
    src = registry_factory()
    layout = I.OCILayout(tmp_path / "build")
    layer = I.add_large_layer(layout, 6 * MiB, seed=11)
    big = I.build_image(layout, "big", layers=[layer])
    big2 = I.build_image(layout, "big2", layers=[layer], labels={"release": "2"})  # same layer, new config
    small = I.build_image(layout, "small", layers=[{"small.txt": "small\n"}])
    I.seed_registry(big, src, "app/big", "1")
    I.seed_registry(big2, src, "app/big", "2")
    I.seed_registry(small, src, "app/small", "1")
    disk = tmpfs_mib(12, "mirror-disk")
    mir = Registry(disk / "registry")
    mir.start()
    yield {"src": src, "mir": mir, "storage": mir.storage, "disk": disk, "big": big}
    mir.stop()


def push(setup, refs, check_mode=False):
    pool = ClientPool(insecure_registries=[setup["src"].host, setup["mir"].host])
    try:
        return mirror(MirrorRequest(["%s/%s" % (setup["src"].host, r) for r in refs], setup["mir"].host,
                                    limits=Limits(mirror_storage_path=str(setup["storage"])), check_mode=check_mode),
                      pool=pool)
    finally:
        pool.close()


def test_refused_before_anything_is_sent(setup):
    mir = setup["mir"]
    fill(setup["disk"], 3 * MiB)
    mark = mir.mark()
    for check_mode in (True, False):
        report = push(setup, ["app/big:1", "app/small:1"], check_mode=check_mode)
        assert len(report["failed"]) == 2
        for failed in report["failed"]:
            assert "not enough free space on the mirror's storage %s" % setup["storage"] in failed["error"]
            assert "mirror_storage_path" in failed["error"]
    assert not mir.filter(("POST", "PUT", "PATCH"), since=mark)


def test_a_push_that_fits_costs_no_request_and_one_that_fits_only_after_asking_asks(setup):
    mir = setup["mir"]
    mark = mir.mark()
    report = push(setup, ["app/big:1"])
    assert not report["failed"]
    # the upper bound fitted: the preflight asked nothing (the copy's own mount-probing POST asks)
    assert not mir.filter("HEAD", r"/blobs/", since=mark)
    fill(setup["disk"], 4 * MiB)  # the big layer would not fit again, but the mirror has it in app/big
    mark = mir.mark()
    report = push(setup, ["app/big:2", "app/small:1"])
    assert not report["failed"], report["failed"]
    assert len(mir.filter("HEAD", r"/v2/app/big/blobs/%s" % setup["big"].layers[0].digest, since=mark)) >= 1


def test_through_the_module(setup, ansible_run, tmp_path):
    fill(setup["disk"], 3 * MiB)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "T", "airgap.mirror.image_mirror": {
        "images": ["%s/app/big:1" % setup["src"].host], "dest": setup["mir"].host,
        "insecure_registries": [setup["src"].host, setup["mir"].host],
        "mirror_storage_path": str(setup["storage"])}}]}]
    path = tmp_path / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(yaml.safe_dump(play))
    res = ansible_run.playbook(path)
    rec = res.one("T")
    assert res.rc != 0 and rec["failed"]
    assert "not enough free space on the mirror's storage" in res.output


def test_unpack_refuses_a_bundle_the_mirror_cannot_hold_before_writing(setup, tmp_path):
    src = setup["src"]
    pool = ClientPool(insecure_registries=[src.host])
    report = mirror(MirrorRequest(["%s/app/big:1" % src.host], "oci:%s" % (tmp_path / "layout")), pool=pool)
    pool.close()
    assert not report["failed"]
    pack_bundle(plan_pack(str(tmp_path / "layout"), "big", "4M"), str(tmp_path / "media"))
    fill(setup["disk"], 3 * MiB)
    for check_mode in (True, False):
        with pytest.raises(BundleError, match="not enough free space on the mirror's storage %s for what this "
                           "bundle brings" % setup["storage"]):
            unpack(str(tmp_path / "media"), str(tmp_path / "staging"), "big", check_mode=check_mode,
                   mirror_storage_path=str(setup["storage"]))
        assert not (tmp_path / "staging").exists()
    os.unlink(setup["disk"] / "filler.bin")
    done = unpack(str(tmp_path / "media"), str(tmp_path / "staging"), "big", mirror_storage_path=str(setup["storage"]))
    assert done["status"] == "unpacked" and done["mirror_space"]["needed"] > 6 * MiB
