# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The part files of a bundle: cut while writing, checked by size and sha256, read back as one stream."""

from __future__ import annotations

import bisect
import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from typing import IO, Any, NoReturn

from .._common.fileio import fsync_dir
from .._common.sizes import human_size
from .errors import BundleError, Progress, os_error, problem
from .names import CHUNK, bundle_files, manifest_file_name, signature_file_name, sums_file_name, temp_pattern


class PartWriter:
    """Cuts one byte stream into parts: temp file, sha256 while writing, fsync, rename."""

    def __init__(self, directory: str, names: list[str], part_size: int, progress: Progress | None = None) -> None:
        self.directory = directory
        self.names = names
        self.part_size = part_size
        self.progress = progress
        self.done: list[tuple[str, int, str]] = []
        self.total = 0
        self._index = 0
        self._handle: IO[bytes] | None = None
        self._tmp: str | None = None
        self._hasher = hashlib.sha256()
        self._written = 0

    def _open(self) -> IO[bytes]:
        if self._index >= len(self.names):
            raise BundleError("the tar stream is longer than planned (%d parts); the layout changed while packing"
                              % len(self.names))
        name = self.names[self._index]
        try:
            fd, self._tmp = tempfile.mkstemp(prefix="." + name + ".", suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise BundleError(os_error(exc, "creating part %s in %s" % (name, self.directory)), part=name) from None
        self._handle = os.fdopen(fd, "wb", buffering=CHUNK)
        self._hasher = hashlib.sha256()
        self._written = 0
        return self._handle

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while len(view):
            handle = self._handle if self._handle is not None else self._open()
            room = self.part_size - self._written
            piece = view[:room]
            try:
                handle.write(piece)
            except OSError as exc:
                self._fail(exc)
            self._hasher.update(piece)
            self._written += len(piece)
            self.total += len(piece)
            view = view[len(piece):]
            if self._written == self.part_size:
                self._finish()

    def _fail(self, exc: OSError) -> NoReturn:
        name = self.names[self._index]
        self.abort()
        raise BundleError("%s (%s of the bundle written in %d complete part(s)); the bundle is incomplete and has "
                          "no manifest" % (os_error(exc, "writing part %s to %s" % (name, self.directory)),
                                           human_size(self.total), len(self.done)), part=name) from None

    def _finish(self) -> None:
        name = self.names[self._index]
        handle, tmp = self._handle, self._tmp
        if handle is None or tmp is None:
            raise AssertionError('bug: expected handle is not None and tmp is not None')
        try:
            handle.flush()
            os.fsync(handle.fileno())
            with contextlib.suppress(OSError):
                os.fchmod(handle.fileno(), 0o644)
            handle.close()
            self._handle = None
            os.replace(tmp, os.path.join(self.directory, name))
        except OSError as exc:
            self._fail(exc)
        self._tmp = None
        fsync_dir(self.directory)
        self.done.append((name, self._written, self._hasher.hexdigest()))
        if self.progress:
            self.progress("part_written", {"part": name, "bytes": self._written, "total": self.total})
        self._index += 1

    def close(self) -> list[tuple[str, int, str]]:
        if self._handle is not None:
            self._finish()
        return self.done

    def abort(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        if self._tmp:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None


class PartsReader:
    """Reads the parts as one stream, checking each part's size and sha256 as it is crossed."""

    def __init__(self, bundle_dir: str, parts: list[dict[str, Any]], progress: Progress | None = None) -> None:
        self.bundle_dir = bundle_dir
        self.parts = parts
        self.progress = progress
        self.starts: list[int] = []
        offset = 0
        for part in parts:
            self.starts.append(offset)
            offset += part["size"]
        self.size = offset
        self.problems: list[dict[str, Any]] = []
        self.position = 0
        self._index = -1
        self._handle: IO[bytes] | None = None
        self._hasher = hashlib.sha256()
        self._read = 0

    def part_at(self, offset: int) -> str:
        index = max(0, bisect.bisect_right(self.starts, offset) - 1)
        return str(self.parts[min(index, len(self.parts) - 1)]["name"])

    def parts_between(self, start: int, end: int) -> list[str]:
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_right(self.starts, max(start, end - 1)) - 1
        return [p["name"] for p in self.parts[max(first, 0):max(last, 0) + 1]]

    def _next_part(self) -> IO[bytes] | None:
        self._index += 1
        if self._index >= len(self.parts):
            return None
        part = self.parts[self._index]
        path = os.path.join(self.bundle_dir, part["name"])
        try:
            self._handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb", buffering=0)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                found = symlink_problem(part["name"], path)
                raise BundleError(found["message"], part=part["name"], problems=[found]) from None
            raise BundleError("%s: cannot be opened: %s" % (part["name"], exc.strerror), part=part["name"]) from None
        self._hasher = hashlib.sha256()
        self._read = 0
        return self._handle

    def _close_part(self, handle: IO[bytes]) -> None:
        part = self.parts[self._index]
        handle.close()
        self._handle = None
        if self._read != part["size"]:
            kind = "truncated" if self._read < part["size"] else "too_long"
            self.problems.append(problem(part["name"], kind, "%d bytes read, the manifest says %d"
                                         % (self._read, part["size"])))
        elif self._hasher.hexdigest() != part["sha256"]:
            self.problems.append(problem(part["name"], "corrupted", "corrupted: its sha256 is %s, the manifest "
                                         "says %s" % (self._hasher.hexdigest(), part["sha256"])))
        if self.progress:
            self.progress("part_read", {"part": part["name"], "bytes": self._read})

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = CHUNK
        while True:
            handle = self._handle if self._handle is not None else self._next_part()
            if handle is None:
                return b""
            part = self.parts[self._index]
            try:
                data = handle.read(min(size, CHUNK * 4))
            except OSError as exc:
                raise BundleError("%s: read error: %s" % (part["name"], exc.strerror), part=part["name"]) from None
            if not data:
                self._close_part(handle)
                continue
            self._hasher.update(data)
            self._read += len(data)
            self.position += len(data)
            return data

    def read_exact(self, size: int) -> bytes:
        """*size* bytes, fewer only at the end of the last part."""
        chunks = []
        got = 0
        while got < size:
            data = self.read(size - got)
            if not data:
                break
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def drain(self) -> None:
        try:
            while self.read(CHUNK * 4):
                pass
        except BundleError as exc:
            self.problems.append(problem(exc.part or "?", "unreadable", exc.message))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def sha256_file(path: str, progress: Progress | None = None, part: str | None = None) -> tuple[str, int]:
    """(sha256 hex, size) of the file at *path*, read in 1 MiB chunks."""
    hasher = hashlib.sha256()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as handle:
        while True:
            n = handle.readinto(buf)
            if not n:
                break
            hasher.update(view[:n])
            size += n
    if progress:
        progress("part_checked", {"part": part, "bytes": size})
    return hasher.hexdigest(), size


def symlink_problem(name: str, path: str) -> dict[str, str]:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return problem(name, "symlink", "a symbolic link (to %r), not the part itself: copy the file, not the link"
                   % target)


def check_parts(bundle_dir: str, doc: dict[str, Any], full: bool = True,
                progress: Progress | None = None) -> list[dict[str, str]]:
    """Problems of the listed parts: missing, a symbolic link (never followed), not a file,
    truncated, too long, corrupted (sha256, when *full*)."""
    problems = []
    for part in doc["parts"]:
        name = part["name"]
        path = os.path.join(bundle_dir, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            problems.append(problem(name, "missing", "missing (the manifest lists it with %d bytes)" % part["size"]))
            continue
        if stat.S_ISLNK(st.st_mode):
            problems.append(symlink_problem(name, path))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(problem(name, "not_a_file", "not a regular file"))
            continue
        if st.st_size < part["size"]:
            problems.append(problem(name, "truncated", "truncated: %d of %d bytes" % (st.st_size, part["size"])))
            continue
        if st.st_size > part["size"]:
            problems.append(problem(name, "too_long", "%d bytes, the manifest says %d" % (st.st_size, part["size"])))
            continue
        if full:
            try:
                actual, _size = sha256_file(path, progress, name)
            except OSError as exc:
                problems.append(problem(name, "unreadable", "cannot be read: %s" % exc.strerror))
                continue
            if actual != part["sha256"]:
                problems.append(problem(name, "corrupted", "corrupted: its sha256 is %s, the manifest says %s"
                                        % (actual, part["sha256"])))
    return problems


def extra_files(bundle_dir: str, doc: dict[str, Any]) -> list[dict[str, str]]:
    """Files of the bundle's name that its manifest does not list. They are never read, so they do
    not make the bundle invalid; verify and unpack name them alike (a ``cat NAME.tar.*`` by hand
    would include them)."""
    listed = set(p["name"] for p in doc["parts"])
    manifest = manifest_file_name(doc["name"])
    problems = []
    for entry in sorted(bundle_files(bundle_dir, doc["name"])):
        if entry in listed or entry in (manifest, sums_file_name(doc["name"]), signature_file_name(doc["name"])):
            continue
        if temp_pattern(doc["name"]).match(entry):
            what = "extra file: a temporary file left by an interrupted pack"
        else:
            what = "extra part: not listed in %s (left over from another bundle of the same name?)" % manifest
        problems.append(problem(entry, "extra", "%s; not read, the bundle does not need it: delete it (a "
                                "'cat %s.tar.*' by hand would read it)" % (what, doc["name"])))
    return problems
