"""The ESS and ECK roles end to end, from a mirror map a real copy wrote.

The test bed, per module:

* a plain "vendor" registry holding stand-in images (built with ``support.images``) under the real
  repository paths: the ESS images of the installer's ``images_digests.yml`` (the shared fixture's
  shape, server/tag/digest rewritten to point at the vendor registry) and the images of an Elastic
  Stack + ECK version as ``airgap.mirror.elastic_images`` lists them;
* a TLS + htpasswd "mirror" registry, filled by the ``airgap.mirror.mirror`` playbook (the
  ``image_mirror`` module), which writes the mirror maps.

The roles run from those mirror maps. What comes out is checked against real tools: every object
with ``kubernetes-validate --strict`` and, where kubectl has a generator, against
``kubectl create … --dry-run=client -o json`` (the Secrets byte for byte); every image the
configuration names is looked up in the mirror with skopeo, authenticating with the
``.dockerconfigjson`` of the pull Secret the role made.

No Kubernetes API server exists here. The apply path is run against a kubeconfig whose server
address has nothing listening: that proves the ``kubernetes.core`` modules are reached, accept the
arguments the roles give them (definitions, ``apply``, ``server_side_apply.field_manager``,
``hidden_fields``) and that no credential is in those arguments or in any output. It does not prove
that an API server accepts the objects, what server-side apply does with them, or RBAC.
"""

from __future__ import annotations

import base64
import copy
import json
import os
from pathlib import Path

import pytest
import yaml

from support import images as I
from support import k8s
from support.fixtures import require
from support.k8s import kubectl, same, validate
from support.registry import Registry, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = ROOT / "tests" / "unit" / "fixtures" / "products"
ESS_FIXTURE = PRODUCTS / "ess-images_digests.yml"  # a copy of /work/shared/fixtures/ess-images_digests.yml
NS = "element-onprem"
STACK, ECK = "8.16.1", "2.16.1"
DIAG = "9.3.1"
PASSWORD = "Mirr0r<&>pa55'\"w0rd"

# ESS containers that a later release adds (shape of tests/unit/fixtures/products/ess-images_digests-next.yml)
NEW_CONTAINERS = {
    ("element_web", "element_web"): ("vectorim/element-web", "v1.11.50"),
    ("element_call", "sfu"): ("livekit/livekit-server", "v1.5.2"),
}


# -- helpers -----------------------------------------------------------------------------------

def validate_cli(path):
    """kubernetes-validate --strict on a manifest file, as a user would run it."""
    proc = k8s.validate_cli(path)
    assert proc.returncode == 0 and "passed" in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout


def kubectl_secret(name, namespace, server, username, password):
    return kubectl("create", "secret", "docker-registry", name, "-n", namespace, "--docker-server=" + server,
                   "--docker-username=" + username, "--docker-password=" + password)


def authfile_from_secret(secret, path):
    """The Secret's .dockerconfigjson as an auth file, so skopeo pulls with exactly its credentials."""
    path.write_bytes(base64.b64decode(secret["data"][".dockerconfigjson"]))
    os.chmod(path, 0o600)
    return path


def secret_strings(username, password):
    """Every form the credentials could leak in: the password, its JSON escaping, the base64 of
    user:password, and the base64 of each Secret's data is checked by the tests too."""
    escaped = json.dumps(password)[1:-1]
    return {password, escaped, base64.b64encode(("%s:%s" % (username, password)).encode()).decode()}


def assert_nothing_leaks(res, username, password, extra=()):
    everything = res.stdout + res.stderr + json.dumps(res.results)
    for text in secret_strings(username, password) | set(extra):
        assert text not in everything, "a credential is in the output"


def kubeconfig_to_nowhere(path):
    """A kubeconfig whose API server address has nothing listening (port bound, read, closed)."""
    port = free_port()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "nowhere",
        "clusters": [{"name": "nowhere", "cluster": {"server": "https://127.0.0.1:%d" % port,
                                                     "insecure-skip-tls-verify": True}}],
        "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "nobody"}}],
        "users": [{"name": "nobody", "user": {"token": "not-a-token"}}],
    }))
    return path, port


def failed_task(res):
    failed = res.failed
    assert len(failed) == 1, res.output
    return failed[0]


def play(role, hosts="localhost"):
    return ("- name: Run %s\n  hosts: %s\n  gather_facts: false\n  roles:\n    - role: airgap.mirror.%s\n"
            % (role, hosts, role))


