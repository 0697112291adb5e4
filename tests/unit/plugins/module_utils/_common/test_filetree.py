"""_common/filetree: the digest that names a served copy of a directory."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.filetree import FileTreeError, tree_digest


def make(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_the_digest_is_the_documented_listing(tmp_path):
    root = make(tmp_path / "t", {"a": b"one", "d/b": b"two\n"})
    summary = tree_digest(str(root))
    sha = {k: hashlib.sha256(v).hexdigest() for k, v in {"a": b"one", "b": b"two\n"}.items()}
    listing = b"f %s 3 a\nd d\nf %s 4 d/b\n" % (sha["a"].encode(), sha["b"].encode())
    assert summary.digest == "sha256:" + hashlib.sha256(listing).hexdigest()
    assert (summary.files, summary.dirs, summary.bytes) == (2, 1, 7)
    assert summary.release == summary.digest[7:23]
    assert summary.to_dict()["release"] == summary.release


def test_content_names_and_empty_directories_change_it_and_nothing_else_does(tmp_path):
    root = make(tmp_path / "t", {"a": b"one", "d/b": b"two"})
    first = tree_digest(str(root)).digest
    os.utime(root / "a", (1, 1))  # times are not content
    (root / "a").chmod(0o600)  # nor modes (the role sets them)
    assert tree_digest(str(root)).digest == first
    (root / "a").write_bytes(b"One")
    second = tree_digest(str(root)).digest
    assert second != first
    (root / "a").rename(root / "c")
    assert tree_digest(str(root)).digest not in (first, second)
    (root / "c").unlink()
    (root / "a").write_bytes(b"one")
    assert tree_digest(str(root)).digest == first
    (root / "empty").mkdir()
    assert tree_digest(str(root)).digest != first


def test_links_are_followed_and_loops_refused(tmp_path):
    target = make(tmp_path / "elsewhere", {"x": b"data"})
    root = make(tmp_path / "t", {"a": b"one"})
    (root / "link").symlink_to(target / "x")
    (root / "dirlink").symlink_to(target)
    copy = make(tmp_path / "copy", {"a": b"one", "link": b"data", "dirlink/x": b"data"})
    assert tree_digest(str(root)).digest == tree_digest(str(copy)).digest
    (root / "loop").symlink_to(root)
    with pytest.raises(FileTreeError, match="loop"):
        tree_digest(str(root))
    (root / "loop").unlink()
    (root / "broken").symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileTreeError, match="broken"):
        tree_digest(str(root))


def test_a_missing_directory_or_a_fifo_is_named(tmp_path):
    with pytest.raises(FileTreeError, match="nope is not a directory"):
        tree_digest(str(tmp_path / "nope"))
    root = make(tmp_path / "t", {"a": b"one"})
    os.mkfifo(root / "pipe")
    with pytest.raises(FileTreeError, match="pipe is neither a file nor a directory"):
        tree_digest(str(root))
