"""airgap.mirror.kibana_fleet_registry on real hosts (kibana.yml) and for ECK (rendered Kibana patch).

Hosts: two Debian hosts over ssh, each with a realistic kibana.yml with comments - kibana1 in the
dotted form (root:adm 0640), kibana2 in the nested form behind a symlink. One ansible-playbook run
takes them through check mode, the real run, re-runs, two more changes and two refusals; Kibana's
restart is a restart command that appends the name of the play it ran in to a marker file, so the
marker shows in which plays the handler ran. (The hosts have no service manager, so the default
``service`` restart is not exercised here; it is ``ansible.builtin.service``.)

ECK: no API server can run here. The patch is rendered and its exact shape checked (there is no
Kibana CRD schema offline for kubernetes-validate); the apply task is reached with a kubeconfig
pointing at a closed port, which proves the task runs with that kubeconfig and that
kubernetes.core.k8s accepts its arguments - not what an API server would do with the patch.
"""

from __future__ import annotations

import difflib
import json
import socket
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from support import hosts
from support.ansible_run import AnsibleRunner

FIXTURES = Path(__file__).resolve().parents[2] / "unit" / "fixtures" / "products"
ROLE = "airgap.mirror.kibana_fleet_registry"
URL = "http://package-registry.corp.net:8080"
PROXY = "http://proxy.corp.net:3128"
MARKER = "/root/kibana-restarts"


def t(name: str) -> str:
    return f"{ROLE} : {name}"


def play(name: str, pattern: str = "kibana", check: bool = False, **variables) -> dict:
    return {"name": name, "hosts": pattern, "gather_facts": False, "check_mode": check,
            "roles": [{"role": ROLE}], "vars": variables}


def put(bed: hosts.HostBed, host: str, local: Path, remote: str) -> None:
    bed.podman.run("cp", str(local), f"{bed.hosts[host].container}:{remote}")


def added_lines(before: str, after: str) -> list[str]:
    """The lines *after* adds to *before*; fails if it removes or changes any."""
    ops = list(difflib.ndiff(before.splitlines(keepends=True), after.splitlines(keepends=True)))
    removed = [line for line in ops if line.startswith("- ")]
    assert not removed, f"lines removed or changed: {removed}"
    return [line[2:] for line in ops if line.startswith("+ ")]


def copy_diff(record: dict) -> dict:
    diff = record["result"]["diff"]
    return diff[0] if isinstance(diff, list) else diff


