"""airgap.mirror.image_mirror through ansible-playbook, as users run it."""

from __future__ import annotations

import json

import pytest
import yaml

pytestmark = pytest.mark.integration

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror the images
      airgap.mirror.image_mirror:
        images: "{{ images }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
        dest_username: "{{ user | default(omit) }}"
        dest_password: "{{ password | default(omit) }}"
        ca_path: "{{ ca | default(omit) }}"
        mirror_map: "{{ map_path }}"
"""


@pytest.fixture
def play(tmp_path):
    path = tmp_path / "play.yml"
    path.write_text(PLAY)
    return path


@pytest.fixture
def seeded(plain_registry, sample_layout):
    pushed = sample_layout.seed(plain_registry, prefix="module-test/")
    return pushed


def test_four_steps_check_run_check_run(seeded, play, tmp_path, registry_factory, ansible_run, skopeo,
                                        sample_layout, plain_registry):
    dest = registry_factory(tls=True, auth=True)
    map_path = tmp_path / "mirror-map.yml"
    extra = {"images": sorted(seeded.values()), "dest": dest.host + "/mirror", "insecure": [plain_registry.host],
             "user": dest.username, "password": dest.password, "ca": str(dest.ca_path), "map_path": str(map_path)}

    # 1. check mode: reports what would be copied, writes nothing
    mark = dest.mark()
    res = ansible_run.playbook(play, extra_vars=extra, check=True, diff=True)
    assert res.rc == 0, res.output
    r = res.one("Mirror the images")
    assert r["changed"]
    assert {i["status"] for i in r["result"]["images"]} == {"would_copy"}
    assert r["result"]["totals"]["bytes_to_copy"] == r["result"]["totals"]["unique_bytes"] > 0
    assert "(absent)" in r["result"]["diff"]["before"]
    assert not map_path.exists()
    assert dest.count(("PUT", "POST", "PATCH", "DELETE"), since=mark) == 0

    # 2. real run
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc == 0, res.output
    r = res.one("Mirror the images")["result"]
    assert r["changed"] and r["totals"]["copied"] == len(seeded)
    for name, image in sample_layout.images.items():
        repo, tag = sample_layout.targets[name]
        assert skopeo.digest_of("docker://%s/mirror/module-test/%s:%s" % (dest.host, repo, tag),
                                registry=dest) == image.digest
    mirror_map = yaml.safe_load(map_path.read_text())
    assert mirror_map["format"] == "airgap.mirror/v1" and len(mirror_map["images"]) == len(seeded)
    map_text = map_path.read_text()

    # 3. check mode again: nothing to do
    res = ansible_run.playbook(play, extra_vars=extra, check=True)
    assert res.rc == 0, res.output
    assert not res.one("Mirror the images")["changed"]

    # 4. real run again: changed false, and the registry saw no blob and no manifest sent
    mark = dest.mark()
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc == 0, res.output
    r = res.one("Mirror the images")
    assert not r["changed"]
    assert {i["status"] for i in r["result"]["images"]} == {"present"}
    assert dest.blob_uploads(since=mark) == []
    assert dest.count(("PUT", "POST", "PATCH", "DELETE"), since=mark) == 0
    assert dest.count("GET", r"/blobs/", since=mark) == 0
    assert map_path.read_text() == map_text


def test_failures_are_listed_and_the_rest_is_copied(seeded, play, tmp_path, registry_factory, ansible_run,
                                                    plain_registry):
    dest = registry_factory()
    good = sorted(seeded.values())[0]
    extra = {"images": [good, plain_registry.host + "/module-test/nope:1", "quay.io/UPPER/case:1"],
             "dest": dest.host, "insecure": [plain_registry.host, dest.host],
             "map_path": str(tmp_path / "map.yml")}
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc != 0
    r = res.one("Mirror the images")
    assert r["failed"]
    msg = r["result"]["msg"]
    assert msg.startswith("2 of 3 images failed")
    assert plain_registry.host + "/module-test/nope:1" in msg and "not found" in msg
    assert "quay.io/UPPER/case:1" in msg and "lower-case" in msg
    statuses = {i["source"]: i["status"] for i in r["result"]["images"]}
    assert statuses[good] == "copied"
    written = yaml.safe_load((tmp_path / "map.yml").read_text())
    assert [e["source"] for e in written["images"]] == [good]


def test_registry_options_from_module_defaults_group(seeded, tmp_path, registry_factory, ansible_run, plain_registry):
    dest = registry_factory(tls=True, auth=True)
    auth = dest.auth_file(tmp_path / "auth.json")
    play = tmp_path / "group.yml"
    play.write_text("""
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/airgap.mirror.registry:
      auth_file: %s
      ca_path: %s
      insecure_registries: [%s]
  tasks:
    - name: Mirror with group defaults
      airgap.mirror.image_mirror:
        images: %s
        dest: %s/grouped
""" % (auth, dest.ca_path, plain_registry.host, json.dumps(sorted(seeded.values())[:1]), dest.host))
    res = ansible_run.playbook(play)
    assert res.rc == 0, res.output
    assert res.one("Mirror with group defaults")["result"]["totals"]["copied"] == 1
