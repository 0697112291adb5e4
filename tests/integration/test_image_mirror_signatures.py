"""``signature_policy``: images are verified against a containers-policy.json before anything of
them is written. Real registries; GPG simple signatures made by the independent client
(``skopeo standalone-sign`` with a throwaway key) in a ``file://`` lookaside store; skopeo with the
same policy as the judge of what the air-gapped side serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.signatures import Trust
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import Verified
from ansible_collections.airgap.mirror.plugins.module_utils._trust.policy import load_policy
from ansible_collections.airgap.mirror.plugins.module_utils._trust.registriesd import load_registries_d
from ansible_collections.airgap.mirror.plugins.module_utils._trust.verify import default_fetch

from support import cosign, gpg
from support import images as I

pytestmark = pytest.mark.integration


def _manifest_bytes(image: I.Image) -> bytes:
    return image.layout.blob_path(image.digest).read_bytes()


def _sign(skopeo, key, manifest: bytes, identity: str, out: Path) -> None:
    """A simple signature of *manifest* claiming *identity*, by skopeo (the independent client)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / ("manifest-%s.json" % out.name)
    path.write_bytes(manifest)
    skopeo.run(["standalone-sign", str(path), identity, key.fingerprint, "--output", str(out)],
               env={"GNUPGHOME": str(key.home)})
    path.unlink()


def _lookaside_path(store: Path, repository: str, digest: str, n: int = 1) -> Path:
    algorithm, hexdigest = digest.split(":", 1)
    return store / ("%s@%s=%s" % (repository, algorithm, hexdigest)) / ("signature-%d" % n)


def _trust(tmp_path: Path, scope: str, key_files: list[Path], lookaside: Path | None = None,
           lookaside_dir: Path | None = None) -> Trust:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "default": [{"type": "reject"}],
        "transports": {"docker": {scope: [{"type": "signedBy", "keyType": "GPGKeys",
                                           "keyPaths": [str(k) for k in key_files]}]}},
    }))
    regd = tmp_path / "registries.d"
    regd.mkdir(exist_ok=True)
    if lookaside is not None:
        (regd / "source.yaml").write_text(json.dumps({"docker": {scope: {"lookaside": lookaside.as_uri()}}}))
    return Trust(load_policy(str(policy)), load_registries_d(str(regd)), default_fetch,
                 str(lookaside_dir) if lookaside_dir else None)


def _catalog(registry) -> list[str]:
    status, _headers, body = registry.get("/v2/_catalog")
    assert status == 200
    return sorted(json.loads(body)["repositories"])


@pytest.fixture
def signed_source(tmp_path, registry_factory, skopeo):
    """A source registry with four repositories: org/good (signed by the trusted key), org/unsigned,
    org/other (signed by another key) and org/swapped (a trusted signature of org/good's manifest
    stored as org/swapped's), and the lookaside store holding the signatures."""
    src = registry_factory()
    trusted, other = gpg.make_key(tmp_path / "k1", "trusted"), gpg.make_key(tmp_path / "k2", "other")
    layout = I.OCILayout(tmp_path / "oci")
    store = tmp_path / "lookaside"
    made = {}
    for name in ("good", "unsigned", "other", "swapped"):
        image = I.build_image(layout, None, layers=[{"f": name}])
        I.push_http(image, src, "org/" + name, "1.0")
        made[name] = image
    good = made["good"]
    _sign(skopeo, trusted, _manifest_bytes(good), "%s/org/good:1.0" % src.host,
          _lookaside_path(store, "org/good", good.digest))
    _sign(skopeo, other, _manifest_bytes(made["other"]), "%s/org/other:1.0" % src.host,
          _lookaside_path(store, "org/other", made["other"].digest))
    _sign(skopeo, trusted, _manifest_bytes(good), "%s/org/swapped:1.0" % src.host,
          _lookaside_path(store, "org/swapped", made["swapped"].digest))
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "trusted.asc").write_bytes(trusted.public)
    (keys / "other.asc").write_bytes(other.public)
    try:
        yield src, made, store, keys, trusted, other
    finally:  # skopeo standalone-sign started a gpg-agent in each key's home
        trusted.stop_agent()
        other.stop_agent()


