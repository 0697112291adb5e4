"""Reading, merging and writing the mirror map file (plugins/module_utils/_mirrormap/io.py)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as IO
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
MAN = "application/vnd.oci.image.manifest.v1+json"

TEXT = """\
format: airgap.mirror/v1
images:
- source: docker.io/library/nginx:1
  source_tag: '1'
  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
  media_type: application/vnd.oci.image.manifest.v1+json
  platforms: []
  size: 3
  destination: mirror:5000/library/nginx:1
  attachments: []
- source: quay.io/org/app:1.0
  source_tag: '1.0'
  digest: sha256:2222222222222222222222222222222222222222222222222222222222222222
  media_type: application/vnd.oci.image.manifest.v1+json
  platforms:
  - linux/amd64
  size: 7
  destination: mirror:5000/org/app:1.0
  attachments:
  - sha256-2222222222222222222222222222222222222222222222222222222222222222.sig
"""


def entry(src: str, dest: str, digest: str = D1, size: int = 1) -> M.Entry:
    return M.Entry(R.parse(src), digest, MAN, M.parse_destination(dest), (), size, ())


def test_the_text_round_trips_byte_for_byte() -> None:
    mm = IO.loads(TEXT, "map.yml")
    assert len(mm) == 2
    assert mm.entries[1].attachments == ("sha256-" + "2" * 64 + ".sig",)
    assert IO.dumps(mm) == TEXT


def test_verified_round_trips_through_the_file_unchanged(tmp_path) -> None:
    text = TEXT + """\
- source: quay.io/org/signed:2.0
  source_tag: '2.0'
  digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
  media_type: application/vnd.oci.image.manifest.v1+json
  platforms: []
  size: 5
  destination: mirror:5000/org/signed:2.0
  attachments: []
  verified:
    kind: gpg
    keys:
    - F12BB816D116713F45DEC0FCA5CA709C5D8864E2
    - 5689692A29F02EB271D7316FA9AFEA22A39E5494
