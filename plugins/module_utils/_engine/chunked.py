# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Chunked blob uploads (``PATCH`` with ``Content-Range``, then ``PUT ?digest=``) that resume after
a broken connection, a restarted registry or a killed process -- and never resume wrongly.

Where an upload continues in an existing session, the offset comes from the registry's answer to a
status ``GET`` (``Range: 0-<last byte>``). That answer is trusted only when it is exact and agrees
with what this client knows:

- ``Range: 0-0`` is ambiguous: distribution (2.8, and Harbor, which embeds it) answers it for an
  empty session *and* after one byte. Its ``_state`` token does carry the exact offset, but it is the
  registry's private format; the client does not read it. A session holding at most one byte is
  worth nothing, so it is dropped and a new one started from byte 0.
- a session resumed from a record (``state_dir``) must hold exactly the offset that record says the
  registry acknowledged; a session continued in the same run must hold at least what was
  acknowledged and at most that plus the chunk in flight. Anything else is an offset mismatch: the
  session is cancelled, its record dropped, and the blob sent again from byte 0.
- a chunk whose answer does not end where the chunk ended (or a ``416``) is an offset mismatch too.
- a resumed session whose final ``PUT`` is refused with ``DIGEST_INVALID`` held wrong bytes (an
  earlier resume at a wrong offset, a session written by something else): the same healing, once.

The session is recorded (``session.put(location, offset)``) only after a chunk was acknowledged, so
a process killed before that leaves no record; a record is dropped whenever its session is dropped,
and whenever the upload ends in an error no re-run can cure (``DIGEST_INVALID``): no record can make
every later run fail.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional
from urllib.parse import urljoin

from .auth import scope_for
from .blobs import send_body
from .._oci.errors import DigestMismatch, RegistryError
from .http.errors import UPLOAD_SESSION_LOST


class UploadState(NamedTuple):
    """What a status ``GET`` learned of a session: its exact offset (None when the answer cannot
    tell, e.g. ``Range: 0-0``) and the session URL to continue with."""

    offset: Optional[int]
    location: str


class OffsetMismatch(RegistryError):
    """The registry holds another number of bytes than the client sent it."""


def range_end(value: Optional[str]) -> int:
    """'0-1234' or 'bytes=0-1234' -> 1234; -1 without a usable value."""
    if not value:
        return -1
    value = value.split("=", 1)[-1]
    try:
        _start, end = value.split("-", 1)
        return int(end)
    except ValueError:
        return -1


def exact_offset(range_header: Optional[str]) -> Optional[int]:
    """The number of bytes a session holds according to its ``Range`` header, or None where the
    header cannot say (missing, unreadable, or ``0-0``: empty or one byte)."""
    end = range_end(range_header)
    return end + 1 if end > 0 else None


def session_lost(exc: BaseException) -> bool:
    """True for an answer that means "this upload session no longer exists"."""
    return isinstance(exc, RegistryError) and getattr(exc, "code", None) in UPLOAD_SESSION_LOST


