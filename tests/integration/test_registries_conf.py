"""airgap.mirror.registries_conf (and the registries_conf_pairs filter) proven with the real consumer.

skopeo uses containers/image, the library CRI-O uses, and it also reads
``$HOME/.config/containers/registries.conf.d/*.conf`` (feasibility.md section 2). So each test
points ``HOME`` at a temporary directory, writes the drop-in there with the module through
``ansible-playbook``, and asks skopeo for ``quay.io/...@sha256:...``. quay.io cannot be reached
from here, so a successful pull can only have come from the mirror. The debug log must also say
``Trying to access "<mirror>/<path>@sha256:..."``, and the mirror's access log must show the
request.
"""

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as M
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as mirrormap_model
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R
from support.images import seed_registry
from support.registry import free_port

pytestmark = pytest.mark.integration

SOURCE_REPO = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"
SOURCE_TAG = "4.18.1-x86_64"
DROPIN = ".config/containers/registries.conf.d/999-microshift-mirror.conf"

PLAY = """
- name: Point containers/image at the mirror
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the drop-in
      airgap.mirror.registries_conf: "{{ args | combine({'pairs': pairs}) }}"
      vars:
        pairs: "{{ lookup('ansible.builtin.file', map_path) | airgap.mirror.registries_conf_pairs }}"
      environment: "{{ task_env | default({}) }}"
"""

ARGS_PLAY = """
- name: Registries conf with literal arguments
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the drop-in
      airgap.mirror.registries_conf: "{{ args }}"
"""


@pytest.fixture
def bed(tmp_path, registry_factory, sample_layout):
    """A plain-HTTP mirror holding one image under the path the keep mapping gives it, the mirror
    map that records it, and a HOME whose user drop-in directory skopeo reads."""
    mirror = registry_factory()
    image = sample_layout["app-1.0"]
    mapping = M.Mapping(mirror.host + "/mirror")
    source = R.parse("%s:%s@%s" % (SOURCE_REPO, SOURCE_TAG, image.digest))
    dest = mapping.map(source)
    seed_registry(image, mirror, dest.repository, SOURCE_TAG)  # the tag too: see the digest-only test
    map_path = tmp_path / "mirror-map.yml"
    map_path.write_text(mirrormap.dumps([mirrormap_model.Entry(
        source, image.digest, image.media_type, mirrormap_model.RegistryDestination(dest), size=image.total_size)]))
    home = tmp_path / "home"
    home.mkdir()
    return {
        "mirror": mirror, "image": image, "map": map_path, "home": home, "dropin": home / DROPIN,
        "mirror_path": "%s/%s" % (mirror.host, dest.repository),
    }


def write(ansible_run, bed, check=False, diff=True, task_env=None, **args):
    args.setdefault("path", str(bed["dropin"]))
    args.setdefault("mirror_insecure", True)  # the mirror speaks plain HTTP
    args.setdefault("create_dirs", True)
    extra = {"args": args, "map_path": str(bed["map"])}
    if task_env:
        extra["task_env"] = task_env
    res = ansible_run.playbook(PLAY, extra_vars=extra, check=check, diff=diff)
    return res, res.one("Write the drop-in")


def tried(ref, open_end=False):
    """The debug line containers/image logs for each pull source (logrus escapes the quotes)."""
    return 'Trying to access \\"%s' % ref + ("" if open_end else '\\"')


def pull(skopeo, bed, ref):
    """``skopeo --debug inspect --raw docker://REF`` with HOME=bed home; (ok, raw, debug log)."""
    trace = []
    proc = skopeo.run(["inspect", "--raw", "docker://" + ref], debug=True, trace=trace,
                      env={"HOME": str(bed["home"])}, check=False, timeout=120)
    return proc.returncode == 0, proc.stdout, trace[0]


