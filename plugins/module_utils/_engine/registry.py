# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The registry client (OCI distribution API) over httpx.

One :class:`RegistryClient` per registry host owns a pooled keep-alive connection pool, the TLS
set-up and the authentication state; it is safe to share between threads.

- Retries: connect errors, timeouts, dropped connections, 408/425/429 and 5xx (but 501/505) are
  retried with exponential backoff and full jitter, honouring ``Retry-After``; the overall deadline
  bounds every wait.
- Blobs are streamed in bounded chunks, never held whole in memory. A download that breaks resumes
  with ``Range`` from the byte it reached. Uploads are monolithic (POST + PUT) up to
  ``chunked_threshold`` and chunked (PATCH with ``Content-Range``) above it, so a broken upload of a
  large blob resumes where the registry stands -- when its answer is exact (see chunked.py).
- 307/308 answers to an upload re-send the body to the new location (object-storage back ends);
  the Authorization header never follows a redirect to another host.
- TLS: the system trust store (``ssl.create_default_context()``, which reads ``SSL_CERT_FILE`` /
  ``SSL_CERT_DIR`` and the distribution bundle, unlike httpx's certifi default), plus ``ca_path``,
  plus ``/etc/containers/certs.d/<host:port>/`` (``*.crt`` CAs, ``*.cert``/``*.key`` client pairs)
  like containers/image. Plain HTTP or unverified TLS only for registries marked insecure.
"""

from __future__ import annotations

import email.utils
import glob
import http.cookiejar
import os
import random
import ssl
import threading
import time
from urllib.parse import urljoin, urlsplit

from .._oci import manifest as _manifest
from .auth import Authenticator, scope_for
from .chunked import UPLOAD_SESSION_LOST, ChunkedUpload, UploadState, status_of
from .chunked import session_lost as _session_lost
from .._oci.errors import (AuthError, DeadlineExceeded, DigestMismatch, NotFound, OCIError, RegistryError, TLSError,
                           redact_url)
from .._oci.reference import registry_endpoint

try:
    import httpx
    HTTPX_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - reported by the module with missing_required_lib
    httpx = None
    HTTPX_IMPORT_ERROR = _exc

USER_AGENT = "airgap.mirror/0.1"
CERTS_DIRS = ("/etc/containers/certs.d", "/etc/docker/certs.d")
TRANSIENT_STATUS = frozenset((408, 425, 429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524))
DEFAULT_CHUNK = 1024 * 1024
DEFAULT_CHUNKED_THRESHOLD = 128 * 1024 * 1024
DEFAULT_UPLOAD_CHUNK = 64 * 1024 * 1024
# blobs up to this size are asked about and started in one request (see RegistryClient.ensure_blob);
# sending one again where a registry cannot tell us it has it costs about as much as asking first
DEFAULT_PROBE_MAX = 8 * 1024 * 1024
# a manifest PUT refused for a child or blob that is there when checked again is sent again so often
MANIFEST_RECHECKS = 3
MAX_ERROR_ENTRIES = 20


class Deadline:
    """An optional point in time after which no new work starts and no wait is begun."""

    def __init__(self, seconds=None):
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds else None

    def remaining(self):
        return None if self.end is None else self.end - time.monotonic()

    def check(self, what=None):
        if self.end is not None and time.monotonic() >= self.end:
            raise DeadlineExceeded("the deadline of %ss passed%s" % (self.seconds, " during %s" % what if what else ""))


class RetryPolicy:
    def __init__(self, attempts=5, base=0.5, cap=30.0, max_retry_after=300.0, sleep=time.sleep):
        self.attempts = max(1, int(attempts))
        self.base = base
        self.cap = cap
        self.max_retry_after = max_retry_after
        self.sleep = sleep

    def delay(self, attempt, retry_after=None):
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return random.uniform(0, min(self.cap, self.base * (2 ** attempt)))


class Stats:
    """Thread-safe counters of what went over the wire (for results, benchmarks and tests)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.bytes_down = 0
        self.bytes_up = 0

    def add(self, **values):
        with self._lock:
            for key, value in values.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self):
        with self._lock:
            return {"requests": self.requests, "retries": self.retries,
                    "bytes_downloaded": self.bytes_down, "bytes_uploaded": self.bytes_up}


