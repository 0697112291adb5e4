# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The mirror map as types: an :class:`Entry` per image, its :data:`Destination`, and the
:class:`MirrorMap` with the lookups every consumer needs.

A destination is either a registry reference (:class:`RegistryDestination`) or a ref name in an
OCI image layout (:class:`LayoutDestination`). Its text form is the one the map file holds and
skopeo uses: ``HOST[:PORT]/REPO:TAG`` (or ``@DIGEST``), and ``oci:PATH:REF``. This module is the one
place that formats and parses that text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Union

from .._common.errors import UserError
from .._oci import reference as _ref
from .._oci.errors import InvalidReference

FORMAT = "airgap.mirror/v1"

LAYOUT_PREFIX = "oci:"


class MirrorMapError(UserError, ValueError):
    """A mirror map that cannot be read or used; the message names the file and the entry."""


@dataclasses.dataclass(frozen=True)
class RegistryDestination:
    """An image in a registry: a reference with a tag, a digest, or both."""

    ref: _ref.Reference
    kind = "registry"

    def __str__(self) -> str:
        return str(self.ref)

    @property
    def registry(self) -> str:
        return self.ref.registry

    @property
    def repository(self) -> str:
        return self.ref.repository

    @property
    def name(self) -> str:
        """``registry/repository``."""
        return self.ref.name


@dataclasses.dataclass(frozen=True)
class LayoutDestination:
    """An image in an OCI image layout on disk, recorded under *ref_name* in its ``index.json``."""

    path: str
    ref_name: str
    kind = "layout"

    def __post_init__(self) -> None:
        check_layout_path(self.path)
        if not self.ref_name:
            raise ValueError("an OCI layout destination needs a ref name")

    def __str__(self) -> str:
        return "%s%s:%s" % (LAYOUT_PREFIX, self.path, self.ref_name)


Destination = Union[RegistryDestination, LayoutDestination]


def check_layout_path(path: str) -> str:
    """*path* if it can name an OCI layout in ``oci:PATH:REF``; skopeo and the mirror map split
    that text at the first colon, so a path with one cannot be told from its ref name."""
    if not path:
        raise ValueError("an OCI layout needs a path")
    if ":" in path:
        raise ValueError("OCI layout path %r contains ':'; oci:PATH:REF is split at the first colon "
                         "(as skopeo does), so use a path without one" % path)
    return path


def parse_destination(text: str) -> Destination:
    """The destination an entry records: ``oci:PATH:REF`` or a registry reference.

    Raises :class:`ValueError` (``InvalidReference`` for a bad registry reference) naming the text.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("a destination must be a non-empty string, not %r" % (text,))
    if text.startswith(LAYOUT_PREFIX):
        path, sep, ref_name = text[len(LAYOUT_PREFIX):].partition(":")
        if not sep or not path or not ref_name:
            raise ValueError("layout destination %r is not of the form oci:PATH:REF" % text)
        return LayoutDestination(path, ref_name)
    ref = _ref.parse(text)
    if ref.tag is None and ref.digest is None:
        raise InvalidReference(text, "a registry destination needs a tag or a digest")
    return RegistryDestination(ref)


VERIFIED_KINDS = ("gpg", "sigstore")


@dataclasses.dataclass(frozen=True)
class Verified:
    """What was checked before an image was mirrored: the signature *kind* (``gpg`` or
    ``sigstore``) and the *keys* whose signatures passed (OpenPGP primary fingerprints for gpg)."""

    kind: str
    keys: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "keys": list(self.keys)}

    @classmethod
    def from_dict(cls, data: Any) -> Verified:
        """Raises ValueError when *data* is not ``{"kind": "gpg"|"sigstore", "keys": [str, ...]}``."""
        if not isinstance(data, Mapping):
            raise ValueError("verified must be a mapping with kind and keys")
        kind = data.get("kind")
        if kind not in VERIFIED_KINDS:
            raise ValueError("verified.kind must be one of %s, not %r" % (", ".join(VERIFIED_KINDS), kind))
        unknown = sorted(set(data) - {"kind", "keys"})
        if unknown:
            raise ValueError("verified has unknown keys: %s" % ", ".join(map(str, unknown)))
        return cls(kind, _strings(data.get("keys"), "verified.keys"))


@dataclasses.dataclass(frozen=True)
class Entry:
    """One mirrored image: where it came from, what it is, and where it lives in the mirror."""

    source: _ref.Reference
    digest: str
    media_type: str
    destination: Destination
    platforms: tuple[str, ...] = ()
    size: int = 0
    attachments: tuple[str, ...] = ()
    #: the upstream digest when the mirror serves a different one (an index filtered to some
    #: platforms); None when the mirror serves the source's own digest
    source_digest: str | None = None
    #: the registry or repository the image was fetched through (a pull-through proxy); None when
    #: it was fetched from the registry its source names
    source_via: str | None = None
    #: the signatures checked before the image was mirrored; None when none were
    verified: Verified | None = None

    @property
    def upstream_digest(self) -> str:
        """The digest the source registry serves for this image."""
        return self.source_digest or self.digest

    @property
    def filtered(self) -> bool:
        """True when the mirror serves a different digest than the source (see source_digest)."""
        return self.source_digest is not None and self.source_digest != self.digest

    @property
    def source_tag(self) -> str | None:
        return self.source.tag

    @property
    def key(self) -> tuple[str, str]:
        """What identifies an entry in a map: its source and its destination."""
        return str(self.source), str(self.destination)

    @property
    def registry_destination(self) -> RegistryDestination | None:
        """The destination when it is a registry, else None."""
        dest = self.destination
        return dest if isinstance(dest, RegistryDestination) else None

    @property
    def pinned(self) -> _ref.Reference | None:
        """``mirror/repo@digest`` for a registry destination: what a consumer pulls."""
        dest = self.registry_destination
        return dest.ref.without_tag().with_digest(self.digest) if dest is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The entry as the map file holds it (key order is the file's; the optional keys are
        written only when set, so maps of unfiltered, direct runs keep their text)."""
        out: dict[str, Any] = {
            "source": str(self.source),
            "source_tag": self.source_tag,
            "digest": self.digest,
            "media_type": self.media_type,
            "platforms": list(self.platforms),
            "size": self.size,
            "destination": str(self.destination),
            "attachments": list(self.attachments),
        }
        if self.source_digest is not None:
            out["source_digest"] = self.source_digest
        if self.source_via is not None:
            out["source_via"] = self.source_via
        if self.verified is not None:
            out["verified"] = self.verified.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "entry") -> Entry:
        """Validate one entry of a map file; errors name *where* and the entry's source."""
        if not isinstance(data, Mapping):
            raise MirrorMapError("%s: expected a mapping, not %s" % (where, type(data).__name__))
        missing = [k for k in ("source", "digest", "media_type", "destination") if not data.get(k)]
        if missing:
            raise MirrorMapError("%s (%s): missing %s" % (where, data.get("source", "?"), ", ".join(missing)))
        try:
            source = _ref.parse(data["source"])
            digest = _ref.validate_digest(data["digest"])
            destination = parse_destination(data["destination"])
            platforms = _strings(data.get("platforms"), "platforms")
            attachments = _strings(data.get("attachments"), "attachments")
            size = int(data.get("size") or 0)
            source_digest = _ref.validate_digest(data["source_digest"]) if data.get("source_digest") else None
            source_via = data.get("source_via") or None
            if source_via is not None and not isinstance(source_via, str):
                raise ValueError("source_via must be a string")
            verified = Verified.from_dict(data["verified"]) if data.get("verified") is not None else None
        except (InvalidReference, ValueError, TypeError) as exc:
            raise MirrorMapError("%s (%s): %s" % (where, data.get("source", "?"), exc)) from None
        if not isinstance(data["media_type"], str):
            raise MirrorMapError("%s (%s): media_type must be a string" % (where, data["source"]))
        return cls(source, digest, data["media_type"], destination, platforms, size, attachments,
                   source_digest, source_via, verified)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError("%s must be a list of strings" % what)
    return tuple(value)