def test_skopeo_pulls_by_digest_through_the_mirror(ansible_run, skopeo, bed):
    digest = bed["image"].digest
    ref = "%s@%s" % (SOURCE_REPO, digest)
    ok, _raw, log = pull(skopeo, bed, ref)
    assert not ok, "quay.io answered without the drop-in: the test proves nothing here\n" + log

    res, rec = write(ansible_run, bed)
    assert res.rc == 0, res.output
    result = rec["result"]
    assert rec["changed"] and result["validated_with"] == "tomllib"
    assert result["prefixes"] == [bed["mirror"].host, "quay.io"]
    text = bed["dropin"].read_text()
    assert text == result["content"] == result["diff"]["after"] and result["diff"]["before"] == ""
    assert text.startswith("# Ansible managed by airgap.mirror.registries_conf")
    assert os.stat(bed["dropin"]).st_mode & 0o7777 == 0o644

    mark = bed["mirror"].mark()
    ok, raw, log = pull(skopeo, bed, ref)
    assert ok, log
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest
    assert tried(bed["mirror_path"] + "@" + digest) in log, log
    served = bed["mirror"].filter("GET", r"/v2/%s/manifests/%s" % (bed["mirror_path"].split("/", 1)[1], digest),
                                  since=mark)
    assert served, "the mirror's access log has no request for the manifest"


def test_pull_by_tag_does_not_use_the_mirror_when_digest_only(ansible_run, skopeo, bed):
    ref = "%s:%s" % (SOURCE_REPO, SOURCE_TAG)  # the mirror has this tag too
    res, _rec = write(ansible_run, bed)
    assert res.rc == 0, res.output
    mark = bed["mirror"].mark()
    ok, _raw, log = pull(skopeo, bed, ref)
    assert not ok, "a pull by tag succeeded although quay.io is unreachable and the mirror is digest-only"
    assert tried("quay.io/", open_end=True) in log, log
    assert tried(bed["mirror"].host, open_end=True) not in log, log
    assert not bed["mirror"].filter("GET", r"/manifests/", since=mark)

    # control: the same pull goes to the mirror when digest-only is off
    res, rec = write(ansible_run, bed, mirror_by_digest_only=False)
    assert res.rc == 0 and rec["changed"], res.output
    assert "mirror-by-digest-only = false" in bed["dropin"].read_text()
    ok, _raw, log = pull(skopeo, bed, ref)
    assert ok, log
    assert tried(bed["mirror_path"] + ":" + SOURCE_TAG) in log, log


def test_check_mode_changes_nothing_and_second_run_is_unchanged(ansible_run, bed):
    res, rec = write(ansible_run, bed, check=True)
    assert res.rc == 0, res.output
    assert rec["changed"] and not bed["dropin"].exists()
    assert not (bed["home"] / ".config").exists(), "check mode created the directories"
    assert rec["result"]["created_dirs"][-1] == str(bed["dropin"].parent)
    announced = rec["result"]["diff"]["after"]

    res, rec = write(ansible_run, bed)
    assert rec["changed"] and bed["dropin"].read_text() == announced
    st = bed["dropin"].stat()

    for check in (True, False):
        res, rec = write(ansible_run, bed, check=check)
        assert res.rc == 0, res.output
        assert not rec["changed"], rec["result"].get("diff")
    assert bed["dropin"].stat().st_ino == st.st_ino and bed["dropin"].stat().st_mtime_ns == st.st_mtime_ns

    # a real change in check mode: announced, not written
    before = bed["dropin"].read_bytes()
    res, rec = write(ansible_run, bed, check=True, mirror_insecure=False)
    after = rec["result"]["diff"]["after"]
    assert rec["changed"] and "insecure = true" in before.decode() and "insecure = true" not in after
    assert bed["dropin"].read_bytes() == before

    # a mode change alone is a change
    os.chmod(bed["dropin"], 0o600)
    res, rec = write(ansible_run, bed)
    assert rec["changed"] and bed["dropin"].stat().st_mode & 0o7777 == 0o644
    assert bed["dropin"].read_bytes() == before


