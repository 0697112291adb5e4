import tomllib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import registries_conf as F
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as M
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as MM
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D1 = "sha256:" + "11" * 32
D2 = "sha256:" + "22" * 32
SOURCES = [
    "quay.io/openshift-release-dev/ocp-v4.0-art-dev@" + D1,
    "quay.io/openshift/okd-content@" + D2,
    "registry.redhat.io/ubi9/ubi:9.4",
    "nginx:1.27",
    "docker.elastic.co/elasticsearch/elasticsearch:8.16.1",
]


def _map(mapping, sources=None):
    entries = []
    for text in sources or SOURCES:
        src = R.parse(text)
        digest = src.digest or D1
        dest = MM.RegistryDestination(mapping.map(src, digest=digest))
        entries.append(MM.Entry(src, digest, "application/vnd.oci.image.index.v1+json", dest, size=1).to_dict())
    return entries


@pytest.mark.parametrize("dest, mode, overrides", [
    ("mirror.example.com:8443", "keep", None),
    ("mirror.example.com:8443/ns", "keep", None),
    ("mirror.example.com:8443/ns", "scoped", None),
    ("mirror.example.com:8443/elastic", "flatten", None),
    ("mirror.example.com:8443/ns", "keep", {"quay.io/openshift/okd-content": "custom/okd"}),
])
def test_pairs_agree_with_the_one_mapping(dest, mode, overrides):
    mapping = M.Mapping(dest, mode, overrides)
    got = F.registries_conf_pairs(_map(mapping))
    expected = mapping.source_prefix_pairs([R.parse(s) for s in SOURCES])
    assert [(p["source"], p["mirror"]) for p in got] == expected


def test_seed_003_shape_from_a_keep_map():
    pairs = F.registries_conf_pairs(_map(M.Mapping("mirror.example.com:8443")))
    assert {"source": "quay.io", "mirror": "mirror.example.com:8443"} in pairs
    assert {"source": "registry.redhat.io", "mirror": "mirror.example.com:8443"} in pairs


def test_input_forms_document_text_and_list():
    entries = _map(M.Mapping("mirror.example.com:8443"))
    expected = F.registries_conf_pairs(entries)
    assert F.registries_conf_pairs({"format": MM.FORMAT, "images": entries}) == expected
    assert F.registries_conf_pairs(mirrormap.dumps(mirrormap.coerce(entries))) == expected
    with pytest.raises(AnsibleFilterError, match="images"):
        F.registries_conf_pairs({"format": MM.FORMAT})
    with pytest.raises(AnsibleFilterError, match="not int"):
        F.registries_conf_pairs(5)
    with pytest.raises(AnsibleFilterError, match="unsupported format"):
        F.registries_conf_pairs("format: other/v9\nimages: []\n")


def test_layout_destinations_are_skipped():
    entries = _map(M.Mapping("mirror.example.com:8443"), SOURCES[:1])
    entries.append(dict(entries[0], source="registry.redhat.io/ubi9/ubi:9.4", destination="oci:/srv/layout:ubi"))
    assert F.registries_conf_pairs(entries) == [{"source": "quay.io", "mirror": "mirror.example.com:8443"}]


def test_one_odd_repository_splits_its_registry_only():
    entries = _map(M.Mapping("m.example.com/ns"), ["quay.io/a/one:1", "quay.io/a/two:1", "ghcr.io/x/y:1"])
    entries[1]["destination"] = "m.example.com/elsewhere/two:1"
    assert F.registries_conf_pairs(entries) == [
        {"source": "ghcr.io", "mirror": "m.example.com/ns"},
        {"source": "quay.io/a/one", "mirror": "m.example.com/ns/a/one"},
        {"source": "quay.io/a/two", "mirror": "m.example.com/elsewhere/two"},
    ]


def test_two_mirrors_for_one_source_is_an_error_naming_both():
    entries = _map(M.Mapping("mirror-a.example.com"), ["quay.io/org/app:1"])
    entries += _map(M.Mapping("mirror-b.example.com:5000"), ["quay.io/org/app:2"])
    with pytest.raises(AnsibleFilterError) as info:
        F.registries_conf_pairs(entries)
    message = str(info.value)
    assert "quay.io/org/app" in message
    assert "mirror-a.example.com/org/app (images[0], quay.io/org/app:1)" in message
    assert "mirror-b.example.com:5000/org/app (images[1], quay.io/org/app:2)" in message


