"""The ESS, ECK and pull-secret filters: registration, argument passing, error conversion."""

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import eck as eck_filters
from ansible_collections.airgap.mirror.plugins.filter import ess as ess_filters
from ansible_collections.airgap.mirror.plugins.filter import k8s_secrets
from support import mirror_maps

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "products")
FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")


def mirror_map(sources, dest="mirror:5000"):
    return mirror_maps.mirror_map(sources, dest=dest, media_type=mirror_maps.MANIFEST)


def test_every_filter_is_registered_and_documented():
    names = {}
    for module in (ess_filters, eck_filters, k8s_secrets):
        names.update(module.FilterModule().filters())
    assert sorted(names) == [
        "docker_registry_secret", "dockerconfigjson", "eck_diagnostic_image", "eck_operator_manifests",
        "eck_package_registry", "eck_package_registry_ref", "eck_plan", "eck_required_images", "eck_resource",
        "ess_helm_values", "ess_images_digests_override", "ess_installer_settings",
    ]
    for name in names:
        with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name


def test_ess_filter_and_its_errors():
    with open(os.path.join(FIXTURES, "ess-images_digests.yml"), encoding="utf-8") as handle:
        installer = handle.read()
    data = yaml.safe_load(installer)["images_digests"]
    sources = sorted({"%s/%s:%s@%s" % (c["image_repository_server"], c["image_repository_path"], c["image_tag"],
                                       c["image_digest"]) for comp in data.values() for c in comp.values()})
    report = ess_filters.ess_images_digests_override(installer, mirror_map(sources), "cm", "ns")
    assert report["configmap"]["metadata"] == {"name": "cm", "namespace": "ns"}
    with pytest.raises(AnsibleFilterError, match="ess_images_digests_override: .*adminbot/pipe"):
        ess_filters.ess_images_digests_override(installer, mirror_map(sources[:2]), "cm", "ns")
    with pytest.raises(AnsibleFilterError, match="DNS-1123"):
        ess_filters.ess_images_digests_override(installer, mirror_map(sources), "CM", "ns")
    with pytest.raises(AnsibleFilterError, match="images\\[0\\]"):
        ess_filters.ess_images_digests_override(installer, "images: [{source: x}]", "cm", "ns")
    assert ess_filters.ess_installer_settings("cm", None, keys={"configmap": "spec.x.imagesDigestsConfigMap"}) == [
        {"key": "spec.x.imagesDigestsConfigMap", "value": "cm"}]
    with pytest.raises(AnsibleFilterError, match="ess_installer_settings: .*no key given"):
        ess_filters.ess_installer_settings("cm", None)


def test_ess_helm_filter_and_its_errors():
    with open(os.path.join(FIXTURES, "ess-helm", "matrix-stack-values.yaml"), encoding="utf-8") as handle:
        chart = handle.read()
    haproxy = "docker.io/library/haproxy:3.2-alpine"
    report = ess_filters.ess_helm_values(chart, mirror_map([haproxy]), "ess-mirror-pull", include=["haproxy"],
                                         header="airgap.mirror")
    assert report["text"].startswith("# airgap.mirror\nhaproxy:\n  image:\n    registry: mirror:5000\n")
    assert yaml.safe_load(report["text"]) == report["values"]
    assert report["values"]["haproxy"]["image"]["pullSecrets"] == [{"name": "ess-mirror-pull"}]
    with pytest.raises(AnsibleFilterError, match="ess_helm_values: 11 component.* of chart/values.yaml .*synapse"):
        ess_filters.ess_helm_values(chart, mirror_map([haproxy]), source_name="chart/values.yaml")
    with pytest.raises(AnsibleFilterError, match="ess_helm_values: .*DNS-1123"):
        ess_filters.ess_helm_values(chart, mirror_map([haproxy]), "Pull_Secret", include=["haproxy"])


def test_secret_filters_never_echo_the_password():
    secret = k8s_secrets.docker_registry_secret("pull", "mirror:5000", "u", "Pa55-Secret", namespace="ns")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert k8s_secrets.dockerconfigjson("mirror:5000", "u", "p").startswith('{"auths":{"mirror:5000":')
    with pytest.raises(AnsibleFilterError) as info:
        k8s_secrets.docker_registry_secret("Bad_Name", "mirror:5000", "u", "Pa55-Secret")
    assert "Pa55-Secret" not in str(info.value)


