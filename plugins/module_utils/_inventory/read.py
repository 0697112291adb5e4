# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Reading what a mirror registry holds into an :class:`~.model.Inventory`, with the engine's
registry client (no second HTTP client).

- :func:`read_for_map`: the images of a mirror map. One request per image when the manifest tree
  is known (``known``: the manifest records of an earlier inventory; manifests are
  content-addressed, so a record never goes stale): a HEAD of the map's tag (a second HEAD, by
  digest, only when the tag points elsewhere). Otherwise a GET of the manifest, and a GET of each
  index child the earlier inventory does not know.
- :func:`read_repositories`: whole repositories (all of them from the paginated ``_catalog``):
  the paginated tag list, then each tag's manifest, index children walked with ``_oci/graph.py``.
  A manifest no tag reaches (pushed by digest only) is not listed: the distribution API has no
  call that lists them.

Blobs: without ``check_blobs`` a blob referenced by a present manifest is taken as present (a
registry accepts a manifest only once what it references is there); with it, every referenced
blob is asked for with a HEAD (one request per blob and repository) and the absent ones are
recorded -- the only way to see a blob deleted behind the mirror map's back.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._mirrormap.model import MirrorMap
from .._oci import graph as _graph
from .._oci import manifest as _manifest
from .._oci.errors import OCIError
from .model import Inventory, InventoryError, ManifestRecord, ImageRecord, Repository

#: requests in flight while reading
CONCURRENCY = 8


def now_utc() -> str:
    """The current time as the inventory records it (UTC, ISO 8601, seconds, ``Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def record_of(man: _manifest.Manifest) -> ManifestRecord:
    """The inventory's record of a parsed manifest."""
    return ManifestRecord(man.digest, man.media_type, man.size, tuple((d.digest, d.size) for d in man.blobs),
                          tuple(c.digest for c in man.children), man.subject.digest if man.subject else None)


class _Found:
    """What one unit of reading found in one repository (merged in the calling thread)."""

    def __init__(self, repository: str) -> None:
        self.repository = repository
        self.tags: dict[str, str] = {}
        self.manifests: dict[str, ManifestRecord] = {}
        self.missing: set[str] = set()


class _Reader:
    def __init__(self, client: Any, known: dict[str, ManifestRecord] | None, concurrency: int) -> None:
        self.client = client
        self.known = dict(known or {})
        self.concurrency = max(1, concurrency)
        self.requests = 0
        self._lock = threading.Lock()

    def count(self) -> None:
        with self._lock:
            self.requests += 1

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        items = list(items)
        if self.concurrency == 1 or len(items) < 2:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    def get(self, repo: str, ref: str, image: str | None = None) -> _manifest.Manifest | None:
        """The manifest *ref* of *repo*, parsed (and verified when *ref* is a digest); None if absent."""
        self.count()
        try:
            data, ctype = self.client.get_manifest(repo, ref, image=image)
        except OCIError as exc:
            if exc.status == 404:
                return None
            raise
        where = "%s/%s%s%s" % (self.client.registry, repo, "@" if ":" in ref else ":", ref)
        return _manifest.parse(data, ctype, expected_digest=ref if ref.startswith("sha") and ":" in ref else None,
                               where=where)

    def head(self, repo: str, ref: str, image: str | None = None) -> str | None:
        self.count()
        found = self.client.head_manifest(repo, ref, image=image)
        return found[0] if found else None

    def walk(self, found: _Found, root: _manifest.Manifest, image: str | None = None) -> None:
        """Record *root* and every manifest under it (children known from earlier are not fetched)."""
        where = "%s/%s@%s" % (self.client.registry, found.repository, root.digest)

        def fetch(desc: _manifest.Descriptor, _where: str) -> tuple[bytes, str | None] | None:
            if desc.digest in self.known and self.known_tree(desc.digest, found):
                return None  # recorded from the earlier inventory (not "missing": see below)
            self.count()
            try:
                return self.client.get_manifest(found.repository, desc.digest, image=image)
            except OCIError as exc:
                if exc.status == 404:
                    found.missing.add(desc.digest)
                    return None
                raise

        graph = _graph.walk(root, fetch, where)
        for man in graph.manifests:
            found.manifests[man.digest] = record_of(man)

    def known_tree(self, digest: str, found: _Found | None = None) -> bool:
        """Whether the whole tree under *digest* is known; with *found*, record it there."""
        rec = self.known.get(digest)
        if rec is None or not all(self.known_tree(c) for c in rec.children):
            return False
        if found is not None:
            found.manifests[digest] = rec
            for child in rec.children:
                self.known_tree(child, found)
        return True


