"""Signed transfer bundles across a simulated air gap, with real registries and real GnuPG keys.

Connected side: a real docker-registry seeded with skopeo, mirrored by the engine into an OCI layout
with a mirror map that records a gpg verification per image (what the connected side checked). The
bundle is packed and signed by ``ansible-playbook`` (passphrase-protected key, ``no_log``), and
``gpg --verify`` - the independent client - accepts the detached signature on the media.

Air-gapped side: ``airgap.mirror.disk_to_mirror`` (verify, unpack, push) with
``mirror_images_bundle_verify_keys``. The right key passes and the images reach the mirror registry;
an unsigned bundle, a changed part, a forged manifest (a part changed and the manifest re-checksummed
to match) and a bundle signed by another key are refused, and nothing is written: no layout, no new
repository in the destination registry, the mirror map files unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import uuid

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import MirrorMap, Verified

from support import images as I
from support.gpg import gpg, make_key, stop_agent
from support.registry import Registry

pytestmark = pytest.mark.integration

NAME = "release-1"
MANIFEST = NAME + ".bundle.json"
SIG = MANIFEST + ".asc"
PASSPHRASE = "correct horse battery staple 7f3c"


def run_bundle(ansible_run, workdir, args, check=False):
    """Run one airgap.mirror.transfer_bundle task through ansible-playbook; (result, record)."""
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "Bundle", "airgap.mirror.transfer_bundle": args}]}]
    path = workdir / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(yaml.safe_dump(play))
    res = ansible_run.playbook(path, check=check)
    return res, res.one("Bundle")


def catalog(registry):
    status, _headers, body = registry.get("/v2/_catalog")
    assert status == 200, body
    return json.loads(body)["repositories"] or []


@pytest.fixture(scope="module")
def connected(tmp_path_factory):
    """Keys, a source registry, the mirrored layout and its map (every entry verified by alice)."""
    base = tmp_path_factory.mktemp("signing")
    alice = make_key(base / "keys", "alice", passphrase=PASSPHRASE)
    mallory = make_key(base / "keys", "mallory")
    for key in (alice, mallory):
        (base / ("%s.pub" % key.name)).write_bytes(key.public)
        (base / ("%s.key" % key.name)).write_bytes(key.secret)
        os.chmod(base / ("%s.key" % key.name), 0o600)
    reg = Registry(base / "registry")
    reg.start()
    try:
        layout = I.OCILayout(base / "build")
        images = {}
        app = I.build_image(layout, "app", layers=[{"app/bin": os.urandom(96 * 1024)}, {"etc/app": "1"}])
        idx = I.build_index(layout, "multi")
        for repo, image in (("signed/app", app), ("signed/multi", idx)):
            images[I.seed_registry(image, reg, repo, "1.0")] = image
        pool = ClientPool(insecure_registries=[reg.host])
        report = mirror(MirrorRequest(list(images), "oci:%s" % (base / "layout")), pool=pool)
        assert not report["failed"], report["failed"]
        verified = MirrorMap(dataclasses.replace(e, verified=Verified("gpg", (alice.fingerprint,)))
                             for e in report["map"])
        mirrormap_io.write(str(base / "mirror-map.yml"), verified)
        yield {"base": base, "alice": alice, "mallory": mallory, "images": images, "layout": base / "layout",
               "map": base / "mirror-map.yml"}
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def media(connected, tmp_path_factory):
    """The bundle, packed and signed once through ansible-playbook (kept pristine: tests copy it)."""
    from support.ansible_run import AnsibleRunner

    work = tmp_path_factory.mktemp("pack")
    runner = AnsibleRunner(work / "ansible")
    out = work / "media"
    args = {"action": "pack", "layout": str(connected["layout"]), "mirror_map": str(connected["map"]),
            "bundle": str(out), "name": NAME, "part_size": "64K",
            "signing_key": str(connected["base"] / "alice.key"), "signing_key_passphrase": PASSPHRASE}
    res, rec = run_bundle(runner, work, args, check=True)
    assert res.rc == 0, res.output
    assert rec["result"]["signature"]["status"] == "would_write" and not out.exists()
    res, rec = run_bundle(runner, work, args)
    assert res.rc == 0, res.output
    signature = rec["result"]["signature"]
    assert signature == {"file": str(out / SIG), "fingerprint": connected["alice"].fingerprint,
                         "status": "written", "present": True}
    again_res, again = run_bundle(runner, work, args)
    assert again_res.rc == 0 and not again["changed"] and again["result"]["signature"]["status"] == "present"
    for run in (res, again_res):
        assert PASSPHRASE not in run.stdout + run.stderr and "PRIVATE KEY" not in run.stdout + run.stderr
    assert PASSPHRASE not in json.dumps(rec)
    return out


def copy_media(media, tmp_path):
    target = tmp_path / "usb"
    shutil.copytree(media, target)
    return target


def airgapped_vars(connected, tmp_path, bundle, dest, verify_keys):
    return {
        "mirror_images_bundle_dir": str(bundle),
        "mirror_images_bundle_name": NAME,
        "mirror_images_layout": str(tmp_path / "airgapped" / "images"),
        "mirror_images_registry": dest.host,
        "mirror_images_insecure_registries": [dest.host],
        "mirror_images_mirror_map": str(tmp_path / "mirror-map.yml"),
        "mirror_images_bundle_verify_keys": [str(connected["base"] / ("%s.pub" % k)) for k in verify_keys],
    }


def test_signed_bundle_is_accepted_by_gpg_and_crosses_the_gap(connected, media, tmp_path, ansible_run,
                                                              registry_factory, skopeo):
    alice = connected["alice"]
    # the independent client: gpg, in a home that holds only alice's public key
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    try:
        gpg(home, "--import", str(connected["base"] / "alice.pub"))
        checked = gpg(home, "--status-fd", "1", "--verify", str(media / SIG), str(media / MANIFEST))
    finally:
        stop_agent(home)
    assert ("[GNUPG:] VALIDSIG " + alice.fingerprint).encode() in checked.stdout
    assert sorted(os.listdir(media)) == sorted([p for p in os.listdir(media) if ".tar." in p] +
                                               [MANIFEST, SIG, NAME + ".sha256"])
    # the manifest records what the connected side verified, per image
    doc = json.loads((media / MANIFEST).read_text())
    assert {i["ref_name"]: i["verified"] for i in doc["images"]} == {
        ref: {"kind": "gpg", "keys": [alice.fingerprint]} for ref in connected["images"]}

    bundle = copy_media(media, tmp_path)
    # verify and unpack (check mode, then for real) with the right key
    keys = [str(connected["base"] / "mallory.pub"), str(connected["base"] / "alice.pub")]
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(bundle), "name": NAME,
                                                  "verify_keys": keys})
    assert res.rc == 0, res.output
    assert rec["result"]["valid"] and rec["result"]["signature"]["verified"]
    assert rec["result"]["signature"]["fingerprint"] == alice.fingerprint
    unpack_args = {"action": "unpack", "bundle": str(bundle), "name": NAME, "layout": str(tmp_path / "layout"),
                   "mirror_map": str(tmp_path / "layout-map.yml"), "verify_keys": keys}
    res, rec = run_bundle(ansible_run, tmp_path, unpack_args, check=True)
    assert res.rc == 0, res.output
    assert rec["result"]["status"] == "would_unpack" and rec["result"]["signature"]["verified"]
    assert not (tmp_path / "layout").exists()
    res, rec = run_bundle(ansible_run, tmp_path, unpack_args)
    assert res.rc == 0, res.output
    assert rec["result"]["status"] == "unpacked" and rec["result"]["signature"]["fingerprint"] == alice.fingerprint
    unpacked = mirrormap_io.load(str(tmp_path / "layout-map.yml"))
    assert {str(e.source): e.verified for e in unpacked} == {
        ref: Verified("gpg", (alice.fingerprint,)) for ref in connected["images"]}
    # without verify_keys the result only says that a signature is there
    res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(bundle), "name": NAME})
    assert res.rc == 0 and rec["result"]["signature"]["present"] and not rec["result"]["signature"]["verified"]

    # the role on the air-gapped side: verify, unpack, push
    dest = registry_factory()
    res = ansible_run.playbook("airgap.mirror.disk_to_mirror",
                               extra_vars=airgapped_vars(connected, tmp_path, bundle, dest, ["alice"]))
    assert res.rc == 0, res.output
    for ref, image in connected["images"].items():
        repo = ref.split("/", 1)[1].split(":")[0]
        assert skopeo.digest_of("docker://%s/%s:1.0" % (dest.host, repo), registry=dest) == image.digest


def _unsigned(bundle, connected):
    os.unlink(bundle / SIG)


def _changed_part(bundle, connected):
    part = sorted(p for p in os.listdir(bundle) if ".tar." in p)[1]
    data = bytearray((bundle / part).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / part).write_bytes(bytes(data))


def _forged_manifest(bundle, connected):
    """A part changed and the manifest (and the sums file) re-checksummed to match."""
    part = sorted(p for p in os.listdir(bundle) if ".tar." in p)[1]
    data = bytearray((bundle / part).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / part).write_bytes(bytes(data))
    digest = hashlib.sha256(bytes(data)).hexdigest()
    doc = json.loads((bundle / MANIFEST).read_text())
    for entry in doc["parts"]:
        if entry["name"] == part:
            entry["sha256"] = digest
    (bundle / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n")
    (bundle / (NAME + ".sha256")).write_text("".join("%s  %s\n" % (p["sha256"], p["name"]) for p in doc["parts"]))


def _other_key(bundle, connected):
    """Signed again, by mallory's own gpg: a well-formed signature by a key the site does not trust."""
    mallory = connected["mallory"]
    os.unlink(bundle / SIG)
    gpg(mallory.home, "--armor", "--detach-sign", "--output", str(bundle / SIG), str(bundle / MANIFEST))
    mallory.stop_agent()


