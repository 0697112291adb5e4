# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Resume state that outlives the process: upload sessions of chunked blob uploads.

A chunked upload (``chunked.ChunkedUpload``, blobs above the client's threshold) records the URL of
its session and the offset the registry acknowledged after every acknowledged chunk -- never
before the first one. With :class:`UploadSessions` that record is a small file, so a run that was
killed (power loss, OOM killer, SIGKILL) and started again asks the registry where the session
stands and sends only the rest, provided the registry holds exactly the recorded offset. Where the
registry no longer knows the session (restarted with another ``http.secret``, purged, or a chunk
was cut half-way so its state no longer matches), or holds another offset, the client starts a new
session: the record is a hint, never a promise.

Layout: ``<state_dir>/uploads/<sha256 of registry/repository@digest>.json`` holding
``{"registry", "repository", "digest", "location", "offset"}`` (records of earlier versions have no
``offset``); files 0600 in a 0700 directory (a session URL is not a credential, but it lets its
holder write into the upload). :meth:`UploadSessions.cleanup`
removes the records and the directories once a copy completed. Downloads into an OCI layout keep
their own resume state (partial blobs) in ``<layout>/.airgap-state/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any

from .._common.fileio import atomic_write

UPLOADS = "uploads"


class UploadSessions:
    """``sessions(dest, digest)`` -> the persistent session record of one blob upload."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = os.path.abspath(state_dir)
        self.directory = os.path.join(self.state_dir, UPLOADS)

    def __call__(self, dest: object, digest: str) -> _Session:
        registry = getattr(getattr(dest, "client", None), "registry", None)
        repository = getattr(dest, "repository", None)
        key = "%s/%s@%s" % (registry, repository, digest)
        name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40] + ".json"
        return _Session(self, os.path.join(self.directory, name),
                        {"registry": registry, "repository": repository, "digest": digest})

    def records(self) -> list[dict[str, Any]]:
        """The records currently kept (for reports and tests)."""
        out: list[dict[str, Any]] = []
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return out
        for name in names:
            if name.endswith(".json"):
                data = _read(os.path.join(self.directory, name))
                if data:
                    out.append(data)
        return out

    def cleanup(self) -> None:
        """Remove every record, then the directories if nothing else is in them."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            names = []
        for name in names:
            if name.endswith(".json") or name.startswith(".tmp-"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.directory, name))
        for path in (self.directory, self.state_dir):
            with contextlib.suppress(OSError):
                os.rmdir(path)

    def _ensure_dir(self) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)


class _Session:
    """One record: ``get()`` -> ``(session URL, acknowledged offset or None)`` or None,
    ``put(url, offset)``, ``clear()``."""

    def __init__(self, owner: UploadSessions, path: str, ident: dict[str, Any]) -> None:
        self._owner = owner
        self.path = path
        self._ident = ident

    def get(self) -> tuple[str, int | None] | None:
        data = _read(self.path)
        if not data or any(data.get(k) != v for k, v in self._ident.items()):
            return None
        location = data.get("location")
        if not isinstance(location, str) or not location:
            return None
        offset = data.get("offset")
        valid = isinstance(offset, int) and not isinstance(offset, bool) and offset > 0
        return location, (offset if valid else None)

    def put(self, location: str, offset: int) -> None:
        record = dict(self._ident, location=location, offset=offset)
        try:
            self._owner._ensure_dir()
            # media: a state_dir on FAT/exFAT keeps no modes; the record is no credential (see above)
            atomic_write(self.path, json.dumps(record, sort_keys=True).encode("utf-8"), 0o600, media=True)
        except OSError:
            pass  # a hint only: without it a killed run starts this blob's upload again

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
