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

import pytest

from support import hosts
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

    # state=absent: check mode changes nothing, then the host's first state
    configured = bed.fingerprint(server, FINGERPRINT_PATHS)
    absent = {**variables, "file_server_state": "absent"}
    res = run(runner, bed, [role_play("absent check", server, check_mode=True)], extra_vars=absent)
    assert bed.fingerprint(server, FINGERPRINT_PATHS) == configured, "check mode changed the host"
    res = run(runner, bed, [marker("absent"), role_play("absent", server), marker("absent again"),
                            role_play("absent again", server)], extra_vars=absent)
    assert "Stop nginx" in changed(res, server, "absent", "absent again")
    assert changed(res, server, "absent again") == []
    assert bed.fingerprint(server, FINGERPRINT_PATHS) == pristine
    stopped = bed.exec(client, "curl", "-sS", "--cacert", CA, f"https://{ip}:8443/a.txt", check=False)
    assert stopped.returncode == 7, stopped.stderr  # connection refused: nothing listens any more
