"""Signatures as they are published, read back and judged by _trust.verify_image:

- GPG simple signatures written by skopeo 1.9 (``copy --sign-by``) into a ``lookaside-staging``
  store, served over HTTP as the lookaside, read through default_fetch; skopeo with the same
  policy.json and registries.d agrees;
- cosign-format signatures pushed as ``sha256-<hex>.sig`` manifests (support.cosign) for an index
  and each of its platform manifests, read back from the registry.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import threading

import pytest

from support import cosign
from support import images as I
from support.gpg import make_key
from support.skopeo import SkopeoError

from ansible_collections.airgap.mirror.plugins.module_utils._trust.policy import load_policy
from ansible_collections.airgap.mirror.plugins.module_utils._trust.registriesd import load_registries_d
from ansible_collections.airgap.mirror.plugins.module_utils._trust.verify import (
    SigstoreSignature, default_fetch, verify_image)

pytestmark = pytest.mark.integration


@pytest.fixture
def http_dir(tmp_path):
    """A directory served over plain HTTP on 127.0.0.1 (the lookaside web server)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_gpg_signatures_from_skopeo_sign_by_over_http(registry_factory, skopeo, tmp_path, http_dir):
    registry = registry_factory()
    www, url = http_dir
    alice, mallory = make_key(tmp_path, "alice"), make_key(tmp_path, "mallory")
    staging = tmp_path / "registries.d-staging"
    staging.mkdir()
    (staging / "staging.yaml").write_text("default-docker:\n  lookaside-staging: file://%s\n" % www)
    layout = I.OCILayout(tmp_path / "oci")
    refs = {}
    for name, key in (("good", alice), ("other", mallory), ("unsigned", None)):
        image = I.build_image(layout, name)
        target = "%s/trust/%s:1.0" % (registry.host, name)
        extra = ["--sign-by", key.fingerprint] if key else []
        skopeo.run(["--registries.d", str(staging), "copy", "--dest-tls-verify=false", *extra,
                    I.skopeo_source(image), "docker://" + target], env=key.env() if key else None)
        if key:
            key.stop_agent()
        refs[name] = (target, image.digest)
    (tmp_path / "alice.asc").write_bytes(alice.public)
    policy_path = tmp_path / "policy.json"
    requirement = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(tmp_path / "alice.asc")}
    policy_path.write_text(json.dumps({"default": [{"type": "reject"}],
                                       "transports": {"docker": {registry.host + "/trust": [requirement]}}}))
    rd = tmp_path / "registries.d"
    rd.mkdir()
    (rd / "lookaside.yaml").write_text("docker:\n  %s:\n    lookaside: %s\n" % (registry.host, url))
    policy, registries_d = load_policy(str(policy_path)), load_registries_d(str(rd))

    def verdict(name):
        target, digest = refs[name]
        return verify_image(policy, registries_d, target, digest, lambda: [], default_fetch)

    good = verdict("good")
    assert good.accepted and good.kind == "gpg" and good.keys == (alice.fingerprint,)
    written = www / "trust" / ("good@sha256=" + refs["good"][1][7:]) / "signature-1"   # skopeo's own path
    assert good.gpg_signatures == (written.read_bytes(),)
    assert verdict("other").reason.startswith("untrusted key: ")
    assert verdict("unsigned").reason.startswith("unsigned: no GPG signature at %s/trust/unsigned@sha256=" % url)

    # containers/image itself, with the same two files, agrees
    for name, accepted in (("good", True), ("other", False), ("unsigned", False)):
        args = ["--policy", str(policy_path), "--registries.d", str(rd), "copy", "--src-tls-verify=false",
                "docker://" + refs[name][0], "dir:%s" % (tmp_path / ("pulled-" + name))]
        if accepted:
            skopeo.run(args)
        else:
            with pytest.raises(SkopeoError):
                skopeo.run(args)


def test_cosign_signatures_of_an_index_and_its_platforms(registry_factory, skopeo, tmp_path):
    registry = registry_factory()
    layout = I.OCILayout(tmp_path / "oci")
    index = I.build_index(layout, "multi", platforms=("linux/amd64", "linux/arm64"))
    I.seed_registry(index, registry, "signed/app", "1.0")
    repository = "%s/signed/app" % registry.host
    key, other = cosign.make_key(), cosign.make_key()
    digests = [index.digest] + [member.digest for member in index.children]
    for digest in digests[:2]:  # the index and amd64 signed by the key; arm64 only by another key
        payload = cosign.make_payload(repository, digest)
        cosign.push_signatures(registry, "signed/app", digest, [(payload, key.sign(payload))])
    payload = cosign.make_payload(repository, digests[2])
    cosign.push_signatures(registry, "signed/app", digests[2], [(payload, other.sign(payload))])

    tags = skopeo.list_tags("docker://" + repository, registry=registry)
    assert {cosign.signature_tag(d) for d in digests} <= set(tags)
    sig_manifest = skopeo.inspect_json("docker://%s:%s" % (repository, cosign.signature_tag(index.digest)),
                                       registry=registry)
    (layer,) = sig_manifest["layers"]
    assert layer["mediaType"] == cosign.PAYLOAD_MEDIA_TYPE and cosign.SIGNATURE_ANNOTATION in layer["annotations"]

    rd = tmp_path / "registries.d"
    rd.mkdir()
    (rd / "sigstore.yaml").write_text("docker:\n  %s:\n    use-sigstore-attachments: true\n" % registry.host)
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps({"default": [{"type": "sigstoreSigned",
                                                    "keyData": base64.b64encode(key.public_pem).decode(),
                                                    "signedIdentity": {"type": "matchRepository"}}]}))
    policy, registries_d = load_policy(str(policy_path)), load_registries_d(str(rd))

    def verdict(source, digest):
        def sigstore():
            return [SigstoreSignature(p, s) for p, s in cosign.read_signatures(registry, "signed/app", digest)]
        return verify_image(policy, registries_d, source, digest, sigstore, default_fetch)

    assert verdict(repository + ":1.0", index.digest).accepted
    amd64 = verdict("%s@%s" % (repository, digests[1]), digests[1])
    assert amd64.accepted and amd64.keys == (cosign.CosignKey(key.private).fingerprint,)
    assert verdict("%s@%s" % (repository, digests[2]), digests[2]).reason.startswith("untrusted key")
