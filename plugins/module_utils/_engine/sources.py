# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Pull-through sources: fetch an image from a proxy (an Artifactory, Nexus, Harbor or Quay
proxy-cache repository) while it keeps its real name.

A :class:`SourceMirrors` holds rules, one per source prefix (``quay.io``, ``registry.redhat.io/ubi9``):
the locations to fetch a repository under that prefix from, in order. The longest prefix wins, on
repository-path boundaries (``quay.io/org`` matches ``quay.io/org/app``, not ``quay.io/organic``).
Prefixes are matched against normalized names (``nginx`` is ``docker.io/library/nginx``).

A job's source stays the real reference; its repo is a :class:`MirroredRepo` that fetches from
the first location that has the image and remembers which (``via``), so the mirror map records
the real source and the proxy it came through. Digests are checked as for any source: a manifest
asked for by digest must hash to it (``RegistryClient.get_manifest``), whoever serves it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .._oci import reference as _ref
from .._oci.errors import NotFound, OCIError, RegistryError
from .repos import RegistryRepo, is_digest

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Location:
    """Where to fetch a prefix's repositories: ``registry/namespace``; *digest_only*/*tag_only*:
    used only for references by digest / by tag (registries.conf ``pull-from-mirror``)."""

    registry: str
    namespace: str = ""
    digest_only: bool = False
    tag_only: bool = False

    def __str__(self) -> str:
        return "%s/%s" % (self.registry, self.namespace) if self.namespace else self.registry

    def serves(self, by_digest: bool) -> bool:
        return not (self.digest_only and not by_digest) and not (self.tag_only and by_digest)


@dataclasses.dataclass(frozen=True)
class Rule:
    """One source prefix (``registry`` and a repository-path ``path``, "" for the whole registry)
    and its *mirrors*, tried in order. *primary*: where the source itself is (registries.conf
    ``location``; None: the prefix itself). *blocked*: refuse the prefix's images. *error*: a
    rule that cannot be followed (its images fail with this message)."""

    registry: str
    path: str = ""
    mirrors: tuple[Location, ...] = ()
    primary: Location | None = None
    blocked: bool = False
    error: str | None = None
    origin: str = "source_mirrors"

    @property
    def prefix(self) -> str:
        return "%s/%s" % (self.registry, self.path) if self.path else self.registry

    def matches(self, registry: str, repository: str) -> bool:
        if self.registry.startswith("*."):  # registries.conf wildcard: any subdomain
            return registry.endswith(self.registry[1:])
        if registry != self.registry:
            return False
        return not self.path or repository == self.path or repository.startswith(self.path + "/")


class SourceRoutingError(OCIError):
    """A source that its pull-through rules refuse (blocked, or a rule that cannot be followed)."""


def parse_prefix(text: Any, what: str = "source_mirrors") -> tuple[str, str]:
    """``(registry, path)`` of a source prefix ``host[:port][/path]``. The host is normalized
    (Docker Hub aliases are docker.io); the path is matched as written against normalized names,
    so the official ``nginx`` image is ``docker.io/library/nginx``. Raises ValueError."""
    try:
        registry, path = _ref.parse_registry_prefix(text)
    except OCIError as exc:
        raise ValueError("%s: %s" % (what, exc)) from None
    return registry, path


def parse_location(text: Any, what: str = "source_mirrors", digest_only: bool = False,
                   tag_only: bool = False) -> Location:
    """A :class:`Location` from ``host[:port][/namespace]``. Raises ValueError."""
    registry, namespace = parse_prefix(text, what)
    return Location(registry, namespace, digest_only, tag_only)


class SourceMirrors:
    """The pull-through rules of a run. *fallback*: after the mirrors, try the source itself
    (off by default: across an air gap one wants to know where the bytes came from)."""

    def __init__(self, rules: Iterable[Rule] = (), fallback: bool = False) -> None:
        # the longest prefix first; a wildcard (registries.conf *.example.com) only after every exact one
        self.rules = tuple(sorted(rules, key=lambda r: (r.registry.startswith("*."), -len(r.prefix), r.prefix)))
        self.fallback = fallback
        seen: set[str] = set()
        for rule in self.rules:
            if rule.prefix in seen:
                raise ValueError("%s: the prefix %s is given more than once" % (rule.origin, rule.prefix))
            seen.add(rule.prefix)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any], fallback: bool = False) -> SourceMirrors:
        """From ``{prefix: location or [locations]}`` (the ``source_mirrors`` option)."""
        if not isinstance(value, Mapping):
            raise ValueError("source_mirrors must be a dict of source prefix: mirror location(s)")
        rules = []
        for key, target in value.items():
            what = "source_mirrors[%s]" % key
            registry, path = parse_prefix(key, what)
            targets = [target] if isinstance(target, str) else target
            if not isinstance(targets, list) or not targets:
                raise ValueError("%s: give a location host[:port][/namespace] or a list of them" % what)
            rules.append(Rule(registry, path, tuple(parse_location(t, what) for t in targets), origin=what))
        return cls(rules, fallback)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def rule_for(self, ref: _ref.Reference) -> Rule | None:
        """The rule with the longest prefix matching *ref*, or None."""
        for rule in self.rules:
            if rule.matches(ref.registry, ref.repository):
                return rule
        return None

    def candidates(self, ref: _ref.Reference) -> list[tuple[str, str, bool]]:
        """``[(registry, repository, via)]`` to fetch *ref* from, in order; *via* is False for the
        source itself. Raises SourceRoutingError for a blocked source or a broken rule."""
        rule = self.rule_for(ref)
        if rule is None:
            return [(ref.registry, ref.repository, False)]
        if rule.error:
            raise SourceRoutingError("%s (%s, prefix %s)" % (rule.error, rule.origin, rule.prefix), image=str(ref))
        if rule.blocked:
            raise SourceRoutingError("%s is blocked by %s (prefix %s)" % (ref.name, rule.origin, rule.prefix),
                                     image=str(ref))
        rest = ref.repository[len(rule.path):].lstrip("/")
        by_digest = ref.digest is not None
        out = [_rewrite(loc, rest) for loc in rule.mirrors if loc.serves(by_digest)]
        primary = _rewrite(rule.primary, rest) if rule.primary is not None else None
        if not out or self.fallback:
            out.append(primary or (ref.registry, ref.repository, False))
        return out

    def hosts(self) -> list[str]:
        """Every registry a rule may fetch from (for credentials)."""
        found = {loc.registry for rule in self.rules for loc in rule.mirrors}
        found.update(rule.primary.registry for rule in self.rules if rule.primary is not None)
        return sorted(found)


