"""GeoIP databases across the gap, with real parts: a loopback HTTPS site (tests/support/
artifact_site.py, the test CA) serves an ``overview.json`` in the shape Elastic documents for a
custom endpoint (written here, not recorded from geoip.elastic.co) and two ``.tgz`` databases
made with ``tar``; ``md5sum`` gives the overview's ``md5_hash``. One ansible-playbook run reads the
overview with ``ansible.builtin.uri``, mirrors the databases with ``airgap.mirror.artifact_mirror``
(pinned md5 from the overview), exports them into a served tree, and writes the endpoint's own
``overview.json`` with the role's ``endpoint`` entry point; ``md5sum -c`` checks the tree. A
database whose overview md5 is wrong is refused. The ECK patch is rendered and compared exactly
(no Elasticsearch CRD schema is available offline, so it is not schema-validated)."""

from __future__ import annotations

import json
import subprocess
import tarfile

import pytest
import yaml

from support.artifact_site import ArtifactSite

pytestmark = pytest.mark.integration

PLAY = """
- name: Connected side - read the overview, mirror the databases
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the GeoIP overview
      ansible.builtin.uri:
        url: "{{ overview_url }}"
        ca_path: "{{ ca }}"
        return_content: true
      register: overview
    - name: Mirror the databases
      airgap.mirror.artifact_mirror:
        dest: "oci:{{ layout }}"
        ca_path: "{{ ca }}"
        files: "{{ overview.content | airgap.mirror.elasticsearch_geoip_files(overview_url) }}"
      register: mirrored
      ignore_errors: true
    - name: Export the stored databases into the served tree
      airgap.mirror.artifact_mirror:
        state: exported
        src: "oci:{{ layout }}"
        dest: "dir:{{ www }}"
    - name: Write the endpoint's overview.json
      ansible.builtin.include_role:
        name: airgap.mirror.elasticsearch_geoip
        tasks_from: endpoint
      vars:
        elasticsearch_geoip_endpoint_dir: "{{ www }}/geoip"
"""


def _tgz(path, member, data):
    inner = path.parent / member
    inner.write_bytes(data)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(inner, arcname=member)
    inner.unlink()


