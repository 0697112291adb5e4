"""Kubernetes objects rendered by airgap.mirror, checked against the real tools.

No API server can run here (research/feasibility.md section 4), so every object is:

* compared with what ``kubectl create … --dry-run=client`` (kubectl 1.32, offline) makes from the
  same input, where kubectl has an equivalent: the docker-registry Secret must be identical down to
  the base64 bytes of ``.dockerconfigjson``, the images_digests ConfigMap identical to
  ``kubectl create configmap --from-file``;
* validated with ``kubernetes-validate --strict`` (schemas of a real Kubernetes release, unknown
  fields rejected), through its Python API and its command line;
* checked for DNS-1123 names ourselves (kubernetes-validate does not).

ECK custom resources have no schema in kubernetes-validate; their pod templates are validated as
``v1/PodTemplate`` (with a placeholder container where the operator adds its own).
"""

import base64
import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

import kubernetes_validate

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import k8s as D
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as KI
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import operator as KO
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import plan as KP
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import resources as KR
from ansible_collections.airgap.mirror.plugins.module_utils._products import ess as E
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as M
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as MM
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as MM_model
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R
from support import k8s
from support.k8s import kubectl, same, validate

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "products"


@pytest.fixture(scope="module", autouse=True)
def tools():
    k8s.require_tools()


def validate_cli(tmp_path, objs):
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objs))
    return k8s.validate_cli(path)


# -- docker-registry Secret --------------------------------------------------------------------

PASSWORDS = [
    "simple",
    "p@ss:word with spaces",
    'quote" backslash\\ <html> & \'single\' $HOME `tick` ;|',
    "pä55wörd ✓ 日本語 😀",
    "\x01ctl\b\f\t\nnl\r\x7fdel",
    "\u2028line\u2029para",
    "x" * 3000,
    "=:=:=",
]


@pytest.mark.parametrize("password", PASSWORDS)
@pytest.mark.parametrize("server, username, email", [
    ("mirror.example.com:8443", "ess-pull", None),
    ("registry.corp.net", "ünïcödé user", "ops+pull@corp.net"),
    ("https://index.docker.io/v1/", "u<&>", "e<&>@x"),
])
def test_secret_is_byte_for_byte_what_kubectl_writes(server, username, email, password):
    args = ["create", "secret", "docker-registry", "mirror-pull", "-n", "element-onprem",
            "--docker-server=" + server, "--docker-username=" + username, "--docker-password=" + password]
    if email:
        args.append("--docker-email=" + email)
    theirs = kubectl(*args)
    ours = D.docker_registry_secret("mirror-pull", server, username, password, email=email,
                                    namespace="element-onprem")
    assert ours["data"][".dockerconfigjson"] == theirs["data"][".dockerconfigjson"]
    same(ours, theirs)
    validate(ours)


def test_secret_with_invalid_utf8_password_matches_kubectl():
    raw = b"ab\xffc\xe2\x80d"  # not UTF-8: Go writes U+FFFD per bad byte in JSON, raw bytes in auth
    proc = subprocess.run([k8s.KUBECTL.encode(), b"create", b"secret", b"docker-registry", b"s",
                           b"--docker-server=m", b"--docker-username=u", b"--docker-password=" + raw,
                           b"--dry-run=client", b"-o", b"json"], capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)["data"][".dockerconfigjson"]
    ours = D.docker_registry_secret("s", "m", "u", os.fsdecode(raw))["data"][".dockerconfigjson"]
    assert ours == theirs
    assert b'"auth":"' + base64.b64encode(b"u:" + raw) + b'"' in base64.b64decode(ours)


def test_secret_validates_on_the_command_line_too(tmp_path):
    secret = D.docker_registry_secret("mirror-pull", "m:5000", "u", "p", namespace="ns")
    proc = validate_cli(tmp_path, [secret])
    assert proc.returncode == 0 and "passed" in proc.stdout, proc.stdout + proc.stderr
    broken = copy.deepcopy(secret)
    broken["data"]["bogus"] = 5
    broken["stringdata"] = {}
    proc = validate_cli(tmp_path, [broken])
    assert proc.returncode != 0, "kubernetes-validate accepted a broken Secret: the check cannot fail"


