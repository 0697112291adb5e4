"""verify_image with GPG simple signatures made by an independent client (skopeo standalone-sign)
in a file:// lookaside store, read through default_fetch."""

import hashlib
import json
import os
import subprocess

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._trust.policy import load_policy
from ansible_collections.airgap.mirror.plugins.module_utils._trust.registriesd import load_registries_d
from ansible_collections.airgap.mirror.plugins.module_utils._trust.verify import (
    SignatureFetchError, default_fetch, lookaside_urls, verify_image)
from ansible_collections.airgap.mirror.plugins.module_utils._oci.reference import parse


def manifest(tmp_path, name):
    body = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                       "digest": "sha256:" + hashlib.sha256(name.encode()).hexdigest()},
            "layers": []}
    data = json.dumps(body).encode()
    path = tmp_path / ("manifest-%s.json" % name)
    path.write_bytes(data)
    return path, "sha256:" + hashlib.sha256(data).hexdigest()


def skopeo_sign(key, manifest_path, docker_reference, out):
    subprocess.run(["skopeo", "standalone-sign", str(manifest_path), docker_reference, key.fingerprint,
                    "-o", str(out)], env=key.env(), check=True, capture_output=True, timeout=120)
    key.stop_agent()
    return out.read_bytes()


class Bed:
    """A lookaside directory, a registries.d pointing at it, and a policy per test."""

    def __init__(self, tmp_path, gpg_keys):
        self.tmp = tmp_path
        self.keys = gpg_keys
        self.store = tmp_path / "sigstore"
        self.store.mkdir()
        rd = tmp_path / "registries.d"
        rd.mkdir()
        (rd / "default.yaml").write_text("default-docker:\n  lookaside: file://%s\n" % self.store)
        self.registries_d = load_registries_d(str(rd))
        for name, key in gpg_keys.items():
            (tmp_path / ("%s.asc" % name)).write_bytes(key.public)
        self.fetched = []

    def policy(self, requirements, scope="quay.io/org"):
        path = self.tmp / "policy.json"
        path.write_text(json.dumps({"default": [{"type": "reject"}],
                                    "transports": {"docker": {scope: requirements}}}))
        return load_policy(str(path))

    def signed_by(self, key="alice", **extra):
        return [dict({"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(self.tmp / ("%s.asc" % key))},
                     **extra)]

    def store_signature(self, source_ref, digest, data):
        url = lookaside_urls("file://%s" % self.store, parse(source_ref), digest)
        n = 1
        while True:
            path = url(n)[len("file://"):]
            if not os.path.exists(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(data)
                return path
            n += 1

    def sign(self, key, manifest_path, signed_ref, store_ref, digest):
        out = self.tmp / ("sig-%d" % len(list(self.tmp.glob("sig-*"))))
        data = skopeo_sign(self.keys[key], manifest_path, signed_ref, out)
        self.store_signature(store_ref, digest, data)
        return data

    def fetch(self, url):
        self.fetched.append(url)
        return default_fetch(url)

    def verify(self, policy, source_ref, digest):
        def no_sigstore():
            raise AssertionError("sigstore signatures read for a GPG-only policy")
        return verify_image(policy, self.registries_d, source_ref, digest, no_sigstore, self.fetch)


@pytest.fixture
def bed(tmp_path, gpg_keys):
    return Bed(tmp_path, gpg_keys)


REF = "quay.io/org/app:1.0"


def test_signed_and_accepted_and_skopeo_agrees(bed, tmp_path):
    path, digest = manifest(tmp_path, "a")
    data = bed.sign("alice", path, REF, REF, digest)
    verdict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert (verdict.accepted, verdict.reason, verdict.kind) == (True, "", "gpg")
    assert verdict.keys == (bed.keys["alice"].fingerprint,)
    assert verdict.gpg_signatures == (data,)
    _algorithm, hexpart = digest.split(":")
    assert bed.fetched == ["file://%s/org/app@sha256=%s/signature-%d" % (bed.store, hexpart, n) for n in (1, 2)]
    sig = next(bed.store.rglob("signature-1"))
    agreed = subprocess.run(["skopeo", "standalone-verify", str(path), REF, bed.keys["alice"].fingerprint,
                             str(sig)], env=bed.keys["alice"].env(), capture_output=True, text=True, timeout=120, check=False)
    bed.keys["alice"].stop_agent()
    assert agreed.returncode == 0 and digest in agreed.stdout


def test_by_digest_source_accepts_a_signature_for_a_tag_of_the_repository(bed, tmp_path):
    path, digest = manifest(tmp_path, "b")
    bed.sign("alice", path, "quay.io/org/app:latest", "quay.io/org/app", digest)
    verdict = bed.verify(bed.policy(bed.signed_by()), "quay.io/org/app@" + digest, digest)
    assert verdict.accepted


def test_unsigned(bed, tmp_path):
    _path, digest = manifest(tmp_path, "c")
    verdict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert not verdict.accepted and verdict.kind == "gpg"
    assert verdict.reason.startswith("unsigned: no GPG signature at file://%s/org/app@sha256=" % bed.store)
    assert verdict.keys == () and verdict.gpg_signatures == ()


def test_untrusted_key(bed, tmp_path):
    path, digest = manifest(tmp_path, "d")
    bed.sign("mallory", path, REF, REF, digest)
    verdict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert not verdict.accepted and verdict.reason.startswith("untrusted key: ")
    assert "BEGIN PGP" not in verdict.reason


def test_payload_for_another_digest(bed, tmp_path):
    other_path, _other = manifest(tmp_path, "other")
    _path, digest = manifest(tmp_path, "e")
    bed.sign("alice", other_path, REF, REF, digest)   # a valid signature of another manifest, stored here
    verdict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert not verdict.accepted and verdict.reason.startswith("payload for another digest: ")


def test_match_repository_vs_match_repo_digest_or_exact(bed, tmp_path):
    path, digest = manifest(tmp_path, "f")
    bed.sign("alice", path, "quay.io/org/app:2.0", "quay.io/org/app", digest)
    strict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert not strict.accepted
    assert strict.reason == ("identity mismatch: signed for quay.io/org/app:2.0, "
                             "matchRepoDigestOrExact does not accept it for " + REF)
    loose = bed.verify(bed.policy(bed.signed_by(signedIdentity={"type": "matchRepository"})), REF, digest)
    assert loose.accepted and loose.keys == (bed.keys["alice"].fingerprint,)


def test_remap_identity(bed, tmp_path):
    path, digest = manifest(tmp_path, "g")
    source = "mirror.example.com:5000/rh/app:1.0"
    bed.sign("alice", path, "quay.io/org/app:1.0", source, digest)
    remap = {"type": "remapIdentity", "prefix": "mirror.example.com:5000/rh", "signedPrefix": "quay.io/org"}
    policy = bed.policy(bed.signed_by(signedIdentity=remap), scope="mirror.example.com:5000")
    assert bed.verify(policy, source, digest).accepted
    plain = bed.policy(bed.signed_by(), scope="mirror.example.com:5000")
    assert bed.verify(plain, source, digest).reason.startswith("identity mismatch")


def test_corrupt_signature(bed, tmp_path):
    path, digest = manifest(tmp_path, "h")
    out = tmp_path / "good.sig"
    data = skopeo_sign(bed.keys["alice"], path, REF, out)
    middle = len(data) // 2
    bed.store_signature(REF, digest, data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    verdict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert not verdict.accepted and verdict.reason.startswith("malformed signature: ")


def test_one_good_signature_among_others_is_enough_and_only_it_is_carried(bed, tmp_path):
    path, digest = manifest(tmp_path, "i")
    bed.sign("mallory", path, REF, REF, digest)
    good = bed.sign("alice", path, REF, REF, digest)
    verdict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert verdict.accepted and verdict.gpg_signatures == (good,)
    assert len(bed.fetched) == 3


def test_closest_reason_reported_among_several(bed, tmp_path):
    path, digest = manifest(tmp_path, "j")
    bed.sign("mallory", path, REF, REF, digest)
    bed.sign("alice", path, "quay.io/org/app:9", REF, digest)
    verdict = bed.verify(bed.policy(bed.signed_by()), REF, digest)
    assert verdict.reason.startswith("identity mismatch: ")
    assert verdict.reason.endswith("(none of 2 signatures accepted)")


def test_reject_and_insecure_accept_anything(bed, tmp_path):
    _path, digest = manifest(tmp_path, "k")
    rejected = bed.verify(bed.policy([{"type": "insecureAcceptAnything"}], scope="quay.io/other"), REF, digest)
    assert not rejected.accepted and rejected.kind == "none"
    assert rejected.reason == "rejected by policy: default, requirement 1 (reject)"
    anything = bed.verify(bed.policy([{"type": "insecureAcceptAnything"}]), REF, digest)
    assert (anything.accepted, anything.kind, anything.keys, anything.reason) == (True, "none", (), "")
    assert anything.verified() is None
    assert bed.fetched == []


def test_every_requirement_must_accept(bed, tmp_path):
    path, digest = manifest(tmp_path, "l")
    bed.sign("alice", path, REF, REF, digest)
    both = bed.verify(bed.policy(bed.signed_by() + [{"type": "reject"}]), REF, digest)
    assert not both.accepted and both.reason.startswith("rejected by policy: ")
    two_keys = bed.verify(bed.policy(bed.signed_by() + bed.signed_by("mallory")), REF, digest)
    assert not two_keys.accepted and two_keys.reason.startswith("untrusted key")
    assert len(bed.fetched) == 4  # signatures read once per image, not per requirement


def test_default_fetch(tmp_path):
    assert default_fetch("file://%s/absent" % tmp_path) is None
    (tmp_path / "sig").write_bytes(b"x")
    assert default_fetch("file://%s/sig" % tmp_path) == b"x"
    with pytest.raises(SignatureFetchError, match="only file://"):
        default_fetch("ftp://example.com/sig")
    with pytest.raises(SignatureFetchError, match="127.0.0.1:9"):
        default_fetch("http://127.0.0.1:9/sig")


def test_builtin_lookaside_when_registries_d_sets_none(tmp_path, gpg_keys, monkeypatch):
    from ansible_collections.airgap.mirror.plugins.module_utils._trust import verify as V
    from ansible_collections.airgap.mirror.plugins.module_utils._trust.registriesd import RegistriesD
    monkeypatch.setenv("HOME", str(tmp_path))
    expected = "file:///var/lib/containers/sigstore" if os.geteuid() == 0 else \
        "file://%s/.local/share/containers/sigstore" % tmp_path
    assert V.builtin_lookaside() == expected
    bed = Bed(tmp_path, gpg_keys)
    _path, digest = manifest(tmp_path, "m")
    asked = []
    verdict = verify_image(bed.policy(bed.signed_by()), RegistriesD(), REF, digest, list,
                           asked.append)
    assert asked == [expected + "/org/app@sha256=%s/signature-1" % digest[7:]]
    assert verdict.reason == "unsigned: no GPG signature at " + asked[0]


def test_a_bare_source_reference_is_judged_as_latest(bed, tmp_path):
    path, digest = manifest(tmp_path, "n")
    bed.sign("alice", path, "quay.io/org/app:latest", "quay.io/org/app", digest)
    assert bed.verify(bed.policy(bed.signed_by()), "quay.io/org/app", digest).accepted
