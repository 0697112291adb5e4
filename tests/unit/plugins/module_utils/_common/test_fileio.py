import os
import stat

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common import fileio as F


def _leftovers(directory):
    return [n for n in os.listdir(directory) if n.endswith(".tmp")]


def test_new_file_gets_content_and_exact_mode(tmp_path):
    old = os.umask(0o077)  # the mode must not depend on the umask
    try:
        target = tmp_path / "conf"
        assert F.atomic_write(str(target), b"hello\n", 0o644) == str(target)
    finally:
        os.umask(old)
    assert target.read_bytes() == b"hello\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert _leftovers(tmp_path) == []


def test_replaces_existing_file_and_mode(tmp_path):
    target = tmp_path / "secret.json"
    target.write_bytes(b"old")
    os.chmod(target, 0o666)
    before_inode = target.stat().st_ino
    F.atomic_write(str(target), b"new", 0o600)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.stat().st_ino != before_inode  # replaced by rename, not rewritten in place


def test_mode_is_set_before_the_rename(tmp_path, monkeypatch):
    seen = {}
    real_replace = os.replace

    def spy(src, dst):
        seen["mode"] = stat.S_IMODE(os.stat(src).st_mode)
        seen["dir"] = os.path.dirname(src)
        return real_replace(src, dst)

    monkeypatch.setattr(F.os, "replace", spy)
    F.atomic_write(str(tmp_path / "f"), b"x", 0o640)
    assert seen == {"mode": 0o640, "dir": str(tmp_path)}  # same directory: rename is atomic


def test_keeps_owner_and_group_of_existing_file(tmp_path):
    if os.geteuid() != 0:
        if os.environ.get("AIRGAP_CI") == "1":
            pytest.fail("this test changes a file's owner and needs root")
        pytest.skip("changing a file's owner needs root")
    target = tmp_path / "pull-secret"
    target.write_bytes(b"{}")
    os.chown(target, 1234, 2345)
    F.atomic_write(str(target), b'{"auths": {}}', 0o600)
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (1234, 2345)
    assert stat.S_IMODE(st.st_mode) == 0o600


@pytest.mark.parametrize("stage", ["fsync", "replace"])
def test_original_intact_when_writing_fails(tmp_path, monkeypatch, stage):
    target = tmp_path / "auth.json"
    target.write_bytes(b"original")
    os.chmod(target, 0o600)

    def boom(*_args, **_kwargs):
        raise OSError(5, "Input/output error (injected)")

    monkeypatch.setattr(F.os, stage, boom)
    with pytest.raises(OSError, match="injected"):
        F.atomic_write(str(target), b"replacement", 0o600)
    assert target.read_bytes() == b"original"
    assert _leftovers(tmp_path) == []


def test_original_intact_when_data_is_not_bytes(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"original")
    with pytest.raises(TypeError):
        F.atomic_write(str(target), "text", 0o600)
    assert target.read_bytes() == b"original"
    assert _leftovers(tmp_path) == []


def test_missing_directory_is_an_error_not_a_creation(tmp_path):
    with pytest.raises(FileNotFoundError):
        F.atomic_write(str(tmp_path / "nope" / "f"), b"x", 0o600)
    assert not (tmp_path / "nope").exists()


def test_symlink_target_is_replaced_and_link_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert F.atomic_write(str(link), b"new", 0o600) == str(real)
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_ensure_directory_and_missing_directories(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    assert F.missing_directories(str(deep)) == [str(tmp_path / "a"), str(tmp_path / "a" / "b"), str(deep)]
    old = os.umask(0o077)
    try:
        created = F.ensure_directory(str(deep), 0o755)
    finally:
        os.umask(old)
    assert created == [str(tmp_path / "a"), str(tmp_path / "a" / "b"), str(deep)]
    assert stat.S_IMODE(deep.stat().st_mode) == 0o755
    assert F.missing_directories(str(deep)) == []
    assert F.ensure_directory(str(deep), 0o755) == []


def test_read_bytes_file_mode_set_mode(tmp_path):
    target = tmp_path / "f"
    assert F.read_bytes(str(target)) is None
    assert F.file_mode(str(target)) is None
    target.write_bytes(b"x")
    os.chmod(target, 0o644)
    assert F.read_bytes(str(target)) == b"x"
    assert F.file_mode(str(target)) == 0o644
    assert F.set_mode(str(target), 0o600) is True
    assert F.set_mode(str(target), 0o600) is False
    assert F.file_mode(str(target)) == 0o600