def test_eck_filters():
    kinds = ["Elasticsearch", "Kibana"]
    sources = [i["source"] for i in eck_filters.eck_required_images("8.16.1", kinds, eck_version="2.16.1")]
    sources.append("docker.elastic.co/eck-dev/support-diagnostics:9.3.1")
    mm = mirror_map(sources)
    plan = eck_filters.eck_plan(mm, "8.16.1", kinds, eck_version="2.16.1", pull_secrets=["pull"])
    assert plan["helm_values"]["config"]["containerRegistry"] == "mirror:5000"
    with open(os.path.join(FIXTURES, "eck-operator.yaml"), encoding="utf-8") as handle:
        docs = yaml.safe_load(handle)["items"]
    new = eck_filters.eck_operator_manifests(docs, plan)
    assert "container-registry: mirror:5000" in new[2]["data"]["eck.yaml"]
    kibana = {"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana", "metadata": {"name": "kb"},
              "spec": {"version": "8.16.1"}}
    assert eck_filters.eck_resource(kibana, plan, set_image="always")["spec"]["image"] == "mirror:5000/kibana/kibana:8.16.1"
    assert eck_filters.eck_diagnostic_image(mm) == "mirror:5000/eck-dev/support-diagnostics:9.3.1"
    with pytest.raises(AnsibleFilterError, match="eck_plan: .*Logstash 8.16.1"):
        eck_filters.eck_plan(mm, "8.16.1", kinds + ["Logstash"])
    assert len(eck_filters.eck_plan(mm, "8.16.1", kinds + ["Logstash"], on_missing="warn")["missing"]) == 1
    with pytest.raises(AnsibleFilterError, match="eck_resource: "):
        eck_filters.eck_resource({"kind": "Pod"}, plan)


def test_eck_resource_filter_names_resources_whose_image_is_not_mirrored():
    kinds = ["Elasticsearch", "Kibana"]
    mm = mirror_map([i["source"] for i in eck_filters.eck_required_images("8.16.1", kinds)])
    plan = eck_filters.eck_plan(mm, "8.16.1", kinds)
    ok = {"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana", "metadata": {"name": "kb", "namespace": "e"},
          "spec": {"version": "8.16.1"}}
    other = dict(ok, metadata={"name": "next", "namespace": "e"}, spec={"version": "8.17.0"})
    assert eck_filters.eck_resource([ok], plan) == [ok]
    with pytest.raises(AnsibleFilterError, match=r"eck_resource: .*Kibana e/next: mirror:5000/kibana/kibana:8.17.0 "
                                                 r"is not in the mirror map") as info:
        eck_filters.eck_resource([ok, other], plan)
    assert "kb:" not in str(info.value)
    assert eck_filters.eck_resource([ok, other], plan, on_missing="warn") == [ok, other]
    with pytest.raises(AnsibleFilterError, match="on_missing"):
        eck_filters.eck_resource(ok, plan, on_missing="ignore")


def test_eck_filters_report_every_user_error_naming_the_filter():
    bad_destination = {"images": [{"source": "docker.elastic.co/kibana/kibana:8.16.1", "digest": "sha256:" + "1" * 64,
                                   "media_type": "x", "destination": "oci::kibana"}]}
    with pytest.raises(AnsibleFilterError, match=r"^eck_plan: <mirror map>: images\[0\]"):
        eck_filters.eck_plan(bad_destination, "8.16.1", ["Kibana"])
    with pytest.raises(AnsibleFilterError, match=r"^eck_diagnostic_image: <mirror map>: images\[0\]"):
        eck_filters.eck_diagnostic_image(bad_destination)
    with pytest.raises(AnsibleFilterError, match="^eck_required_images: '08.16.1' is not a stack version"):
        eck_filters.eck_required_images("08.16.1", ["Kibana"])
    with pytest.raises(AnsibleFilterError, match="^eck_plan: mode must be one of"):
        eck_filters.eck_plan(mirror_map([]), "8.16.1", ["Kibana"], mode="flat")
