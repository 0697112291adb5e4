# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""What a mirror registry actually holds, as read at one moment (no I/O, no Ansible).

An :class:`Inventory` is the state of one registry: per repository the tags (tag -> digest), the
manifests present (digest, media type, size), the blobs each image manifest references (with
sizes), the children of each index, and what was looked for but is not there (manifests, and --
when blobs were checked -- blobs). A map-driven inventory also records, per mirror map entry, the
source image and whether the mirror holds it (:class:`ImageRecord`).

:meth:`Inventory.state_digest` fingerprints the observable state only (never the time it was read
or where from): the same mirror read twice gives the same digest, so "the mirror changed since"
is a comparison of two digests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from .._common.errors import UserError
from .._oci import reference as _ref
from .._oci.errors import OCIError

FORMAT = "airgap.mirror/inventory/v1"

#: (digest, size)
BlobRef = tuple[str, int]


class InventoryError(UserError, ValueError):
    """An inventory that cannot be read or used; the message names the file."""


@dataclasses.dataclass(frozen=True)
class ManifestRecord:
    """A manifest present in a repository; *blobs*: config and layers of an image manifest
    (non-distributable layers are not listed), *children*: the manifests of an index."""

    digest: str
    media_type: str
    size: int
    blobs: tuple[BlobRef, ...] = ()
    children: tuple[str, ...] = ()
    subject: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"media_type": self.media_type, "size": self.size}
        if self.blobs:
            out["blobs"] = [{"digest": d, "size": s} for d, s in self.blobs]
        if self.children:
            out["children"] = list(self.children)
        if self.subject:
            out["subject"] = self.subject
        return out

    @classmethod
    def from_dict(cls, digest: str, data: Any, where: str) -> ManifestRecord:
        if not isinstance(data, dict):
            raise InventoryError("%s: manifest %s is not a mapping" % (where, digest))
        _digest(digest, where)
        try:
            blobs = tuple((_digest(b["digest"], where), _size(b["size"], where)) for b in data.get("blobs") or [])
            children = tuple(_digest(c, where) for c in data.get("children") or [])
            return cls(digest, str(data["media_type"]), _size(data["size"], where), blobs, children,
                       data.get("subject") or None)
        except (KeyError, TypeError) as exc:
            raise InventoryError("%s: manifest %s: missing or wrong field %s" % (where, digest, exc)) from None


@dataclasses.dataclass
class Repository:
    """One repository as read. *missing_manifests*: digests that were looked for (by the map, a
    tag or an index) and are not there; *missing_blobs*: blobs a present manifest references
    that the registry does not have (known only when blobs were checked)."""

    name: str
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    manifests: dict[str, ManifestRecord] = dataclasses.field(default_factory=dict)
    missing_manifests: set[str] = dataclasses.field(default_factory=set)
    missing_blobs: dict[str, int] = dataclasses.field(default_factory=dict)

    def referenced_blobs(self) -> dict[str, int]:
        """{digest: size} of every config and layer the present manifests reference."""
        out: dict[str, int] = {}
        for man in self.manifests.values():
            out.update(man.blobs)
        return out

    def blobs(self) -> dict[str, int]:
        """The blobs held: those referenced by present manifests, less the ones found missing."""
        return {d: s for d, s in self.referenced_blobs().items() if d not in self.missing_blobs}

    def holds(self) -> dict[str, int]:
        """{digest: size} of everything this repository holds: manifests and blobs."""
        out = self.blobs()
        out.update((d, m.size) for d, m in self.manifests.items())
        return out

    def closure(self, digest: str) -> tuple[dict[str, int], set[str]]:
        """({digest: size} of the manifests and blobs of the image *digest* that are present,
        {digests of its manifests and blobs that are not}), walking index children."""
        present: dict[str, int] = {}
        absent: set[str] = set()
        todo = [digest]
        while todo:
            current = todo.pop()
            man = self.manifests.get(current)
            if man is None:
                absent.add(current)
                continue
            if current in present:
                continue
            present[current] = man.size
            todo.extend(man.children)
            for blob, size in man.blobs:
                if blob in self.missing_blobs:
                    absent.add(blob)
                else:
                    present[blob] = size
        return present, absent

    def state(self) -> dict[str, Any]:
        return {
            "tags": dict(sorted(self.tags.items())),
            "manifests": {d: self.manifests[d].to_dict() for d in sorted(self.manifests)},
            "missing_manifests": sorted(self.missing_manifests),
            "missing_blobs": [{"digest": d, "size": s} for d, s in sorted(self.missing_blobs.items())],
        }

    @classmethod
    def from_state(cls, name: str, data: Any, where: str) -> Repository:
        where = "%s: repository %s" % (where, name)
        if not isinstance(data, dict):
            raise InventoryError("%s is not a mapping" % where)
        tags = data.get("tags") or {}
        manifests = data.get("manifests") or {}
        if not isinstance(tags, dict) or not isinstance(manifests, dict):
            raise InventoryError("%s: tags and manifests must be mappings" % where)
        try:
            missing_blobs = {_digest(b["digest"], where): _size(b["size"], where)
                             for b in data.get("missing_blobs") or []}
        except (KeyError, TypeError) as exc:
            raise InventoryError("%s: missing_blobs: missing or wrong field %s" % (where, exc)) from None
        return cls(name, {str(t): _digest(d, where) for t, d in tags.items()},
                   {d: ManifestRecord.from_dict(d, m, where) for d, m in manifests.items()},
                   set(_digest(d, where) for d in data.get("missing_manifests") or []), missing_blobs)


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    """One mirror map entry as found: *reference* the tag (or digest) looked up in *repository*,
    *digest* the digest the map records, *present* whether that manifest is there,
    *complete* whether everything under it is (as far as the inventory knows)."""

    source: str
    repository: str
    reference: str
    digest: str
    present: bool
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ImageRecord:
        try:
            return cls(str(data["source"]), str(data["repository"]), str(data["reference"]),
                       _digest(data["digest"], where), bool(data["present"]), bool(data["complete"]))
        except (KeyError, TypeError) as exc:
            raise InventoryError("%s: image: missing or wrong field %s" % (where, exc)) from None


