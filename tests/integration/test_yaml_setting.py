"""airgap.mirror.yaml_setting through real ``ansible-playbook`` runs on localhost.

Check mode first (nothing written, the diff tells what would change), then for real, then both
again (nothing to do). The files are realistic kibana.yml files in both the dotted and the nested
form; the tests compare the whole file text, so "nothing else disturbed" is checked byte for byte.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "products"

PLAY = """
- name: Edit a YAML settings file
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Set the key
      airgap.mirror.yaml_setting: "{{ args }}"
      register: result
"""


def kibana(tmp_path, name, mode=0o640):
    path = tmp_path / "kibana.yml"
    shutil.copyfile(FIXTURES / name, path)
    os.chmod(path, mode)
    return path


def run(ansible_run, args, check=False, diff=True):
    res = ansible_run.playbook(PLAY, extra_vars={"args": args}, check=check, diff=diff)
    return res, res.one("Set the key")


@pytest.mark.parametrize("fixture, added", [
    ("kibana-dotted.yml", "xpack.fleet.registryUrl: http://package-registry.corp.net:8080\n"),
    ("kibana-nested.yml", "    registryUrl: http://package-registry.corp.net:8080\n"),
])
def test_check_mode_then_real_then_idempotent(ansible_run, tmp_path, fixture, added):
    path = kibana(tmp_path, fixture)
    original = path.read_text()
    args = {"path": str(path), "key": "xpack.fleet.registryUrl", "value": "http://package-registry.corp.net:8080"}

    res, rec = run(ansible_run, args, check=True)
    assert res.rc == 0, res.output
    assert rec["changed"] and rec["result"]["action"] == "inserted"
    assert path.read_text() == original, "check mode wrote the file"
    diff = rec["result"]["diff"]
    assert diff["before"] == original and added in diff["after"]

    inode = path.stat().st_ino
    res, rec = run(ansible_run, args)
    assert res.rc == 0, res.output
    assert rec["changed"] and rec["result"]["occurrences"] == 0
    new = path.read_text()
    assert new == diff["after"], "the real run wrote something else than check mode announced"
    assert new.replace(added, "", 1) == original, "lines other than the new key changed"
    st = path.stat()
    assert st.st_ino != inode, "the file was not replaced atomically (same inode)"
    assert st.st_mode & 0o7777 == 0o640

    for check in (True, False):
        res, rec = run(ansible_run, args, check=check)
        assert res.rc == 0, res.output
        assert not rec["changed"] and rec["result"]["action"] == "none"
        assert rec["result"]["occurrences"] == 1
    assert path.read_text() == new and path.stat().st_ino == st.st_ino


def test_change_existing_value_with_backup(ansible_run, tmp_path):
    path = kibana(tmp_path, "kibana-dotted.yml")
    original = path.read_text()
    res, rec = run(ansible_run, {"path": str(path), "key": "server.port", "value": 5602, "backup": True})
    assert res.rc == 0, res.output
    assert rec["changed"] and rec["result"]["action"] == "set"
    assert path.read_text() == original.replace("server.port: 5601\n", "server.port: 5602\n")
    backup = Path(rec["result"]["backup_file"])
    assert backup.read_text() == original
    # an integer given as a string is a different value: the module tells them apart
    res, rec = run(ansible_run, {"path": str(path), "key": "server.port", "value": "5602"})
    assert rec["changed"] and 'server.port: "5602"\n' in path.read_text()


def test_absent_prunes_and_is_idempotent(ansible_run, tmp_path):
    path = kibana(tmp_path, "kibana-nested.yml")
    original = path.read_text()
    args = {"path": str(path), "key": "xpack.reporting.roles.enabled", "state": "absent"}
    res, rec = run(ansible_run, args, check=True)
    assert rec["changed"] and path.read_text() == original
    res, rec = run(ansible_run, args)
    assert res.rc == 0, res.output
    assert rec["changed"] and rec["result"]["action"] == "removed"
    assert path.read_text() == original.replace("  reporting:\n    roles:\n      enabled: false\n", "")
    res, rec = run(ansible_run, args)
    assert not rec["changed"]


def test_refusal_leaves_the_file_alone(ansible_run, tmp_path):
    path = tmp_path / "multi.yml"
    path.write_text("a: 1\n---\nb: 2\n")
    res, rec = run(ansible_run, {"path": str(path), "key": "a", "value": 2})
    assert res.rc != 0 and rec["failed"]
    msg = rec["result"]["msg"]
    assert str(path) in msg and "2 YAML documents" in msg and "line 2" in msg
    assert path.read_text() == "a: 1\n---\nb: 2\n"

    path.write_text("xpack.fleet: false\n")
    res, rec = run(ansible_run, {"path": str(path), "key": "xpack.fleet.registryUrl", "value": "x"})
    assert rec["failed"] and "collides with the existing setting(s) xpack.fleet" in rec["result"]["msg"]


def test_missing_file_create_and_mode(ansible_run, tmp_path):
    path = tmp_path / "new.yml"
    args = {"path": str(path), "key": "spec.install.imagesDigestsConfigMap", "value": "ess-mirror",
            "dotted_keys": False}
    res, rec = run(ansible_run, args)
    assert rec["failed"] and "does not exist" in rec["result"]["msg"]
    res, rec = run(ansible_run, dict(args, create=True, mode="0600"), check=True)
    assert rec["changed"] and not path.exists()
    res, rec = run(ansible_run, dict(args, create=True, mode="0600"))
    assert res.rc == 0, res.output
    assert path.read_text() == "spec:\n  install:\n    imagesDigestsConfigMap: ess-mirror\n"
    assert path.stat().st_mode & 0o7777 == 0o600
    res, rec = run(ansible_run, dict(args, create=True, mode="0600"))
    assert not rec["changed"]
    # a mode change alone is reported as a change
    res, rec = run(ansible_run, dict(args, mode="0644"))
    assert rec["changed"] and path.stat().st_mode & 0o7777 == 0o644


def test_list_value_and_key_path(ansible_run, tmp_path):
    path = tmp_path / "cluster.yml"
    path.write_text("# installer settings\nspec:\n  install:\n    dockerSecrets: []   # pull secrets\n")
    args = {"path": str(path), "key_path": ["spec", "install", "dockerSecrets"], "value": ["mirror-pull"],
            "dotted_keys": False}
    res, rec = run(ansible_run, args)
    assert res.rc == 0, res.output
    assert path.read_text() == "# installer settings\nspec:\n  install:\n    dockerSecrets: [mirror-pull]   # pull secrets\n"
    assert yaml.safe_load(path.read_text())["spec"]["install"]["dockerSecrets"] == ["mirror-pull"]
    res, rec = run(ansible_run, args)
    assert not rec["changed"]


def test_ansible_doc_renders_the_module():
    doc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", "module", "airgap.mirror.yaml_setting"],
        capture_output=True, text=True, check=False,
        env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.environ["AIRGAP_COLLECTIONS_PATH"]),
    )
    assert doc.returncode == 0, doc.stderr
    assert "xpack.fleet.registryUrl" in doc.stdout and "dotted_keys" in doc.stdout


def test_symlink_is_followed_and_owner_kept(ansible_run, tmp_path):
    target = kibana(tmp_path, "kibana-dotted.yml", mode=0o600)
    os.chown(target, 65534, 65534)  # nobody:nogroup (the tests run as root)
    link = tmp_path / "link.yml"
    link.symlink_to(target)
    res, rec = run(ansible_run, {"path": str(link), "key": "server.port", "value": 5700})
    assert res.rc == 0, res.output
    assert rec["result"]["path"] == str(target)
    assert link.is_symlink() and "server.port: 5700\n" in target.read_text()
    st = target.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (65534, 65534, 0o600)


KIBANA_ROLE = """
- name: Kibana through the role
  hosts: localhost
  gather_facts: false
  roles:
    - role: airgap.mirror.kibana_fleet_registry