class ChunkedUpload:
    """One chunked upload of *digest* (*size* bytes) to *repo* through *client* (a
    ``RegistryClient``), reading the blob from *cursor*; *session* optionally persists the session
    across processes (``get()`` -> ``(location, offset)`` or None, ``put(location, offset)``,
    ``clear()``)."""

    def __init__(self, client: Any, repo: str, digest: str, size: int, cursor: Any, image: Any = None,
                 session: Any = None) -> None:
        self.client = client
        self.repo = repo
        self.digest = digest
        self.size = size
        self.cursor = cursor
        self.image = image
        self.session = session
        self.scopes = (scope_for(repo, ["pull", "push"]),)
        self.location: Optional[str] = None
        self.offset = 0
        self.resumed = False  # the session's offset came from the registry, not from our own chunks
        self.what = "upload of blob %s to %s" % (digest, repo)

    def run(self) -> None:
        self._resume_saved()
        try:
            self._send()
        except (DigestMismatch, OffsetMismatch) as exc:
            if isinstance(exc, DigestMismatch) and not self.resumed:
                self._drop()  # a fresh upload from byte 0 was refused: the source's bytes are wrong
                raise
            # the session held other bytes than the blob's: drop it and send everything again, once
            self._drop()
            try:
                self._send()
            except (DigestMismatch, OffsetMismatch) as again:
                self._drop()
                again.message += (" (also after the blob was sent again from byte 0 in a new upload session, "
                                  "because the first one %s)" % ("held other bytes" if isinstance(exc, DigestMismatch)
                                                                 else "was at another offset"))
                raise again from None
        if self.session is not None:
            self.session.clear()

    # ------------------------------------------------------------------ steps

    def _resume_saved(self) -> None:
        """Continue the recorded session if the registry holds exactly what the record says."""
        saved = self.session.get() if self.session is not None else None
        if not saved:
            return
        location, recorded = saved
        state = self.client.upload_status(location, self.repo)
        if state is None:  # gone (registry restarted with another secret, purged): nothing to drop
            self.session.clear()
            return
        low, high = (recorded, recorded) if recorded is not None else (1, self.size)
        if state.offset is None or not low <= state.offset <= min(high, self.size):
            self.location = state.location
            self._drop()
            return
        self.location, self.offset, self.resumed = state.location, state.offset, True

    def _send(self) -> None:
        """Send the rest of the blob (from ``self.offset`` in ``self.location``, or everything in a
        new session), then complete the upload; retries transient failures."""
        client = self.client
        failures = 0
        inflight = 0
        while True:
            try:
                if self.location is None:
                    self.location = client.start_upload(self.repo, self.image)
                    self.offset, self.resumed = 0, False
                while self.offset < self.size:
                    inflight = min(client.upload_chunk_size, self.size - self.offset)
                    self._patch(inflight)
                    inflight = 0
                    failures = 0
                inflight = 0
                resp = send_body(client, "PUT", self.location, self.scopes, self.cursor, self.size, 0,
                                 {"digest": self.digest}, self.image)
                client._check(resp, (201,), self.what, self.image)
                resp.close()
                return
            except RegistryError as exc:
                if isinstance(exc, OffsetMismatch):
                    raise
                if exc.status == 416:  # the registry refused the chunk's range
                    raise OffsetMismatch("%s: the registry refused the chunk at offset %d (HTTP 416)"
                                         % (self.what, self.offset), url=exc.url, status=416,
                                         image=self.image) from None
                failures += 1
                lost = session_lost(exc)
                if not (exc.transient or lost) or failures >= client.retry.attempts:
                    raise
                client._wait(client.retry.delay(failures - 1), "chunk upload")
                if lost:  # the session is gone (registry restarted, purged): start over
                    self._forget_record()
                    self.location = None
                    continue
                self._continue_after_failure(inflight)

    def _patch(self, length: int) -> None:
        client = self.client
        end = self.offset + length
        if self.location is None:  # _send opened the session
            raise AssertionError('bug: expected self.location is not None')
        resp = send_body(client, "PATCH", self.location, self.scopes, self.cursor, self.offset, length, None,
                         self.image, content_range="%d-%d" % (self.offset, end - 1))
        client._check(resp, (202, 204), "chunk upload of blob %s to %s" % (self.digest, self.repo), self.image)
        resp.close()
        self.location = urljoin(self.location, resp.headers.get("location") or self.location)
        reported = range_end(resp.headers.get("range"))
        if resp.headers.get("range") is not None and reported + 1 != end and not (reported == 0 and end == 1):
            raise OffsetMismatch("%s: after the chunk %d-%d the registry reports %s bytes"
                                 % (self.what, self.offset, end - 1, reported + 1 if reported >= 0 else "unknown"),
                                 url=self.location, image=self.image)
        self.offset = end
        if self.session is not None:
            self.session.put(self.location, self.offset)

    def _continue_after_failure(self, inflight: int) -> None:
        """After a broken request: continue the session where the registry stands if that is
        exact and plausible (between what was acknowledged and that plus the chunk in flight),
        else drop it and start a new one."""
        state = self.client.upload_status(self.location, self.repo)
        if state is None:
            self._forget_record()
            self.location = None
            return
        if state.offset is None or not self.offset <= state.offset <= min(self.offset + inflight, self.size):
            self.location = state.location
            self._drop()
            return
        self.location, self.offset, self.resumed = state.location, state.offset, True

    def _drop(self) -> None:
        """Cancel the current session (best effort) and forget it; the next attempt starts a new
        session from byte 0."""
        if self.location is not None:
            self.client._cancel_upload(self.location, self.repo)
        self._forget_record()
        self.location, self.offset, self.resumed = None, 0, False

    def _forget_record(self) -> None:
        if self.session is not None:
            self.session.clear()


def status_of(client: Any, location: str, repo: str) -> Optional[UploadState]:
    """The state of an upload session (``GET`` on its URL), or None if the session is gone."""
    resp = client._send_with_retries("GET", location, (scope_for(repo, ["pull", "push"]),), what="upload status")
    resp.close()
    if resp.status_code != 204:
        return None
    new_location = resp.headers.get("location")
    return UploadState(exact_offset(resp.headers.get("range")),
                       urljoin(location, new_location) if new_location else location)