def parse_retry_after(value):
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_SSL_CONTEXTS = {}
_SSL_LOCK = threading.Lock()


def shared_ssl_context(registry, ca_path=None, client_cert=None, client_key=None, insecure=False,
                       certs_dirs=CERTS_DIRS):
    """:func:`build_ssl_context`, shared between registries whose TLS settings are the same (loading
    the system trust store costs tens of milliseconds)."""
    local = []
    for base in certs_dirs or ():
        directory = os.path.join(base, registry)
        if os.path.isdir(directory):
            local.extend(sorted(os.path.join(directory, n) for n in os.listdir(directory)))
    key = (ca_path, client_cert, client_key, bool(insecure), tuple(local))
    with _SSL_LOCK:
        ctx = _SSL_CONTEXTS.get(key)
        if ctx is None:
            ctx = _SSL_CONTEXTS[key] = build_ssl_context(registry, ca_path, client_cert, client_key, insecure,
                                                         certs_dirs)
        return ctx


def build_ssl_context(registry: str, ca_path: str | None = None, client_cert: str | None = None,
                      client_key: str | None = None, insecure: bool = False,
                      certs_dirs: tuple[str, ...] | list[str] | None = CERTS_DIRS) -> ssl.SSLContext:
    """System trust + ca_path + certs.d/<registry>/ (+ client certificate), or no verification."""
    if insecure:
        # nothing is verified: do not spend time loading the system trust store
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context()
    if not insecure and ca_path:
        for path in ca_files(ca_path):
            try:
                ctx.load_verify_locations(cafile=path)
            except (OSError, ssl.SSLError) as exc:
                raise TLSError("cannot load CA certificate %s: %s" % (path, exc)) from None
    pairs = []
    for base in certs_dirs or ():
        directory = os.path.join(base, registry)
        if not os.path.isdir(directory):
            continue
        if not insecure:
            for path in sorted(glob.glob(os.path.join(directory, "*.crt"))):
                try:
                    ctx.load_verify_locations(cafile=path)
                except (OSError, ssl.SSLError) as exc:
                    raise TLSError("cannot load CA certificate %s: %s" % (path, exc)) from None
        for cert in sorted(glob.glob(os.path.join(directory, "*.cert"))):
            key = cert[: -len(".cert")] + ".key"
            if os.path.exists(key):
                pairs.append((cert, key))
    if client_cert:
        pairs = [(client_cert, client_key)]
    for cert, key in pairs[:1]:
        try:
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise TLSError("cannot load client certificate %s: %s" % (cert, exc)) from None
    return ctx


def ca_files(ca_path: str) -> list[str]:
    """The certificate files *ca_path* names: itself (a PEM file) or the ``*.crt``/``*.pem`` files of
    a directory. Raises :class:`TLSError` saying which of missing, unreadable, not a file or a
    directory, or empty it is."""
    if not os.path.lexists(ca_path):
        raise TLSError("ca_path %s does not exist (give a PEM file, or a directory of *.crt/*.pem files)" % ca_path)
    if not os.path.exists(ca_path):
        raise TLSError("ca_path %s is a symbolic link to %s, which does not exist" % (ca_path, os.readlink(ca_path)))
    if os.path.isdir(ca_path):
        try:
            names = os.listdir(ca_path)
        except OSError as exc:
            raise TLSError("ca_path %s: cannot read the directory: %s" % (ca_path, exc.strerror or exc)) from None
        paths = sorted(os.path.join(ca_path, n) for n in names
                       if n.endswith((".crt", ".pem")) and not n.startswith(".")
                       and os.path.isfile(os.path.join(ca_path, n)))
        if not paths:
            raise TLSError("ca_path %s is a directory without a *.crt or *.pem file" % ca_path)
        return paths
    if not os.path.isfile(ca_path):
        raise TLSError("ca_path %s is not a regular file or a directory (give a PEM file, or a directory of "
                       "*.crt/*.pem files)" % ca_path)
    if not os.access(ca_path, os.R_OK):
        raise TLSError("ca_path %s is not readable by this user (uid %d)" % (ca_path, os.getuid()))
    return [ca_path]


