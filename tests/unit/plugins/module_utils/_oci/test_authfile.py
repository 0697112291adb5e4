import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import authfile as F


@pytest.mark.parametrize("key, expected", [
    ("https://index.docker.io/v1/", "docker.io"),
    ("Registry-1.Docker.io", "docker.io"),
    ("mirror.example.com:8443/", "mirror.example.com:8443"),
    ("https://Quay.io/org/repo", "quay.io/org/repo"),
    (" ghcr.io/v2 ", "ghcr.io"),
])
def test_normalize_key(key, expected):
    assert F.normalize_key(key) == expected


def test_auth_value_round_trip():
    value = F.encode_auth("user", "pa:ss\u00e9")
    assert value == "dXNlcjpwYTpzc8Op"
    assert F.decode_auth(value) == ("user", "pa:ss\u00e9")
    with pytest.raises(F.AuthFileFormatError, match="not base64 of user:password"):
        F.decode_auth("bm9jb2xvbg==")  # "nocolon"


def test_loads_and_dumps():
    assert F.loads(b"") == {}
    assert F.loads(b"\xef\xbb\xbf{\"auths\": {}}") == {"auths": {}}
    doc = {"auths": {"a.example.com": {"auth": "eDp5"}}}
    assert F.loads(F.dumps(doc).encode()) == doc
    assert F.dumps(doc, compact=True) == '{"auths":{"a.example.com":{"auth":"eDp5"}}}\n'
    assert F.is_compact(F.dumps(doc, compact=True).encode()) and not F.is_compact(F.dumps(doc).encode())


@pytest.mark.parametrize("raw, message", [
    (b"\xff", "not valid UTF-8 at byte 0"),
    (b'{"auths": ', "not valid JSON at line 1 column 11"),
    (b"[]", "expected a JSON object at the top level, found list"),
    (b'{"auths": []}', "'auths' must be a JSON object, found list"),
])
def test_loads_errors_name_no_content(raw, message):
    with pytest.raises(F.AuthFileFormatError, match=message.replace("(", r"\(")):
        F.loads(raw)
