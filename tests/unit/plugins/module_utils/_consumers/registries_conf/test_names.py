import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.names import (
    check_location, check_prefix,
)

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize("prefix", [
    "quay.io", "quay.io:443", "localhost:5000", "localhost", "[::1]:5000", "quay.io/org", "quay.io/org/app",
    "quay.io/org/app:1.0", "quay.io/org/app@" + D, "*.example.com", "*.a.b.example.com", "docker.io/library/nginx",
    "quay.io/",
])
def test_valid_prefixes(prefix):
    assert check_prefix(prefix) == prefix.rstrip("/")


@pytest.mark.parametrize("prefix, reason", [
    ("https://quay.io", "scheme"),
    ("*.example.com:5000", "wildcard"),
    ("*.example.com/foo", "wildcard"),
    ("example.*.com", "first label"),
    ("*example.com", "wildcard"),
    ("mirror", "registry host"),
    ("mirror/foo", "registry host"),
    ("quay.io/Org", "lower-case"),
    ("Quay.io", "normalized to quay.io"),
    ("index.docker.io", "normalized to docker.io"),
    ("docker.io/nginx", "docker.io/library/nginx"),
    (" quay.io", "white space"),
    ("", "non-empty"),
    ("quay.io/org app", "white space"),
])
def test_invalid_prefixes(prefix, reason):
    with pytest.raises(ValueError, match=reason):
        check_prefix(prefix)


@pytest.mark.parametrize("location, reason", [
    ("http://mirror.example.com", "scheme"),
    ("mirror.example.com/app:1.0", "tag"),
    ("mirror.example.com/app@" + D, "digest"),
    ("*.example.com", "invalid registry host"),
    ("mirror/ns", "registry host"),
    ("registry-1.docker.io", "normalized to docker.io"),
    ("", "non-empty"),
])
def test_invalid_locations(location, reason):
    with pytest.raises(ValueError, match=reason):
        check_location(location)
