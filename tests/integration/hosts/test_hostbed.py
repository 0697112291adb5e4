"""The host test bed itself: real Debian hosts (podman containers) reached by Ansible over ssh.

The end-to-end proof is the feasibility recipe done by hand with ``ansible.builtin`` tasks: a
consumer on the host (skopeo, podman) resolves ``quay.io/...@sha256:`` through a
registries.conf.d drop-in to the mirror registry on the bridge gateway.  The consumer roles will
replace the hand steps; these tests prove the bed they will run on.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

import pytest

from support import hosts, images
from support.ansible_run import AnsibleRunner

pytestmark = [pytest.mark.integration, pytest.mark.hosts]

CA_DEST = "/usr/local/share/ca-certificates/hostbed-mirror.crt"
DROPIN_DEST = "/etc/containers/registries.conf.d/99-hostbed-mirror.conf"


def trying(ref: str, whole: bool = True) -> str:
    """What containers/image logs (``--debug``) for each location it tries, as it appears in its
    logfmt output (quotes escaped); ``whole=False`` matches any reference starting with *ref*."""
    return f'Trying to access \\"{ref}' + ('\\"' if whole else "")


def mirror_dropin(mirror: str) -> str:
    """A registries.conf.d drop-in: quay.io is mirrored at *mirror*, by digest only."""
    return ('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n\n'
            f'[[registry.mirror]]\nlocation = "{mirror}"\npull-from-mirror = "digest-only"\n')


def hand_steps(reg: hosts.MirrorRegistry, authfile: str) -> list[dict]:
    """What the MicroShift/CRI-O role will do: trust the mirror's CA, map quay.io to the mirror,
    give the credentials."""
    return [
        {"name": "CA into the system trust", "ansible.builtin.copy": {
            "content": reg.ca_path.read_text(), "dest": CA_DEST, "mode": "0644"}},
        {"name": "update-ca-certificates", "ansible.builtin.command": "update-ca-certificates"},
        {"name": "registries.conf.d drop-in", "ansible.builtin.copy": {
            "content": mirror_dropin(reg.mirror_host), "dest": DROPIN_DEST, "mode": "0644"}},
        {"name": "auth file directory", "ansible.builtin.file": {
            "path": authfile.rsplit("/", 1)[0], "state": "directory", "mode": "0700"}},
        {"name": "auth file", "no_log": True, "ansible.builtin.copy": {
            "content": reg.host_auth_json(), "dest": authfile, "mode": "0600"}},
    ]


def play(name: str, pattern: str, tasks: list[dict]) -> dict:
    return {"name": name, "hosts": pattern, "gather_facts": False, "tasks": tasks}


def run_playbook(runner: AnsibleRunner, bed: hosts.HostBed, plays: list[dict]):
    res = runner.playbook(json.dumps(plays, indent=1) + "\n", inventory=bed.inventory)
    assert res.rc == 0, res.output
    return res


def test_two_hosts_ping_vars_and_mirror_resolution(debian_hosts, hosts_mirror_registry, tmp_path):
    t_test = time.monotonic()
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")

    markers = {"node1": f"one-{secrets.token_hex(4)}", "node2": f"two-{secrets.token_hex(4)}"}
    t0 = time.monotonic()
    bed = debian_hosts(2, "node", host_vars={h: {"bed_marker": m} for h, m in markers.items()},
                       groups=("consumers",))
    t_start = time.monotonic() - t0
    assert set(bed.hosts) == {"node1", "node2"}
    assert bed.hosts["node1"].ip != bed.hosts["node2"].ip

    # ansible -m ping over ssh, on both
    res = runner.adhoc("ansible.builtin.ping", pattern="consumers", inventory=bed.inventory)
    assert res.rc == 0, res.output
    assert {r["host"]: r["result"]["ping"] for r in res.results} == {"node1": "pong", "node2": "pong"}

    # the mirror holds a unique image; its source name is quay.io/test/img (unreachable here)
    img = hosts.unique_image(images.OCILayout(tmp_path / "oci"))
    assert reg.seed(img, "test/img", "v1") == img.digest
    manifest = json.loads(img.layout.blob_path(img.digest).read_bytes())
    inspect = f"skopeo --debug inspect --raw docker://quay.io/test/img@{img.digest}"
    authfile = "/root/.config/containers/auth.json"   # skopeo's default for root: no --authfile
    pristine = bed.fingerprint("node1")

    res = run_playbook(runner, bed, [
        play("identity and the state before", "all", [
            {"name": "identity", "ansible.builtin.shell": 'echo "{{ bed_marker }} $(cat /etc/hostname)"'},
            {"name": "before", "ansible.builtin.command": inspect, "failed_when": False},
        ]),
        play("hand steps on node1 only", "node1", hand_steps(reg, authfile)),
        play("the state after", "all", [
            {"name": "after", "ansible.builtin.command": inspect, "failed_when": False},
        ]),
    ])
    # each host is its own machine with its own variables
    assert {h: res.one("identity", h)["result"]["stdout"] for h in markers} == {
        h: f"{m} {h}" for h, m in markers.items()}
    # before anything: skopeo tries quay.io, nothing else, and fails
    for h in markers:
        before = res.one("before", h)["result"]
        assert before["rc"] != 0, before
        assert trying(f"quay.io/test/img@{img.digest}") in before["stderr"], before["stderr"][-2000:]
        assert trying(f"{reg.mirror_host}/", whole=False) not in before["stderr"]
    assert "1 added" in res.one("update-ca-certificates", "node1")["result"]["stdout"]
    assert [r["task"] for r in res.changed if r["host"] == "node1" and r["task"] in {
        s["name"] for s in hand_steps(reg, authfile)}] == [s["name"] for s in hand_steps(reg, authfile)]
    # after: node1 gets the exact manifest, from the mirror; node2 (untouched) still cannot
    after = res.one("after", "node1")["result"]
    assert after["rc"] == 0, after["stderr"][-3000:]
    assert trying(f"{reg.mirror_host}/test/img@{img.digest}") in after["stderr"], after["stderr"][-3000:]
    assert json.loads(after["stdout"]) == manifest
    assert "sha256:" + hashlib.sha256(after["stdout"].encode()).hexdigest() == img.digest
    after2 = res.one("after", "node2")["result"]
    assert after2["rc"] != 0 and trying(f"{reg.mirror_host}/", whole=False) not in after2["stderr"]
    # the credentials never reached the output
    assert reg.password not in res.stdout + res.stderr
    assert all(reg.password not in json.dumps(r) for r in res.results)

    # reset_host gives back the pristine host (and the fingerprint does see the changes)
    changed = bed.fingerprint("node1")
    assert changed != pristine
    assert CA_DEST in changed and DROPIN_DEST in changed and CA_DEST not in pristine
    t0 = time.monotonic()
    bed.reset_host("node1")
    t_reset = time.monotonic() - t0
    assert bed.fingerprint("node1") == pristine
    res = runner.adhoc("ansible.builtin.command", inspect, pattern="node1", inventory=bed.inventory)
    (rec,) = res.results
    assert rec["host"] == "node1" and rec["failed"] and not rec["unreachable"], res.output
    assert trying(f"{reg.mirror_host}/", whole=False) not in rec["result"]["stderr"]

    print(f"\n[hostbed] image: built={bed.image.built} mmdebstrap={bed.image.build_seconds:.1f}s "
          f"import={bed.image.import_seconds:.1f}s; 2 hosts started in {t_start:.1f}s; "
          f"reset in {t_reset:.1f}s; test body {time.monotonic() - t_test:.1f}s")


def test_nested_podman_serves_http_from_mirror_image(debian_hosts, hosts_mirror_registry, tmp_path):
    """What the Elastic Package Registry role needs: podman on the host runs an image from the
    mirror and a health check on the host reaches it at http://127.0.0.1:8080."""
    t_test = time.monotonic()
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")
    bed = debian_hosts(1, "epr", with_podman=True)

    body = f"hostbed nested httpd {secrets.token_hex(8)}\n".encode()
    web = hosts.httpd_image(images.OCILayout(tmp_path / "oci"), "httpd", port=8080, body=body)
    assert reg.seed(web, "test/httpd", "1") == web.digest
    image = f"quay.io/test/httpd@{web.digest}"
    authfile = "/root/hostbed/auth.json"

    res = run_playbook(runner, bed, [play("nested podman", "epr1", [
        *hand_steps(reg, authfile),
        {"name": "run", "ansible.builtin.command":
            "podman --log-level=debug run -d --name hostbed-web -p 127.0.0.1:8080:8080 "
            f"--authfile {authfile} {image}"},
        {"name": "health", "ansible.builtin.uri": {
            "url": "http://127.0.0.1:8080/index.html", "return_content": True},
         "register": "health", "until": "health.status == 200", "retries": 20, "delay": 1},
        {"name": "mirror still reachable", "ansible.builtin.command":
            f"skopeo inspect --raw --authfile {authfile} docker://{image}"},
    ])])
    # podman on the host pulled through the mirror (quay.io is unreachable) ...
    assert trying(f"{reg.mirror_host}/test/httpd@{web.digest}") in res.one("run")["result"]["stderr"]
    # ... and the container answers on the host's loopback
    assert res.one("health")["result"]["content"] == body.decode()
    # the inner podman network does not take mirror.test (10.88.0.1) away from the host
    raw = res.one("mirror still reachable")["result"]["stdout"]
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == web.digest
    print(f"\n[hostbed] nested podman test body {time.monotonic() - t_test:.1f}s")
