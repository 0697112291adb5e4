import base64
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._trust.policy import (
    InsecureAcceptAnything, PolicyError, Reject, SignedBy, SigstoreSigned, load_policy)


def write(tmp_path, doc, name="policy.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def refused(tmp_path, doc):
    path = write(tmp_path, doc)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert path in message
    return message


ACCEPT = [{"type": "insecureAcceptAnything"}]
REJECT = [{"type": "reject"}]


def test_scope_precedence(tmp_path):
    scopes = {
        "quay.io/org/app:1.0": [{"type": "reject"}],
        "quay.io/org/app": ACCEPT,
        "quay.io/org": REJECT,
        "quay.io": ACCEPT,
        "*.example.com": REJECT,
        "*.b.example.com": ACCEPT,
        "": ACCEPT,
    }
    policy = load_policy(write(tmp_path, {"default": REJECT, "transports": {"docker": scopes}}))

    def scope(ref):
        return policy.scope_for(ref)

    assert scope("quay.io/org/app:1.0") == 'transports.docker scope "quay.io/org/app:1.0"'
    assert scope("quay.io/org/app:2.0") == 'transports.docker scope "quay.io/org/app"'
    assert scope("quay.io/org/app@sha256:" + "0" * 64) == 'transports.docker scope "quay.io/org/app"'
    assert scope("quay.io/org/other:1") == 'transports.docker scope "quay.io/org"'
    assert scope("quay.io/x/y:1") == 'transports.docker scope "quay.io"'
    assert scope("a.b.example.com/x:1") == 'transports.docker scope "*.b.example.com"'
    assert scope("c.example.com/x:1") == 'transports.docker scope "*.example.com"'
    assert scope("example.com/x:1") == 'transports.docker scope ""'
    assert isinstance(policy.requirements_for("quay.io/org/app:1.0")[0], Reject)
    assert isinstance(policy.requirements_for("quay.io/org/app:2.0")[0], InsecureAcceptAnything)
    no_transport = load_policy(write(tmp_path, {"default": REJECT}, "p2.json"))
    assert no_transport.scope_for("busybox") == "default"
    assert isinstance(no_transport.requirements_for("busybox")[0], Reject)


def test_docker_hub_scope_fully_expanded(tmp_path):
    policy = load_policy(write(tmp_path, {"default": REJECT, "transports": {"docker": {
        "docker.io/library/busybox": ACCEPT}}}))
    assert policy.scope_for("busybox:latest") == 'transports.docker scope "docker.io/library/busybox"'
    assert policy.scope_for("index.docker.io/library/busybox") == 'transports.docker scope "docker.io/library/busybox"'


def test_signed_by_keys_and_identity(tmp_path, gpg_keys):
    alice, mallory = gpg_keys["alice"], gpg_keys["mallory"]
    key_file = tmp_path / "alice.asc"
    key_file.write_bytes(alice.public)
    ring = tmp_path / "both.asc"
    ring.write_bytes(alice.public + mallory.public)
    doc = {"default": REJECT, "transports": {"docker": {
        "quay.io/a": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(key_file)}],
        "quay.io/b": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": [str(key_file), str(ring)],
                       "signedIdentity": {"type": "matchRepository"}}],
        "quay.io/c": [{"type": "signedBy", "keyType": "GPGKeys",
                       "keyData": base64.b64encode(mallory.public).decode()}],
    }}}
    policy = load_policy(write(tmp_path, doc))
    (a,) = policy.requirements_for("quay.io/a:1")
    assert isinstance(a, SignedBy) and a.fingerprints == (alice.fingerprint,)
    assert a.identity.type == "matchRepoDigestOrExact"
    (b,) = policy.requirements_for("quay.io/b:1")
    assert set(b.fingerprints) == {alice.fingerprint, mallory.fingerprint} and b.identity.type == "matchRepository"
    (c,) = policy.requirements_for("quay.io/c:1")
    assert c.fingerprints == (mallory.fingerprint,)


def test_sigstore_signed_keys(tmp_path, cosign_keys):
    alice, mallory = cosign_keys["alice"], cosign_keys["mallory"]
    pem = tmp_path / "cosign.pub"
    pem.write_bytes(alice.public_pem)
    doc = {"default": [{"type": "sigstoreSigned", "keyPath": str(pem),
                        "signedIdentity": {"type": "matchRepository"}}],
           "transports": {"docker": {"quay.io": [{"type": "sigstoreSigned", "keyDatas": [
               base64.b64encode(alice.public_pem).decode(), base64.b64encode(mallory.public_pem).decode()]}]}}}
    policy = load_policy(write(tmp_path, doc))
    (default,) = policy.requirements_for("example.com/x:1")
    assert isinstance(default, SigstoreSigned) and default.fingerprints == (alice.fingerprint,)
    (quay,) = policy.requirements_for("quay.io/x:1")
    assert quay.fingerprints == (alice.fingerprint, mallory.fingerprint)


