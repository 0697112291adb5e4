# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The bundle's tar stream: the headers a pack writes, and a reader that parses headers one by
one from the parts and checks every member before anything of it is written (nothing is ever
extracted with ``tarfile``)."""

from __future__ import annotations

import posixpath
import re
import tarfile
from collections.abc import Iterator
from typing import Any, Protocol

from .._oci import reference as _ref
from .errors import BundleError
from .names import CHUNK

BLOCK = 512
RECORD = 20 * BLOCK

_BLOB_PATH = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]+)$")
_LAYOUT_DIRS = frozenset(("blobs", "blobs/sha256", "blobs/sha512"))
_META_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
               tarfile.SOLARIS_XHDTYPE)
_META_LIMIT = 1024 * 1024


class StreamReader(Protocol):
    """What the tar reader needs from the parts: a byte stream and its position."""

    position: int

    def read(self, size: int = -1) -> bytes:
        ...

    def read_exact(self, size: int) -> bytes:
        ...


def tar_header(name: str, size: int) -> bytes:
    """The deterministic header of a regular file (mtime 0, uid/gid 0, mode 0644, pax format)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> int:
    """Zero bytes after a member of *size* bytes (to a whole block)."""
    return (BLOCK - size % BLOCK) % BLOCK


def normalize_member(member: Any, seen: set[str]) -> tuple[str, str]:
    """The member's path inside the layout and its kind, after the safety checks (raises)."""
    raw = member.name
    label = "tar member %r" % raw
    if not raw or "\x00" in raw:
        raise BundleError("%s: empty or invalid name" % label, member=raw)
    if raw.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", raw):
        raise BundleError("%s: absolute path (a bundle holds only paths inside the layout)" % label, member=raw)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BundleError("%s: path with '..' escapes the layout" % label, member=raw)
    if not parts:
        raise BundleError("%s: empty path" % label, member=raw)
    path = "/".join(parts)
    if path in seen:
        raise BundleError("%s: duplicate entry (%s appears twice in the bundle)" % (label, path), member=raw)
    seen.add(path)
    if member.issym() or member.islnk():
        target = member.linkname or ""
        if member.issym():
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        else:
            resolved = posixpath.normpath(target)
        kind = "symbolic link" if member.issym() else "hard link"
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise BundleError("%s: %s to %r escapes the layout" % (label, kind, target), member=raw)
        raise BundleError("%s: %s to %r (a bundle holds only regular files)" % (label, kind, target), member=raw)
    if member.ischr() or member.isblk():
        raise BundleError("%s: device file (a bundle holds only regular files)" % label, member=raw)
    if member.isfifo():
        raise BundleError("%s: FIFO (a bundle holds only regular files)" % label, member=raw)
    if member.isdir():
        if path in _LAYOUT_DIRS:
            return path, "dir"
        raise BundleError("%s: unexpected directory (a bundle holds only oci-layout, index.json and "
                          "blobs/<algorithm>/<hex>)" % label, member=raw)
    if not member.isreg() or member.issparse():
        raise BundleError("%s: unsupported entry type %r" % (label, member.type), member=raw)
    if path in ("oci-layout", "index.json"):
        return path, path
    match = _BLOB_PATH.match(path)
    if match:
        try:
            _ref.validate_digest("%s:%s" % match.groups())
        except ValueError:
            pass
        else:
            return path, "blob"
    raise BundleError("%s: unexpected file (a bundle holds only oci-layout, index.json and blobs/<algorithm>/<hex>)"
                      % label, member=raw)


def _parse_pax(data: bytes, where: int) -> dict[str, Any]:
    """The ``path``, ``linkpath`` and ``size`` records of a pax extended header."""
    out: dict[str, Any] = {}
    pos = 0
    while pos < len(data):
        if not data[pos:].strip(b"\0"):
            break
        space = data.find(b" ", pos)
        record_length = data[pos:space] if space > pos else b""
        if not record_length.isdigit():
            raise BundleError("malformed pax header at byte %d" % where)
        length = int(record_length)
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1:end] != b"\n":
            raise BundleError("malformed pax header at byte %d" % where)
        key, sep, value = data[space + 1:end - 1].partition(b"=")
        if not sep:
            raise BundleError("malformed pax header at byte %d" % where)
        if key in (b"path", b"linkpath"):
            out[key.decode()] = value.decode("utf-8", "surrogateescape")
        elif key == b"size":
            if not value.isdigit():
                raise BundleError("pax header at byte %d: invalid size %r" % (where, value))
            out["size"] = int(value)
        elif key.startswith(b"GNU.sparse"):
            raise BundleError("pax header at byte %d: sparse files are not allowed in a bundle" % where)
        pos = end
    return out