def test_names_are_checked_where_kubernetes_validate_does_not():
    bad = D.docker_registry_secret("ok", "m", "u", "p")
    bad["metadata"]["name"] = "Bad_Name"
    validate(bad)  # kubernetes-validate lets it through ...
    with pytest.raises(D.KubernetesObjectError):  # ... we do not
        D.docker_registry_secret("Bad_Name", "m", "u", "p")


# -- ESS images_digests ConfigMap --------------------------------------------------------------

def ess_mirror_map():
    mapping = M.Mapping("mirror.example.com:8443/ess", mode="keep")
    with open(FIXTURES / "ess-images_digests.yml", encoding="utf-8") as handle:
        tree = yaml.safe_load(handle)["images_digests"]
    entries, seen = [], set()
    for containers in tree.values():
        for spec in containers.values():
            src = R.parse("%s/%s:%s@%s" % (
                spec["image_repository_server"], spec["image_repository_path"], spec["image_tag"], spec["image_digest"]))
            if str(src) in seen:
                continue
            seen.add(str(src))
            entries.append(MM_model.Entry(src, src.digest, "application/vnd.oci.image.index.v1+json",
                                          MM_model.RegistryDestination(mapping.map(src).without_digest()),
                                          platforms=("linux/amd64",), size=1))
    return MM.dumps(entries)


def test_ess_configmap_equals_kubectl_from_file(tmp_path):
    text = (FIXTURES / "ess-images_digests.yml").read_text()
    report = E.override_configmap(text, ess_mirror_map(), "ess-images-digests", "element-onprem")
    ours = report["configmap"]
    data_file = tmp_path / "images_digests"
    data_file.write_text(ours["data"]["images_digests"])
    theirs = kubectl("create", "configmap", "ess-images-digests", "-n", "element-onprem",
                     "--from-file=images_digests=%s" % data_file)
    same(ours, theirs)
    validate(ours)
    assert validate_cli(tmp_path, [ours]).returncode == 0
    tree = yaml.safe_load(ours["data"]["images_digests"])
    assert tree["auditbot"]["haproxy"]["image_repository_server"] == "mirror.example.com:8443"
    assert tree["auditbot"]["haproxy"]["image_repository_path"] == "ess/library/haproxy"


# -- ECK ---------------------------------------------------------------------------------------

def eck_plan(**kw):
    kinds = ["Elasticsearch", "Kibana", "ApmServer", "filebeat", "Agent", "Maps", "Logstash"]
    mapping = M.Mapping("mirror.example.com:5000/elastic", mode="flatten")
    entries = []
    for i, item in enumerate(KI.required_sources("8.16.1", kinds, eck_version="2.16.1")):
        src = R.parse(item["source"])
        digest = "sha256:%064x" % (i + 1)
        entries.append(MM_model.Entry(src, digest, "application/vnd.oci.image.manifest.v1+json",
                                      MM_model.RegistryDestination(mapping.map(src, digest=digest).without_digest()),
                                      size=1))
    options = KP.PlanOptions(stack_version="8.16.1", kinds=tuple(kinds), eck_version="2.16.1", **kw)
    return KP.plan(MM.dumps(entries), options)


def test_patched_operator_manifests_validate(tmp_path):
    with open(FIXTURES / "eck-operator.yaml", encoding="utf-8") as handle:
        docs = yaml.safe_load(handle)["items"]
    for doc in docs:
        validate(doc)  # the fixture itself is valid, so a failure below is ours
    new, changes = KO.patch_operator_manifests(docs, eck_plan(pull_secrets=["mirror-pull"]))
    assert changes
    for doc in new:
        validate(doc)
        D.validate_subdomain(doc["metadata"]["name"])
    proc = validate_cli(tmp_path, new)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_operator_configmap_equals_kubectl_from_file(tmp_path):
    with open(FIXTURES / "eck-operator.yaml", encoding="utf-8") as handle:
        docs = yaml.safe_load(handle)["items"]
    new, _changes = KO.patch_operator_manifests(docs, eck_plan())
    cm = next(d for d in new if d["kind"] == "ConfigMap")
    config = tmp_path / "eck.yaml"
    config.write_text(cm["data"]["eck.yaml"])
    theirs = kubectl("create", "configmap", "elastic-operator", "-n", "elastic-system",
                     "--from-file=eck.yaml=%s" % config)
    ours = {"apiVersion": "v1", "kind": "ConfigMap", "data": cm["data"],
            "metadata": {"name": "elastic-operator", "namespace": "elastic-system"}}
    same(ours, theirs)


