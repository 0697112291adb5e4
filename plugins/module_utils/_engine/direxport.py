# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Skopeo ``dir:`` exports as a source, and file contents read in chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO

from .._oci.errors import LayoutError, NotFound

READ_CHUNK = 1024 * 1024


class FileChunks:
    """The bytes of a file from *offset* on, in chunks; closable while being read."""

    def __init__(self, path: str, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._handle: IO[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as handle:
            self._handle = handle
            handle.seek(self.offset)
            while True:
                chunk = handle.read(READ_CHUNK)
                if not chunk:
                    break
                yield chunk

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class DirExport:
    """A skopeo ``dir:`` export of one image: ``manifest.json`` (top level), ``<hex>.manifest.json``
    per child of an index, blobs named by their bare hex digest, and ``version``."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        if not os.path.isfile(os.path.join(self.path, "manifest.json")):
            raise LayoutError("%s is not a skopeo dir: export (no manifest.json)" % self.path)
        version = os.path.join(self.path, "version")
        if os.path.exists(version):
            with open(version, "r", encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            if not text.startswith("Directory Transport Version: 1."):
                raise LayoutError("%s: unsupported dir: transport version %r" % (self.path, text.strip()))

    def _file_for(self, digest: str) -> str:
        algo, hexpart = digest.split(":", 1)
        return os.path.join(self.path, hexpart if algo == "sha256" else "%s-%s" % (algo, hexpart))

    def top_manifest(self) -> bytes:
        with open(os.path.join(self.path, "manifest.json"), "rb") as handle:
            return handle.read()

    def read_manifest(self, digest: str, top_digest: str | None) -> bytes:
        if digest == top_digest:
            return self.top_manifest()
        algo, hexpart = digest.split(":", 1)
        name = "%s.manifest.json" % (hexpart if algo == "sha256" else "%s-%s" % (algo, hexpart))
        try:
            with open(os.path.join(self.path, name), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise NotFound("manifest %s is not in the dir: export %s" % (digest, self.path)) from None

    def has_blob(self, digest: str) -> bool:
        return os.path.exists(self._file_for(digest))

    def open_blob(self, digest: str, offset: int = 0) -> FileChunks:
        path = self._file_for(digest)
        if not os.path.exists(path):
            raise NotFound("blob %s is not in the dir: export %s" % (digest, self.path))
        return FileChunks(path, offset)


def find_dir_exports(root: str) -> dict[str, str]:
    """{relative path: absolute path} of every dir: export under *root* (the seed's tree of
    ``<repository path>@sha256:…`` / ``<repository path>:tag`` directories)."""
    root = os.path.abspath(root)
    found: dict[str, str] = {}
    for current, dirs, files in os.walk(root):
        dirs.sort()
        if "manifest.json" in files:
            found[os.path.relpath(current, root)] = current
            dirs[:] = []
    return found
