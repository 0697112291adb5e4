"""airgap.mirror.containerd_mirror_host on a real Debian host with Debian's containerd package.

The mirror is a real docker-registry (TLS + htpasswd) filled by airgap.mirror.image_mirror under
the namespace ``mirror/``; the mirror map names it 10.88.0.1:<port>, the host knows it as
mirror.test:<port>. The host runs ``containerd`` (installed with apt inside the host, started in
the background; feasibility.md section 7) and ``ctr content fetch --hosts-dir`` is the client:
unpacking layers fails in an unprivileged container, so the proof is the fetch by the *source*
name (quay.io/...@sha256), the content store holding the digest, and the mirror's access log
showing the manifest and blob GETs under /v2/mirror/... (``override_path``) - TLS verified with
the CA the role placed (the host's system trust does not have it: a fetch of the mirror's own name
without the hosts directory fails with an unknown authority).

Also: the k3s registries.yaml the role writes (mode 0600, credentials never in Ansible's output)
validates against the schema written from the k3s docs; a second run changes nothing; check mode
changes nothing; state=absent gives back the host's files as they were (fingerprint) and the fetch
fails again.
"""

from __future__ import annotations

import json
import pathlib

import jsonschema
import pytest
import yaml

from support import hosts, images
from support.ansible_run import AnsibleResult, AnsibleRunner

pytestmark = [pytest.mark.integration, pytest.mark.hosts]

CERTS_D = "/etc/containerd/certs.d"
CA_FILE = "/etc/containerd/airgap-mirror-ca.crt"
K3S = "/etc/rancher/k3s/registries.yaml"
STATE_DIR = "/var/lib/airgap-mirror"
FINGERPRINT_PATHS = ("/etc", "/root", STATE_DIR)
ROLE = "airgap.mirror.containerd_mirror_host : "
K3S_SCHEMA = json.loads((pathlib.Path(__file__).parents[2] / "unit" / "plugins" / "module_utils" / "_consumers"
                         / "schemas" / "k3s-registries.schema.json").read_text())


def role_play(**role_vars) -> dict:
    return {"name": "containerd_mirror_host", "hosts": "ctrd1", "gather_facts": False,
            "roles": [{"role": "airgap.mirror.containerd_mirror_host", "vars": role_vars}] if role_vars
            else ["airgap.mirror.containerd_mirror_host"]}


def run(runner: AnsibleRunner, bed: hosts.HostBed, plays: list[dict], **kwargs) -> AnsibleResult:
    res = runner.playbook(json.dumps(plays, indent=1) + "\n", inventory=bed.inventory, **kwargs)
    assert res.rc == 0, res.output
    return res


def ctr_fetch(bed: hosts.HostBed, reg: hosts.MirrorRegistry, ref: str, hosts_dir: bool = True):
    cmd = ["ctr", "content", "fetch", "--user", f"{reg.username}:{reg.password}"]
    if hosts_dir:
        cmd += ["--hosts-dir", CERTS_D]
    return bed.exec("ctrd1", *cmd, ref, check=False, timeout=120)


def changed_tasks(res: AnsibleResult) -> list[str]:
    return [r["task"] for r in res.results if r["kind"] == "task" and r["changed"]]