"""


@pytest.mark.parametrize("fixture", ["kibana-dotted.yml", "kibana-nested.yml"])
def test_kibana_role(ansible_run, tmp_path, fixture):
    path = kibana(tmp_path, fixture)
    original = path.read_text()
    variables = {"kibana_fleet_registry_url": "http://package-registry.corp.net:8080",
                 "kibana_fleet_registry_config_file": str(path), "kibana_fleet_registry_restart": False,
                 "kibana_fleet_registry_remove_proxy": True}
    res = ansible_run.playbook(KIBANA_ROLE, extra_vars=variables, check=True, diff=True)
    assert res.rc == 0, res.output
    assert path.read_text() == original
    res = ansible_run.playbook(KIBANA_ROLE, extra_vars=variables)
    assert res.rc == 0, res.output
    assert yaml.safe_load(path.read_text()) is not None
    assert _values(path, "xpack.fleet.registryUrl") == ["http://package-registry.corp.net:8080"]
    # the handler ran and was skipped (no service here): restart=false
    assert res.one("airgap.mirror.kibana_fleet_registry : Restart Kibana")["skipped"]
    res = ansible_run.playbook(KIBANA_ROLE, extra_vars=variables)
    assert res.rc == 0 and res.changed == [], res.output
    res = ansible_run.playbook(KIBANA_ROLE, extra_vars=dict(variables, kibana_fleet_registry_url="ftp://x"))
    assert res.rc != 0 and "must be an http(s) URL" in res.output


def _values(path, key):
    from ansible_collections.airgap.mirror.plugins.module_utils._common import yamledit as _yamledit
    return _yamledit.get_values(path.read_text(), key)
