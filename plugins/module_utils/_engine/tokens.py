# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The Bearer tokens of one registry: which cached token serves a request, and one fetch at a time
per scope set.

A token is cached with the scopes it was asked for (``repository:<name>:<actions>``, ...) until
shortly before it expires. A request is served by the token cached for exactly its scopes or, failing
that, by any live token asked for a superset of them and with the same credentials: the token fetched
for pushing to a repository (``pull,push``) also serves the checks that only pull from it, and a
mount's token (``pull,push`` on the target and ``pull`` on the repository it mounts from) the other
pushes to its target. A token that a registry refused is forgotten under every set it served.

When several threads need a token for the same scopes at once (the blobs of one image, copied side by
side), one fetches it and the others wait for it, instead of each asking the token service.

The cache does not read tokens (they are opaque to a client, as the token specification says): it
takes a token to grant what was asked. A registry that grants less answers the request 401, and the
caller forgets the token and fetches one for exactly what that request needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable


def split_scope(scope: str) -> tuple[str, str, list[str]]:
    """(type, name, actions) of a scope string ``type:name:actions`` (a name may hold colons)."""
    kind, _sep, rest = scope.partition(":")
    name, _sep, actions = rest.rpartition(":")
    return kind, name, [a for a in actions.split(",") if a]


def parse_scopes(scopes: Iterable[str]) -> dict[tuple[str, str], frozenset[str]]:
    """``{(type, name): actions}`` of scope strings."""
    parsed: dict[tuple[str, str], frozenset[str]] = {}
    for scope in scopes:
        kind, name, actions = split_scope(scope)
        parsed[(kind, name)] = parsed.get((kind, name), frozenset()) | frozenset(actions)
    return parsed


def covers(granted: dict[tuple[str, str], frozenset[str]], wanted: dict[tuple[str, str], frozenset[str]]) -> bool:
    """Whether scopes *granted* include every action of every scope *wanted*."""
    return all(actions <= granted.get(key, frozenset()) for key, actions in wanted.items())


class _Grant:
    """One fetched token: its value, when it stops being used, what it was asked for, and with which
    credentials (an opaque value compared for equality, never shown)."""

    __slots__ = ("token", "expiry", "scopes", "identity")

    def __init__(self, token: str, expiry: float, scopes: dict[tuple[str, str], frozenset[str]],
                 identity: Hashable) -> None:
        self.token = token
        self.expiry = expiry
        self.scopes = scopes
        self.identity = identity


class TokenCache:
    """Tokens of one registry by scope set, shared by every thread using the registry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._grants: dict[tuple[str, ...], _Grant] = {}
        #: (type, name) -> the scope sets of fetched tokens that name it (some may be forgotten since)
        self._naming: dict[tuple[str, str], set[tuple[str, ...]]] = {}
        self._pending: dict[tuple[tuple[str, ...], Hashable], threading.Event] = {}

    def get(self, key: tuple[str, ...], identity: Hashable, fetch: Callable[[], tuple[str, float]],
            fresh: bool = False) -> str:
        """A token for the scope set *key* (sorted scope strings), fetched with the credentials
        *identity* stands for. *fetch()* asks the token service and returns (token, seconds to keep
        it). *fresh*: fetch now, even if a token is cached."""
        flight = (key, identity)
        while True:
            with self._lock:
                if not fresh:
                    found = self._lookup(key, identity)
                    if found is not None:
                        return found
                waiting = self._pending.get(flight)
                if waiting is None:
                    mine = self._pending[flight] = threading.Event()
                    break
            waiting.wait()  # another thread is fetching it: take its token (or, if it failed, fetch)
            fresh = False
        try:
            asked = self._clock()  # the token's life is counted from before it was asked for
            token, lifetime = fetch()
            grant = _Grant(token, asked + lifetime, parse_scopes(key), identity)
            with self._lock:
                self._grants[key] = grant
                for named in grant.scopes:
                    self._naming.setdefault(named, set()).add(key)
            return token
        finally:
            with self._lock:
                del self._pending[flight]
            mine.set()

    def forget(self, key: tuple[str, ...]) -> None:
        """Forget the token cached for *key*, under every scope set it served."""
        with self._lock:
            grant = self._grants.get(key)
        if grant is not None:
            self.forget_token(grant.token)

    def forget_token(self, token: str) -> None:
        """Forget *token*, which a registry refused, under every scope set it served (a token
        another thread has fetched since for the same sets stays)."""
        with self._lock:
            for cached in [k for k, grant in self._grants.items() if grant.token == token]:
                del self._grants[cached]

    def _lookup(self, key: tuple[str, ...], identity: Hashable) -> str | None:
        """The token cached for *key*, or a live one asked for a superset of it with the same
        credentials; the latter is then cached for *key* too. Called with the lock held."""
        now = self._clock()
        grant = self._grants.get(key)
        if grant is not None and grant.expiry > now and grant.identity == identity:
            return grant.token
        wanted = parse_scopes(key)
        if not wanted:
            return None
        for other_key in sorted(self._naming.get(next(iter(wanted)), ())):
            other = self._grants.get(other_key)
            if other is not None and other.expiry > now and other.identity == identity \
                    and covers(other.scopes, wanted):
                self._grants[key] = other
                return other.token
        return None
