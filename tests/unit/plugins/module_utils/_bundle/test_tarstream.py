"""The tar stream: hostile members are refused by name, nothing is extracted with tarfile."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.parts import PartsReader
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.tarstream import TarStream, tar_header
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack

from .helpers import sha, refs, _info, crafted_bundle, _index


HOSTILE = {
    "parent": (lambda m: [(_info("../evil", 4), b"evil")] + m, r"'\.\./evil': path with '\.\.' escapes the layout"),
    "nested-parent": (lambda m: [(_info("blobs/../../evil", 4), b"evil")] + m, r"path with '\.\.'"),
    "absolute": (lambda m: [(_info("/tmp/airgap-evil-absolute", 4), b"evil")] + m, r"absolute path"),
    "symlink-escape": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.SYMTYPE,
                                         linkname="../../../../../../etc/passwd"), None)] + m,
                       r"symbolic link to '\.\./\.\./\.\./\.\./\.\./\.\./etc/passwd' escapes the layout"),
    "symlink-absolute": (lambda m: [(_info("oci-layout", kind=tarfile.SYMTYPE, linkname="/etc/passwd"), None)] + m,
                         r"symbolic link to '/etc/passwd' escapes the layout"),
    "symlink-inside": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.SYMTYPE,
                                         linkname="d" * 64), None)] + m,
                       r"symbolic link to 'd{64}' \(a bundle holds only regular files\)"),
    "hardlink-escape": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.LNKTYPE,
                                          linkname="../../etc/shadow"), None)] + m,
                        r"hard link to '\.\./\.\./etc/shadow' escapes the layout"),
    "device": (lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.CHRTYPE), None)] + m, r"device file"),
    "fifo": (lambda m: [(_info("index.json", kind=tarfile.FIFOTYPE), None)] + m, r"FIFO"),
    "duplicate": (lambda m: m + [m[0]], r"duplicate entry"),
    "unexpected": (lambda m: [(_info("etc/cron.d/evil", 4), b"evil")] + m, r"unexpected file"),
    "dot-dir": (lambda m: [(_info(".airgap-state/partial/x", 4), b"evil")] + m, r"unexpected file"),
    "not-listed": (lambda m: [(_info("blobs/sha256/" + sha(b"evil"), 4), b"evil")] + m,
                   r"is not listed in the bundle manifest"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_by_name(tmp_path, case):
    entries, message = HOSTILE[case]
    crafted_bundle(tmp_path / "bundle", entries)
    target = tmp_path / "deep" / "er" / "out"
    with pytest.raises(BundleError, match=message) as caught:
        unpack(str(tmp_path / "bundle"), str(target))
    assert caught.value.part == "images.tar.0001"
    assert caught.value.member, "the tar member must be named"
    assert str(caught.value).startswith("images.tar.0001: tar member ")
    # nothing landed outside the layout, and no image became visible
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()
    assert not os.path.exists("/tmp/airgap-evil-absolute")
    assert not (target / "etc").exists()
    assert refs(target) == {}


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["gnu-longname", "pax-path"])
def test_long_names_from_extension_headers_are_checked_too(tmp_path, fmt):
    name = "blobs/" + "x" * 150 + "/../../../../evil"
    crafted_bundle(tmp_path / "bundle", lambda m: [(_info(name, 4), b"evil")] + m, fmt=fmt)
    raw = (tmp_path / "bundle" / "images.tar.0001").read_bytes()
    assert name.encode() not in raw[:100], "the name must be in an extension header, not the ustar field"
    with pytest.raises(BundleError, match=r"tar member '%s': path with '\.\.'" % name):
        unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))
    assert not (tmp_path / "evil").exists()


def test_pax_long_link_target_is_checked(tmp_path):
    target = "../" * 60 + "etc/passwd"
    crafted_bundle(tmp_path / "bundle", lambda m: [(_info("blobs/sha256/" + "c" * 64, kind=tarfile.SYMTYPE,
                                                          linkname=target), None)] + m, fmt=tarfile.PAX_FORMAT)
    with pytest.raises(BundleError, match=r"symbolic link to '(\.\./)+etc/passwd' escapes the layout"):
        unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))


def test_a_stream_cut_inside_a_member_is_reported(tmp_path):
    def cut(stream):  # inside the second member's data (consistent checksums: the attacker re-hashed)
        with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
            second = tar.getmembers()[1]
        assert second.size > 20
        return stream[:second.offset_data + 10]

    crafted_bundle(tmp_path / "bundle", lambda m: m, mangle=cut)
    with pytest.raises(BundleError, match=r"images.tar.0001: the tar stream ends inside tar member "
                       r"'blobs/sha256/[0-9a-f]{64}' \(\d+ bytes missing\)"):
        unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))
    assert refs(tmp_path / "out") == {}


def test_a_header_with_a_bad_checksum_is_reported(tmp_path):
    def garble(stream):
        return b"Z" + stream[1:]

    crafted_bundle(tmp_path / "bundle", lambda m: m, mangle=garble)
    with pytest.raises(BundleError, match=r"images.tar.0001: invalid tar header at byte 0 of the stream: "
                       r"bad checksum"):
        unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))


def test_a_global_pax_header_is_refused(tmp_path):
    def with_global(stream):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                          pax_headers={"path": "../../evil"}) as tar:
            tar.addfile(_info("oci-layout", 2), io.BytesIO(b"{}"))
        return buf.getvalue()

    crafted_bundle(tmp_path / "bundle", lambda m: m, mangle=with_global)
    with pytest.raises(BundleError, match=r"global pax header at byte 0"):
        unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))


def test_the_crafted_bundle_is_fine_without_hostile_members(tmp_path):
    """The control for the hostile cases: the same construction without them unpacks."""
    img = crafted_bundle(tmp_path / "bundle", lambda m: m)
    with pytest.raises(BundleError, match="no index.json"):  # our own packer always ends with one
        unpack(str(tmp_path / "bundle"), str(tmp_path / "out"))
    img2 = crafted_bundle(tmp_path / "bundle2", lambda m: m + [(
        _info("index.json", len(_index(img))), _index(img))])
    assert img2.digest == img.digest
    report = unpack(str(tmp_path / "bundle2"), str(tmp_path / "out2"))
    assert refs(tmp_path / "out2") == {"good": img.digest} and report["blobs_written"] == len(img.blobs())


def test_blobs_over_8_gib_get_a_pax_size_record_that_the_reader_honours(tmp_path):
    """ustar's size field ends at 8 GiB - 1; the packer's header then carries a pax ``size``
    record (and the plan counts its extra blocks), and the unpacker's own header reader uses it."""
    size = 9 * 1024 ** 3 + 123
    header = tar_header("blobs/sha256/" + "a" * 64, size)
    assert len(header) == 3 * 512 and b"size=%d" % size in header
    (tmp_path / "t.tar.0001").write_bytes(header)
    reader = PartsReader(str(tmp_path), [{"name": "t.tar.0001", "size": len(header), "sha256": sha(header)}])
    member = TarStream(reader).next()
    assert member.name == "blobs/sha256/" + "a" * 64 and member.size == size and member.isreg()
    assert member.offset == 0 and member.offset_data == 3 * 512
