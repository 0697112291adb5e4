"""Unit tests of the Elastic Stack image catalog (_products/elastic_catalog.py)."""

from __future__ import annotations


import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck.images import ECKError
from ansible_collections.airgap.mirror.plugins.module_utils._products.elastic_catalog import (
    elastic_image_records, elastic_images,
)


def elastic(version, **kwargs):
    return {r["component"]: r for r in elastic_image_records(version, **kwargs)}


def test_elastic_8_16_with_operator_and_diagnostics():
    refs = elastic_images("8.16.1", eck_version="2.16.1", support_diagnostics_version="9.3.1")
    assert refs == [
        "docker.elastic.co/eck/eck-operator:2.16.1",
        "docker.elastic.co/elasticsearch/elasticsearch:8.16.1",
        "docker.elastic.co/kibana/kibana:8.16.1",
        "docker.elastic.co/apm/apm-server:8.16.1",
        "docker.elastic.co/enterprise-search/enterprise-search:8.16.1",
        "docker.elastic.co/beats/elastic-agent:8.16.1",
        "docker.elastic.co/elastic-maps-service/elastic-maps-server:8.16.1",
        "docker.elastic.co/logstash/logstash:8.16.1",
        "docker.elastic.co/beats/filebeat:8.16.1",
        "docker.elastic.co/beats/metricbeat:8.16.1",
        "docker.elastic.co/beats/heartbeat:8.16.1",
        "docker.elastic.co/beats/auditbeat:8.16.1",
        "docker.elastic.co/beats/packetbeat:8.16.1",
        "docker.elastic.co/package-registry/distribution:8.16.1",
        "docker.elastic.co/eck-dev/support-diagnostics:9.3.1",
    ]


def test_elastic_version_rules():
    v9 = elastic("9.1.0", eck_version="3.3.0")
    assert "enterprise_search" not in v9  # removed in 9.0
    assert v9["elastic_agent"]["repository"] == "elastic-agent/elastic-agent"
    assert v9["package_registry_lite"]["source"] == "docker.elastic.co/package-registry/distribution:lite-9.1.0"
    assert "support_diagnostics" not in v9
    assert "package_registry_lite" not in elastic("9.1.0", eck_version="3.2.0")
    v8 = elastic("8.19.0")
    assert v8["enterprise_search"]["source"] == "docker.elastic.co/enterprise-search/enterprise-search:8.19.0"
    assert v8["elastic_agent"]["repository"] == "beats/elastic-agent"
    assert "eck_operator" not in v8 and "journalbeat" not in v8
    v7 = elastic("7.10.2")
    assert "maps_server" not in v7 and "logstash" not in v7
    assert v7["journalbeat"]["source"] == "docker.elastic.co/beats/journalbeat:7.10.2"
    assert "enterprise_search" not in elastic("7.6.2") and "elastic_agent" not in elastic("7.9.3")
    assert "journalbeat" not in elastic("7.16.0")
    # maps server only as UBI images before 8.16.0
    assert elastic("8.11.4")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi8"
    assert elastic("8.15.3")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi"
    assert elastic("7.17.16")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi"
    assert elastic("7.17.15")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi8"
    assert elastic("8.16.0")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server"


def test_elastic_ubi_only_registry_and_repository():
    ubi8 = elastic("8.17.0", ubi_only=True, include=["elasticsearch", "package_registry_lite"])
    assert ubi8["elasticsearch"]["source"] == "docker.elastic.co/elasticsearch/elasticsearch-ubi:8.17.0"
    assert ubi8["package_registry_lite"]["source"] == "docker.elastic.co/package-registry/distribution:lite-8.19.8-ubi"
    assert elastic("8.11.0", ubi_only=True)["kibana"]["repository"] == "kibana/kibana-ubi8"
    assert elastic("9.0.0", ubi_only=True)["kibana"]["repository"] == "kibana/kibana"
    assert elastic("9.0.3", ubi_only=True, include=["package_registry_lite"])["package_registry_lite"]["tag"] == "lite-9.1.8-ubi"
    assert elastic("9.2.1", ubi_only=True, include=["package_registry_lite"])["package_registry_lite"]["tag"] == "lite-9.2.2-ubi"
    assert elastic("9.3.0", ubi_only=True, include=["package_registry_lite"])["package_registry_lite"]["tag"] == "lite-9.3.0-ubi"
    mirrored = elastic("8.16.1", registry="mirror.example.com:8443/elastic", container_repository="stack",
                       eck_version="3.0.0")
    assert mirrored["kibana"] == {"component": "kibana", "repository": "stack/kibana", "tag": "8.16.1",
                                  "source": "mirror.example.com:8443/elastic/stack/kibana:8.16.1"}
    assert mirrored["eck_operator"]["source"] == "mirror.example.com:8443/elastic/eck/eck-operator:3.0.0"
    assert mirrored["package_registry"]["repository"] == "package-registry/distribution"


