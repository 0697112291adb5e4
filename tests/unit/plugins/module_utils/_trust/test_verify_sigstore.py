"""verify_image with cosign signatures in cosign's own format (support.cosign), as the engine hands
them over: the payload layers and their signature annotations of the sha256-<hex>.sig manifest."""

import base64
import hashlib
import json

import pytest

from support import cosign

from ansible_collections.airgap.mirror.plugins.module_utils._trust.policy import load_policy
from ansible_collections.airgap.mirror.plugins.module_utils._trust.registriesd import load_registries_d
from ansible_collections.airgap.mirror.plugins.module_utils._trust.verify import SigstoreSignature, verify_image

REPO = "registry.example.com/org/app"
REF = REPO + ":1.0"


def digest_of(name):
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


class Bed:
    def __init__(self, tmp_path, keys, attachments=True):
        self.tmp = tmp_path
        self.keys = keys
        rd = tmp_path / "registries.d"
        rd.mkdir(exist_ok=True)
        (rd / "sigstore.yaml").write_text("docker:\n  registry.example.com:\n    use-sigstore-attachments: %s\n"
                                          % ("true" if attachments else "false"))
        self.registries_d = load_registries_d(str(rd))
        self.signatures = {}
        self.calls = 0

    def policy(self, identity="matchRepository", key="alice", **extra):
        requirement = {"type": "sigstoreSigned",
                       "keyData": base64.b64encode(self.keys[key].public_pem).decode(), **extra}
        if identity:
            requirement["signedIdentity"] = {"type": identity}
        path = self.tmp / "policy.json"
        path.write_text(json.dumps({"default": [{"type": "reject"}],
                                    "transports": {"docker": {"registry.example.com": [requirement]}}}))
        return load_policy(str(path))

    def sign(self, digest, key="alice", reference=REPO, signed_digest=None):
        payload = cosign.make_payload(reference, signed_digest or digest)
        self.signatures.setdefault(digest, []).append(SigstoreSignature(payload, self.keys[key].sign(payload)))

    def verify(self, policy, digest, source_ref=REF):
        def sigstore():
            self.calls += 1
            return list(self.signatures.get(digest, []))

        def no_lookaside(url):
            raise AssertionError("lookaside read for a sigstore-only policy: %s" % url)
        return verify_image(policy, self.registries_d, source_ref, digest, sigstore, no_lookaside)


@pytest.fixture
def bed(tmp_path, cosign_keys):
    return Bed(tmp_path, cosign_keys)


def test_signed_and_accepted(bed):
    digest = digest_of("a")
    bed.sign(digest)
    verdict = bed.verify(bed.policy(), digest)
    assert (verdict.accepted, verdict.kind, verdict.reason) == (True, "sigstore", "")
    assert verdict.keys == (bed.keys["alice"].fingerprint,) and verdict.keys[0].startswith("sha256:")
    assert verdict.gpg_signatures == () and bed.calls == 1
    assert verdict.verified() == {"kind": "sigstore", "keys": [bed.keys["alice"].fingerprint]}


def test_cosign_identity_is_a_repository_so_the_default_rule_refuses_it(bed):
    digest = digest_of("b")
    bed.sign(digest)
    verdict = bed.verify(bed.policy(identity=None), digest)
    assert verdict.reason == ("identity mismatch: signed for %s, matchRepoDigestOrExact does not accept it for %s"
                              % (REPO, REF))
    assert not bed.verify(bed.policy(), digest, "registry.example.com/org/other:1.0").accepted


def test_unsigned(bed):
    digest = digest_of("c")
    verdict = bed.verify(bed.policy(), digest)
    assert not verdict.accepted and verdict.kind == "sigstore"
    assert verdict.reason == "unsigned: no sigstore signature for %s@%s" % (REPO, digest)
    assert verdict.verified() is None


def test_attachments_not_enabled_in_registries_d(tmp_path, cosign_keys):
    bed = Bed(tmp_path, cosign_keys, attachments=False)
    digest = digest_of("d")
    bed.sign(digest)
    verdict = bed.verify(bed.policy(), digest)
    assert verdict.reason.startswith("unsigned: sigstore attachments are not enabled for " + REPO)
    assert bed.calls == 0