# -- the test bed --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bed(tmp_path_factory, pki):
    require("docker-registry", "skopeo", "htpasswd")
    k8s.require_tools()
    base = tmp_path_factory.mktemp("ess-eck")
    vendor = Registry(base / "vendor").start()
    mirror = Registry(base / "mirror", tls=True, auth=True, pki=pki, password=PASSWORD).start()
    try:
        yield {"base": base, "vendor": vendor, "mirror": mirror, "layout": I.OCILayout(base / "oci")}
    finally:
        vendor.stop()
        mirror.stop()


def mirror_playbook(runner, bed, extra, name):
    mirror = bed["mirror"]
    variables = {
        "mirror_images_insecure_registries": [bed["vendor"].host],
        "mirror_images_dest_username": mirror.username, "mirror_images_dest_password": mirror.password,
        "mirror_images_ca_path": str(mirror.ca_path),
        "mirror_images_mirror_map": str(bed["base"] / ("%s.yml" % name)),
    }
    variables.update(extra)
    res = runner.playbook("airgap.mirror.mirror", extra_vars=variables)
    assert res.rc == 0, res.output
    return bed["base"] / ("%s.yml" % name)


@pytest.fixture(scope="module")
def ess(bed, tmp_path_factory):
    """Installer files (release 1 = the fixture's containers, release 2 adds two) pointing at the
    vendor registry, their images seeded there, and release 1 mirrored under <mirror>/ess."""
    from support.ansible_run import AnsibleRunner

    vendor, layout = bed["vendor"], bed["layout"]
    tree = yaml.safe_load(ESS_FIXTURE.read_text())["images_digests"]
    images = {}

    def stand_in(path, tag):
        if (path, tag) not in images:
            img = I.build_image(layout, "ess/%s:%s" % (path, tag),
                                layers=[{"ess/%s" % path.replace("/", "_"): "%s:%s\n%s\n" % (path, tag, os.urandom(8).hex())}])
            I.seed_registry(img, vendor, path, tag)
            images[(path, tag)] = img
        return images[(path, tag)]

    release1 = {}
    for component, containers in tree.items():
        for container, spec in containers.items():
            img = stand_in(spec["image_repository_path"], spec["image_tag"])
            release1.setdefault(component, {})[container] = {
                "image_digest": img.digest, "image_repository_path": spec["image_repository_path"],
                "image_repository_server": vendor.host, "image_tag": spec["image_tag"]}
    release2 = copy.deepcopy(release1)
    for (component, container), (path, tag) in NEW_CONTAINERS.items():
        img = stand_in(path, tag)
        release2.setdefault(component, {})[container] = {
            "image_digest": img.digest, "image_repository_path": path, "image_repository_server": vendor.host,
            "image_tag": tag}
    base = bed["base"]
    files = {}
    for name, body in (("release1", release1), ("release2", release2)):
        files[name] = base / ("images_digests-%s.yml" % name)
        files[name].write_text("# ESS installer images_digests.yml (stand-in images on %s)\n" % vendor.host
                               + yaml.safe_dump({"images_digests": body}, sort_keys=True))
    runner = AnsibleRunner(tmp_path_factory.mktemp("ess-mirror-run"))
    mirror_map = mirror_playbook(runner, bed, {
        "mirror_images_ess_images_digests_files": [str(files["release1"])],
        "mirror_images_registry": bed["mirror"].host + "/ess"}, "ess-map")
    return {"files": files, "release1": release1, "release2": release2, "map": mirror_map, "images": images}


