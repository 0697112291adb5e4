"""The air-gapped side talks back (issue 19): an inventory of the real mirror, carried out, as the
baseline of the next bundle - with real registries, real GnuPG keys, ansible-playbook and skopeo.

Connected side: a source registry seeded with skopeo, mirrored by the engine into a layout. Air-gapped
side: a mirror registry fed from bundle 1. Bundle 2 is packed but never unpacked (lost), and one blob
is deleted from the mirror behind the mirror map's back (registry DELETE API). ``mirror_inventory``
reads the mirror (every blob asked for), signs the file; ``transfer_bundle pack`` with that inventory
as ``previous`` (signature checked with ``verify_keys``) carries exactly what the mirror lacks - the
oracle is the mirror itself, asked blob by blob with plain HTTP, not the code under test. Unpacked
into a fresh layout and pushed, it repairs both; skopeo then copies every image out of the mirror.

The tests are numbered: they share one module-scoped world and run in file order (test_6 uses the
inventory test_3 reads after the repair).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.pack import pack as pack_bundle
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, State
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._inventory import read as R
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import MirrorMap

from support import images as I
from support import skopeo
from support.ansible_run import AnsibleRunner
from support.gpg import gpg, make_key, stop_agent
from support.registry import Registry

pytestmark = pytest.mark.integration

PASSPHRASE = "inventory passphrase 4b1e"
RELEASE_1 = ("app-1.0", "tool-2.0", "db-15")


def run_task(runner, workdir, module, args, check=False, diff=False):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "T", module: args}]}]
    path = workdir / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(yaml.safe_dump(play))
    res = runner.playbook(path, check=check, diff=diff)
    return res, res.one("T")


def push(layout, registry, map_path, verify=False):
    pool = ClientPool(insecure_registries=[registry.host])
    try:
        lock = mirrormap_io.load_if_exists(str(map_path))
        report = mirror(MirrorRequest(["all"], registry.host, src="oci:%s" % layout, verify=verify,
                                      state=State(lock=lock, previous=lock, prune_map=False)), pool=pool)
    finally:
        pool.close()
    assert not report["failed"], report["failed"]
    mirrormap_io.write(str(map_path), report["map"])
    return report


def blob_status(registry, repo, digest):
    status, _h, _b = registry.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest))
    return status


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("inventory")
    keys = {}
    for name, passphrase in (("alice", PASSPHRASE), ("mallory", None)):
        key = make_key(base / "keys", name, passphrase=passphrase)
        (base / ("%s.pub" % name)).write_bytes(key.public)
        (base / ("%s.key" % name)).write_bytes(key.secret)
        os.chmod(base / ("%s.key" % name), 0o600)
        keys[name] = key
    src, mir = Registry(base / "src"), Registry(base / "mirror")
    src.start()
    mir.start()
    try:
        samples = I.sample_set(base / "samples")
        refs = {}
        for name, image in samples.images.items():
            repo, tag = samples.targets[name]
            refs[name] = I.seed_registry(image, src, repo, tag)
        pool = ClientPool(insecure_registries=[src.host])
        report = mirror(MirrorRequest(list(refs.values()), "oci:%s" % (base / "layout")), pool=pool)
        pool.close()
        assert not report["failed"], report["failed"]
        full = report["map"]
        by_source = {str(e.source): e for e in full}
        mirrormap_io.write(str(base / "map-all.yml"), full)
        mirrormap_io.write(str(base / "map-r1.yml"), MirrorMap(by_source[refs[n]] for n in RELEASE_1))
        mirrormap_io.write(str(base / "map-r2.yml"),
                           MirrorMap(by_source[refs[n]] for n in ("app-1.1", "web-stable")))
        # bundle 1 crosses the gap and is pushed; bundle 2 is packed and lost
        pack_bundle(plan_pack(str(base / "layout"), "r1", "1M", mirror_map=str(base / "map-r1.yml")),
                    str(base / "media1"))
        unpack(str(base / "media1"), str(base / "staging1"), "r1")
        push(base / "staging1", mir, base / "air-map.yml")
        pack_bundle(plan_pack(str(base / "layout"), "r2", "1M", mirror_map=str(base / "map-r2.yml"),
                              previous=str(base / "media1" / "r1.bundle.json")), str(base / "media2"))
        # a blob deleted behind the map's back: app-1.0's own layer, in its repository
        lost = samples["app-1.0"].layers[-1].digest
        assert mir.request("DELETE", "/v2/sample/app/blobs/%s" % lost)[0] == 202
        assert blob_status(mir, "sample/app", lost) == 404
        yield {"base": base, "src": src, "mir": mir, "samples": samples, "refs": refs, "keys": keys, "lost": lost,
               "runner": AnsibleRunner(base / "ansible")}
    finally:
        for key in keys.values():
            key.stop_agent()
        src.stop()
        mir.stop()


def read_inventory(world, check=False, dest="inventory.json", diff=False):
    base = world["base"]
    args = {"mirror_map": str(base / "air-map.yml"), "dest": str(base / dest), "check_blobs": True,
            "insecure_registries": [world["mir"].host], "signing_key": str(base / "alice.key"),
            "signing_key_passphrase": PASSPHRASE}
    res, rec = run_task(world["runner"], base, "airgap.mirror.mirror_inventory", args, check=check, diff=diff)
    assert res.rc == 0, res.output
    assert PASSPHRASE not in res.stdout + res.stderr
    return rec


def pack_from(world, name, inventory, verify_keys=("alice",), check=False):
    base = world["base"]
    args = {"action": "pack", "layout": str(base / "layout"), "mirror_map": str(base / "map-all.yml"),
            "bundle": str(base / ("media-" + name)), "name": name, "part_size": "1M", "previous": str(inventory)}
    if verify_keys:
        args["verify_keys"] = [str(base / ("%s.pub" % k)) for k in verify_keys]
    return run_task(world["runner"], base, "airgap.mirror.transfer_bundle", args, check=check)


def test_1_the_inventory_is_read_signed_and_idempotent(world):
    base = world["base"]
    rec = read_inventory(world, check=True, diff=True)
    assert rec["changed"] and rec["result"]["status"] == "would_write"
    assert not (base / "inventory.json").exists() and not (base / "inventory.json.asc").exists()
    assert "sample/app: missing blob %s" % world["lost"] in rec["result"]["diff"]["after"]
    rec = read_inventory(world)
    result = rec["result"]
    assert rec["changed"] and result["status"] == "written" and result["signature"]["status"] == "written"
    assert result["missing"] == {"sample/app": {"manifests": [], "blobs": [world["lost"]]}}
    assert [i["source"] for i in result["incomplete_images"]] == [world["refs"]["app-1.0"]]
    assert result["totals"]["images"] == 3 and result["blobs_checked"]
    doc = json.loads((base / "inventory.json").read_text())
    assert doc["format"] == "airgap.mirror/inventory/v1" and doc["state_digest"] == result["state_digest"]
    assert result["sha256"] == hashlib.sha256((base / "inventory.json").read_bytes()).hexdigest()
    # gpg, the independent client, accepts the detached signature
    home = base / "gnupg-check"
    home.mkdir(mode=0o700)
    try:
        gpg(home, "--import", str(base / "alice.pub"))
        checked = gpg(home, "--status-fd", "1", "--verify", str(base / "inventory.json.asc"),
                      str(base / "inventory.json"))
    finally:
        stop_agent(home)
    assert ("[GNUPG:] VALIDSIG " + world["keys"]["alice"].fingerprint).encode() in checked.stdout
    # unchanged mirror: nothing written, the time it was first read is kept
    before = (base / "inventory.json").read_bytes()
    again = read_inventory(world)
    assert not again["changed"] and again["result"]["status"] == "present"
    assert again["result"]["signature"]["status"] == "present" and again["result"]["read_at"] == result["read_at"]
    assert (base / "inventory.json").read_bytes() == before
    # one request per image with the manifests known from the file, plus (check_blobs) one HEAD per blob and
    # per index child in each repository
    blobs = sum(len({b["digest"] for m in r["manifests"].values() for b in m.get("blobs", [])})
                for r in doc["repositories"].values())
    children = sum(len(m.get("children", [])) for r in doc["repositories"].values() for m in r["manifests"].values())
    assert children == 2 and again["result"]["requests"] == 3 + blobs + children


def test_2_the_inventory_based_bundle_carries_exactly_what_the_mirror_lacks_and_repairs_it(world):
    base, mir, samples, refs = world["base"], world["mir"], world["samples"], world["refs"]
    res, rec = pack_from(world, "r3", base / "inventory.json")
    assert res.rc == 0, res.output
    doc = json.loads((base / "media-r3" / "r3.bundle.json").read_text())
    previous = doc["previous"]
    assert previous["kind"] == "inventory" and not previous["stale"]
    assert previous["sha256"] == hashlib.sha256((base / "inventory.json").read_bytes()).hexdigest()
    assert previous["signature"]["verified"] and previous["read_at"] == rec["result"]["previous"]["read_at"]
    # the oracle: the mirror itself, asked for every config and layer in the repository each image goes to
    expected = set()
    manifests = set()
    for name, image in samples.images.items():
        repo = samples.targets[name][0]
        manifests.update(m.digest for m in image.manifests())
        for digest in image.blobs():
            if digest not in manifests and blob_status(mir, repo, digest) != 200:
                expected.add(digest)
    carried = {b["digest"] for b in doc["blobs"]}
    assert carried - manifests == expected
    assert manifests <= carried
    assert world["lost"] in expected  # the blob lost behind the map's back is put back in
    assert {layer.digest for layer in samples["app-1.1"].layers} - {samples["app-1.0"].layers[0].digest} <= expected
    # what the mirror has where it is needed stays out (the shared base layer travels only because the
    # new repository sample/web needs it: a registry serves a blob only in a repository that has it)
    assert samples["app-1.0"].config.digest not in carried and samples["db-15"].config.digest not in carried
    assert samples["app-1.0"].layers[0].digest in expected
    assert blob_status(mir, "sample/web", samples["app-1.0"].layers[0].digest) == 404
    assert doc["assumed_present"]
    warnings = rec.get("warnings") or []
    assert any("web" in w and "match no repository" in w for w in warnings), warnings

    # air-gapped side, the role: verify, unpack into a fresh layout (it never saw bundle 1), push with every
    # blob checked at the mirror (the role does that for a bundle packed from an inventory), with the
    # free-space preflight on the mirror's storage; everything is whole again
    res = world["runner"].playbook("airgap.mirror.disk_to_mirror", extra_vars={
        "mirror_images_bundle_dir": str(base / "media-r3"), "mirror_images_bundle_name": "r3",
        "mirror_images_layout": str(base / "staging3"), "mirror_images_registry": mir.host,
        "mirror_images_insecure_registries": [mir.host], "mirror_images_mirror_map": str(base / "air-map.yml"),
        "mirror_images_mirror_storage_path": str(mir.storage),
        "mirror_images_inventory": str(base / "after-r3.json"), "mirror_images_inventory_check_blobs": True,
        "mirror_images_inventory_signing_key": str(base / "alice.key"),
        "mirror_images_inventory_signing_key_passphrase": PASSPHRASE})
    assert res.rc == 0, res.output
    assert PASSPHRASE not in res.stdout + res.stderr
    unpacked = res.one("airgap.mirror.mirror_images : Unpack the bundle into the layout")["result"]
    assert unpacked["assumed_in_mirror"]["blobs"] == len(doc["assumed_present"])
    assert unpacked["assumed_in_mirror"]["inventory_read_at"] == previous["read_at"]
    pushed = [r["result"] for r in res.task("airgap.mirror.mirror_images : Mirror the images to %s" % mir.host) if "totals" in r["result"]]
    assert len(pushed) == 1 and pushed[0]["totals"]["failed"] == 0 and pushed[0]["totals"]["repaired"] == 1
    assert blob_status(mir, "sample/app", world["lost"]) == 200
    for name, image in samples.images.items():
        repo, tag = samples.targets[name]
        out = base / "out" / name
        skopeo.copy("docker://%s/%s:%s" % (mir.host, repo, tag), "dir:%s" % out, src_registry=mir)
        assert skopeo.digest_of("docker://%s/%s:%s" % (mir.host, repo, tag), registry=mir) == image.digest
    fresh = R.read_for_map(ClientPool(insecure_registries=[mir.host]),
                           mirrormap_io.load(str(base / "air-map.yml")), check_blobs=True)
    assert len(fresh.images) == 5 and all(i.complete for i in fresh.images) and not fresh.missing()
    # the role read the repaired mirror into the inventory to carry back out, signed: the same state
    after = res.one("airgap.mirror.mirror_images : Read what the mirror now holds into the inventory carried back "
                    "out")["result"]
    assert after["incomplete_images"] == [] and after["state_digest"] == fresh.state_digest()
    assert after["signature"]["fingerprint"] == world["keys"]["alice"].fingerprint
    assert os.path.exists(base / "after-r3.json.asc")


def test_3_a_stale_inventory_is_reported(world):
    base = world["base"]
    res, rec = pack_from(world, "r4", base / "inventory.json", check=True)
    assert res.rc == 0, res.output
    previous = rec["result"]["previous"]
    assert previous["stale"] and previous["stale_because"]["name"] == "r3"
    assert any("is stale: the bundle r3 was already packed from this inventory" in w for w in rec["warnings"])
    # a new read after the repair is complete and not stale
    fresh = read_inventory(world, dest="inventory-2.json")
    assert fresh["result"]["incomplete_images"] == [] and fresh["result"]["totals"]["images"] == 5
    res, rec = pack_from(world, "r4", base / "inventory-2.json", check=True)
    assert res.rc == 0, res.output
    assert not rec["result"]["previous"]["stale"]


def _tampered(path):
    doc = json.loads(path.read_text())
    doc["read_at"] = "2099-01-01T00:00:00Z"
    path.write_text(json.dumps(doc))


def _unsigned(path):
    os.unlink(str(path) + ".asc")


@pytest.mark.parametrize("spoil, reason", [
    (_tampered, "bad signature: it was changed after it was signed"),
    (_unsigned, "unsigned: it has no signature inventory-copy.json.asc"),
])
def test_4_a_tampered_or_unsigned_inventory_is_refused(world, spoil, reason):
    base = world["base"]
    copy = base / "inventory-copy.json"
    shutil.copy(base / "inventory.json", copy)
    shutil.copy(base / "inventory.json.asc", str(copy) + ".asc")
    spoil(copy)
    res, rec = pack_from(world, "r5", copy)
    assert res.rc != 0 and rec["failed"]
    assert "the inventory %s is refused: %s" % (copy, reason) in rec["result"]["msg"]
    assert not (base / "media-r5").exists()


def test_5_an_inventory_signed_by_another_key_is_refused(world):
    base = world["base"]
    res, rec = pack_from(world, "r6", base / "inventory.json", verify_keys=("mallory",))
    assert res.rc != 0
    assert "untrusted key" in rec["result"]["msg"] and world["keys"]["mallory"].fingerprint in rec["result"]["msg"]
    assert not (base / "media-r6").exists()


def test_6_mirror_to_disk_with_the_inventory_of_a_whole_mirror_packs_manifests_only(world):
    base = world["base"]
    assert (base / "inventory-2.json").exists()  # read by test_3 after the repair
    res = world["runner"].playbook("airgap.mirror.mirror_to_disk", extra_vars={
        "mirror_images_images": sorted(world["refs"].values()), "mirror_images_layout": str(base / "layout"),
        "mirror_images_mirror_map": str(base / "map-to-disk.yml"), "mirror_images_bundle_dir": str(base / "media-r7"),
        "mirror_images_bundle_name": "r7", "mirror_images_insecure_registries": [world["src"].host],
        "mirror_images_previous": str(base / "inventory-2.json"),
        "mirror_images_inventory_verify_keys": [str(base / "alice.pub")]})
    assert res.rc == 0, res.output
    doc = json.loads((base / "media-r7" / "r7.bundle.json").read_text())
    assert doc["previous"]["kind"] == "inventory" and doc["previous"]["signature"]["verified"]
    manifests = {m.digest for image in world["samples"].images.values() for m in image.manifests()}
    assert {b["digest"] for b in doc["blobs"]} == manifests
    assert len(doc["assumed_present"]) > 0


def test_7_whole_repositories_through_the_module(world):
    base, mir = world["base"], world["mir"]
    args = {"registry": mir.host, "repositories": ["all"], "dest": str(base / "repos.json"),
            "insecure_registries": [mir.host], "page_size": 2}
    res, rec = run_task(world["runner"], base, "airgap.mirror.mirror_inventory", args)
    assert res.rc == 0, res.output
    result = rec["result"]
    assert result["scope"] == {"kind": "repositories", "repositories": None}
    # the oracle: the registry's own catalog and tag lists, read with plain HTTP
    catalog = json.loads(mir.get("/v2/_catalog")[2])["repositories"]
    tags = {r: sorted(json.loads(mir.get("/v2/%s/tags/list" % r)[2])["tags"]) for r in catalog}
    doc = json.loads((base / "repos.json").read_text())
    assert sorted(doc["repositories"]) == sorted(catalog) and result["totals"]["repositories"] == len(catalog)
    assert {r: sorted(v["tags"]) for r, v in doc["repositories"].items()} == tags
    assert doc["repositories"]["sample/app"]["tags"]["1.0"] == world["samples"]["app-1.0"].digest
    assert result["missing"] == {} and not result["blobs_checked"] and result["signature"] is None
    res, again = run_task(world["runner"], base, "airgap.mirror.mirror_inventory", args)
    assert res.rc == 0 and not again["changed"] and again["result"]["status"] == "present"
    res, bad = run_task(world["runner"], base, "airgap.mirror.mirror_inventory",
                        {"repositories": ["all"], "dest": str(base / "nothing.json")})
    assert res.rc != 0 and "registry is required with repositories" in bad["result"]["msg"]
    assert not (base / "nothing.json").exists()


def test_8_a_first_read_with_the_staging_layout_costs_one_request_per_image(world):
    base, mir = world["base"], world["mir"]
    entries = list(mirrormap_io.load(str(base / "air-map.yml")))
    args = {"mirror_map": str(base / "air-map.yml"), "dest": str(base / "with-layout.json"),
            "insecure_registries": [mir.host], "layout": str(base / "staging1")}
    in_layout = Layout(str(base / "staging1"))
    images = {image.digest: image for image in world["samples"].images.values()}
    # the oracle: one HEAD per image whose manifests are all in the layout; else a GET of it and of each child
    expected = 0
    for entry in entries:
        tree = [m.digest for m in images[entry.digest].manifests()]
        expected += 1 if all(in_layout.has_blob(d) for d in tree) else len(tree)
    assert any(in_layout.has_blob(e.digest) for e in entries)
    res, rec = run_task(world["runner"], base, "airgap.mirror.mirror_inventory", args)
    assert res.rc == 0, res.output
    assert rec["result"]["requests"] == expected and rec["result"]["incomplete_images"] == []
    res, bad = run_task(world["runner"], base, "airgap.mirror.mirror_inventory",
                        dict(args, layout=str(base / "nowhere"), dest=str(base / "x.json")))
    assert res.rc != 0 and "is not an OCI image layout" in bad["result"]["msg"]
