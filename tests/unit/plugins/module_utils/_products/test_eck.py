import os

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._products import eck as K
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as M
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import legacy as MM
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "products")
MIRROR = "mirror.example.com:5000"
V = "8.16.1"
KINDS = ("Elasticsearch", "Kibana", "APM Server", "filebeat", "Elastic Agent", "Maps", "Logstash")


def load_all(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["items"]


def mirror_map(sources, dest=MIRROR, mode="keep"):
    mapping = M.Mapping(dest, mode=mode)
    entries = []
    for i, text in enumerate(sources):
        src = R.parse(text)
        digest = "sha256:%064x" % (i + 1)
        entries.append(MM.make_entry(src, digest, "application/vnd.oci.image.index.v1+json",
                                     ["linux/amd64", "linux/arm64"], 1, mapping.map(src, digest=digest).without_digest()))
    return MM.dumps(entries)


def sources(kinds=KINDS, version=V, eck_version="2.16.1", **kw):
    return [s["source"] for s in K.required_sources(version, kinds, eck_version=eck_version, **kw)]


# -- the operator's image naming (ECK container.go) --------------------------------------------

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
    assert K.operator_image(kind, version, container_registry=REG, **kw) == want


def test_beat_types_and_kind_names():
    assert K.operator_image("Beat", "8.16.1", "metricbeat") == "docker.elastic.co/beats/metricbeat:8.16.1"
    assert K.canonical_kind("Beat:packetbeat") == ("Beat", "packetbeat")
    assert K.canonical_kind("Elastic Maps Server") == ("ElasticMapsServer", None)
    assert K.canonical_kind("apm-server") == ("ApmServer", None)
    for bad, message in (("Beat", "name the beat type"), ("Beat:otelbeat", "no default image"),
                         ("Kafka", "unknown Elastic resource kind"), ("Kibana:x", "only Beat")):
        with pytest.raises(K.ECKError, match=message):
            K.canonical_kind(bad)
    with pytest.raises(K.ECKError, match="cannot be combined"):
        K.operator_image("Kibana", "8.16.1", container_suffix="-x", ubi_only=True)
    with pytest.raises(K.ECKError, match="not a stack version"):
        K.operator_image("Kibana", "8.16")


def test_required_sources_list_what_to_mirror():
    got = K.required_sources("9.1.0", ["es", "agent", "epr"], eck_version="3.1.0", ubi_only=True, fips=True)
    assert got == [
        {"kind": "Elasticsearch", "source": "docker.elastic.co/elasticsearch/elasticsearch:9.1.0"},
        {"kind": "Agent", "source": "docker.elastic.co/elastic-agent/elastic-agent:9.1.0"},
        {"kind": "PackageRegistry", "source": "docker.elastic.co/package-registry/distribution:lite-9.1.8-ubi"},
        {"kind": "operator", "source": "docker.elastic.co/eck/eck-operator-ubi-fips:3.1.0"},
    ]


# -- plan: settings derived from the mirror map, then verified --------------------------------

def test_keep_mapping_gives_container_registry():
    plan = K.plan(mirror_map(sources()), V, KINDS, eck_version="2.16.1", pull_secrets=["mirror-pull"])
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
    plan = K.plan(mirror_map(sources(), dest=MIRROR + "/elastic"), V, KINDS)
    assert plan["mode"] == "registry" and plan["container_registry"] == MIRROR + "/elastic"
    assert plan["images"][0]["pull"] == MIRROR + "/elastic/elasticsearch/elasticsearch:8.16.1"


def test_flatten_mapping_gives_container_repository():
    plan = K.plan(mirror_map(sources(), dest=MIRROR + "/elastic", mode="flatten"), V, KINDS, eck_version="2.16.1")
    assert plan["mode"] == "repository"
    assert (plan["container_registry"], plan["container_repository"]) == (MIRROR, "elastic")
    pulls = {i["kind"]: i["pull"] for i in plan["images"]}
    assert pulls["Kibana"] == MIRROR + "/elastic/kibana:8.16.1"
    assert pulls["Agent"] == MIRROR + "/elastic/elastic-agent:8.16.1"
    assert plan["helm_values"]["config"] == {"containerRegistry": MIRROR, "containerRepository": "elastic"}
    assert plan["helm_values"]["image"] == {"repository": MIRROR + "/elastic/eck-operator", "tag": "2.16.1"}
    assert plan["operator_config"]["container-repository"] == "elastic"


def test_flatten_without_namespace_needs_spec_image():
    plan = K.plan(mirror_map(sources(), mode="flatten"), V, KINDS)
    assert plan["mode"] == "image" and plan["container_registry"] is None
    assert plan["resource_images"]["Kibana"] == MIRROR + "/kibana:8.16.1"
    assert "config" not in plan["helm_values"]
    with pytest.raises(K.ECKError, match="cannot be expressed with --container-registry"):
        K.plan(mirror_map(sources(), mode="flatten"), V, KINDS, mode="registry")


def test_missing_images_are_named():
    srcs = [s for s in sources() if "/kibana/" not in s and "/logstash/" not in s]
    with pytest.raises(K.ECKError) as info:
        K.plan(mirror_map(srcs), V, KINDS)
    message = str(info.value)
    assert "Kibana 8.16.1: %s/kibana/kibana:8.16.1 is not in the mirror map" % MIRROR in message
    assert "Logstash 8.16.1" in message and "Elasticsearch" not in message
    plan = K.plan(mirror_map(srcs), V, KINDS, on_missing="warn")
    assert len(plan["missing"]) == 2 and plan["mode"] == "registry"
    assert [i["kind"] for i in plan["images"] if not i["in_mirror"]] == ["Kibana", "Logstash"]


def test_other_stack_version_than_mirrored_is_caught():
    with pytest.raises(K.ECKError, match="none of the images"):
        K.plan(mirror_map(sources()), "8.17.0", KINDS)
    # with the registry given, every image is verified and named
    with pytest.raises(K.ECKError) as info:
        K.plan(mirror_map(sources()), "8.17.0", ["es", "kibana"], container_registry=MIRROR)
    assert "elasticsearch/elasticsearch:8.17.0" in str(info.value) and "kibana/kibana:8.17.0" in str(info.value)


def test_explicit_repository_that_does_not_match_the_mirror():
    with pytest.raises(K.ECKError) as info:
        K.plan(mirror_map(sources()), V, ["Kibana"], container_registry=MIRROR, container_repository="elastic")
    assert "%s/elastic/kibana:8.16.1 is not in the mirror map" % MIRROR in str(info.value)
    assert "the mirror map has docker.elastic.co/kibana/kibana:8.16.1 at %s/kibana/kibana:8.16.1" % MIRROR \
        in str(info.value)


def test_operator_image_missing_and_ubi_fips_suffixes():
    srcs = sources(eck_version=None)
    with pytest.raises(K.ECKError, match="operator 2.16.1: docker.elastic.co/eck/eck-operator:2.16.1"):
        K.plan(mirror_map(srcs), V, KINDS, eck_version="2.16.1")
    plan = K.plan(mirror_map(sources(ubi_only=True, fips=True)), V, KINDS, eck_version="2.16.1", ubi_only=True,
                  fips=True)
    assert plan["helm_values"]["image"] == {"repository": MIRROR + "/eck/eck-operator", "tag": "2.16.1",
                                            "fips": True}
    assert plan["helm_values"]["config"] == {"containerRegistry": MIRROR, "ubiOnly": True}
    assert plan["images"][0]["pull"] == MIRROR + "/elasticsearch/elasticsearch-ubi:8.16.1"


def test_layout_destination_is_refused():
    entry = MM.make_entry(R.parse("docker.elastic.co/kibana/kibana:8.16.1"), "sha256:" + "1" * 64,
                          "application/vnd.oci.image.index.v1+json", [], 1, "oci:/srv/layout:kibana")
    with pytest.raises(K.ECKError, match="OCI layout"):
        K.plan(MM.dumps([entry]), V, ["Kibana"])


# -- operator manifests ------------------------------------------------------------------------

def test_patch_operator_manifests_edits_eck_yaml_surgically():
    docs = load_all("eck-operator.yaml")
    plan = K.plan(mirror_map(sources(), dest=MIRROR + "/elastic", mode="flatten"), V, KINDS,
                  eck_version="2.16.1", pull_secrets=["mirror-pull"])
    new, changes = K.patch_operator_manifests(docs, plan)
    assert docs == load_all("eck-operator.yaml"), "input modified"
    old_cfg = docs[2]["data"]["eck.yaml"]
    cfg = new[2]["data"]["eck.yaml"]
    assert cfg == (old_cfg.replace("container-registry: docker.elastic.co",
                                   "container-registry: %s" % MIRROR)
                   .replace("disable-telemetry: false", "disable-telemetry: true")
                   + "\ncontainer-repository: elastic\n")
    parsed = yaml.safe_load(cfg)
    assert parsed["container-registry"] == MIRROR and parsed["container-repository"] == "elastic"
    assert parsed["disable-telemetry"] is True and parsed["webhook-port"] == 9443
    pod = new[3]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == MIRROR + "/elastic/eck-operator:2.16.1"
    assert pod["containers"][0]["args"] == ["manager", "--config=/conf/eck.yaml"]
    assert pod["imagePullSecrets"] == [{"name": "mirror-pull"}]
    assert len(changes) == 3
    again, changes = K.patch_operator_manifests(new, plan)
    assert again == new and changes == []


def test_patch_operator_registry_mode_removes_a_stale_repository():
    docs = load_all("eck-operator.yaml")
    docs[2]["data"]["eck.yaml"] += "\ncontainer-repository: old"
    plan = K.plan(mirror_map(sources()), V, KINDS, eck_version="2.16.1")
    new, _changes = K.patch_operator_manifests(docs, plan)
    assert "container-repository" not in new[2]["data"]["eck.yaml"]
    assert yaml.safe_load(new[2]["data"]["eck.yaml"])["container-registry"] == MIRROR


def test_patch_operator_flags_without_config_file():
    docs = [d for d in load_all("eck-operator.yaml") if d["kind"] != "ConfigMap"]
    container = docs[-1]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["manager", "--container-registry=docker.elastic.co", "--log-verbosity=0"]
    plan = K.plan(mirror_map(sources(), dest=MIRROR + "/elastic", mode="flatten"), V, KINDS, eck_version="2.16.1")
    new, _changes = K.patch_operator_manifests(docs, plan)
    assert new[-1]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "manager", "--container-registry=%s" % MIRROR, "--log-verbosity=0",
        "--container-repository=elastic", "--disable-telemetry=true"]