def test_only_images_the_policy_accepts_are_written(tmp_path, registry_factory, signed_source):
    src, made, store, keys, trusted, _other = signed_source
    dest = registry_factory()
    trust = _trust(tmp_path, "%s/org" % src.host, [keys / "trusted.asc"], lookaside=store)
    refs = ["%s/org/%s:1.0" % (src.host, name) for name in made]
    mark = src.mark()
    report = mirror(MirrorRequest(refs, dest.host, trust=trust),
                    pool=ClientPool(insecure_registries=[src.host, dest.host]))
    # the source's tag lists name no carried signatures: nobody asks for one
    assert not [r.path for r in src.since(mark) if ".gpgsig" in r.path]

    by_name = {i["source"].split("/")[-1].split(":")[0]: i for i in report["images"]}
    assert by_name["good"]["status"] == "copied"
    assert by_name["good"]["verified"] == {"kind": "gpg", "keys": [trusted.fingerprint]}
    reasons = {name: by_name[name].get("error", "") for name in ("unsigned", "other", "swapped")}
    assert "unsigned" in reasons["unsigned"], reasons
    assert "untrusted key" in reasons["other"], reasons
    assert "payload for another digest" in reasons["swapped"], reasons
    assert {by_name[n]["error_type"] for n in reasons} == {"VerificationFailed"}
    assert report["totals"]["verified"] == 1 and report["totals"]["failed"] == 3

    # nothing of a refused image reached the mirror: not a blob (a blob upload makes the repository)
    assert _catalog(dest) == ["org/good"]
    digest = made["good"].digest
    tags = json.loads(dest.get("/v2/org/good/tags/list")[2])["tags"]
    assert sorted(tags) == ["1.0", digest.replace(":", "-") + ".gpgsig"]
    entries = list(report["map"])
    assert [str(e.source).rsplit("/", maxsplit=1)[-1] for e in entries] == ["good:1.0"]
    assert entries[0].verified.to_dict() == {"kind": "gpg", "keys": [trusted.fingerprint]}

    # a re-run verifies again and writes nothing
    again = mirror(MirrorRequest(refs[:1], dest.host, trust=trust),
                   pool=ClientPool(insecure_registries=[src.host, dest.host]))
    assert [i["status"] for i in again["images"]] == ["present"] and not again["changed"]
    assert again["images"][0]["verified"]["keys"] == [trusted.fingerprint]


