"""A source OCI layout on disk, for the engine's tests that need no registry."""

import hashlib
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout

REF = "quay.io/org/app:1"


def d(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put(layout, obj):
    data = json.dumps(obj).encode()
    layout.put_bytes(d(data), data)
    return data


def image(layout, arch):
    config = put(layout, {"architecture": arch, "os": "linux"})
    layer = ("layer of %s" % arch).encode()
    layout.put_bytes(d(layer), layer)
    return put(layout, {"schemaVersion": 2, "mediaType": M.OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(config),
                                   "size": len(config)},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d(layer),
                                    "size": len(layer)}]})


@pytest.fixture
def source(tmp_path):
    """``(layout path, index digest)``: a two-platform index recorded as REF."""
    layout = Layout(str(tmp_path / "src"), create=True)
    children = [(image(layout, arch), arch) for arch in ("amd64", "arm64")]
    index = put(layout, {"schemaVersion": 2, "mediaType": M.OCI_INDEX, "manifests": [
        {"mediaType": M.OCI_MANIFEST, "digest": d(data), "size": len(data),
         "platform": {"architecture": arch, "os": "linux"}} for data, arch in children]})
    layout.set_refs([(REF, M.Descriptor(M.OCI_INDEX, d(index), len(index)))])
    return tmp_path / "src", d(index)
