# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The registry client (OCI distribution API): manifests, tags, referrers and blobs of one registry.

One :class:`RegistryClient` per registry host owns a pooled keep-alive connection pool, the TLS
set-up and the authentication state (see http/transport.py); it is safe to share between threads.

- Retries: connect errors, timeouts, dropped connections, 408/425/429 and 5xx (but 501/505) are
  retried with exponential backoff and full jitter, honouring ``Retry-After``; the overall deadline
  bounds every wait (http/retry.py).
- Blobs are streamed in bounded chunks, never held whole in memory. A download that breaks resumes
  with ``Range`` from the byte it reached (blobs.py). Uploads are monolithic (POST + PUT) up to
  ``chunked_threshold`` and chunked (PATCH with ``Content-Range``) above it, so a broken upload of a
  large blob resumes where the registry stands -- when its answer is exact (see chunked.py).
- 307/308 answers to an upload re-send the body to the new location (object-storage back ends);
  the Authorization header never follows a redirect to another host.
- TLS: see http/tls.py. Plain HTTP or unverified TLS only for registries marked insecure.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from .._oci import manifest as _manifest
from .._oci.errors import AuthError, OCIError, RegistryError
from .auth import scope_for
from .blobs import BlobDownload, Opener, SourceCursor, send_body
from .http.errors import short
from .http.options import ClientOptions, Shared
from .http.retry import Deadline
from .http.transport import Transport, httpx

if TYPE_CHECKING:  # imported where used: a run with only small uploads (or none) never loads it
    from .chunked import UploadState

# Deadline where callers import it from here
__all__ = ["Deadline", "RegistryClient"]

_NEXT_LINK = re.compile(r'<([^>]*)>\s*;[^,]*?\brel\s*=\s*"?next"?', re.IGNORECASE)

# a manifest PUT refused for a child or blob that is there when checked again is sent again so often
MANIFEST_RECHECKS = 3