class TarStream:
    """Tar headers read one by one from the parts (ustar and GNU headers through
    ``tarfile.TarInfo.frombuf``; GNU long names and pax ``path``/``linkpath``/``size`` records
    applied here). Nothing is extracted: member data is handed to the caller in chunks."""

    def __init__(self, reader: StreamReader) -> None:
        self.reader = reader
        self.member: Any = None
        self.remaining = 0
        self.pad = 0

    def _exact(self, size: int, what: str) -> bytes:
        data = self.reader.read_exact(size)
        if len(data) != size:
            raise BundleError("the tar stream ends inside %s" % what)
        return data

    def skip_rest(self) -> None:
        while self.remaining:
            data = self.reader.read(min(self.remaining, CHUNK * 4))
            if not data:
                raise BundleError("the tar stream ends inside tar member %r (%d bytes missing)"
                                  % (self.member.name, self.remaining), member=self.member.name)
            self.remaining -= len(data)
        if self.pad:
            self._exact(self.pad, "the padding of tar member %r" % self.member.name)
            self.pad = 0

    def next(self) -> Any:
        """The next member (a ``tarfile.TarInfo`` with ``offset``/``offset_data``), None at the end."""
        if self.member is not None:
            self.skip_rest()
        long_name = long_link = None
        pax: dict[str, Any] = {}
        start = self.reader.position  # the member starts at its first (extension) header
        while True:
            offset = self.reader.position
            block = self.reader.read_exact(BLOCK)
            if len(block) != BLOCK:
                raise BundleError("the tar stream ends %s (no end-of-archive blocks)"
                                  % ("inside a header" if block else "early"))
            if block.count(0) == BLOCK:
                self.member = None
                return None
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise BundleError("invalid tar header at byte %d of the stream: %s" % (offset, exc)) from None
            if info.type in _META_TYPES:
                if info.type == tarfile.XGLTYPE:
                    raise BundleError("global pax header at byte %d (a bundle never has one)" % offset)
                if info.size > _META_LIMIT:
                    raise BundleError("tar header at byte %d announces %d bytes of names or records"
                                      % (offset, info.size))
                data = self._exact(info.size + padding(info.size), "a header")[:info.size]
                if info.type == tarfile.GNUTYPE_LONGNAME:
                    long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                elif info.type == tarfile.GNUTYPE_LONGLINK:
                    long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                else:
                    pax.update(_parse_pax(data, offset))
                continue
            return self._start(info, pax, long_name, long_link, start)

    def _start(self, info: Any, pax: dict[str, Any], long_name: str | None, long_link: str | None,
               start: int) -> Any:
        if "path" in pax:
            info.name = pax["path"]
        elif long_name is not None:
            info.name = long_name
        if "linkpath" in pax:
            info.linkname = pax["linkpath"]
        elif long_link is not None:
            info.linkname = long_link
        if "size" in pax:
            info.size = pax["size"]
        info.offset = start
        info.offset_data = self.reader.position
        has_data = info.type in tarfile.REGULAR_TYPES or info.type not in tarfile.SUPPORTED_TYPES
        self.remaining = info.size if has_data else 0
        self.pad = padding(self.remaining)
        self.member = info
        return info

    def chunks(self, offset: int = 0) -> Iterator[bytes]:
        """The current member's data from *offset*, in chunks of at most 1 MiB."""
        skip = offset
        while self.remaining:
            data = self.reader.read(min(self.remaining, CHUNK))
            if not data:
                raise BundleError("the tar stream ends inside tar member %r (%d bytes missing)"
                                  % (self.member.name, self.remaining), member=self.member.name)
            self.remaining -= len(data)
            if skip:
                if len(data) <= skip:
                    skip -= len(data)
                    continue
                data = data[skip:]
                skip = 0
            yield data

    def read_all(self, limit: int) -> bytes:
        member = self.member
        if member.size > limit:
            raise BundleError("tar member %r is %d bytes, more than the %d expected"
                              % (member.name, member.size, limit), member=member.name)
        return b"".join(self.chunks())
