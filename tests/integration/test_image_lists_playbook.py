"""The image-list filters and lookup in a real ``ansible-playbook`` run.

Reads MicroShift release files from a host path through ``ansible.builtin.slurp`` (localhost
standing in for a MicroShift host with ``microshift-release-info`` installed), reads controller
files through the ``airgap.mirror.image_list`` lookup, and checks that errors reach the user with
the file, line and entry. Also checks that ``ansible-doc`` renders every plugin's documentation.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.ansible_run import AnsibleRunner

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "sources"
FILTERS = ("microshift_release_images", "ess_images", "elastic_images", "skopeo_sync_images",
           "parse_image_list", "query_images")

# skopeo-sync.yml as `skopeo sync --src yaml` would copy it (the man page's example)
SYNC_IMAGES = [
    "registry.example.com/redis:1.0",
    "registry.example.com/redis:2.0",
    "registry.example.com/redis@sha256:0000000000000000000000000000000011111111111111111111111111111111",
    "quay.io/coreos/etcd:latest",
    "docker.io/library/busybox:1.36",
]

PLAYBOOK = """
- name: Image lists from vendor files
  hosts: localhost
  gather_facts: false
  vars:
    release_dir: "{{ host_root }}/usr/share/microshift/release"
  tasks:
    - name: Read the release files on the host
      ansible.builtin.slurp:
        src: "{{ release_dir }}/release-{{ item }}.json"
      loop: [x86_64, aarch64]
      register: release_files

    - name: MicroShift images of both architectures
      ansible.builtin.set_fact:
        microshift_images: "{{ release_files | airgap.mirror.microshift_release_images(extra=['registry.example.com/app/web:1.2']) }}"
        microshift_records: "{{ release_files.results[0] | airgap.mirror.microshift_release_images(records=true) }}"

    - name: Controller files through the lookup
      ansible.builtin.set_fact:
        lookup_microshift: "{{ query('airgap.mirror.image_list', controller_dir ~ '/release-x86_64.json', format='microshift') }}"
        lookup_ess: "{{ query('airgap.mirror.image_list', controller_dir ~ '/ess-images_digests.yml', format='ess', records=true) }}"
        lookup_sync: "{{ query('airgap.mirror.image_list', controller_dir ~ '/skopeo-sync.yml', format='skopeo_sync') }}"
        lookup_list: "{{ query('airgap.mirror.image_list', controller_dir ~ '/refs.txt', format='list') }}"
        lookup_query: "{{ query('airgap.mirror.image_list', controller_dir ~ '/vendor.json', format='query', query='components[].image') }}"

    - name: Filters on controller data
      ansible.builtin.set_fact:
        ess_images: "{{ lookup('ansible.builtin.file', controller_dir ~ '/ess-images_digests.yml') | airgap.mirror.ess_images }}"
        elastic_images: "{{ '8.16.1' | airgap.mirror.elastic_images(eck_version='3.1.0', include=['eck_operator', 'elasticsearch', 'kibana', 'beats']) }}"
        plain_images: "{{ ['nginx', 'quay.io/org/app:1.0'] | airgap.mirror.parse_image_list }}"
        sync_images: "{{ lookup('ansible.builtin.file', controller_dir ~ '/skopeo-sync.yml') | airgap.mirror.skopeo_sync_images }}"
        queried_images: "{{ lookup('ansible.builtin.file', controller_dir ~ '/vendor.json') | airgap.mirror.query_images('images.*') }}"

    - name: A malformed release file on the host
      ansible.builtin.slurp:
        src: "{{ release_dir }}/release-malformed.json"
      register: malformed

    - name: The malformed release file is refused
      ansible.builtin.set_fact:
        never: "{{ malformed | airgap.mirror.microshift_release_images }}"
      ignore_errors: true

    - name: An ESS entry without a server is refused by the lookup
      ansible.builtin.set_fact:
        never: "{{ query('airgap.mirror.image_list', controller_dir ~ '/ess-images_digests-no-server.yml', format='ess') }}"
      ignore_errors: true
