"""airgap.mirror.package_registry on a real host: podman (nested, in a privileged host container)
runs the package-registry image pulled by digest from the TLS + htpasswd mirror on 10.88.0.1.

The real Elastic Package Registry image cannot be downloaded here, so a stand-in plays it: the busybox
httpd image of ``support.hosts.httpd_image`` serving a unique body on 8080, laid out as
``docker.elastic.co/package-registry/distribution:<stack version>`` (the tag the role picks from
``package_registry_stack_version``), answering ``/health`` (busybox httpd serves the file ``health``
whatever the query, so ``/health?ready=true`` too), and pushed into the mirror with
``airgap.mirror.image_mirror`` (mapping ``keep``: ``package-registry/distribution:<stack version>``),
which writes the mirror map the role reads. What is proven is everything around the image: the
mirror map lookup, the pull by digest through ``mirror.test`` with the CA in certs.d and the
credentials in an auth file, the container, the health check, idempotence and the update when the
mirrored digest changes. Not proven: that the real EPR image starts (its entrypoint is not run here), and TLS (busybox httpd
serves no TLS: the ``EPR_TLS_*`` arguments are proven by the filter's unit tests only).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import secrets
import time

import pytest
import yaml

from support import hosts, images
from support.ansible_run import AnsibleRunner

STACK = "9.3.0"
SOURCE = f"docker.elastic.co/package-registry/distribution:{STACK}"
REPOSITORY = "package-registry/distribution"
ROLE = "airgap.mirror.package_registry"


def t(name: str) -> str:
    """A role task's name as the results record it."""
    return f"{ROLE} : {name}"


def play(name: str, pattern: str, tasks=None, roles=None, **keywords) -> dict:
    out = {"name": name, "hosts": pattern, "gather_facts": False, **keywords}
    if roles is not None:
        out["roles"] = roles
    if tasks is not None:
        out["tasks"] = tasks
    return out


def mirror_play(reg: hosts.MirrorRegistry, layout: images.OCILayout, mirror_map) -> dict:
    """Push the stand-in image from its layout into the mirror with image_mirror (on this machine)."""
    return play("mirror the distribution image", "localhost", connection="local", tasks=[{
        "name": "image_mirror", "no_log": True,
        "airgap.mirror.image_mirror": {
            "images": [SOURCE], "src": f"oci:{layout.path}", "dest": reg.host, "mapping": "keep",
            "mirror_map": str(mirror_map), "ca_path": str(reg.ca_path),
            "dest_username": reg.username, "dest_password": reg.password,
        },
    }])


def role_vars(reg: hosts.MirrorRegistry, mirror_map) -> dict:
    return {
        "package_registry_mirror_map_file": str(mirror_map),
        "package_registry_stack_version": STACK,
        # the map records 10.88.0.1:<port> (this machine's name for it); hosts use mirror.test
        "package_registry_mirror_registry": reg.mirror_host,
        "package_registry_mirror_username": reg.username,
        "package_registry_mirror_password": reg.password,
        "package_registry_mirror_ca_file": str(reg.ca_path),
        "package_registry_health_delay": 1,
        # busybox httpd (PID 1) ignores SIGTERM: do not wait the default 10 s on every replace
        "package_registry_stop_timeout": 1,
    }


def localhost_inventory(bed: hosts.HostBed, tmp_path):
    """The bed's inventory plus localhost (for the image_mirror play) with this Python, and ssh pipelining."""
    inv = json.loads(bed.inventory.read_text())
    inv["all"]["vars"]["ansible_pipelining"] = True  # one ssh round trip per task instead of several
    inv["all"].setdefault("children", {})["controller"] = {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inv))
    return path


def http_get(bed: hosts.HostBed, host: str, url: str) -> str:
    """GET *url* from inside *host* (python3 there; the hosts have no curl)."""
    res = bed.exec(host, "/usr/bin/python3", "-c",
                   "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5)"
                   ".read().decode())", url)
    return res.stdout


def container(bed: hosts.HostBed, host: str, name: str) -> dict | None:
    res = bed.exec(host, "podman", "container", "inspect", name, check=False)
    return json.loads(res.stdout)[0] if res.returncode == 0 else None


def standin(tmp_path, label: str) -> tuple[images.Image, str]:
    body = f"stand-in package registry {label} {secrets.token_hex(8)}\n"
    layout = images.OCILayout(tmp_path / f"oci-{label}")
    return hosts.httpd_image(layout, SOURCE, port=8080, body=body.encode(), files={"health": b"{}\n"}), body


