# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Registry credentials and the authentication challenge flow.

Credentials come, first match wins, from: explicit username/password for a registry; the auth file
given explicitly; ``$REGISTRY_AUTH_FILE``; ``$XDG_RUNTIME_DIR/containers/auth.json``;
``~/.config/containers/auth.json``; ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``.
Entries can be scoped to a repository (``quay.io/org/repo``, containers auth.json style); the most
specific key wins. ``credHelpers``/``credsStore`` run ``docker-credential-<name> get``.

Challenges: ``Basic`` sends the credentials; ``Bearer`` fetches a token from the realm with one
``repository:<name>:<actions>`` scope per repository (several registries refuse or truncate tokens
that carry many scopes). Tokens are cached per scope set until shortly before they expire (see
:mod:`.tokens`: one fetch per scope set at a time, and a token asked for more also serves requests
that need less), and a 401 on a request that carried a token drops it and authenticates again once
(tokens that expire mid-run, or registries restarted with another signing key). A run that will push
to a repository asks for ``pull,push`` on it from its first request (:meth:`Authenticator.expect`).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, Tuple

from .._oci import authfile as _authfile
from .._oci.errors import AuthError
from .tokens import TokenCache, split_scope

TOKEN_EXPIRY_MARGIN = 10.0
if TYPE_CHECKING:  # pragma: no cover
    # (realm, query, Basic header or None, form or None) -> the JSON answer of the token endpoint
    TokenFetcher = Callable[[str, Sequence[Tuple[str, str]], Optional[str], Optional[Mapping[str, str]]], Any]
DEFAULT_TOKEN_LIFETIME = 60.0


class Credentials:
    """username/password, or an identity (refresh) token. ``repr`` never shows the secret."""

    __slots__ = ("username", "password", "identity_token")

    def __init__(self, username: str | None = None, password: str | None = None,
                 identity_token: str | None = None) -> None:
        self.username = username
        self.password = password
        self.identity_token = identity_token

    def basic_header(self) -> str:
        raw = ("%s:%s" % (self.username or "", self.password or "")).encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __bool__(self) -> bool:
        return bool(self.username or self.password or self.identity_token)

    def __repr__(self) -> str:
        return "Credentials(username=%r, password=<hidden>)" % self.username


