from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.conflicts import (
    conflict_warning, find_conflicts,
)


def test_find_conflicts(tmp_path):
    ours = tmp_path / "999-microshift-mirror.conf"
    ours.write_text("ignored: it is ours\n")
    (tmp_path / "50-early.conf").write_text('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n')
    (tmp_path / "zzz-late.conf").write_text('[[registry]]\nlocation = "registry.redhat.io/"\n[[registry]]\nprefix="ghcr.io"\nlocation="ghcr.io"\n')
    (tmp_path / "60-broken.conf").write_text("[[registry]\n")
    (tmp_path / "70-other.toml").write_text('[[registry]]\nprefix = "quay.io"\nlocation = "quay.io"\n')
    (tmp_path / "80-dir.conf").mkdir()
    conflicts, unchecked = find_conflicts(str(ours), ["quay.io", "registry.redhat.io", "docker.io"], parser="builtin")
    assert conflicts == [
        {"prefix": "quay.io", "file": str(tmp_path / "50-early.conf"), "winner": str(ours)},
        {"prefix": "registry.redhat.io", "file": str(tmp_path / "zzz-late.conf"), "winner": str(tmp_path / "zzz-late.conf")},
    ]
    assert [u["file"] for u in unchecked] == [str(tmp_path / "60-broken.conf")]
    assert "line 1" in unchecked[0]["reason"]
    early = conflict_warning(str(ours), conflicts[0])
    assert "999-microshift-mirror.conf is applied after it" in early and "50-early.conf for quay.io are ignored" in early
    late = conflict_warning(str(ours), conflicts[1])
    assert "zzz-late.conf wins" in late and "this file's entry for registry.redhat.io has no effect" in late


def test_find_conflicts_missing_directory(tmp_path):
    assert find_conflicts(str(tmp_path / "nope" / "x.conf"), ["quay.io"]) == ([], [])
