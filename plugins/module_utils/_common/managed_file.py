# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The file transaction of every module that writes a configuration file.

read the current state (:meth:`ManagedFile.read`) -> compare -> diff (:func:`diff`, the path as
header) -> check mode -> create missing directories -> atomic write or chmod (:meth:`ManagedFile.apply`)
or remove (:meth:`ManagedFile.remove`). The writes go through :func:`fileio.atomic_write`; secret
files are written with mode 0600 by their callers' *mode*.

No Ansible imports: callers turn :class:`ManagedFileError` and ``OSError`` into ``fail_json``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from . import fileio
from .errors import UserError


class ManagedFileError(UserError):
    """A file that cannot be managed as asked (a missing directory without create_dirs...)."""


@dataclasses.dataclass
class ManagedFile:
    """A file as it is now: *path* as the user gave it (headers, messages), *target* the file
    written (a symlink's target), its bytes and mode (None when it does not exist)."""

    path: str
    target: str
    raw: bytes | None
    mode: int | None

    @classmethod
    def read(cls, path: str) -> ManagedFile:
        target = fileio.resolve_target(path)
        return cls(path, target, fileio.read_bytes(target), fileio.file_mode(target))

    @property
    def exists(self) -> bool:
        return self.raw is not None

    @property
    def text(self) -> str | None:
        """The content as text (invalid UTF-8 replaced), or None when the file does not exist."""
        if self.raw is None:
            return None
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return self.raw.decode("utf-8", "replace")

    def missing_directories(self, create_dirs: bool) -> list[str]:
        """The directories a write would create; ManagedFileError when there are some and
        *create_dirs* is false."""
        missing = fileio.missing_directories(os.path.dirname(self.target))
        if missing and not create_dirs:
            raise ManagedFileError("%s: directory %s does not exist (set create_dirs=true to create it)"
                                   % (self.path, missing[0]))
        return missing

    def apply(self, data: bytes | None, mode: int, check_mode: bool, dir_mode: int = 0o755,
              missing: list[str] | None = None) -> None:
        """Write *data* (None: content unchanged, only bring the file to *mode*), creating the
        *missing* directories with *dir_mode* first. Nothing happens in check mode."""
        if check_mode:
            return
        if missing:
            fileio.ensure_directory(os.path.dirname(self.target), dir_mode)
        if data is not None:
            fileio.atomic_write(self.target, data, mode)
        else:
            fileio.set_mode(self.target, mode)

    def remove(self, check_mode: bool) -> None:
        """Delete the file (not in check mode)."""
        if not check_mode:
            os.unlink(self.target)


def diff(before: Any, after: Any, before_header: str, after_header: str | None = None) -> dict[str, Any]:
    """Ansible's diff dict; *after_header* defaults to *before_header* (the path)."""
    return dict(before=before, after=after, before_header=before_header,
                after_header=before_header if after_header is None else after_header)
