# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The HTTP side of a registry client over httpx: one pooled keep-alive connection pool per
registry host, the TLS set-up, the scheme (https, or http for an insecure registry), the
authentication challenge flow and requests sent with authentication and retries.

The Authorization header is sent to the registry's own host only: never to a redirect target on
another host (object storage) and never to the token service, which gets Basic credentials only
where it asks for them."""

from __future__ import annotations

import http.cookiejar
import itertools
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union
from urllib.parse import urlsplit

from ..._common.http_library import HTTPX_IMPORT_ERROR, httpx
from ..._oci.errors import AuthError, DeadlineExceeded, OCIError, RegistryError, TLSError, redact_url
from ..._oci.reference import registry_endpoint
from ..auth import Authenticator
from .errors import is_plain_http_answer, is_tls_verify_error, refusal, short
from .options import ClientOptions, Shared
from .limits import Limiters
from .retry import TRANSIENT_STATUS, RetryPolicy, parse_retry_after
from .tls import shared_ssl_context


USER_AGENT = "airgap.mirror/0.1"

#: connections per connection pool: a registry's connections are split into pools this size
SHARD_CONNECTIONS = 4
Body = Union[bytes, Callable[[], bytes], None]


def shard_sizes(max_connections: int) -> tuple[int, int]:
    """(pools, connections per pool) for *max_connections* connections to one registry.

    One httpx pool serialises every request's hand-over under one lock, and with 32 threads on it
    that lock, not the network, set the pace (measured with 600 requests from 32 threads: a
    third less client CPU with 8 pools of 4). So a registry gets pools of
    :data:`SHARD_CONNECTIONS`, and each thread keeps to one of them; the total stays
    *max_connections*."""
    shards = max(1, max_connections // SHARD_CONNECTIONS)
    return shards, max(1, -(-max_connections // shards))


class Transport:
    """Sends requests to one registry. ``registry`` is the canonical name (``docker.io``,
    ``host:port``); *options* configure it, *shared* is what it shares with the other clients of a
    run (a new one of its own by default)."""

    def __init__(self, registry: str, options: ClientOptions | None = None, shared: Shared | None = None) -> None:
        if httpx is None:
            raise OCIError("the httpx Python library is required: %s" % HTTPX_IMPORT_ERROR)
        options = options or ClientOptions()
        shared = shared or Shared(retry=RetryPolicy(attempts=options.retries),
                                  limiters=Limiters(options.registry_limits))
        self.registry = registry
        self.options = options
        self.endpoint = registry_endpoint(registry)
        self.insecure = options.insecure(registry)
        self.retry = shared.retry
        self.deadline = shared.deadline
        self.stats = shared.stats
        self.cancel = shared.cancel
        self.limiter = shared.limiters.get(registry)
        ctx = shared_ssl_context(self.endpoint if registry != "docker.io" else registry, options.ca_path,
                                 options.client_cert, options.client_key, self.insecure, options.certs_dirs)
        no_cookies = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        shards, per_shard = shard_sizes(options.max_connections)
        self._shards = [httpx.Client(
            verify=ctx,
            timeout=httpx.Timeout(options.timeout, pool=None),
            limits=httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard),
            headers={"User-Agent": USER_AGENT},
            cookies=no_cookies,
            follow_redirects=False,
            trust_env=True,
        ) for _shard in range(shards)]
        #: builds requests (any shard would: they share every setting); sending goes through _pick()
        self._client = self._shards[0]
        self._local = threading.local()
        self._turn = itertools.count()
        self.auth = Authenticator(registry, options.credentials, self._fetch_token)
        #: https://host of a registry spoken to over verified https; for an insecure one, the ping decides
        self._base: str | None = None if self.insecure else "https://%s" % self.endpoint
        self._ping_lock = threading.Lock()
        self._api_check: _ApiCheck | None = None

    def close(self) -> None:
        for client in self._shards:
            client.close()

    def _pick(self) -> httpx.Client:
        """The connection pool of the calling thread: threads are dealt to the shards in turn
        when they first send (see :func:`shard_sizes`)."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._shards[next(self._turn) % len(self._shards)]
        return client

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base(self) -> str:
        if self._base is None:
            self.ping()
        elif self._api_check is None and not self.insecure:
            self._ping_beside()
        if self._base is None:
            raise AssertionError('bug: expected self._base is not None')
        return self._base

    def ping(self) -> None:
        """GET /v2/ of an insecure registry, before any other request to it: decide the scheme
        (https when that is answered at all, else plain http) and learn the authentication
        challenge. A registry spoken to over verified https is asked beside its first requests
        instead (:meth:`_ping_beside`)."""
        with self._ping_lock:
            if self._base is not None:
                return
            scheme, resp = self._ping_insecure()
            refused = self._ping_answer(scheme, resp)
            if refused is not None:
                raise RegistryError(refused[0], url=refused[1], status=refused[2])
            self._base = "%s://%s" % (scheme, self.endpoint)

    def _ping_answer(self, scheme: str, resp: httpx.Response) -> tuple[str, str, int] | None:
        """Note the challenge of a 401 answer to GET /v2/; (message, url, status) of the error an
        answer means that no registry is there (404, or another status than 200 and 401)."""
        url = "%s://%s/v2/" % (scheme, self.endpoint)
        if resp.status_code == 401:
            self.auth.note_challenge(resp.headers.get("www-authenticate"))
        elif resp.status_code == 404:
            return "%s does not serve the registry API at /v2/" % self.registry, url, 404
        elif resp.status_code != 200:
            return "unexpected answer from %s" % self.registry, url, resp.status_code
        return None

    def _ping_beside(self) -> None:
        """GET /v2/ of a registry spoken to over verified https, once, in the background: the
        scheme is known, so the first requests go out at once instead of waiting for it (on a link
        of 150 ms that wait, and the connections opened only after it, cost 0.6 s of a 150-image
        plan: ``bench/https_plan.py``). Its challenge is noted when it comes (a request answered
        401 before that notes the same one), and a request refused otherwise (404, 405, 501...)
        waits for it (:meth:`_confirm_api`), so that a host that serves no registry API is still
        named as such, not as one where the image is missing."""
        with self._ping_lock:
            if self._api_check is not None:
                return
            check = self._api_check = _ApiCheck()
        threading.Thread(target=self._run_api_check, args=(check,), name="airgap-ping-%s" % self.endpoint,
                         daemon=True).start()

    def _run_api_check(self, check: _ApiCheck) -> None:
        try:
            check.refused = self._ping_answer("https", self._ping_over("https"))
        except Exception:  # pylint: disable=broad-except  # the requests beside it meet the same failure and report it
            pass
        finally:
            check.done.set()

    def _confirm_api(self, resp: httpx.Response, url: str, image: str | None) -> None:
        """For *resp*, a refusal (4xx, 5xx) of *url*: when it is a registry API path and the /v2/
        check beside the first requests found no registry at this host, raise that instead. Its
        body is read first (which closes it and frees its connection slot: with
        ``registry_limits`` the check may be waiting for that slot), and stays readable."""
        check = self._api_check
        if check is None or (check.done.is_set() and check.refused is None):
            return
        parts = urlsplit(url)
        if parts.netloc != self.endpoint or not parts.path.startswith("/v2/") or parts.path == "/v2/":
            return
        try:
            resp.read()
        except httpx.HTTPError:
            resp.close()
        check.done.wait()
        if check.refused is not None:
            message, where, status = check.refused
            raise RegistryError(message, url=where, status=status, image=image)

    def _ping_over(self, scheme: str) -> httpx.Response:
        resp = self._send_with_retries("GET", "%s://%s/v2/" % (scheme, self.endpoint), scopes=(), auth=False,
                                       what="ping")
        resp.close()
        return resp

    def _ping_insecure(self) -> tuple[str, httpx.Response]:
        """(scheme, answer to GET /v2/) of an insecure registry, which may speak https (its
        certificate not verified) or plain http. One https GET decides: https when it is answered
        at all, http when it breaks. One plain http GET goes out beside it, so a plain registry
        costs one round of connection set-up, not two in a row; its answer is dropped when https
        is answered, and asked again with retries when it was not a usable one. Neither carries
        credentials; only the answer used is counted in the run's requests."""
        answer: queue.Queue[httpx.Response | None] = queue.Queue(maxsize=1)

        def plain() -> None:
            try:
                answer.put(self._send(self._client.build_request("GET", "http://%s/v2/" % self.endpoint)))
            except Exception:  # pylint: disable=broad-except  # asked again with retries if needed
                answer.put(None)

        threading.Thread(target=plain, name="airgap-ping-%s" % self.endpoint, daemon=True).start()
        try:
            resp = self._send(self._client.build_request("GET", "https://%s/v2/" % self.endpoint))
        except httpx.TransportError:
            got = answer.get()
            if got is not None and got.status_code in (200, 401, 404):
                self.stats.request(self.registry)  # it is the ping
                return "http", got
            return "http", self._ping_over("http")
        resp.close()
        if resp.status_code in (200, 401, 404):
            self.stats.request(self.registry)  # it is the ping
            return "https", resp
        return "https", self._ping_over("https")  # a transient answer: ask again, with retries

    def fetch(self, url: str, headers: Mapping[str, str] | None = None, what: str | None = None) -> httpx.Response:
        """GET *url* (any path on this host, https or http) without registry authentication, streamed,
        redirects followed, with this client's TLS settings, retries and deadline; the caller closes
        the response. For plain files next to the images (``_artifacts``)."""
        return self._send_with_retries("GET", url, scopes=(), auth=False, headers=headers, stream=True,
                                       what=what or "GET %s" % redact_url(url), redirects=True)

    def fetch_small(self, url: str, what: str, limit: int, missing_ok: bool = False) -> bytes | None:
        """The whole body at *url* (a checksum file, a signature, a chart index or package), at most
        *limit* bytes; None for a 404 when *missing_ok*. Every failure is an OCIError whose message
        names *what* and *url*."""
        named = "%s %s" % (what, redact_url(url))
        try:
            resp = self.fetch(url, what=named)
        except OCIError as exc:
            raise OCIError("%s: %s" % (named, exc.message), url=url, status=exc.status) from None
        try:
            if resp.status_code == 404 and missing_ok:
                return None
            if resp.status_code != 200:
                raise OCIError("%s: HTTP %d%s" % (named, resp.status_code,
                                                  " (not found)" if resp.status_code == 404 else ""),
                               url=url, status=resp.status_code)
            data = bytearray()
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise OCIError("%s is larger than %d bytes" % (named, limit), url=url)
            return bytes(data)
        except httpx.TransportError as exc:
            raise OCIError("%s: the connection broke: %s" % (named, exc), url=url) from None
        finally:
            resp.close()

    def _fetch_token(self, realm: str, query: Sequence[tuple[str, str]], basic: str | None,
                     form: Mapping[str, str] | None) -> Any:
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

    def _send_with_retries(self, method: str, url: str, scopes: Sequence[str], auth: bool = True,
                           headers: Mapping[str, str] | None = None, content: Body = None,
                           params: Any = None, data: Mapping[str, str] | None = None, stream: bool = False,
                           what: str | None = None, redirects: bool = False,
                           image: str | None = None) -> httpx.Response:
        """Send one request with authentication and retries; return the response (the caller
        closes it). *content* may be a callable returning a fresh body for every attempt."""
        attempt = 0
        auth_retries = 0
        while True:
            if self.cancel.is_set():
                raise OCIError("cancelled", image=image, url=url)
            self.deadline.check(what or "%s %s" % (method, redact_url(url)))
            hdrs = dict(headers or {})
            used = self.authorize(hdrs, url, scopes, fresh=auth_retries >= 2) if auth else None
            body = content() if callable(content) else content
            try:
                request = self._client.build_request(method, url, headers=hdrs, content=body, params=params,
                                                     data=data)
                self.stats.request(self.registry)
                resp = self._send(request, stream=stream, redirects=redirects)
            except httpx.TransportError as exc:
                self._raise_unretryable(exc, url, image)
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise RegistryError("%s failed after %d attempts: %s" % (what or method, attempt, short(exc)),
                                        url=url, image=image, transient=True) from None
                self._wait(self.retry.delay(attempt - 1), what)
                continue
            if resp.status_code == 401 and auth and auth_retries < self._auth_retry_limit():
                challenge = resp.headers.get("www-authenticate")
                resp.close()
                if challenge:
                    self.auth.note_challenge(challenge)
                    self.auth.invalidate(scopes, used)
                    auth_retries += 1
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
            if resp.status_code >= 400:
                self._confirm_api(resp, url, image)
            return resp

    def authorize(self, headers: dict[str, str], url: str, scopes: Sequence[str], fresh: bool = False) -> str | None:
        """Add this registry's Authorization for *scopes* to *headers* when *url* is on this
        registry (never to a redirect's or a token service's host); return the value sent, which
        a refused request hands to ``auth.invalidate``."""
        if urlsplit(url).netloc != self.endpoint:
            return None
        value = self.auth.header(scopes, fresh=fresh)
        if value:
            headers["Authorization"] = value
        return value

    def _auth_retry_limit(self) -> int:
        """How often one request is sent again after a 401. Basic: once (the challenge may be
        new). Bearer: twice. The first retry takes the cached token, which another thread may
        have just fetched after its own 401; with a token service that overstates
        ``expires_in`` that token may be near its real end, so the second retry fetches its own
        token. A 401 to a token fetched a moment before is a refusal."""
        return 2 if self.auth.scheme == "bearer" else 1

    def _send(self, request: httpx.Request, stream: bool = False, redirects: bool = False) -> httpx.Response:
        """THE place every request to this registry goes through (its token service and the
        redirects it answers with included): wait for the registry's limits (a connection slot,
        a pause its rate-limit headers asked for, a token), send, note the rate-limit headers of
        its answer. The slot is held until the response is closed."""
        slot = self.limiter.acquire(self._limit_wait, download=request.method == "GET" and stream)
        try:
            resp = self._pick().send(request, stream=stream, follow_redirects=redirects)
        except BaseException:
            slot.release()
            raise
        self.limiter.observe((resp.history[0] if resp.history else resp).headers)
        if resp.is_closed:
            slot.release()
        else:
            resp.stream = _Releasing(resp.stream, slot.release)
        return resp

    def _limit_wait(self, seconds: float) -> None:
        """Wait *seconds* for this registry's limits; give up when the run is cancelled or its
        deadline would pass first."""
        self.deadline.check("a request to %s" % self.registry)
        remaining = self.deadline.remaining()
        if remaining is not None and seconds >= remaining:
            raise DeadlineExceeded("the deadline of %ss would pass while waiting %.1fs for the limits of %s"
                                   % (self.deadline.seconds, seconds, self.registry))
        if self.cancel.wait(seconds) if seconds > 0 else self.cancel.is_set():
            raise OCIError("cancelled")

    def _raise_unretryable(self, exc: httpx.TransportError, url: str, image: str | None) -> None:
        """Raise what a transport error that trying again cannot cure means (an untrusted
        certificate, a server speaking plain HTTP, an unsupported URL scheme)."""
        if isinstance(exc, httpx.ConnectError) and is_tls_verify_error(exc):
            raise TLSError(
                "TLS verification of %s failed (%s): give the registry's CA certificate with the "
                "ca_path option, install it in the system trust store or in "
                "/etc/containers/certs.d/%s/ca.crt, or - for a test registry only - list %s in "
                "insecure_registries" % (self.registry, short(exc), self.endpoint, self.registry),
                url=url, image=image) from None
        if isinstance(exc, httpx.ConnectError) and is_plain_http_answer(exc):
            err = RegistryError("%s does not speak TLS (plain HTTP?); list it in insecure_registries "
                                "if that is intended" % self.registry, url=url, image=image)
            err.plain_http = True  # type: ignore[attr-defined]
            raise err from None
        if isinstance(exc, httpx.UnsupportedProtocol):
            raise RegistryError(str(exc), url=url, image=image) from None

    def _wait(self, seconds: float, what: str | None) -> None:
        remaining = self.deadline.remaining()
        if remaining is not None and seconds >= remaining:
            raise DeadlineExceeded("the deadline of %ss would pass while waiting %.1fs to retry %s"
                                   % (self.deadline.seconds, seconds, what or "a request"))
        self.stats.add(retries=1)
        if self.cancel.wait(seconds):
            raise OCIError("cancelled")

    def _check(self, resp: httpx.Response, expected: Sequence[int], what: str, image: str | None = None) -> None:
        """Return when *resp* has an *expected* status; else read and close it and raise what the
        registry's answer means."""
        if resp.status_code in expected:
            return
        try:
            resp.read()
        except httpx.HTTPError:
            pass
        resp.close()
        raise refusal(resp, what, self.registry, image)

    def _url(self, path: str) -> str:
        return self.base + path


class _ApiCheck:
    """The GET /v2/ sent beside a registry's first requests: ``done`` once answered (or failed),
    ``refused`` the (message, url, status) of an answer that no registry is there."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.refused: tuple[str, str, int] | None = None


class _Releasing(httpx.SyncByteStream if httpx is not None else object):  # type: ignore[misc]
    """A response body that calls *release* once it is closed (read to its end or not)."""

    def __init__(self, inner: Any, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    def __iter__(self) -> Any:
        return iter(self._inner)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._release()