def test_signatures_cross_in_the_layout_and_are_verified_again(tmp_path, registry_factory, signed_source, skopeo):
    """Connected side: registry -> layout, verified. Air-gapped side: layout -> mirror, verified again
    from the carried signatures alone (no lookaside configured there), written to a lookaside
    directory; skopeo with the same policy then pulls through the mirror and accepts the image."""
    src, made, store, keys, trusted, other = signed_source
    connected = tmp_path / "connected"
    connected.mkdir()
    trust = _trust(connected, "%s/org" % src.host, [keys / "trusted.asc"], lookaside=store)
    ref = "%s/org/good:1.0" % src.host
    layout = tmp_path / "disk"
    to_disk = mirror(MirrorRequest([ref], "oci:%s" % layout, trust=trust),
                     pool=ClientPool(insecure_registries=[src.host]))
    assert [i["status"] for i in to_disk["images"]] == ["copied"]
    digest = made["good"].digest
    names = [m["annotations"]["org.opencontainers.image.ref.name"]
             for m in json.loads((layout / "index.json").read_text())["manifests"]]
    assert sorted(names) == sorted([ref, "%s/org/good:%s.gpgsig" % (src.host, digest.replace(":", "-"))])

    mirror_reg = registry_factory()
    gapped = tmp_path / "gapped"
    gapped.mkdir()
    out = tmp_path / "served-lookaside"
    # the air-gapped side trusts only the other key: refused, nothing pushed
    refused = mirror(MirrorRequest(["all"], mirror_reg.host, src="oci:%s" % layout,
                                   trust=_trust(gapped, "%s/org" % src.host, [keys / "other.asc"], lookaside_dir=out)),
                     pool=ClientPool(insecure_registries=[mirror_reg.host]))
    assert [i["status"] for i in refused["images"]] == ["failed"]
    assert "untrusted key" in refused["images"][0]["error"]
    assert _catalog(mirror_reg) == [] and not out.exists()

    pushed = mirror(MirrorRequest(["all"], mirror_reg.host, src="oci:%s" % layout,
                                  trust=_trust(gapped, "%s/org" % src.host, [keys / "trusted.asc"], lookaside_dir=out)),
                    pool=ClientPool(insecure_registries=[mirror_reg.host]))
    assert [i["status"] for i in pushed["images"]] == ["copied"]
    assert pushed["images"][0]["verified"] == {"kind": "gpg", "keys": [trusted.fingerprint]}
    assert pushed["totals"]["lookaside_files_written"] == 1
    written = _lookaside_path(out, "org/good", digest)
    assert written.read_bytes() == _lookaside_path(store, "org/good", digest).read_bytes()

    # the judge: containers/image, with the policy, the written lookaside and the mirror configured
    # as a registries.conf mirror of the source, which is gone. The policy applies to the source's
    # name, the lookaside is looked up (and its path built) with the mirror's
    src.stop()
    judge = tmp_path / "judge"
    (judge / "registries.d").mkdir(parents=True)
    (judge / "policy.json").write_text(json.dumps({
        "default": [{"type": "reject"}],
        "transports": {"docker": {"%s/org" % src.host: [
            {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(keys / "trusted.asc")}]}}}))
    (judge / "registries.conf").write_text(
        '[[registry]]\nprefix = "%s"\nlocation = "%s"\n[[registry.mirror]]\nlocation = "%s"\ninsecure = true\n'
        % (src.host, src.host, mirror_reg.host))
    pulled = tmp_path / "pulled"
    (judge / "registries.d" / "mirror.yaml").write_text(
        json.dumps({"docker": {"%s/org" % src.host: {"lookaside": out.as_uri()}}}))
    by_source = skopeo.run(["--policy", str(judge / "policy.json"), "--registries.d", str(judge / "registries.d"),
                            "copy", "docker://%s/org/good@%s" % (src.host, digest), "dir:%s" % pulled],
                           registries_conf=judge / "registries.conf", check=False)
    assert by_source.returncode != 0 and "no signature exists" in by_source.stderr, by_source.stderr
    (judge / "registries.d" / "mirror.yaml").write_text(
        json.dumps({"docker": {"%s/org" % mirror_reg.host: {"lookaside": out.as_uri()}}}))
    skopeo.run(["--policy", str(judge / "policy.json"), "--registries.d", str(judge / "registries.d"),
                "copy", "--src-tls-verify=false", "docker://%s/org/good@%s" % (src.host, digest), "dir:%s" % pulled],
               registries_conf=judge / "registries.conf")
    assert (pulled / "manifest.json").read_bytes() == _manifest_bytes(made["good"])
    # and refuses it when the policy trusts the other key (its own error text)
    (judge / "policy.json").write_text(json.dumps({
        "default": [{"type": "reject"}],
        "transports": {"docker": {"%s/org" % src.host: [
            {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(keys / "other.asc")}]}}}))
    failed = skopeo.run(["--policy", str(judge / "policy.json"), "--registries.d", str(judge / "registries.d"),
                         "copy", "--src-tls-verify=false", "docker://%s/org/good@%s" % (src.host, digest),
                         "dir:%s" % (tmp_path / "refused")],
                        registries_conf=judge / "registries.conf", check=False)
    assert failed.returncode != 0 and "Source image rejected" in failed.stderr, failed.stderr