@pytest.mark.parametrize("requirement,fragments", [
    ({"type": "sigstoreSigned", "fulcio": {"caPath": "/ca.pem", "oidcIssuer": "https://x", "subjectEmail": "a@b"},
      "rekorPublicKeyPath": "/rekor.pub"}, ["fulcio", "rekorPublicKeyPath", "Fulcio", "Rekor"]),
    ({"type": "sigstoreSigned", "pki": {"caRootsPath": "/roots.pem", "subjectEmail": "a@b"}}, ["pki", "X.509"]),
    ({"type": "sigstoreSigned", "keyPath": "/k.pub", "rekorPublicKeyData": "eA=="}, ["rekorPublicKeyData"]),
    ({"type": "signedBy", "keyType": "X509Certificates", "keyPath": "/k"}, ['keyType "X509Certificates"']),
    ({"type": "signedBy", "keyPath": "/k"}, ["keyType null", "only GPGKeys"]),
    ({"type": "signedBaseLayer", "baseLayerIdentity": {"type": "exactRepository", "dockerRepository": "x/y"}},
     ["signedBaseLayer"]),
    ({"type": "somethingNew"}, ['unknown requirement type "somethingNew"']),
    ({"type": "reject", "keyPath": "/k"}, ["keyPath not supported"]),
    ({"type": "signedBy", "keyType": "GPGKeys"}, ["exactly one of keyPath, keyPaths, keyData"]),
    ({"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/a", "keyData": "eA=="}, ["has keyPath, keyData"]),
    ({"type": "signedBy", "keyType": "GPGKeys", "keyPath": "relative.asc"}, ["not an absolute path"]),
    ({"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nonexistent/k.asc"}, ["/nonexistent/k.asc"]),
    ({"type": "signedBy", "keyType": "GPGKeys", "keyData": "not base64!"}, ["keyData is not base64"]),
    ({"type": "signedBy", "keyType": "GPGKeys", "keyData": "aGVsbG8="}, ["not an OpenPGP public key"]),
    ({"type": "sigstoreSigned", "keyData": "aGVsbG8="}, ["no PEM PUBLIC KEY"]),
    ({"type": "signedBy", "keyType": "GPGKeys", "keyData": "aGVsbG8=", "signedIdentity": {"type": "nope"}},
     ["not an OpenPGP"]),
    ({"type": "insecureAcceptAnything", "signedIdentity": {"type": "matchExact"}}, ["signedIdentity not supported"]),
])
def test_unsupported_requirements_refused_at_load_naming_them(tmp_path, requirement, fragments):
    message = refused(tmp_path, {"default": REJECT, "transports": {"docker": {"quay.io/x": [requirement]}}})
    assert 'transports.docker scope "quay.io/x", requirement 1' in message
    for fragment in fragments:
        assert fragment in message


def test_unsupported_requirement_in_default_and_other_transports_refused(tmp_path):
    assert "default, requirement 2" in refused(tmp_path, {"default": [{"type": "reject"}, {"type": "pki"}]})
    message = refused(tmp_path, {"default": REJECT, "transports": {"oci": {"": [{"type": "signedBaseLayer"}]}}})
    assert 'transports.oci scope ""' in message


def test_rsa_key_refused_for_sigstore(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    message = refused(tmp_path, {"default": [{"type": "sigstoreSigned", "keyData": base64.b64encode(pem).decode()}]})
    assert "only ECDSA P-256" in message and "RSAPublicKey" in message


@pytest.mark.parametrize("doc,fragment", [
    ("{not json", "not valid JSON"),
    ('{"default": [], "default": []}', "duplicate key 'default'"),
    ("[]", "top level must be a JSON object"),
    ({"transports": {}}, '"default" is missing'),
    ({"default": []}, "default must be a non-empty list"),
    ({"default": ACCEPT, "transport": {}}, "unknown top-level key(s) transport"),
    ({"default": ACCEPT, "transports": {"docker": []}}, "transports.docker must be an object"),
    ({"default": ACCEPT, "transports": {"docker": {"docker.io/busybox": ACCEPT}}},
     "write 'docker.io/library/busybox'"),
    ({"default": ACCEPT, "transports": {"docker": {"*.example.com/x": ACCEPT}}}, "wildcard"),
    ({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyData": "eA==",
                   "signedIdentity": {"type": "exactReference", "dockerReference": "quay.io/x"}}]},
     "not an OpenPGP"),
])
def test_bad_files_refused(tmp_path, doc, fragment):
    assert fragment in refused(tmp_path, doc)


def test_bad_identity_refused_naming_scope(tmp_path, gpg_keys):
    key = tmp_path / "k.asc"
    key.write_bytes(gpg_keys["alice"].public)
    message = refused(tmp_path, {"default": REJECT, "transports": {"docker": {"quay.io": [
        {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(key),
         "signedIdentity": {"type": "exactReference", "dockerReference": "quay.io/x"}}]}}})
    assert 'scope "quay.io"' in message and "neither a tag nor a digest" in message


def test_missing_file(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(tmp_path / "nope.json"))
