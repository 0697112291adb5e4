import hashlib
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import DigestMismatch, ManifestError


def d(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


CFG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(b"cfg"), "size": 3}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(b"layer"), "size": 5}


def image(**extra):
    body = {"schemaVersion": 2, "mediaType": M.OCI_MANIFEST, "config": CFG, "layers": [LAYER]}
    body.update(extra)
    return json.dumps(body).encode()


def test_accept_lists_every_type():
    for media_type in (M.OCI_INDEX, M.DOCKER_LIST, M.OCI_MANIFEST, M.DOCKER_MANIFEST):
        assert media_type in M.ACCEPT


def test_parse_image_manifest_keeps_bytes():
    data = image()
    man = M.parse(data, expected_digest=d(data))
    assert man.data == data and man.digest == d(data) and not man.is_index
    assert [b.digest for b in man.blobs] == [CFG["digest"], LAYER["digest"]]


def test_parse_index_children_and_platforms():
    child = {"mediaType": M.OCI_MANIFEST, "digest": d(b"x"), "size": 1,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
    data = json.dumps({"schemaVersion": 2, "mediaType": M.OCI_INDEX, "manifests": [child]}).encode()
    man = M.parse(data)
    assert man.is_index and man.children[0].platform_string == "linux/arm64/v8"


def test_media_type_from_header_and_structure():
    body = json.loads(image())
    del body["mediaType"]
    data = json.dumps(body).encode()
    assert M.parse(data).media_type == M.OCI_MANIFEST
    assert M.parse(data, content_type=M.DOCKER_MANIFEST + "; charset=x").media_type == M.DOCKER_MANIFEST


def test_nondistributable_layers_are_not_copied():
    foreign = {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
               "digest": d(b"w"), "size": 1, "urls": ["https://example.invalid/w"]}
    man = M.parse(image(layers=[LAYER, foreign]))
    assert [b.digest for b in man.blobs] == [CFG["digest"], LAYER["digest"]]


@pytest.mark.parametrize("data, message", [
    (b"not json", "is not JSON"),
    (b"[]", "not a JSON object"),
    (json.dumps({"schemaVersion": 2, "mediaType": "application/x-unknown"}).encode(), "unknown media type"),
    (json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode(), "schema 1"),
    (json.dumps({"schemaVersion": 2, "mediaType": M.OCI_INDEX}).encode(), "'manifests' list"),
    (image(layers=[{"mediaType": "x", "digest": "sha256:zz", "size": 1}]), "layers[0]"),
    (image(layers=[dict(LAYER, size=-1)]), "invalid size"),
    (image(schemaVersion=3), "schemaVersion"),
])
def test_bad_manifests_are_named(data, message):
    with pytest.raises(ManifestError) as info:
        M.parse(data, where="manifest of quay.io/x:1")
    assert message in str(info.value) and "quay.io/x:1" in str(info.value)


def test_digest_mismatch():
    with pytest.raises(DigestMismatch):
        M.parse(image(), expected_digest=d(b"other"))
