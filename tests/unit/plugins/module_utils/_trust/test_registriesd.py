import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._trust import registriesd as R
from ansible_collections.airgap.mirror.plugins.module_utils._trust.registriesd import (
    RegistriesDError, load_registries_d)


def make_dir(tmp_path, files):
    directory = tmp_path / "registries.d"
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text)
    return str(directory)


def test_most_specific_scope_that_sets_the_key_wins(tmp_path):
    path = make_dir(tmp_path, {
        "00-default.yaml": "default-docker:\n  lookaside: file:///srv/sigs\n",
        "10-quay.yaml": ("docker:\n"
                         "  quay.io:\n    lookaside: https://sigs.example.com/quay\n"
                         "    use-sigstore-attachments: true\n"
                         "  quay.io/org/app:\n    use-sigstore-attachments: false\n"
                         "  quay.io/org:\n    sigstore: http://old.example.com/sigs\n"),
        "20-wild.yaml": "docker:\n  '*.example.com':\n    lookaside: file:///wild\n",
        "README": "not yaml: [",
    })
    config = load_registries_d(path)
    assert config.lookaside_for("quay.io/org/app:1") == "http://old.example.com/sigs"   # deprecated key read
    assert config.lookaside_for("quay.io/other/app:1") == "https://sigs.example.com/quay"
    assert config.lookaside_for("busybox") == "file:///srv/sigs"
    assert config.lookaside_for("a.example.com/x:1") == "file:///wild"
    assert config.use_sigstore_attachments("quay.io/org/app:1") is False
    assert config.use_sigstore_attachments("quay.io/org/other:1") is True
    assert config.use_sigstore_attachments("busybox") is False


def test_exact_reference_scope(tmp_path):
    path = make_dir(tmp_path, {"a.yaml": "docker:\n  quay.io/org/app:1.0:\n    lookaside: file:///one\n"})
    config = load_registries_d(path)
    assert config.lookaside_for("quay.io/org/app:1.0") == "file:///one"
    assert config.lookaside_for("quay.io/org/app:2.0") is None


def test_duplicate_scope_names_both_files(tmp_path):
    path = make_dir(tmp_path, {"a.yaml": "docker:\n  quay.io:\n    lookaside: file:///a\n",
                               "b.yaml": "docker:\n  quay.io:\n    lookaside: file:///b\n"})
    with pytest.raises(RegistriesDError) as info:
        load_registries_d(path)
    assert "quay.io" in str(info.value) and "a.yaml" in str(info.value) and "b.yaml" in str(info.value)


def test_duplicate_default_names_both_files(tmp_path):
    path = make_dir(tmp_path, {"a.yaml": "default-docker:\n  lookaside: file:///a\n",
                               "b.yaml": "default-docker:\n  lookaside: file:///b\n"})
    with pytest.raises(RegistriesDError, match="a.yaml and .*b.yaml"):
        load_registries_d(path)


@pytest.mark.parametrize("text,fragment", [
    ("docker:\n  quay.io:\n    lookaside: /var/lib/sigs\n", "file://, http:// or https://"),
    ("docker:\n  quay.io:\n    use-sigstore-attachments: 'yes'\n", "true or false"),
    ("docker: [1]\n", "mapping of scopes"),
    ("- 1\n", "top level must be a mapping"),
    ("docker: {a: [\n", "not valid YAML"),
])
def test_bad_files(tmp_path, text, fragment):
    path = make_dir(tmp_path, {"x.yaml": text})
    with pytest.raises(RegistriesDError, match=fragment) as info:
        load_registries_d(path)
    assert "x.yaml" in str(info.value)


def test_default_directory_and_missing_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "DEFAULT_DIR", str(tmp_path / "absent"))
    empty = load_registries_d(None)
    assert empty.lookaside_for("busybox") is None and empty.use_sigstore_attachments("busybox") is False
    monkeypatch.setattr(R, "DEFAULT_DIR", make_dir(tmp_path, {"d.yaml": "default-docker:\n  lookaside: file:///d\n"}))
    assert load_registries_d(None).lookaside_for("busybox") == "file:///d"
    with pytest.raises(RegistriesDError, match="not a directory"):
        load_registries_d(str(tmp_path / "nope"))


def test_lookaside_wins_over_the_deprecated_sigstore(tmp_path):
    text = "docker:\n  quay.io:\n    sigstore: file:///old\n    lookaside: file:///new\n"
    config = load_registries_d(make_dir(tmp_path, {"x.yaml": text}))
    assert config.lookaside_for("quay.io/x") == "file:///new"


def test_empty_file_and_empty_scope(tmp_path):
    config = load_registries_d(make_dir(tmp_path, {"e.yaml": "", "f.yaml": "docker:\n  quay.io:\n"}))
    assert config.lookaside_for("quay.io/x") is None
