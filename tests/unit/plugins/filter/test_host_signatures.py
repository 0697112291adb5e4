"""plugins/filter/host_signatures.py: registry_mirror_host_signatures -> signature_policy's signatures."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import host_signatures as F
from support.gpg import make_key

PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"


def test_keys_are_read_and_checked(tmp_path):
    key = make_key(tmp_path, "vendor")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "vendor.gpg").write_bytes(key.public)
    (tmp_path / "rh.pub").write_text(PEM)
    out = F.signature_requests([
        {"source": "quay.io/vendor/", "kind": "gpg", "keys": ["vendor.gpg"], "lookaside": "file:///s"},
        {"source": "registry.redhat.io", "kind": "sigstore", "keys": str(tmp_path / "rh.pub"),
         "signed_identity": {"type": "matchRepository"}},
    ], [str(tmp_path)])
    assert out == [
        {"scope": "quay.io/vendor", "kind": "gpg", "keys": [{"name": "vendor.gpg", "content": key.public.decode()}],
         "lookaside": "file:///s"},
        {"scope": "registry.redhat.io", "kind": "sigstore", "keys": [{"name": "rh.pub", "content": PEM}],
         "signed_identity": {"type": "matchRepository"}},
    ]


@pytest.mark.parametrize("item, words", [
    ({"source": "quay.io", "kind": "gpg", "keys": ["not-a-key.txt"]}, "is not an OpenPGP public key"),
    ({"source": "quay.io", "kind": "sigstore", "keys": ["not-a-key.txt"]}, "is not a PEM public key"),
    ({"source": "quay.io", "kind": "gpg", "keys": ["missing.gpg"]}, "missing.gpg"),
    ({"source": "quay.io", "kind": "gpg", "keys": []}, "non-empty list"),
    ({"source": "quay.io", "kind": "x509", "keys": ["not-a-key.txt"]}, "kind must be"),
    ({"source": "docker://quay.io", "kind": "gpg", "keys": ["not-a-key.txt"]}, "without a scheme"),
    ({"source": "quay.io", "kind": "gpg", "keys": ["not-a-key.txt"], "key": 1}, "unknown keys key"),
])
def test_bad_items_name_the_problem(tmp_path, item, words):
    (tmp_path / "not-a-key.txt").write_text("hello\n")
    with pytest.raises(AnsibleFilterError, match=words):
        F.signature_requests([item], [str(tmp_path)])
