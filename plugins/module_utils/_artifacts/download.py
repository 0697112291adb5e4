# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""One file downloaded into a layout's temporary area, streamed and hashed on the way.

The partial file is ``.airgap-state/files/<sha256 of the URL>.part`` with the server's validator
(``ETag`` or ``Last-Modified``) next to it. A download that breaks (a dropped connection in this run,
or a run that was killed) continues where the partial file ends: ``Range: bytes=N-`` with
``If-Range``, the bytes already there re-hashed; a server that answers ``200`` instead of ``206``
(the file changed, or no ranges) sends the whole file again. Only the engine's HTTP client sends
(TLS, ``ca_path``, client certificates, proxies from the environment, retries, deadline).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
from typing import Any

from .._common.flock import flocked
from .._oci.errors import OCIError
from .model import ArtifactError

READ_CHUNK = 1024 * 1024
MAX_SMALL = 4 * 1024 * 1024
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$")


@dataclasses.dataclass
class Downloaded:
    """A complete download: the partial file's path, its SHA-256 digest (``sha256:HEX``), its size,
    its digest in the checksum's *algorithm*, bytes fetched by this run and where it resumed."""

    path: str
    digest: str
    size: int
    checksum: str
    fetched: int
    resumed_from: int


def get_small(client: Any, url: str, what: str) -> bytes:
    """The body of a small file (a checksum file, a signature); a clear error naming *url* when
    it is missing or larger than 4 MiB."""
    try:
        return client.fetch_small(url, what, MAX_SMALL) or b""
    except OCIError as exc:
        raise ArtifactError(exc.message) from None


def _transport_errors() -> tuple[type[BaseException], ...]:
    from .._common.http_library import httpx  # imported with the client already

    return (httpx.TransportError,)


class Partial:
    """The partial file of one URL in *directory* (created on first write)."""

    def __init__(self, directory: str, url: str) -> None:
        key = hashlib.sha256(url.encode()).hexdigest()[:40]
        self.directory = directory
        self.url = url
        self.path = os.path.join(directory, key + ".part")
        self.meta = os.path.join(directory, key + ".json")

    def known(self) -> tuple[bool, str | None]:
        """(whether the partial file belongs to this URL, the server's validator of it)."""
        try:
            with open(self.meta, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return False, None
        if not isinstance(data, dict) or data.get("url") != self.url or not os.path.exists(self.path):
            return False, None
        return True, data.get("validator") or None

    def size(self) -> int:
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def remove(self) -> None:
        for path in (self.path, self.meta):
            with contextlib.suppress(OSError):
                os.unlink(path)


def download(client: Any, directory: str, url: str, algorithm: str, attempts: int) -> Downloaded:
    """Download *url* into its partial file in *directory*, resuming what an earlier attempt left;
    *attempts* bodies that break are continued before giving up (the partial file stays)."""
    os.makedirs(directory, exist_ok=True)
    partial = Partial(directory, url)
    with flocked(partial.path + ".lock", exclusive=True, wait=True):
        try:
            return _download(client, partial, algorithm, max(1, attempts))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(partial.path + ".lock")


def _download(client: Any, partial: Partial, algorithm: str, attempts: int) -> Downloaded:
    url = partial.url
    known, validator = partial.known()
    if not known:
        partial.remove()
    resumed_from = partial.size()
    fetched = 0
    for attempt in range(attempts):
        offset = partial.size()
        # the bytes as stored, never a compressed transfer of them: a range counts stored bytes
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = "bytes=%d-" % offset
            if validator:
                headers["If-Range"] = validator
        try:
            resp = client.fetch(url, headers=headers, what="the download")
        except OCIError as exc:
            raise ArtifactError("%s: %s" % (url, exc.message)) from None
        try:
            offset = _accept(resp, partial, offset, url)
            if attempt == 0 and offset == 0:
                resumed_from = 0
            validator = _validator(resp) or (validator if offset else None)
            _write_meta(partial, validator)
            try:
                _stream(resp, partial.path, offset)
            finally:
                fetched += partial.size() - offset
            total = _total(resp, offset)
            if total is not None and partial.size() != total:
                raise ArtifactError("%s: got %d bytes, the server announced %d" % (url, partial.size(), total))
            break
        except _transport_errors() as exc:
            if attempt + 1 >= attempts:
                raise ArtifactError("%s: the download broke after %d bytes (%s); the next run continues it"
                                    % (url, partial.size(), exc)) from None
        finally:
            resp.close()
    digest, checksum = _hash(partial.path, algorithm)
    return Downloaded(partial.path, digest, partial.size(), checksum, fetched, resumed_from)


def _accept(resp: Any, partial: Partial, offset: int, url: str) -> int:
    """The offset the response's body starts at (0 when the server sends the whole file again)."""
    status = resp.status_code
    if status == 206 and offset:
        match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
        if not match or int(match.group(1)) != offset:
            raise ArtifactError("%s: the server answered the range request from byte %d with Content-Range %r"
                                % (url, offset, resp.headers.get("content-range")))
        return offset
    if status == 200:
        with open(partial.path, "wb"):
            pass
        return 0
    if status == 416:
        partial.remove()
        raise ArtifactError("%s: the server refused to continue the download at byte %d (HTTP 416); the partial "
                            "file was discarded, the next run starts again" % (url, offset))
    raise ArtifactError("%s: HTTP %d%s" % (url, status, " (not found)" if status == 404 else ""))


def _validator(resp: Any) -> str | None:
    """What ``If-Range`` may carry: a strong ``ETag``, else ``Last-Modified``."""
    etag = resp.headers.get("etag")
    if etag and not etag.startswith("W/"):
        return str(etag)
    return resp.headers.get("last-modified") or None


def _total(resp: Any, offset: int) -> int | None:
    match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = resp.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() and resp.status_code == 200 else None


def _write_meta(partial: Partial, validator: str | None) -> None:
    with open(partial.meta, "w", encoding="utf-8") as handle:
        json.dump({"url": partial.url, "validator": validator}, handle)


def _stream(resp: Any, path: str, offset: int) -> None:
    """Append the response body to *path* (at *offset*), flushed to disk even when it breaks."""
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.truncate()
        try:
            for chunk in resp.iter_raw(READ_CHUNK):
                handle.write(chunk)
        finally:
            handle.flush()
            os.fsync(handle.fileno())


def _hash(path: str, algorithm: str) -> tuple[str, str]:
    """(``sha256:HEX``, HEX in *algorithm*) of the file at *path*, read once."""
    oci = hashlib.sha256()
    other = hashlib.new(algorithm) if algorithm != "sha256" else None
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(READ_CHUNK)
            if not chunk:
                break
            oci.update(chunk)
            if other is not None:
                other.update(chunk)
    return "sha256:" + oci.hexdigest(), (other or oci).hexdigest()