class RegistryClient(Transport):
    """Talks to one registry. ``registry`` is the canonical name (``docker.io``, ``host:port``)."""

    def __init__(self, registry: str, options: ClientOptions | None = None, shared: Shared | None = None) -> None:
        super().__init__(registry, options, shared)
        self.chunk_size = self.options.chunk_size
        self.chunked_threshold = self.options.chunked_threshold
        self.upload_chunk_size = self.options.upload_chunk_size
        self.probe_max = self.options.probe_max
        self.mount_probe = True  # False once the registry refused a mounting POST outright
        self.referrers_api: bool | None = None  # unknown until asked; False after a registry answered 404
        self._referrers_probe = threading.Lock()  # held by the one request that finds referrers_api out

    # ------------------------------------------------------------------ manifests

    def head_manifest(self, repo: str, ref: str, image: str | None = None) -> tuple[str, str, int] | None:
        """(digest, media_type, size) of a manifest, or None if absent."""
        url = self._url("/v2/%s/manifests/%s" % (repo, ref))
        resp = self._send_with_retries("HEAD", url, (scope_for(repo, ["pull"]),),
                                       headers={"Accept": _manifest.ACCEPT}, what="HEAD manifest", image=image,
                                       redirects=True)
        resp.close()
        if resp.status_code == 404:
            return None
        self._check(resp, (200,), "HEAD manifest %s:%s" % (repo, ref), image)
        digest = resp.headers.get("docker-content-digest")
        media_type = (resp.headers.get("content-type") or "").split(";")[0].strip()
        size = int(resp.headers.get("content-length") or 0)
        if not digest:
            data, media_type = self.get_manifest(repo, ref, image=image)
            digest, size = _manifest.compute_digest(data), len(data)
        return digest, media_type, size

    def get_manifest(self, repo: str, ref: str, image: str | None = None) -> tuple[bytes, str]:
        """(bytes, content type). Verifies the bytes when *ref* is a digest. A body that breaks off
        or stalls past the timeout is asked for again, like any transient failure."""
        url = self._url("/v2/%s/manifests/%s" % (repo, ref))
        attempt = 0
        while True:
            resp = self._send_with_retries("GET", url, (scope_for(repo, ["pull"]),),
                                           headers={"Accept": _manifest.ACCEPT}, what="GET manifest", image=image,
                                           redirects=True, stream=True)
            try:
                self._check(resp, (200,), "manifest %s@%s" % (repo, ref) if ":" in ref else
                            "manifest %s:%s" % (repo, ref), image)
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > _manifest.MAX_MANIFEST_BYTES:
                        raise RegistryError("manifest %s:%s is larger than %d bytes"
                                            % (repo, ref, _manifest.MAX_MANIFEST_BYTES), url=url, image=image)
                break
            except httpx.TransportError as exc:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise RegistryError("reading manifest %s:%s failed after %d attempts: %s" % (
                        repo, ref, attempt, short(exc)), url=url, image=image, transient=True) from None
            finally:
                resp.close()
            self._wait(self.retry.delay(attempt - 1), "GET manifest")
        self.stats.add(bytes_down=len(data))
        content = bytes(data)
        if ref.startswith("sha256:") or ref.startswith("sha512:"):
            _manifest.verify_digest(content, ref, what="manifest %s@%s" % (repo, ref), image=image)
        return content, (resp.headers.get("content-type") or "").split(";")[0].strip()

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str, image: str | None = None) -> str | None:
        """Push a manifest. A PUT refused with MANIFEST_BLOB_UNKNOWN is checked: where everything
        the manifest refers to is in the registry now (another client was rewriting it), it is sent
        again, up to ``MANIFEST_RECHECKS`` times; where something is missing, the error names it."""
        refused = 0
        while True:
            try:
                return self._put_manifest_once(repo, ref, data, media_type, image)
            except RegistryError as exc:
                if exc.code != "MANIFEST_BLOB_UNKNOWN":
                    raise
                refused += 1
                try:
                    missing = self._missing_references(repo, data, media_type, image)
                except OCIError:
                    raise exc from None
                if missing:
                    exc.message += "; checked again, not in the registry: %s" % ", ".join(missing)
                    raise
                if refused > MANIFEST_RECHECKS:
                    exc.message += ("; refused %d times although everything it refers to is in the registry"
                                    % refused)
                    raise
                self._wait(self.retry.delay(refused - 1), "manifest push")

    def _missing_references(self, repo: str, data: bytes, media_type: str, image: str | None = None) -> list[str]:
        """What *data* refers to that *repo* does not have: child manifests of an index, config and
        layers of an image (non-distributable layers are not asked about)."""
        try:
            man = _manifest.parse(data, media_type)
        except OCIError:
            return []  # cannot tell: the bounded retries decide
        missing = []
        for child in man.children:
            if self.head_manifest(repo, child.digest, image=image) is None:
                missing.append("child manifest %s" % child.digest)
        for blob in man.blobs:
            if self.head_blob(repo, blob.digest, image=image) is None:
                missing.append("blob %s" % blob.digest)
        return missing

    def _put_manifest_once(self, repo: str, ref: str, data: bytes, media_type: str,
                           image: str | None = None) -> str | None:
        url = self._url("/v2/%s/manifests/%s" % (repo, ref))
        resp = self._send_with_retries("PUT", url, (scope_for(repo, ["pull", "push"]),),
                                       headers={"Content-Type": media_type}, content=data, what="PUT manifest",
                                       image=image)
        self._check(resp, (201, 200), "PUT manifest %s:%s" % (repo, ref), image)
        resp.close()
        self.stats.add(bytes_up=len(data))
        return resp.headers.get("docker-content-digest")

    def delete_manifest(self, repo: str, digest: str, image: str | None = None) -> bool:
        """DELETE a manifest by digest: True when deleted, False when the registry does not have it.

        Docker distribution 2.8 deletes a tag only this way: the DELETE of a manifest removes every
        tag on it (``DELETE /v2/<name>/manifests/<tag>`` answers 400 DIGEST_INVALID there). The
        registry must allow deletes (``storage.delete.enabled``; else 405 UNSUPPORTED)."""
        url = self._url("/v2/%s/manifests/%s" % (repo, digest))
        resp = self._send_with_retries("DELETE", url, (scope_for(repo, ["pull", "push", "delete"]),),
                                       what="DELETE manifest", image=image)
        try:
            if resp.status_code == 404:
                return False
            self._check(resp, (202, 200), "DELETE manifest %s@%s" % (repo, digest), image)
            return True
        finally:
            resp.close()

    def list_tags(self, repo: str, image: str | None = None, page_size: int | None = None) -> list[str]:
        """Every tag of a repository ([] if the repository does not exist), following pagination:
        ``Link: <...>; rel="next"`` headers, relative or absolute. *page_size*: the ``n`` asked
        for (None: the registry's default page)."""
        return self._pages("/v2/%s/tags/list" % repo, scope_for(repo, ["pull"]), "tags", "tag list of %s" % repo,
                           image, page_size)

    def catalog(self, page_size: int | None = None) -> list[str]:
        """Every repository of the registry (``GET /v2/_catalog``, scope ``registry:catalog:*``),
        following pagination like :meth:`list_tags`. A registry that does not offer the catalog
        answers 404: [] is returned, and the caller names the repositories itself."""
        return self._pages("/v2/_catalog", "registry:catalog:*", "repositories", "catalog of %s" % self.registry,
                           None, page_size)

    def _pages(self, path: str, scope: str, key: str, what: str, image: str | None,
               page_size: int | None) -> list[str]:
        """The *key* lists of every page of a paginated listing ([] on 404)."""
        items: list[str] = []
        url: str | None = self._url(path)
        if page_size:
            url = "%s?n=%d" % (url, page_size)
        seen: set[str] = set()
        while url:
            seen.add(url)
            resp = self._send_with_retries("GET", url, (scope,), what="list " + key, image=image, redirects=True)
            if resp.status_code == 404:
                resp.close()
                return items
            self._check(resp, (200,), what, image)
            try:
                items.extend((resp.json() or {}).get(key) or [])
            except ValueError:
                raise RegistryError("the %s is not JSON" % what, url=url, image=image) from None
            finally:
                resp.close()
            target = next_link(resp.headers.get("link"))
            url = urljoin(url, target) if target else None
            if url in seen:
                raise RegistryError("the %s links back to a page already read" % what, url=url, image=image)
        return items

    def referrers(self, repo: str, digest: str, image: str | None = None) -> dict[str, Any] | None:
        """The referrers index of *digest* (OCI distribution 1.1 referrers API), or None where the
        registry does not implement it. A registry that implements it answers 200 with an index,
        empty when nothing refers to the digest; 404 means no API, remembered for the registry.
        Until the registry has answered once, one thread asks at a time: the others wait for that
        answer instead of each sending a request a registry without the API refuses."""
        if self.referrers_api is None:
            with self._referrers_probe:
                if self.referrers_api is None:
                    return self._referrers(repo, digest, image)
        if self.referrers_api is False:
            return None
        return self._referrers(repo, digest, image)

    def _referrers(self, repo: str, digest: str, image: str | None) -> dict[str, Any] | None:
        url = self._url("/v2/%s/referrers/%s" % (repo, digest))
        resp = self._send_with_retries("GET", url, (scope_for(repo, ["pull"]),), what="referrers",
                                       headers={"Accept": _manifest.OCI_INDEX}, image=image, redirects=True)
        try:
            ctype = (resp.headers.get("content-type") or "").split(";")[0].strip()
            if resp.status_code in (404, 405, 400) or (resp.status_code == 200 and ctype != _manifest.OCI_INDEX):
                self.referrers_api = False
                return None
            self._check(resp, (200,), "referrers of %s@%s" % (repo, digest), image)
            try:
                body = resp.json()
            except ValueError:
                raise RegistryError("the referrers index of %s@%s is not JSON" % (repo, digest), url=url,
                                    image=image) from None
            if not isinstance(body, dict) or not isinstance(body.get("manifests", []), list):
                raise RegistryError("the referrers answer for %s@%s is not an image index" % (repo, digest),
                                    url=url, image=image)
            self.referrers_api = True
            return body
        finally:
            resp.close()

    # ------------------------------------------------------------------ blobs

    def head_blob(self, repo: str, digest: str, image: str | None = None) -> int | None:
        """Size of the blob in *repo*, or None if absent."""
        url = self._url("/v2/%s/blobs/%s" % (repo, digest))
        resp = self._send_with_retries("HEAD", url, (scope_for(repo, ["pull"]),), what="HEAD blob", image=image,
                                       redirects=True)
        resp.close()
        if resp.status_code == 404:
            return None
        self._check(resp, (200,), "HEAD blob %s@%s" % (repo, digest), image)
        return int(resp.headers.get("content-length") or -1)

    def open_blob(self, repo: str, digest: str, size: int, offset: int = 0, image: str | None = None) -> BlobDownload:
        """An iterator over the blob's bytes from *offset*, resuming with Range after a broken
        connection. The caller verifies the digest where it must."""
        return BlobDownload(self, repo, digest, size, offset, image)

    def _post_upload(self, repo: str, image: str | None, mount: str | None = None,
                     from_repo: str | None = None) -> tuple[httpx.Response, str | None]:
        """The POST that opens an upload session in *repo* (``mount``: also ask the registry to
        mount that digest from *from_repo*, by default *repo* itself). Returns the closed response
        and the absolute session URL (None without a Location)."""
        url = self._url("/v2/%s/blobs/uploads/" % repo)
        scopes: tuple[str, ...] = (scope_for(repo, ["pull", "push"]),)
        params = None
        if mount:
            from_repo = from_repo or repo
            params = {"mount": mount, "from": from_repo}
            if from_repo != repo:
                scopes += (scope_for(from_repo, ["pull"]),)
        resp = self._send_with_retries("POST", url, scopes, params=params, what="start upload", image=image,
                                       content=b"")
        resp.close()
        location = resp.headers.get("location")
        return resp, (urljoin(url, location) if location else None)

    def mount_blob(self, repo: str, digest: str, from_repo: str, image: str | None = None) -> bool:
        """Cross-repository mount; True when the registry mounted the blob (a session it opened
        instead is cancelled)."""
        resp, location = self._post_upload(repo, image, mount=digest, from_repo=from_repo)
        if resp.status_code == 201:
            return True
        if resp.status_code == 202 and location:
            self._cancel_upload(location, repo)
        return False

    def start_upload(self, repo: str, image: str | None = None, mount: str | None = None,
                     from_repo: str | None = None) -> str | None:
        """Open an upload session in *repo*; returns its URL. With *mount* (a digest) the same
        POST asks the registry to mount that blob from *from_repo* -- by default from *repo*
        itself, which asks "is it here already?" -- and None is returned when the blob is now in
        *repo* (201: nothing to send). A registry that cannot mount opens the session anyway
        (202), as the distribution spec asks of it."""
        resp, location = self._post_upload(repo, image, mount, from_repo)
        if mount and resp.status_code == 201:
            return None
        self._check(resp, (202,), "start upload to %s" % repo, image)
        if not location:
            raise RegistryError("registry started an upload without a Location", url=str(resp.request.url),
                                image=image)
        return location

    def ensure_blob(self, repo: str, digest: str, size: int, opener: Opener, image: str | None = None,
                    session: Any = None, from_repo: str | None = None) -> str:
        """Make blob *digest* present in *repo*; returns how: ``"mounted"`` (from *from_repo*),
        ``"skipped"`` (it was there) or ``"copied"`` (its bytes were sent).

        A blob of up to ``probe_max`` bytes costs one request when it is there and two when it
        is not: the POST that starts its upload also asks for a mount (from *from_repo*, or from
        *repo* itself, which a registry answers with 201 exactly when the repository holds the
        blob), and the bytes go to the session that POST opened. A larger blob is asked about
        with HEAD first, so that a chunked upload can resume its saved *session*. A registry that
        answers a mounting POST with anything but 201/202 is asked the plain way from then on."""
        if size <= min(self.probe_max, self.chunked_threshold) and self.mount_probe:
            try:
                location = self.start_upload(repo, image, mount=digest, from_repo=from_repo)
            except RegistryError as exc:
                if isinstance(exc, AuthError) or exc.status not in (400, 404, 405):
                    raise
                self.mount_probe = False
            else:
                if location is None:
                    return "mounted" if from_repo and from_repo != repo else "skipped"
                cursor = SourceCursor(opener)
                try:
                    self._upload_monolithic(repo, digest, size, cursor, image, location)
                finally:
                    cursor.close()
                return "copied"
        if from_repo and from_repo != repo and self.mount_blob(repo, digest, from_repo, image):
            return "mounted"
        if self.head_blob(repo, digest, image) is not None:
            return "skipped"
        self.upload_blob(repo, digest, size, opener, image=image, session=session)
        return "copied"

    def _cancel_upload(self, location: str, repo: str) -> None:
        try:
            resp = self._send_with_retries("DELETE", location, (scope_for(repo, ["pull", "push"]),),
                                           what="cancel upload")
            resp.close()
        except OCIError:
            pass  # an abandoned session is purged by the registry

    def upload_status(self, location: str, repo: str) -> UploadState | None:
        """Where an upload session stands (see chunked.py), or None if the session is gone."""
        from .chunked import status_of
        return status_of(self, location, repo)

    def upload_blob(self, repo: str, digest: str, size: int, opener: Opener, image: str | None = None,
                    session: Any = None) -> None:
        """Upload a blob. *opener(offset)* returns an iterable of the blob's bytes from *offset*
        (it is called again to re-send after a failure or a redirect). *session* optionally
        persists the chunked-upload location across processes (see chunked.ChunkedUpload)."""
        cursor = SourceCursor(opener)
        try:
            if size <= self.chunked_threshold:
                self._upload_monolithic(repo, digest, size, cursor, image)
            else:
                from .chunked import ChunkedUpload
                ChunkedUpload(self, repo, digest, size, cursor, image, session).run()
        finally:
            cursor.close()

    def _upload_monolithic(self, repo: str, digest: str, size: int, cursor: SourceCursor, image: str | None,
                           location: str | None = None) -> None:
        scopes = (scope_for(repo, ["pull", "push"]),)
        attempt = 0
        while True:
            if location is None:
                location = self.start_upload(repo, image)
                if location is None:  # without mount, a session or an error
                    raise AssertionError('bug: expected location is not None')
            try:
                resp = send_body(self, "PUT", location, scopes, cursor, 0, size, {"digest": digest}, image)
                self._check(resp, (201,), "upload of blob %s to %s" % (digest, repo), image)
                resp.close()
                return
            except RegistryError as exc:
                from .chunked import session_lost
                attempt += 1
                if not (exc.transient or session_lost(exc)) or attempt >= self.retry.attempts:
                    raise
                location = None  # a new session for the next attempt
                self._wait(self.retry.delay(attempt - 1), "blob upload")


def next_link(header: str | None) -> str | None:
    """The target of the ``rel="next"`` link of a ``Link`` header (RFC 8288), or None."""
    match = _NEXT_LINK.search(header or "")
    return match.group(1).strip() if match else None