def test_patch_operator_needs_the_statefulset():
    with pytest.raises(K.ECKError, match="no StatefulSet 'elastic-operator'"):
        K.patch_operator_manifests(load_all("eck-operator.yaml")[:3], K.plan(mirror_map(sources()), V, KINDS))


# -- Elastic resources -------------------------------------------------------------------------

def test_resources_get_pull_secrets_in_every_pod_template():
    plan = K.plan(mirror_map(sources()), V, KINDS, pull_secrets=["mirror-pull"])
    resources = {d["kind"]: d for d in load_all("eck-resources.yaml")}
    es = K.resource_with_mirror(resources["Elasticsearch"], plan)
    assert "image" not in es["spec"]  # registry mode: the operator picks the image
    for node_set in es["spec"]["nodeSets"]:
        assert node_set["podTemplate"]["spec"]["imagePullSecrets"] == [{"name": "mirror-pull"}]
    # existing pod template content is kept
    assert es["spec"]["nodeSets"][1]["podTemplate"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "4Gi"
    beat = K.resource_with_mirror(resources["Beat"], plan)
    assert beat["spec"]["daemonSet"]["podTemplate"]["spec"]["imagePullSecrets"] == [
        {"name": "existing-secret"}, {"name": "mirror-pull"}]
    agent = K.resource_with_mirror(resources["Agent"], plan)
    assert agent["spec"]["deployment"]["podTemplate"]["spec"]["imagePullSecrets"] == [{"name": "mirror-pull"}]
    kb = K.resource_with_mirror(resources["Kibana"], plan, set_image="always")
    assert kb["spec"]["image"] == MIRROR + "/kibana/kibana:8.16.1"
    assert kb["spec"]["podTemplate"]["spec"]["imagePullSecrets"] == [{"name": "mirror-pull"}]
    assert K.resource_with_mirror(kb, plan, set_image="always") == kb


def test_image_mode_sets_spec_image():
    plan = K.plan(mirror_map(sources(), mode="flatten"), V, KINDS)
    resources = {d["kind"]: d for d in load_all("eck-resources.yaml")}
    got = {k: K.resource_with_mirror(r, plan)["spec"].get("image") for k, r in resources.items()}
    assert got == {
        "Elasticsearch": MIRROR + "/elasticsearch:8.16.1",
        "Kibana": MIRROR + "/kibana:8.16.1",
        "ApmServer": MIRROR + "/apm-server:8.16.1",
        "Beat": MIRROR + "/filebeat:8.16.1",
        "Agent": MIRROR + "/elastic-agent:8.16.1",
        "ElasticMapsServer": MIRROR + "/elastic-maps-server:8.16.1",
        "Logstash": MIRROR + "/logstash:8.16.1",
    }


def test_resource_errors():
    plan = K.plan(mirror_map(sources(), mode="flatten"), V, ["Kibana"])
    resources = {d["kind"]: d for d in load_all("eck-resources.yaml")}
    with pytest.raises(K.ECKError, match="no mirror image for Elasticsearch"):
        K.resource_with_mirror(resources["Elasticsearch"], plan)
    other = dict(resources["Kibana"], spec=dict(resources["Kibana"]["spec"], version="8.17.0"))
    with pytest.raises(K.ECKError, match="differs from the planned stack version"):
        K.resource_with_mirror(other, plan)
    with pytest.raises(K.ECKError, match="not an Elastic resource kind"):
        K.resource_with_mirror({"kind": "Deployment"}, plan)
    with pytest.raises(K.ECKError, match="DNS-1123"):
        K.resource_with_mirror(resources["Kibana"], plan, pull_secrets=["Bad_Secret"])


def test_diagnostic_image():
    mm = mirror_map(sources() + ["docker.elastic.co/eck-dev/support-diagnostics:9.3.1"])
    assert K.diagnostic_image(mm) == MIRROR + "/eck-dev/support-diagnostics:9.3.1"
    assert K.diagnostic_image(mm, "9.3.1") == MIRROR + "/eck-dev/support-diagnostics:9.3.1"
    with pytest.raises(K.ECKError, match="support-diagnostics:8.1.4 is not in the mirror map"):
        K.diagnostic_image(mm, "8.1.4")
    two = mirror_map(["docker.elastic.co/eck-dev/support-diagnostics:9.3.1",
                      "docker.elastic.co/eck-dev/support-diagnostics:9.2.0"])
    with pytest.raises(K.ECKError, match="give the version"):
        K.diagnostic_image(two)


def test_lists_and_empty_documents_are_expanded():
    docs = load_all("eck-operator.yaml")
    wrapped = [None, {"apiVersion": "v1", "kind": "List", "items": docs[:2]}, {}, *docs[2:]]
    assert K.expand_lists(wrapped) == docs
    plan = K.plan(mirror_map(sources()), V, KINDS, eck_version="2.16.1")
    assert K.patch_operator_manifests(wrapped, plan)[0] == K.patch_operator_manifests(docs, plan)[0]
    with pytest.raises(K.ECKError, match="not an object"):
        K.expand_lists(["text"])


# -- one naming implementation: the image list and the operator's verification agree ----------

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
    from ansible_collections.airgap.mirror.plugins.module_utils._sources import read as S

    records = S.elastic_image_records(version, eck_version="3.3.0", exclude=["package_registry"], **options)
    kinds = [COMPONENT_KINDS[r["component"]] for r in records if r["component"] in COMPONENT_KINDS]
    assert len(kinds) == len(records) - 1  # all but the operator
    sources_ = [r["source"] for r in records]

    def plan(overrides=None):
        mm = mirror_map_with(sources_, M.Mapping(mapping[1], mode=mapping[0], overrides=overrides))
        return K.plan(mm, version, kinds, eck_version="3.3.0", on_missing="warn", **options)

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


def mirror_map_with(sources_, mapping):
    entries = []
    for i, text in enumerate(sources_):
        src = R.parse(text)
        digest = "sha256:%064x" % (i + 1)
        entries.append(MM.make_entry(src, digest, "application/vnd.oci.image.manifest.v1+json", [], 1,
                                     mapping.map(src, digest=digest).without_digest()))
    return MM.dumps(entries)


# -- a source registry other than docker.elastic.co, kinds and checks from the resources -------

def test_plan_from_images_mirrored_from_another_registry():
    vendor = "vendor.example.net:5000"
    srcs = [s.replace("docker.elastic.co", vendor, 1) for s in sources()]
    with pytest.raises(K.ECKError, match="none of the images"):
        K.plan(mirror_map(srcs), V, KINDS)  # looked for on docker.elastic.co
    plan = K.plan(mirror_map(srcs), V, KINDS, eck_version="2.16.1", source_registry=vendor)
    assert plan["mode"] == "registry" and plan["container_registry"] == MIRROR
    assert plan["operator"]["image"] == MIRROR + "/eck/eck-operator:2.16.1"
    assert plan["images"][0]["source"] == vendor + "/elasticsearch/elasticsearch:8.16.1"
    assert plan["registries"] == [MIRROR]
    flat = K.plan(mirror_map(srcs, dest=MIRROR + "/elastic", mode="flatten"), V, KINDS, source_registry=vendor)
    assert (flat["mode"], flat["container_repository"]) == ("repository", "elastic")
    assert K.required_sources(V, ["kibana"], eck_version="2.16.1", source_registry=vendor) == [
        {"kind": "Kibana", "source": vendor + "/kibana/kibana:8.16.1"},
        {"kind": "operator", "source": vendor + "/eck/eck-operator:2.16.1"}]
    diag = mirror_map([vendor + "/eck-dev/support-diagnostics:9.3.1"])
    assert K.diagnostic_image(diag, source_registry=vendor) == MIRROR + "/eck-dev/support-diagnostics:9.3.1"
    with pytest.raises(K.ECKError, match="not in the mirror map"):
        K.diagnostic_image(diag)
    with pytest.raises(K.ECKError, match="source registry"):
        K.plan(mirror_map(srcs), V, KINDS, source_registry="Bad Registry")


def test_kinds_come_from_the_resources_too():
    resources = load_all("eck-resources.yaml")
    assert K.resource_kinds(resources) == ["Elasticsearch", "Kibana", "ApmServer", "Beat:filebeat", "Agent",
                                           "ElasticMapsServer", "Logstash"]
    with_image = [dict(resources[1], spec=dict(resources[1]["spec"], image="own/kibana:1"))]
    assert K.resource_kinds(with_image) == []  # the operator pulls its spec.image, not a default
    plan = K.plan(mirror_map(sources()), V, [], resources=resources)
    assert [i["kind"] for i in plan["images"]] == ["Elasticsearch", "Kibana", "ApmServer", "Beat(filebeat)", "Agent",
                                                   "ElasticMapsServer", "Logstash"]
    with pytest.raises(K.ECKError, match="name at least one kind"):
        K.plan(mirror_map(sources()), V, [], resources=with_image)
    with pytest.raises(K.ECKError, match="not an Elastic resource kind"):
        K.resource_kinds([{"kind": "Deployment", "metadata": {"name": "x"}}])


def test_each_resource_is_checked_for_the_image_it_will_pull():
    plan = K.plan(mirror_map(sources()), V, KINDS)
    resources = [K.resource_with_mirror(r, plan) for r in load_all("eck-resources.yaml")]
    pulls, missing = K.verify_resources(resources, plan)
    assert missing == [] and len(pulls) == 7 and all(p["in_mirror"] for p in pulls)
    assert pulls[0] == {"resource": "Elasticsearch elastic/quickstart", "in_mirror": True,
                        "image": MIRROR + "/elasticsearch/elasticsearch:8.16.1"}
    kibana = dict(resources[1], spec=dict(resources[1]["spec"], version="8.17.0"))
    own = dict(resources[2], spec=dict(resources[2]["spec"], image="docker.elastic.co/apm/apm-server:8.16.1"))
    _pulls, missing = K.verify_resources([kibana, own] + resources[3:], plan)
    assert missing == [
        "Kibana elastic/quickstart: %s/kibana/kibana:8.17.0 is not in the mirror map" % MIRROR,
        "ApmServer elastic/apm: docker.elastic.co/apm/apm-server:8.16.1 is not in the mirror map"]
    # a mirror image pinned by digest is found by its digest, a wrong digest is not
    entries = MM.loads(mirror_map(sources()))
    es = next(e for e in entries if "/elasticsearch/" in e["source"])
    pinned = dict(resources[0], spec=dict(resources[0]["spec"], image="%s/elasticsearch/elasticsearch@%s"
                                          % (MIRROR, es["digest"])))
    assert K.verify_resources([pinned], plan)[1] == []
    pinned["spec"]["image"] = "%s/elasticsearch/elasticsearch@sha256:%s" % (MIRROR, "f" * 64)
    assert len(K.verify_resources([pinned], plan)[1]) == 1
    # image mode without spec.image: the operator would go to docker.elastic.co
    image_plan = K.plan(mirror_map(sources(), mode="flatten"), V, KINDS)
    _pulls, missing = K.verify_resources(load_all("eck-resources.yaml"), image_plan)
    assert len(missing) == 7 and "docker.elastic.co/kibana/kibana:8.16.1" in missing[1]
    with pytest.raises(K.ECKError, match="has no default image"):
        K.resource_pull({"kind": "Beat", "metadata": {"name": "b"}, "spec": {"version": V, "type": "otelbeat"}}, plan)