@pytest.fixture(scope="module")
def elastic(bed, tmp_path_factory):
    """The images of stack 8.16.1 + ECK 2.16.1 (+ support-diagnostics) as stand-ins under their real
    paths on the vendor registry, mirrored twice: paths kept (mirror root) and flattened under
    <mirror>/elastic; plus a mirror under <mirror>/partial without Logstash."""
    from ansible_collections.airgap.mirror.plugins.module_utils._products import elastic_catalog as _catalog
    from support.ansible_run import AnsibleRunner

    vendor, layout = bed["vendor"], bed["layout"]
    listing = {"stack_version": STACK, "eck_version": ECK, "registry": vendor.host,
               "support_diagnostics_version": DIAG}
    records = _catalog.elastic_image_records(STACK, eck_version=ECK, registry=vendor.host,
                                             support_diagnostics_version=DIAG)
    for rec in records:
        img = I.build_index(layout, "elastic/%s:%s" % (rec["repository"], rec["tag"]),
                            platforms=("linux/amd64", "linux/arm64")) if rec["component"] == "elasticsearch" else \
            I.build_image(layout, "elastic/%s:%s" % (rec["repository"], rec["tag"]),
                          layers=[{"elastic/%s" % rec["component"]: "%s\n%s\n" % (rec["source"], os.urandom(8).hex())}])
        I.seed_registry(img, vendor, rec["repository"], rec["tag"])
    runner = AnsibleRunner(tmp_path_factory.mktemp("eck-mirror-run"))
    host = bed["mirror"].host
    keep = mirror_playbook(runner, bed, {"mirror_images_elastic": listing, "mirror_images_registry": host},
                           "eck-keep")
    flat = mirror_playbook(runner, bed, {"mirror_images_elastic": listing, "mirror_images_mapping": "flatten",
                                         "mirror_images_registry": host + "/elastic"}, "eck-flat")
    partial = mirror_playbook(runner, bed, {"mirror_images_elastic": dict(listing, exclude=["logstash"]),
                                            "mirror_images_registry": host + "/partial"}, "eck-partial")
    return {"records": records, "keep": keep, "flat": flat, "partial": partial, "listing": listing}


# -- ESS -------------------------------------------------------------------------------------------

def ess_vars(bed, ess, out, **extra):
    mirror = bed["mirror"]
    variables = {
        "ess_mirror_images_digests_file": str(ess["files"]["release1"]),
        "ess_mirror_map_file": str(ess["map"]), "ess_mirror_namespace": NS,
        "ess_mirror_manifest_dir": str(out),
        "ess_mirror_registry_username": mirror.username, "ess_mirror_registry_password": mirror.password,
    }
    variables.update(extra)
    return variables


SETTINGS = """\
# ESS installer settings (shape of ~/.element-enterprise-server/config/deployment.yml; the two
# keys below are what this test configures, not the installer's real ones, which are not public)
apiVersion: matrix.element.io/v1alpha1
kind: ElementDeployment
metadata:
  name: first-element-deployment
  namespace: element-onprem
spec:
  global:
    k8s:
      dockerSecrets:
        - corp-pull  # kept
    config:
      domainName: example.com
"""
SETTINGS_KEYS = {"ess_mirror_settings_configmap_key": "spec.global.k8s.imagesDigestsConfigMap",
                 "ess_mirror_settings_secret_key": "spec.global.k8s.dockerSecrets"}