def test_other_drop_ins_claiming_a_prefix_warn_and_the_warning_is_true(ansible_run, skopeo, bed):
    res, _rec = write(ansible_run, bed)
    assert res.rc == 0, res.output
    confd = bed["dropin"].parent
    dead = "127.0.0.1:%d" % free_port()  # nothing listens there
    other = ('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n\n'
             '[[registry.mirror]]\nlocation = "%s/elsewhere"\ninsecure = true\n' % dead)
    (confd / "zzz-later.conf").write_text(other)
    (confd / "50-earlier.conf").write_text(other.replace("/elsewhere", "/earlier"))

    res, rec = write(ansible_run, bed)
    assert res.rc == 0, res.output
    assert not rec["changed"]
    warnings = "\n".join(rec["warnings"])
    assert "zzz-later.conf wins and this file's entry for quay.io has no effect" in warnings, warnings
    assert "the settings in 50-earlier.conf for quay.io are ignored" in warnings, warnings
    assert {(c["file"], c["winner"]) for c in rec["result"]["conflicts"]} == {
        (str(confd / "zzz-later.conf"), str(confd / "zzz-later.conf")),
        (str(confd / "50-earlier.conf"), str(bed["dropin"])),
    }

    # what the warning says is what containers/image does: the later file's mirror is tried, ours is not
    digest = bed["image"].digest
    ok, _raw, log = pull(skopeo, bed, "%s@%s" % (SOURCE_REPO, digest))
    assert not ok
    assert tried(dead + "/elsewhere/openshift-release-dev", open_end=True) in log, log
    assert bed["mirror_path"] not in log, log
    assert "/earlier/" not in log, log

    # with only the earlier file left, ours wins again
    (confd / "zzz-later.conf").unlink()
    ok, _raw, log = pull(skopeo, bed, "%s@%s" % (SOURCE_REPO, digest))
    assert ok and tried(bed["mirror_path"] + "@" + digest) in log, log

    # a drop-in that cannot be parsed is named: it could not be checked
    (confd / "60-broken.conf").write_text('[[registry]\nprefix = "quay.io"\n')
    res, rec = write(ansible_run, bed)
    assert res.rc == 0, res.output
    assert any("could not check %s" % (confd / "60-broken.conf") in w for w in rec["warnings"]), rec["warnings"]
    assert rec["result"]["unchecked"][0]["file"] == str(confd / "60-broken.conf")


def test_builtin_parser_when_the_target_python_has_no_tomllib(ansible_run, skopeo, bed, tmp_path):
    """RHEL 9's Python 3.9 has no tomllib: shadow it so the module must use its own parser."""
    shadow = tmp_path / "no-tomllib"
    shadow.mkdir()
    (shadow / "tomllib.py").write_text('raise ImportError("hidden by the test: Python 3.9 has no tomllib")\n')
    (shadow / "tomli.py").write_text('raise ImportError("hidden by the test")\n')
    res, rec = write(ansible_run, bed, task_env={"PYTHONPATH": str(shadow)})
    assert res.rc == 0, res.output
    assert rec["changed"] and rec["result"]["validated_with"] == "builtin"
    res, rec = write(ansible_run, bed)  # same text with tomllib: nothing to change
    assert not rec["changed"] and rec["result"]["validated_with"] == "tomllib"
    digest = bed["image"].digest
    ok, _raw, log = pull(skopeo, bed, "%s@%s" % (SOURCE_REPO, digest))
    assert ok and tried(bed["mirror_path"] + "@" + digest) in log, log