def _md5(path):
    return subprocess.run(["md5sum", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]


def test_geoip_databases_mirrored_exported_and_served_overview(tmp_path, pki, ansible_run):
    root = tmp_path / "site"
    (root / "v1").mkdir(parents=True)
    (root / "db").mkdir()
    asn, city, bad = root / "db" / "GeoLite2-ASN.tgz", root / "v1" / "GeoLite2-City.tgz", root / "db" / "Bad.tgz"
    _tgz(asn, "GeoLite2-ASN.mmdb", b"asn database " * 1000)
    _tgz(city, "GeoLite2-City.mmdb", b"city database " * 3000)
    _tgz(bad, "Bad.mmdb", b"tampered")
    layout, www = tmp_path / "layout", tmp_path / "www"
    with ArtifactSite(root, pki=pki) as site:
        overview = [
            {"name": "GeoLite2-ASN.tgz", "md5_hash": _md5(asn), "url": site.url("db/GeoLite2-ASN.tgz"),
             "provider": "maxmind", "updated": 1733443200000},
            {"name": "GeoLite2-City.tgz", "md5_hash": _md5(city), "url": "GeoLite2-City.tgz",  # relative
             "provider": "maxmind", "updated": 1733443200000},
            {"name": "Bad.tgz", "md5_hash": "0" * 32, "url": site.url("db/Bad.tgz"), "provider": "maxmind",
             "updated": 1733443200000}]
        (root / "v1" / "overview.json").write_text(json.dumps(overview))
        variables = {"overview_url": site.url("v1/overview.json"), "ca": str(pki.ca_cert),
                     "layout": str(layout), "www": str(www)}
        res = ansible_run.playbook(PLAY, extra_vars=variables)
        assert res.rc == 0, res.output
        mirrored = res.one("Mirror the databases")["result"]
        status = {f["url"].rsplit("/", 1)[1]: f for f in mirrored["files"]}
        assert status["GeoLite2-ASN.tgz"]["status"] == status["GeoLite2-City.tgz"]["status"] == "downloaded"
        assert status["GeoLite2-City.tgz"]["url"] == site.url("v1/GeoLite2-City.tgz")
        assert status["GeoLite2-ASN.tgz"]["checksum"] == "md5:" + _md5(asn)
        assert "checksum mismatch" in status["Bad.tgz"]["error"] and "1 of 3 files failed" in mirrored["msg"]
        again = ansible_run.playbook(PLAY, extra_vars=variables)
        assert again.rc == 0, again.output
        assert again.changed == [], again.output  # nothing downloaded, exported or rewritten again

    served = www / "geoip"
    assert sorted(p.name for p in served.iterdir()) == [
        "GeoLite2-ASN.tgz", "GeoLite2-ASN.tgz.md5", "GeoLite2-City.tgz", "GeoLite2-City.tgz.md5", "overview.json"]
    check = subprocess.run(["md5sum", "-c", "GeoLite2-ASN.tgz.md5", "GeoLite2-City.tgz.md5"], cwd=served,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0 and check.stdout.count(": OK") == 2, check.stdout + check.stderr
    endpoint = json.loads((served / "overview.json").read_text())
    assert [(e["name"], e["md5_hash"], e["url"], e["provider"]) for e in endpoint] == [
        ("GeoLite2-ASN.tgz", _md5(asn), "GeoLite2-ASN.tgz", "maxmind"),
        ("GeoLite2-City.tgz", _md5(city), "GeoLite2-City.tgz", "maxmind")]
    assert all(isinstance(e["updated"], int) and e["updated"] > 1_000_000_000_000 for e in endpoint)
    with tarfile.open(served / "GeoLite2-City.tgz") as tar:
        assert tar.getnames() == ["GeoLite2-City.mmdb"]


ECK_PLAY = """
- name: Elasticsearch on ECK
  hosts: localhost
  gather_facts: false
  roles:
    - role: airgap.mirror.elasticsearch_geoip
"""


def test_eck_nodesets_patch_rendered_and_written(tmp_path, ansible_run):
    out = tmp_path / "manifests"
    out.mkdir()
    endpoint = "https://files.corp.net/geoip/overview.json"
    variables = {"elasticsearch_geoip_target": "eck", "elasticsearch_geoip_endpoint": endpoint,
                 "elasticsearch_geoip_eck_name": "quickstart", "elasticsearch_geoip_eck_namespace": "elastic",
                 "elasticsearch_geoip_eck_nodesets": ["hot", "ingest"], "elasticsearch_geoip_manifest_dir": str(out)}
    manifest = out / "elasticsearch-quickstart-geoip.yaml"
    res = ansible_run.playbook(ECK_PLAY, extra_vars=variables, check=True)
    assert res.rc == 0 and not manifest.exists(), res.output
    res = ansible_run.playbook(ECK_PLAY, extra_vars=variables)
    assert res.rc == 0, res.output
    assert yaml.safe_load(manifest.read_text()) == {
        "apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch",
        "metadata": {"name": "quickstart", "namespace": "elastic"},
        "spec": {"nodeSets": [{"name": "hot", "config": {"ingest.geoip.downloader.endpoint": endpoint}},
                              {"name": "ingest", "config": {"ingest.geoip.downloader.endpoint": endpoint}}]}}
    res = ansible_run.playbook(ECK_PLAY, extra_vars=variables)
    assert res.rc == 0 and res.changed == [], res.output
    for extra, message in (({"elasticsearch_geoip_endpoint": "files.corp.net/overview.json"},
                            "must be the http(s) URL of the served overview.json"),
                           ({"elasticsearch_geoip_eck_nodesets": ["Hot"]}, "is not a DNS-1123 label"),
                           ({"elasticsearch_geoip_eck_name": "Quick_Start"}, "must be a DNS-1123 subdomain")):
        res = ansible_run.playbook(ECK_PLAY, extra_vars={**variables, **extra})
        assert res.rc != 0 and message in res.output, (extra, res.output)