def test_ess_role_from_the_real_mirror_map(bed, ess, ansible_run, skopeo, tmp_path):
    mirror = bed["mirror"]
    out = tmp_path / "manifests"
    settings = tmp_path / "deployment.yml"
    settings.write_text(SETTINGS)
    variables = ess_vars(bed, ess, out, ess_mirror_settings_file=str(settings), **SETTINGS_KEYS)

    # check mode: reports the changes, writes nothing
    res = ansible_run.playbook("airgap.mirror.configure_ess", extra_vars=variables, check=True, diff=True)
    assert res.rc == 0, res.output
    assert not out.exists() and settings.read_text() == SETTINGS
    changed = {r["task"].split(" : ")[-1] for r in res.changed}
    assert {"Create the manifest directory", "Write the ConfigMap manifest", "Write the pull Secret manifest",
            "Record the ConfigMap and the Secret in the installer settings"} <= changed, changed
    cm_diff = json.dumps(res.one("airgap.mirror.ess_mirror : Write the ConfigMap manifest")["result"].get("diff"))
    assert "images_digests" in cm_diff and mirror.host in cm_diff  # the diff shows what would be written
    assert_nothing_leaks(res, mirror.username, mirror.password)

    res = ansible_run.playbook("airgap.mirror.configure_ess", extra_vars=variables, diff=True)
    assert res.rc == 0, res.output
    assert_nothing_leaks(res, mirror.username, mirror.password)

    # the ConfigMap: the seed's shape, exactly what kubectl makes from the same data, valid
    cm = yaml.safe_load((out / "configmap.yaml").read_text())
    validate(cm)
    validate_cli(out / "configmap.yaml")
    data = tmp_path / "images_digests"
    data.write_text(cm["data"]["images_digests"])
    theirs = kubectl("create", "configmap", "ess-images-digests-mirror", "-n", NS,
                     "--from-file=images_digests=%s" % data)
    theirs["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "airgap.mirror"}
    same(cm, theirs)
    assert list(cm["data"]) == ["images_digests"]
    tree = yaml.safe_load(cm["data"]["images_digests"])
    installer = ess["release1"]
    assert {(c, k) for c in tree for k in tree[c]} == {(c, k) for c in installer for k in installer[c]}
    secret = yaml.safe_load((out / "secret.yaml").read_text())
    auth = authfile_from_secret(secret, tmp_path / "auth.json")
    for component, containers in tree.items():
        for container, fields in containers.items():
            want = installer[component][container]
            assert set(fields) == {"image_repository_server", "image_repository_path", "image_tag", "image_digest"}
            assert fields["image_repository_server"] == mirror.host
            assert fields["image_repository_path"] == "ess/" + want["image_repository_path"]
            assert (fields["image_tag"], fields["image_digest"]) == (want["image_tag"], want["image_digest"])
            # the override names an image that is really in the mirror, reachable with the Secret
            ref = "docker://%s/%s:%s" % (fields["image_repository_server"], fields["image_repository_path"],
                                         fields["image_tag"])
            assert skopeo.digest_of(ref, registry=mirror, authfile=auth) == fields["image_digest"]

    # the Secret: byte for byte what kubectl writes, valid, 0600, and it authenticates to the mirror
    assert (out / "secret.yaml").stat().st_mode & 0o777 == 0o600
    validate(secret)
    validate_cli(out / "secret.yaml")
    theirs = kubectl_secret("ess-mirror-pull", NS, mirror.host, mirror.username, mirror.password)
    assert secret["data"][".dockerconfigjson"] == theirs["data"][".dockerconfigjson"]
    theirs["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "airgap.mirror"}
    same(secret, theirs)
    assert_nothing_leaks(res, mirror.username, mirror.password, extra=[secret["data"][".dockerconfigjson"]])
    with pytest.raises(skopeo.SkopeoError):  # and the check above could fail: a wrong password is refused
        bad = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        bad["auths"][mirror.host]["auth"] = base64.b64encode(b"nobody:wrong").decode()
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        skopeo.digest_of("docker://%s/ess/library/haproxy:2.8-alpine" % mirror.host, registry=mirror,
                         authfile=tmp_path / "bad.json")

    # the installer settings: both names recorded (the list in yaml_setting's flow form), every other
    # line, the comments too, as it was
    assert settings.read_text() == SETTINGS.replace(
        "      dockerSecrets:\n        - corp-pull  # kept\n",
        "      dockerSecrets: [corp-pull, ess-mirror-pull]  # kept\n"
        "      imagesDigestsConfigMap: ess-images-digests-mirror\n")

    # idempotent: nothing changes the second time
    res = ansible_run.playbook("airgap.mirror.configure_ess", extra_vars=variables)
    assert res.rc == 0, res.output
    assert res.changed == [], [r["task"] for r in res.changed]


def test_ess_new_release_fails_naming_the_new_containers(bed, ess, ansible_run, tmp_path):
    out = tmp_path / "manifests"
    variables = ess_vars(bed, ess, out, ess_mirror_images_digests_file=str(ess["files"]["release2"]))
    res = ansible_run.playbook(play("ess_mirror"), extra_vars=variables)
    assert res.rc != 0
    message = failed_task(res)["result"]["msg"]
    assert "2 container(s) of %s are not in the mirror map" % ess["files"]["release2"] in message
    assert "element_web/element_web" in message and "element_call/sfu" in message
    assert "adminbot" not in message and "new ESS release" in message
    assert not out.exists()

    # told to warn, the ConfigMap overrides only what was mirrored and names the rest
    res = ansible_run.playbook(play("ess_mirror"), extra_vars=dict(variables, ess_mirror_on_missing="warn"))
    assert res.rc == 0, res.output
    tree = yaml.safe_load(yaml.safe_load((out / "configmap.yaml").read_text())["data"]["images_digests"])
    assert sorted(tree) == ["adminbot", "auditbot"]
    assert "element_web/element_web" in res.stdout + res.stderr  # the warning


def test_ess_apply_path_reaches_kubernetes_core_without_credentials(bed, ess, ansible_run, tmp_path):
    """kubernetes.core.k8s against a kubeconfig whose server has nothing listening. Proves: the module
    is reached with the role's arguments, the Secret's data is in none of them, nothing leaks, the
    private temporary directory is removed. Does not prove: what an API server would do."""
    mirror = bed["mirror"]
    kubeconfig, port = kubeconfig_to_nowhere(tmp_path / "kubeconfig")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    variables = ess_vars(bed, ess, tmp_path / "unused", ess_mirror_manifest_dir="",
                         ess_mirror_kubeconfig=str(kubeconfig))
    secret_b64 = kubectl_secret("ess-mirror-pull", NS, mirror.host, mirror.username,
                                mirror.password)["data"][".dockerconfigjson"]

    # 1. as shipped: the Secret goes first; its task fails (nothing listens) and says nothing
    res = ansible_run.playbook(play("ess_mirror"), extra_vars=variables, verbosity=3, env=env)
    assert res.rc != 0
    failed = failed_task(res)
    assert failed["task"].endswith("Apply the mirror pull Secret") and failed["action"] == "kubernetes.core.k8s"
    assert "censored" in json.dumps(failed["result"])
    assert_nothing_leaks(res, mirror.username, mirror.password, extra=[secret_b64])
    assert list(tmpdir.iterdir()) == [], "the private directory of the Secret manifest was left behind"

    # 2. the same with the task's no_log off (debugging): its arguments hold no credential either
    res = ansible_run.playbook(play("ess_mirror"), extra_vars=dict(variables, ess_mirror_no_log=False),
                               verbosity=3, env=env)
    assert res.rc != 0
    result = failed_task(res)["result"]
    args = result["invocation"]["module_args"]
    assert args["src"].startswith(str(tmpdir)) and args["src"].endswith("/secret.yaml")
    assert args["apply"] is True and args["server_side_apply"] == {"field_manager": "airgap.mirror"}
    assert args["hidden_fields"] == ["data"] and args["kubeconfig"] == str(kubeconfig)
    assert args.get("definition") is None  # the Secret is only in its 0600 file
    assert "127.0.0.1', port=%d" % port in result["msg"] and "Connection refused" in result["msg"]
    assert_nothing_leaks(res, mirror.username, mirror.password, extra=[secret_b64])
    assert list(tmpdir.iterdir()) == []

    # 3. without a pull Secret the ConfigMap is applied: its definition is the rendered override
    res = ansible_run.playbook(play("ess_mirror"), extra_vars=dict(variables, ess_mirror_registry_username=""),
                               verbosity=3, env=env)
    assert res.rc != 0
    failed = failed_task(res)
    assert failed["task"].endswith("Apply the images_digests override ConfigMap")
    args = failed["result"]["invocation"]["module_args"]
    assert args["apply"] is True and args["server_side_apply"] == {"field_manager": "airgap.mirror"}
    definition = args["definition"]
    validate(definition)
    assert definition["kind"] == "ConfigMap" and definition["metadata"] == {
        "name": "ess-images-digests-mirror", "namespace": NS,
        "labels": {"app.kubernetes.io/managed-by": "airgap.mirror"}}
    tree = yaml.safe_load(definition["data"]["images_digests"])
    assert tree["adminbot"]["haproxy"]["image_repository_server"] == mirror.host
    assert "Connection refused" in failed["result"]["msg"]


# -- ECK -------------------------------------------------------------------------------------------

KINDS = ["Elasticsearch", "Kibana", "ApmServer", "filebeat", "Agent", "ElasticMapsServer", "Logstash"]


def eck_vars(bed, elastic, out, mirror_map="keep", **extra):
    mirror = bed["mirror"]
    variables = {
        "eck_mirror_map_file": str(elastic[mirror_map]), "eck_mirror_stack_version": STACK,
        "eck_mirror_eck_version": ECK, "eck_mirror_source_registry": bed["vendor"].host,
        "eck_mirror_install": "manifests",
        "eck_mirror_operator_manifests_file": str(PRODUCTS / "eck-operator.yaml"),
        "eck_mirror_resource_files": [str(PRODUCTS / "eck-resources.yaml")],
        "eck_mirror_pull_secret_namespaces": ["elastic"],
        "eck_mirror_registry_username": mirror.username, "eck_mirror_registry_password": mirror.password,
        "eck_mirror_diagnostics": True, "eck_mirror_manifest_dir": str(out),
    }
    variables.update(extra)
    return variables


def check_pod_templates(resource):
    """ECK resources have no schema in kubernetes-validate: their pod templates are validated as
    v1/PodTemplate (with a placeholder container where the operator adds its own)."""
    from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import resources as _eck

    templates = _eck.pod_templates(copy.deepcopy(resource), resource["kind"])
    assert templates
    for template in templates:
        spec = copy.deepcopy(template.get("spec", {}))
        spec.setdefault("containers", [{"name": "placeholder", "image": "placeholder"}])
        validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check"},
                  "template": {"metadata": template.get("metadata", {}), "spec": spec}})
        assert {"name": "eck-mirror-pull"} in spec["imagePullSecrets"]
    return len(templates)


