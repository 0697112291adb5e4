"""Unit tests of the operator's image naming (_products/eck/images.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as IMG


REG = "my.docker.registry.com:8080"


@pytest.mark.parametrize("kind, version, kw, want", [
    ("ApmServer", "7.5.2", {}, REG + "/apm/apm-server:7.5.2"),
    ("Elasticsearch", "42.0.0", {"container_repository": "elastic"}, REG + "/elastic/elasticsearch:42.0.0"),
    ("Kibana", "8.16.1", {"container_suffix": "-custom"}, REG + "/kibana/kibana-custom:8.16.1"),
    ("ElasticMapsServer", "7.17.16", {"container_repository": "elastic"}, REG + "/elastic/elastic-maps-server-ubi:7.17.16"),
    ("ElasticMapsServer", "7.17.15", {"container_repository": "elastic"}, REG + "/elastic/elastic-maps-server-ubi8:7.17.15"),
    ("ElasticMapsServer", "8.12.0", {"ubi_only": True}, REG + "/elastic-maps-service/elastic-maps-server-ubi:8.12.0"),
    ("ElasticMapsServer", "8.11.0", {"ubi_only": True}, REG + "/elastic-maps-service/elastic-maps-server-ubi8:8.11.0"),
    ("ElasticMapsServer", "8.16.0", {}, REG + "/elastic-maps-service/elastic-maps-server:8.16.0"),
    ("ElasticMapsServer", "8.15.3", {}, REG + "/elastic-maps-service/elastic-maps-server-ubi:8.15.3"),
    ("Elasticsearch", "8.16.1", {"ubi_only": True}, REG + "/elasticsearch/elasticsearch-ubi:8.16.1"),
    ("Elasticsearch", "7.17.10", {"ubi_only": True}, REG + "/elasticsearch/elasticsearch-ubi8:7.17.10"),
    ("Elasticsearch", "9.0.0", {"ubi_only": True}, REG + "/elasticsearch/elasticsearch:9.0.0"),
    ("Agent", "8.16.1", {}, REG + "/beats/elastic-agent:8.16.1"),
    ("Agent", "9.0.0", {}, REG + "/elastic-agent/elastic-agent:9.0.0"),
    ("Agent", "9.0.0", {"container_repository": "elastic"}, REG + "/elastic/elastic-agent:9.0.0"),
    ("PackageRegistry", "8.16.1", {"container_repository": "elastic"}, REG + "/package-registry/distribution:lite-8.16.1"),
    ("PackageRegistry", "8.16.1", {"ubi_only": True}, REG + "/package-registry/distribution:lite-8.19.8-ubi"),
    ("PackageRegistry", "9.1.2", {"ubi_only": True}, REG + "/package-registry/distribution:lite-9.1.8-ubi"),
    ("PackageRegistry", "9.2.0", {"ubi_only": True}, REG + "/package-registry/distribution:lite-9.2.2-ubi"),
    ("PackageRegistry", "9.3.0", {"ubi_only": True}, REG + "/package-registry/distribution:lite-9.3.0-ubi"),
])
def test_operator_image_naming(kind, version, kw, want):
    assert IMG.operator_image(kind, version, container_registry=REG, **kw) == want


def test_beat_types_and_kind_names():
    assert IMG.operator_image("Beat", "8.16.1", "metricbeat") == "docker.elastic.co/beats/metricbeat:8.16.1"
    assert IMG.canonical_kind("Beat:packetbeat") == ("Beat", "packetbeat")
    assert IMG.canonical_kind("Elastic Maps Server") == ("ElasticMapsServer", None)
    assert IMG.canonical_kind("apm-server") == ("ApmServer", None)
    for bad, message in (("Beat", "name the beat type"), ("Beat:otelbeat", "no default image"),
                         ("Kafka", "unknown Elastic resource kind"), ("Kibana:x", "only Beat")):
        with pytest.raises(IMG.ECKError, match=message):
            IMG.canonical_kind(bad)
    with pytest.raises(IMG.ECKError, match="cannot be combined"):
        IMG.operator_image("Kibana", "8.16.1", container_suffix="-x", ubi_only=True)
    with pytest.raises(IMG.ECKError, match="not a stack version"):
        IMG.operator_image("Kibana", "8.16")


def test_required_sources_list_what_to_mirror():
    got = IMG.required_sources("9.1.0", ["es", "agent", "epr"], eck_version="3.1.0", ubi_only=True, fips=True)
    assert got == [
        {"kind": "Elasticsearch", "source": "docker.elastic.co/elasticsearch/elasticsearch:9.1.0"},
        {"kind": "Agent", "source": "docker.elastic.co/elastic-agent/elastic-agent:9.1.0"},
        {"kind": "PackageRegistry", "source": "docker.elastic.co/package-registry/distribution:lite-9.1.8-ubi"},
        {"kind": "operator", "source": "docker.elastic.co/eck/eck-operator-ubi-fips:3.1.0"},
    ]