def test_resource_pod_templates_validate():
    plan = eck_plan(pull_secrets=["mirror-pull"])
    with open(FIXTURES / "eck-resources.yaml", encoding="utf-8") as handle:
        resources = yaml.safe_load(handle)["items"]
    checked = 0
    for resource in resources:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(resource, k8s.K8S_VERSION, strict=True)
        out = KR.resource_with_mirror(resource, plan, set_image="always")
        assert out["apiVersion"] == KI.KINDS[out["kind"]][0]
        R.parse(out["spec"]["image"])
        templates = KR.pod_templates(copy.deepcopy(out), out["kind"])
        assert templates
        for template in templates:
            spec = copy.deepcopy(template.get("spec", {}))
            spec.setdefault("containers", [{"name": "placeholder", "image": out["spec"]["image"]}])
            validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check"},
                      "template": {"metadata": template.get("metadata", {}), "spec": spec}})
            assert {"name": "mirror-pull"} in spec["imagePullSecrets"]
            checked += 1
    assert checked == 8  # 2 Elasticsearch node sets + one template for each of the 6 other resources


# -- through ansible-playbook ------------------------------------------------------------------

PLAYBOOK = """
- name: Render the mirror objects
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Render the pull secret
      ansible.builtin.set_fact:
        pull_secret: >-
          {{ 'mirror-pull' | airgap.mirror.docker_registry_secret(server, user, password,
                                                                  namespace='element-onprem') }}
      no_log: true

    - name: Keep it for the comparison
      ansible.builtin.copy:
        content: "{{ pull_secret | to_json }}"
        dest: "{{ out }}/secret.json"
        mode: "0600"
      no_log: true

    - name: Render the override ConfigMap
      ansible.builtin.set_fact:
        ess: >-
          {{ lookup('ansible.builtin.file', installer)
             | airgap.mirror.ess_images_digests_override(mirror_map, 'ess-images-digests', 'element-onprem') }}

    - name: Show it
      ansible.builtin.debug:
        var: ess.configmap

    - name: A release with new containers fails, naming them
      ansible.builtin.set_fact:
        next: >-
          {{ lookup('ansible.builtin.file', next_installer)
             | airgap.mirror.ess_images_digests_override(mirror_map, 'ess-images-digests', 'element-onprem') }}
      ignore_errors: true
"""


def test_filters_in_a_playbook_keep_the_secret_out_of_every_output(ansible_run, tmp_path):
    password = "Zq9!pa55<&>wörd"
    res = ansible_run.playbook(PLAYBOOK, extra_vars={
        "server": "mirror.example.com:8443", "user": "ess-pull", "password": password, "out": str(tmp_path),
        "installer": str(FIXTURES / "ess-images_digests.yml"), "mirror_map": ess_mirror_map(),
        "next_installer": str(FIXTURES / "ess-images_digests-next.yml"),
    }, verbosity=2)
    assert res.rc == 0, res.output
    ours = json.loads((tmp_path / "secret.json").read_text())
    theirs = kubectl("create", "secret", "docker-registry", "mirror-pull", "-n", "element-onprem",
                     "--docker-server=mirror.example.com:8443", "--docker-username=ess-pull",
                     "--docker-password=" + password)
    same(ours, theirs)
    encoded = ours["data"][".dockerconfigjson"]
    everything = res.output + json.dumps(res.results)
    assert password not in everything and encoded not in everything
    for name in ("Render the pull secret", "Keep it for the comparison"):
        assert "censored" in json.dumps(res.one(name)["result"])
    cm = res.one("Show it")["result"]["ess.configmap"]
    assert cm["kind"] == "ConfigMap" and "mirror.example.com:8443" in cm["data"]["images_digests"]
    failed = res.one("A release with new containers fails, naming them")
    assert failed["failed"]
    assert "element_web/element_web" in failed["result"]["msg"] and "element_call/sfu" in failed["result"]["msg"]


# The roles ess_mirror and eck_mirror are tested end to end, from a mirror map a real copy wrote,
# in tests/integration/test_ess_eck_roles.py.