def test_containerd_mirror_host_with_real_containerd(debian_hosts, hosts_mirror_registry, tmp_path):
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")
    layout = images.OCILayout(tmp_path / "oci")
    img = hosts.unique_image(layout, ref=None)
    source_ref = f"quay.io/airgap-test/app@{img.digest}"
    layout.tag(source_ref, img.descriptor)
    inventory_dir = tmp_path / "hostbed"
    inventory_dir.mkdir(parents=True, exist_ok=True)
    mirror_map = inventory_dir / "mirror-map.yml"

    bed = debian_hosts(1, "ctrd", host_vars=[{
        "containerd_mirror_host_mirror_map": "mirror-map.yml",
        "containerd_mirror_host_mirror_names": {reg.host: reg.mirror_host},
        "containerd_mirror_host_ca": str(reg.ca_path),
        "containerd_mirror_host_k3s": True,
        "containerd_mirror_host_username": reg.username,
        "containerd_mirror_host_password": reg.password,
    }])
    # Debian's containerd, from the Debian mirror the host reaches
    inst = bed.exec("ctrd1", "sh", "-c", "apt-get update -q && DEBIAN_FRONTEND=noninteractive "
                    "apt-get install -y -q --no-install-recommends containerd", check=False, timeout=900)
    assert inst.returncode == 0, inst.stdout[-3000:] + inst.stderr[-3000:]
    bed.exec("ctrd1", "sh", "-c", "setsid containerd >/var/log/containerd.log 2>&1 < /dev/null &")
    up = bed.exec("ctrd1", "sh", "-c", "for i in $(seq 50); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; "
                  "done; cat /var/log/containerd.log; exit 1", check=False)
    assert up.returncode == 0, up.stdout[-3000:]
    # someone else's hosts.toml files: one for a registry the map does not name (kept throughout),
    # one for quay.io (the role stops before changing anything)
    for registry in ("ghcr.io", "quay.io"):
        bed.exec("ctrd1", "sh", "-c", f"mkdir -p {CERTS_D}/{registry} && printf '%s\\n' "
                 f"'server = \"https://{registry}\"' > {CERTS_D}/{registry}/hosts.toml")
    before_foreign = bed.fingerprint("ctrd1", FINGERPRINT_PATHS)

    # fill the mirror (and write the map) from the controller
    res = run(runner, bed, [{"name": "Fill the mirror", "hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Fill the mirror",
        "airgap.mirror.image_mirror": {
            "images": ["all"], "src": f"oci:{layout.path}", "dest": f"{reg.host}/mirror",
            "dest_username": reg.username, "dest_password": reg.password, "ca_path": str(reg.ca_path),
            "mirror_map": str(mirror_map)},
    }]}])
    mirror_ref = f"{reg.mirror_host}/mirror/airgap-test/app@{img.digest}"

    refused = runner.playbook(json.dumps([role_play()]) + "\n", inventory=bed.inventory)
    assert refused.rc != 0
    assert (f"containerd_mirror_host would replace {CERTS_D}/quay.io/hosts.toml, not written by this role"
            in refused.output), refused.output
    assert bed.fingerprint("ctrd1", FINGERPRINT_PATHS) == before_foreign
    bed.exec("ctrd1", "rm", "-r", f"{CERTS_D}/quay.io")
    pristine = bed.fingerprint("ctrd1", FINGERPRINT_PATHS)

    # before: the source name does not reach the mirror; the mirror's own name fails TLS (the CA
    # is not in the host's trust)
    mark = reg.mark()
    before = ctr_fetch(bed, reg, source_ref)
    assert before.returncode != 0
    assert reg.since(mark) == []
    untrusted = ctr_fetch(bed, reg, mirror_ref, hosts_dir=False)
    assert untrusted.returncode != 0 and "certificate signed by unknown authority" in untrusted.stderr, \
        untrusted.stderr

    # check mode first: nothing changes
    check = run(runner, bed, [role_play()], check=True, diff=True)
    assert ROLE + "Write the containerd hosts.toml files" in changed_tasks(check)
    assert bed.fingerprint("ctrd1", FINGERPRINT_PATHS) == pristine, "check mode changed the host"

    # the role
    res = run(runner, bed, [role_play()], diff=True)
    assert reg.password not in res.output
    hosts_toml = bed.exec("ctrd1", "cat", f"{CERTS_D}/quay.io/hosts.toml").stdout
    assert f'[host."https://{reg.mirror_host}/v2/mirror"]' in hosts_toml
    assert "override_path = true" in hosts_toml and f'ca = "{CA_FILE}"' in hosts_toml
    assert "skip_verify" not in hosts_toml
    assert bed.exec("ctrd1", "cat", f"{CERTS_D}/ghcr.io/hosts.toml").stdout == 'server = "https://ghcr.io"\n'
    assert bed.exec("ctrd1", "cat", CA_FILE).stdout == reg.ca_path.read_text()

    # after: the source name is served by the mirror, TLS verified with the role's CA
    mark = reg.mark()
    after = ctr_fetch(bed, reg, source_ref)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    seen = reg.since(mark)
    manifest_path = f"/v2/mirror/airgap-test/app/manifests/{img.digest}"
    # containerd names the source registry in the ``ns`` query parameter of each mirror request
    assert any(r.path == manifest_path + "?ns=quay.io" and r.status == 200 for r in seen), seen
    assert any(r.path.startswith("/v2/mirror/airgap-test/app/blobs/sha256:") and r.status == 200
               for r in seen), seen
    assert not [r for r in seen if r.path.startswith("/v2/airgap-test/")], seen  # never without the namespace
    stored = bed.exec("ctrd1", "ctr", "content", "ls", "-q").stdout.split()
    assert img.digest in stored

    # k3s/RKE2 file: 0600, documented schema, the rewrite and the credentials
    assert bed.exec("ctrd1", "stat", "-c", "%a", K3S).stdout.strip() == "600"
    k3s = yaml.safe_load(bed.exec("ctrd1", "cat", K3S).stdout)
    jsonschema.validate(k3s, K3S_SCHEMA)
    assert k3s["mirrors"]["quay.io"] == {"endpoint": [f"https://{reg.mirror_host}"], "rewrite": {"^(.*)$": "mirror/$1"}}
    assert k3s["configs"][reg.mirror_host] == {"auth": {"username": reg.username, "password": reg.password},
                                               "tls": {"ca_file": CA_FILE}}

    # a second run changes nothing
    again = run(runner, bed, [role_play()], diff=True)
    assert changed_tasks(again) == [], changed_tasks(again)

    # state=absent: check mode changes nothing, then the host's files are as they were
    configured = bed.fingerprint("ctrd1", FINGERPRINT_PATHS)
    run(runner, bed, [role_play(containerd_mirror_host_state="absent")], check=True, diff=True)
    assert bed.fingerprint("ctrd1", FINGERPRINT_PATHS) == configured
    gone = run(runner, bed, [role_play(containerd_mirror_host_state="absent")], diff=True)
    assert ROLE + "Remove the files the role wrote" in changed_tasks(gone)
    assert bed.fingerprint("ctrd1", FINGERPRINT_PATHS) == pristine
    bed.exec("ctrd1", "ctr", "content", "rm", img.digest)
    mark = reg.mark()
    assert ctr_fetch(bed, reg, source_ref).returncode != 0
    assert reg.since(mark) == []
    twice = run(runner, bed, [role_play(containerd_mirror_host_state="absent")])
    assert changed_tasks(twice) == [], changed_tasks(twice)
