"""The typed mirror map: destinations, entries, lookups (plugins/module_utils/_mirrormap/model.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import InvalidReference

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
INDEX = "application/vnd.oci.image.index.v1+json"


def entry(src: str, dest: str, digest: str = D1) -> M.Entry:
    return M.Entry(R.parse(src), digest, INDEX, M.parse_destination(dest), ("linux/amd64",), 10, ())


@pytest.mark.parametrize("text", [
    "mirror:5000/org/app:1.0",
    "mirror:5000/org/app@" + D1,
    "mirror:5000/ns/org/app:1.0@" + D1,
    "oci:/srv/layout:quay.io/org/app:1.0",
    "oci:/srv/layout:v1",
    "oci:relative/dir:quay.io:443/org/app@" + D1,
])
def test_a_destination_formats_back_to_its_text(text: str) -> None:
    assert str(M.parse_destination(text)) == text


def test_a_layout_destination_splits_at_the_first_colon_like_skopeo() -> None:
    dest = M.parse_destination("oci:/srv/layout:quay.io:443/org/app:1.0")
    assert isinstance(dest, M.LayoutDestination)
    assert (dest.path, dest.ref_name) == ("/srv/layout", "quay.io:443/org/app:1.0")


def test_a_registry_destination_is_a_parsed_reference() -> None:
    dest = M.parse_destination("mirror:5000/org/app:1.0")
    assert isinstance(dest, M.RegistryDestination)
    got = (dest.registry, dest.repository, dest.ref.tag, dest.name)
    assert got == ("mirror:5000", "org/app", "1.0", "mirror:5000/org/app")


@pytest.mark.parametrize("text, message", [
    ("oci:/srv/layout", "oci:PATH:REF"),
    ("oci::ref", "oci:PATH:REF"),
    ("mirror:5000/org/app", "needs a tag or a digest"),
    ("", "non-empty"),
])
def test_bad_destinations_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises((ValueError, InvalidReference), match=message):
        M.parse_destination(text)


def test_a_layout_path_with_a_colon_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'/mnt/c:/x' contains ':'"):
        M.LayoutDestination("/mnt/c:/x", "ref")


def test_entry_round_trips_through_its_dict() -> None:
    e = entry("quay.io/org/app:1.0", "mirror:5000/org/app:1.0")
    data = e.to_dict()
    assert list(data) == ["source", "source_tag", "digest", "media_type", "platforms", "size", "destination",
                          "attachments"]
    assert data["source_tag"] == "1.0"
    assert M.Entry.from_dict(data) == e


def test_a_filtered_entry_keeps_both_digests_and_the_proxy_it_came_through() -> None:
    e = M.Entry(R.parse("quay.io/org/app:1.0"), D2, INDEX, M.parse_destination("mirror:5000/org/app:1.0"),
                ("linux/amd64",), 10, (), source_digest=D1, source_via="proxy.corp/quay-remote")
    data = e.to_dict()
    assert (data["digest"], data["source_digest"], data["source_via"]) == (D2, D1, "proxy.corp/quay-remote")
    assert M.Entry.from_dict(data) == e
    assert e.filtered and e.upstream_digest == D1
    plain = entry("quay.io/org/app:1.0", "mirror:5000/org/app:1.0")
    assert not plain.filtered and plain.upstream_digest == D1


def test_verified_is_written_only_when_set_and_round_trips() -> None:
    fpr = "F12BB816D116713F45DEC0FCA5CA709C5D8864E2"
    plain = entry("quay.io/org/app:1.0", "mirror:5000/org/app:1.0")
    assert "verified" not in plain.to_dict() and plain.verified is None
    e = M.Entry(R.parse("quay.io/org/app:1.0"), D1, INDEX, M.parse_destination("mirror:5000/org/app:1.0"),
                verified=M.Verified("gpg", (fpr,)))
    data = e.to_dict()
    assert list(data)[-1] == "verified" and data["verified"] == {"kind": "gpg", "keys": [fpr]}
    assert M.Entry.from_dict(data) == e
    assert M.Entry.from_dict(dict(data, verified={"kind": "sigstore", "keys": []})).verified == M.Verified("sigstore")


@pytest.mark.parametrize("change, message", [
    ({"verified": {"kind": "x509", "keys": []}}, "verified.kind must be one of gpg, sigstore"),
    ({"verified": {"kind": "gpg", "keys": "ABC"}}, "verified.keys must be a list of strings"),
    ({"verified": {"kind": "gpg", "keys": [], "by": 1}}, "verified has unknown keys: by"),
    ({"verified": ["gpg"]}, "verified must be a mapping"),
    ({"source_digest": "sha256:abc"}, "sha256 digest must have 64 hex digits"),
    ({"source_via": 5}, "source_via must be a string"),
    ({"digest": None}, r"images\[3\] \(quay.io/org/app:1.0\): missing digest"),
    ({"digest": "sha256:abc"}, "sha256 digest must have 64 hex digits"),
    ({"source": "Quay.io/Org/App"}, "lower-case"),
    ({"destination": "oci:/x"}, "oci:PATH:REF"),
    ({"platforms": "linux/amd64"}, "platforms must be a list of strings"),
    ({"size": "big"}, "images"),
])
def test_entry_errors_name_where_and_the_source(change: dict, message: str) -> None:
    data = entry("quay.io/org/app:1.0", "mirror:5000/org/app:1.0").to_dict()
    data.update(change)
    with pytest.raises(M.MirrorMapError, match=message):
        M.Entry.from_dict(data, "map.yml: images[3]")


def test_pinned_is_the_mirror_repository_at_the_image_digest() -> None:
    e = entry("quay.io/org/app:1.0", "mirror:5000/org/app:1.0", D2)
    assert str(e.pinned) == "mirror:5000/org/app@" + D2
    assert entry("quay.io/org/app:1.0", "oci:/l:quay.io/org/app:1.0").pinned is None


def test_the_map_sorts_and_looks_up_by_source_name_digest_and_tag() -> None:
    a = entry("quay.io/org/app:1.0", "mirror:5000/org/app:1.0", D1)
    b = entry("quay.io/org/app@" + D2, "mirror:5000/org/app:mirror-sha256-" + "2" * 64, D2)
    c = entry("docker.io/library/nginx:1", "oci:/l:docker.io/library/nginx:1", D1)
    mm = M.MirrorMap([a, b, c])
    assert [e.source.name for e in mm] == ["docker.io/library/nginx", "quay.io/org/app", "quay.io/org/app"]
    assert mm.by_source("quay.io/org/app:1.0") == [a]
    assert mm.by_source_name("quay.io/org/app") == [a, b]
    assert mm.by_digest(D1) == [c, a]
    assert mm.lookup(R.parse("quay.io/org/app:1.0@" + D2)) == (b, "digest")
    assert mm.lookup(R.parse("quay.io/org/app:1.0")) == (a, "tag")
    assert mm.lookup(R.parse("quay.io/org/app:2.0")) == (None, None)
    assert [d.name for _e, d in mm.registry_entries()] == ["mirror:5000/org/app", "mirror:5000/org/app"]
