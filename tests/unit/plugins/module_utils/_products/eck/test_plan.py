"""Unit tests of ECK plans: settings derived from the mirror map, then verified (_products/eck/plan.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import diagnostics as DIAG
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as IMG
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import resources as RES
from ansible_collections.airgap.mirror.plugins.module_utils._products import elastic_catalog
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R
from support import mirror_maps
from support.eck import KINDS, MIRROR, V, load_all, mirror_map, sources, make_plan


def test_keep_mapping_gives_container_registry():
    plan = make_plan(mirror_map(sources()), V, KINDS, eck_version="2.16.1", pull_secrets=["mirror-pull"])
    assert plan["mode"] == "registry" and plan["container_registry"] == MIRROR
    assert plan["container_repository"] is None and plan["missing"] == []
    pulls = {i["kind"]: i["pull"] for i in plan["images"]}
    assert pulls["Elasticsearch"] == MIRROR + "/elasticsearch/elasticsearch:8.16.1"
    assert pulls["Beat(filebeat)"] == MIRROR + "/beats/filebeat:8.16.1"
    assert pulls["ElasticMapsServer"] == MIRROR + "/elastic-maps-service/elastic-maps-server:8.16.1"
    assert all(i["in_mirror"] for i in plan["images"])
    assert plan["helm_values"] == {
        "image": {"repository": MIRROR + "/eck/eck-operator", "tag": "2.16.1"},
        "config": {"containerRegistry": MIRROR},
        "telemetry": {"disabled": True},
        "imagePullSecrets": [{"name": "mirror-pull"}],
    }
    assert plan["operator_config"] == {"container-registry": MIRROR, "container-repository": None,
                                       "disable-telemetry": True}


def test_keep_mapping_under_a_namespace_puts_the_namespace_in_the_registry():
    plan = make_plan(mirror_map(sources(), dest=MIRROR + "/elastic"), V, KINDS)
    assert plan["mode"] == "registry" and plan["container_registry"] == MIRROR + "/elastic"
    assert plan["images"][0]["pull"] == MIRROR + "/elastic/elasticsearch/elasticsearch:8.16.1"


def test_flatten_mapping_gives_container_repository():
    plan = make_plan(mirror_map(sources(), dest=MIRROR + "/elastic", mode="flatten"), V, KINDS, eck_version="2.16.1")
    assert plan["mode"] == "repository"
    assert (plan["container_registry"], plan["container_repository"]) == (MIRROR, "elastic")
    pulls = {i["kind"]: i["pull"] for i in plan["images"]}
    assert pulls["Kibana"] == MIRROR + "/elastic/kibana:8.16.1"
    assert pulls["Agent"] == MIRROR + "/elastic/elastic-agent:8.16.1"
    assert plan["helm_values"]["config"] == {"containerRegistry": MIRROR, "containerRepository": "elastic"}
    assert plan["helm_values"]["image"] == {"repository": MIRROR + "/elastic/eck-operator", "tag": "2.16.1"}
    assert plan["operator_config"]["container-repository"] == "elastic"


def test_flatten_without_namespace_needs_spec_image():
    plan = make_plan(mirror_map(sources(), mode="flatten"), V, KINDS)
    assert plan["mode"] == "image" and plan["container_registry"] is None
    assert plan["resource_images"]["Kibana"] == MIRROR + "/kibana:8.16.1"
    assert "config" not in plan["helm_values"]
    with pytest.raises(IMG.ECKError, match="cannot be expressed with --container-registry"):
        make_plan(mirror_map(sources(), mode="flatten"), V, KINDS, mode="registry")


def test_missing_images_are_named():
    srcs = [s for s in sources() if "/kibana/" not in s and "/logstash/" not in s]
    with pytest.raises(IMG.ECKError) as info:
        make_plan(mirror_map(srcs), V, KINDS)
    message = str(info.value)
    assert "Kibana 8.16.1: %s/kibana/kibana:8.16.1 is not in the mirror map" % MIRROR in message
    assert "Logstash 8.16.1" in message and "Elasticsearch" not in message
    plan = make_plan(mirror_map(srcs), V, KINDS, on_missing="warn")
    assert len(plan["missing"]) == 2 and plan["mode"] == "registry"
    assert [i["kind"] for i in plan["images"] if not i["in_mirror"]] == ["Kibana", "Logstash"]


def test_other_stack_version_than_mirrored_is_caught():
    with pytest.raises(IMG.ECKError, match="none of the images"):
        make_plan(mirror_map(sources()), "8.17.0", KINDS)
    # with the registry given, every image is verified and named
    with pytest.raises(IMG.ECKError) as info:
        make_plan(mirror_map(sources()), "8.17.0", ["es", "kibana"], container_registry=MIRROR)
    assert "elasticsearch/elasticsearch:8.17.0" in str(info.value) and "kibana/kibana:8.17.0" in str(info.value)


def test_explicit_repository_that_does_not_match_the_mirror():
    with pytest.raises(IMG.ECKError) as info:
        make_plan(mirror_map(sources()), V, ["Kibana"], container_registry=MIRROR, container_repository="elastic")
    assert "%s/elastic/kibana:8.16.1 is not in the mirror map" % MIRROR in str(info.value)
    assert "the mirror map has docker.elastic.co/kibana/kibana:8.16.1 at %s/kibana/kibana:8.16.1" % MIRROR \
        in str(info.value)


def test_operator_image_missing_and_ubi_fips_suffixes():
    srcs = sources(eck_version=None)
    with pytest.raises(IMG.ECKError, match="operator 2.16.1: docker.elastic.co/eck/eck-operator:2.16.1"):
        make_plan(mirror_map(srcs), V, KINDS, eck_version="2.16.1")
    plan = make_plan(mirror_map(sources(ubi_only=True, fips=True)), V, KINDS, eck_version="2.16.1", ubi_only=True,
                     fips=True)
    assert plan["helm_values"]["image"] == {"repository": MIRROR + "/eck/eck-operator", "tag": "2.16.1",
                                            "fips": True}
    assert plan["helm_values"]["config"] == {"containerRegistry": MIRROR, "ubiOnly": True}
    assert plan["images"][0]["pull"] == MIRROR + "/elasticsearch/elasticsearch-ubi:8.16.1"


def test_layout_destination_is_refused():
    entry = mirror_maps.entry("docker.elastic.co/kibana/kibana:8.16.1", "sha256:" + "1" * 64, "oci:/srv/layout:kibana")
    with pytest.raises(IMG.ECKError, match="OCI layout"):
        make_plan(mirror_maps.dumps([entry]), V, ["Kibana"])


# component of airgap.mirror.elastic_images -> the ECK kind whose default image it is (written
# out here, independently of both modules)
COMPONENT_KINDS = {
    "elasticsearch": "Elasticsearch", "kibana": "Kibana", "apm_server": "ApmServer",
    "enterprise_search": "EnterpriseSearch", "elastic_agent": "Agent", "maps_server": "ElasticMapsServer",
    "logstash": "Logstash", "filebeat": "filebeat", "metricbeat": "metricbeat", "heartbeat": "heartbeat",
    "auditbeat": "auditbeat", "packetbeat": "packetbeat", "journalbeat": "journalbeat",
    "package_registry_lite": "PackageRegistry",
}


@pytest.mark.parametrize("version", ["7.10.2", "7.15.2", "7.17.15", "7.17.16", "8.7.0", "8.11.4", "8.12.0",
                                     "8.16.0", "8.16.1", "8.19.7", "8.19.8", "9.0.3", "9.1.2", "9.2.1", "9.3.0"])
@pytest.mark.parametrize("options", [{}, {"ubi_only": True}, {"container_suffix": "-custom"}],
                         ids=["default", "ubi", "suffix"])
@pytest.mark.parametrize("mapping", [("keep", MIRROR), ("flatten", MIRROR + "/elastic")], ids=["keep", "flatten"])
def test_every_listed_image_is_what_the_operator_is_verified_to_pull(version, options, mapping):
    """Mirror exactly what airgap.mirror.elastic_images lists for a stack + ECK version; the plan for
    every kind of that version must then find every image the operator pulls (and the operator),
    in --container-registry mode (keep) or --container-repository mode (flatten)."""
    records = elastic_catalog.elastic_image_records(version, eck_version="3.3.0", exclude=["package_registry"], **options)
    kinds = [COMPONENT_KINDS[r["component"]] for r in records if r["component"] in COMPONENT_KINDS]
    assert len(kinds) == len(records) - 1  # all but the operator
    sources_ = [r["source"] for r in records]

    def plan(overrides=None):
        mm = mirror_maps.mirror_map(sources_, media_type=mirror_maps.MANIFEST,
                                    mapping=M.Mapping(mapping[1], mode=mapping[0], overrides=overrides))
        return make_plan(mm, version, kinds, eck_version="3.3.0", on_missing="warn", **options)

    overrides = None
    if mapping[0] == "flatten" and "PackageRegistry" in kinds:
        # the operator ignores --container-repository for the Package Registry: flattened, it is
        # named as missing, and an override keeping its path under the registry makes it resolve
        epr = next(r for r in records if r["component"] == "package_registry_lite")
        missing = plan()["missing"]
        assert len(missing) == 1 and missing[0].startswith("PackageRegistry %s: %s/%s:%s is not in the mirror map"
                                                           % (version, MIRROR, epr["repository"], epr["tag"]))
        overrides = {R.parse(epr["source"]).name: epr["repository"]}
    result = plan(overrides)
    assert result["missing"] == [] and all(i["in_mirror"] for i in result["images"])
    assert result["mode"] == {"keep": "registry", "flatten": "repository"}[mapping[0]]
    # and the other way round: what the plan names as sources is exactly the list
    assert sorted(i["source"] for i in result["images"]) == sorted(
        r["source"] for r in records if r["component"] != "eck_operator")


def test_plan_from_images_mirrored_from_another_registry():
    vendor = "vendor.example.net:5000"
    srcs = [s.replace("docker.elastic.co", vendor, 1) for s in sources()]
    with pytest.raises(IMG.ECKError, match="none of the images"):
        make_plan(mirror_map(srcs), V, KINDS)  # looked for on docker.elastic.co
    plan = make_plan(mirror_map(srcs), V, KINDS, eck_version="2.16.1", source_registry=vendor)
    assert plan["mode"] == "registry" and plan["container_registry"] == MIRROR
    assert plan["operator"]["image"] == MIRROR + "/eck/eck-operator:2.16.1"
    assert plan["images"][0]["source"] == vendor + "/elasticsearch/elasticsearch:8.16.1"
    assert plan["registries"] == [MIRROR]
    flat = make_plan(mirror_map(srcs, dest=MIRROR + "/elastic", mode="flatten"), V, KINDS, source_registry=vendor)
    assert (flat["mode"], flat["container_repository"]) == ("repository", "elastic")
    assert IMG.required_sources(V, ["kibana"], eck_version="2.16.1", source_registry=vendor) == [
        {"kind": "Kibana", "source": vendor + "/kibana/kibana:8.16.1"},
        {"kind": "operator", "source": vendor + "/eck/eck-operator:2.16.1"}]
    diag = mirror_map([vendor + "/eck-dev/support-diagnostics:9.3.1"])
    assert DIAG.diagnostic_image(diag, source_registry=vendor) == MIRROR + "/eck-dev/support-diagnostics:9.3.1"
    with pytest.raises(IMG.ECKError, match="not in the mirror map"):
        DIAG.diagnostic_image(diag)
    with pytest.raises(IMG.ECKError, match="source registry"):
        make_plan(mirror_map(srcs), V, KINDS, source_registry="Bad Registry")


def test_kinds_come_from_the_resources_too():
    resources = load_all("eck-resources.yaml")
    assert RES.resource_kinds(resources) == ["Elasticsearch", "Kibana", "ApmServer", "Beat:filebeat", "Agent",
                                             "ElasticMapsServer", "Logstash"]
    with_image = [dict(resources[1], spec=dict(resources[1]["spec"], image="own/kibana:1"))]
    assert RES.resource_kinds(with_image) == []  # the operator pulls its spec.image, not a default
    plan = make_plan(mirror_map(sources()), V, [], resources=resources)
    assert [i["kind"] for i in plan["images"]] == ["Elasticsearch", "Kibana", "ApmServer", "Beat(filebeat)", "Agent",
                                                   "ElasticMapsServer", "Logstash"]
    with pytest.raises(IMG.ECKError, match="name at least one kind"):
        make_plan(mirror_map(sources()), V, [], resources=with_image)
    with pytest.raises(IMG.ECKError, match="not an Elastic resource kind"):
        RES.resource_kinds([{"kind": "Deployment", "metadata": {"name": "x"}}])