"""


def facts(result, task):
    record = result.one(task)
    assert record["status"] == "ok", result.output
    return record["result"]["ansible_facts"]


def test_image_lists_playbook(tmp_path):
    host_root = tmp_path / "host"
    release_dir = host_root / "usr" / "share" / "microshift" / "release"
    release_dir.mkdir(parents=True)
    for name in ("release-x86_64.json", "release-aarch64.json", "release-malformed.json"):
        shutil.copy(FIXTURES / name, release_dir / name)
    controller_dir = tmp_path / "controller"
    shutil.copytree(FIXTURES, controller_dir)

    runner = AnsibleRunner(tmp_path / "run")
    res = runner.playbook(PLAYBOOK, extra_vars={"host_root": str(host_root), "controller_dir": str(controller_dir)})
    assert res.rc == 0, res.output  # the two refused files fail their tasks, which ignore errors

    # independent oracle: the seed's `jq -r '.images | .[]'` of each file, merged in order
    x86 = list(json.loads((FIXTURES / "release-x86_64.json").read_text())["images"].values())
    arm = list(json.loads((FIXTURES / "release-aarch64.json").read_text())["images"].values())
    got = facts(res, "MicroShift images of both architectures")
    assert got["microshift_images"] == list(dict.fromkeys(x86 + arm)) + ["registry.example.com/app/web:1.2"]
    assert [r["source"] for r in got["microshift_records"]] == x86
    assert {r["file"] for r in got["microshift_records"]} == {str(release_dir / "release-x86_64.json")}
    assert {r["arch"] for r in got["microshift_records"]} == {"x86_64"}

    ess = yaml.safe_load((FIXTURES / "ess-images_digests.yml").read_text())["images_digests"]
    ess_expected = [
        (component, container, "%s/%s:%s@%s" % (e["image_repository_server"], e["image_repository_path"],
                                                e["image_tag"], e["image_digest"]))
        for component, containers in ess.items() for container, e in containers.items()
    ]
    got = facts(res, "Controller files through the lookup")
    assert got["lookup_microshift"] == x86
    assert [(r["component"], r["container"], r["source"]) for r in got["lookup_ess"]] == ess_expected
    assert got["lookup_sync"] == SYNC_IMAGES
    assert got["lookup_list"] == [
        x86[0], "docker.io/library/nginx:latest", "registry.example.com:8443/app/web:1.2"]
    assert got["lookup_query"] == [
        "quay.io/example/api:2.1",
        "quay.io/example/ui@sha256:3348784c07bb974ea43317de115b9e274029e5f77e61a100a5ad066b6492c060",
        "docker.io/library/postgres:16",
    ]

    got = facts(res, "Filters on controller data")
    assert got["ess_images"] == list(dict.fromkeys(source for _c, _n, source in ess_expected))
    assert got["elastic_images"] == [
        "docker.elastic.co/eck/eck-operator:3.1.0",
        "docker.elastic.co/elasticsearch/elasticsearch:8.16.1",
        "docker.elastic.co/kibana/kibana:8.16.1",
    ] + ["docker.elastic.co/beats/%s:8.16.1" % b for b in ("filebeat", "metricbeat", "heartbeat", "auditbeat", "packetbeat")]
    assert got["plain_images"] == ["docker.io/library/nginx:latest", "quay.io/org/app:1.0"]
    assert got["sync_images"] == SYNC_IMAGES
    assert got["queried_images"] == ["quay.io/example/api:2.1"]

    refused = res.one("The malformed release file is refused")
    assert refused["status"] == "failed", res.output
    message = refused["result"]["msg"]
    assert "airgap.mirror.microshift_release_images: %s:7:5: not valid JSON" % (release_dir / "release-malformed.json") in message

    refused = res.one("An ESS entry without a server is refused by the lookup")
    assert refused["status"] == "failed", res.output
    message = refused["result"]["msg"]
    assert ("airgap.mirror.image_list: %s:8: adminbot/pipe: no image_repository_server"
            % (controller_dir / "ess-images_digests-no-server.yml")) in message


@pytest.mark.parametrize("kind, name", [("filter", f) for f in FILTERS] + [("lookup", "image_list")])
def test_ansible_doc_renders(kind, name):
    ansible_doc = Path(sys.executable).parent / "ansible-doc"
    assert ansible_doc.exists(), "ansible-doc not found next to %s: install ansible-core" % sys.executable
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.environ["AIRGAP_COLLECTIONS_PATH"], ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(ansible_doc), "-t", kind, "airgap.mirror." + name], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "airgap.mirror." + name in proc.stdout
    assert "EXAMPLES" in proc.stdout and "OPTIONS" in proc.stdout
    assert "[WARNING]" not in proc.stderr, proc.stderr
    # the JSON form carries the parsed documentation (what docs sites render)
    proc = subprocess.run([str(ansible_doc), "-t", kind, "--json", "airgap.mirror." + name], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)["airgap.mirror." + name]
    assert doc["doc"]["short_description"] and doc["examples"] and doc["return"]