def _is_tls_verify_error(exc):
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text or \
        "Hostname mismatch" in text or "IP address mismatch" in text


def _is_plain_http_answer(exc):
    text = str(exc)
    return "WRONG_VERSION_NUMBER" in text or "wrong version number" in text or "record layer failure" in text \
        or "packet length too long" in text or "http request" in text.lower()


def error_entries(response: "httpx.Response") -> list[tuple[str, str, str | None]]:
    """Every entry of a distribution error answer (``{"errors": [{"code", "message", "detail"}]}``)
    as ``(code, message, detail)``; ``detail`` only where it is a string (distribution puts the
    digest there for MANIFEST_BLOB_UNKNOWN). [] for a body that is not such an answer."""
    try:
        errors = response.json().get("errors") or []
    except Exception:  # the body is not the distribution error JSON
        return []
    out = []
    for entry in errors[:MAX_ERROR_ENTRIES] if isinstance(errors, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("code"), str):
            message = entry.get("message")
            detail = entry.get("detail")
            out.append((entry["code"][:64], message[:200] if isinstance(message, str) else "",
                        detail[:200] if isinstance(detail, str) and detail else None))
    return out


def describe_errors(entries: list[tuple[str, str, str | None]]) -> str:
    """``CODE: message (detail); CODE: message`` -- every entry, in the registry's order."""
    return "; ".join("%s: %s%s" % (code, message or "no message", " (%s)" % detail if detail else "")
                     for code, message, detail in entries)


