# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Files next to the images: what one file to mirror is (:class:`FileSpec`), the OCI artifact it is
stored as (media types, annotations, the manifest) and the name it gets in a layout or registry.

A file ``https://HOST/DIR/NAME`` is stored as an OCI image manifest with ``artifactType``
:data:`FILE_TYPE`, the empty config, and one layer per file: the file itself, its checksum file, its
detached OpenPGP signature (each layer titled with its file name, ``org.opencontainers.image.title``,
as ORAS does). Its reference is ``HOST/files/DIR:NAME`` (:func:`reference_for`): one repository per
directory, one tag per file, so ``image_mirror``'s naming maps it like any image.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from .._common.errors import UserError
from .._oci import manifest as _manifest
from .._oci import reference as _ref

FILE_TYPE = "application/vnd.io.github.airgap-mirror.file.v1"
FILE_LAYER = "application/vnd.io.github.airgap-mirror.file.layer.v1"
CHECKSUM_LAYER = "application/vnd.io.github.airgap-mirror.file.checksum.v1"
SIGNATURE_LAYER = "application/pgp-signature"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
TITLE = "org.opencontainers.image.title"
URL_NOTE = "io.github.airgap-mirror.file.url"
PATH_NOTE = "io.github.airgap-mirror.file.path"
CHECKSUM_NOTE = "io.github.airgap-mirror.file.checksum"
SIGNER_NOTE = "io.github.airgap-mirror.file.signer"
#: the repository component every file reference has after its host
FILES_COMPONENT = "files"
ALGORITHMS = {"sha256": 64, "sha512": 128}
#: a pinned checksum may also be md5: some sources publish nothing stronger (the ``md5_hash`` of
#: Elastic's GeoIP database overview). Never for checksum files or lists.
PINNED_ALGORITHMS = {**ALGORITHMS, "md5": 32}
_TAG_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
_COMPONENT_BAD = re.compile(r"[^a-z0-9]+")
_MAX_TAG = 128


class ArtifactError(UserError):
    """A file that cannot be mirrored or exported; the message names its URL or path."""


@dataclasses.dataclass(frozen=True)
class Checksum:
    """Where a file's checksum comes from: ``kind`` ``file`` (the file ``URL + .ALGO`` or *url*),
    ``list`` (a ``SHA256SUMS``-style list at *url*) or ``pinned`` (*value* given as ``ALGO:HEX``)."""

    kind: str
    algorithm: str | None = None
    url: str | None = None
    value: str | None = None


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """One file to mirror: its URL, checksum source, signature URL (None: not verified) and the
    relative path it is exported to."""

    url: str
    checksum: Checksum
    signature_url: str | None
    path: str

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc.rsplit("@", 1)[-1]

    @property
    def ref(self) -> str:
        return reference_for(self.host, self.path)

    @property
    def checksum_name(self) -> str:
        """The checksum file's name next to the file (``NAME.sha512``)."""
        if self.checksum.kind == "file" and self.checksum.url:
            return posixpath.basename(unquote(urlsplit(self.checksum.url).path))
        return "%s.%s" % (self.name, self.checksum.algorithm or "sha256")


def check_url(url: Any, where: str) -> str:
    """*url* if it is an ``https://`` or ``http://`` URL with a host, a path and no credentials."""
    if not isinstance(url, str) or not url:
        raise ArtifactError("%s: a URL must be a non-empty string, not %r" % (where, url))
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ArtifactError("%s: %s is not an https:// or http:// URL" % (where, url))
    if "@" in parts.netloc:
        raise ArtifactError("%s: a URL with credentials in it is refused (the URL is not repeated)" % where)
    if parts.query or parts.fragment:
        raise ArtifactError("%s: %s has a query or fragment; give the file's plain URL" % (where, url))
    return url


def check_path(path: Any, where: str) -> str:
    """*path* if it is a relative POSIX path without ``..``, ``.`` or empty components."""
    if not isinstance(path, str) or not path:
        raise ArtifactError("%s: the path must be a non-empty string" % where)
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\0" in path:
        raise ArtifactError("%s: path %r must be relative, without '.', '..' or empty components" % (where, path))
    return path


def url_path(url: str) -> str:
    """The path a URL's file is exported to by default: its URL path, decoded, without the leading
    slash."""
    return unquote(urlsplit(url).path).lstrip("/")


def tag_for(name: str) -> str:
    """A registry tag for the file name *name*: the name itself when it is a valid tag
    (``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``); otherwise the name with other characters replaced by
    ``_``, cut, and followed by ``-`` and 12 hex digits of its SHA-256, so two names never share one."""
    clean = _TAG_CHAR.sub("_", name)
    if clean == name and len(name) <= _MAX_TAG and not name.startswith((".", "-")):
        return name
    suffix = "-" + hashlib.sha256(name.encode()).hexdigest()[:12]
    clean = clean.lstrip(".-") or "_"
    return clean[:_MAX_TAG - len(suffix)] + suffix


def _component(text: str) -> str:
    """A repository path component (``[a-z0-9]+([._-][a-z0-9]+)*``) for a directory name."""
    clean = _COMPONENT_BAD.sub("-", text.lower()).strip("-")
    if clean == text:
        return clean
    suffix = hashlib.sha256(text.encode()).hexdigest()[:8]
    return "%s-%s" % (clean, suffix) if clean else suffix


def reference_for(host: str, path: str) -> str:
    """The reference of the file at *path* of *host*: ``HOST/files/DIR...:TAG``. Directory names
    that are not valid repository components are lower-cased and cleaned, with a hash of the
    original added; the original path is kept in the manifest's annotations."""
    directory, name = posixpath.split(path)
    components = [FILES_COMPONENT] + [_component(d) for d in directory.split("/") if d]
    text = "%s/%s:%s" % (_ref.normalize_registry(host), "/".join(components), tag_for(name))
    return str(_ref.parse(text))


def artifact_manifest(spec: FileSpec, digest: str, size: int, checksum: tuple[str, str], checksum_bytes: bytes,
                      signature: bytes | None, signer: str | None) -> bytes:
    """The OCI image manifest of one stored file (deterministic: the same file, checksum and
    signature give the same bytes)."""
    layers = [_layer(FILE_LAYER, digest, size, spec.name),
              _layer(CHECKSUM_LAYER, _manifest.compute_digest(checksum_bytes), len(checksum_bytes), spec.checksum_name)]
    if signature is not None:
        layers.append(_layer(SIGNATURE_LAYER, _manifest.compute_digest(signature), len(signature), spec.name + ".asc"))
    notes = {TITLE: spec.name, URL_NOTE: spec.url, PATH_NOTE: spec.path, CHECKSUM_NOTE: "%s:%s" % checksum}
    if signer:
        notes[SIGNER_NOTE] = signer
    body = {"schemaVersion": 2, "mediaType": _manifest.OCI_MANIFEST, "artifactType": FILE_TYPE,
            "config": {"mediaType": EMPTY_TYPE, "digest": _manifest.compute_digest(EMPTY), "size": len(EMPTY)},
            "layers": layers, "annotations": notes}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _layer(media_type: str, digest: str, size: int, title: str) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, "annotations": {TITLE: title}}


def is_file_artifact(body: Any) -> bool:
    """True for the manifest of a stored file."""
    return isinstance(body, dict) and body.get("artifactType") == FILE_TYPE
