# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Atomic file replacement, shared by every module that writes a file on a host.

``atomic_write`` never leaves a half-written file behind: the new content goes to a temporary file
in the same directory (so the final rename cannot cross a file system), is flushed and fsynced,
gets its final mode (and the owner/group of the file it replaces) *before* the rename, and then
replaces the target with ``os.replace``, which is atomic on POSIX. The directory is fsynced
afterwards so the rename itself survives a power cut. If anything fails, the temporary file is
removed and the original file is untouched.

No Ansible imports: modules and plugins convert the ``OSError`` raised here at their edge.
"""

from __future__ import annotations

import errno
import os
import tempfile


def read_bytes(path: str) -> bytes | None:
    """The content of *path*, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def file_mode(path: str) -> int | None:
    """Permission bits of *path* (follows symlinks), or None when it does not exist."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None


def missing_directories(directory: str) -> list[str]:
    """The directories that ``ensure_directory(directory)`` would create, outermost first."""
    missing: list[str] = []
    current = os.path.abspath(directory)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return list(reversed(missing))


def ensure_directory(directory: str, mode: int) -> list[str]:
    """Create *directory* and its missing parents with *mode*; return the ones created."""
    created: list[str] = []
    for path in missing_directories(directory):
        os.mkdir(path, mode)
        # mkdir's mode is filtered through the umask; the caller asked for exactly this mode
        os.chmod(path, mode)
        created.append(path)
    return created


def resolve_target(path: str) -> str:
    """The file that writing *path* replaces: the final target when *path* is a symlink."""
    return os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)


def fsync_dir(directory: str) -> None:
    """fsync a directory so a rename or creation in it survives a power cut (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a directory; the data is already safe
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, mode: int, media: bool = False) -> str:
    """Replace *path* with *data* (bytes) atomically; the file ends up with *mode*.

    An existing file keeps its owner and group; if they cannot be kept (not permitted), nothing is
    replaced and ``PermissionError`` is raised. A symlink at *path* is followed: its target is
    replaced and the link stays. Returns the path of the file that was written.

    *media*: the file may live on removable media (FAT/exFAT), which keeps neither owners nor
    modes: the owner is left as it comes and a refused chmod is not an error. Never for secrets.
    """
    if not isinstance(data, bytes):
        raise TypeError("atomic_write needs bytes, not %s" % type(data).__name__)
    target = resolve_target(path)
    directory = os.path.dirname(target)
    try:
        current = os.stat(target)
    except FileNotFoundError:
        current = None

    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if current is not None and not media:
                written = os.fstat(handle.fileno())
                if (written.st_uid, written.st_gid) != (current.st_uid, current.st_gid):
                    try:
                        os.fchown(handle.fileno(), current.st_uid, current.st_gid)
                    except PermissionError as exc:
                        raise PermissionError(
                            errno.EPERM,
                            "cannot keep owner %d:%d of %s (not permitted); the file was not replaced"
                            % (current.st_uid, current.st_gid, target),
                        ) from exc
            # after chown: chown may clear set-id bits, and the final mode must be exact
            try:
                os.fchmod(handle.fileno(), mode)
            except OSError:
                if not media:
                    raise
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(directory)
    return target


def set_mode(path: str, mode: int) -> bool:
    """chmod *path* to *mode* if it differs; return True when it changed."""
    if file_mode(path) == mode:
        return False
    os.chmod(path, mode)
    return True
