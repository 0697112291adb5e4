# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Media types, descriptors, manifests and indexes (OCI and Docker schema 2).

Manifests are kept as the exact bytes the source served: digests are always preserved because
nothing is ever re-serialized. Parsing only reads what the copy needs (children, config, layers,
subject, platforms) and rejects what it cannot copy faithfully, naming the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from .errors import DigestMismatch, ManifestError
from .reference import validate_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

INDEX_TYPES = frozenset((OCI_INDEX, DOCKER_LIST))
IMAGE_TYPES = frozenset((OCI_MANIFEST, DOCKER_MANIFEST))
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES

# Every request for a manifest sends the full list: distribution serves an OCI index only to
# clients that accept its media type (it does not convert), and answers 404 otherwise.
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

# Layers that registries must not (or need not) store: referenced by URL, never copied.
NONDISTRIBUTABLE = frozenset((
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
))

MAX_MANIFEST_BYTES = 4 * 1024 * 1024


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return "%s:%s" % (algorithm, hashlib.new(algorithm, data).hexdigest())


def hasher_for(digest: str) -> Any:
    """A fresh hashlib object for the algorithm of *digest*."""
    return hashlib.new(digest.split(":", 1)[0])


def verify_digest(data: bytes, expected: str, what: str = "content", image: str | None = None) -> str:
    """Raise DigestMismatch unless *data* hashes to *expected*."""
    actual = compute_digest(data, expected.split(":", 1)[0])
    if actual != expected:
        raise DigestMismatch("%s does not match its digest: expected %s, got %s" % (what, expected, actual),
                             image=image)
    return actual


class Descriptor:
    """A content descriptor. ``raw`` keeps the source dict so nothing is lost when re-emitted."""

    __slots__ = ("media_type", "digest", "size", "platform", "annotations", "urls", "artifact_type", "raw")

    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None
    annotations: dict[str, str]
    urls: list[str]
    artifact_type: str | None
    raw: dict[str, Any] | None

    def __init__(self, media_type: str, digest: str, size: int, platform: dict[str, Any] | None = None,
                 annotations: dict[str, str] | None = None, urls: list[str] | None = None,
                 artifact_type: str | None = None, raw: dict[str, Any] | None = None) -> None:
        self.media_type = media_type
        self.digest = digest
        self.size = size
        self.platform = platform
        self.annotations = annotations or {}
        self.urls = urls or []
        self.artifact_type = artifact_type
        self.raw = raw

    @classmethod
    def from_dict(cls, data: object, where: str) -> Descriptor:
        if not isinstance(data, dict):
            raise ManifestError("%s: a descriptor must be an object" % where)
        media_type = data.get("mediaType")
        digest = data.get("digest")
        size = data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise ManifestError("%s: descriptor without mediaType" % where)
        try:
            digest = validate_digest(digest)
        except ValueError as exc:
            raise ManifestError("%s: %s" % (where, exc)) from None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ManifestError("%s: descriptor %s has an invalid size %r" % (where, digest, size))
        platform = data.get("platform")
        if platform is not None and not isinstance(platform, dict):
            raise ManifestError("%s: descriptor %s has an invalid platform" % (where, digest))
        return cls(media_type, digest, size, platform, data.get("annotations"), data.get("urls"),
                   data.get("artifactType"), data)

    def to_dict(self) -> dict[str, Any]:
        if self.raw is not None:
            return dict(self.raw)
        out = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    @property
    def platform_string(self) -> str | None:
        return platform_string(self.platform)

    @property
    def distributable(self) -> bool:
        return not (self.urls and self.media_type in NONDISTRIBUTABLE)

    def __repr__(self) -> str:
        return "Descriptor(%s, %s, %d)" % (self.media_type, self.digest, self.size)


def platform_string(platform: dict[str, Any] | None) -> str | None:
    if not platform:
        return None
    text = "%s/%s" % (platform.get("os", "unknown"), platform.get("architecture", "unknown"))
    if platform.get("variant"):
        text += "/" + platform["variant"]
    return text


