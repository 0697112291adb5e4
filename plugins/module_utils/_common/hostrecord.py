# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A record, kept on a host, of the directories and files a role had to create there.

A role that writes configuration into directories that may not exist records, *before* it creates
anything, which of those directories (and which files) are missing; ``state=absent`` then removes
exactly those, and only when they are empty, so that nothing that was there before goes. The record
is a small JSON file::

    {"created_dirs": [...], "created_files": [...], "format": "airgap.mirror/<role>/v1"}

Pure logic plus file access through :mod:`fileio`; no Ansible imports (the module
``airgap.mirror.host_record`` is the edge).
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import fileio
from .errors import UserError

DEFAULT_FORMAT = "airgap.mirror/host_record/v1"
RECORD_MODE = 0o644
DIRECTORY_MODE = 0o755


class HostRecordError(UserError, ValueError):
    """A record that cannot be read, or a path that is not absolute."""


@dataclass(frozen=True)
class Record:
    """What a role created on a host: sorted, unique absolute paths."""

    format: str
    created_dirs: tuple[str, ...] = ()
    created_files: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"format": self.format, "created_dirs": list(self.created_dirs),
                "created_files": list(self.created_files)}

    def dumps(self) -> str:
        """The file's text (sorted keys, two-space indent, final newline)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def same_paths(self, other: Record) -> bool:
        return (self.created_dirs, self.created_files) == (other.created_dirs, other.created_files)

    @property
    def empty(self) -> bool:
        return not self.created_dirs and not self.created_files


def check_absolute(paths: Iterable[str], what: str) -> list[str]:
    """*paths*, each an absolute path, normalised (``/a/./b/`` is ``/a/b``)."""
    out = []
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise HostRecordError("%s: %r is not an absolute path" % (what, path))
        out.append(posixpath.normpath(path).replace("//", "/"))
    return out


def ancestors(paths: Iterable[str]) -> list[str]:
    """Every directory from ``/`` down to each absolute path, each once, shallowest first.

    ``['/etc/crio', '/etc/containers/certs.d/m:5000']`` gives ``['/etc', '/etc/containers',
    '/etc/crio', '/etc/containers/certs.d', '/etc/containers/certs.d/m:5000']``.
    """
    found: set[str] = set()
    for path in check_absolute(paths, "ancestors"):
        parts = [p for p in path.split("/") if p]
        for end in range(1, len(parts) + 1):
            found.add("/" + "/".join(parts[:end]))
    return sorted(found, key=lambda p: (p.count("/"), p))


def _paths(value: object, key: str, origin: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(p, str) and p.startswith("/") for p in value):
        raise HostRecordError("%s is not a record written by this role; move it away (%s is not a list of "
                              "absolute paths)" % (origin, key))
    return tuple(sorted(set(value)))


def parse(text: str | bytes, fmt: str, origin: str) -> Record:
    """The record in *text*; one without ``format`` is taken as *fmt* (the earliest records)."""
    bad = "%s is not a record written by this role; move it away" % origin
    try:
        data = json.loads(text)
    except ValueError:
        raise HostRecordError(bad + " (not JSON)") from None
    if not isinstance(data, dict) or "created_dirs" not in data or "created_files" not in data:
        raise HostRecordError(bad)
    if data.get("format", fmt) != fmt:
        raise HostRecordError("%s (its format is %r, not %r)" % (bad, data.get("format"), fmt))
    return Record(fmt, _paths(data["created_dirs"], "created_dirs", origin),
                  _paths(data["created_files"], "created_files", origin))


def read(path: str, fmt: str) -> Record | None:
    """The record at *path*, or None when there is none."""
    try:
        data = fileio.read_bytes(path)
    except IsADirectoryError:
        raise HostRecordError("%s is not a record written by this role; move it away (a directory)"
                              % path) from None
    return None if data is None else parse(data, fmt, path)


def missing(dirs: Iterable[str], files: Iterable[str],
            exists: Callable[[str], bool] = os.path.exists) -> list[str]:
    """The directories of ``ancestors(dirs)`` and the *files* that do not exist, in that order."""
    return ([d for d in ancestors(dirs) if not exists(d)]
            + [f for f in check_absolute(files, "files") if not exists(f)])


def plan_present(old: Record | None, fmt: str, path: str, dirs: Iterable[str], files: Iterable[str],
                 exists: Callable[[str], bool] = os.path.exists) -> Record:
    """The record after a run that is about to create *dirs* (and their parents) and *files*.

    What is missing now joins what the record already holds; the directories of the record itself
    (*path*) that are missing join too, unless the record would stay empty (then it is not written).
    """
    old = old or Record(fmt)
    new_dirs = [d for d in ancestors(dirs) if not exists(d)]
    new_files = [f for f in check_absolute(files, "files") if not exists(f)]
    created_files = sorted(set(old.created_files) | set(new_files))
    created_dirs = set(old.created_dirs) | set(new_dirs)
    if created_dirs or created_files:
        created_dirs |= {d for d in ancestors([posixpath.dirname(path)]) if not exists(d)}
    return Record(fmt, tuple(sorted(created_dirs)), tuple(created_files))


def write(path: str, record: Record) -> list[str]:
    """Write *record* to *path* atomically (mode 0644), creating its directories (0755) first;
    return the directories created."""
    created = fileio.ensure_directory(os.path.dirname(path), DIRECTORY_MODE)
    fileio.atomic_write(path, record.dumps().encode("utf-8"), RECORD_MODE)
    return created


def _is_empty(directory: str, gone: set[str]) -> bool:
    try:
        entries = os.listdir(directory)
    except OSError:
        return False
    return all(os.path.join(directory, entry) in gone for entry in entries)


def removable_dirs(record: Record, gone: Iterable[str]) -> list[str]:
    """The directories of *record* that removing them, deepest first, would remove: those that are
    empty once the paths of *gone* (removed by this run, or that check mode says it would remove)
    and the directories before them are gone. Reads the host; changes nothing."""
    gone_set = set(check_absolute(gone, "removed_paths"))
    out = []
    for directory in sorted(record.created_dirs, reverse=True):
        if os.path.isdir(directory) and not os.path.islink(directory) and _is_empty(directory, gone_set):
            gone_set.add(directory)
            out.append(directory)
    return out


def remove_dirs(record: Record) -> list[str]:
    """Remove the directories of *record* that are empty, deepest first; return the ones removed.
    A directory something else has put files into since stays."""
    out = []
    for directory in sorted(record.created_dirs, reverse=True):
        if not os.path.isdir(directory) or os.path.islink(directory):
            continue
        try:
            os.rmdir(directory)
        except OSError:
            continue
        out.append(directory)
    return out


def remove_file(path: str) -> bool:
    """Remove the record file; True when there was one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fileio.fsync_dir(os.path.dirname(path))
    return True