"""
    mm = IO.loads(text, "map.yml")
    signed = mm.by_source("quay.io/org/signed:2.0")[0]
    assert signed.verified == M.Verified("gpg", ("F12BB816D116713F45DEC0FCA5CA709C5D8864E2",
                                                 "5689692A29F02EB271D7316FA9AFEA22A39E5494"))
    assert all(e.verified is None for e in mm if e is not signed)
    assert IO.dumps(mm) == text
    path = str(tmp_path / "map.yml")
    IO.write(path, mm)
    assert IO.load(path) == mm and open(path, encoding="utf-8").read() == text
    merged = IO.merge(mm, [entry("docker.io/library/nginx:1", "mirror:5000/library/nginx:1")])
    assert merged.by_source("quay.io/org/signed:2.0")[0].verified == signed.verified


@pytest.mark.parametrize("text, message", [
    ("format: other/v9\nimages: []\n", "unsupported format 'other/v9'"),
    ("images: {}\n", "expected a mapping with an 'images' list"),
    ("images: [\n", "not valid YAML/JSON"),
    ("images:\n- 3\n", r"map.yml: images\[0\]: expected a mapping"),
])
def test_a_bad_file_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(M.MirrorMapError, match=message):
        IO.loads(text, "map.yml")


def test_an_empty_file_is_an_empty_map() -> None:
    assert len(IO.loads("", "map.yml")) == 0


def test_coerce_takes_text_documents_lists_and_maps() -> None:
    mm = IO.loads(TEXT)
    assert IO.coerce(TEXT) == mm
    assert IO.coerce({"images": [e.to_dict() for e in mm]}) == mm
    assert IO.coerce([e.to_dict() for e in mm]) == mm
    assert IO.coerce(mm) is mm
    with pytest.raises(M.MirrorMapError, match="expected a mirror map, not int"):
        IO.coerce(3)


def test_a_run_replaces_the_entries_of_its_sources_and_keeps_the_rest() -> None:
    old_a = entry("quay.io/org/a:1", "oci:/l:quay.io/org/a:1", D1)
    old_b = entry("quay.io/org/b:1", "mirror:5000/org/b:1", D1)
    new_a = entry("quay.io/org/a:1", "mirror:5000/org/a:1", D2)
    merged = IO.merge(M.MirrorMap([old_a, old_b]), [new_a])
    assert list(merged) == [new_a, old_b]
    assert list(IO.merge(None, [new_a])) == [new_a]


def test_pruning_keeps_only_the_entries_of_the_given_sources() -> None:
    old_a = entry("quay.io/org/a:1", "mirror:5000/org/a:1", D1)
    old_b = entry("quay.io/org/b:1", "mirror:5000/org/b:1", D1)
    old_c = entry("quay.io/org/c:1", "mirror:5000/org/c:1", D1)
    new_a = entry("quay.io/org/a:1", "mirror:5000/org/a:1", D2)
    # b failed in this run (asked for, not produced): its entry stays; c was not asked for: pruned
    merged = IO.merge(M.MirrorMap([old_a, old_b, old_c]), [new_a], prune_to={"quay.io/org/a:1", "quay.io/org/b:1"})
    assert list(merged) == [new_a, old_b]
    assert list(IO.merge(M.MirrorMap([old_a, old_b, old_c]), [new_a], prune_to=set())) == [new_a]


def test_write_is_atomic_and_only_when_the_text_changes(tmp_path) -> None:
    path = str(tmp_path / "sub" / "map.yml")
    mm = IO.loads(TEXT)
    assert IO.write(path, mm, check_mode=True) is True
    assert not os.path.exists(path)
    assert IO.write(path, mm) is True
    before = os.stat(path)
    assert IO.write(path, mm) is False
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert IO.load(path) == mm
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [p for p in os.listdir(tmp_path / "sub") if p != "map.yml"] == []


def test_load_if_exists() -> None:
    assert IO.load_if_exists(None) is None
    assert IO.load_if_exists("/nonexistent/map.yml") is None


def test_libyaml_is_used_and_writes_what_the_pure_python_dumper_wrote(monkeypatch) -> None:
    """A map written by an earlier release (PyYAML's Python dumper) reads back and is written again
    byte for byte by libyaml's dumper, or every re-run would report a changed map."""
    import yaml

    assert IO._LOADER is yaml.CSafeLoader and IO._DUMPER is yaml.CSafeDumper  # Debian's and PyPI's PyYAML
    odd = [entry("quay.io/org/app:1.0", "mirror:5000/org/app:1.0"),
           M.Entry(R.parse("registry.example:5000/a-very-long/" + "x" * 200 + ":v1"), D2, MAN,
                   M.parse_destination("oci:/var/lib/mirror/l\u00e9:registry.example:5000/x:v1"),
                   ("linux/arm/v7", "linux/amd64"), 0, ("sha256-" + "2" * 64 + ".att", "yes", "0o17")),
           entry("docker.io/library/nginx@" + D1, "mirror:5000/library/nginx@" + D1, D1, 2 ** 40)]
    mm = M.MirrorMap(odd)
    with monkeypatch.context() as patch:
        patch.setattr(IO, "_DUMPER", yaml.SafeDumper)
        patch.setattr(IO, "_LOADER", yaml.SafeLoader)
        pure = IO.dumps(mm)
        assert IO.loads(pure) == mm
    assert IO.dumps(mm) == pure
    assert IO.loads(pure) == mm


def test_text_in_a_str_subclass_is_read() -> None:
    """A filter is given the file's text as ansible-core's tagged string, a subclass of str that
    libyaml's loader refuses."""
    from ansible.module_utils._internal._datatag import AnsibleTagHelper
    from ansible._internal._datatag._tags import Origin

    tagged = AnsibleTagHelper.tag(TEXT, [Origin(path="/srv/map.yml", line_num=1)])
    assert isinstance(tagged, str) and tagged.__class__ is not str
    assert IO.loads(tagged, "map.yml") == IO.loads(TEXT, "map.yml")
    assert IO.coerce(tagged) == IO.loads(TEXT)


def test_a_broken_file_names_its_line() -> None:
    with pytest.raises(M.MirrorMapError, match=r"(?s)map.yml: not valid YAML/JSON: .*line 3, column \d+"):
        IO.loads("format: airgap.mirror/v1\nimages:\n- destination: [b\n", "map.yml")
