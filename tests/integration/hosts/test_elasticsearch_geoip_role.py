"""airgap.mirror.elasticsearch_geoip on a real Debian host (over ssh, tests/support/hosts.py): the
Debian package's style of elasticsearch.yml (comments, dotted keys, a nested block; root:elasticsearch
0660) gets ingest.geoip.downloader.endpoint - check mode announces exactly what the real run writes
and writes nothing, a re-run changes nothing, the restart handler (a command recording the play) runs
once. In the same run the ``endpoint`` entry point writes overview.json next to two databases on the
host, and the host's own ``md5sum`` agrees with it. No Elasticsearch runs here: that a node then
downloads from the endpoint is not proven."""

from __future__ import annotations

import difflib
import json
import tarfile
from pathlib import Path

import pytest

from support.ansible_run import AnsibleRunner

FIXTURES = Path(__file__).resolve().parents[2] / "unit" / "fixtures" / "products"
ROLE = "airgap.mirror.elasticsearch_geoip"
ENDPOINT = "https://files.corp.net/geoip/overview.json"
MARKER = "/root/es-restarts"


def play(name, check=False):
    return {"name": name, "hosts": "es", "gather_facts": False, "check_mode": check,
            "roles": [{"role": ROLE}]}


@pytest.mark.integration
@pytest.mark.hosts
def test_elasticsearch_yml_and_endpoint_overview_on_a_host(debian_hosts, tmp_path):
    runner = AnsibleRunner(tmp_path / "ansible")
    bed = debian_hosts(1, "esgeo", groups=("es",))
    container = bed.hosts["esgeo1"].container
    bed.exec("esgeo1", "mkdir", "-p", "/etc/elasticsearch", "/srv/www/geoip")
    bed.podman.run("cp", str(FIXTURES / "elasticsearch-deb.yml"), f"{container}:/etc/elasticsearch/elasticsearch.yml")
    bed.exec("esgeo1", "sh", "-c", "groupadd -f elasticsearch && chown root:elasticsearch "
             "/etc/elasticsearch/elasticsearch.yml && chmod 0660 /etc/elasticsearch/elasticsearch.yml")
    for name in ("GeoLite2-ASN", "GeoLite2-City"):
        mmdb = tmp_path / f"{name}.mmdb"
        mmdb.write_bytes(name.encode() * 500)
        with tarfile.open(tmp_path / f"{name}.tgz", "w:gz") as tar:
            tar.add(mmdb, arcname=mmdb.name)
        bed.podman.run("cp", str(tmp_path / f"{name}.tgz"), f"{container}:/srv/www/geoip/{name}.tgz")
    inventory = json.loads(bed.inventory.read_text())
    inventory["all"]["vars"]["ansible_pipelining"] = True
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps(inventory))
    endpoint_play = {"name": "endpoint", "hosts": "es", "gather_facts": False, "tasks": [
        {"name": "Overview", "ansible.builtin.include_role": {"name": ROLE, "tasks_from": "endpoint"},
         "vars": {"elasticsearch_geoip_endpoint_dir": "/srv/www/geoip"}}]}
    plays = [play("check", check=True), play("real"), play("re-run"), endpoint_play]
    res = runner.playbook(json.dumps(plays) + "\n", inventory=inv, diff=True, extra_vars={
        "elasticsearch_geoip_endpoint": ENDPOINT, "elasticsearch_geoip_restart": "command",
        "elasticsearch_geoip_restart_command": ["/bin/sh", "-c", f"echo '{{{{ ansible_play_name }}}}' >> {MARKER}"]})
    assert res.rc == 0, res.output

    writes = res.task(f"{ROLE} : Write elasticsearch.yml", "esgeo1")
    assert [w["changed"] for w in writes] == [True, True, False], writes
    diffs = [w["result"]["diff"][0] if isinstance(w["result"]["diff"], list) else w["result"]["diff"] for w in writes[:2]]
    original = (FIXTURES / "elasticsearch-deb.yml").read_text()
    assert diffs[1]["before"] == original, "check mode wrote elasticsearch.yml"
    assert diffs[0]["after"] == diffs[1]["after"]
    final = bed.exec("esgeo1", "cat", "/etc/elasticsearch/elasticsearch.yml").stdout
    ops = list(difflib.ndiff(original.splitlines(keepends=True), final.splitlines(keepends=True)))
    assert [o for o in ops if o.startswith("- ")] == []
    assert [o[2:] for o in ops if o.startswith("+ ")] == [f"ingest.geoip.downloader.endpoint: {ENDPOINT}\n"]
    assert bed.exec("esgeo1", "stat", "-c", "%U:%G %a", "/etc/elasticsearch/elasticsearch.yml").stdout.strip() \
        == "root:elasticsearch 660"
    assert bed.exec("esgeo1", "cat", MARKER).stdout == "real\n"

    overview = json.loads(bed.exec("esgeo1", "cat", "/srv/www/geoip/overview.json").stdout)
    sums = dict(reversed(line.split("  ", 1)) for line in bed.exec(
        "esgeo1", "sh", "-c", "cd /srv/www/geoip && md5sum *.tgz").stdout.splitlines())
    assert [(e["name"], e["md5_hash"], e["url"]) for e in overview] == [
        (name, sums[name], name) for name in ("GeoLite2-ASN.tgz", "GeoLite2-City.tgz")]
    assert bed.exec("esgeo1", "stat", "-c", "%a", "/srv/www/geoip/overview.json").stdout.strip() == "644"
