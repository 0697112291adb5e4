"""Unit tests of the ESS installer's images_digests.yml (_sources/ess_images.py)."""

from __future__ import annotations


import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._sources.ess_images import (
    read_ess_images, ess_image_records,
)
from ansible_collections.airgap.mirror.plugins.module_utils._sources.documents import SourceError
from support.sources import fixture


def test_ess_fixture_records_and_dedupe():
    data = yaml.safe_load(fixture("ess-images_digests.yml"))["images_digests"]
    expected_records = []
    for component, containers in data.items():
        for container, e in containers.items():
            source = "%s/%s:%s@%s" % (e["image_repository_server"], e["image_repository_path"],
                                      e["image_tag"], e["image_digest"])
            expected_records.append((component, container, source))
    records = ess_image_records(fixture("ess-images_digests.yml"), "images_digests.yml")
    assert [(r["component"], r["container"], r["source"]) for r in records] == expected_records
    assert len(records) == 6
    refs = read_ess_images(fixture("ess-images_digests.yml"))
    assert refs == list(dict.fromkeys(source for _c, _n, source in expected_records))
    assert len(refs) == 3
    haproxy = records[1]
    assert haproxy == {
        "component": "adminbot", "container": "haproxy",
        "source": "docker.io/library/haproxy:2.8-alpine@sha256:"
                  "75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6",
        "server": "docker.io", "path": "library/haproxy", "tag": "2.8-alpine",
        "digest": "sha256:75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6",
    }


def test_ess_entry_without_digest_or_tag():
    records = {(r["component"], r["container"]): r
               for r in ess_image_records(fixture("ess-images_digests-mixed.yml"), "mixed.yml")}
    synapse = records[("synapse", "synapse")]
    assert synapse["source"] == "ghcr.io/element-hq/synapse:v1.120.0"
    assert synapse["digest"] is None
    haproxy = records[("synapse", "haproxy")]
    assert haproxy["source"] == ("docker.io/library/haproxy@sha256:"
                                 "75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6")
    assert haproxy["tag"] is None
    # unquoted 1.10 stays "1.10" when the text is read here, and an empty digest is no digest
    assert records[("element_web", "element_web")]["source"] == "docker.io/element-hq/element-web:1.10"


def test_ess_parsed_yaml_float_tag_is_refused():
    data = yaml.safe_load(fixture("ess-images_digests-mixed.yml"))
    assert data["images_digests"]["element_web"]["element_web"]["image_tag"] == 1.1  # what from_yaml does
    with pytest.raises(SourceError) as err:
        read_ess_images(data, "mixed.yml")
    assert "element_web/element_web: image_tag was read as the number 1.1" in str(err.value)


def test_ess_entry_without_server_is_an_error_naming_component_container():
    with pytest.raises(SourceError) as err:
        read_ess_images(fixture("ess-images_digests-no-server.yml"), "images_digests.yml")
    assert str(err.value) == ("images_digests.yml:8: adminbot/pipe: no image_repository_server: "
                              "cannot tell where the image lives")


@pytest.mark.parametrize("text, message", [
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n      image_tag: '1'\n",
     "x.yml:3: a/b: no image_repository_path"),
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n"
     "      image_repository_path: library/x\n",
     "x.yml:3: a/b: neither image_tag nor image_digest"),
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n"
     "      image_repository_path: Library/X\n      image_tag: '1'\n",
     "x.yml:3: a/b: invalid image reference 'docker.io/Library/X:1': repository name must be lower-case"),
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n"
     "      image_repository_path: library/x\n      image_digest: sha256:abc\n",
     "a/b: invalid image reference"),
    ("images_digests:\n  a: [1, 2]\n", "x.yml:2: a: expected a map of container to image, got a list"),
    ("images_digests:\n  a:\n    b: docker.io/x\n", "x.yml:3: a/b: expected a map"),
    ("other: 1\n", "x.yml: no 'images_digests' key"),
    ("images_digests: [a]\n", "x.yml:1: 'images_digests' is a list"),
    ("images_digests:\n  a:\n  b: [\n", "x.yml:4:1: not valid YAML"),
    ("images_digests:\n  a: {}\n  a: {}\n", "x.yml:3: duplicate key 'a' (lines 2 and 3)"),
])
def test_ess_errors(text, message):
    with pytest.raises(SourceError) as err:
        read_ess_images(text, "x.yml")
    assert message in str(err.value)
