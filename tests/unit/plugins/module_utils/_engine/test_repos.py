import hashlib

from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._oci.manifest import Descriptor
from ansible_collections.airgap.mirror.plugins.module_utils._engine.repos import LayoutRepo, attachment_tags

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_attachment_tags():
    tags = ["1.0", "latest", "sha256-" + "a" * 64 + ".sig", "sha256-" + "a" * 64 + ".att",
            "sha256-" + "b" * 64, "sha256-" + "c" * 64 + ".sig", "sha256-" + "a" * 64 + ".other"]
    assert attachment_tags(tags, [A, B]) == sorted(
        ["sha256-" + "a" * 64 + ".sig", "sha256-" + "a" * 64 + ".att", "sha256-" + "b" * 64])
    assert attachment_tags(tags, []) == []


def test_layout_ensure_blob_writes_a_missing_blob_once(tmp_path):
    data = b"layer bytes" * 100
    desc = Descriptor("application/vnd.oci.image.layer.v1.tar", "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    opened = []

    def opener(offset):
        opened.append(offset)
        return iter([data[offset:]])

    repo = LayoutRepo(Layout(tmp_path / "l", create=True))
    assert repo.ensure_blob(desc, opener) == "copied"
    assert (tmp_path / "l" / "blobs" / "sha256" / desc.digest[7:]).read_bytes() == data
    assert repo.ensure_blob(desc, opener) == "skipped"
    assert opened == [0], "a blob already in the layout is not read from the source again"
