import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci.reference import parse
from ansible_collections.airgap.mirror.plugins.module_utils._trust.payload import (
    ATOMIC_TYPE, COSIGN_TYPE, PayloadError, SignedIdentity, identity_from_json, parse_payload)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def atomic(reference="quay.io/org/app:1.0", digest=D1, **changes):
    body = {"critical": {"type": ATOMIC_TYPE, "image": {"docker-manifest-digest": digest},
                         "identity": {"docker-reference": reference}},
            "optional": {"creator": "test", "timestamp": 1}}
    body.update(changes)
    return json.dumps(body).encode()


def test_atomic_payload():
    payload = parse_payload(atomic())
    assert (payload.manifest_digest, payload.docker_reference) == (D1, "quay.io/org/app:1.0")


def test_cosign_payload_with_null_optional():
    data = json.dumps({"critical": {"identity": {"docker-reference": "quay.io/org/app"},
                                    "image": {"docker-manifest-digest": D1}, "type": COSIGN_TYPE},
                       "optional": None}).encode()
    assert parse_payload(data, COSIGN_TYPE).docker_reference == "quay.io/org/app"
    with pytest.raises(PayloadError, match="optional"):
        parse_payload(data, ATOMIC_TYPE)
    with pytest.raises(PayloadError, match="type is 'cosign container image signature'"):
        parse_payload(data.replace(b'"optional": null', b'"optional": {}'), ATOMIC_TYPE)


@pytest.mark.parametrize("data,fragment", [
    (b"not json", "not JSON"),
    (atomic(extra=1), "exactly the keys"),
    (atomic(optional=None), "optional"),
    (json.dumps({"critical": {"type": ATOMIC_TYPE, "image": {"docker-manifest-digest": D1, "x": 1},
                              "identity": {"docker-reference": "a/b"}}, "optional": {}}).encode(), "critical.image"),
    (atomic(digest="sha256:abc"), "docker-manifest-digest"),
    (b'{"critical": {}, "critical": {}, "optional": {}}', "duplicate"),
])
def test_malformed_payloads(data, fragment):
    with pytest.raises(PayloadError, match=fragment):
        parse_payload(data)


TAGGED = parse("quay.io/org/app:1.0")
BY_DIGEST = parse("quay.io/org/app@" + D1)


@pytest.mark.parametrize("identity,image,signed,expected", [
    (SignedIdentity(), TAGGED, "quay.io/org/app:1.0", True),
    (SignedIdentity(), TAGGED, "quay.io/org/app:2.0", False),
    (SignedIdentity(), TAGGED, "quay.io/org/app", False),
    (SignedIdentity(), BY_DIGEST, "quay.io/org/app:2.0", True),
    (SignedIdentity(), BY_DIGEST, "quay.io/other/app:1.0", False),
    (SignedIdentity(), BY_DIGEST, "quay.io/org/app", False),
    (SignedIdentity("matchExact"), TAGGED, "quay.io/org/app:1.0", True),
    (SignedIdentity("matchExact"), BY_DIGEST, "quay.io/org/app:1.0", False),
    (SignedIdentity("matchRepository"), TAGGED, "quay.io/org/app:2.0", True),
    (SignedIdentity("matchRepository"), TAGGED, "quay.io/org/app", True),
    (SignedIdentity("matchRepository"), TAGGED, "quay.io/org/other", False),
    (SignedIdentity("exactReference", reference="quay.io/x/y:3"), TAGGED, "quay.io/x/y:3", True),
    (SignedIdentity("exactReference", reference="quay.io/x/y:3"), TAGGED, "quay.io/org/app:1.0", False),
    (SignedIdentity("exactRepository", reference="quay.io/x/y"), TAGGED, "quay.io/x/y:any", True),
    (SignedIdentity("remapIdentity", prefix="quay.io/org", signed_prefix="registry.redhat.io/rh"),
     TAGGED, "registry.redhat.io/rh/app:1.0", True),
    (SignedIdentity("remapIdentity", prefix="quay.io/org", signed_prefix="registry.redhat.io/rh"),
     TAGGED, "quay.io/org/app:1.0", False),
    (SignedIdentity("remapIdentity", prefix="quay.io/or", signed_prefix="registry.redhat.io/rh"),
     TAGGED, "quay.io/org/app:1.0", True),  # 'quay.io/or' is not a prefix of 'quay.io/org/app' by component
    (SignedIdentity(), parse("busybox:latest"), "busybox:latest", True),
    (SignedIdentity(), TAGGED, "not a reference", False),
])
def test_identity_rules(identity, image, signed, expected):
    assert identity.matches(image, signed) is expected


@pytest.mark.parametrize("obj,fragment", [
    ({"type": "matchSomething"}, "not one of"),
    ({"type": "exactReference"}, "needs dockerReference"),
    ({"type": "exactReference", "dockerReference": "quay.io/x/y"}, "neither a tag nor a digest"),
    ({"type": "matchRepository", "dockerRepository": "x"}, "does not take"),
    ({"type": "remapIdentity", "prefix": "docker.io/busybox", "signedPrefix": "quay.io"}, "prefix"),
    ({"type": "remapIdentity", "prefix": "quay.io/x:1", "signedPrefix": "quay.io"}, "prefix"),
    ("matchExact", "must be an object"),
])
def test_identity_from_json_refuses(obj, fragment):
    with pytest.raises(ValueError, match=fragment):
        identity_from_json(obj, "here")


def test_identity_from_json_expands_names():
    assert identity_from_json({"type": "exactRepository", "dockerRepository": "busybox"}, "x").reference == \
        "docker.io/library/busybox"
    remap = identity_from_json({"type": "remapIdentity", "prefix": "mirror.local:5000/q",
                                "signedPrefix": "quay.io"}, "x")
    assert (remap.prefix, remap.signed_prefix) == ("mirror.local:5000/q", "quay.io")