@dataclasses.dataclass
class Inventory:
    """The state of one mirror registry. *read_at*: when (UTC, ISO 8601, seconds); *scope*: what
    was read (``{"kind": "mirror_map", ...}`` or ``{"kind": "repositories", ...}``);
    *blobs_checked*: every referenced blob was asked for (else blobs referenced by a present
    manifest are taken as present: a registry accepts a manifest only once its blobs are in);
    *requests*: how many registry requests the read took (not part of the state)."""

    registry: str
    read_at: str
    scope: dict[str, Any]
    blobs_checked: bool = False
    repositories: dict[str, Repository] = dataclasses.field(default_factory=dict)
    images: list[ImageRecord] = dataclasses.field(default_factory=list)
    requests: int = 0

    def repository(self, name: str) -> Repository:
        """The repository *name*, created empty on first use (while reading)."""
        repo = self.repositories.get(name)
        if repo is None:
            repo = self.repositories[name] = Repository(name)
        return repo

    def state(self) -> dict[str, Any]:
        """The observable state of the mirror: what :meth:`state_digest` hashes."""
        return {
            "registry": self.registry,
            "blobs_checked": self.blobs_checked,
            "repositories": {n: self.repositories[n].state() for n in sorted(self.repositories)},
            "images": [i.to_dict() for i in sorted(self.images, key=lambda i: (i.source, i.repository, i.digest))],
        }

    def state_digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of :meth:`state`: equal for two reads of the
        same scope of an unchanged mirror, whenever they were made."""
        text = json.dumps(self.state(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def missing(self) -> dict[str, dict[str, list[str]]]:
        """{repository: {"manifests": [...], "blobs": [...]}} of what was looked for and is absent."""
        out = {}
        for name in sorted(self.repositories):
            repo = self.repositories[name]
            if repo.missing_manifests or repo.missing_blobs:
                out[name] = {"manifests": sorted(repo.missing_manifests), "blobs": sorted(repo.missing_blobs)}
        return out

    def totals(self) -> dict[str, int]:
        repos = self.repositories.values()
        return {
            "repositories": len(self.repositories),
            "tags": sum(len(r.tags) for r in repos),
            "manifests": sum(len(r.manifests) for r in repos),
            "blobs": sum(len(r.blobs()) for r in repos),
            "missing_manifests": sum(len(r.missing_manifests) for r in repos),
            "missing_blobs": sum(len(r.missing_blobs) for r in repos),
            "images": len(self.images),
            "images_incomplete": sum(1 for i in self.images if not i.complete),
        }

    def source_repositories(self) -> dict[str, str]:
        """{source repository name (``quay.io/org/app``): mirror repository} of a map-driven read."""
        out = {}
        for image in self.images:
            try:
                out[_ref.parse(image.source).name] = image.repository
            except (ValueError, OCIError):
                continue
        return out

    def to_dict(self) -> dict[str, Any]:
        doc = {"format": FORMAT, "read_at": self.read_at, "scope": self.scope, "state_digest": self.state_digest()}
        doc.update(self.state())
        return doc

    @classmethod
    def from_dict(cls, data: Any, where: str = "inventory") -> Inventory:
        """Read and validate a document written by :meth:`to_dict`; the recorded state digest must
        match the state (a hand-edited inventory is refused)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InventoryError("%s is not an inventory (format %s)" % (where, FORMAT))
        repos = data.get("repositories", {})
        if not isinstance(repos, dict) or not isinstance(data.get("images", []), list):
            raise InventoryError("%s: repositories must be a mapping and images a list" % where)
        inv = cls(str(data.get("registry") or ""), str(data.get("read_at") or ""), dict(data.get("scope") or {}),
                  bool(data.get("blobs_checked")),
                  {str(n): Repository.from_state(str(n), r, where) for n, r in repos.items()},
                  [ImageRecord.from_dict(i, where) for i in data.get("images") or []])
        if not inv.registry or not inv.read_at:
            raise InventoryError("%s: registry and read_at are required" % where)
        if data.get("state_digest") != inv.state_digest():
            raise InventoryError("%s: its state_digest %s does not match its content (%s): the file was changed "
                                 "after it was written" % (where, data.get("state_digest"), inv.state_digest()))
        return inv


#: the name the issue uses for the same thing
MirrorState = Inventory


def _digest(value: Any, where: str) -> str:
    if not isinstance(value, str) or ":" not in value or len(value) < 10:
        raise InventoryError("%s: %r is not a digest" % (where, value))
    return value


def _size(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InventoryError("%s: size %r is not a non-negative integer" % (where, value))
    return value
