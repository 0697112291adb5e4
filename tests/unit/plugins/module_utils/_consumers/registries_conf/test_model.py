import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.model import (
    RegistriesConfError, build,
)
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.names import effective_prefix
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.validate import validate

PAIRS = [
    {"source": "registry.redhat.io", "mirror": "mirror.example.com:8443"},
    {"source": "quay.io", "mirror": "mirror.example.com:8443"},
]


def _labelled(*tables):
    return [("entry %d" % i, t) for i, t in enumerate(tables)]


# ------------------------------------------------------------------ build: the seed 003 shape


def test_build_seed_003_section_2_6():
    entries = build(pairs=PAIRS)
    tables = [t for _l, t in entries]
    assert tables == [
        {"prefix": "mirror.example.com:8443", "location": "mirror.example.com:8443", "insecure": False},
        {"prefix": "quay.io", "location": "quay.io", "insecure": False, "mirror-by-digest-only": True,
         "mirror": [{"location": "mirror.example.com:8443", "insecure": False}]},
        {"prefix": "registry.redhat.io", "location": "registry.redhat.io", "insecure": False,
         "mirror-by-digest-only": True, "mirror": [{"location": "mirror.example.com:8443", "insecure": False}]},
    ]
    validate(entries)


def test_build_options_and_labels():
    entries = build(pairs=PAIRS[:1], mirror_insecure=True, mirror_by_digest_only=False, mirror_registry_entry=False)
    assert [label for label, _t in entries] == ["pairs[0] (registry.redhat.io -> mirror.example.com:8443)"]
    table = entries[0][1]
    assert table["mirror-by-digest-only"] is False
    assert table["mirror"] == [{"location": "mirror.example.com:8443", "insecure": True}]


def test_build_registries_defaults():
    entries = build(registries=[
        {"prefix": "quay.io/openshift-release-dev", "mirrors": [{"location": "m.example.com/ocp"}]},
        {"location": "docker.io"},
        {"prefix": "*.example.org", "blocked": True},
        {"prefix": "ghcr.io", "mirrors": [{"location": "m.example.com/ghcr", "pull_from_mirror": "digest-only"}]},
    ])
    tables = [t for _l, t in entries]
    assert tables[0] == {"prefix": "quay.io/openshift-release-dev", "location": "quay.io/openshift-release-dev",
                         "insecure": False, "mirror-by-digest-only": True,
                         "mirror": [{"location": "m.example.com/ocp", "insecure": False}]}
    assert tables[1] == {"prefix": "docker.io", "location": "docker.io", "insecure": False}
    assert tables[2] == {"prefix": "*.example.org", "insecure": False, "blocked": True}
    # a per-mirror pull-from-mirror: mirror-by-digest-only is left out (containers/image refuses both)
    assert "mirror-by-digest-only" not in tables[3]
    assert tables[3]["mirror"] == [{"location": "m.example.com/ghcr", "insecure": False, "pull-from-mirror": "digest-only"}]
    validate(entries)


def test_build_mirror_entry_not_added_when_prefix_taken():
    entries = build(registries=[{"prefix": "mirror.example.com:8443", "insecure": False}], pairs=PAIRS[:1])
    assert [effective_prefix(t) for _l, t in entries].count("mirror.example.com:8443") == 1


def test_build_rejects_unknown_keys_and_bad_pairs():
    with pytest.raises(RegistriesConfError, match=r"registries\[0\]: unknown key\(s\) mirror"):
        build(registries=[{"prefix": "quay.io", "mirror": []}])
    with pytest.raises(RegistriesConfError, match=r"pairs\[1\]"):
        build(pairs=[PAIRS[0], {"source": "quay.io"}])


# ------------------------------------------------------------------ validation