def test_elastic_operator_variants_and_container_suffix():
    # the eck-operator Helm chart: image.repository + "-ubi" (config.ubiOnly) + "-fips" (image.fips)
    assert elastic("9.1.0", eck_version="3.3.0", ubi_only=True, fips=True)["eck_operator"]["source"] == \
        "docker.elastic.co/eck/eck-operator-ubi-fips:3.3.0"
    assert elastic("9.1.0", eck_version="3.3.0", fips=True)["eck_operator"]["repository"] == "eck/eck-operator-fips"
    # --container-suffix: after the name of every stack image, after the old Maps UBI suffix, not on the operator
    suffixed = elastic("8.15.0", eck_version="3.3.0", container_suffix="-custom")
    assert suffixed["kibana"]["repository"] == "kibana/kibana-custom"
    assert suffixed["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi-custom"
    assert suffixed["package_registry_lite"]["source"] == \
        "docker.elastic.co/package-registry/distribution-custom:lite-8.15.0"
    assert suffixed["eck_operator"]["repository"] == "eck/eck-operator"
    with pytest.raises(ECKError, match="ubi_only and container_suffix cannot be combined"):
        elastic_images("8.15.0", ubi_only=True, container_suffix="-x")
    with pytest.raises(ECKError, match="container_suffix '/x' may only hold"):
        elastic_images("8.15.0", container_suffix="/x")


def test_elastic_include_exclude_groups():
    assert elastic_images("8.16.1", include=["beats"]) == [
        "docker.elastic.co/beats/%s:8.16.1" % b for b in ("filebeat", "metricbeat", "heartbeat", "auditbeat", "packetbeat")]
    comps = list(elastic("8.16.1", exclude=["beats", "apm_server", "package_registry"]))
    assert comps == ["elasticsearch", "kibana", "enterprise_search", "elastic_agent", "maps_server", "logstash"]
    assert list(elastic("9.0.0", include="kibana, elasticsearch")) == ["elasticsearch", "kibana"]


@pytest.mark.parametrize("kwargs, message", [
    ({"include": ["enterprise_search"]}, "component enterprise_search was removed in stack 9.0.0, not in 9.0.1"),
    ({"include": ["eck_operator"]}, "component eck_operator needs eck_version"),
    ({"include": ["support_diagnostics"]}, "needs support_diagnostics_version"),
    ({"include": ["kibanna"]}, "include: unknown component 'kibanna'"),
    ({"exclude": ["x"]}, "exclude: unknown component 'x'"),
    ({"eck_version": "3"}, "eck_version '3' is not a version like 8.16.1"),
    ({"include": ["package_registry_lite"], "eck_version": "3.2.1"}, "is deployed by ECK 3.3.0 and later, not by ECK 3.2.1"),
    ({"registry": "https://docker.elastic.co"}, "registry: give the registry as HOST[:PORT][/NAMESPACE]"),
    ({"container_repository": "Bad Repo"}, "container_repository 'Bad Repo' is not a valid repository path"),
    ({"package_registry_tag": "-x"}, "package_registry_tag: tag '-x' must be"),
])
def test_elastic_errors(kwargs, message):
    with pytest.raises(ECKError) as err:
        elastic_image_records("9.0.1", **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize("version", ["8.16", 8.16, "v8.16.1", "", None])
def test_elastic_bad_stack_version(version):
    with pytest.raises(ECKError, match="stack version .* is not a version like 8.16.1"):
        elastic_images(version)


def test_elastic_pre_release_and_ranges():
    refs = elastic("9.0.0-rc1")
    assert refs["kibana"]["tag"] == "9.0.0-rc1"
    # a 9.0.0 pre-release is before 9.0.0: Enterprise Search still exists, agent moved already
    assert "enterprise_search" in refs


@pytest.mark.parametrize("version", ["9.0.0+build1", "08.16.1"])
def test_elastic_version_with_build_metadata_or_leading_zero_is_refused(version):
    with pytest.raises(ECKError, match="stack version .* is not a version like 8.16.1"):
        elastic_images(version)