def _sigstore_trust(tmp_path: Path, scope: str, key_file: Path) -> Trust:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "default": [{"type": "reject"}],
        "transports": {"docker": {scope: [{"type": "sigstoreSigned", "keyPath": str(key_file),
                                           "signedIdentity": {"type": "matchRepository"}}]}},
    }))
    regd = tmp_path / "registries.d"
    regd.mkdir(exist_ok=True)
    (regd / "sigstore.yaml").write_text(json.dumps({"docker": {scope: {"use-sigstore-attachments": True}}}))
    return Trust(load_policy(str(policy)), load_registries_d(str(regd)), default_fetch)


def test_cosign_signatures_are_verified_on_both_sides_and_a_tampered_one_is_refused(tmp_path, registry_factory):
    """A multi-platform index signed (index and per-platform manifests) in cosign's format; a second
    image whose signature's payload was altered after signing. Registry -> layout -> mirror, with the
    same sigstoreSigned policy (matchRepository, as cosign signs the repository only) on both sides."""
    src = registry_factory()
    key, other = cosign.make_key(), cosign.make_key()
    (tmp_path / "cosign.pub").write_bytes(key.public_pem)
    layout = I.OCILayout(tmp_path / "oci")
    members = [I.build_image(layout, None, layers=[{"f": arch}], platform="linux/" + arch) for arch in ("amd64", "arm64")]
    index = I.build_index(layout, None, members)
    I.push_http(index, src, "org/multi", "1.0")
    for image in [index] + members:
        payload = cosign.make_payload("%s/org/multi" % src.host, image.digest)
        cosign.push_signatures(src, "org/multi", image.digest, [(payload, key.sign(payload))])
    tampered = I.build_image(layout, None, layers=[{"f": "tampered"}])
    I.push_http(tampered, src, "org/tampered", "1.0")
    payload = cosign.make_payload("%s/org/tampered" % src.host, tampered.digest)
    signature = key.sign(payload)
    cosign.push_signatures(src, "org/tampered", tampered.digest, [(payload.replace(b"}", b" }", 1), signature)])
    foreign = I.build_image(layout, None, layers=[{"f": "foreign"}])
    I.push_http(foreign, src, "org/foreign", "1.0")
    payload = cosign.make_payload("%s/org/foreign" % src.host, foreign.digest)
    cosign.push_signatures(src, "org/foreign", foreign.digest, [(payload, other.sign(payload))])

    (tmp_path / "connected").mkdir()
    trust = _sigstore_trust(tmp_path / "connected", "%s/org" % src.host, tmp_path / "cosign.pub")
    disk = tmp_path / "disk"
    refs = ["%s/org/%s:1.0" % (src.host, name) for name in ("multi", "tampered", "foreign")]
    report = mirror(MirrorRequest(refs, "oci:%s" % disk, trust=trust), pool=ClientPool(insecure_registries=[src.host]))
    by_name = {i["source"].split("/")[-1]: i for i in report["images"]}
    assert by_name["multi:1.0"]["status"] == "copied"
    assert by_name["multi:1.0"]["verified"] == {"kind": "sigstore", "keys": [key.fingerprint]}
    assert "malformed signature" in by_name["tampered:1.0"]["error"] or \
        "untrusted key" in by_name["tampered:1.0"]["error"], by_name["tampered:1.0"]
    assert "untrusted key" in by_name["foreign:1.0"]["error"], by_name["foreign:1.0"]
    # the index's signature and its platforms' travel as attachments; nothing of the refused images
    names = sorted(m["annotations"]["org.opencontainers.image.ref.name"].split("/")[-1]
                   for m in json.loads((disk / "index.json").read_text())["manifests"])
    assert names == sorted(["multi:1.0"] + ["multi:%s" % cosign.signature_tag(i.digest) for i in [index] + members])

    mirror_reg = registry_factory()
    (tmp_path / "gapped").mkdir()
    pushed = mirror(MirrorRequest(["all"], mirror_reg.host, src="oci:%s" % disk,
                                  trust=_sigstore_trust(tmp_path / "gapped", "%s/org" % src.host, tmp_path / "cosign.pub")),
                    pool=ClientPool(insecure_registries=[mirror_reg.host]))
    assert [(i["status"], i["verified"]["kind"]) for i in pushed["images"]] == [("copied", "sigstore")]
    assert cosign.read_signatures(mirror_reg, "org/multi", index.digest) == \
        cosign.read_signatures(src, "org/multi", index.digest)
    assert _catalog(mirror_reg) == ["org/multi"]