@pytest.mark.integration
@pytest.mark.hosts
def test_kibana_yml_on_hosts_check_real_rerun_handler_and_refusals(debian_hosts, tmp_path):
    t_test = time.monotonic()
    runner = AnsibleRunner(tmp_path / "ansible")
    bed = debian_hosts(2, "kibana", groups=("kibana",))
    dotted = (FIXTURES / "kibana-dotted.yml").read_text()
    nested = (FIXTURES / "kibana-nested.yml").read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text("# Fleet switched off the old way\nxpack.fleet: disabled\n")
    invalid = tmp_path / "invalid.yml"
    invalid.write_text("server.port: 5601\nelasticsearch.hosts: [https://es01:9200\n")

    bed.exec("kibana1", "mkdir", "-p", "/etc/kibana")
    put(bed, "kibana1", FIXTURES / "kibana-dotted.yml", "/etc/kibana/kibana.yml")
    put(bed, "kibana1", broken, "/etc/kibana/broken.yml")
    bed.exec("kibana1", "sh", "-c", "chown root:adm /etc/kibana/kibana.yml && chmod 0640 /etc/kibana/kibana.yml")
    bed.exec("kibana2", "mkdir", "-p", "/etc/kibana", "/opt/kibana/config")
    put(bed, "kibana2", FIXTURES / "kibana-nested.yml", "/opt/kibana/config/kibana.yml")
    put(bed, "kibana2", invalid, "/etc/kibana/invalid.yml")
    bed.exec("kibana2", "ln", "-s", "/opt/kibana/config/kibana.yml", "/etc/kibana/kibana.yml")

    common = {
        "kibana_fleet_registry_url": URL,
        "kibana_fleet_registry_restart": "command",
        "kibana_fleet_registry_restart_command": ["/bin/sh", "-c", f"echo '{{{{ ansible_play_name }}}}' >> {MARKER}"],
    }
    plays = [
        play("check", check=True),
        play("real"),
        play("re-run"),
        play("re-run in check mode", check=True),
        play("proxy and air-gapped", kibana_fleet_registry_proxy_url=PROXY, kibana_fleet_registry_air_gapped=True),
        play("proxy removed", kibana_fleet_registry_remove_proxy=True, kibana_fleet_registry_air_gapped=True),
        play("refused", kibana_fleet_registry_config_file=(
            "{{ '/etc/kibana/broken.yml' if inventory_hostname == 'kibana1' else '/etc/kibana/invalid.yml' }}")),
    ]
    inventory = json.loads(bed.inventory.read_text())
    inventory["all"]["vars"]["ansible_pipelining"] = True
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps(inventory))
    res = runner.playbook(json.dumps(plays) + "\n", inventory=inv, extra_vars=common, diff=True)
    assert res.rc != 0, "the refused play did not fail\n" + res.output

    write = t("Write kibana.yml")
    for host, original, form in (("kibana1", dotted, "dotted"), ("kibana2", nested, "nested")):
        writes = res.task(write, host)
        assert [w["changed"] for w in writes] == [True, True, False, False, True, True], (host, writes)
        # check mode: announced the change, wrote nothing (the real run started from the original)
        announced = copy_diff(writes[0])
        assert announced["before"] == original
        assert copy_diff(writes[1])["before"] == original, "check mode wrote the file"
        after_real = copy_diff(writes[1])["after"]
        assert announced["after"] == after_real, "the real run wrote something else than check mode announced"
        if form == "dotted":
            assert added_lines(original, after_real) == [f"xpack.fleet.registryUrl: {URL}\n"]
        else:
            assert added_lines(original, after_real) == [f"    registryUrl: {URL}\n"]
        # the proxy play added two settings, the last play removed the proxy again
        with_proxy = copy_diff(writes[4])["after"]
        assert copy_diff(writes[4])["before"] == after_real
        assert sorted(added_lines(after_real, with_proxy)) == sorted(
            [f"xpack.fleet.registryProxyUrl: {PROXY}\n", "xpack.fleet.isAirGapped: true\n"] if form == "dotted"
            else [f"    registryProxyUrl: {PROXY}\n", "    isAirGapped: true\n"])
        final = bed.exec(host, "cat", "/etc/kibana/kibana.yml").stdout
        assert copy_diff(writes[5])["after"] == final
        assert sorted(added_lines(original, final)) == sorted(
            [f"xpack.fleet.registryUrl: {URL}\n", "xpack.fleet.isAirGapped: true\n"] if form == "dotted"
            else [f"    registryUrl: {URL}\n", "    isAirGapped: true\n"])
        settings = yaml.safe_load(final)
        fleet = ({k[len("xpack.fleet."):]: v for k, v in settings.items() if k.startswith("xpack.fleet.")}
                 if form == "dotted" else settings["xpack"]["fleet"])
        assert fleet == {"agents.enabled" if form == "dotted" else "agents":
                         True if form == "dotted" else {"enabled": True},
                         "registryUrl": URL, "isAirGapped": True}
        # the handler ran exactly in the plays that changed the file, after it, once per play
        assert bed.exec(host, "cat", MARKER).stdout == "real\nproxy and air-gapped\nproxy removed\n"
        # re-runs (normal and check mode) changed nothing at all
        for name in ("re-run", "re-run in check mode"):
            changed = [r["task"] for r in _play_records(res, host, name) if r["changed"]]
            assert changed == [], (host, name, changed)

    # kibana1: mode, owner and group kept, one backup per change; kibana2: still a symlink
    assert bed.exec("kibana1", "stat", "-c", "%U:%G %a", "/etc/kibana/kibana.yml").stdout.strip() == "root:adm 640"
    backups = bed.exec("kibana1", "sh", "-c", "ls /etc/kibana | grep -c '^kibana.yml\\..*~$'").stdout.strip()
    assert backups == "3"
    assert bed.exec("kibana2", "readlink", "/etc/kibana/kibana.yml").stdout.strip() == "/opt/kibana/config/kibana.yml"

    # refusals: the message names the host's file and the reason; nothing written, no restart
    failed = {r["host"]: r for r in res.failed}
    assert set(failed) == {"kibana1", "kibana2"}
    assert all(r["task"] == t("Report the failed edit") for r in failed.values()), res.output
    msg1, msg2 = failed["kibana1"]["result"]["msg"], failed["kibana2"]["result"]["msg"]
    assert msg1.startswith("kibana1:/etc/kibana/broken.yml was not changed: /etc/kibana/broken.yml"), msg1
    assert "xpack.fleet" in msg1 and "/tmp/" not in msg1, msg1
    assert msg2.startswith("kibana2:/etc/kibana/invalid.yml was not changed: /etc/kibana/invalid.yml"), msg2
    assert "line 2" in msg2 and "/tmp/" not in msg2, msg2
    assert bed.exec("kibana1", "cat", "/etc/kibana/broken.yml").stdout == broken.read_text()
    assert bed.exec("kibana2", "cat", "/etc/kibana/invalid.yml").stdout == invalid.read_text()
    assert bed.exec("kibana1", "cat", MARKER).stdout == "real\nproxy and air-gapped\nproxy removed\n"
    # no scratch copy left on the controller
    assert not list(Path(tempfile.gettempdir()).glob("airgap-kibana-kibana[12]-*"))
    print(f"\n[kibana] hosts test body {time.monotonic() - t_test:.1f}s")


