"""Issue 17's "serving role on a real Debian host", end to end: files mirrored by
airgap.mirror.artifact_mirror from a loopback HTTPS artifact site (test CA; an Elastic Agent tarball
with its ``sha512sum`` file, and two GeoIP databases listed in an overview with their md5), exported
as a download tree on the controller, the GeoIP endpoint's overview.json written by
airgap.mirror.elasticsearch_geoip, then served by airgap.mirror.file_server (the host's Debian nginx,
HTTPS) on a Debian host of the test bed. On that host, ``curl`` (TLS verified with the test CA)
fetches the tree's files and ``sha512sum -c`` / ``md5sum -c`` check them - the same commands an
agent host or an administrator would run against the served tree."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile

import pytest

from support.ansible_run import AnsibleRunner
from support.artifact_site import ArtifactSite

pytestmark = [pytest.mark.integration, pytest.mark.hosts]

AGENT = "downloads/beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz"
CA = "/tmp/test-ca.crt"

MIRROR = """
- name: Mirror and export on the controller
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the GeoIP overview
      ansible.builtin.uri:
        url: "{{ site }}/geoip/overview.json"
        ca_path: "{{ site_ca }}"
        return_content: true
      register: overview
    - name: Mirror the files
      airgap.mirror.artifact_mirror:
        dest: "oci:{{ layout }}"
        ca_path: "{{ site_ca }}"
        files: "{{ [site ~ '/' ~ agent] + (overview.content | airgap.mirror.elasticsearch_geoip_files(site ~ '/geoip/overview.json')) }}"
    - name: Export the download tree
      airgap.mirror.artifact_mirror:
        state: exported
        src: "oci:{{ layout }}"
        dest: "dir:{{ tree }}"
    - name: Write the endpoint's overview.json
      ansible.builtin.include_role:
        name: airgap.mirror.elasticsearch_geoip
        tasks_from: endpoint
      vars:
        elasticsearch_geoip_endpoint_dir: "{{ tree }}/geoip"
- name: Serve the tree
  hosts: served1
  gather_facts: false
  roles:
    - airgap.mirror.file_server
"""


def test_exported_artifacts_served_and_checked_on_the_host(debian_hosts, hosts_pki, pki, tmp_path):
    root = tmp_path / "site"
    (root / os.path.dirname(AGENT)).mkdir(parents=True)
    (root / AGENT).write_bytes(os.urandom(200_000))
    digest = hashlib.sha512((root / AGENT).read_bytes()).hexdigest()
    (root / (AGENT + ".sha512")).write_text(f"{digest}  {os.path.basename(AGENT)}\n")
    (root / "geoip").mkdir()
    overview = []
    for name in ("GeoLite2-ASN", "GeoLite2-City"):
        mmdb = tmp_path / f"{name}.mmdb"
        mmdb.write_bytes(os.urandom(5000))
        with tarfile.open(root / "geoip" / f"{name}.tgz", "w:gz") as tar:
            tar.add(mmdb, arcname=mmdb.name)
        md5 = hashlib.md5((root / "geoip" / f"{name}.tgz").read_bytes()).hexdigest()
        overview.append({"name": f"{name}.tgz", "md5_hash": md5, "url": f"{name}.tgz", "provider": "maxmind",
                         "updated": 1733443200000})
    (root / "geoip" / "overview.json").write_text(json.dumps(overview))

    bed = debian_hosts(1, "served")
    ip = bed.hosts["served1"].ip
    pair = hosts_pki.server_cert([f"IP:{ip}"])
    bed.exec("served1", "python3", "-c", f"open({CA!r}, 'w').write({hosts_pki.ca_cert.read_text()!r})")
    inventory = json.loads(bed.inventory.read_text())
    inventory["all"]["vars"]["ansible_pipelining"] = True
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps(inventory))
    tree = tmp_path / "tree"
    runner = AnsibleRunner(tmp_path / "ansible")
    with ArtifactSite(root, pki=pki) as site:
        res = runner.playbook(MIRROR, inventory=inv, extra_vars={
            "site": site.url("").rstrip("/"), "site_ca": str(pki.ca_cert), "agent": AGENT,
            "layout": str(tmp_path / "layout"), "tree": str(tree), "file_server_src": str(tree),
            "file_server_tls_cert_file": str(pair.cert), "file_server_tls_key_file": str(pair.key),
            "airgap_mirror_become": False})
    assert res.rc == 0, res.output
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file()) == sorted([
        AGENT, AGENT + ".sha512", "geoip/GeoLite2-ASN.tgz", "geoip/GeoLite2-ASN.tgz.md5",
        "geoip/GeoLite2-City.tgz", "geoip/GeoLite2-City.tgz.md5", "geoip/overview.json"])

    base = f"https://{ip}:8443"
    script = ('set -e; rm -rf /tmp/got; mkdir -p /tmp/got; cd /tmp/got; '
              f'for f in {AGENT} {AGENT}.sha512 geoip/overview.json geoip/GeoLite2-ASN.tgz geoip/GeoLite2-ASN.tgz.md5 '
              'geoip/GeoLite2-City.tgz geoip/GeoLite2-City.tgz.md5; do mkdir -p "$(dirname "$f")"; '
              f'curl -sS --fail --cacert {CA} -o "$f" "{base}/$f"; done; '
              f'(cd {os.path.dirname(AGENT)} && sha512sum -c {os.path.basename(AGENT)}.sha512); '
              '(cd geoip && md5sum -c GeoLite2-ASN.tgz.md5 GeoLite2-City.tgz.md5 && md5sum *.tgz)')
    out = bed.exec("served1", "sh", "-c", script, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(": OK") == 3, out.stdout
    served = json.loads(bed.exec("served1", "cat", "/tmp/got/geoip/overview.json").stdout)
    host_md5 = dict(reversed(line.split("  ", 1)) for line in out.stdout.splitlines() if line.endswith(".tgz"))
    assert [(e["name"], e["md5_hash"], e["url"]) for e in served] == [
        (e["name"], e["md5_hash"], e["name"]) for e in overview]
    assert {e["name"]: e["md5_hash"] for e in served} == host_md5
