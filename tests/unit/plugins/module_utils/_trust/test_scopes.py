import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci.reference import parse
from ansible_collections.airgap.mirror.plugins.module_utils._trust.scopes import (
    check_docker_scope, docker_scopes, source_reference)


def test_scopes_most_specific_first_with_wildcards():
    assert docker_scopes(parse("a.b.example.com:5000/ns/sub/app:1.0")) == [
        "a.b.example.com:5000/ns/sub/app:1.0", "a.b.example.com:5000/ns/sub/app", "a.b.example.com:5000/ns/sub",
        "a.b.example.com:5000/ns", "a.b.example.com:5000",
        "*.b.example.com:5000", "*.example.com:5000", "*.com:5000"]


def test_docker_hub_names_are_expanded():
    digest = "sha256:" + "a" * 64
    assert docker_scopes(parse("busybox@" + digest)) == [
        "docker.io/library/busybox@" + digest, "docker.io/library/busybox", "docker.io/library", "docker.io", "*.io"]


def test_tag_and_digest_both_looked_up_digest_first():
    digest = "sha256:" + "b" * 64
    scopes = docker_scopes(parse("localhost:5000/app:v1@" + digest))
    assert scopes[:3] == ["localhost:5000/app@" + digest, "localhost:5000/app:v1", "localhost:5000/app"]
    assert scopes[-1] == "localhost:5000"


@pytest.mark.parametrize("scope", ["", "quay.io", "localhost:5000", "*.example.com", "quay.io/org/app",
                                   "docker.io/library/busybox:latest", "registry.example.com:5000/ns"])
def test_scopes_that_can_match(scope):
    assert check_docker_scope(scope) is None


@pytest.mark.parametrize("scope,fragment", [
    ("docker.io/busybox", "docker.io/library/busybox"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox"),
    ("*.example.com/ns", "wildcard"),
    ("Quay.IO", "quay.io"),
    ("busybox", "docker.io/library/busybox"),
])
def test_scopes_that_never_match_are_named(scope, fragment):
    assert fragment in check_docker_scope(scope)


def test_a_bare_source_reference_means_latest():
    assert str(source_reference("busybox")) == "docker.io/library/busybox:latest"
    assert docker_scopes(source_reference("busybox"))[0] == "docker.io/library/busybox:latest"
