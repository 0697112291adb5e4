"""Unit tests of Elastic resources and the mirror (_products/eck/resources.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as IMG
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import operator as OP
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import resources as RES
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as MMIO
from support.eck import KINDS, MIRROR, V, load_all, mirror_map, sources, make_plan


def test_resources_get_pull_secrets_in_every_pod_template():
    plan = make_plan(mirror_map(sources()), V, KINDS, pull_secrets=["mirror-pull"])
    resources = {d["kind"]: d for d in load_all("eck-resources.yaml")}
    es = RES.resource_with_mirror(resources["Elasticsearch"], plan)
    assert "image" not in es["spec"]  # registry mode: the operator picks the image
    for node_set in es["spec"]["nodeSets"]:
        assert node_set["podTemplate"]["spec"]["imagePullSecrets"] == [{"name": "mirror-pull"}]
    # existing pod template content is kept
    assert es["spec"]["nodeSets"][1]["podTemplate"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "4Gi"
    beat = RES.resource_with_mirror(resources["Beat"], plan)
    assert beat["spec"]["daemonSet"]["podTemplate"]["spec"]["imagePullSecrets"] == [
        {"name": "existing-secret"}, {"name": "mirror-pull"}]
    agent = RES.resource_with_mirror(resources["Agent"], plan)
    assert agent["spec"]["deployment"]["podTemplate"]["spec"]["imagePullSecrets"] == [{"name": "mirror-pull"}]
    kb = RES.resource_with_mirror(resources["Kibana"], plan, set_image="always")
    assert kb["spec"]["image"] == MIRROR + "/kibana/kibana:8.16.1"
    assert kb["spec"]["podTemplate"]["spec"]["imagePullSecrets"] == [{"name": "mirror-pull"}]
    assert RES.resource_with_mirror(kb, plan, set_image="always") == kb


def test_image_mode_sets_spec_image():
    plan = make_plan(mirror_map(sources(), mode="flatten"), V, KINDS)
    resources = {d["kind"]: d for d in load_all("eck-resources.yaml")}
    got = {k: RES.resource_with_mirror(r, plan)["spec"].get("image") for k, r in resources.items()}
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
    plan = make_plan(mirror_map(sources(), mode="flatten"), V, ["Kibana"])
    resources = {d["kind"]: d for d in load_all("eck-resources.yaml")}
    with pytest.raises(IMG.ECKError, match="no mirror image for Elasticsearch"):
        RES.resource_with_mirror(resources["Elasticsearch"], plan)
    other = dict(resources["Kibana"], spec=dict(resources["Kibana"]["spec"], version="8.17.0"))
    with pytest.raises(IMG.ECKError, match="differs from the planned stack version"):
        RES.resource_with_mirror(other, plan)
    with pytest.raises(IMG.ECKError, match="not an Elastic resource kind"):
        RES.resource_with_mirror({"kind": "Deployment"}, plan)
    with pytest.raises(IMG.ECKError, match="DNS-1123"):
        RES.resource_with_mirror(resources["Kibana"], plan, pull_secrets=["Bad_Secret"])


def test_lists_and_empty_documents_are_expanded():
    docs = load_all("eck-operator.yaml")
    wrapped = [None, {"apiVersion": "v1", "kind": "List", "items": docs[:2]}, {}, *docs[2:]]
    assert RES.expand_lists(wrapped) == docs
    plan = make_plan(mirror_map(sources()), V, KINDS, eck_version="2.16.1")
    assert OP.patch_operator_manifests(wrapped, plan)[0] == OP.patch_operator_manifests(docs, plan)[0]
    with pytest.raises(IMG.ECKError, match="not an object"):
        RES.expand_lists(["text"])


def test_each_resource_is_checked_for_the_image_it_will_pull():
    plan = make_plan(mirror_map(sources()), V, KINDS)
    resources = [RES.resource_with_mirror(r, plan) for r in load_all("eck-resources.yaml")]
    pulls, missing = RES.verify_resources(resources, plan)
    assert missing == [] and len(pulls) == 7 and all(p["in_mirror"] for p in pulls)
    assert pulls[0] == {"resource": "Elasticsearch elastic/quickstart", "in_mirror": True,
                        "image": MIRROR + "/elasticsearch/elasticsearch:8.16.1"}
    kibana = dict(resources[1], spec=dict(resources[1]["spec"], version="8.17.0"))
    own = dict(resources[2], spec=dict(resources[2]["spec"], image="docker.elastic.co/apm/apm-server:8.16.1"))
    _pulls, missing = RES.verify_resources([kibana, own] + resources[3:], plan)
    assert missing == [
        "Kibana elastic/quickstart: %s/kibana/kibana:8.17.0 is not in the mirror map" % MIRROR,
        "ApmServer elastic/apm: docker.elastic.co/apm/apm-server:8.16.1 is not in the mirror map"]
    # a mirror image pinned by digest is found by its digest, a wrong digest is not
    entries = MMIO.loads(mirror_map(sources()))
    es = next(e for e in entries if "/elasticsearch/" in str(e.source))
    pinned = dict(resources[0], spec=dict(resources[0]["spec"], image="%s/elasticsearch/elasticsearch@%s"
                                          % (MIRROR, es.digest)))
    assert RES.verify_resources([pinned], plan)[1] == []
    pinned["spec"]["image"] = "%s/elasticsearch/elasticsearch@sha256:%s" % (MIRROR, "f" * 64)
    assert len(RES.verify_resources([pinned], plan)[1]) == 1
    # image mode without spec.image: the operator would go to docker.elastic.co
    image_plan = make_plan(mirror_map(sources(), mode="flatten"), V, KINDS)
    _pulls, missing = RES.verify_resources(load_all("eck-resources.yaml"), image_plan)
    assert len(missing) == 7 and "docker.elastic.co/kibana/kibana:8.16.1" in missing[1]
    with pytest.raises(IMG.ECKError, match="has no default image"):
        RES.resource_pull({"kind": "Beat", "metadata": {"name": "b"}, "spec": {"version": V, "type": "otelbeat"}}, plan)


def test_a_filtered_image_is_in_the_mirror_by_the_mirror_digest_only():
    """Mirrored with a platforms filter: spec.image pinned to the mirror's digest pulls, pinned to
    the source's (upstream) digest does not (the mirror holds another index)."""
    from support import mirror_maps
    text = mirror_maps.filtered(mirror_map(sources()))
    plan = make_plan(text, V, KINDS)
    resource = RES.resource_with_mirror(load_all("eck-resources.yaml")[0], plan)
    es = next(e for e in MMIO.loads(text) if "/elasticsearch/" in str(e.source))
    assert es.filtered
    by_mirror = dict(resource, spec=dict(resource["spec"], image="%s/elasticsearch/elasticsearch@%s"
                                         % (MIRROR, es.digest)))
    assert RES.verify_resources([by_mirror], plan)[1] == []
    by_source = dict(resource, spec=dict(resource["spec"], image="%s/elasticsearch/elasticsearch@%s"
                                         % (MIRROR, es.source_digest)))
    assert RES.verify_resources([by_source], plan)[1] == [
        "Elasticsearch elastic/quickstart: %s/elasticsearch/elasticsearch@%s is not in the mirror map"
        % (MIRROR, es.source_digest)]