@pytest.mark.parametrize("tamper, reason", [
    (_unsigned, "unsigned"),
    (_changed_part, "its parts do not match its signed manifest"),
    (_forged_manifest, "bad signature"),
    (_other_key, "untrusted key"),
], ids=["unsigned", "changed-part", "forged-manifest", "other-key"])
def test_refused_before_anything_is_written(connected, media, tmp_path, ansible_run, registry_factory,
                                            tamper, reason):
    bundle = copy_media(media, tmp_path)
    tamper(bundle, connected)
    dest = registry_factory()
    map_text = mirrormap_io.dumps(MirrorMap())
    (tmp_path / "mirror-map.yml").write_text(map_text)
    (tmp_path / "layout-map.yml").write_text(map_text)

    # the module, check mode and real run, verify and unpack
    for action, check in (("verify", False), ("unpack", True), ("unpack", False)):
        args = {"action": action, "bundle": str(bundle), "name": NAME, "verify_keys": [
            str(connected["base"] / "alice.pub")]}
        if action == "unpack":
            args.update(layout=str(tmp_path / "layout"), mirror_map=str(tmp_path / "layout-map.yml"))
        res, rec = run_bundle(ansible_run, tmp_path, args, check=check)
        assert res.rc != 0 and rec["failed"], res.output
        message = rec["result"]["msg"]
        if action == "verify" and tamper is _changed_part:  # verify reports the damaged part, as without keys
            assert message.startswith("the bundle %s in %s is not intact:" % (NAME, bundle)), message
            continue
        assert message.startswith("the bundle %s in %s is refused: %s" % (NAME, bundle, reason)), message
    # the role: refused at its first step, nothing pushed
    res = ansible_run.playbook("airgap.mirror.disk_to_mirror",
                               extra_vars=airgapped_vars(connected, tmp_path, bundle, dest, ["alice"]))
    assert res.rc != 0, res.output
    assert [r["task"] for r in res.failed] == ["airgap.mirror.mirror_images : Verify the bundle parts"], res.output
    assert ("is not intact" if tamper is _changed_part else "is refused: %s" % reason) in \
        res.failed[0]["result"]["msg"]

    assert not (tmp_path / "layout").exists() and not (tmp_path / "airgapped").exists()
    assert (tmp_path / "mirror-map.yml").read_text() == map_text
    assert (tmp_path / "layout-map.yml").read_text() == map_text
    assert catalog(dest) == []
    # without verify_keys, only the checksums speak: the forged bundle's checksums agree
    if tamper is _forged_manifest:
        res, rec = run_bundle(ansible_run, tmp_path, {"action": "verify", "bundle": str(bundle), "name": NAME})
        assert res.rc == 0 and rec["result"]["valid"], res.output
