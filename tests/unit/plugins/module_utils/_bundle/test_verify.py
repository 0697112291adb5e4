"""Verifying a bundle after a copy."""

from __future__ import annotations

import os

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify

from .helpers import part_paths, pack, KiB


def test_verify_names_every_bad_part(source, tmp_path):
    layout, _images = source
    report = pack(layout, tmp_path / "b", part_size="32K")
    paths = part_paths(tmp_path / "b", report)
    assert len(paths) >= 6
    assert verify(str(tmp_path / "b"))["valid"]
    corrupt, truncated, missing, longer = paths[1], paths[2], paths[3], paths[4]
    with open(corrupt, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0x01]))
    with open(truncated, "r+b") as handle:
        handle.truncate(1000)
    os.unlink(missing)
    with open(longer, "ab") as handle:
        handle.write(b"\0")
    extra = tmp_path / "b" / "images.tar.0999"
    extra.write_bytes(b"left over")
    (tmp_path / "b" / ".images.tar.0003.abc123.tmp").write_bytes(b"x")
    (tmp_path / "b" / "other.tar.0001").write_bytes(b"another bundle's part: not ours")

    result = verify(str(tmp_path / "b"))
    assert not result["valid"]
    got = {(p["part"], p["problem"]) for p in result["problems"]}
    assert got == {
        (os.path.basename(corrupt), "corrupted"),
        (os.path.basename(truncated), "truncated"),
        (os.path.basename(missing), "missing"),
        (os.path.basename(longer), "too_long"),
    }
    # files of the bundle's name that the manifest does not list are named, not counted as damage
    assert {(p["part"], p["problem"]) for p in result["extra"]} == {
        ("images.tar.0999", "extra"), (".images.tar.0003.abc123.tmp", "extra")}
    messages = {p["part"]: p["message"] for p in result["problems"]}
    assert messages[os.path.basename(truncated)] == "%s: truncated: 1000 of %d bytes" % (
        os.path.basename(truncated), 32 * KiB)
    assert "sha256 is" in messages[os.path.basename(corrupt)]
    assert "missing" in messages[os.path.basename(missing)]
    statuses = {p["name"]: p["status"] for p in result["parts"]}
    assert statuses[os.path.basename(paths[0])] == "ok" and statuses["images.tar.0999"] == "extra"
