"""The eck_package_registry and eck_package_registry_ref filters: arguments, lists, errors named."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import eck as eck_filters
from support.eck import MIRROR, mirror_map, sources

V9 = "9.3.0"


def wolfi_plan():
    listed = [s["source"] for s in eck_filters.eck_required_images(
        V9, ["Elasticsearch", "Kibana", "PackageRegistry"], eck_version="3.3.0", container_suffix="-wolfi")]
    return eck_filters.eck_plan(mirror_map(listed), V9, ["Elasticsearch", "Kibana", "PackageRegistry"],
                                eck_version="3.3.0", container_suffix="-wolfi", pull_secrets=["pull"])


def test_package_registry_and_kibana_ref():
    plan = wolfi_plan()
    epr = eck_filters.eck_package_registry(plan, name="epr", namespace="elastic", count="2")
    assert epr["apiVersion"] == "packageregistry.k8s.elastic.co/v1alpha1"
    assert epr["spec"]["image"] == "%s/package-registry/distribution:lite-%s" % (MIRROR, V9)
    assert epr["spec"]["count"] == 2 and epr["metadata"] == {"name": "epr", "namespace": "elastic"}
    kibana = {"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana",
              "metadata": {"name": "kb", "namespace": "elastic"}, "spec": {"version": V9}}
    es = {"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", "metadata": {"name": "es"},
          "spec": {"version": V9, "nodeSets": [{"name": "default", "count": 1}]}}
    linked = eck_filters.eck_package_registry_ref([kibana, es], epr)
    assert linked[0]["spec"]["packageRegistryRef"] == {"name": "epr"} and linked[1] == es
    single = eck_filters.eck_package_registry_ref(linked[0], "other")
    assert single["spec"]["packageRegistryRef"] == {"name": "epr"}  # kept without replace
    replaced = eck_filters.eck_package_registry_ref(linked[0], "other", replace=True)
    assert replaced["spec"]["packageRegistryRef"] == {"name": "other"}
    # the whole set passes eck_resource's check against the mirror map
    out = eck_filters.eck_resource(linked + [epr], plan)
    assert out[2]["spec"]["image"] == epr["spec"]["image"] and "image" not in out[0]["spec"]


def test_errors_name_the_filter():
    with pytest.raises(AnsibleFilterError, match="eck_package_registry: .*PackageRegistry name"):
        eck_filters.eck_package_registry(wolfi_plan(), name="No Name")
    old = eck_filters.eck_plan(mirror_map(sources(("Kibana",), V9, eck_version="3.2.0")), V9, ["Kibana"],
                               eck_version="3.2.0")
    with pytest.raises(AnsibleFilterError, match="eck_package_registry: .*ECK 3.3 or later"):
        eck_filters.eck_package_registry(old)
    with pytest.raises(AnsibleFilterError, match="eck_package_registry_ref: .*expected a PackageRegistry"):
        eck_filters.eck_package_registry_ref({"kind": "Kibana", "spec": {}}, {"kind": "Elasticsearch"})
