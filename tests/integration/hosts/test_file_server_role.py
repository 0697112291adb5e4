"""airgap.mirror.file_server on real Debian hosts: the host's Debian nginx (in the host image,
``tests/support/hosts.py`` ``HOST_PACKAGES``) serves a directory from the controller over HTTPS, as
an instance of its own, started as a daemon (the test bed's hosts run no systemd: the systemd
manager is not proven here).

The independent clients are curl and coreutils on the hosts: ``curl --cacert`` over HTTPS (TLS
verified: a name the certificate does not carry is refused) from the serving host and from a second
host, then ``sha512sum -c`` on what was fetched. Proven: check mode changes nothing; the first run
serves the tree; a re-run changes nothing; a changed tree (and plain HTTP turned on) is served
whole from a new release, the old one removed; state=absent gives the host back its first state.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess

import pytest
import yaml

from support import hosts, images
from support.gpg import make_key
from support.skopeo import fatal_line as fatal
from support.ansible_run import AnsibleResult, AnsibleRunner

pytestmark = [pytest.mark.integration, pytest.mark.hosts]

ROLE = "airgap.mirror.file_server : "
FINGERPRINT_PATHS = ("/etc", "/root", "/var/lib/airgap-mirror", "/var/log/airgap-mirror")
DATA = "/var/lib/airgap-mirror/file-server/files"
CA = "/tmp/test-ca.crt"


def role_play(name: str, pattern: str, **keywords) -> dict:
    return {"name": name, "hosts": pattern, "gather_facts": False, "roles": ["airgap.mirror.file_server"], **keywords}


def marker(name: str) -> dict:
    return {"name": name, "hosts": "all", "gather_facts": False,
            "tasks": [{"name": name, "ansible.builtin.debug": {"msg": name}}]}


def pipelined(bed: hosts.HostBed):
    """The bed's inventory with ssh pipelining (one ssh round trip per task instead of several)."""
    inv = json.loads(bed.inventory.read_text())
    inv["all"]["vars"]["ansible_pipelining"] = True
    path = bed.inventory.with_name("inventory-pipelined.json")
    path.write_text(json.dumps(inv))
    return path


def run(runner: AnsibleRunner, bed: hosts.HostBed, plays: list[dict], **kwargs) -> AnsibleResult:
    res = runner.playbook(json.dumps(plays, indent=1) + "\n", inventory=pipelined(bed), **kwargs)
    assert res.rc == 0, res.output
    return res


def changed(res: AnsibleResult, host: str, start: str, end: str | None = None) -> list[str]:
    """The role's tasks that changed something on *host* between the markers *start* and *end*."""
    out, inside = [], False
    for r in res.results:
        if r["task"] in (start, end):
            inside = r["task"] == start
            continue
        if inside and r["kind"] == "task" and r["host"] == host and r["changed"] and r["task"].startswith(ROLE):
            out.append(r["task"][len(ROLE):])
    return out


