"""Parts on media: extra and symlinked parts."""

from __future__ import annotations

import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify

from .helpers import refs, pack


def test_an_extra_part_is_named_by_verify_and_unpack_alike_and_is_not_damage(source, tmp_path):
    """A part the manifest does not list is never read: verify calls the bundle valid, unpack
    unpacks it, and both name the extra files in the same words."""
    layout, images = source
    pack(layout, tmp_path / "b", part_size="32K")
    (tmp_path / "b" / "images.tar.0999").write_bytes(b"left over from an earlier bundle of this name")
    (tmp_path / "b" / ".images.tar.0003.abc123.tmp").write_bytes(b"x")
    verified = verify(str(tmp_path / "b"))
    assert verified["valid"] and verified["problems"] == []
    assert [p["part"] for p in verified["extra"]] == [".images.tar.0003.abc123.tmp", "images.tar.0999"]
    assert verified["extra"][1]["message"].startswith(
        "images.tar.0999: extra part: not listed in images.bundle.json (left over from another bundle of the "
        "same name?); not read")
    assert {p["name"]: p["status"] for p in verified["parts"]}["images.tar.0999"] == "extra"
    unpacked = unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert unpacked["status"] == "unpacked" and refs(tmp_path / "out") == {r: i.digest for r, i in images.items()}
    assert unpacked["extra"] == verified["extra"]
    assert unpack(str(tmp_path / "b"), str(tmp_path / "out"))["extra"] == verified["extra"]


@pytest.mark.parametrize("target", ["same content", "shorter file"])
def test_a_symlinked_part_is_refused_by_name(source, tmp_path, target):
    """A part that is a symbolic link is not followed (not even to a file with the right bytes):
    verify and unpack name it as a symbolic link, not as truncated or intact."""
    layout, _images = source
    report = pack(layout, tmp_path / "b", part_size="32K")
    name = report["parts"][1]["name"]
    elsewhere = tmp_path / "elsewhere"
    data = (tmp_path / "b" / name).read_bytes()
    elsewhere.write_bytes(data if target == "same content" else data[:1000])
    (tmp_path / "b" / name).unlink()
    os.symlink(str(elsewhere), str(tmp_path / "b" / name))
    message = "%s: a symbolic link (to %r), not the part itself: copy the file, not the link" % (name, str(elsewhere))
    result = verify(str(tmp_path / "b"))
    assert not result["valid"]
    assert result["problems"] == [{"part": name, "problem": "symlink", "message": message}]
    assert {p["name"]: p["status"] for p in result["parts"]}[name] == "symlink"
    with pytest.raises(BundleError) as caught:
        unpack(str(tmp_path / "b"), str(tmp_path / "out"))
    assert caught.value.part == name and message in str(caught.value)
    assert refs(tmp_path / "out") == {}