class Manifest:
    """A parsed manifest or index, holding its exact bytes."""

    __slots__ = ("data", "media_type", "digest", "children", "config", "layers", "subject", "body")

    data: bytes
    media_type: str
    digest: str
    body: dict[str, Any]
    children: list[Descriptor]
    config: Descriptor | None
    layers: list[Descriptor]
    subject: Descriptor | None

    def __init__(self, data: bytes, media_type: str, digest: str, body: dict[str, Any],
                 children: Iterable[Descriptor] = (), config: Descriptor | None = None,
                 layers: Iterable[Descriptor] = (), subject: Descriptor | None = None) -> None:
        self.data = data
        self.media_type = media_type
        self.digest = digest
        self.body = body
        self.children = list(children)
        self.config = config
        self.layers = list(layers)
        self.subject = subject

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def blobs(self) -> list[Descriptor]:
        """Config and layers that must be copied (non-distributable layers are skipped)."""
        out = [self.config] if self.config is not None else []
        out.extend(layer for layer in self.layers if layer.distributable)
        return out

    def descriptor(self, **extra: Any) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size, **extra)

    def __repr__(self) -> str:
        return "Manifest(%s, %s)" % (self.media_type, self.digest)


def detect_media_type(body: dict[str, Any], content_type: str | None = None) -> str | None:
    """The media type of a manifest body: its mediaType field, else the server's Content-Type,
    else its structure (OCI allows omitting mediaType)."""
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    ctype = (content_type or "").split(";", 1)[0].strip()
    if ctype in MANIFEST_TYPES:
        return ctype
    if body.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1
    if "manifests" in body:
        return OCI_INDEX
    if "config" in body and "layers" in body:
        return OCI_MANIFEST
    return ctype or None


def parse(data: bytes, content_type: str | None = None, expected_digest: str | None = None,
          where: str = "manifest") -> Manifest:
    """Parse manifest bytes; verify them against *expected_digest* when given."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError("%s is %d bytes, larger than the %d bytes a registry accepts"
                            % (where, len(data), MAX_MANIFEST_BYTES))
    if expected_digest:
        digest = verify_digest(data, expected_digest, what=where)
    else:
        digest = compute_digest(data)
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError("%s is not JSON: %s" % (where, exc)) from None
    if not isinstance(body, dict):
        raise ManifestError("%s is not a JSON object" % where)
    media_type = detect_media_type(body, content_type)
    if media_type in (DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED):
        raise ManifestError("%s is a Docker schema 1 manifest, which is deprecated and cannot be copied "
                            "with its digest preserved; ask the publisher for a schema 2 or OCI image" % where)
    if media_type not in MANIFEST_TYPES:
        raise ManifestError("%s has an unknown media type %r (supported: %s)"
                            % (where, media_type, ", ".join(sorted(MANIFEST_TYPES))))
    if body.get("schemaVersion") != 2:
        raise ManifestError("%s has schemaVersion %r, expected 2" % (where, body.get("schemaVersion")))
    subject = None
    if body.get("subject") is not None:
        subject = Descriptor.from_dict(body["subject"], "%s subject" % where)
    if media_type in INDEX_TYPES:
        children = body.get("manifests")
        if not isinstance(children, list):
            raise ManifestError("%s: an index needs a 'manifests' list" % where)
        descs = [Descriptor.from_dict(c, "%s manifests[%d]" % (where, i)) for i, c in enumerate(children)]
        return Manifest(data, media_type, digest, body, children=descs, subject=subject)
    config = body.get("config")
    layers = body.get("layers")
    if config is None or not isinstance(layers, list):
        raise ManifestError("%s: an image manifest needs 'config' and a 'layers' list" % where)
    config_desc = Descriptor.from_dict(config, "%s config" % where)
    layer_descs = [Descriptor.from_dict(layer, "%s layers[%d]" % (where, i)) for i, layer in enumerate(layers)]
    return Manifest(data, media_type, digest, body, config=config_desc, layers=layer_descs, subject=subject)


def child_where(parent_where: str, desc: Descriptor) -> str:
    plat = desc.platform_string
    return "%s > %s%s" % (parent_where, desc.digest[:19], " (%s)" % plat if plat else "")
