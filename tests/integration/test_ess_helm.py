"""The ess_mirror role's ``helm`` output end to end, from a mirror map a real copy wrote.

The test bed: the real matrix-stack ``values.yaml`` (tests/unit/fixtures/products/ess-helm, chart
26.8.2-dev at element-hq/ess-helm 83c79817) with every ``registry:`` pointed at a plain "vendor"
registry holding stand-in images under the chart's repository paths and tags; a TLS + htpasswd
"mirror" registry filled by the ``airgap.mirror.mirror`` playbook (``image_mirror``), which writes
the mirror map. Everything but hookshot (disabled in the chart) is mirrored.

What is checked with real tools: the values file against the chart's own ``values.schema.json``
(python-jsonschema, draft 2020-12, on the chart's values with ours merged in as Helm merges them);
every image the values name (``registry/repository@digest`` and ``:tag``) looked up in the mirror
with skopeo, authenticating with the ``.dockerconfigjson`` of the Secret the role wrote; the Secret
against ``kubectl create secret docker-registry --dry-run=client`` and ``kubernetes-validate --strict``.

Not proven here: ``helm`` is not installed, so neither ``helm template``/``install`` with these
values nor the pods the chart renders from them were run; no Kubernetes cluster pulled the images.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._products import ess_helm as H
from support import images as I
from support import k8s
from support.fixtures import require
from support.registry import Registry

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "products" / "ess-helm"
NS = "ess"
PASSWORD = "Mirr0r<&>pa55'\"w0rd"
PLAY = ("- name: Run ess_mirror\n  hosts: localhost\n  gather_facts: false\n"
        "  roles:\n    - role: airgap.mirror.ess_mirror\n")
WRITE = "airgap.mirror.ess_mirror : Write the matrix-stack values file"


@pytest.fixture(scope="module")
def bed(tmp_path_factory, pki):
    require("docker-registry", "skopeo", "htpasswd")
    k8s.require_tools()
    from support.ansible_run import AnsibleRunner

    base = tmp_path_factory.mktemp("ess-helm")
    vendor = Registry(base / "vendor").start()
    mirror = Registry(base / "mirror", tls=True, auth=True, pki=pki, password=PASSWORD).start()
    try:
        # the chart's own values.yaml, each registry: line pointed at the vendor registry, nothing else changed
        text = re.sub(r"(?m)^(\s*registry: ).*$", lambda m: m.group(1) + vendor.host,
                      (CHART / "matrix-stack-values.yaml").read_text())
        chart = base / "values.yaml"
        chart.write_text(text)
        layout = I.OCILayout(base / "oci")
        comps = H.components(text)
        for comp in comps:
            src = comp.source
            img = I.build_image(layout, "ess/%s:%s" % (src.repository, src.tag),
                                layers=[{"ess/" + comp.name: "%s\n%s\n" % (src, os.urandom(8).hex())}])
            I.seed_registry(img, vendor, src.repository, src.tag)
        mirrored = [str(c.source) for c in comps if c.name != "hookshot"]
        runner = AnsibleRunner(base / "mirror-run")
        mirror_map = base / "ess-helm-map.yml"
        res = runner.playbook("airgap.mirror.mirror", extra_vars={
            "mirror_images_images": mirrored, "mirror_images_registry": mirror.host + "/ess",
            "mirror_images_insecure_registries": [vendor.host],
            "mirror_images_dest_username": mirror.username, "mirror_images_dest_password": mirror.password,
            "mirror_images_ca_path": str(mirror.ca_path), "mirror_images_mirror_map": str(mirror_map)})
        assert res.rc == 0, res.output
        yield {"base": base, "vendor": vendor, "mirror": mirror, "chart": chart, "map": mirror_map,
               "components": comps}
    finally:
        vendor.stop()
        mirror.stop()


def role_vars(bed, out, **extra):
    mirror = bed["mirror"]
    variables = {
        "ess_mirror_output": "helm", "ess_mirror_chart_values_file": str(bed["chart"]),
        "ess_mirror_map_file": str(bed["map"]), "ess_mirror_namespace": NS,
        "ess_mirror_helm_values_file": str(out / "mirror-values.yaml"), "ess_mirror_manifest_dir": str(out),
        "ess_mirror_registry_username": mirror.username, "ess_mirror_registry_password": mirror.password,
    }
    variables.update(extra)
    return variables


def leaks(res, mirror):
    everything = res.stdout + res.stderr + json.dumps(res.results)
    basic = base64.b64encode(("%s:%s" % (mirror.username, mirror.password)).encode()).decode()
    return [s for s in (mirror.password, json.dumps(mirror.password)[1:-1], basic) if s in everything]


def test_helm_values_and_secret_from_the_real_mirror_map(bed, ansible_run, skopeo, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    mirror = bed["mirror"]
    out = tmp_path / "out"
    out.mkdir()
    variables = role_vars(bed, out)

    # check mode with diff: says what it would write, writes nothing
    res = ansible_run.playbook(PLAY, extra_vars=variables, check=True, diff=True)
    assert res.rc == 0, res.output
    assert not (out / "mirror-values.yaml").exists() and not (out / "secret.yaml").exists()
    write = res.one(WRITE)
    assert write["changed"] and mirror.host in json.dumps(write["result"].get("diff"))
    assert leaks(res, mirror) == []

    res = ansible_run.playbook(PLAY, extra_vars=variables, diff=True)
    assert res.rc == 0, res.output
    assert res.one(WRITE)["changed"] and leaks(res, mirror) == []
    assert not (out / "configmap.yaml").exists()  # helm output: no ConfigMap
    res = ansible_run.playbook(PLAY, extra_vars=variables)
    assert res.rc == 0 and res.changed == [], res.output  # idempotent

    text = (out / "mirror-values.yaml").read_text()
    assert text.startswith("# Made by the airgap.mirror.ess_mirror role from ")
    assert (out / "mirror-values.yaml").stat().st_mode & 0o777 == 0o644
    values = yaml.safe_load(text)
    chart = yaml.safe_load(bed["chart"].read_text())
    schema = json.loads(gzip.decompress((CHART / "matrix-stack-values.schema.json.gz").read_bytes()))
    validator = jsonschema.Draft202012Validator(schema)
    assert [e.message for e in validator.iter_errors(H.merge(chart, values))] == []

    # every component but the disabled, unmirrored hookshot points at an image really in the mirror,
    # reachable with the Secret's credentials, by digest and by tag
    secret = yaml.safe_load((out / "secret.yaml").read_text())
    auth = tmp_path / "auth.json"
    auth.write_bytes(base64.b64decode(secret["data"][".dockerconfigjson"]))
    found = {}
    for comp in bed["components"]:
        node = values
        for key in comp.path:
            node = node.get(key, {})
        if "image" in node:
            found[comp.name] = node["image"]
    assert sorted(found) == sorted(c.name for c in bed["components"] if c.name != "hookshot")
    for name, image in found.items():
        assert image["registry"] == mirror.host and image["pullSecrets"] == [{"name": "ess-mirror-pull"}], name
        assert image["repository"].startswith("ess/")
        by_digest = "docker://%s/%s@%s" % (image["registry"], image["repository"], image["digest"])
        by_tag = "docker://%s/%s:%s" % (image["registry"], image["repository"], image["tag"])
        assert skopeo.digest_of(by_digest, registry=mirror, authfile=auth) == image["digest"]
        assert skopeo.digest_of(by_tag, registry=mirror, authfile=auth) == image["digest"]
    assert "hookshot" not in values

    # the Secret: what kubectl makes from the same input, valid, 0600
    assert (out / "secret.yaml").stat().st_mode & 0o777 == 0o600
    k8s.validate(secret)
    proc = k8s.validate_cli(out / "secret.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs = k8s.kubectl("create", "secret", "docker-registry", "ess-mirror-pull", "-n", NS,
                         "--docker-server=" + mirror.host, "--docker-username=" + mirror.username,
                         "--docker-password=" + mirror.password)
    theirs["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "airgap.mirror"}
    k8s.same(secret, theirs)


def test_helm_components_not_in_the_map_are_named(bed, ansible_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # the site enables hookshot, which was not mirrored: fatal, named
    site = tmp_path / "site.yaml"
    site.write_text("hookshot:\n  enabled: true\n")
    variables = role_vars(bed, out, ess_mirror_site_values_file=str(site), ess_mirror_registry_username="",
                          ess_mirror_pull_secret="corp-pull")
    res = ansible_run.playbook(PLAY, extra_vars=variables)
    assert res.rc != 0
    failed = res.failed
    assert len(failed) == 1, res.output
    assert "1 component(s) of %s are not in the mirror map: hookshot" % bed["chart"] in failed[0]["result"]["msg"]
    assert not (out / "mirror-values.yaml").exists()

    # a newer chart that adds a component: detected from its values.yaml; a warning when told
    newer = yaml.safe_load(bed["chart"].read_text())
    newer["synapse"]["antivirus"] = {"image": {"registry": bed["vendor"].host, "repository": "element-hq/clamav",
                                               "tag": "1.4"}}
    chart2 = tmp_path / "values-next.yaml"
    chart2.write_text(yaml.safe_dump(newer, sort_keys=False))
    variables = role_vars(bed, out, ess_mirror_chart_values_file=str(chart2), ess_mirror_registry_username="")
    res = ansible_run.playbook(PLAY, extra_vars=variables)
    assert res.rc != 0 and "not in the mirror map: synapse.antivirus (a new chart version" in res.stdout, res.output
    res = ansible_run.playbook(PLAY, extra_vars=dict(variables, ess_mirror_on_missing="warn",
                                                     ess_mirror_pull_secret="corp-pull"))
    assert res.rc == 0, res.output
    assert "synapse.antivirus" in res.stdout + res.stderr  # the warning
    values = yaml.safe_load((out / "mirror-values.yaml").read_text())
    assert "antivirus" not in values["synapse"] and values["synapse"]["image"]["pullSecrets"] == [{"name": "corp-pull"}]
    assert not (out / "secret.yaml").exists()  # no user name, no Secret
