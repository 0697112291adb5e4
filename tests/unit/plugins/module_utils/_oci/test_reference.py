import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import InvalidReference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "text, registry, repository, tag, digest",
    [
        ("nginx", "docker.io", "library/nginx", None, None),
        ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
        ("library/nginx", "docker.io", "library/nginx", None, None),
        ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
        ("docker.io/nginx", "docker.io", "library/nginx", None, None),
        ("index.docker.io/library/nginx:1", "docker.io", "library/nginx", "1", None),
        ("registry-1.docker.io/org/x", "docker.io", "org/x", None, None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5000/app:v1", "localhost:5000", "app", "v1", None),
        ("127.0.0.1:5000/test/multi:1", "127.0.0.1:5000", "test/multi", "1", None),
        ("[::1]:5000/a/b:c", "[::1]:5000", "a/b", "c", None),
        ("quay.io/openshift-release-dev/ocp-v4.0-art-dev@" + D,
         "quay.io", "openshift-release-dev/ocp-v4.0-art-dev", None, D),
        ("quay.io/org/app:1.0@" + D, "quay.io", "org/app", "1.0", D),
        ("Quay.IO/org/app", "quay.io", "org/app", None, None),
        ("gitlab-registry.matrix.org/ems-image-store/enterprise/pipe:2.7.0",
         "gitlab-registry.matrix.org", "ems-image-store/enterprise/pipe", "2.7.0", None),
        ("a/b__c/d-e.f_g:tag_1.2-x", "docker.io", "a/b__c/d-e.f_g", "tag_1.2-x", None),
    ],
)
def test_parse(text, registry, repository, tag, digest):
    ref = R.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    # rendering is a fixed point
    assert R.parse(str(ref)) == ref


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("  ", "empty"),
        ("docker://quay.io/a", "scheme"),
        ("quay.io/Org/app", "lower-case"),
        ("quay.io/org/app:", "tag"),
        ("quay.io/org/app:-bad", "tag"),
        ("quay.io/org/app@sha256:1234", "sha256:<64 hex"),
        ("quay.io/org/app@md5:" + "a" * 32, "only sha256 and sha512"),
        ("quay.io/org/app@sha256:" + "AB" * 32, "only sha256 and sha512"),
        ("quay.io//app", "empty path component"),
        ("quay.io/org/app name", "white space"),
        ("quay.io/org/-app", "invalid repository path component"),
        ("bad_host:5000x/app", "invalid registry host"),
        ("x/" + "a" * 300, "longer than"),
    ],
)
def test_parse_errors_name_the_reference(text, reason):
    with pytest.raises(InvalidReference) as info:
        R.parse(text)
    assert reason in str(info.value)
    assert repr(text) in str(info.value)


def test_default_tag_and_helpers():
    ref = R.parse("alpine", default_tag="latest")
    assert str(ref) == "docker.io/library/alpine:latest"
    assert ref.endpoint == "registry-1.docker.io"
    assert ref.identifier == "latest"
    pinned = ref.with_digest(D)
    assert pinned.identifier == D
    assert str(pinned.without_tag()) == "docker.io/library/alpine@" + D
    assert str(pinned.without_digest()) == "docker.io/library/alpine:latest"
    with pytest.raises(AttributeError):
        ref.tag = "x"
    assert len({R.parse("nginx"), R.parse("docker.io/library/nginx")}) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mirror.example.com:8443", ("mirror.example.com:8443", "")),
        ("mirror:5000/ns/sub/", ("mirror:5000", "ns/sub")),
        ("127.0.0.1:5000", ("127.0.0.1:5000", "")),
        ("localregistry", ("localregistry", "")),
    ],
)
def test_parse_registry_prefix(text, expected):
    assert R.parse_registry_prefix(text) == expected


@pytest.mark.parametrize("text", ["https://x", "x/ns:tag", "", "x@" + D, "x/Ns"])
def test_parse_registry_prefix_errors(text):
    with pytest.raises(InvalidReference):
        R.parse_registry_prefix(text)
