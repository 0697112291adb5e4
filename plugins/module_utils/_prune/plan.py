# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The prune plan: what in the mirror no longer appears in the kept set, and the bytes that the
registry's garbage collection would then free.

Rules, per repository (a manifest lives in a repository; deleting it in one leaves the others):

- kept = the kept images' digests, closed over: index children (a filtered index's platforms
  included), signatures and attachments named by tag (``sha256-<hex>``, ``.sig``, ``.att``,
  ``.sbom``, ``.gpgsig``) of a kept digest, manifests whose ``subject`` is a kept digest
  (referrers), and everything these reach in turn;
- every other manifest the state lists is deleted: a tag goes with the manifest it points to
  (docker distribution 2.8 deletes a tag only by deleting its manifest, and deleting a manifest
  removes every tag on it), so a tag on a kept manifest stays, whether an input names it or not;
- order: signatures and referrers first, then images and indexes, then index children, so a
  reader never finds an index whose children are gone.

Bytes freed: a blob (layer, config, or the manifest's own bytes, which distribution stores as a
blob) counts when every manifest of the state that references it is deleted; each once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .._engine.repos import ATTACHMENT_SUFFIXES
from .._inventory.model import Inventory, ManifestRecord, Repository

FORMAT = "airgap.mirror/prune-plan/v1"
_SIGNATURE_TAG = re.compile(r"^(sha256|sha512)-([0-9a-f]+)(%s)?$" % "|".join(re.escape(s) for s in ATTACHMENT_SUFFIXES))


@dataclass(frozen=True)
class Deletion:
    """One manifest to delete, with the tags that go with it."""

    repository: str
    digest: str
    media_type: str
    tags: tuple[str, ...]
    kind: str  # "signature" | "image" | "child"

    def to_dict(self) -> dict[str, Any]:
        return {"repository": self.repository, "digest": self.digest, "media_type": self.media_type,
                "tags": list(self.tags), "kind": self.kind}


@dataclass
class Plan:
    registry: str
    fingerprint: str
    deletions: list[Deletion] = field(default_factory=list)
    #: blobs freed by garbage collection: digest -> size
    freed: dict[str, int] = field(default_factory=dict)
    kept_manifests: int = 0
    #: kept images the mirror does not hold
    absent: list[str] = field(default_factory=list)

    @property
    def bytes_freed(self) -> int:
        return sum(self.freed.values())

    def tags(self) -> list[str]:
        return ["%s:%s" % (d.repository, t) for d in self.deletions for t in d.tags]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "registry": self.registry,
            "fingerprint": self.fingerprint,
            "tags": self.tags(),
            "manifests": [d.to_dict() for d in self.deletions],
            "bytes_freed": self.bytes_freed,
            "blobs_freed": [{"digest": k, "size": v} for k, v in sorted(self.freed.items())],
            "kept_manifests": self.kept_manifests,
            "absent": list(self.absent),
        }


def signature_subject(tag: str) -> str | None:
    """``sha256:<hex>`` for a signature/attachment tag ``sha256-<hex>[.sig|.att|.sbom|.gpgsig]``."""
    match = _SIGNATURE_TAG.match(tag)
    return "%s:%s" % (match.group(1), match.group(2)) if match else None


def kept_closure(repo: Repository, seeds: set[str]) -> set[str]:
    """*seeds* and everything they reach in *repo*: children, signature tags, referrers."""
    by_subject: dict[str, list[str]] = {}
    for node in repo.manifests.values():
        if node.subject:
            by_subject.setdefault(node.subject, []).append(node.digest)
    signature_tags: dict[str, list[str]] = {}
    for tag, digest in repo.tags.items():
        subject = signature_subject(tag)
        if subject:
            signature_tags.setdefault(subject, []).append(digest)
    kept: set[str] = set()
    todo = list(seeds)
    while todo:
        digest = todo.pop()
        if digest in kept:
            continue
        kept.add(digest)
        record = repo.manifests.get(digest)
        if record is not None:
            todo.extend(record.children)
        todo.extend(by_subject.get(digest, ()))
        todo.extend(signature_tags.get(digest, ()))
    return kept


def _kind(repo: Repository, node: ManifestRecord, parents: set[str]) -> str:
    if node.subject or any(signature_subject(t) for t, d in repo.tags.items() if d == node.digest):
        return "signature"
    return "child" if node.digest in parents else "image"


_ORDER = {"signature": 0, "image": 1, "child": 2}


def make_plan(state: Inventory, seeds: dict[str, set[str]], fingerprint: str) -> Plan:
    """The plan for *state* (fingerprint *fingerprint*) keeping *seeds* (repository -> digests)."""
    plan = Plan(state.registry, fingerprint)
    narrowed = (state.scope or {}).get("repositories") is not None
    for repository, digests in sorted(seeds.items()):
        repo = state.repositories.get(repository)
        if repo is None and narrowed:
            continue  # out of the scope read: neither pruned nor known to be absent
        for digest in sorted(digests):
            if repo is None or digest not in repo.manifests:
                plan.absent.append("%s@%s" % (repository, digest))
    deleted: set[tuple[str, str]] = set()
    references: dict[str, set[tuple[str, str]]] = {}
    for name, repo in sorted(state.repositories.items()):
        kept = kept_closure(repo, seeds.get(name, set()))
        plan.kept_manifests += len(kept & set(repo.manifests))
        parents = {c for n in repo.manifests.values() for c in n.children}
        tags_of: dict[str, list[str]] = {}
        for tag, digest in sorted(repo.tags.items()):
            tags_of.setdefault(digest, []).append(tag)
        for digest, node in sorted(repo.manifests.items()):
            references.setdefault(digest, set()).add((name, digest))
            for blob, _size in node.blobs:
                references.setdefault(blob, set()).add((name, digest))
            if digest in kept:
                continue
            deleted.add((name, digest))
            plan.deletions.append(Deletion(name, digest, node.media_type, tuple(tags_of.get(digest, ())),
                                           _kind(repo, node, parents)))
    plan.deletions.sort(key=lambda d: (_ORDER[d.kind], d.repository, d.digest))
    sizes = _sizes(state)
    for blob, holders in references.items():
        if holders <= deleted and blob in sizes:
            plan.freed[blob] = sizes[blob]
    return plan


def _sizes(state: Inventory) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for repo in state.repositories.values():
        for node in repo.manifests.values():
            sizes[node.digest] = node.size
            for blob, size in node.blobs:
                sizes[blob] = size
    return sizes
