"""Unit tests of the ECK 3.3 PackageRegistry and Kibana packageRegistryRef (_products/eck/package_registry.py),
checked against the CRD schemas of ECK 3.3.0 (fixtures from elastic/cloud-on-k8s, jsonschema).

kubernetes-validate has no schema for custom resources, and ``kubectl --dry-run=client`` needs an API
server's discovery for them, so the CRDs' own openAPIV3Schema (as installed, from all-crds.yaml) is
the check, made strict (unknown fields refused)."""

from __future__ import annotations

import jsonschema
import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as IMG
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import package_registry as PR
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import resources as RES
from support.eck import MIRROR, crd_validate, mirror_map, make_plan, sources

V9 = "9.3.0"
ECK = "3.3.0"


def plain_map(suffix=""):
    stack = sources(("Elasticsearch", "Kibana"), V9, eck_version=ECK, container_suffix=suffix)
    return mirror_map(stack + sources(("PackageRegistry",), V9, eck_version=None))


def test_api_version_by_eck_version():
    assert IMG.package_registry_api_version("3.3.0") == "packageregistry.k8s.elastic.co/v1alpha1"
    assert IMG.package_registry_api_version("v3.5.0") == "packageregistry.k8s.elastic.co/v1alpha1"
    assert IMG.package_registry_api_version(None) == "packageregistry.k8s.elastic.co/v1alpha1"
    with pytest.raises(IMG.ECKError, match="ECK 3.2.0 has no PackageRegistry"):
        IMG.package_registry_api_version("3.2.0")
    # a plan for an older ECK works as long as it does not use the kind
    old = make_plan(plain_map(), V9, ("Kibana",), eck_version="3.2.0", on_missing="warn")
    assert old["package_registry_api_version"] is None
    with pytest.raises(IMG.ECKError, match="ECK 3.2.0 has no PackageRegistry"):
        make_plan(plain_map(), V9, ("Kibana", "epr"), eck_version="3.2.0", on_missing="warn")


def test_registry_mode_renders_the_resource_without_image_and_links_kibana():
    plan = make_plan(plain_map(), V9, ("Elasticsearch", "Kibana", "PackageRegistry"), eck_version=ECK,
                     pull_secrets=["mirror-pull"])
    assert plan["mode"] == "registry" and plan["explicit_images"] == []
    registry = PR.package_registry(plan, name="epr", namespace="elastic")
    assert registry == {
        "apiVersion": "packageregistry.k8s.elastic.co/v1alpha1", "kind": "PackageRegistry",
        "metadata": {"name": "epr", "namespace": "elastic"},
        "spec": {"version": V9, "count": 1,
                 "podTemplate": {"spec": {"imagePullSecrets": [{"name": "mirror-pull"}]}}},
    }
    crd_validate(registry, "eck-3.3.0-packageregistry-schema.json")
    with pytest.raises(jsonschema.ValidationError, match="registryRef"):  # the strict check is real
        crd_validate({**registry, "spec": {**registry["spec"], "registryRef": {}}},
                     "eck-3.3.0-packageregistry-schema.json")
    kibana = {"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana",
              "metadata": {"name": "kb", "namespace": "elastic"}, "spec": {"version": V9, "count": 1}}
    linked = PR.link_kibanas([kibana, registry], registry)
    assert linked[0]["spec"]["packageRegistryRef"] == {"name": "epr"}
    assert "packageRegistryRef" not in kibana["spec"]
    crd_validate(linked[0], "eck-3.3.0-kibana-schema.json")
    other = PR.kibana_with_registry(kibana, "epr", registry_namespace="fleet")
    assert other["spec"]["packageRegistryRef"] == {"name": "epr", "namespace": "fleet"}
    pulls, missing = RES.verify_resources(linked, plan)
    assert missing == [] and pulls[1]["image"] == "%s/package-registry/distribution:lite-%s" % (MIRROR, V9)