PLAY = """
- name: Signature policy through the module
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Plan
      airgap.mirror.image_mirror:
        images: "{{ refs }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
        signature_policy: "{{ policy }}"
        registries_d: "{{ regd }}"
      check_mode: true
      ignore_errors: true
      tags: [plan]

    - name: Mirror
      airgap.mirror.image_mirror:
        images: "{{ refs }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
        signature_policy: "{{ policy }}"
        registries_d: "{{ regd }}"
        mirror_map: "{{ map }}"
      ignore_errors: true
      tags: [run]

    - name: A requirement the collection cannot check
      airgap.mirror.image_mirror:
        images: "{{ refs }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
        signature_policy: "{{ fulcio }}"
      ignore_errors: true
      tags: [run]

    - name: A lookaside directory without a policy
      airgap.mirror.image_mirror:
        images: "{{ refs }}"
        dest: "{{ dest }}"
        lookaside_dir: /tmp/never-written
      ignore_errors: true
      tags: [run]
"""


def test_the_module_names_each_refused_image_with_its_reason(tmp_path, registry_factory, signed_source, ansible_run):
    src, made, store, keys, trusted, _other = signed_source
    dest = registry_factory()
    trust_dir = tmp_path / "trust"
    trust_dir.mkdir()
    _trust(trust_dir, "%s/org" % src.host, [keys / "trusted.asc"], lookaside=store)
    fulcio = tmp_path / "fulcio.json"
    fulcio.write_text(json.dumps({"default": [{"type": "sigstoreSigned", "fulcio": {
        "caPath": "/etc/fulcio.pem", "oidcIssuer": "https://oauth2.sigstore.dev/auth", "subjectEmail": "a@b"},
        "rekorPublicKeyPath": "/etc/rekor.pub"}]}))
    refs = ["%s/org/%s:1.0" % (src.host, name) for name in made]
    extra_vars = {
        "refs": refs, "dest": dest.host, "insecure": [src.host, dest.host], "policy": str(trust_dir / "policy.json"),
        "regd": str(trust_dir / "registries.d"), "map": str(tmp_path / "map.yml"), "fulcio": str(fulcio)}
    res = ansible_run.playbook(PLAY, extra_vars=extra_vars, tags=["plan"])
    assert res.rc == 0, res.output
    record = res.one("Plan")  # check mode verifies too, and writes nothing
    plan = record["result"]
    assert record["failed"] and [i["status"] for i in plan["images"]] == ["would_copy", "failed", "failed", "failed"]
    assert _catalog(dest) == [] and not (tmp_path / "map.yml").exists()

    res = ansible_run.playbook(PLAY, extra_vars=extra_vars, tags=["run"])
    assert res.rc == 0, res.output
    record = res.one("Mirror")
    done = record["result"]
    assert record["failed"]
    lines = done["msg"].splitlines()
    for name, reason in (("unsigned", "unsigned"), ("other", "untrusted key"), ("swapped", "payload for another digest")):
        assert any("/org/%s:1.0" % name in line and reason in line for line in lines), (name, done["msg"])
    assert not any("/org/good:1.0" in line for line in lines), done["msg"]
    assert _catalog(dest) == ["org/good"]
    written = (tmp_path / "map.yml").read_text()
    assert "verified:" in written and trusted.fingerprint in written and "/org/unsigned" not in written

    record = res.one("A requirement the collection cannot check")
    refused = record["result"]
    assert record["failed"] and "fulcio" in refused["msg"] and str(fulcio) in refused["msg"], refused["msg"]
    assert "images" not in refused, "refused before anything was resolved"
    record = res.one("A lookaside directory without a policy")
    orphan = record["result"]
    assert record["failed"] and orphan["msg"].startswith("lookaside_dir needs signature_policy"), orphan["msg"]
    assert max(trusted.secret.decode().splitlines(), key=len) not in res.stdout + res.stderr