def test_same_destination_twice_is_fine():
    entries = _map(M.Mapping("m.example.com"), ["quay.io/org/app:1", "quay.io/org/app:2"])
    assert F.registries_conf_pairs(entries) == [{"source": "quay.io", "mirror": "m.example.com"}]


def test_bad_entries():
    with pytest.raises(AnsibleFilterError, match=r"images\[0\] \(quay.io/a:1\): missing digest, media_type, destination"):
        F.registries_conf_pairs([{"source": "quay.io/a:1"}])
    good = _map(M.Mapping("m.example.com"), ["quay.io/a:1"])[0]
    with pytest.raises(AnsibleFilterError, match=r"images\[1\].*invalid"):
        F.registries_conf_pairs([good, dict(good, source="quay.io/A:1")])
    with pytest.raises(AnsibleFilterError, match=r"images\[0\].*tag or a digest"):
        F.registries_conf_pairs([dict(good, destination="m.example.com/a")])


def test_toml_filter():
    pairs = F.registries_conf_pairs(_map(M.Mapping("mirror.example.com:8443")))
    text = F.registries_conf_toml(pairs, mirror_insecure=True)
    doc = tomllib.loads(text)
    prefixes = [r["prefix"] for r in doc["registry"]]
    assert prefixes[0] == "mirror.example.com:8443"
    assert sorted(prefixes[1:]) == prefixes[1:]
    assert {"docker.elastic.co", "docker.io", "quay.io", "registry.redhat.io"} <= set(prefixes)
    quay = [r for r in doc["registry"] if r["prefix"] == "quay.io"][0]
    assert quay["mirror-by-digest-only"] is True
    assert quay["mirror"] == [{"location": "mirror.example.com:8443", "insecure": True}]
    with pytest.raises(AnsibleFilterError, match="nothing to write"):
        F.registries_conf_toml([])
    with pytest.raises(AnsibleFilterError, match="scheme"):
        F.registries_conf_toml([{"source": "quay.io", "mirror": "https://m.example.com"}])


def test_filters_are_registered():
    assert set(F.FilterModule().filters()) == {"registries_conf_pairs", "registries_conf_toml"}


def _filtered(entries, which):
    """*entries* with those of the sources *which* mirrored filtered to linux/amd64."""
    out = []
    for entry in entries:
        if entry["source"] in which:
            entry = dict(entry, source_digest=entry["digest"], digest="sha256:" + "ff" * 32, platforms=["linux/amd64"])
        out.append(entry)
    return out


def test_a_digest_pinned_filtered_image_is_refused_naming_it(monkeypatch):
    entries = _filtered(_map(M.Mapping("mirror.example.com:8443")), {SOURCES[0], "registry.redhat.io/ubi9/ubi:9.4"})
    with pytest.raises(AnsibleFilterError) as exc:
        F.registries_conf_pairs(entries)
    text = str(exc.value)
    # the digest-pinned one is named, with both digests; the tagged one is not a problem for a prefix mirror
    assert text.startswith("registries_conf_pairs: 1 image(s) are pinned by the digest of their source")
    assert SOURCES[0] in text and "sha256:" + "ff" * 32 in text and "linux/amd64" in text and "images[0]" in text
    assert "ubi9" not in text and "filtered_digests=warn" in text
    warned = []
    monkeypatch.setattr(F.Display, "warning", lambda self, msg, *a, **k: warned.append(msg))
    pairs = F.registries_conf_pairs(entries, filtered_digests="warn")
    assert pairs == F.registries_conf_pairs(_map(M.Mapping("mirror.example.com:8443")))
    assert len(warned) == 1 and SOURCES[0] in warned[0]
    with pytest.raises(AnsibleFilterError, match="filtered_digests must be one of fail, warn, not 'maybe'"):
        F.registries_conf_pairs(entries, filtered_digests="maybe")


def test_a_filtered_entry_is_found_by_its_source_digest():
    entries = _filtered(_map(M.Mapping("mirror.example.com:8443")), {"registry.redhat.io/ubi9/ubi:9.4"})
    mirror_map = mirrormap.coerce(entries)
    entry, how = mirror_map.lookup(R.parse("registry.redhat.io/ubi9/ubi@" + D1))
    assert how == "digest" and entry is not None and entry.filtered and entry.pinned.digest == "sha256:" + "ff" * 32
