"""Mirror maps for tests, built with the collection's own types (``_mirrormap.model``/``io``) and
its real mapping code, as ``image_mirror`` would write them."""

from __future__ import annotations

from collections.abc import Iterable

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as MMIO
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as MODEL
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import naming as NAMING
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def entry(source: str | R.Reference, digest: str, destination: str, media_type: str = INDEX,
          platforms: Iterable[str] = (), size: int = 1) -> MODEL.Entry:
    """One entry; *destination* is its text (``registry/repo:tag`` or ``oci:PATH:REF``)."""
    src = R.parse(source) if isinstance(source, str) else source
    return MODEL.Entry(src, digest, media_type, MODEL.parse_destination(destination), tuple(platforms), size)


def mirror_map(sources: Iterable[str], dest: str = "mirror:5000", mode: str = "keep",
               digests: dict[str, str] | None = None, media_type: str = INDEX,
               platforms: Iterable[str] = (), size: int = 1, mapping: NAMING.Mapping | None = None) -> str:
    """The text of a map mirroring *sources* to *dest* with *mode* (or the given *mapping*): the
    digest of each is its own (``@sha256:...``), *digests[source]*, or ``sha256:<n>`` (its
    position, from 1)."""
    mapping = mapping or NAMING.Mapping(dest, mode=mode)
    entries = []
    for index, text in enumerate(sources):
        src = R.parse(text)
        digest = (digests or {}).get(text) or src.digest or "sha256:%064x" % (index + 1)
        destination = str(mapping.map(src, digest=digest).without_digest())
        entries.append(entry(src, digest, destination, media_type, platforms, size))
    return dumps(entries)


def dumps(entries: Iterable[MODEL.Entry]) -> str:
    """The text of a map holding *entries*."""
    return MMIO.dumps(MODEL.MirrorMap(entries))


def filtered_digest(digest: str) -> str:
    """A stand-in for the digest of *digest*'s index filtered to some platforms."""
    import hashlib
    return "sha256:" + hashlib.sha256(("filtered " + digest).encode()).hexdigest()


def filtered(text: str, platforms: Iterable[str] = ("linux/amd64",)) -> str:
    """The map *text* as a run with a platforms filter writes it: each entry's mirror digest is
    :func:`filtered_digest` of its digest, which becomes its ``source_digest``."""
    import dataclasses
    return dumps(dataclasses.replace(e, digest=filtered_digest(e.digest), source_digest=e.digest,
                                     platforms=tuple(platforms)) for e in MMIO.loads(text))