def _bundle(ansible_run, args: dict) -> dict:
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "Bundle", "airgap.mirror.transfer_bundle": args}]}]
    res = ansible_run.playbook(yaml.safe_dump(play) + "\n")
    assert res.rc == 0, res.output
    return res.one("Bundle")["result"]


def test_verified_images_cross_in_a_signed_bundle_and_are_verified_again(
        tmp_path, registry_factory, signed_source, ansible_run):
    """The whole boundary: verified to disk, packed and signed, the bundle's signature checked,
    unpacked, the images verified again from what the bundle carried and pushed, the lookaside
    written for the hosts; the mirror map records who signed, on both sides."""
    src, made, store, keys, trusted, _other = signed_source
    (tmp_path / "connected").mkdir()
    trust = _trust(tmp_path / "connected", "%s/org" % src.host, [keys / "trusted.asc"], lookaside=store)
    layout, map_file = tmp_path / "images", tmp_path / "map.yml"
    digest_tag = made["good"].digest.replace(":", "-")
    report = mirror(MirrorRequest(["%s/org/good:1.0" % src.host, "%s/org/unsigned:1.0" % src.host],
                                  "oci:%s" % layout, trust=trust), pool=ClientPool(insecure_registries=[src.host]))
    assert [i["status"] for i in report["images"]] == ["copied", "failed"]
    mirrormap_io.write(str(map_file), report["map"])
    secret = tmp_path / "signing.key"
    secret.write_bytes(trusted.secret)
    secret.chmod(0o600)
    packed = _bundle(ansible_run, {"action": "pack", "layout": str(layout), "mirror_map": str(map_file),
                                   "bundle": str(tmp_path / "media"), "name": "b", "signing_key": str(secret)})
    assert packed["signature"]["fingerprint"] == trusted.fingerprint
    doc = json.loads((tmp_path / "media" / "b.bundle.json").read_text())
    # the image records who signed it; its carried signatures travel as an image of the bundle
    assert [(i["ref_name"].rsplit(":", 1)[1], i.get("verified")) for i in doc["images"]] == [
        ("1.0", {"kind": "gpg", "keys": [trusted.fingerprint]}), (digest_tag + ".gpgsig", None)]

    unpacked = _bundle(ansible_run, {"action": "unpack", "bundle": str(tmp_path / "media"), "name": "b",
                                     "layout": str(tmp_path / "gapped"), "mirror_map": str(tmp_path / "gapped.yml"),
                                     "verify_keys": [str(keys / "trusted.asc")]})
    assert unpacked["signature"]["verified"]
    gapped_map = {str(e.source): e.verified for e in mirrormap_io.load(str(tmp_path / "gapped.yml"))}
    assert gapped_map["%s/org/good:1.0" % src.host] == Verified("gpg", (trusted.fingerprint,))
    mirror_reg = registry_factory()
    (tmp_path / "airgapped").mkdir()
    out = tmp_path / "lookaside-out"
    pushed = mirror(MirrorRequest(["all"], mirror_reg.host, src="oci:%s" % (tmp_path / "gapped"),
                                  trust=_trust(tmp_path / "airgapped", "%s/org" % src.host, [keys / "trusted.asc"],
                                               lookaside_dir=out)),
                    pool=ClientPool(insecure_registries=[mirror_reg.host]))
    assert [(i["status"], i["verified"]["keys"]) for i in pushed["images"]] == [("copied", [trusted.fingerprint])]
    digest = made["good"].digest
    assert _lookaside_path(out, "org/good", digest).read_bytes() == _lookaside_path(store, "org/good", digest).read_bytes()
    assert _catalog(mirror_reg) == ["org/good"]