def run(runner: AnsibleRunner, inventory, plays: list[dict], **kwargs):
    res = runner.playbook(json.dumps(plays, indent=1) + "\n", inventory=inventory, **kwargs)
    return res


@pytest.mark.integration
@pytest.mark.hosts
def test_runs_from_the_mirror_is_idempotent_and_follows_the_digest(debian_hosts, hosts_mirror_registry, tmp_path):
    t_test = time.monotonic()
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")
    bed = debian_hosts(1, "epr", with_podman=True, groups=("package_registry", "kibana"))
    inventory = localhost_inventory(bed, tmp_path)
    mirror_map = tmp_path / "mirror-map.yml"
    first, body1 = standin(tmp_path, "one")
    variables = role_vars(reg, mirror_map)
    role = [{"role": "airgap.mirror.package_registry"}]

    # mirror; the role in check mode (nothing pulled or started); for real; again (no change)
    res = run(runner, inventory, [
        mirror_play(reg, first.layout, mirror_map),
        play("check mode", "epr1", roles=role, check_mode=True),
        play("real run", "epr1", roles=role),
        play("re-run", "epr1", roles=role),
    ], extra_vars=variables, diff=True)
    assert res.rc == 0, res.output
    entry = yaml.safe_load(mirror_map.read_text())["images"][0]
    assert entry["source"] == SOURCE and entry["digest"] == first.digest
    assert entry["destination"] == f"{reg.host}/{REPOSITORY}:{STACK}"
    image = f"{reg.mirror_host}/{REPOSITORY}@{first.digest}"

    pull = res.task(t("Pull the image from the mirror"), "epr1")
    start = res.task(t("Start the package registry container"), "epr1")
    health = res.task(t("Wait for the package registry to answer"), "epr1")
    report = res.task(t("Report what check mode would change"), "epr1")
    # check mode: nothing pulled or started (the commands are skipped), the report says what would happen,
    # the health check is not attempted (nothing runs yet)
    assert pull[0]["skipped"] and start[0]["skipped"], (pull[0], start[0])
    assert report[0]["changed"] and report[0]["result"]["msg"] == (
        f"would pull {image} and create the container package-registry"), report[0]
    assert health[0]["skipped"]
    # real run: pulled, created, healthy
    assert pull[1]["changed"] and start[1]["changed"], (pull[1], start[1])
    assert start[1]["result"]["cmd"][:4] == ["/usr/bin/podman", "run", "--detach", "--replace"]
    assert health[1]["result"]["status"] == 200
    assert health[1]["result"]["url"] == "http://127.0.0.1:8080/health?ready=true"
    # re-run: nothing pulled or started, still healthy, and no task of that play changed anything
    assert pull[2]["skipped"] and start[2]["skipped"] and health[2]["result"]["status"] == 200
    check, real, rerun = _split_plays(res, "epr1")
    setup = ["Create the certs.d directory of the mirror", "Install the mirror's CA certificate",
             "Write the mirror credentials"]
    assert [r["task"] for r in check if r["changed"]] == [t(n) for n in (*setup, "Report what check mode would change")]
    assert [r["task"] for r in real if r["changed"]] == [t(n) for n in (
        *setup, "Pull the image from the mirror", "Start the package registry container")]
    assert [r["task"] for r in rerun if r["changed"]] == [], "re-run changed something"
    # the credentials never reached the output
    assert reg.password not in res.stdout + res.stderr
    assert all(reg.password not in json.dumps(r) for r in res.results)

    # what runs on the host: the image by digest through mirror.test, serving the stand-in's body
    c = container(bed, "epr1", "package-registry")
    assert c and c["State"]["Running"] and c["ImageName"] == image, c and c["ImageName"]
    assert http_get(bed, "epr1", "http://127.0.0.1:8080/") == body1
    auth = bed.exec("epr1", "stat", "-c", "%a", "/etc/airgap-mirror/package-registry/auth.json").stdout.strip()
    assert auth == "600"
    ca = bed.exec("epr1", "cat", f"/etc/containers/certs.d/{reg.mirror_host}/ca.crt").stdout
    assert ca == reg.ca_path.read_text()
    # manager auto: the host's service manager is not systemd (no init system in the container), so podman
    service_mgr = res.task(t("Find the service manager"), "epr1")[0]["result"]["ansible_facts"]["ansible_service_mgr"]
    assert service_mgr != "systemd"
    result = res.task(t("Record the result"), "epr1")[1]["result"]["ansible_facts"]["package_registry_result"]
    assert result == {"url": f"http://{bed.hosts['epr1'].ip}:8080", "image": image, "source": SOURCE,
                      "digest": first.digest, "manager": "podman"}

    # a new distribution is mirrored under the same tag: the map's digest changes, the container is
    # replaced, the health check passes on the new one; Kibana is pointed at it in the same command
    # through the two playbooks (inventory groups package_registry and kibana)
    second, body2 = standin(tmp_path, "two")
    assert second.digest != first.digest
    bed.exec("epr1", "sh", "-c", "mkdir -p /etc/kibana && printf '%s\\n' '# Kibana' 'server.port: 5601' "
             "> /etc/kibana/kibana.yml")
    res = run(runner, inventory, [mirror_play(reg, second.layout, mirror_map)], extra_vars=variables)
    assert res.rc == 0, res.output
    assert yaml.safe_load(mirror_map.read_text())["images"][0]["digest"] == second.digest
    # ansible-playbook ... airgap.mirror.package_registry airgap.mirror.configure_kibana
    res = runner.playbook("airgap.mirror.configure_kibana", inventory=inventory, extra_vars=variables,
                          extra_args=["-e", json.dumps({
                              "kibana_fleet_registry_url_from": "epr1", "kibana_fleet_registry_restart": "none",
                              "kibana_fleet_registry_backup": False}), "airgap.mirror.package_registry"])
    assert res.rc == 0, res.output
    image2 = f"{reg.mirror_host}/{REPOSITORY}@{second.digest}"
    assert res.one(t("Pull the image from the mirror"), "epr1")["changed"]
    started = res.one(t("Start the package registry container"), "epr1")
    assert started["changed"] and started["result"]["cmd"][-1] == image2
    assert res.one(t("Decide what to do with the container"), "epr1")["result"]["ansible_facts"][
        "__package_registry_action"] == "replace"
    c2 = container(bed, "epr1", "package-registry")
    assert c2["ImageName"] == image2 and c2["Id"] != c["Id"] and c2["State"]["Running"]
    assert http_get(bed, "epr1", "http://127.0.0.1:8080/") == body2
    kibana_yml = bed.exec("epr1", "cat", "/etc/kibana/kibana.yml").stdout
    assert kibana_yml == (f"# Kibana\nserver.port: 5601\n"
                          f"xpack.fleet.registryUrl: http://{bed.hosts['epr1'].ip}:8080\n")
    # and the Kibana host reaches the registry at that URL
    assert http_get(bed, "epr1", f"http://{bed.hosts['epr1'].ip}:8080/") == body2

    res = runner.playbook("airgap.mirror.package_registry", inventory=inventory, extra_vars=variables)
    assert res.rc == 0, res.output
    assert [r["task"] for r in res.changed] == [], "re-run after the update changed something"
    print(f"\n[package_registry] test body {time.monotonic() - t_test:.1f}s")


