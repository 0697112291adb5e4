import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common import managed_file as M
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError


def test_read_a_missing_file(tmp_path):
    current = M.ManagedFile.read(str(tmp_path / "x.conf"))
    assert not current.exists and current.text is None and current.mode is None
    assert current.target == str(tmp_path / "x.conf")


def test_read_follows_a_symlink_and_keeps_the_given_path(tmp_path):
    real = tmp_path / "real.json"
    real.write_bytes(b"caf\xc3\xa9 \xff")
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    current = M.ManagedFile.read(str(link))
    assert current.path == str(link) and current.target == str(real)
    assert current.raw == b"caf\xc3\xa9 \xff" and current.text == "caf\u00e9 \ufffd"
    assert current.mode == 0o640


def test_missing_directories_need_create_dirs(tmp_path):
    current = M.ManagedFile.read(str(tmp_path / "a" / "b" / "x.conf"))
    with pytest.raises(M.ManagedFileError, match=r"x.conf: directory .*/a does not exist \(set create_dirs=true"):
        current.missing_directories(False)
    assert issubclass(M.ManagedFileError, UserError)
    missing = current.missing_directories(True)
    assert missing == [str(tmp_path / "a"), str(tmp_path / "a" / "b")]


def test_check_mode_writes_nothing(tmp_path):
    current = M.ManagedFile.read(str(tmp_path / "d" / "x.conf"))
    current.apply(b"data\n", 0o600, True, 0o700, current.missing_directories(True))
    assert not (tmp_path / "d").exists()


def test_apply_creates_directories_writes_and_sets_modes(tmp_path):
    path = tmp_path / "d" / "auth.json"
    current = M.ManagedFile.read(str(path))
    current.apply(b"{}\n", 0o600, False, 0o700, current.missing_directories(True))
    assert path.read_bytes() == b"{}\n"
    assert os.stat(path).st_mode & 0o7777 == 0o600
    assert os.stat(tmp_path / "d").st_mode & 0o7777 == 0o700
    os.chmod(path, 0o644)
    M.ManagedFile.read(str(path)).apply(None, 0o600, False)  # mode only, content kept
    assert path.read_bytes() == b"{}\n" and os.stat(path).st_mode & 0o7777 == 0o600


def test_remove(tmp_path):
    path = tmp_path / "x.conf"
    path.write_text("x")
    M.ManagedFile.read(str(path)).remove(True)
    assert path.exists()
    M.ManagedFile.read(str(path)).remove(False)
    assert not path.exists()


def test_diff_headers():
    assert M.diff("a", "b", "/p") == {"before": "a", "after": "b", "before_header": "/p", "after_header": "/p"}
    assert M.diff("a", "", "/p", "(absent)")["after_header"] == "(absent)"
