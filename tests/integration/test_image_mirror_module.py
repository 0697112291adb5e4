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
        registry_limits: "{{ limits | default(omit) }}"
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


def test_a_failed_rerun_keeps_the_map_entries_of_images_still_in_the_mirror(tmp_path, play, registry_factory,
                                                                            ansible_run, sample_layout, skopeo):
    """An upgrade re-run in which one image fails (here: gone from the source) must not drop that
    image from the mirror map: its destination tag was never moved, so its earlier entry is kept
    and the consumers reading the map keep pointing at it. With and without the lockfile."""
    src = registry_factory()
    pushed = sample_layout.seed(src, prefix="keep/")
    dest = registry_factory()
    map_path = tmp_path / "mirror-map.yml"
    extra = {"images": sorted(pushed.values()), "dest": dest.host, "insecure": [src.host, dest.host],
             "map_path": str(map_path)}
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc == 0, res.output
    map_text = map_path.read_text()
    before = yaml.safe_load(map_text)["images"]
    assert len(before) == len(pushed)

    gone_ref = sorted(pushed)[0]
    gone = pushed[gone_ref]
    repo = gone.split("/", 1)[1].rsplit(":", 1)[0]
    digest = sample_layout.images[gone_ref].digest
    assert src.request("DELETE", "/v2/%s/manifests/%s" % (repo, digest))[0] == 202

    for use_map in (True, False):
        res = ansible_run.playbook(_with_use_map(play, use_map), extra_vars=extra)
        assert res.rc != 0, res.output
        r = res.one("Mirror the images")["result"]
        assert r["msg"].startswith("1 of %d images failed" % len(pushed)) and gone in r["msg"], r["msg"]
        assert r["totals"]["kept_in_map"] == 1 and r["totals"]["present"] == len(pushed) - 1
        # the map is the same file: the failed image's entry is kept, in its place
        assert map_path.read_text() == map_text, (use_map, map_path.read_text())
        assert r["mirror_map"] == before
    kept = [e for e in before if e["source"] == gone][0]
    assert kept["digest"] == digest
    assert skopeo.digest_of("docker://" + kept["destination"], registry=dest) == digest

    # an image that fails without an earlier entry is not invented into the map; a run in which
    # every image failed writes no map at all (none is created, an existing one is left as it was)
    res = ansible_run.playbook(play, extra_vars=dict(extra, images=[gone], map_path=str(tmp_path / "new.yml")))
    assert res.rc != 0
    assert not (tmp_path / "new.yml").exists()
    r = res.one("Mirror the images")["result"]
    assert r["totals"]["kept_in_map"] == 0 and r["mirror_map"] == [] and r["mirror_map_written"] is False
    assert "the mirror map %s was left as it was" % (tmp_path / "new.yml") in r["msg"], r["msg"]
    res = ansible_run.playbook(play, extra_vars=dict(extra, images=[gone]))
    assert res.rc != 0
    assert map_path.read_text() == map_text, "a run whose every image failed must not rewrite the map"


def test_map_prune_decides_whether_entries_of_images_not_listed_stay(tmp_path, play, registry_factory,
                                                                     ansible_run, sample_layout, skopeo):
    """Two tasks mirroring two halves of a set into one map: with ``map_prune: false`` the map keeps
    the first half's entries (still in the mirror); by default the map holds exactly the task's
    images. A re-run of the same task with the same map changes nothing."""
    src = registry_factory()
    pushed = sample_layout.seed(src, prefix="prune/")
    dest = registry_factory()
    map_path = tmp_path / "mirror-map.yml"
    refs = sorted(pushed.values())
    first, second = refs[:1], refs[1:]
    extra = {"dest": dest.host, "insecure": [src.host, dest.host], "map_path": str(map_path)}
    keep_play = tmp_path / "keep.yml"
    keep_play.write_text(PLAY + "        map_prune: false\n")

    def sources():
        return sorted(e["source"] for e in yaml.safe_load(map_path.read_text())["images"])

    assert ansible_run.playbook(play, extra_vars=dict(extra, images=first)).rc == 0
    assert sources() == first
    res = ansible_run.playbook(keep_play, extra_vars=dict(extra, images=second))
    assert res.rc == 0, res.output
    assert sources() == sorted(refs)
    assert res.one("Mirror the images")["result"]["mirror_map"] == [
        e for e in yaml.safe_load(map_path.read_text())["images"] if e["source"] in second]
    res = ansible_run.playbook(keep_play, extra_vars=dict(extra, images=second))
    assert res.rc == 0 and not res.one("Mirror the images")["changed"], res.output
    res = ansible_run.playbook(play, extra_vars=dict(extra, images=second))
    assert res.rc == 0 and res.one("Mirror the images")["changed"], res.output
    assert sources() == second
    for entry in yaml.safe_load(map_path.read_text())["images"]:
        assert skopeo.digest_of("docker://" + entry["destination"], registry=dest) == entry["digest"]