@pytest.mark.parametrize("layout", ["keep", "flat"])
def test_eck_role_from_the_real_mirror_map(bed, elastic, ansible_run, skopeo, tmp_path, layout):
    mirror = bed["mirror"]
    out = tmp_path / "out"
    variables = eck_vars(bed, elastic, out, mirror_map=layout)

    res = ansible_run.playbook("airgap.mirror.configure_eck", extra_vars=variables, check=True, diff=True)
    assert res.rc == 0, res.output
    assert not out.exists()
    changed = {r["task"].split(" : ")[-1] for r in res.changed}
    assert changed == {"Create the manifest directory", "Write the Helm values of the eck-operator chart",
                       "Write the operator manifests", "Write the Elastic resources", "Write the --diagnostic-image value",
                       "Write the pull Secrets"}, changed
    values_diff = json.dumps(res.one("airgap.mirror.eck_mirror : Write the Helm values of the eck-operator chart")
                             ["result"].get("diff"))
    assert "containerRegistry" in values_diff and mirror.host in values_diff
    assert_nothing_leaks(res, mirror.username, mirror.password)

    res = ansible_run.playbook("airgap.mirror.configure_eck", extra_vars=variables, diff=True)
    assert res.rc == 0, res.output
    assert_nothing_leaks(res, mirror.username, mirror.password)
    shown = res.one("airgap.mirror.eck_mirror : Show the plan")["result"]["msg"]

    # the settings follow the mirror's layout
    values = yaml.safe_load((out / "eck-operator-values.yaml").read_text())
    if layout == "keep":
        assert shown["mode"] == "registry"
        want_config = {"containerRegistry": mirror.host}
        operator_repo = mirror.host + "/eck/eck-operator"
    else:
        assert shown["mode"] == "repository"
        want_config = {"containerRegistry": mirror.host, "containerRepository": "elastic"}
        operator_repo = mirror.host + "/elastic/eck-operator"
    assert values == {"image": {"repository": operator_repo, "tag": ECK}, "config": want_config,
                      "telemetry": {"disabled": True}, "imagePullSecrets": [{"name": "eck-mirror-pull"}]}

    # every image the operator will pull (and the operator, and eck-diagnostics' image) is in the
    # mirror and reachable with the pull Secret the role made
    secrets = list(yaml.safe_load_all((out / "secrets.yaml").read_text()))
    assert (out / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    assert [s["metadata"]["namespace"] for s in secrets] == ["elastic-system", "elastic"]
    auth = authfile_from_secret(secrets[1], tmp_path / "auth.json")
    diagnostic = (out / "diagnostic-image.txt").read_text().strip()
    assert diagnostic == shown["diagnostic_image"]
    pulls = shown["operator_pulls"] + ["%s:%s" % (values["image"]["repository"], ECK), diagnostic]
    assert len(pulls) == len(KINDS) + 2
    by_source = {r["source"]: r for r in elastic["records"]}
    for pull in pulls:
        assert pull.startswith(mirror.host + "/")
        skopeo.digest_of("docker://" + pull, registry=mirror, authfile=auth)  # raises when absent
    if layout == "keep":  # upstream paths kept: the operator pulls exactly the listed repositories
        for pull in shown["operator_pulls"]:
            assert pull.replace(mirror.host, bed["vendor"].host, 1) in by_source

    # the operator manifests: patched, valid, the config map as kubectl makes it
    operator = list(yaml.safe_load_all((out / "operator.yaml").read_text()))
    for doc in operator:
        validate(doc)
    assert validate_cli(out / "operator.yaml").count("passed") == len(operator) == 4
    cm = next(d for d in operator if d["kind"] == "ConfigMap")
    eck_yaml = yaml.safe_load(cm["data"]["eck.yaml"])
    assert eck_yaml["container-registry"] == mirror.host and eck_yaml["disable-telemetry"] is True
    assert eck_yaml.get("container-repository") == want_config.get("containerRepository")
    (tmp_path / "eck.yaml").write_text(cm["data"]["eck.yaml"])
    theirs = kubectl("create", "configmap", "elastic-operator", "-n", "elastic-system",
                     "--from-file=eck.yaml=%s" % (tmp_path / "eck.yaml"))
    same({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {k: cm["metadata"][k] for k in ("name", "namespace")},
          "data": cm["data"]}, theirs)
    sts = next(d for d in operator if d["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "%s:%s" % (operator_repo, ECK)
    assert pod["imagePullSecrets"] == [{"name": "eck-mirror-pull"}]

    # the resources: pull secrets in every pod template, pod templates valid
    resources = list(yaml.safe_load_all((out / "resources.yaml").read_text()))
    assert sorted(r["kind"] for r in resources) == sorted(
        ["Elasticsearch", "Kibana", "ApmServer", "Beat", "Agent", "ElasticMapsServer", "Logstash"])
    assert sum(check_pod_templates(r) for r in resources) == 8  # 2 Elasticsearch node sets + 6
    assert all("image" not in r["spec"] for r in resources)  # the operator's settings pick the images

    # the Secrets: byte for byte what kubectl writes, valid
    assert validate_cli(out / "secrets.yaml").count("passed") == len(secrets)
    for item in secrets:
        validate(item)
        same(item, kubectl_secret("eck-mirror-pull", item["metadata"]["namespace"], mirror.host,
                                  mirror.username, mirror.password))
        assert_nothing_leaks(res, mirror.username, mirror.password, extra=[item["data"][".dockerconfigjson"]])

    # idempotent
    res = ansible_run.playbook("airgap.mirror.configure_eck", extra_vars=variables)
    assert res.rc == 0, res.output
    assert res.changed == [], [r["task"] for r in res.changed]


def test_eck_image_mode_sets_spec_image_on_every_resource(bed, elastic, ansible_run, skopeo, tmp_path):
    mirror = bed["mirror"]
    out = tmp_path / "out"
    res = ansible_run.playbook(play("eck_mirror"), extra_vars=eck_vars(bed, elastic, out, mirror_map="flat",
                                                                       eck_mirror_mode="image"))
    assert res.rc == 0, res.output
    values = yaml.safe_load((out / "eck-operator-values.yaml").read_text())
    assert "config" not in values  # no registry settings: each resource names its image
    auth = authfile_from_secret(next(yaml.safe_load_all((out / "secrets.yaml").read_text())), tmp_path / "a.json")
    resources = list(yaml.safe_load_all((out / "resources.yaml").read_text()))
    for resource in resources:
        image = resource["spec"]["image"]
        assert image.startswith(mirror.host + "/elastic/") and image.endswith(":" + STACK)
        skopeo.digest_of("docker://" + image, registry=mirror, authfile=auth)
        check_pod_templates(resource)


def test_eck_names_every_image_missing_from_the_mirror(bed, elastic, ansible_run, tmp_path):
    out = tmp_path / "out"
    host = bed["mirror"].host
    # Logstash was left out of this mirror: the operator would pull it, the resources use it
    res = ansible_run.playbook(play("eck_mirror"), extra_vars=eck_vars(bed, elastic, out, mirror_map="partial"))
    assert res.rc != 0
    message = failed_task(res)["result"]["msg"]
    assert "Logstash %s: %s/partial/logstash/logstash:%s is not in the mirror map" % (STACK, host, STACK) in message
    assert "Kibana" not in message and not out.exists()

    # a resource of another stack version than the one planned and mirrored is named
    other = tmp_path / "kibana-8.17.yaml"
    other.write_text(yaml.safe_dump({"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana",
                                     "metadata": {"name": "next", "namespace": "elastic"},
                                     "spec": {"version": "8.17.0", "count": 1}}))
    res = ansible_run.playbook(play("eck_mirror"), extra_vars=eck_vars(
        bed, elastic, out, eck_mirror_resource_files=[str(PRODUCTS / "eck-resources.yaml"), str(other)]))
    assert res.rc != 0
    message = failed_task(res)["result"]["msg"]
    assert "Kibana elastic/next: %s/kibana/kibana:8.17.0 is not in the mirror map" % host in message
    assert "quickstart" not in message

    # a support-diagnostics version that was not mirrored
    res = ansible_run.playbook(play("eck_mirror"), extra_vars=eck_vars(bed, elastic, out,
                                                                       eck_mirror_diagnostics_version="8.1.4"))
    assert res.rc != 0 and "support-diagnostics:8.1.4 is not in the mirror map" in failed_task(res)["result"]["msg"]


def test_eck_apply_path_reaches_kubernetes_core_without_credentials(bed, elastic, ansible_run, tmp_path):
    """As for ESS: a kubeconfig to an address where nothing listens. Each run stops at the first
    Kubernetes task, so four runs reach the four: Secrets, operator manifests, Helm, resources."""
    mirror = bed["mirror"]
    kubeconfig, port = kubeconfig_to_nowhere(tmp_path / "kubeconfig")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"TMPDIR": str(tmpdir)}
    base = eck_vars(bed, elastic, tmp_path / "unused", eck_mirror_manifest_dir="", eck_mirror_kubeconfig=str(kubeconfig))
    secret_b64 = kubectl_secret("eck-mirror-pull", "elastic", mirror.host, mirror.username,
                                mirror.password)["data"][".dockerconfigjson"]

    res = ansible_run.playbook(play("eck_mirror"), extra_vars=base, verbosity=3, env=env)
    failed = failed_task(res)
    assert failed["task"].endswith("Apply the mirror pull Secrets") and "censored" in json.dumps(failed["result"])
    assert_nothing_leaks(res, mirror.username, mirror.password, extra=[secret_b64])
    assert list(tmpdir.iterdir()) == []

    res = ansible_run.playbook(play("eck_mirror"), extra_vars=dict(base, eck_mirror_no_log=False), verbosity=3, env=env)
    result = failed_task(res)["result"]
    args = result["invocation"]["module_args"]
    assert args["src"].endswith("/secrets.yaml") and args["hidden_fields"] == ["data"]
    assert args["apply"] is True and args["server_side_apply"] == {"field_manager": "airgap.mirror"}
    assert "127.0.0.1', port=%d" % port in result["msg"] and "Connection refused" in result["msg"]
    assert_nothing_leaks(res, mirror.username, mirror.password, extra=[secret_b64])
    assert list(tmpdir.iterdir()) == []

    no_secret = dict(base, eck_mirror_registry_username="")
    res = ansible_run.playbook(play("eck_mirror"), extra_vars=no_secret, verbosity=3)
    failed = failed_task(res)
    assert failed["task"].endswith("Apply the operator manifests")
    args = failed["result"]["invocation"]["module_args"]
    assert args["apply"] is True and args["server_side_apply"] == {"field_manager": "airgap.mirror"}
    kinds = [d["kind"] for d in args["definition"]]
    assert "StatefulSet" in kinds and "ConfigMap" in kinds
    for doc in args["definition"]:
        validate(doc)
    sts = next(d for d in args["definition"] if d["kind"] == "StatefulSet")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "%s/eck/eck-operator:%s" % (mirror.host, ECK)
    assert "Connection refused" in failed["result"]["msg"]

    res = ansible_run.playbook(play("eck_mirror"), extra_vars=dict(
        no_secret, eck_mirror_install="helm", eck_mirror_helm_chart=str(tmp_path / "eck-operator-2.16.1.tgz")),
        verbosity=3)
    failed = failed_task(res)
    assert failed["task"].endswith("Install or upgrade the operator with Helm")
    args = failed["result"]["invocation"]["module_args"]
    assert args["values"]["config"] == {"containerRegistry": mirror.host}
    assert args["values"]["image"] == {"repository": mirror.host + "/eck/eck-operator", "tag": ECK}
    assert args["values"]["telemetry"] == {"disabled": True}
    assert args["release_namespace"] == "elastic-system"  # (kubeconfig is a no_log option of this module)

    res = ansible_run.playbook(play("eck_mirror"), extra_vars=dict(no_secret, eck_mirror_install="none"), verbosity=3)
    failed = failed_task(res)
    assert failed["task"].endswith("Apply the Elastic resources")
    args = failed["result"]["invocation"]["module_args"]
    assert args["apply"] is True and args["server_side_apply"] == {"field_manager": "airgap.mirror"}
    assert sorted(d["kind"] for d in args["definition"]) == sorted(
        ["Elasticsearch", "Kibana", "ApmServer", "Beat", "Agent", "ElasticMapsServer", "Logstash"])
    assert "Connection refused" in failed["result"]["msg"]
