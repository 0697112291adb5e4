"""The persistent upload-session records (``_oci/resume.py``)."""

from __future__ import annotations

import os
import stat

from ansible_collections.airgap.mirror.plugins.module_utils._engine.resume import UploadSessions


class _Client:
    registry = "mirror.example.com:5000"


class _Dest:
    def __init__(self, repository):
        self.client = _Client()
        self.repository = repository


DIGEST = "sha256:" + "ab" * 32


def test_record_round_trip_and_modes(tmp_path):
    sessions = UploadSessions(tmp_path / "state")
    one = sessions(_Dest("org/app"), DIGEST)
    assert one.get() is None
    one.put("https://mirror.example.com:5000/v2/org/app/blobs/uploads/u1?_state=s1", 1024)
    assert one.get() == ("https://mirror.example.com:5000/v2/org/app/blobs/uploads/u1?_state=s1", 1024)
    one.put("https://mirror.example.com:5000/v2/org/app/blobs/uploads/u1?_state=s2", 2048)  # after the next chunk
    location, offset = sessions(_Dest("org/app"), DIGEST).get()  # a new process sees it
    assert location.endswith("?_state=s2") and offset == 2048
    assert stat.S_IMODE(os.stat(one.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sessions.directory).st_mode) == 0o700
    assert [r["repository"] for r in sessions.records()] == ["org/app"]
    one.clear()
    assert one.get() is None and sessions.records() == []


def test_records_are_per_repository_and_blob(tmp_path):
    sessions = UploadSessions(tmp_path / "state")
    sessions(_Dest("org/app"), DIGEST).put("https://h/u1", 10)
    assert sessions(_Dest("org/other"), DIGEST).get() is None
    assert sessions(_Dest("org/app"), "sha256:" + "cd" * 32).get() is None


def test_a_foreign_or_broken_record_is_ignored(tmp_path):
    sessions = UploadSessions(tmp_path / "state")
    one = sessions(_Dest("org/app"), DIGEST)
    one.put("https://h/u1", 10)
    with open(one.path, "w") as handle:
        handle.write("{not json")
    assert one.get() is None
    with open(one.path, "w") as handle:
        handle.write('{"registry": "elsewhere", "repository": "org/app", "digest": "%s", "location": "x"}' % DIGEST)
    assert one.get() is None


def test_a_record_without_a_valid_offset_says_so(tmp_path):
    """Records of earlier versions have no offset (they were written when the session was opened,
    before any chunk): the caller must not take the registry's ambiguous answer for it."""
    sessions = UploadSessions(tmp_path / "state")
    one = sessions(_Dest("org/app"), DIGEST)
    one.put("https://h/u1", 10)
    base = '{"registry": "mirror.example.com:5000", "repository": "org/app", "digest": "%s", "location": "x"' % DIGEST
    for extra, offset in (("", None), (', "offset": 0', None), (', "offset": true', None),
                          (', "offset": "5"', None), (', "offset": 5', 5)):
        with open(one.path, "w") as handle:
            handle.write(base + extra + "}")
        assert one.get() == ("x", offset), extra


def test_cleanup_removes_records_and_empty_directories(tmp_path):
    state = tmp_path / "state"
    sessions = UploadSessions(state)
    sessions(_Dest("org/app"), DIGEST).put("https://h/u1", 10)
    sessions.cleanup()
    assert not state.exists()
    # a state directory shared with other state (a layout's partial blobs) is kept
    (state / "partial").mkdir(parents=True)
    sessions(_Dest("org/app"), DIGEST).put("https://h/u1", 10)
    sessions.cleanup()
    assert (state / "partial").is_dir() and not (state / "uploads").exists()


def test_put_is_best_effort(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    sessions = UploadSessions(blocker)
    sessions(_Dest("org/app"), DIGEST).put("https://h/u1", 10)  # no exception: the record is only a hint
    assert sessions(_Dest("org/app"), DIGEST).get() is None
