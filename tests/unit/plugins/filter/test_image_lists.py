"""Unit tests of the image-list filters (plugins/filter/image_lists.py)."""

import base64
import json
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter.image_lists import FilterModule

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "sources")
FILTERS = FilterModule().filters()
DOCUMENTED = ("microshift_release_images", "ess_images", "elastic_images", "skopeo_sync_images",
              "parse_image_list", "query_images")
PLUGIN_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def slurp(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return {"content": base64.b64encode(handle.read()).decode("ascii"), "encoding": "base64",
                "source": "/usr/share/microshift/release/" + name}


def test_every_filter_is_registered_and_documented():
    assert sorted(FILTERS) == sorted(DOCUMENTED)
    for name in DOCUMENTED:
        assert os.path.isfile(os.path.join(PLUGIN_DIR, name + ".yml")), name


def test_microshift_filter():
    expected = list(json.loads(fixture("release-x86_64.json"))["images"].values())
    assert FILTERS["microshift_release_images"](slurp("release-x86_64.json")) == expected
    with_extra = FILTERS["microshift_release_images"](fixture("release-x86_64.json"), extra=["busybox"])
    assert with_extra == expected + ["docker.io/library/busybox:latest"]
    records = FILTERS["microshift_release_images"](slurp("release-x86_64.json"), records="yes")
    assert records[0]["name"] == "cli" and records[0]["arch"] == "x86_64"


def test_microshift_filter_error_is_ansible_filter_error_naming_file():
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS["microshift_release_images"](slurp("release-malformed.json"))
    assert str(err.value).startswith("airgap.mirror.microshift_release_images: "
                                     "/usr/share/microshift/release/release-malformed.json:7:5: not valid JSON")
    with pytest.raises(AnsibleFilterError, match="extra cannot be combined with records=true"):
        FILTERS["microshift_release_images"](slurp("release-x86_64.json"), extra=["a"], records=True)
    with pytest.raises(AnsibleFilterError, match="option records must be a boolean"):
        FILTERS["microshift_release_images"](slurp("release-x86_64.json"), records="maybe")


def test_ess_filter_records_and_error():
    records = FILTERS["ess_images"](fixture("ess-images_digests.yml"), records=True)
    assert [(r["component"], r["container"]) for r in records][:3] == [
        ("adminbot", "access_element_web"), ("adminbot", "haproxy"), ("adminbot", "pipe")]
    assert len(FILTERS["ess_images"](fixture("ess-images_digests.yml"))) == 3
    with pytest.raises(AnsibleFilterError) as err:
        FILTERS["ess_images"](fixture("ess-images_digests-no-server.yml"), source_name="images_digests.yml")
    assert str(err.value) == ("airgap.mirror.ess_images: images_digests.yml:8: adminbot/pipe: "
                              "no image_repository_server: cannot tell where the image lives")


def test_elastic_filter():
    refs = FILTERS["elastic_images"]("8.16.1", eck_version="3.1.0", include=["eck_operator", "kibana"])
    assert refs == ["docker.elastic.co/eck/eck-operator:3.1.0", "docker.elastic.co/kibana/kibana:8.16.1"]
    records = FILTERS["elastic_images"]("9.0.0", include=["elastic_agent"], records=True, ubi_only="true")
    assert records == [{"component": "elastic_agent", "repository": "elastic-agent/elastic-agent", "tag": "9.0.0",
                        "source": "docker.elastic.co/elastic-agent/elastic-agent:9.0.0"}]
    with pytest.raises(AnsibleFilterError, match="airgap.mirror.elastic_images: .*component enterprise_search "
                                                 "was removed in stack 9.0.0"):
        FILTERS["elastic_images"]("9.0.0", include=["enterprise_search"])


def test_skopeo_list_and_query_filters():
    assert FILTERS["skopeo_sync_images"](fixture("skopeo-sync.yml"))[3] == "quay.io/coreos/etcd:latest"
    with pytest.raises(AnsibleFilterError, match="airgap.mirror.skopeo_sync_images: sync.yml:6: .*credentials is not taken"):
        FILTERS["skopeo_sync_images"](fixture("skopeo-sync-regex.yml"), source_name="sync.yml")
    assert FILTERS["parse_image_list"](["nginx"], default_tag="1.25") == ["docker.io/library/nginx:1.25"]
    with pytest.raises(AnsibleFilterError, match=r"airgap.mirror.parse_image_list: refs.txt:2: invalid image"):
        FILTERS["parse_image_list"]("nginx\nNGINX\n", source_name="refs.txt")
    assert FILTERS["query_images"](fixture("vendor.json"), "images.*") == ["quay.io/example/api:2.1"]
    with pytest.raises(AnsibleFilterError, match="airgap.mirror.query_images: <document>: query 'images' gives a map"):
        FILTERS["query_images"](fixture("vendor.json"), "images")