class RegistryClient:
    """Talks to one registry. ``registry`` is the canonical name (``docker.io``, ``host:port``)."""

    def __init__(self, registry, credentials=None, ca_path=None, client_cert=None, client_key=None,
                 insecure=False, timeout=60.0, retry=None, max_connections=16, chunk_size=DEFAULT_CHUNK,
                 chunked_threshold=DEFAULT_CHUNKED_THRESHOLD, upload_chunk_size=DEFAULT_UPLOAD_CHUNK,
                 certs_dirs=CERTS_DIRS, deadline=None, stats=None, cancel=None, probe_max=DEFAULT_PROBE_MAX):
        if httpx is None:
            raise OCIError("the httpx Python library is required: %s" % HTTPX_IMPORT_ERROR)
        self.registry = registry
        self.endpoint = registry_endpoint(registry)
        self.insecure = insecure
        self.retry = retry or RetryPolicy()
        self.chunk_size = chunk_size
        self.chunked_threshold = chunked_threshold
        self.upload_chunk_size = upload_chunk_size
        self.probe_max = probe_max
        self.mount_probe = True  # False once the registry refused a mounting POST outright
        self.deadline = deadline or Deadline()
        self.stats = stats or Stats()
        self.cancel = cancel or threading.Event()
        ctx = shared_ssl_context(self.endpoint if registry != "docker.io" else registry, ca_path, client_cert,
                                 client_key, insecure, certs_dirs)
        no_cookies = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.Client(
            verify=ctx,
            timeout=httpx.Timeout(timeout, pool=None),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": USER_AGENT},
            cookies=no_cookies,
            follow_redirects=False,
            trust_env=True,
        )
        self.auth = Authenticator(registry, credentials, self._fetch_token)
        self._base = None
        self._ping_lock = threading.Lock()
        self.referrers_api = None  # unknown until asked; False after a registry answered 404

    # ------------------------------------------------------------------ plumbing

    def close(self):
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def base(self):
        if self._base is None:
            self.ping()
        return self._base

    def ping(self):
        """GET /v2/: decide the scheme (https, or http for an insecure registry) and learn the
        authentication challenge."""
        with self._ping_lock:
            if self._base is not None:
                return
            scheme = "https"
            if self.insecure:
                # one quick TLS probe: an insecure registry may well speak plain HTTP
                try:
                    self._client.get("https://%s/v2/" % self.endpoint).close()
                except httpx.TransportError:
                    scheme = "http"
            url = "%s://%s/v2/" % (scheme, self.endpoint)
            resp = self._send_with_retries("GET", url, scopes=(), auth=False, what="ping")
            resp.close()
            if resp.status_code == 401:
                self.auth.note_challenge(resp.headers.get("www-authenticate"))
            elif resp.status_code == 404:
                raise RegistryError("%s does not serve the registry API at /v2/" % self.registry, url=url, status=404)
            elif resp.status_code != 200:
                raise RegistryError("unexpected answer from %s" % self.registry, url=url, status=resp.status_code)
            self._base = "%s://%s" % (scheme, self.endpoint)

    def _fetch_token(self, realm, query, basic, form):
        headers = {"Accept": "application/json"}
        if basic:
            headers["Authorization"] = basic
        if form is not None:
            resp = self._send_with_retries("POST", realm, scopes=(), auth=False, data=form, headers=headers,
                                           what="token request", redirects=True)
        else:
            resp = self._send_with_retries("GET", realm, scopes=(), auth=False, params=query, headers=headers,
                                           what="token request", redirects=True)
        try:
            resp.read()
            if resp.status_code in (401, 403):
                raise AuthError("the token service refused the credentials for %s" % self.registry,
                                url=realm, status=resp.status_code)
            if resp.status_code != 200:
                raise RegistryError("token request for %s failed" % self.registry, url=realm,
                                    status=resp.status_code)
            try:
                return resp.json()
            except ValueError:
                raise AuthError("token service of %s answered with something that is not JSON" % self.registry,
                                url=realm) from None
        finally:
            resp.close()

    def _send_with_retries(self, method, url, scopes, auth=True, headers=None, content=None, params=None,
                           data=None, stream=False, what=None, redirects=False, image=None):
        """Send one request with authentication and retries; return the response (the caller
        closes it). *content* may be a callable returning a fresh body for every attempt."""
        attempt = 0
        auth_retried = False
        while True:
            if self.cancel.is_set():
                raise OCIError("cancelled", image=image, url=url)
            self.deadline.check(what or "%s %s" % (method, redact_url(url)))
            hdrs = dict(headers or {})
            if auth and urlsplit(url).netloc == self.endpoint:
                value = self.auth.header(scopes)
                if value:
                    hdrs["Authorization"] = value
            body = content() if callable(content) else content
            try:
                request = self._client.build_request(method, url, headers=hdrs, content=body, params=params,
                                                     data=data)
                self.stats.add(requests=1)
                resp = self._client.send(request, stream=stream, follow_redirects=redirects)
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.ConnectError) and _is_tls_verify_error(exc):
                    raise TLSError(
                        "TLS verification of %s failed (%s): give the registry's CA certificate with the "
                        "ca_path option, install it in the system trust store or in "
                        "/etc/containers/certs.d/%s/ca.crt, or - for a test registry only - list %s in "
                        "insecure_registries" % (self.registry, _short(exc), self.endpoint, self.registry),
                        url=url, image=image) from None
                if isinstance(exc, httpx.ConnectError) and _is_plain_http_answer(exc):
                    err = RegistryError("%s does not speak TLS (plain HTTP?); list it in insecure_registries "
                                        "if that is intended" % self.registry, url=url, image=image)
                    err.plain_http = True
                    raise err from None
                if isinstance(exc, httpx.UnsupportedProtocol):
                    raise RegistryError(str(exc), url=url, image=image) from None
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise RegistryError("%s failed after %d attempts: %s" % (what or method, attempt, _short(exc)),
                                        url=url, image=image, transient=True) from None
                self._wait(self.retry.delay(attempt - 1), what)
                continue
            if resp.status_code == 401 and auth and not auth_retried:
                challenge = resp.headers.get("www-authenticate")
                resp.close()
                if challenge:
                    self.auth.note_challenge(challenge)
                    self.auth.invalidate(scopes)
                    auth_retried = True
                    continue
                raise AuthError("%s refused the request without saying how to authenticate" % self.registry,
                                url=url, status=401, image=image)
            if resp.status_code in TRANSIENT_STATUS:
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
                resp.close()
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise RegistryError("%s failed after %d attempts" % (what or method, attempt), url=url,
                                        status=resp.status_code, image=image, transient=True)
                self._wait(self.retry.delay(attempt - 1, retry_after), what)
                continue
            return resp

    def _wait(self, seconds, what):
        remaining = self.deadline.remaining()
        if remaining is not None and seconds >= remaining:
            raise DeadlineExceeded("the deadline of %ss would pass while waiting %.1fs to retry %s"
                                   % (self.deadline.seconds, seconds, what or "a request"))
        self.stats.add(retries=1)
        if self.cancel.wait(seconds):
            raise OCIError("cancelled")

    def _check(self, resp, expected, what, image=None):
        if resp.status_code in expected:
            return
        try:
            resp.read()
        except httpx.HTTPError:
            pass
        resp.close()
        entries = error_entries(resp)
        codes = tuple(entry[0] for entry in entries)
        code = codes[0] if codes else None
        detail = describe_errors(entries) or "unexpected status"
        url = str(resp.request.url)
        status = resp.status_code
        lost = [c for c in codes if c in UPLOAD_SESSION_LOST]
        if lost and status in (400, 404):
            # distribution answers so when a session's state token no longer matches (registry
            # restarted with another http.secret, upload purged or cancelled): not bad content
            raise RegistryError("%s: the registry no longer knows the upload session (%s)" % (what, detail),
                                url=url, status=status, image=image, code=lost[0], codes=codes)
        if "MANIFEST_BLOB_UNKNOWN" in codes and status in (400, 404):
            # with DIGEST_INVALID beside it when distribution read a link another client was
            # rewriting: about what the manifest refers to, not its own bytes (see put_manifest)
            raise RegistryError("%s: refused, the registry reports something the manifest refers to as missing (%s)"
                                % (what, detail), url=url, status=status, image=image,
                                code="MANIFEST_BLOB_UNKNOWN", codes=codes)
        if status == 404:
            raise NotFound("%s: not found (%s)" % (what, detail), url=url, status=404, image=image, code=code,
                           codes=codes)
        if status in (401, 403):
            raise AuthError("%s: access denied (%s); check the credentials for %s" % (what, detail, self.registry),
                            url=url, status=status, image=image, code=code, codes=codes)
        if code == "DIGEST_INVALID" and status == 400:
            raise DigestMismatch("%s: the registry rejected the content as not matching its digest (%s)"
                                 % (what, detail), url=url, status=400, image=image)
        raise RegistryError("%s failed (%s)" % (what, detail), url=url, status=status, image=image,
                            code=code, codes=codes)

    def _url(self, path):
        return self.base + path

    # ------------------------------------------------------------------ manifests

    def head_manifest(self, repo, ref, image=None):
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

    def get_manifest(self, repo, ref, image=None):
        """(bytes, content type). Verifies the bytes when *ref* is a digest."""
        url = self._url("/v2/%s/manifests/%s" % (repo, ref))
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
        except httpx.TransportError as exc:
            raise RegistryError("reading manifest %s:%s failed: %s" % (repo, ref, _short(exc)), url=url,
                                image=image, transient=True) from None
        finally:
            resp.close()
        self.stats.add(bytes_down=len(data))
        data = bytes(data)
        if ref.startswith("sha256:") or ref.startswith("sha512:"):
            _manifest.verify_digest(data, ref, what="manifest %s@%s" % (repo, ref), image=image)
        return data, (resp.headers.get("content-type") or "").split(";")[0].strip()

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str, image: object = None) -> str | None:
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

    def _missing_references(self, repo: str, data: bytes, media_type: str, image: object = None) -> list[str]:
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

    def _put_manifest_once(self, repo, ref, data, media_type, image=None):
        url = self._url("/v2/%s/manifests/%s" % (repo, ref))
        resp = self._send_with_retries("PUT", url, (scope_for(repo, ["pull", "push"]),),
                                       headers={"Content-Type": media_type}, content=data, what="PUT manifest",
                                       image=image)
        self._check(resp, (201, 200), "PUT manifest %s:%s" % (repo, ref), image)
        resp.close()
        self.stats.add(bytes_up=len(data))
        return resp.headers.get("docker-content-digest")

    def delete_manifest(self, repo, digest, image=None):
        url = self._url("/v2/%s/manifests/%s" % (repo, digest))
        resp = self._send_with_retries("DELETE", url, (scope_for(repo, ["pull", "push", "delete"]),),
                                       what="DELETE manifest", image=image)
        resp.close()
        if resp.status_code == 404:
            return False
        self._check(resp, (202, 200), "DELETE manifest %s@%s" % (repo, digest), image)
        return True

    def list_tags(self, repo, image=None):
        """Every tag of a repository ([] if the repository does not exist), following pagination."""
        tags = []
        url = self._url("/v2/%s/tags/list" % repo)
        while url:
            resp = self._send_with_retries("GET", url, (scope_for(repo, ["pull"]),), what="list tags",
                                           image=image, redirects=True)
            if resp.status_code == 404:
                resp.close()
                return tags
            self._check(resp, (200,), "list tags of %s" % repo, image)
            try:
                tags.extend((resp.json() or {}).get("tags") or [])
            except ValueError:
                raise RegistryError("tag list of %s is not JSON" % repo, url=url, image=image) from None
            finally:
                resp.close()
            link = resp.headers.get("link")
            url = None
            if link and 'rel="next"' in link:
                target = link.split(";")[0].strip().strip("<>")
                url = urljoin(self.base + "/", target)
        return tags

    def referrers(self, repo, digest, image=None):
        """The referrers index of *digest* (OCI distribution 1.1 referrers API), or None where the
        registry does not implement it. A registry that implements it answers 200 with an index,
        empty when nothing refers to the digest; 404 means no API, remembered for the registry."""
        if self.referrers_api is False:
            return None
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

    def head_blob(self, repo, digest, image=None):
        """Size of the blob in *repo*, or None if absent."""
        url = self._url("/v2/%s/blobs/%s" % (repo, digest))
        resp = self._send_with_retries("HEAD", url, (scope_for(repo, ["pull"]),), what="HEAD blob", image=image,
                                       redirects=True)
        resp.close()
        if resp.status_code == 404:
            return None
        self._check(resp, (200,), "HEAD blob %s@%s" % (repo, digest), image)
        return int(resp.headers.get("content-length") or -1)

    def open_blob(self, repo, digest, size, offset=0, image=None):
        """An iterator over the blob's bytes from *offset*, resuming with Range after a broken
        connection. The caller verifies the digest where it must."""
        return _BlobDownload(self, repo, digest, size, offset, image)

    def _post_upload(self, repo, image, mount=None, from_repo=None):
        """The POST that opens an upload session in *repo* (``mount``: also ask the registry to
        mount that digest from *from_repo*, by default *repo* itself). Returns the closed response
        and the absolute session URL (None without a Location)."""
        url = self._url("/v2/%s/blobs/uploads/" % repo)
        scopes = (scope_for(repo, ["pull", "push"]),)
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

    def mount_blob(self, repo, digest, from_repo, image=None):
        """Cross-repository mount; True when the registry mounted the blob (a session it opened
        instead is cancelled)."""
        resp, location = self._post_upload(repo, image, mount=digest, from_repo=from_repo)
        if resp.status_code == 201:
            return True
        if resp.status_code == 202 and location:
            self._cancel_upload(location, repo)
        return False

    def start_upload(self, repo, image=None, mount=None, from_repo=None):
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

    def ensure_blob(self, repo, digest, size, opener, image=None, session=None, from_repo=None):
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
                cursor = _SourceCursor(opener)
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

    def _cancel_upload(self, location, repo):
        try:
            resp = self._send_with_retries("DELETE", location, (scope_for(repo, ["pull", "push"]),),
                                           what="cancel upload")
            resp.close()
        except OCIError:
            pass  # an abandoned session is purged by the registry

    def upload_status(self, location: str, repo: str) -> UploadState | None:
        """Where an upload session stands (see chunked.py), or None if the session is gone."""
        return status_of(self, location, repo)

    def upload_blob(self, repo, digest, size, opener, image=None, session=None):
        """Upload a blob. *opener(offset)* returns an iterable of the blob's bytes from *offset*
        (it is called again to re-send after a failure or a redirect). *session* optionally
        persists the chunked-upload location across processes (see chunked.ChunkedUpload)."""
        cursor = _SourceCursor(opener)
        try:
            if size <= self.chunked_threshold:
                self._upload_monolithic(repo, digest, size, cursor, image)
            else:
                ChunkedUpload(self, repo, digest, size, cursor, image, session).run()
        finally:
            cursor.close()

    def _upload_monolithic(self, repo, digest, size, cursor, image, location=None):
        scopes = (scope_for(repo, ["pull", "push"]),)
        attempt = 0
        while True:
            if location is None:
                location = self.start_upload(repo, image)
            try:
                resp = self._send_body("PUT", location, scopes, cursor, 0, size, {"digest": digest}, image)
                self._check(resp, (201,), "upload of blob %s to %s" % (digest, repo), image)
                resp.close()
                return
            except RegistryError as exc:
                attempt += 1
                if not (exc.transient or _session_lost(exc)) or attempt >= self.retry.attempts:
                    raise
                location = None  # a new session for the next attempt
                self._wait(self.retry.delay(attempt - 1), "blob upload")

    def _send_body(self, method, location, scopes, cursor, offset, length, params, image, content_range=None):
        """Send *length* bytes from *offset* (read from the :class:`_SourceCursor`) to an upload
        location, re-sending on 307/308."""
        for _hop in range(5):
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
            if content_range:
                headers["Content-Range"] = content_range
            url = location
            if params:
                sep = "&" if "?" in url else "?"
                url = url + sep + "&".join("%s=%s" % kv for kv in params.items())
            counted = _Counting(cursor.take(offset, length), self.stats, self.deadline,
                                "an upload to %s" % redact_url(url))
            resp = self._send_once(method, url, scopes, headers, counted, image)
            if resp.status_code in (307, 308) and resp.headers.get("location"):
                resp.close()
                location = urljoin(url, resp.headers["location"])
                params = None  # the new location carries everything it needs
                continue
            return resp
        raise RegistryError("too many upload redirects", url=location, image=image)

    def _send_once(self, method, url, scopes, headers, body, image):
        """One streamed request: a failure is reported as transient (the caller resumes)."""
        if self.cancel.is_set():
            raise OCIError("cancelled", image=image)
        self.deadline.check("blob upload")
        hdrs = dict(headers)
        if urlsplit(url).netloc == self.endpoint:
            value = self.auth.header(scopes)
            if value:
                hdrs["Authorization"] = value
        try:
            self.stats.add(requests=1)
            resp = self._client.send(self._client.build_request(method, url, headers=hdrs, content=body))
        except httpx.TransportError as exc:
            raise RegistryError("upload interrupted: %s" % _short(exc), url=url, image=image,
                                transient=True) from None
        except _SourceError as exc:
            # the source already retried on its own: do not retry the upload for it
            exc.error.transient = False
            raise exc.error from None
        if resp.status_code == 401:
            challenge = resp.headers.get("www-authenticate")
            resp.close()
            if challenge:
                self.auth.note_challenge(challenge)
                self.auth.invalidate(scopes)
            raise RegistryError("upload needed new credentials", url=url, status=401, image=image, transient=True)
        if resp.status_code in TRANSIENT_STATUS:
            resp.close()
            raise RegistryError("upload failed", url=url, status=resp.status_code, image=image, transient=True)
        return resp

    def _send_simple(self, method, path, scopes):  # small helper for tests and tools
        return self._send_with_retries(method, self._url(path), scopes)


