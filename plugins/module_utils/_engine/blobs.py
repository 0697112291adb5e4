# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Blob bytes on the wire: the download of a blob (streamed in bounded chunks, resumed with
``Range`` from the byte it reached after a broken connection) and the source of an upload (read
sequentially across the requests of a chunked upload)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from .._oci.errors import DigestMismatch, OCIError, RegistryError, redact_url
from .auth import scope_for
from .http.errors import short
from .http.retry import TRANSIENT_STATUS, Deadline
from .http.transport import Transport, httpx

if TYPE_CHECKING:  # pragma: no cover
    from .http.options import Stats

Opener = Callable[[int], Iterable[bytes]]


class SourceError(Exception):
    """Wraps an error of the *source* while streaming into an upload, so it is not mistaken for an
    upload failure."""

    def __init__(self, error: OCIError) -> None:
        super().__init__(str(error))
        self.error = error


class SourceCursor:
    """The source of an upload, read sequentially across its requests (the chunks of a chunked
    upload): one source stream serves every chunk, and it is re-opened at the needed offset only
    when a request does not continue where the previous one stopped (after a failure, a redirect,
    or a resumed session)."""

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._source: Iterable[bytes] | None = None
        self._iter: Iterator[bytes] | None = None
        self._offset: int | None = None
        self._pending = b""

    def take(self, offset: int, length: int) -> Iterator[bytes]:
        """Yield exactly *length* bytes of the blob from *offset*."""
        if length <= 0:
            return
        if offset != self._offset or self._iter is None:
            self.close()
            self._source = self._opener(offset)
            self._iter = iter(self._source)
            self._offset = offset
        remaining = length
        while remaining > 0:
            if self._pending:
                chunk, self._pending = self._pending, b""
            else:
                try:
                    chunk = next(self._iter)
                except StopIteration:
                    raise SourceError(OCIError("the source ended %d bytes early" % remaining)) from None
                except OCIError as exc:
                    raise SourceError(exc) from None
            if len(chunk) > remaining:
                self._pending = chunk[remaining:]
                chunk = chunk[:remaining]
            remaining -= len(chunk)
            self._offset += len(chunk)
            if chunk:
                yield chunk

    def prime(self, offset: int) -> None:
        """Open the source at *offset* and read its first chunk now, before the request that sends
        it starts: a source that waits for its registry's limits (http/limits.py) then holds no
        connection of the destination, and connections are always taken source first."""
        if offset != self._offset or self._iter is None:
            self.close()
            self._source = self._opener(offset)
            self._iter = iter(self._source)
            self._offset = offset
        if not self._pending:
            try:
                self._pending = next(self._iter, b"")
            except OCIError as exc:
                raise SourceError(exc) from None

    def close(self) -> None:
        if self._source is not None:
            close_quietly(self._source)
        self._source = self._iter = self._offset = None
        self._pending = b""


class Counting:
    """Iterates *iterable*, counting the bytes as uploaded and checking the deadline per chunk."""

    def __init__(self, iterable: Iterable[bytes], stats: Stats, deadline: Deadline | None = None,
                 what: str | None = None) -> None:
        self._it = iterable
        self._stats = stats
        self._deadline = deadline
        self._what = what

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._it:
            if self._deadline is not None:
                self._deadline.check(self._what)
            self._stats.add(bytes_up=len(chunk))
            yield chunk


def close_quietly(obj: object) -> None:
    """Call ``obj.close()`` where it has one."""
    close = getattr(obj, "close", None)
    if close:
        close()