def _split_plays(res, host: str) -> list[list[dict]]:
    """The host's task records of each run of the role, split at its first task (argument validation)."""
    plays: list[list[dict]] = []
    for r in res.results:
        if r["kind"] != "task" or r["host"] != host:
            continue
        if r["task"].startswith(t("Validating arguments against arg spec")):
            plays.append([])
        if plays:
            plays[-1].append(r)
    return plays


# an environment value that needs systemd quoting: spaces, quotes, a specifier-like % and a $
NOTE = 'a 50% "quoted" $HOME \\ note'


def unit_command(line: str, unit: str) -> list[str]:
    """The argv of an ``Exec*=`` line as systemd runs it for a system unit: specifiers expanded
    (%t is /run for system units, %n the unit name, %% a percent sign), quotes removed, $$ a dollar
    sign. (The role writes no other specifier or $VARIABLE; any would be left and fail the test.)"""
    value = line.split("=", 1)[1]
    value = re.sub(r"%.", lambda m: {"%t": "/run", "%n": unit, "%%": "%"}[m.group(0)], value)
    return [arg.replace("$$", "$") for arg in shlex.split(value)]


@pytest.mark.integration
@pytest.mark.hosts
def test_systemd_unit_verifies_and_runs_and_errors_are_named(debian_hosts, hosts_mirror_registry, tmp_path):
    """The hosts have no systemd: the systemd manager writes its unit and stops at systemctl. The unit
    is checked with ``systemd-analyze verify`` on this machine, and its ExecStart/ExecStop/ExecStopPost
    are run on the host exactly as written (specifiers expanded as systemd would)."""
    t_test = time.monotonic()
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")
    bed = debian_hosts(1, "unit", with_podman=True)
    inventory = localhost_inventory(bed, tmp_path)
    mirror_map = tmp_path / "mirror-map.yml"
    web, body = standin(tmp_path, "unit")
    unit = "epr-unit.service"
    variables = {**role_vars(reg, mirror_map), "package_registry_manager": "systemd",
                 "package_registry_name": "epr-unit", "package_registry_env": {"EPR_LOG_LEVEL": "debug", "AIRGAP_NOTE": NOTE}}

    res = run(runner, inventory, [
        mirror_play(reg, web.layout, mirror_map),
        play("systemd", "unit1", roles=[{"role": ROLE}]),
    ], extra_vars=variables)
    assert res.rc != 0, res.output
    (failed,) = res.failed
    assert failed["task"] == t("Start the package registry with systemd"), res.output
    assert "systemctl" in failed["result"]["msg"], failed["result"]["msg"]
    assert res.one(t("Write the systemd unit"), "unit1")["changed"]
    assert res.one(t("Pull the image from the mirror"), "unit1")["changed"]
    assert not res.task(t("Start the package registry container")), "the podman manager ran too"

    text = bed.exec("unit1", "cat", f"/etc/systemd/system/{unit}").stdout
    image = f"{reg.mirror_host}/{REPOSITORY}@{web.digest}"
    verify_dir = tmp_path / "units"
    verify_dir.mkdir()
    (verify_dir / unit).write_text(text)
    verify = subprocess.run(["systemd-analyze", "verify", str(verify_dir / unit)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert verify.returncode == 0 and verify.stderr == "", (verify.returncode, verify.stderr, text)
    lines = {ln.split("=", 1)[0]: ln for ln in text.splitlines() if "=" in ln and not ln.startswith("#")}
    start = unit_command(lines["ExecStart"], unit)
    assert start[:2] == ["/usr/bin/podman", "run"] and start[-1] == image
    assert {"--replace", "--rm", "--sdnotify=conmon", "--cidfile=/run/epr-unit.service.ctr-id"} <= set(start)
    assert [start[i + 1] for i, a in enumerate(start) if a == "--env"] == ["EPR_LOG_LEVEL=debug", f"AIRGAP_NOTE={NOTE}"]
    assert start[start.index("--authfile") + 1] == "/etc/airgap-mirror/package-registry/auth.json"
    assert start[start.index("--publish") + 1] == "8080:8080"

    # what systemd would run: the registry answers; a plain-container run of the role refuses to
    # take over that container; a source that was not mirrored is named
    bed.exec("unit1", *start)
    assert http_get(bed, "unit1", "http://127.0.0.1:8080/") == body
    running = container(bed, "unit1", "epr-unit")
    assert running["ImageName"] == image
    assert f"AIRGAP_NOTE={NOTE}" in running["Config"]["Env"], running["Config"]["Env"]
    # (one play for both: a play whose every host failed ends the run)
    staging = "docker.elastic.co/package-registry/distribution:staging"
    res = run(runner, inventory, [play("not mirrored / take over", "localhost:unit1", roles=[{"role": ROLE}], vars={
        "package_registry_source": f"{{{{ '{staging}' if inventory_hostname == 'localhost' else '{SOURCE}' }}}}",
        "package_registry_manager": "podman"})], extra_vars={
            k: v for k, v in variables.items() if k not in ("package_registry_manager",)})
    assert res.rc != 0
    assert {r["host"]: r["task"] for r in res.failed} == {
        "localhost": t("Check that the image is in the mirror map"),
        "unit1": t("Refuse to replace a container this role did not create")}, res.output
    msgs = {r["host"]: r["result"]["msg"] for r in res.failed}
    assert msgs["localhost"].startswith(
        f"docker.elastic.co/package-registry/distribution:staging is not in the mirror map {mirror_map}"), msgs
    assert "A container named epr-unit exists on unit1 and was not created by" in msgs["unit1"], msgs
    assert container(bed, "unit1", "epr-unit")["State"]["Running"], "the refused run touched the container"

    for key in ("ExecStop", "ExecStopPost"):
        bed.exec("unit1", *unit_command(lines[key], unit))
    assert container(bed, "unit1", "epr-unit") is None
    print(f"\n[package_registry] systemd test body {time.monotonic() - t_test:.1f}s")
