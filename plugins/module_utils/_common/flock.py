# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Advisory locks between processes: ``flock(2)`` on a lock file.

The lock is the kernel's ``flock``, never the file's existence: a process that is killed (``kill -9``,
the OOM killer, a cancelled AWX job) drops its lock with its last file descriptor, and a lock file it
leaves behind blocks nobody. A holder may remove the file when it lets go, so that no lock file stays
behind; a process that opened the old file and locks it afterwards notices that the path no longer
names the file it locked (a different or no inode) and starts again with the new one, so two holders
of "the same" lock can never hold different files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from typing import Iterator

#: flock is not available on this file system (some FUSE and network file systems)
_UNSUPPORTED = frozenset((errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL))
#: the lock file cannot be created here (read-only media, no write permission, media filled to the brim)
_CANNOT_CREATE = frozenset((errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT))
_ATTEMPTS = 20


class LockBusy(Exception):
    """Another process holds the lock (only with ``wait=False``)."""

    def __init__(self, path: str) -> None:
        super().__init__("%s is locked by another process" % path)
        self.path = path


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _acquire(path: str, exclusive: bool, wait: bool, optional: bool, makedirs: bool) -> int | None:
    """The locked file's descriptor; None when *optional* and the file system cannot lock here."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    if not wait:
        mode |= fcntl.LOCK_NB
    for _attempt in range(_ATTEMPTS):
        try:
            if makedirs:
                os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except FileNotFoundError:
            if makedirs:  # the directory was removed under us: make it again
                continue
            raise
        except OSError as exc:
            if optional and exc.errno in _CANNOT_CREATE:
                return None
            raise
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            os.close(fd)
            raise LockBusy(path) from None
        except OSError as exc:
            os.close(fd)
            if optional and exc.errno in _UNSUPPORTED:
                return None
            raise
        if _same_file(fd, path):
            return fd
        os.close(fd)  # the holder before us removed the file: lock the one that is there now
    raise OSError(errno.EAGAIN, "could not lock %s: it was replaced %d times in a row" % (path, _ATTEMPTS))


def _release(fd: int, path: str, exclusive: bool, remove: bool) -> None:
    try:
        if remove:
            if not exclusive:  # remove only when no other process shares it
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    return
            if _same_file(fd, path):
                with contextlib.suppress(OSError):
                    os.unlink(path)
    finally:
        os.close(fd)


@contextlib.contextmanager
def flocked(path: str, exclusive: bool = True, wait: bool = True, remove: bool = False,
            optional: bool = False, makedirs: bool = False) -> Iterator[bool]:
    """Hold ``flock`` on *path* (created when missing; its directory too with *makedirs*) for the
    ``with`` block.

    *exclusive* or shared; *wait* blocks until the lock is free, otherwise :class:`LockBusy` is
    raised at once. *remove* deletes the file when letting go (a shared holder only when it is the
    last one). With *optional*, a file system that cannot lock, or a directory in which the lock
    file cannot be created (read-only or full media), gives an unlocked block: yields False instead
    of True.
    """
    fd = _acquire(path, exclusive, wait, optional, makedirs)
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        _release(fd, path, exclusive, remove)