def _play_records(res, host: str, play_name: str) -> list[dict]:
    """Task records of *host* in the play called *play_name* (plays run in order; the role's first
    task, its argument validation, starts each)."""
    order = ["check", "real", "re-run", "re-run in check mode", "proxy and air-gapped", "proxy removed", "refused"]
    chunks: list[list[dict]] = []
    for r in res.results:
        if r["kind"] != "task" or r["host"] != host:
            continue
        if r["task"].startswith(t("Validating arguments against arg spec")):
            chunks.append([])
        if chunks:
            chunks[-1].append(r)
    return chunks[order.index(play_name)]


ECK_PLAY = """
- name: Kibana on ECK
  hosts: localhost
  gather_facts: false
  roles:
    - role: airgap.mirror.kibana_fleet_registry
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
def test_eck_patch_rendered_checked_written_and_applied(ansible_run, tmp_path):
    out = tmp_path / "manifests"
    out.mkdir()
    base = {"kibana_fleet_registry_target": "eck", "kibana_fleet_registry_eck_name": "quickstart",
            "kibana_fleet_registry_eck_namespace": "elastic", "kibana_fleet_registry_url": URL,
            "kibana_fleet_registry_air_gapped": True, "kibana_fleet_registry_manifest_dir": str(out)}
    manifest = out / "kibana-quickstart-fleet.yaml"

    res = ansible_run.playbook(ECK_PLAY, extra_vars=base, check=True, diff=True)
    assert res.rc == 0, res.output
    assert not manifest.exists(), "check mode wrote the manifest"
    res = ansible_run.playbook(ECK_PLAY, extra_vars=base)
    assert res.rc == 0, res.output
    expected = {"apiVersion": "kibana.k8s.elastic.co/v1", "kind": "Kibana",
                "metadata": {"name": "quickstart", "namespace": "elastic"},
                "spec": {"config": {"xpack.fleet.registryUrl": URL, "xpack.fleet.isAirGapped": True}}}
    assert yaml.safe_load(manifest.read_text()) == expected
    assert res.one(t("Render the Kibana resource patch"))["result"]["ansible_facts"][
        "kibana_fleet_registry_resource"] == expected
    assert res.one(t("Apply the Kibana resource patch (server-side apply)"))["skipped"], "applied without kubeconfig"
    res = ansible_run.playbook(ECK_PLAY, extra_vars=base)
    assert res.rc == 0 and res.changed == [], res.output

    # nested form, with the proxy; isAirGapped given as a string (as -e key=value gives it)
    res = ansible_run.playbook(ECK_PLAY, extra_vars={**base, "kibana_fleet_registry_eck_key_style": "nested",
                                                     "kibana_fleet_registry_proxy_url": PROXY,
                                                     "kibana_fleet_registry_air_gapped": "false"})
    assert res.rc == 0, res.output
    assert yaml.safe_load(manifest.read_text())["spec"] == {"config": {"xpack": {"fleet": {
        "registryUrl": URL, "registryProxyUrl": PROXY, "isAirGapped": False}}}}

    # with a kubeconfig: the manifest is written first, then kubernetes.core.k8s contacts that
    # cluster (a closed port here: connection refused, named by the module)
    port = closed_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "test", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}))
    manifest.unlink()
    res = ansible_run.playbook(ECK_PLAY, extra_vars={**base, "kibana_fleet_registry_kubeconfig": str(kubeconfig)})
    assert res.rc != 0
    (failed,) = res.failed
    assert failed["task"] == t("Apply the Kibana resource patch (server-side apply)"), res.output
    assert f"port={port}" in failed["result"]["msg"] and "Connection refused" in failed["result"]["msg"], failed
    assert yaml.safe_load(manifest.read_text()) == expected

    # refusals, named: a name Kubernetes would reject, proxy removal, a URL that is not http(s)
    for extra, message in (
        ({"kibana_fleet_registry_eck_name": "Quick_Start"}, "must be a DNS-1123 subdomain"),
        ({"kibana_fleet_registry_remove_proxy": True}, "not supported with target eck"),
        ({"kibana_fleet_registry_gpg_key_file": "/etc/keys/elastic.asc"}, "supported with target file only"),
        ({"kibana_fleet_registry_url": "package-registry.corp.net:8080"}, "must be an http(s) URL"),
        ({"kibana_fleet_registry_proxy_url": "your-nat-gateway.corp.net"}, "Kibana rejects a bare host name"),
        ({"kibana_fleet_registry_url": "", "kibana_fleet_registry_url_from": "epr1"},
         "run airgap.mirror.package_registry on that host first"),
    ):
        res = ansible_run.playbook(ECK_PLAY, extra_vars={**base, **extra})
        assert res.rc != 0 and message in res.output, (extra, res.output)


KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBFI3HsoBEADXDtbNAnd more test key text\n-----END PGP PUBLIC KEY BLOCK-----\n"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBprivateCAforTheRegistry\n-----END CERTIFICATE-----\n"


def test_eck_patch_trusts_the_registry_private_ca(ansible_run, tmp_path):
    """kibana_fleet_registry_ca_file with target eck: a ConfigMap with the CA and the Kibana patch's
    pod template mounting it with NODE_EXTRA_CA_CERTS; the ConfigMap and pod template pass
    kubernetes-validate --strict, the Kibana patch the Kibana CRD schema of ECK 3.3.0."""
    from support import k8s
    from support.eck import crd_validate

    out = tmp_path / "manifests"
    out.mkdir()
    ca = tmp_path / "epr-ca.pem"
    ca.write_text(CA_PEM)
    variables = {"kibana_fleet_registry_target": "eck", "kibana_fleet_registry_eck_name": "quickstart",
                 "kibana_fleet_registry_eck_namespace": "elastic", "kibana_fleet_registry_url": "https://epr.corp.net",
                 "kibana_fleet_registry_manifest_dir": str(out), "kibana_fleet_registry_ca_file": str(ca)}
    res = ansible_run.playbook(ECK_PLAY, extra_vars=variables)
    assert res.rc == 0, res.output
    kibana = yaml.safe_load((out / "kibana-quickstart-fleet.yaml").read_text())
    configmap = yaml.safe_load((out / "kibana-quickstart-package-registry-ca.yaml").read_text())
    path = "/usr/share/kibana/config/package-registry-ca/ca.crt"
    assert configmap["metadata"] == {"name": "quickstart-package-registry-ca", "namespace": "elastic",
                                     "labels": {"app.kubernetes.io/managed-by": "airgap.mirror"}}
    assert configmap["data"] == {"ca.crt": CA_PEM}
    assert kibana["spec"]["config"] == {"xpack.fleet.registryUrl": "https://epr.corp.net"}
    (container,) = kibana["spec"]["podTemplate"]["spec"]["containers"]
    assert container == {"name": "kibana", "env": [{"name": "NODE_EXTRA_CA_CERTS", "value": path}],
                         "volumeMounts": [{"name": "package-registry-ca", "readOnly": True,
                                           "mountPath": "/usr/share/kibana/config/package-registry-ca"}]}
    k8s.validate(configmap)
    k8s.validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check", "namespace": "elastic"},
                  "template": kibana["spec"]["podTemplate"]})
    # a server-side apply patch has no spec.version (the schema requires it of a whole Kibana)
    crd_validate({**kibana, "spec": {**kibana["spec"], "version": "9.3.0"}}, "eck-3.3.0-kibana-schema.json")
    res = ansible_run.playbook(ECK_PLAY, extra_vars=variables)
    assert res.rc == 0 and res.changed == [], res.output


@pytest.mark.integration
@pytest.mark.hosts
def test_private_ca_on_a_host_sets_node_extra_ca_certs_and_restarts_once(debian_hosts, tmp_path):
    """kibana_fleet_registry_ca_file with target file on a real host: the CA installed, the Debian
    package's environment file (0660 root:adm here, kept) gets NODE_EXTRA_CA_CERTS, Kibana restarted
    once; a re-run changes nothing; check mode first announces without writing. In the same run the
    package verification key (kibana_fleet_registry_gpg_key_file): /etc/kibana/fleet created 0755,
    the key installed 0644, xpack.fleet.packageVerification.gpgKeyPath added, check mode announcing
    exactly what the real run writes."""
    runner = AnsibleRunner(tmp_path / "ansible")
    bed = debian_hosts(1, "kibca", groups=("kibana",))
    bed.exec("kibca1", "mkdir", "-p", "/etc/kibana")
    put(bed, "kibca1", FIXTURES / "kibana-dotted.yml", "/etc/kibana/kibana.yml")
    env = tmp_path / "default-kibana"
    env.write_text("# Kibana's environment\nKBN_PATH_CONF=/etc/kibana\n")
    put(bed, "kibca1", env, "/etc/default/kibana")
    bed.exec("kibca1", "sh", "-c", "chown root:adm /etc/default/kibana && chmod 0660 /etc/default/kibana")
    ca = tmp_path / "epr-ca.pem"
    ca.write_text(CA_PEM)
    key = tmp_path / "GPG-KEY-elasticsearch.asc"
    key.write_text(KEY)
    common = {
        "kibana_fleet_registry_url": "https://epr.corp.net", "kibana_fleet_registry_ca_file": str(ca),
        "kibana_fleet_registry_gpg_key_file": str(key),
        "kibana_fleet_registry_restart": "command",
        "kibana_fleet_registry_restart_command": ["/bin/sh", "-c", f"echo '{{{{ ansible_play_name }}}}' >> {MARKER}"],
    }
    inventory = json.loads(bed.inventory.read_text())
    inventory["all"]["vars"]["ansible_pipelining"] = True
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps(inventory))
    plays = [play("check", check=True), play("real"), play("re-run")]
    res = runner.playbook(json.dumps(plays) + "\n", inventory=inv, extra_vars=common, diff=True)
    assert res.rc == 0, res.output
    setting = res.task(t("Set NODE_EXTRA_CA_CERTS in Kibana's environment file"), "kibca1")
    installed = res.task(t("Install the package registry's CA"), "kibca1")
    assert [r["changed"] for r in setting] == [True, True, False], setting
    assert [r["changed"] for r in installed] == [True, True, False], installed
    text = bed.exec("kibca1", "cat", "/etc/default/kibana").stdout
    assert text == ("# Kibana's environment\nKBN_PATH_CONF=/etc/kibana\n"
                    'NODE_EXTRA_CA_CERTS="/etc/kibana/certs/package-registry-ca.pem"\n'), text
    assert bed.exec("kibca1", "stat", "-c", "%a %U:%G", "/etc/default/kibana").stdout.strip() == "660 root:adm"
    assert bed.exec("kibca1", "cat", "/etc/kibana/certs/package-registry-ca.pem").stdout == CA_PEM
    # the package verification key and its setting
    dest = "/etc/kibana/fleet/GPG-KEY-elasticsearch.asc"
    assert [r["changed"] for r in res.task(t("Create the directory of the package verification key"), "kibca1")] \
        == [True, True, False]
    assert [r["changed"] for r in res.task(t("Copy the package verification key"), "kibca1")] == [True, True, False]
    writes = res.task(t("Write kibana.yml"), "kibca1")
    assert [w["changed"] for w in writes] == [True, True, False], writes
    original = (FIXTURES / "kibana-dotted.yml").read_text()
    assert copy_diff(writes[1])["before"] == original, "check mode wrote kibana.yml"
    assert copy_diff(writes[0])["after"] == copy_diff(writes[1])["after"]
    final = bed.exec("kibca1", "cat", "/etc/kibana/kibana.yml").stdout
    assert sorted(added_lines(original, final)) == sorted(
        ["xpack.fleet.registryUrl: https://epr.corp.net\n", f"xpack.fleet.packageVerification.gpgKeyPath: {dest}\n"])
    assert bed.exec("kibca1", "cat", dest).stdout == KEY
    assert bed.exec("kibca1", "stat", "-c", "%a %U", dest, "/etc/kibana/fleet").stdout.split("\n")[:2] == [
        "644 root", "755 root"]
    # the handler ran once, in the real run (kibana.yml, the CA and the key changed together)
    assert bed.exec("kibca1", "cat", MARKER).stdout == "real\n"


def test_download_source_reaches_the_fleet_api_and_keeps_credentials_out(ansible_run, tmp_path):
    """No Kibana can run here: the Fleet API tasks are shown to be reached with the URL, space and
    credentials given (a closed port refuses the GET, the error names the URL) and never to print
    the password or the API key; bad settings are refused before any request."""
    port = closed_port()
    base = {"kibana_fleet_registry_target": "eck", "kibana_fleet_registry_eck_name": "quickstart",
            "kibana_fleet_registry_url": URL,
            "kibana_fleet_registry_download_source_host": "https://files.corp.net/downloads/",
            "kibana_fleet_registry_api_url": f"http://127.0.0.1:{port}/", "kibana_fleet_registry_api_space": "ops"}
    for secret in ({"kibana_fleet_registry_api_username": "fleet-admin",
                    "kibana_fleet_registry_api_password": "s3cr3t-password"},
                   {"kibana_fleet_registry_api_key": "s3cr3t-api-key"}):
        for check in (False, True):  # the GET is read-only: it runs in check mode too
            res = ansible_run.playbook(ECK_PLAY, extra_vars={**base, **secret}, check=check)
            assert res.rc != 0
            (failed,) = res.failed
            assert failed["task"] == t("Read Fleet's agent binary download sources"), res.output
            assert "s3cr3t" not in res.output and "s3cr3t" not in json.dumps(res.results), res.output
            if "kibana_fleet_registry_api_key" not in secret:  # with an API key the task is no_log
                assert f"http://127.0.0.1:{port}/s/ops/api/fleet/agent_download_sources" in failed["result"]["url"]
    for extra in ({"kibana_fleet_registry_api_url": ""},
                  {"kibana_fleet_registry_download_source_host": "files.corp.net/downloads"}):
        res = ansible_run.playbook(ECK_PLAY, extra_vars={**base, **extra})
        assert res.rc != 0 and "the agent binary download source needs kibana_fleet_registry_api_url" in res.output