class _SourceError(Exception):
    """Wraps an error of the *source* while streaming into an upload, so it is not mistaken for an
    upload failure."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class _SourceCursor:
    """The source of an upload, read sequentially across its requests (the chunks of a chunked
    upload): one source stream serves every chunk, and it is re-opened at the needed offset only
    when a request does not continue where the previous one stopped (after a failure, a redirect,
    or a resumed session)."""

    def __init__(self, opener):
        self._opener = opener
        self._source = None
        self._iter = None
        self._offset = None
        self._pending = b""

    def take(self, offset, length):
        """Yield exactly *length* bytes of the blob from *offset*."""
        if length <= 0:
            return
        if offset != self._offset:
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
                    raise _SourceError(OCIError("the source ended %d bytes early" % remaining)) from None
                except OCIError as exc:
                    raise _SourceError(exc) from None
            if len(chunk) > remaining:
                self._pending = chunk[remaining:]
                chunk = chunk[:remaining]
            remaining -= len(chunk)
            self._offset += len(chunk)
            if chunk:
                yield chunk

    def close(self):
        if self._source is not None:
            _close(self._source)
        self._source = self._iter = self._offset = None
        self._pending = b""


def _take(iterable, length):
    """Yield exactly *length* bytes from *iterable* (which may yield more)."""
    remaining = length
    iterator = iter(iterable)
    while remaining > 0:
        try:
            chunk = next(iterator)
        except StopIteration:
            raise _SourceError(OCIError("the source ended %d bytes early" % remaining)) from None
        except OCIError as exc:
            raise _SourceError(exc) from None
        if len(chunk) > remaining:
            chunk = chunk[:remaining]
        remaining -= len(chunk)
        if chunk:
            yield chunk


class _Counting:
    def __init__(self, iterable, stats, deadline=None, what=None):
        self._it = iterable
        self._stats = stats
        self._deadline = deadline
        self._what = what

    def __iter__(self):
        for chunk in self._it:
            if self._deadline is not None:
                self._deadline.check(self._what)
            self._stats.add(bytes_up=len(chunk))
            yield chunk


def _close(obj):
    close = getattr(obj, "close", None)
    if close:
        close()


def _short(exc):
    text = str(exc) or type(exc).__name__
    return redact_url(text)[:300]


class _BlobDownload:
    """Iterates a blob's bytes; resumes with Range from the received offset after a failure."""

    def __init__(self, client, repo, digest, size, offset, image):
        self.client = client
        self.repo = repo
        self.digest = digest
        self.size = size
        self.offset = offset
        self.image = image
        self._resp = None

    def close(self):
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def __iter__(self):
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
                    for chunk in resp.iter_raw():
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
                        yield chunk
                except httpx.TransportError as exc:
                    failures += 1
                    if failures >= client.retry.attempts:
                        raise RegistryError("download of blob %s failed after %d attempts: %s"
                                            % (self.digest, failures, _short(exc)), url=url, image=self.image,
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