def _rewrite(loc: Location, rest: str) -> tuple[str, str, bool]:
    repository = "/".join(p for p in (loc.namespace, rest) if p)
    if not repository:
        raise SourceRoutingError("the location %s names no repository for this image" % loc)
    return loc.registry, repository, True


class MirroredRepo(RegistryRepo):
    """A source repository fetched from the first of *candidates* (RegistryRepos) that has the
    image. The choice is made by the first manifest request and kept (blobs, tags and attachments
    come from the same place). :meth:`describe` names the real source; :attr:`via` the
    candidate chosen when it is not the source itself."""

    #: a tag list asked first would pick the candidate (a repository a mirror lacks lists no tags)
    tags_before_manifest = False

    def __init__(self, name: str, candidates: list[tuple[RegistryRepo, bool]]) -> None:
        first = candidates[0][0]
        super().__init__(first.client, first.repository)
        self.name = name
        self.candidates = candidates
        self.chosen: tuple[RegistryRepo, bool] | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> tuple[str, ...]:
        return ("mirrored",) + tuple("%s/%s" % (r.client.registry, r.repository) for r, _v in self.candidates)

    @property
    def via(self) -> str | None:
        """The proxy repository the image is fetched from (None: the source, or not chosen yet)."""
        if self.chosen is None or not self.chosen[1]:
            return None
        return self.chosen[0].describe()

    def describe(self, ident: str | None = None) -> str:
        if ident is None:
            return self.name
        return "%s%s%s" % (self.name, "@" if is_digest(ident) else ":", ident)

    def _first(self, call: Callable[[RegistryRepo], T], found: Callable[[T], bool]) -> T:
        with self._lock:
            if self.chosen is not None:
                return call(self.chosen[0])
            tried: list[str] = []
            errors: list[OCIError] = []
            value: Any = None
            for repo, via in self.candidates:
                try:
                    value = call(repo)
                except RegistryError as exc:  # absent, refused, unreachable: the next one may have it
                    errors.append(_through(exc, repo, via))
                    tried.append("%s (%s)" % (repo.describe(), exc.message))
                    continue
                except OCIError as exc:  # wrong content: never taken from the next one instead
                    raise _through(exc, repo, via) from None
                if found(value):
                    self.chosen = (repo, via)
                    self.client, self.repository = repo.client, repo.repository
                    return value
                tried.append("%s (not found)" % repo.describe())
            if len(self.candidates) == 1 and errors:
                raise errors[0]
            if len(self.candidates) == 1:
                return value
            kind = NotFound if all(isinstance(e, NotFound) for e in errors) else RegistryError
            raise kind("%s is at none of its sources: %s" % (self.name, "; ".join(tried)))

    def resolve(self, ident: str, image: str | None = None) -> tuple[str, str | None, int | None] | None:
        return self._first(lambda repo: repo.resolve(ident, image=image), lambda value: value is not None)

    def fetch_manifest(self, ident: str, image: str | None = None) -> tuple[bytes, str | None]:
        return self._first(lambda repo: repo.fetch_manifest(ident, image=image), lambda value: True)

    def list_tags(self, image: str | None = None) -> list[str]:
        return self._first(lambda repo: repo.list_tags(image=image), lambda value: True)


def _through(error: OCIError, repo: RegistryRepo, via: bool) -> OCIError:
    """*error* saying which pull-through source gave it."""
    if not via:
        return error
    clone = error.copy_for(error.image)
    clone.message = "from the pull-through source %s: %s" % (repo.describe(), error.message)
    clone.args = (clone.message,)
    return clone


def source_repo(pool: Any, ref: _ref.Reference, mirrors: SourceMirrors | None) -> RegistryRepo:
    """The repo to fetch *ref* from: a plain RegistryRepo, or a MirroredRepo when a pull-through
    rule matches. Raises SourceRoutingError."""
    if not mirrors:
        return RegistryRepo(pool.get(ref.registry), ref.repository)
    candidates = mirrors.candidates(ref)
    if candidates == [(ref.registry, ref.repository, False)]:
        return RegistryRepo(pool.get(ref.registry), ref.repository)
    repos = [(RegistryRepo(pool.get(registry), repository), via) for registry, repository, via in candidates]
    return MirroredRepo(ref.name, repos)