def _with_use_map(play, use_map):
    path = play.parent / ("play-use-map-%s.yml" % str(use_map).lower())
    path.write_text(PLAY + "        use_mirror_map: %s\n" % str(use_map).lower())
    return path


def test_registry_options_from_module_defaults_group(seeded, tmp_path, registry_factory, ansible_run, plain_registry,
                                                     skopeo):
    """``module_defaults: {group/airgap.mirror.registry: ...}`` carries the mirror's credentials
    (dest_username/dest_password) and its CA (ca_path) to an image_mirror task that sets neither,
    against a TLS + htpasswd registry. Negative controls in the same run: the same task with the
    same defaults minus ca_path fails TLS verification, minus the credentials fails authentication.
    The airgap.mirror.mirror_images role sees them too, and its own mirror_images_* variables
    override them option by option: in a play whose group defaults carry a wrong password, the role
    given the right one (and nothing else) copies. The password never appears in the output."""
    dest = registry_factory(tls=True, auth=True)
    image = sorted(seeded.values())[0]
    map_path = tmp_path / "group-map.yml"
    extra = {"image": image, "dest": dest.host, "plain": plain_registry.host, "user": dest.username,
             "password": dest.password, "ca": str(dest.ca_path), "map_path": str(map_path)}
    task = """
    - name: %s
      airgap.mirror.image_mirror:
        images: ["{{ image }}"]
        dest: "{{ dest }}/grouped"
        mirror_map: "{{ map_path }}"
      ignore_errors: %s
"""
    defaults = {
        "credentials": """        dest_username: "{{ user }}"
        dest_password: "{{ password }}"
""",
        "ca": """        ca_path: "{{ ca }}"
""",
        "insecure": """        insecure_registries: ["{{ plain }}"]
""",
        "wrong password": """        dest_username: "{{ user }}"
        dest_password: not-the-password
""",
    }

    def play(name, parts):
        return ("- name: %s\n  hosts: localhost\n  gather_facts: false\n  module_defaults:\n"
                "    group/airgap.mirror.registry:\n%s  tasks:" % (name, "".join(defaults[p] for p in parts)))

    playbook = "\n".join([
        play("Defaults without ca_path", ["credentials", "insecure"]) + task % ("Without ca_path", "true"),
        play("Defaults without credentials", ["ca", "insecure"]) + task % ("Without credentials", "true"),
        play("All the registry options as group defaults", ["credentials", "ca", "insecure"])
        + task % ("Mirror with group defaults", "false") + """
    - name: The role with the group defaults only
      ansible.builtin.include_role:
        name: airgap.mirror.mirror_images
      vars:
        mirror_images_images: ["{{ image }}"]
        mirror_images_registry: "{{ dest }}/role-defaults"
    - name: Role result with the group defaults
      ansible.builtin.debug:
        var: mirror_images_result
    - name: The role with its own variables
      ansible.builtin.include_role:
        name: airgap.mirror.mirror_images
      vars:
        mirror_images_images: ["{{ image }}"]
        mirror_images_registry: "{{ dest }}/role"
        mirror_images_insecure_registries: ["{{ plain }}"]
        mirror_images_dest_username: "{{ user }}"
        mirror_images_dest_password: "{{ password }}"
        mirror_images_ca_path: "{{ ca }}"
    - name: Role result
      ansible.builtin.debug:
        var: mirror_images_result
""",
        play("Group defaults with a wrong password", ["wrong password", "ca", "insecure"])
        + task.replace('        mirror_map: "{{ map_path }}"\n', "") % ("Task with the wrong password", "true") + """
    - name: The role given the right password
      ansible.builtin.include_role:
        name: airgap.mirror.mirror_images
      vars:
        mirror_images_images: ["{{ image }}"]
        mirror_images_registry: "{{ dest }}/role-override"
        mirror_images_dest_password: "{{ password }}"
    - name: Role result with an overridden password
      ansible.builtin.debug:
        var: mirror_images_result
"""])
    res = ansible_run.playbook(playbook, extra_vars=extra)
    assert res.rc == 0, res.output

    # negative controls: the same task, one part of the defaults removed, fails for that reason
    no_ca = res.one("Without ca_path")
    assert no_ca["failed"], res.output
    assert "TLS verification of %s failed" % dest.host in no_ca["result"]["msg"], no_ca["result"]["msg"]
    no_creds = res.one("Without credentials")
    assert no_creds["failed"], res.output
    assert "access denied" in no_creds["result"]["msg"] and "TLS" not in no_creds["result"]["msg"], \
        no_creds["result"]["msg"]
    assert [i["status"] for i in no_ca["result"]["images"] + no_creds["result"]["images"]] == ["failed", "failed"]

    # the real run: everything from module_defaults
    r = res.one("Mirror with group defaults")
    assert not r["failed"] and r["changed"], res.output
    assert r["result"]["totals"]["copied"] == 1
    written = r["result"]["images"][0]
    assert written["destination"].startswith(dest.host + "/grouped/")
    # the role: with the group defaults alone, with its own variables, and with its password over a
    # wrong one among the group defaults (which fails the plain task of that play: a real control)
    wrong = res.one("Task with the wrong password")
    assert wrong["failed"] and "access denied" in wrong["result"]["msg"], wrong["result"]
    copies = []
    for name, repo in (("Role result with the group defaults", "role-defaults"), ("Role result", "role"),
                       ("Role result with an overridden password", "role-override")):
        role = res.one(name)["result"]["mirror_images_result"]
        assert role["totals"]["copied"] == 1, (name, role["totals"], role.get("failed"))
        assert role["images"][0]["destination"].startswith("%s/%s/" % (dest.host, repo))
        copies.append(role["images"][0]["destination"])
    for ref in [written["destination"]] + copies:
        assert skopeo.digest_of("docker://" + ref, registry=dest) == written["digest"]
    assert [e["destination"] for e in yaml.safe_load(map_path.read_text())["images"]] == [written["destination"]]
    assert dest.password not in res.stdout + res.stderr
    assert dest.password not in json.dumps(res.results)


def test_registry_limits_through_the_module(seeded, play, tmp_path, registry_factory, ansible_run, plain_registry):
    """registry_limits reach the engine: the limited source's requests waited, the destination's
    did not (RV limit_wait_seconds); a wrong limit is refused naming its key."""
    dest = registry_factory()
    extra = {"images": sorted(seeded.values()), "dest": dest.host, "insecure": [plain_registry.host, dest.host],
             "map_path": str(tmp_path / "map.yml"),
             "limits": {plain_registry.host: {"requests_per_second": 4}, "default": {"requests_per_second": 1000}}}
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc == 0, res.output
    r = res.one("Mirror the images")["result"]
    assert r["totals"]["copied"] == len(seeded)
    assert r["requests"][plain_registry.host] > 8
    assert r["limit_wait_seconds"][plain_registry.host] > 0
    assert r["limit_wait_seconds"][dest.host] == 0.0

    extra["limits"] = {plain_registry.host: {"connections": 0}}
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc != 0
    assert "registry_limits.%s.connections must be a whole number of at least 1" % plain_registry.host \
        in res.one("Mirror the images")["result"]["msg"]
