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
        ("quay.io/org/app@sha256:1234", "sha256 digest must have 64 hex digits, got 4"),
        ("quay.io/org/app@sha512:" + "a" * 64, "sha512 digest must have 128 hex digits, got 64"),
        ("quay.io/org/app@sha256:" + "g" * 64, "hex digits"),
        ("quay.io/org/app@md5:" + "a" * 32, "only sha256 and sha512"),
        ("quay.io/org/app@sha256:" + "AB" * 32, "lower-case"),
        ("quay.io/org/app@latest", "is not of the form sha256:<64 hex digits>"),
        ("quay.io:99999/org/app:1", "port 99999 of registry host 'quay.io:99999' is outside 1-65535"),
        ("127.0.0.1:0/app:1", "port 0 of registry host '127.0.0.1:0' is outside 1-65535"),
        ("[::1]:65536/app:1", "outside 1-65535"),
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


@pytest.mark.parametrize("text", ["quay.io:65535/org/app:1", "127.0.0.1:1/app", "[::1]:5000/app:1"])
def test_ports_in_range_are_accepted(text):
    assert R.parse(text).registry == text.split("/", 1)[0]


@pytest.mark.parametrize("text", ["mirror.example.com:99999", "mirror:0/ns", "[::1]:70000"])
def test_registry_prefix_port_out_of_range(text):
    with pytest.raises(InvalidReference, match=r"is outside 1-65535") as info:
        R.parse_registry_prefix(text)
    assert repr(text) in str(info.value)


SECRET = "S3cr3t-pw"


@pytest.mark.parametrize(
    "text, shown",
    [
        ("user:%s@quay.io/org/app:1" % SECRET, "<redacted>@quay.io/org/app:1"),
        ("user:%s@host" % SECRET, "<redacted>@host"),
        ("user:%s@mirror:5000/ns/app@%s" % (SECRET, D), "<redacted>@mirror:5000/ns/app@" + D),
        ("https://user:%s@mirror.example.com/app" % SECRET, "https://<redacted>@mirror.example.com/app"),
        ("user:p@ss/%s@mirror.example.com/app" % SECRET, "<redacted>@mirror.example.com/app"),
        ("%s@ghcr.io/org/app" % SECRET, "<redacted>@ghcr.io/org/app"),
        ("user:%s@host:5000" % SECRET, "<redacted>@host:5000"),
    ],
)
def test_credentials_in_a_reference_are_refused_without_repeating_them(text, shown):
    assert R.split_credentials(text)[1] == shown
    with pytest.raises(InvalidReference) as info:
        R.parse(text)
    message = str(info.value)
    assert SECRET not in message and "user:" not in message, message
    assert repr(shown) in message and "cannot hold credentials" in message
    assert "digest" not in message.split(":", 1)[0]


@pytest.mark.parametrize("text", ["user:%s@host" % SECRET, "user:%s@mirror.example.com:5000/ns" % SECRET,
                                  "tok%s@mirror.example.com" % SECRET, "%s@host" % SECRET])
def test_credentials_in_a_registry_prefix_are_refused_without_repeating_them(text):
    with pytest.raises(InvalidReference) as info:
        R.parse_registry_prefix(text)
    message = str(info.value)
    assert "cannot hold credentials" in message
    assert text.split("@")[0] not in message, message


@pytest.mark.parametrize("text", ["quay.io/org/app@" + D, "quay.io/org/app@latest", "nginx@sha256:1234",
                                  "oci:/srv/images@2024"])
def test_digests_and_malformed_digests_are_not_taken_for_credentials(text):
    assert R.split_credentials(text) == (None, text)


def test_secrets_of_userinfo():
    assert R.secrets_of("user:" + SECRET) == [SECRET, "user:" + SECRET]
    assert R.secrets_of("token") == ["token"]