def test_full_entries_and_refusals(ansible_run, skopeo, bed):
    path = bed["dropin"]
    repo_path = bed["mirror_path"].split("/", 1)[1]
    mirror_ns = bed["mirror"].host + "/" + repo_path.rsplit("/", 1)[0]
    args = {"path": str(path), "create_dirs": True, "registries": [
        # repository-level prefix, as OpenShift image digest mirror sets write them
        {"prefix": "quay.io/openshift-release-dev", "mirrors": [
            {"location": "127.0.0.1:%d/down" % free_port(), "insecure": True},  # tried first, fails
            {"location": mirror_ns, "insecure": True, "pull_from_mirror": "digest-only"},
        ]},
        {"prefix": "*.example.invalid", "blocked": True},
    ]}
    res = ansible_run.playbook(ARGS_PLAY, extra_vars={"args": args})
    rec = res.one("Write the drop-in")
    assert res.rc == 0, res.output
    text = path.read_text()
    assert 'pull-from-mirror = "digest-only"' in text and "mirror-by-digest-only" not in text
    digest = bed["image"].digest
    ok, _raw, log = pull(skopeo, bed, "%s@%s" % (SOURCE_REPO, digest))
    assert ok and tried(bed["mirror_path"] + "@" + digest) in log, log
    assert rec["result"]["prefixes"] == ["quay.io/openshift-release-dev", "*.example.invalid"]

    # broken input is refused and the installed drop-in stays as it was
    for bad, message in [
        ({"prefix": "quay.io", "location": "https://quay.io"}, "without a scheme"),
        ({"prefix": "*.example.com:5000"}, "wildcard prefix"),
        ({"prefix": "quay.io", "mirror_by_digest_only": True,
          "mirrors": [{"location": "m.example.com", "pull_from_mirror": "tag-only"}]}, "cannot be combined"),
    ]:
        res = ansible_run.playbook(ARGS_PLAY, extra_vars={"args": dict(args, registries=[bad])})
        rec = res.one("Write the drop-in")
        assert rec["failed"] and message in rec["result"]["msg"], rec["result"]["msg"]
        assert path.read_text() == text
    res = ansible_run.playbook(ARGS_PLAY, extra_vars={"args": dict(args, registries=args["registries"] * 2)})
    rec = res.one("Write the drop-in")
    assert rec["failed"] and "prefix quay.io/openshift-release-dev is already used by registries[0]" in rec["result"]["msg"]
    assert path.read_text() == text


def test_absent_removes_only_our_file(ansible_run, bed):
    res, _rec = write(ansible_run, bed)
    assert res.rc == 0, res.output
    absent = {"path": str(bed["dropin"]), "state": "absent"}
    res = ansible_run.playbook(ARGS_PLAY, extra_vars={"args": absent}, check=True, diff=True)
    rec = res.one("Write the drop-in")
    assert rec["changed"] and bed["dropin"].exists() and rec["result"]["diff"]["after"] == ""
    res = ansible_run.playbook(ARGS_PLAY, extra_vars={"args": absent})
    assert res.one("Write the drop-in")["changed"] and not bed["dropin"].exists()
    res = ansible_run.playbook(ARGS_PLAY, extra_vars={"args": absent})
    assert res.rc == 0 and not res.one("Write the drop-in")["changed"]

    hand_written = bed["dropin"].parent / "10-by-hand.conf"
    hand_written.write_text('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n')
    res = ansible_run.playbook(ARGS_PLAY, extra_vars={"args": {"path": str(hand_written), "state": "absent"}})
    rec = res.one("Write the drop-in")
    assert rec["failed"] and "was not written by airgap.mirror.registries_conf" in rec["result"]["msg"]
    assert hand_written.exists()


def test_filter_pairs_from_a_real_map_file(ansible_run, bed):
    """The filter reads the map file as image_mirror writes it (YAML text)."""
    doc = yaml.safe_load(Path(bed["map"]).read_text())
    assert doc["format"] == mirrormap_model.FORMAT
    res = ansible_run.playbook(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - name: Pairs\n      ansible.builtin.debug:\n"
        "        msg: \"{{ lookup('ansible.builtin.file', map_path) | airgap.mirror.registries_conf_pairs }}\"\n",
        extra_vars={"map_path": str(bed["map"])})
    assert res.rc == 0, res.output
    assert res.one("Pairs")["result"]["msg"] == [{"source": "quay.io", "mirror": bed["mirror"].host + "/mirror"}]