def test_wolfi_suffix_sets_an_explicit_image_where_the_map_has_no_variant():
    plan = make_plan(plain_map("-wolfi"), V9, ("Elasticsearch", "Kibana", "PackageRegistry"), eck_version=ECK,
                     container_suffix="-wolfi")
    assert plan["mode"] == "registry" and plan["container_registry"] == MIRROR and plan["missing"] == []
    image = "%s/package-registry/distribution:lite-%s" % (MIRROR, V9)
    assert plan["explicit_images"] == [{
        "kind": "PackageRegistry", "image": image,
        "source": "docker.elastic.co/package-registry/distribution:lite-%s" % V9,
        "reason": "the mirror map has no docker.elastic.co/package-registry/distribution-wolfi:lite-%s (no -wolfi "
                  "variant); spec.image is set to the mirror of docker.elastic.co/package-registry/distribution:"
                  "lite-%s" % (V9, V9)}]
    registry = PR.package_registry(plan)
    assert registry["spec"]["image"] == image
    crd_validate(registry, "eck-3.3.0-packageregistry-schema.json")
    # the same for a resource the user wrote, with the group the documentation spells with a hyphen
    mine = {"apiVersion": "package-registry.k8s.elastic.co/v1alpha1", "kind": "PackageRegistry",
            "metadata": {"name": "r"}, "spec": {"version": V9, "count": 2}}
    out = RES.resource_with_mirror(mine, plan)
    assert out["apiVersion"] == "packageregistry.k8s.elastic.co/v1alpha1" and out["spec"]["image"] == image
    # the suffixed Kibana image is in the map: no spec.image for it
    kibana = RES.resource_with_mirror({"kind": "Kibana", "metadata": {"name": "k"}, "spec": {"version": V9}}, plan)
    assert "image" not in kibana["spec"]
    assert RES.verify_resources([out, kibana], plan)[1] == []
    # never: the operator would pull the -wolfi image, which the map does not have
    bare = RES.resource_with_mirror(mine, plan, set_image="never")
    assert "distribution-wolfi" in RES.verify_resources([bare], plan)[1][0]


def test_required_images_list_the_unsuffixed_image_of_kinds_without_the_variant():
    listed = {i["kind"]: i["source"] for i in IMG.required_sources(V9, ("Kibana", "epr", "maps"),
                                                                   container_suffix="-wolfi")}
    assert listed == {"Kibana": "docker.elastic.co/kibana/kibana-wolfi:9.3.0",
                      "PackageRegistry": "docker.elastic.co/package-registry/distribution:lite-9.3.0",
                      "ElasticMapsServer": "docker.elastic.co/elastic-maps-service/elastic-maps-server:9.3.0"}
    # mirrored as listed, the plan takes them and names the resources that need spec.image
    plan = make_plan(mirror_map(list(listed.values())), V9, ("Kibana", "epr", "maps"), container_suffix="-wolfi")
    assert [e["kind"] for e in plan["explicit_images"]] == ["PackageRegistry", "ElasticMapsServer"]
    assert plan["mode"] == "registry" and plan["missing"] == []


def test_wolfi_without_the_plain_image_is_missing():
    stack = sources(("Elasticsearch", "Kibana"), V9, eck_version=ECK, container_suffix="-wolfi")
    with pytest.raises(IMG.ECKError, match="distribution-wolfi:lite-9.3.0 is not in the mirror map"):
        make_plan(mirror_map(stack), V9, ("Kibana", "PackageRegistry"), eck_version=ECK, container_suffix="-wolfi")


def test_errors_are_named():
    plan = make_plan(plain_map(), V9, ("Kibana", "PackageRegistry"), eck_version=ECK)
    with pytest.raises(IMG.ECKError, match="PackageRegistry name"):
        PR.package_registry(plan, name="Not_A_Name")
    with pytest.raises(IMG.ECKError, match="count"):
        PR.package_registry(plan, count=-1)
    with pytest.raises(IMG.ECKError, match="not 'Elasticsearch'"):
        PR.kibana_with_registry({"kind": "Elasticsearch"}, "epr")
    old = make_plan(plain_map(), V9, ("Kibana",), eck_version="3.2.0", on_missing="warn")
    with pytest.raises(IMG.ECKError, match="ECK 3.3 or later"):
        PR.package_registry(old)
