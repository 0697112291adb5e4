"""The kept set: mirror maps kept whole, consumer inputs placed in the mirror through the maps."""

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._prune import keep as K
from support.mirror_maps import mirror_map

FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[3] / "fixtures" / "sources"


def release_images():
    return list(json.loads((FIXTURES / "release-x86_64.json").read_text())["images"].values())


@pytest.fixture
def release_map(tmp_path):
    path = tmp_path / "map.yml"
    path.write_text(mirror_map(release_images() + ["quay.io/other/thing:1"], dest="mirror:5000"))
    return str(path)


def test_a_release_file_is_placed_through_the_map_and_the_rest_of_the_map_is_not_kept(release_map):
    wanted = K.consumer_images({"microshift_release": [str(FIXTURES / "release-x86_64.json")]})
    assert [w.source for w in wanted] == release_images()
    kept = K.kept_set("mirror:5000", [], K.load_maps([release_map]), wanted)
    digests = {k.digest for k in kept.images}
    assert digests == {ref.split("@")[1] for ref in release_images()}
    assert all(k.origin.startswith(str(FIXTURES / "release-x86_64.json")) for k in kept.images)
    assert kept.warnings == []


def test_a_map_in_maps_is_kept_whole_for_its_registry_only(release_map, tmp_path):
    other = tmp_path / "other.yml"
    other.write_text(mirror_map(["quay.io/x/y:1"], dest="elsewhere:5000"))
    kept = K.kept_set("mirror:5000", K.load_maps([release_map, str(other)]), [], [])
    assert len(kept.images) == len(release_images()) + 1
    assert "quay.io/other/thing:1" in " ".join(k.origin for k in kept.images)


def test_an_image_no_map_knows_is_refused_by_name_or_warned(release_map):
    wanted = [K.Wanted("quay.io/not/mirrored:2", "release-new.json")]
    with pytest.raises(K.KeepError, match=r"quay.io/not/mirrored:2 \(from release-new.json\)"):
        K.kept_set("mirror:5000", [], K.load_maps([release_map]), wanted)
    kept = K.kept_set("mirror:5000", [], K.load_maps([release_map]), wanted, on_missing="warn")
    assert kept.images == [] and "quay.io/not/mirrored:2" in kept.warnings[0]


def test_the_other_consumer_inputs_are_read_by_the_collections_readers(tmp_path):
    refs = tmp_path / "refs.txt"
    refs.write_text("quay.io/a/b:1\n")
    wanted = K.consumer_images({
        "images": ["nginx"],
        "image_lists": [{"path": str(refs), "format": "list"}],
        "ess_images_digests": [str(FIXTURES / "ess-images_digests.yml")],
        "eck": [{"stack_version": "8.16.1", "eck_version": "3.1.0", "include": ["eck_operator", "kibana"]}],
    })
    sources = [w.source for w in wanted]
    assert sources[:2] == ["docker.io/library/nginx:latest", "quay.io/a/b:1"]
    assert "docker.elastic.co/kibana/kibana:8.16.1" in sources
    assert "docker.elastic.co/eck/eck-operator:3.1.0" in sources
    assert any(w.origin.endswith("ess-images_digests.yml") for w in wanted)


def test_unreadable_inputs_name_the_file(tmp_path):
    with pytest.raises(K.KeepError, match="nope.json"):
        K.consumer_images({"microshift_release": [str(tmp_path / "nope.json")]})
    bad = tmp_path / "release-bad.json"
    bad.write_text('{"images": {"x": "quay.io/a/b@sha256:0545"}}')
    with pytest.raises(Exception, match="release-bad.json.*images.x"):
        K.consumer_images({"microshift_release": [str(bad)]})


def test_ess_helm_values_keep_the_enabled_components_only():
    chart = FIXTURES.parent / "products" / "ess-helm" / "matrix-stack-values.yaml"
    from ansible_collections.airgap.mirror.plugins.module_utils._products import ess_helm
    found = ess_helm.components(chart.read_text())
    wanted = K.consumer_images({"ess_helm_values": [str(chart)]})
    assert [w.source for w in wanted] == [str(c.source) for c in found if c.enabled]
    assert len(wanted) < len(found)  # a disabled component is not kept
    assert wanted[0].origin.startswith(str(chart) + " ")