class MirrorMap:
    """The entries of a mirror map, sorted by source and destination, with their lookups.

    Immutable: merging or filtering gives a new map.
    """

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self.entries: tuple[Entry, ...] = tuple(sorted(entries, key=lambda e: e.key))
        self._by_name: dict[str, list[Entry]] = {}
        for entry in self.entries:
            self._by_name.setdefault(entry.source.name, []).append(entry)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MirrorMap) and self.entries == other.entries

    def __repr__(self) -> str:
        return "MirrorMap(%d entries)" % len(self.entries)

    def by_key(self) -> dict[tuple[str, str], Entry]:
        """``{(source, destination): entry}``."""
        return {entry.key: entry for entry in self.entries}

    def by_source_name(self, name: str) -> list[Entry]:
        """The entries of one source repository (``registry/path``)."""
        return list(self._by_name.get(name, ()))

    def by_source(self, source: _ref.Reference | str) -> list[Entry]:
        """The entries whose source is exactly *source* (normalized)."""
        ref = _ref.parse(source) if isinstance(source, str) else source
        return [e for e in self._by_name.get(ref.name, ()) if e.source == ref]

    def by_digest(self, digest: str) -> list[Entry]:
        """The entries of the image with this top-level digest."""
        return [e for e in self.entries if e.digest == digest]

    def lookup(self, source: _ref.Reference) -> tuple[Entry | None, str | None]:
        """The entry a consumer should use for *source*, and how it matched.

        A source with a digest matches an entry of the same repository with that digest (the
        image's, the one its source was pinned to, or the source's digest of an image the mirror
        holds filtered to some platforms), preferring the same tag; otherwise a tagged
        source matches an entry of the same repository and tag. Returns ``(entry, "digest" |
        "tag")`` or ``(None, None)``; ties go to the first destination in sort order.
        """
        candidates = self._by_name.get(source.name, ())
        if source.digest:
            found = [e for e in candidates if source.digest in (e.digest, e.source.digest, e.source_digest)]
            if found:
                found.sort(key=lambda e: (e.source.tag != source.tag, str(e.destination)))
                return found[0], "digest"
        if source.tag:
            found = [e for e in candidates if e.source.tag == source.tag]
            if found:
                return found[0], "tag"
        return None, None

    def registry_entries(self) -> list[tuple[Entry, RegistryDestination]]:
        """Entries whose destination is a registry, with that destination."""
        return [(e, e.destination) for e in self.entries if isinstance(e.destination, RegistryDestination)]