def test_untrusted_key(bed):
    digest = digest_of("e")
    bed.sign(digest, key="mallory")
    verdict = bed.verify(bed.policy(), digest)
    assert verdict.reason.startswith("untrusted key: the signature verifies with none of the 1 key(s)")


def test_payload_for_another_digest(bed):
    digest = digest_of("f")
    bed.sign(digest, signed_digest=digest_of("other"))
    assert bed.verify(bed.policy(), digest).reason.startswith("payload for another digest: signed %s"
                                                              % digest_of("other"))


@pytest.mark.parametrize("signature,fragment", [
    ("not base64!!", "not a base64 ASN.1 ECDSA signature"),
    (base64.b64encode(b"\x30\x02junk").decode(), "not a base64 ASN.1 ECDSA signature"),
    ("", "missing or empty"),
])
def test_corrupt_signature(bed, signature, fragment):
    digest = digest_of("g")
    bed.signatures[digest] = [SigstoreSignature(cosign.make_payload(REPO, digest), signature)]
    verdict = bed.verify(bed.policy(), digest)
    assert verdict.reason.startswith("malformed signature: ") and fragment in verdict.reason


def test_changed_payload_does_not_verify(bed):
    digest = digest_of("h")
    bed.sign(digest)
    good = bed.signatures[digest][0]
    bed.signatures[digest] = [SigstoreSignature(good.payload.replace(b"org/app", b"org/evil"), good.signature)]
    assert bed.verify(bed.policy(), digest).reason.startswith("untrusted key")


def test_signed_payload_of_the_wrong_type_is_malformed(bed):
    digest = digest_of("i")
    payload = cosign.make_payload(REPO, digest, kind="atomic container signature", optional={})
    bed.signatures[digest] = [SigstoreSignature(payload, bed.keys["alice"].sign(payload))]
    assert bed.verify(bed.policy(), digest).reason.startswith("malformed signature: payload: type is")


def test_index_and_per_platform_signatures(bed):
    """The index and each platform manifest are signed separately (cosign sign --recursive); each is
    verified against its own signatures, and a signature of the index does not vouch for a member."""
    index, amd64, arm64, s390x = digest_of("index"), digest_of("amd64"), digest_of("arm64"), digest_of("s390x")
    bed.sign(index)
    bed.sign(amd64)
    bed.sign(arm64, key="mallory")
    bed.sign(arm64)
    bed.signatures[s390x] = list(bed.signatures[index])  # the index's signature copied onto a member
    policy = bed.policy()
    assert bed.verify(policy, index).accepted
    assert bed.verify(policy, amd64, REPO + "@" + amd64).accepted
    arm = bed.verify(policy, arm64, REPO + "@" + arm64)
    assert arm.accepted and arm.keys == (bed.keys["alice"].fingerprint,)
    s390 = bed.verify(policy, s390x, REPO + "@" + s390x)
    assert s390.reason.startswith("payload for another digest: signed %s" % index)
    assert not bed.verify(policy, digest_of("ppc64le"), REPO + "@" + digest_of("ppc64le")).accepted


def test_gpg_and_sigstore_requirements_together(tmp_path, gpg_keys, cosign_keys):
    """Both kinds in one scope: both must accept; the verdict is gpg with both keys."""
    bed = Bed(tmp_path, cosign_keys)
    digest = digest_of("both")
    bed.sign(digest)
    (tmp_path / "alice.asc").write_bytes(gpg_keys["alice"].public)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"default": [
        {"type": "sigstoreSigned", "keyData": base64.b64encode(cosign_keys["alice"].public_pem).decode(),
         "signedIdentity": {"type": "matchRepository"}},
        {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(tmp_path / "alice.asc")}]}))
    store = tmp_path / "store"
    (tmp_path / "registries.d" / "lookaside.yaml").write_text("default-docker:\n  lookaside: file://%s\n" % store)
    registries_d = load_registries_d(str(tmp_path / "registries.d"))
    verdict = verify_image(load_policy(str(path)), registries_d, REF, digest, lambda: bed.signatures[digest],
                           lambda url: None)
    assert not verdict.accepted and verdict.kind == "gpg" and verdict.reason.startswith("unsigned: no GPG signature")
