from ansible_collections.airgap.mirror.plugins.module_utils._oci.store import attachment_tags

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_attachment_tags():
    tags = ["1.0", "latest", "sha256-" + "a" * 64 + ".sig", "sha256-" + "a" * 64 + ".att",
            "sha256-" + "b" * 64, "sha256-" + "c" * 64 + ".sig", "sha256-" + "a" * 64 + ".other"]
    assert attachment_tags(tags, [A, B]) == sorted(
        ["sha256-" + "a" * 64 + ".sig", "sha256-" + "a" * 64 + ".att", "sha256-" + "b" * 64])
    assert attachment_tags(tags, []) == []