class BlobDownload:
    """Iterates a blob's bytes; resumes with Range from the received offset after a failure."""

    def __init__(self, client: Transport, repo: str, digest: str, size: int, offset: int, image: str | None) -> None:
        self.client = client
        self.repo = repo
        self.digest = digest
        self.size = size
        self.offset = offset
        self.image = image
        self._resp: httpx.Response | None = None

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def _finish(self, raw: Iterator[bytes], url: str) -> None:
        """Read the end of a response that delivered the whole blob, before its last chunk is
        handed on: a consumer that stops at the blob's size (an upload's source) never asks for
        more, and a response closed before its end drops its connection instead of returning it
        to the pool -- one new connection per blob. A connection that breaks now is dropped."""
        try:
            for extra in raw:
                if extra:
                    raise DigestMismatch("blob %s is larger than the %d bytes its descriptor says"
                                         % (self.digest, self.size), image=self.image, url=url)
        except httpx.TransportError:
            pass  # every byte arrived; only the connection is lost

    def __iter__(self) -> Iterator[bytes]:
        client = self.client
        url = client._url("/v2/%s/blobs/%s" % (self.repo, self.digest))
        scopes = (scope_for(self.repo, ["pull"]),)
        received = self.offset
        failures = 0
        if self.size == 0:
            return  # nothing to fetch; the caller checks the digest of the empty content
        try:
            while received < self.size:
                # identity: the bytes on the wire are the blob, so iter_raw() needs no decoding
                headers = {"Accept-Encoding": "identity"}
                if received:
                    headers["Range"] = "bytes=%d-" % received
                resp = client._send_with_retries("GET", url, scopes, headers=headers, stream=True,
                                                 what="GET blob %s" % self.digest[:19], redirects=True,
                                                 image=self.image)
                self._resp = resp
                client._check(resp, (200, 206), "blob %s@%s" % (self.repo, self.digest), self.image)
                skip = received if (received and resp.status_code == 200) else 0
                try:
                    raw = resp.iter_raw()
                    for chunk in raw:
                        if client.cancel.is_set():
                            raise OCIError("cancelled", image=self.image)
                        # a slow blob must not carry the run past its deadline (what arrived
                        # stays in the caller's partial file, resumable)
                        client.deadline.check("the download of blob %s" % self.digest)
                        if skip:
                            if len(chunk) <= skip:
                                skip -= len(chunk)
                                continue
                            chunk = chunk[skip:]
                            skip = 0
                        if received + len(chunk) > self.size:
                            raise DigestMismatch("blob %s is larger than the %d bytes its descriptor says"
                                                 % (self.digest, self.size), image=self.image, url=url)
                        received += len(chunk)
                        client.stats.add(bytes_down=len(chunk))
                        if received == self.size:
                            self._finish(raw, url)
                        yield chunk
                except httpx.TransportError as exc:
                    failures += 1
                    if failures >= client.retry.attempts:
                        raise RegistryError("download of blob %s failed after %d attempts: %s"
                                            % (self.digest, failures, short(exc)), url=url, image=self.image,
                                            transient=True) from None
                    client._wait(client.retry.delay(failures - 1), "blob download")
                    continue
                finally:
                    self.close()
                if received < self.size:
                    failures += 1
                    if failures >= client.retry.attempts:
                        raise RegistryError("blob %s ended after %d of %d bytes" % (self.digest, received, self.size),
                                            url=url, image=self.image, transient=True)
                    continue
                break
        finally:
            self.close()


def send_body(client: Transport, method: str, location: str, scopes: Sequence[str], cursor: SourceCursor,
              offset: int, length: int, params: Mapping[str, str] | None, image: str | None,
              content_range: str | None = None) -> httpx.Response:
    """Send *length* bytes from *offset* (read from the :class:`SourceCursor`) to an upload
    location, re-sending on 307/308."""
    for _hop in range(5):
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        if content_range:
            headers["Content-Range"] = content_range
        url = location
        if params:
            sep = "&" if "?" in url else "?"
            url = url + sep + "&".join("%s=%s" % kv for kv in params.items())
        if length > 0:
            try:
                cursor.prime(offset)
            except SourceError as exc:
                exc.error.transient = False  # the source already retried on its own
                raise exc.error from None
        counted = Counting(cursor.take(offset, length), client.stats, client.deadline,
                           "an upload to %s" % redact_url(url))
        resp = _send_once(client, method, url, scopes, headers, counted, image)
        if resp.status_code in (307, 308) and resp.headers.get("location"):
            resp.close()
            location = urljoin(url, resp.headers["location"])
            params = None  # the new location carries everything it needs
            continue
        return resp
    raise RegistryError("too many upload redirects", url=location, image=image)


def _send_once(client: Transport, method: str, url: str, scopes: Sequence[str], headers: Mapping[str, str],
               body: Iterable[bytes], image: str | None) -> httpx.Response:
    """One streamed request: a failure is reported as transient (the caller resumes)."""
    if client.cancel.is_set():
        raise OCIError("cancelled", image=image)
    client.deadline.check("blob upload")
    hdrs = dict(headers)
    used = client.authorize(hdrs, url, scopes)
    try:
        client.stats.request(client.registry)
        resp = client._send(client._client.build_request(method, url, headers=hdrs, content=body))
    except httpx.TransportError as exc:
        raise RegistryError("upload interrupted: %s" % short(exc), url=url, image=image,
                            transient=True) from None
    except SourceError as exc:
        # the source already retried on its own: do not retry the upload for it
        exc.error.transient = False
        raise exc.error from None
    if resp.status_code == 401:
        challenge = resp.headers.get("www-authenticate")
        resp.close()
        if challenge:
            client.auth.note_challenge(challenge)
            client.auth.invalidate(scopes, used)
        raise RegistryError("upload needed new credentials", url=url, status=401, image=image, transient=True)
    if resp.status_code in TRANSIENT_STATUS:
        resp.close()
        raise RegistryError("upload failed", url=url, status=resp.status_code, image=image, transient=True)
    return resp