def read_for_map(pool: Any, mirror_map: MirrorMap, registry: str | None = None,
                 known: dict[str, ManifestRecord] | None = None, check_blobs: bool = False,
                 concurrency: int = CONCURRENCY, scope: dict[str, Any] | None = None) -> Inventory:
    """What the mirror registry holds of the images of *mirror_map* (entries with a registry
    destination in *registry*; None: the map's only registry). *pool*: an engine ClientPool."""
    entries = mirror_map.registry_entries()
    registries = sorted(set(dest.registry for _e, dest in entries))
    if registry is None:
        if len(registries) != 1:
            raise InventoryError("the mirror map points at %s; name the mirror registry to read"
                                 % (" and ".join(registries) if registries else "no registry (only layouts)"))
        registry = registries[0]
    entries = [(e, d) for e, d in entries if d.registry == registry]
    if not entries:
        raise InventoryError("the mirror map has no image in the registry %s (it points at %s)"
                             % (registry, ", ".join(registries) or "layouts only"))
    reader = _Reader(pool.get(registry), known, concurrency)
    inv = Inventory(registry, now_utc(), dict(scope or {}, kind="mirror_map", images=len(entries)), check_blobs)

    def one(item: tuple[Any, Any]) -> _Found:
        entry, dest = item
        found = _Found(dest.repository)
        image, tag, digest = str(entry.source), dest.ref.tag, entry.digest
        if reader.known_tree(digest):
            at = reader.head(dest.repository, tag or digest, image)
            if tag and at:
                found.tags[tag] = at
            if tag and at != digest:
                at = reader.head(dest.repository, digest, image)
            if at == digest:
                reader.known_tree(digest, found)
                if check_blobs:  # the children too: each asked for, like every blob
                    for child in [d for d in found.manifests if d != digest]:
                        if reader.head(dest.repository, child, image) != child:
                            del found.manifests[child]
                            found.missing.add(child)
            else:
                found.missing.add(digest)
            return found
        man = reader.get(dest.repository, tag or digest, image)
        if tag and man is not None:
            found.tags[tag] = man.digest
        if tag and (man is None or man.digest != digest):
            man = reader.get(dest.repository, digest, image)
        if man is None:
            found.missing.add(digest)
        else:
            reader.walk(found, man, image)
        return found

    for found in reader.map(one, entries):
        _merge(inv, found)
    if check_blobs:
        _check_blobs(inv, reader)
    for entry, dest in entries:
        repo = inv.repository(dest.repository)
        _present, absent = repo.closure(entry.digest)
        inv.images.append(ImageRecord(str(entry.source), dest.repository, dest.ref.tag or entry.digest,
                                      entry.digest, entry.digest in repo.manifests, not absent))
    inv.requests = reader.requests
    return inv


def known_from_layout(layout: Any, digests: Iterable[str]) -> dict[str, ManifestRecord]:
    """The records of the manifest trees of *digests* found in an OCI *layout* (``_engine.layout.Layout``;
    the air-gapped staging layout the images were pushed from): manifests are content-addressed, so
    these are the mirror's too, and a map-driven read of them costs one request per image."""
    known: dict[str, ManifestRecord] = {}
    todo = list(digests)
    while todo:
        digest = todo.pop()
        if digest in known or not layout.has_blob(digest):
            continue
        try:
            man = _manifest.parse(layout.read_blob(digest), expected_digest=digest,
                                  where="%s in the layout %s" % (digest, layout.path))
        except OCIError:
            continue  # not a manifest, or unreadable: the registry is asked instead
        known[digest] = record_of(man)
        todo.extend(c.digest for c in man.children)
    return known


def read_repositories(client: Any, repositories: Iterable[str] | None = None, check_blobs: bool = False,
                      page_size: int | None = None, concurrency: int = CONCURRENCY,
                      scope: dict[str, Any] | None = None) -> Inventory:
    """What *client*'s registry holds in *repositories* (None: every repository of the catalog):
    every tag, the manifest it points at and everything under it."""
    reader = _Reader(client, None, concurrency)
    names = sorted(set(repositories)) if repositories is not None else None
    if names is None:
        reader.count()
        names = sorted(set(client.catalog(page_size=page_size)))
    inv = Inventory(client.registry, now_utc(),
                    dict(scope or {}, kind="repositories", repositories=None if repositories is None else names),
                    check_blobs)
    for name in names:
        inv.repository(name)

    def tags_of(name: str) -> list[tuple[str, str]]:
        reader.count()
        return [(name, tag) for tag in client.list_tags(name, page_size=page_size)]

    pairs = [pair for listed in reader.map(tags_of, names) for pair in listed]

    def one(pair: tuple[str, str]) -> _Found:
        name, tag = pair
        found = _Found(name)
        man = reader.get(name, tag, "%s/%s:%s" % (client.registry, name, tag))
        if man is not None:  # a tag deleted while reading is simply not there
            found.tags[tag] = man.digest
            reader.walk(found, man)
        return found

    for found in reader.map(one, pairs):
        _merge(inv, found)
    if check_blobs:
        _check_blobs(inv, reader)
    inv.requests = reader.requests
    return inv


def _merge(inv: Inventory, found: _Found) -> None:
    repo = inv.repository(found.repository)
    repo.tags.update(found.tags)
    repo.manifests.update(found.manifests)
    repo.missing_manifests.update(d for d in found.missing if d not in repo.manifests)
    repo.missing_manifests.difference_update(repo.manifests)


def _check_blobs(inv: Inventory, reader: _Reader) -> None:
    """HEAD every blob the present manifests reference, per repository; record the absent ones."""
    items = [(repo, digest, size) for repo in inv.repositories.values()
             for digest, size in sorted(repo.referenced_blobs().items())]

    def absent(item: tuple[Repository, str, int]) -> bool:
        repo, digest, _size = item
        reader.count()
        return reader.client.head_blob(repo.name, digest) is None

    for (repo, digest, size), gone in zip(items, reader.map(absent, items)):
        if gone:
            repo.missing_blobs[digest] = size
