"""Unit tests of the operator's own manifests (_products/eck/operator.py)."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as IMG
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import operator as OP
from support.eck import KINDS, MIRROR, V, load_all, mirror_map, sources, make_plan


def test_patch_operator_manifests_edits_eck_yaml_surgically():
    docs = load_all("eck-operator.yaml")
    plan = make_plan(mirror_map(sources(), dest=MIRROR + "/elastic", mode="flatten"), V, KINDS,
                     eck_version="2.16.1", pull_secrets=["mirror-pull"])
    new, changes = OP.patch_operator_manifests(docs, plan)
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
    again, changes = OP.patch_operator_manifests(new, plan)
    assert again == new and changes == []


def test_patch_operator_registry_mode_removes_a_stale_repository():
    docs = load_all("eck-operator.yaml")
    docs[2]["data"]["eck.yaml"] += "\ncontainer-repository: old"
    plan = make_plan(mirror_map(sources()), V, KINDS, eck_version="2.16.1")
    new, _changes = OP.patch_operator_manifests(docs, plan)
    assert "container-repository" not in new[2]["data"]["eck.yaml"]
    assert yaml.safe_load(new[2]["data"]["eck.yaml"])["container-registry"] == MIRROR


def test_patch_operator_flags_without_config_file():
    docs = [d for d in load_all("eck-operator.yaml") if d["kind"] != "ConfigMap"]
    container = docs[-1]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["manager", "--container-registry=docker.elastic.co", "--log-verbosity=0"]
    plan = make_plan(mirror_map(sources(), dest=MIRROR + "/elastic", mode="flatten"), V, KINDS, eck_version="2.16.1")
    new, _changes = OP.patch_operator_manifests(docs, plan)
    assert new[-1]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "manager", "--container-registry=%s" % MIRROR, "--log-verbosity=0",
        "--container-repository=elastic", "--disable-telemetry=true"]


def test_patch_operator_needs_the_statefulset():
    with pytest.raises(IMG.ECKError, match="no StatefulSet 'elastic-operator'"):
        OP.patch_operator_manifests(load_all("eck-operator.yaml")[:3], make_plan(mirror_map(sources()), V, KINDS))