def default_auth_files(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    home = env.get("HOME") or os.path.expanduser("~")
    files = []
    if env.get("REGISTRY_AUTH_FILE"):
        files.append(env["REGISTRY_AUTH_FILE"])
    if env.get("XDG_RUNTIME_DIR"):
        files.append(os.path.join(env["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    files.append(os.path.join(home, ".config", "containers", "auth.json"))
    docker_config = env.get("DOCKER_CONFIG") or os.path.join(home, ".docker")
    files.append(os.path.join(docker_config, "config.json"))
    return files


class AuthFile:
    """One parsed auth file (containers auth.json or docker config.json)."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.path = path
        self.auths: dict[str, dict[str, Any]] = {}
        for key, entry in (data.get("auths") or {}).items():
            if isinstance(entry, dict):
                self.auths[_authfile.normalize_key(key)] = entry
        self.cred_helpers = {_authfile.normalize_key(k): v for k, v in (data.get("credHelpers") or {}).items()}
        self.creds_store = data.get("credsStore")

    @classmethod
    def load(cls, path: str, required: bool = False) -> AuthFile | None:
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            if required:
                raise AuthError("auth file %s does not exist" % path) from None
            return None
        except OSError as exc:
            raise AuthError("cannot read auth file %s: %s" % (path, exc.strerror)) from None
        try:
            data = _authfile.loads(raw)
        except _authfile.AuthFileFormatError as exc:
            # the format's messages name a position, never file content
            text = str(exc)
            raise AuthError("auth file %s%s%s" % (path, " is " if text.startswith("not ") else ": ", text)) from None
        return cls(path, data)

    def lookup(self, registry: str, repository: str | None = None) -> Credentials | None:
        candidates = []
        if repository:
            parts = repository.split("/")
            for i in range(len(parts), 0, -1):
                candidates.append("%s/%s" % (registry, "/".join(parts[:i])))
        candidates.append(registry)
        for key in candidates:
            entry = self.auths.get(key)
            if entry is not None:
                creds = self._decode(entry, key)
                if creds:
                    return creds
        for key in candidates:
            helper = self.cred_helpers.get(key)
            if helper:
                return _run_helper(helper, registry, self.path)
        if self.creds_store:
            return _run_helper(self.creds_store, registry, self.path, missing_ok=True)
        return None

    def _decode(self, entry: dict[str, Any], key: str) -> Credentials | None:
        if entry.get("identitytoken"):
            return Credentials(username=entry.get("username"), identity_token=entry["identitytoken"])
        if entry.get("auth"):
            try:
                user, password = _authfile.decode_auth(entry["auth"])
            except _authfile.AuthFileFormatError:
                raise AuthError("auth file %s: the 'auth' value for %s is not base64 of user:password"
                                % (self.path, key)) from None
            return Credentials(user, password)
        if entry.get("username"):
            return Credentials(entry.get("username"), entry.get("password"))
        return None


def _run_helper(name: str, registry: str, origin: str, missing_ok: bool = False) -> Credentials | None:
    program = "docker-credential-%s" % name
    server = "https://index.docker.io/v1/" if registry == "docker.io" else registry
    try:
        proc = subprocess.run([program, "get"], input=server.encode(), capture_output=True, timeout=30,
                              check=False)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise AuthError("%s names credential helper %r but %s is not installed" % (origin, name, program)) from None
    except subprocess.TimeoutExpired:
        raise AuthError("credential helper %s timed out for %s" % (program, registry)) from None
    if proc.returncode != 0:
        if missing_ok or b"credentials not found" in proc.stdout + proc.stderr:
            return None
        raise AuthError("credential helper %s failed for %s (exit %d)" % (program, registry, proc.returncode))
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise AuthError("credential helper %s returned something that is not JSON" % program) from None
    user, secret = data.get("Username"), data.get("Secret")
    if user == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(user, secret)


class CredentialStore:
    """Answers "which credentials for this registry/repository?" from every configured source."""

    def __init__(self, explicit: Mapping[str, Credentials | None] | None = None, auth_file: str | None = None,
                 env: Mapping[str, str] | None = None, use_default_files: bool = True) -> None:
        # explicit: {registry: Credentials}
        self.explicit: dict[str, Credentials] = {}
        for registry, creds in (explicit or {}).items():
            if creds:
                self.explicit[_authfile.normalize_key(registry)] = creds
        self.files: list[AuthFile] = []
        if auth_file:
            required = AuthFile.load(auth_file, required=True)
            if required is None:  # load(required=True) returns a file or raises
                raise AssertionError('bug: expected required is not None')
            self.files.append(required)
        if use_default_files:
            for path in default_auth_files(env):
                if auth_file and os.path.abspath(path) == os.path.abspath(auth_file):
                    continue
                loaded = AuthFile.load(path)
                if loaded is not None:
                    self.files.append(loaded)

    def lookup(self, registry: str, repository: str | None = None) -> Credentials | None:
        registry = _authfile.normalize_key(registry)
        if repository:
            parts = repository.split("/")
            for i in range(len(parts), 0, -1):
                key = "%s/%s" % (registry, "/".join(parts[:i]))
                if key in self.explicit:
                    return self.explicit[key]
        if registry in self.explicit:
            return self.explicit[registry]
        for auth_file in self.files:
            creds = auth_file.lookup(registry, repository)
            if creds:
                return creds
        return None


_CHALLENGE_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def parse_challenge(header: str | None) -> tuple[str | None, dict[str, str]]:
    """'Bearer realm="x",service="y"' -> ('bearer', {'realm': 'x', 'service': 'y'})."""
    if not header:
        return None, {}
    scheme, _sep, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for match in _CHALLENGE_PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return scheme.lower(), params


def scope_for(repository: str, actions: Iterable[str]) -> str:
    return "repository:%s:%s" % (repository, ",".join(actions))


class Authenticator:
    """Per-registry authentication state, shared by every thread using the registry."""

    def __init__(self, registry: str, store: CredentialStore | None, fetch_token: TokenFetcher) -> None:
        """*fetch_token(realm, params, basic_header_or_None, form_or_None)* returns the JSON dict of a
        token endpoint answer; it is given by the registry client so all HTTP goes one way."""
        self.registry = registry
        self.store = store
        self._fetch_token = fetch_token
        self._lock = threading.Lock()
        self.scheme: str | None = None
        self.params: dict[str, str] = {}
        self._tokens = TokenCache()
        self._widen: dict[str, frozenset[str]] = {}

    def credentials(self, repository: str | None = None) -> Credentials | None:
        return self.store.lookup(self.registry, repository) if self.store else None

    def note_challenge(self, header: str | None) -> None:
        scheme, params = parse_challenge(header)
        if scheme:
            with self._lock:
                self.scheme, self.params = scheme, params

    def expect(self, repository: str, actions: Iterable[str]) -> None:
        """Ask the token service for *actions* on *repository* whenever a request needs a token for
        it: a run that will push to a repository fetches one token that also serves its checks
        there, instead of one to pull and then one to push. Dropped for the registry if its token
        service refuses such a request (then each request asks for what it needs)."""
        with self._lock:
            self._widen[repository] = self._widen.get(repository, frozenset()) | frozenset(actions)

    def header(self, scopes: Iterable[str], fresh: bool = False) -> str | None:
        """The Authorization header value for a request needing *scopes*, or None. *fresh*: a
        Bearer token fetched now, not one from the cache (whose real age a token service that
        overstates ``expires_in`` hides)."""
        if self.scheme == "basic":
            creds = self.credentials(_first_repo(scopes))
            return creds.basic_header() if creds and creds.username is not None else None
        if self.scheme != "bearer":
            return None
        exact = tuple(sorted(set(scopes)))
        key = self._key(exact)
        try:
            return "Bearer " + self._token(key, fresh)
        except AuthError:
            if key == exact:
                raise
            with self._lock:  # the token service refused the wider request: ask for what is needed
                self._widen.clear()
            return "Bearer " + self._token(exact, fresh)

    def invalidate(self, scopes: Iterable[str], used: str | None = None) -> None:
        """Forget a token a request was refused with. With *used* (the Authorization header the
        refused request carried): that token, wherever it is cached, unless another thread has
        fetched a new one since. Without: the token cached for *scopes*."""
        if used is not None:
            self._tokens.forget_token(used[len("Bearer "):] if used.startswith("Bearer ") else used)
            return
        exact = tuple(sorted(set(scopes)))
        self._tokens.forget(exact)
        self._tokens.forget(self._key(exact))

    def _key(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        """*scopes* with the actions :meth:`expect` announced for their repositories added."""
        with self._lock:
            if not self._widen:
                return scopes
            widened = []
            for scope in scopes:
                kind, name, have = split_scope(scope)
                extra = self._widen.get(name) if kind == "repository" else None
                if extra:
                    scope = scope_for(name, have + sorted(extra - set(have)))
                widened.append(scope)
            return tuple(sorted(set(widened)))

    def _token(self, key: tuple[str, ...], fresh: bool = False) -> str:
        creds = self.credentials(_first_repo(key))
        identity = (creds.username, creds.password, creds.identity_token) if creds else None
        return self._tokens.get(key, identity, lambda: self._fetch(key, creds), fresh)

    def _fetch(self, key: tuple[str, ...], creds: Credentials | None) -> tuple[str, float]:
        """Ask the token service for *key*: (token, seconds to keep it)."""
        realm = self.params.get("realm")
        if not realm:
            raise AuthError("registry %s asked for a Bearer token without a realm" % self.registry)
        query = [("scope", s) for s in key]
        if self.params.get("service"):
            query.insert(0, ("service", self.params["service"]))
        if creds and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "client_id": "airgap.mirror", "scope": " ".join(key)}
            if self.params.get("service"):
                form["service"] = self.params["service"]
            data = self._fetch_token(realm, [], None, form)
        else:
            basic = creds.basic_header() if creds and creds.username is not None else None
            data = self._fetch_token(realm, query, basic, None)
        token = data.get("token") or data.get("access_token")
        if not token:
            raise AuthError("token endpoint of %s answered without a token" % self.registry)
        try:
            lifetime = float(data.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        return token, max(lifetime - TOKEN_EXPIRY_MARGIN, lifetime / 2)


def _first_repo(scopes: Iterable[str]) -> str | None:
    for scope in scopes:
        if scope.startswith("repository:"):
            return scope.split(":")[1]
    return None
