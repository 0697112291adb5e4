"""Filters of plugins/filter/file_server.py: the inputs of the file_server role."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import file_server as F


def test_file_tree_finds_a_relative_directory_and_hashes_it(tmp_path):
    (tmp_path / "inv" / "store" / "d").mkdir(parents=True)
    (tmp_path / "inv" / "store" / "d" / "f").write_bytes(b"x")
    tree = F.file_tree("store", [None, str(tmp_path / "play"), str(tmp_path / "inv")])
    assert tree["path"] == str(tmp_path / "inv" / "store")
    assert tree["digest"].startswith("sha256:") and len(tree["release"]) == 16
    assert (tree["files"], tree["dirs"], tree["bytes"]) == (1, 1, 1)
    assert F.file_tree(str(tmp_path / "inv" / "store")) == tree


def test_file_tree_errors_name_the_variable_and_the_paths_tried(tmp_path):
    with pytest.raises(AnsibleFilterError, match=r"^file_server_src: store is not a directory on the controller "
                       r"\(tried: %s/store\)" % tmp_path):
        F.file_tree("store", [str(tmp_path)])
    with pytest.raises(AnsibleFilterError, match="relative path and there is no directory"):
        F.file_tree("store")
    with pytest.raises(AnsibleFilterError, match="expected a directory on the controller"):
        F.file_tree("")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "loop").symlink_to(tmp_path / "t")
    with pytest.raises(AnsibleFilterError, match="^file_server_src: .*loop"):
        F.file_tree(str(tmp_path / "t"))


def test_layout_and_release_dir():
    lay = F.file_server_layout({"name": "sigs"})
    assert lay["paths"]["conf"] == "/etc/airgap-mirror/file-server/sigs/nginx.conf"
    assert F.file_server_release_dir(lay, "ab" * 8).endswith("/sigs/releases/" + "ab" * 8)
    with pytest.raises(AnsibleFilterError, match="^file_server_https_port"):
        F.file_server_layout({"https_port": -1})
    with pytest.raises(AnsibleFilterError, match="expected a mapping"):
        F.file_server_layout("x")
    assert set(F.FilterModule().filters()) == {"file_tree", "file_server_layout", "file_server_release_dir"}