def write_tree(root, files: dict[str, bytes]) -> None:
    """*files* under *root*, and SHA512SUMS listing them (what a download site publishes)."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    sums = "".join(f"{hashlib.sha512(data).hexdigest()}  {rel}\n" for rel, data in sorted(files.items()))
    (root / "SHA512SUMS").write_text(sums)


def fetch_and_check(bed: hosts.HostBed, host: str, base: str, files: list[str]) -> str:
    """curl every file and SHA512SUMS from *base* on *host* (TLS verified with the test CA), then sha512sum -c."""
    script = ('set -e; rm -rf /tmp/got; mkdir -p /tmp/got; cd /tmp/got; base="$1"; shift; '
              'for f in SHA512SUMS "$@"; do mkdir -p "$(dirname "$f")"; '
              'curl -sS --fail --cacert ' + CA + ' -o "$f" "$base/$(echo "$f" | sed "s/ /%20/g")"; done; sha512sum -c SHA512SUMS')
    res = bed.exec(host, "sh", "-c", script, "sh", base, *files, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_serves_a_tree_over_https_and_replaces_it_whole(debian_hosts, hosts_pki, tmp_path):
    bed = debian_hosts(2, "files")
    server, client = "files1", "files2"
    ip = bed.hosts[server].ip
    pair = hosts_pki.server_cert([f"IP:{ip}", "DNS:files.test"])
    tree = tmp_path / "tree"
    v1 = {"a.txt": b"first file\n", "sub/dir/b.bin": secrets.token_bytes(200_000), "sub/c d.txt": b"spaces\n"}
    write_tree(tree, v1)
    for host in (server, client):
        bed.exec(host, "python3", "-c", f"open({CA!r}, 'w').write({hosts_pki.ca_cert.read_text()!r})")
    variables = {"file_server_src": str(tree), "file_server_tls_cert_file": str(pair.cert),
                 "file_server_tls_key_file": str(pair.key), "airgap_mirror_become": False}
    runner = AnsibleRunner(tmp_path / "ansible")
    pristine = bed.fingerprint(server, FINGERPRINT_PATHS)
    # a stale pid file whose number now belongs to another process: not taken for the server (not signalled)
    pid_file = "/run/airgap-file-server-files.pid"
    bed.exec(server, "sh", "-c", f"sleep 600 >/dev/null 2>&1 & echo $! > {pid_file}")
    foreign = bed.exec(server, "cat", pid_file).stdout.strip()

    # check mode, the first run, a re-run
    res = run(runner, bed, [marker("check"), role_play("check", server, check_mode=True), marker("first"),
                            role_play("first", server), marker("again"), role_play("again", server)],
              extra_vars=variables, diff=True)
    would = changed(res, server, "check", "first")
    assert {"Create the directories of the instance", "Install the TLS key", "Write the nginx configuration",
            "Copy the tree into its release directory", "Serve the release"} <= set(would), would
    assert "Start nginx" not in would  # skipped in check mode (a command)
    first = changed(res, server, "first", "again")
    assert {"Copy the tree into its release directory", "Serve the release", "Start nginx"} <= set(first), first
    assert changed(res, server, "again") == [], "the re-run changed something"
    health = res.task(ROLE + "Ask the file server which release it serves", server)
    result = res.task(ROLE + "Record the result", server)[-1]["result"]["ansible_facts"]["file_server_result"]
    assert result["url"] == f"https://{ip}:8443/" and result["manager"] == "daemon" and result["files"] == 4
    # skipped in check mode (nothing would be served yet), then the digest of the tree on both runs
    assert health[0]["skipped"], health[0]
    assert [h["result"]["content"].strip() for h in health[1:]] == [result["digest"]] * 2
    assert bed.exec(server, "kill", "-0", foreign, check=False).returncode == 0, "the foreign process was signalled"
    assert bed.exec(server, "cat", pid_file).stdout.strip() != foreign
    # the key is 0600 and never in the output
    assert pair.key.read_text() not in res.output
    assert bed.exec(server, "stat", "-c", "%a", "/etc/airgap-mirror/file-server/files/tls.key").stdout.strip() == "600"

    # curl over HTTPS from the server itself and from another host, then sha512sum -c
    files = sorted(v1)
    for host, base in ((server, f"https://{ip}:8443"), (client, f"https://{ip}:8443"), (client, "https://files.test:8443")):
        if base.startswith("https://files.test"):
            bed.exec(host, "sh", "-c", f"echo '{ip} files.test' >> /etc/hosts")
        out = fetch_and_check(bed, host, base, files)
        assert out.count(": OK") == len(files), out
    # TLS is verified: a name the certificate does not carry is refused; no plain HTTP was asked for
    refused = bed.exec(client, "curl", "-sS", "--cacert", CA, f"https://{ip.replace('.', '-')}.nip.invalid:8443/a.txt",
                       "--resolve", f"{ip.replace('.', '-')}.nip.invalid:8443:{ip}", check=False)
    assert refused.returncode == 60 and "certificate" in refused.stderr, refused.stderr
    assert bed.exec(client, "curl", "-sS", f"http://{ip}:8080/a.txt", check=False).returncode == 7

    # a new tree (one file changed, one added, one removed) and plain HTTP: a new release, a reload
    v2 = {"a.txt": b"first file, second edition\n", "sub/dir/b.bin": v1["sub/dir/b.bin"], "new.txt": b"new\n"}
    (tree / "sub" / "c d.txt").unlink()
    write_tree(tree, v2)
    res = run(runner, bed, [marker("update"), role_play("update", server)],
              extra_vars={**variables, "file_server_http_port": 8080}, diff=True)
    update = changed(res, server, "update")
    assert {"Copy the tree into its release directory", "Serve the release", "Write the nginx configuration",
            "Reload nginx (new configuration or certificate)", "Remove the releases no longer served"} <= set(update), update
    assert "Start nginx" not in update
    result2 = res.task(ROLE + "Record the result", server)[0]["result"]["ansible_facts"]["file_server_result"]
    assert result2["release"] != result["release"]
    releases = bed.exec(server, "ls", f"{DATA}/releases").stdout.split()
    assert releases == [result2["release"]]
    assert bed.exec(server, "readlink", f"{DATA}/current").stdout.strip() == f"releases/{result2['release']}"
    for base in (f"https://{ip}:8443", f"http://{ip}:8080"):
        out = fetch_and_check(bed, client, base, sorted(v2))
        assert out.count(": OK") == len(v2), out
    gone = bed.exec(client, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", f"http://{ip}:8080/sub/c%20d.txt")
    assert gone.stdout == "404"

    # state=absent gives the host back its first state; a second time changes nothing
    absent = {**variables, "file_server_state": "absent"}
    res = run(runner, bed, [marker("absent"), role_play("absent", server), marker("absent again"),
                            role_play("absent again", server)], extra_vars=absent)
    assert "Stop nginx" in changed(res, server, "absent", "absent again")
    assert changed(res, server, "absent again") == []
    assert bed.fingerprint(server, FINGERPRINT_PATHS) == pristine
    stopped = bed.exec(client, "curl", "-sS", "--cacert", CA, f"https://{ip}:8443/a.txt", check=False)
    assert stopped.returncode == 7, stopped.stderr  # connection refused: nothing listens any more


# -- issue 15: hosts read GPG signatures from the lookaside store, served over HTTPS by file_server ---

NAMES = {"signed": "quay.io/airgap-test/signed", "unsigned": "quay.io/airgap-test/unsigned",
         "other": "quay.io/airgap-test/other"}
PULL_SECRET = "/etc/crio/openshift-pull-secret"


def pulls_play(name: str, commands: dict[str, str]) -> dict:
    """Each shell command on node1 (skopeo evaluates the policy); results by item key."""
    return {"name": name, "hosts": "node1", "gather_facts": False, "tasks": [{
        "name": name, "ansible.builtin.shell": "{{ item.value }}", "loop": [
            {"key": k, "value": v} for k, v in commands.items()],
        "failed_when": False, "changed_when": False}]}


def by_key(res: AnsibleResult, name: str) -> dict[str, dict]:
    return {r["result"]["item"]["key"]: r["result"] for r in res.task(name, "node1", items=True)}


def test_hosts_pull_signed_images_with_signatures_served_by_file_server(debian_hosts, hosts_mirror_registry,
                                                                        hosts_pki, tmp_path):
    """image_mirror (signature_policy) verifies and writes the lookaside store (lookaside_dir);
    file_server serves it over HTTPS; registry_mirror_host points registries.d at it; skopeo on the
    host pulls the signed image by digest through the mirror, reading its signature over HTTPS with
    the CA from the system trust store, and refuses the unsigned one and one signed by a key the
    mirror trusted for it but the hosts do not."""
    reg = hosts_mirror_registry
    runner = AnsibleRunner(tmp_path / "ansible")
    layout = images.OCILayout(tmp_path / "oci")
    digests, refs = {}, {}
    for short, name in NAMES.items():
        img = hosts.unique_image(layout, ref=None)
        layout.tag(f"{name}@{img.digest}", img.descriptor)
        digests[short], refs[short] = img.digest, f"{name}@{img.digest}"
    # the connected side's lookaside store (laid out by the source's paths), signed with skopeo:
    # "signed" by alice, "other" by bob
    inventory_dir = tmp_path / "hostbed"
    (inventory_dir / "files").mkdir(parents=True)
    source_store = tmp_path / "source-lookaside"
    keys = {}
    for short, signer in (("signed", "alice"), ("other", "bob")):
        key = make_key(tmp_path, signer)
        target = source_store / f"airgap-test/{short}@sha256={digests[short][7:]}"
        target.mkdir(parents=True)
        subprocess.run(["skopeo", "standalone-sign", "-o", str(target / "signature-1"),
                        str(layout.blob_path(digests[short])), f"{NAMES[short]}:1.0", key.fingerprint],
                       check=True, env=key.env(), timeout=60)
        key.stop_agent()
        keys[short] = inventory_dir / "files" / f"{signer}.gpg"
        keys[short].write_bytes(key.public)
    key_file = keys["signed"]
    # image_mirror's policy: "signed" must carry alice's signature, "other" bob's (the mirror trusts
    # bob for it, the hosts do not); the unsigned one passes the default: the host enforces what the
    # mirror did not require
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {
        NAMES[short]: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(keys[short])}]
        for short in ("signed", "other")}}}))
    registries_d = tmp_path / "registries.d"
    registries_d.mkdir()
    (registries_d / "source.yaml").write_text(json.dumps(
        {"docker": {"quay.io/airgap-test": {"lookaside": source_store.as_uri()}}}))
    served = tmp_path / "lookaside"  # what image_mirror writes, and file_server serves
    mirror_map = inventory_dir / "mirror-map.yml"

    bed = debian_hosts(1, "node")
    ip = bed.hosts["node1"].ip
    pair = hosts_pki.server_cert([f"IP:{ip}", "DNS:files.test"])
    bed.exec("node1", "sh", "-c", f"echo '{ip} files.test' >> /etc/hosts")
    host_vars = {
        "registry_mirror_host_ca_trust": [{"name": "airgap-test-ca", "src": str(reg.ca_path)}],
        "registry_mirror_host_username": reg.username, "registry_mirror_host_password": reg.password,
        "registry_mirror_host_mirror_map": str(mirror_map),
        "registry_mirror_host_mirror_names": {reg.host: reg.mirror_host},
        "registry_mirror_host_signatures": [{"source": "quay.io/airgap-test", "kind": "gpg",
                                             "keys": [str(key_file)]}],
        "registry_mirror_host_lookaside": "https://files.test:8443",
        "airgap_mirror_become": False,
        "file_server_src": str(served), "file_server_name": "lookaside",
        "file_server_tls_cert_file": str(pair.cert), "file_server_tls_key_file": str(pair.key),
    }
    skopeo = f"rm -rf /tmp/pull && skopeo --debug copy --authfile {PULL_SECRET} docker://%s dir:/tmp/pull"
    res = run(runner, bed, [
        {"name": "Mirror and verify", "hosts": "localhost", "gather_facts": False, "tasks": [{
            "name": "Mirror and verify", "no_log": True, "airgap.mirror.image_mirror": {
                "images": ["all"], "src": f"oci:{layout.path}", "dest": f"{reg.host}/mirror",
                "dest_username": reg.username, "dest_password": reg.password, "ca_path": str(reg.ca_path),
                "mirror_map": str(mirror_map), "signature_policy": str(policy),
                "registries_d": str(registries_d), "lookaside_dir": str(served)}}]},
        role_play("Serve the lookaside store", "node1"),
        {"import_playbook": "airgap.mirror.configure_hosts", "vars": {"airgap_mirror_hosts": "node1"}},
        pulls_play("Pull", {
            "signed": skopeo % refs["signed"], "unsigned": skopeo % refs["unsigned"], "other": skopeo % refs["other"],
            # the same store under a name its certificate does not carry: containers/image verifies TLS
            # (the lookaside is looked up by the mirror's name, see docs/signatures.md)
            "wrong name": (f"mkdir -p /tmp/regd && printf 'docker:\\n  {reg.mirror_host}/mirror/airgap-test:\\n"
                           "    lookaside: https://127.0.0.1:8443\\n' > /tmp/regd/probe.yaml && "
                           + (skopeo % refs["signed"]).replace("skopeo --debug", "skopeo --debug --registries.d /tmp/regd"))}),
    ], extra_vars=host_vars)

    # what image_mirror wrote: the signatures under the MIRROR's paths, nothing for the unsigned image
    entries = {e["source"]: e["destination"] for e in yaml.safe_load(mirror_map.read_text())["images"]}
    mirror_repo = entries[refs["signed"]].rsplit(":", 1)[0].replace(reg.host, reg.mirror_host, 1)
    path = f"{mirror_repo.split('/', 1)[1]}@sha256={digests['signed'][7:]}/signature-1"
    other = f"mirror/airgap-test/other@sha256={digests['other'][7:]}/signature-1"
    assert sorted(str(p.relative_to(served)) for p in served.rglob("*") if p.is_file()) == sorted([path, other])
    assert (served / path).read_bytes() == (source_store / "airgap-test" / path.split("/", 2)[2]).read_bytes()
    # served over HTTPS by file_server: curl (the system trust store) gets the same bytes (sha256sum -c)
    sha = hashlib.sha256((served / path).read_bytes()).hexdigest()
    check = bed.exec("node1", "sh", "-c", 'curl -sS --fail -o /tmp/sig "$1" && echo "$2  /tmp/sig" | sha256sum -c',
                     "sh", f"https://files.test:8443/{path}", sha, check=False)
    assert check.returncode == 0 and check.stdout == "/tmp/sig: OK\n", check.stdout + check.stderr

    result = by_key(res, "Pull")
    signed = result["signed"]
    assert signed["rc"] == 0, signed["stderr"][-3000:]
    assert f'Trying to access \\"{mirror_repo}@{digests["signed"]}' in signed["stderr"], signed["stderr"][-3000:]
    # containers/image read the signature from file_server (registries.d lookaside of the mirror's scope)
    assert "Using \\\"lookaside\\\" https://files.test:8443" in signed["stderr"], signed["stderr"][-3000:]
    assert f'msg="GET https://files.test:8443/{path}"' in signed["stderr"], signed["stderr"][-3000:]
    assert "Source image rejected: A signature was required, but no signature exists" in fatal(result["unsigned"])
    assert "Source image rejected: Invalid GPG signature" in fatal(result["other"]), result["other"]["stderr"][-2000:]
    assert f'msg="GET https://files.test:8443/{other}"' in result["other"]["stderr"]
    # the CA is trusted through the system store only (no certs.d: registry_mirror_host_certs_d is false)
    assert bed.exec("node1", "sh", "-c", "ls -A /etc/containers/certs.d 2>/dev/null | wc -l").stdout.strip() == "0"
    wrong = fatal(result["wrong name"])
    assert "x509" in wrong and "127.0.0.1" in wrong, wrong
    access = bed.exec("node1", "cat", "/var/log/airgap-mirror/file-server/lookaside/access.log").stdout
    assert f'"GET /{path} HTTP/1.1" 200' in access, access
