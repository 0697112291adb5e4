import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D = "sha256:" + "cd" * 32


@pytest.mark.parametrize(
    "dest, mode, src, expected",
    [
        ("mirror:5000", "keep", "quay.io/org/app:1.0", "mirror:5000/org/app:1.0"),
        ("mirror:5000/ns", "keep", "nginx:1", "mirror:5000/ns/library/nginx:1"),
        ("mirror:5000", "scoped", "quay.io/org/app:1.0", "mirror:5000/quay.io/org/app:1.0"),
        ("mirror:5000", "scoped", "127.0.0.1:5000/a:1", "mirror:5000/127.0.0.1_5000/a:1"),
        ("mirror:5000/elastic", "flatten", "docker.elastic.co/elasticsearch/elasticsearch:8.16.1",
         "mirror:5000/elastic/elasticsearch:8.16.1"),
        ("mirror:5000", "keep", "quay.io/org/app@" + D,
         "mirror:5000/org/app:mirror-sha256-" + "cd" * 32 + "@" + D),
        ("mirror:5000", "keep", "quay.io/org/app:1@" + D, "mirror:5000/org/app:1@" + D),
    ],
)
def test_map(dest, mode, src, expected):
    assert str(M.Mapping(dest, mode).map(R.parse(src))) == expected


def test_seed_cut_equivalence():
    # seed 003: dst_img=$(echo "${src_img}" | cut -d '/' -f 2-) then TARGET_REGISTRY/dst_img
    src = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@" + D
    mapped = M.Mapping("mirror.local:8443").map(R.parse(src), tag_style="none")
    assert str(mapped) == "mirror.local:8443/" + src.split("/", 1)[1]


def test_overrides_and_pairs():
    m = M.Mapping("mirror:5000/ns", overrides={"quay.io/org/app": "custom/app"})
    assert str(m.map(R.parse("quay.io/org/app:2"))) == "mirror:5000/custom/app:2"
    assert str(m.map(R.parse("quay.io/org/other:2"))) == "mirror:5000/ns/org/other:2"
    pairs = m.source_prefix_pairs([R.parse("quay.io/org/app:2"), R.parse("quay.io/org/other:2"),
                                   R.parse("registry.redhat.io/a/b:1")])
    assert pairs == [
        ("quay.io/org/app", "mirror:5000/custom/app"),
        ("quay.io/org/other", "mirror:5000/ns/org/other"),
        ("registry.redhat.io", "mirror:5000/ns"),
    ]
    flat = M.Mapping("mirror:5000/elastic", mode="flatten")
    assert flat.source_prefix_pairs([R.parse("docker.elastic.co/kibana/kibana:8")]) == [
        ("docker.elastic.co/kibana/kibana", "mirror:5000/elastic/kibana")]


def test_bad_mode_and_override():
    with pytest.raises(ValueError, match="mapping mode"):
        M.Mapping("mirror:5000", mode="nope")
    with pytest.raises(ValueError, match="override"):
        M.Mapping("mirror:5000", overrides={"quay.io/org/app": "Bad Path"})
