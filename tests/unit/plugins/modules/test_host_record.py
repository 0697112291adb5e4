"""airgap.mirror.host_record: run() on real files (query, present, absent, check mode, diff)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.modules import host_record as M

FMT = "airgap.mirror/registry_mirror_host/v1"


def params(path, state="present", dirs=(), files=(), removed=()):
    return {"path": str(path), "format": FMT, "state": state, "dirs": [str(d) for d in dirs],
            "files": [str(f) for f in files], "removed_paths": [str(r) for r in removed]}


def test_present_check_mode_then_real_then_idempotent(tmp_path):
    record = tmp_path / "state" / "r.json"
    conf = tmp_path / "etc" / "crio"
    secret = conf / "secret"
    p = params(record, dirs=[conf], files=[secret])
    check = M.run(p, check_mode=True, want_diff=True)
    assert check["changed"] and not record.exists() and not check["exists"]
    assert check["missing"] == [str(tmp_path / "etc"), str(conf), str(secret)]
    assert check["diff"]["before"] == "" and json.loads(check["diff"]["after"]) == check["record"]
    assert check["record"]["created_dirs"] == sorted([str(tmp_path / "etc"), str(conf), str(tmp_path / "state")])
    real = M.run(p, check_mode=False, want_diff=False)
    assert real["changed"] and json.loads(record.read_text()) == real["record"] == check["record"]
    os.makedirs(conf)
    secret.write_text("{}")
    again = M.run(p, check_mode=False, want_diff=True)
    assert not again["changed"] and "diff" not in again and again["exists"]
    query = M.run(params(record, state="query"), check_mode=False, want_diff=False)
    assert query == {"changed": False, "path": str(record), "exists": True, "record": real["record"], "missing": []}


def test_present_with_nothing_to_record_writes_nothing(tmp_path):
    res = M.run(params(tmp_path / "state" / "r.json", dirs=[tmp_path]), check_mode=False, want_diff=False)
    assert not res["changed"] and not (tmp_path / "state").exists()
    assert res["record"] == {"format": FMT, "created_dirs": [], "created_files": []}


def test_absent_in_check_mode_says_what_a_real_run_removes(tmp_path):
    record = tmp_path / "state" / "r.json"
    conf = tmp_path / "etc" / "crio"
    secret = conf / "secret"
    M.run(params(record, dirs=[conf], files=[secret]), check_mode=False, want_diff=False)
    os.makedirs(conf)
    secret.write_text("{}")
    expected = sorted([str(tmp_path / "state"), str(conf), str(tmp_path / "etc")], reverse=True)
    check = M.run(params(record, state="absent", removed=[secret]), check_mode=True, want_diff=True)
    assert check["changed"] and check["removed_dirs"] == expected and record.exists()
    assert check["diff"][1]["before"] == "".join(d + "/\n" for d in expected)
    # without the secret gone, /etc/crio and /etc stay
    keep = M.run(params(record, state="absent"), check_mode=True, want_diff=False)
    assert keep["removed_dirs"] == [str(tmp_path / "state")]
    secret.unlink()
    real = M.run(params(record, state="absent"), check_mode=False, want_diff=False)
    assert real["changed"] and real["removed_dirs"] == expected and not (tmp_path / "etc").exists()
    again = M.run(params(record, state="absent"), check_mode=False, want_diff=False)
    assert not again["changed"] and again["removed_dirs"] == [] and not again["exists"]


def test_a_foreign_record_is_refused(tmp_path):
    record = tmp_path / "r.json"
    record.write_text('{"format": "someone/else", "created_dirs": [], "created_files": []}')
    with pytest.raises(UserError, match="is not a record written by this role; move it away"):
        M.run(params(record, state="absent"), check_mode=False, want_diff=False)
    with pytest.raises(UserError, match="is not an absolute path"):
        M.run(params("rel.json"), check_mode=False, want_diff=False)
