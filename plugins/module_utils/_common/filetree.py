# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The digest of a directory tree: what a served copy of it is named by.

A role that copies a directory to a host (``airgap.mirror.file_server``) names the copy by this
digest, so a second run sees that the host already has the same content without comparing each
file again, and a change of any file, name or directory makes a new copy. Symbolic links are
followed, as ``ansible.builtin.copy`` (``local_follow``) follows them when it copies the tree; a
link that points to an ancestor (a loop) or nowhere is an error naming it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

from .errors import UserError

_CHUNK = 1 << 20


class FileTreeError(UserError, ValueError):
    """A directory that cannot be read as a tree of files."""


@dataclass(frozen=True)
class TreeSummary:
    """``digest`` (``sha256:<hex>``) of the tree; ``files``, ``dirs`` (below the root), ``bytes``."""

    digest: str
    files: int
    dirs: int
    bytes: int

    @property
    def release(self) -> str:
        """A short name of the content (the digest's first 16 hex digits)."""
        return self.digest.split(":", 1)[1][:16]

    def to_dict(self) -> dict[str, object]:
        return {"digest": self.digest, "release": self.release, "files": self.files, "dirs": self.dirs,
                "bytes": self.bytes}


def _file_digest(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def tree_digest(root: str) -> TreeSummary:
    """Walk *root* (sorted, links followed) and hash every relative path with its content.

    Each entry adds one line to the hash: ``d <path>`` for a directory, ``f <sha256> <size> <path>``
    for a file (paths relative to *root*, ``/``-separated, UTF-8 with surrogate escapes).
    """
    if not os.path.isdir(root):
        raise FileTreeError("%s is not a directory" % root)
    outer = hashlib.sha256()
    counts = [0, 0, 0]  # files, dirs, bytes
    seen: set[tuple[int, int]] = set()

    def visit(directory: str, rel: str) -> None:
        here = os.stat(directory)
        key = (here.st_dev, here.st_ino)
        if key in seen:
            raise FileTreeError("%s: a symbolic link loop (the directory is its own ancestor)" % directory)
        seen.add(key)
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise FileTreeError("cannot read the directory %s: %s" % (directory, exc.strerror)) from None
        for name in names:
            path = os.path.join(directory, name)
            relpath = rel + name
            try:
                st = os.stat(path)
            except OSError as exc:
                raise FileTreeError("%s: %s (a broken symbolic link?)" % (path, exc.strerror)) from None
            label = relpath.encode("utf-8", "surrogateescape")
            if stat.S_ISDIR(st.st_mode):
                outer.update(b"d " + label + b"\n")
                counts[1] += 1
                visit(path, relpath + "/")
            elif stat.S_ISREG(st.st_mode):
                try:
                    hexdigest, size = _file_digest(path)
                except OSError as exc:
                    raise FileTreeError("cannot read %s: %s" % (path, exc.strerror)) from None
                outer.update(b"f %s %d %s\n" % (hexdigest.encode(), size, label))
                counts[0] += 1
                counts[2] += size
            else:
                raise FileTreeError("%s is neither a file nor a directory (a device, socket or pipe)" % path)
        seen.discard(key)  # only ancestors count: the same directory linked twice is no loop

    visit(root, "")
    return TreeSummary("sha256:" + outer.hexdigest(), counts[0], counts[1], counts[2])
