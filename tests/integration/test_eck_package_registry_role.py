"""airgap.mirror.eck_mirror with eck_mirror_package_registry, run by ansible-playbook on this machine
(install none, no cluster): the ECK 3.3 PackageRegistry rendered from a mirror map, Kibana linked to
it, and the ``-wolfi`` container suffix that the package registry image does not have.

Validation: kubernetes-validate has no schema for custom resources and ``kubectl --dry-run=client``
needs an API server's discovery for them, so the written PackageRegistry and Kibana are checked
against the openAPIV3Schema of their CRDs as ECK 3.3.0 installs them (fixtures from
elastic/cloud-on-k8s all-crds.yaml, strict: unknown fields refused). Not proven: that an ECK
operator reconciles them (no cluster here).
"""

from __future__ import annotations

import pytest
import yaml

from support import mirror_maps
from support.eck import crd_validate

pytestmark = pytest.mark.integration

STACK, ECK = "9.3.0", "3.3.0"
MIRROR = "mirror.example.com:5000"
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - airgap.mirror.eck_mirror
"""


def run(ansible_run, tmp_path, **extra):
    sources = ["docker.elastic.co/elasticsearch/elasticsearch-wolfi:%s" % STACK,
               "docker.elastic.co/kibana/kibana-wolfi:%s" % STACK,
               "docker.elastic.co/package-registry/distribution:lite-%s" % STACK]
    map_file = tmp_path / "mirror-map.yaml"
    map_file.write_text(mirror_maps.mirror_map(sources, dest=MIRROR))
    stack = tmp_path / "stack.yaml"
    stack.write_text(yaml.safe_dump_all([
        {"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana", "metadata": {"name": "kb", "namespace": "elastic"},
         "spec": {"version": STACK, "count": 1, "elasticsearchRef": {"name": "es"}}},
        {"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch",
         "metadata": {"name": "es", "namespace": "elastic"},
         "spec": {"version": STACK, "nodeSets": [{"name": "default", "count": 1}]}},
    ]))
    out = tmp_path / "out"
    variables = {"eck_mirror_map_file": str(map_file), "eck_mirror_stack_version": STACK,
                 "eck_mirror_eck_version": ECK, "eck_mirror_on_missing": "warn",
                 "eck_mirror_container_suffix": "-wolfi", "eck_mirror_resource_files": [str(stack)],
                 "eck_mirror_package_registry": True, "eck_mirror_package_registry_name": "epr",
                 "eck_mirror_package_registry_namespace": "elastic", "eck_mirror_manifest_dir": str(out)}
    variables.update(extra)
    return ansible_run.playbook(PLAY, extra_vars=variables, diff=True), out


def test_package_registry_rendered_linked_and_wolfi_handled(ansible_run, tmp_path):
    res, out = run(ansible_run, tmp_path)
    assert res.rc == 0, res.output
    shown = res.one("airgap.mirror.eck_mirror : Show the plan")["result"]["msg"]
    image = "%s/package-registry/distribution:lite-%s" % (MIRROR, STACK)
    assert shown["mode"] == "registry"
    assert [(e["kind"], e["image"]) for e in shown["explicit_images"]] == [("PackageRegistry", image)]
    kibana, es, epr = yaml.safe_load_all((out / "resources.yaml").read_text())
    assert epr == {"apiVersion": "packageregistry.k8s.elastic.co/v1alpha1", "kind": "PackageRegistry",
                   "metadata": {"name": "epr", "namespace": "elastic"},
                   "spec": {"version": STACK, "count": 1, "image": image}}
    assert kibana["spec"]["packageRegistryRef"] == {"name": "epr"} and "image" not in kibana["spec"]
    assert es["kind"] == "Elasticsearch" and "image" not in es["spec"]
    crd_validate(epr, "eck-3.3.0-packageregistry-schema.json")
    crd_validate(kibana, "eck-3.3.0-kibana-schema.json")
    # the operator's settings: the mirror as container registry, with the -wolfi suffix
    values = yaml.safe_load((out / "eck-operator-values.yaml").read_text())
    assert values["config"]["containerRegistry"] == MIRROR
    assert values["config"]["containerSuffix"] == "-wolfi"


def test_package_registry_needs_eck_3_3(ansible_run, tmp_path):
    res, out = run(ansible_run, tmp_path, eck_mirror_eck_version="3.2.0")
    assert res.rc != 0 and "eck_mirror_package_registry needs ECK 3.3 or later" in res.output
    assert not out.exists()
