"""_common/hostrecord.py: the record of what a role created on a host (real files in tmp_path)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common import hostrecord as H

FMT = "airgap.mirror/registry_mirror_host/v1"


def test_ancestors_shallowest_first_each_once():
    assert H.ancestors(["/etc/crio", "/etc/containers/certs.d/m.example.com:5000"]) == [
        "/etc", "/etc/containers", "/etc/crio", "/etc/containers/certs.d", "/etc/containers/certs.d/m.example.com:5000"]
    assert H.ancestors(["/var/lib/../lib/x", "/var//lib", "//srv/"]) == ["/srv", "/var", "/var/lib", "/var/lib/x"]
    assert H.ancestors([]) == [] and H.ancestors(["/"]) == []
    with pytest.raises(H.HostRecordError, match="'etc' is not an absolute path"):
        H.ancestors(["etc"])


@pytest.mark.parametrize("text, message", [
    ("not json", "not JSON"),
    ("[]", "move it away$"),
    ('{"created_dirs": []}', "move it away$"),
    ('{"created_dirs": ["rel"], "created_files": []}', "created_dirs is not a list of absolute paths"),
    ('{"created_dirs": [], "created_files": [], "format": "other/v1"}', "its format is 'other/v1'"),
])
def test_parse_refuses_what_is_not_a_record(text, message):
    with pytest.raises(H.HostRecordError, match=message):
        H.parse(text, FMT, "/r.json")


def test_parse_sorts_and_takes_a_record_without_format_as_this_one():
    rec = H.parse('{"created_dirs": ["/b", "/a", "/b"], "created_files": []}', FMT, "/r.json")
    assert rec == H.Record(FMT, ("/a", "/b"), ())


def test_present_records_what_is_missing_and_the_records_own_directories(tmp_path):
    (tmp_path / "etc").mkdir()
    path = str(tmp_path / "state" / "deep" / "r.json")
    auth = str(tmp_path / "etc" / "crio" / "secret")
    rec = H.plan_present(None, FMT, path, [str(tmp_path / "etc" / "crio")], [auth])
    assert rec.created_dirs == tuple(sorted([str(tmp_path / "etc" / "crio"), str(tmp_path / "state"),
                                             str(tmp_path / "state" / "deep")]))
    assert rec.created_files == (auth,)
    assert H.read(path, FMT) is None
    assert H.write(path, rec) == [str(tmp_path / "state"), str(tmp_path / "state" / "deep")]
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert oct(os.stat(tmp_path / "state").st_mode & 0o777) == "0o755"
    assert json.loads(open(path, encoding="utf-8").read()) == rec.to_dict()
    assert H.read(path, FMT) == rec
    # once created, nothing new is missing: the record stays the same
    os.makedirs(tmp_path / "etc" / "crio")
    open(auth, "w", encoding="utf-8").close()
    assert H.plan_present(rec, FMT, path, [str(tmp_path / "etc" / "crio")], [auth]).same_paths(rec)


def test_present_with_nothing_missing_keeps_the_record_empty(tmp_path):
    rec = H.plan_present(None, FMT, str(tmp_path / "state" / "r.json"), [str(tmp_path)], [])
    assert rec.empty


def test_absent_removes_empty_directories_deepest_first_and_check_mode_agrees(tmp_path):
    a, b, c = (str(tmp_path / p) for p in ("a", "a/b", "c"))
    for d in (b, c):
        os.makedirs(d)
    secret = os.path.join(b, "secret")
    open(secret, "w", encoding="utf-8").close()
    open(os.path.join(c, "theirs"), "w", encoding="utf-8").close()
    rec = H.Record(FMT, (a, b, c), (secret,))
    # check mode: the secret counts as gone only when the run says it removed it
    assert H.removable_dirs(rec, []) == []
    assert H.removable_dirs(rec, [secret]) == [b, a]
    os.unlink(secret)
    assert H.remove_dirs(rec) == [b, a]
    assert os.path.isdir(c) and not os.path.exists(a)
    assert H.remove_dirs(rec) == []


def test_remove_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{}")
    assert H.remove_file(str(path)) and not path.exists()
    assert not H.remove_file(str(path))
