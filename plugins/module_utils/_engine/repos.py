# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Where images are read from and written to, behind one small interface.

``RegistryRepo`` (a repository of a registry), ``LayoutRepo`` (the images of one source
repository inside an OCI layout, named by their full reference) and ``DirExportImage`` (a skopeo
``dir:`` export, read only). The planner and the copier only talk to these.

Identifiers: a tag, a digest, or for layouts the ref name under which the image is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._oci import manifest as _manifest
from .._oci.errors import LayoutError, NotFound

if TYPE_CHECKING:  # a registry-to-registry run does not load the layout and dir: code
    from .direxport import DirExport
    from .layout import Layout

ATTACHMENT_SUFFIXES = (".sig", ".att", ".sbom", ".gpgsig")


def is_digest(ident: object) -> bool:
    return isinstance(ident, str) and (ident.startswith("sha256:") or ident.startswith("sha512:"))


class RegistryRepo:
    kind = "registry"
    can_mount = True
    verifies_uploads = True  # the registry checks every blob against its digest on upload
    #: its tag list may be asked for before its manifest (see resolve._Early); not so for a
    #: pull-through source, whose first manifest request picks where the image comes from
    tags_before_manifest = True

    def __init__(self, client: Any, repository: str) -> None:
        self.client = client
        self.repository = repository

    @property
    def key(self) -> tuple[str, ...]:
        return ("registry", self.client.registry, self.repository)

    @property
    def blob_scope(self) -> tuple[str, str]:
        """Blobs are shared (by mount) across the repositories of one registry."""
        return ("registry", self.client.registry)

    def describe(self, ident: str | None = None) -> str:
        name = "%s/%s" % (self.client.registry, self.repository)
        if ident is None:
            return name
        return "%s%s%s" % (name, "@" if is_digest(ident) else ":", ident)

    # source side
    def resolve(self, ident: str, image: str | None = None) -> tuple[str, str | None, int | None] | None:
        return self.client.head_manifest(self.repository, ident, image=image)

    def fetch_manifest(self, ident: str, image: str | None = None) -> tuple[bytes, str | None]:
        return self.client.get_manifest(self.repository, ident, image=image)

    def open_blob(self, desc: _manifest.Descriptor, offset: int = 0, image: str | None = None) -> Any:
        return self.client.open_blob(self.repository, desc.digest, desc.size, offset, image=image)

    def list_tags(self, image: str | None = None) -> list[str]:
        return self.client.list_tags(self.repository, image=image)

    def referrers(self, digest: str, image: str | None = None) -> list[dict[str, Any]] | None:
        """Descriptors referring to *digest* (referrers API), or None without the API."""
        body = self.client.referrers(self.repository, digest, image=image)
        return None if body is None else body.get("manifests") or []

    def supports_referrers(self, digest: str, image: str | None = None) -> bool:
        return self.client.referrers(self.repository, digest, image=image) is not None

    def read_referrers_tag(self, subject: str, image: str | None = None) -> list[dict[str, Any]]:
        """The descriptors of the referrers tag-schema index (``sha256-<hex>``) of *subject*."""
        tag = referrers_tag(subject)
        if self.client.head_manifest(self.repository, tag, image=image) is None:
            return []
        data, _ctype = self.client.get_manifest(self.repository, tag, image=image)
        return _index_descriptors(data)

    def write_referrers_tag(self, subject: str, descriptors: list[dict[str, Any]],
                            image: str | None = None) -> None:
        data = _referrers_index(descriptors)
        self.client.put_manifest(self.repository, referrers_tag(subject), data, _manifest.OCI_INDEX, image=image)

    # destination side
    def will_push(self) -> None:
        """Say that the run will push here: its tokens for this repository then also allow pushing
        (one token for the checks and the pushes, see :meth:`.auth.Authenticator.expect`)."""
        self.client.auth.expect(self.repository, ("pull", "push"))

    def current_digest(self, ident: str, image: str | None = None) -> str | None:
        found = self.client.head_manifest(self.repository, ident, image=image)
        return found[0] if found else None

    def has_blob(self, desc: _manifest.Descriptor, image: str | None = None) -> bool:
        return self.client.head_blob(self.repository, desc.digest, image=image) is not None

    def ensure_blob(self, desc: _manifest.Descriptor, opener: Callable[[int], Iterable[bytes]],
                    image: str | None = None, session: Any = None, mount_from: RegistryRepo | None = None) -> str:
        """Make the blob present here: "mounted" (from the RegistryRepo *mount_from*), "skipped"
        (it was here) or "copied"; see RegistryClient.ensure_blob."""
        return self.client.ensure_blob(self.repository, desc.digest, desc.size, opener, image=image,
                                       session=session, from_repo=mount_from.repository if mount_from else None)

    def put_manifest(self, ident: str, manifest: _manifest.Manifest, image: str | None = None,
                     root: bool = False, source_digest: str | None = None) -> None:
        self.client.put_manifest(self.repository, ident, manifest.data, manifest.media_type, image=image)


class LayoutRepo:
    """The images of one repository inside a layout. ``ident`` is a tag/digest of that repository
    (the ref name is then ``<name>:<tag>`` / ``<name>@<digest>``) or, with ``name=None``, a whole ref
    name such as ``v1`` in layouts written by other tools."""

    kind = "layout"
    can_mount = False
    verifies_uploads = False

    def __init__(self, layout: Layout, name: str | None = None) -> None:
        self.layout = layout
        self.name = name

    @property
    def key(self) -> tuple[str, str, str | None]:
        return ("layout", self.layout.path, self.name)

    @property
    def blob_scope(self) -> tuple[str, str]:
        return ("layout", self.layout.path)

    def ref_name(self, ident: str) -> str:
        if self.name is None or "/" in ident:
            return ident  # already a whole ref name
        return "%s%s%s" % (self.name, "@" if is_digest(ident) else ":", ident)

    def describe(self, ident: str | None = None) -> str:
        if ident is None:
            return "oci:%s" % self.layout.path
        return "oci:%s:%s" % (self.layout.path, self.ref_name(ident))

    # source side
    def resolve(self, ident: str, image: str | None = None) -> tuple[str, str | None, int | None] | None:
        desc = self.layout.find(self.ref_name(ident))
        if desc is None and is_digest(ident) and self.layout.has_blob(ident):
            data = self.layout.read_blob(ident)
            return ident, _manifest.detect_media_type(_loads(data)), len(data)
        if desc is None:
            return None
        return desc.digest, desc.media_type, desc.size

    def fetch_manifest(self, ident: str, image: str | None = None) -> tuple[bytes, str | None]:
        if is_digest(ident) and self.layout.has_blob(ident):
            data = self.layout.read_blob(ident)
            return data, None
        desc = self.layout.find(self.ref_name(ident))
        if desc is None:
            raise NotFound("%s is not recorded in the layout %s" % (self.ref_name(ident), self.layout.path),
                           image=image)
        try:
            return self.layout.read_blob(desc.digest), desc.media_type
        except NotFound:
            raise LayoutError("layout %s records %s as %s but that blob is missing"
                              % (self.layout.path, self.ref_name(ident), desc.digest), image=image) from None

    def open_blob(self, desc: _manifest.Descriptor, offset: int = 0, image: str | None = None) -> Any:
        try:
            return self.layout.open_blob(desc.digest, desc.size, offset)
        except NotFound as exc:
            raise exc.for_image(image)

    def referrers(self, digest: str, image: str | None = None) -> list[dict[str, Any]] | None:
        return None

    def supports_referrers(self, digest: str, image: str | None = None) -> bool:
        return False

    def read_referrers_tag(self, subject: str, image: str | None = None) -> list[dict[str, Any]]:
        desc = self.layout.find(self.ref_name(referrers_tag(subject)))
        if desc is None:
            return []
        return _index_descriptors(self.layout.read_blob(desc.digest))

    def write_referrers_tag(self, subject: str, descriptors: list[dict[str, Any]],
                            image: str | None = None) -> None:
        data = _referrers_index(descriptors)
        digest = _manifest.compute_digest(data)
        self.layout.put_bytes(digest, data, image=image)
        self.layout.set_refs([(self.ref_name(referrers_tag(subject)),
                               _manifest.Descriptor(_manifest.OCI_INDEX, digest, len(data)))])

    def list_tags(self, image: str | None = None) -> list[str]:
        prefix = (self.name or "") + ":"
        return [name[len(prefix):] for name, _d in self.layout.entries()
                if name and self.name and name.startswith(prefix) and "@" not in name]

    # destination side
    def current_digest(self, ident: str, image: str | None = None) -> str | None:
        desc = self.layout.find(self.ref_name(ident))
        if desc is None or not self.layout.has_blob(desc.digest, desc.size):
            return None
        return desc.digest

    def has_blob(self, desc: _manifest.Descriptor, image: str | None = None) -> bool:
        return self.layout.has_blob(desc.digest, desc.size)

    def ensure_blob(self, desc: _manifest.Descriptor, opener: Callable[[int], Iterable[bytes]],
                    image: str | None = None, session: Any = None, mount_from: RegistryRepo | None = None) -> str:
        """Write the blob into the shared ``blobs/`` unless it is there: "skipped" or "copied"."""
        if self.has_blob(desc):
            return "skipped"
        self.layout.write_blob(desc.digest, desc.size, opener, image=image)
        return "copied"

    def put_manifest(self, ident: str, manifest: _manifest.Manifest, image: str | None = None,
                     root: bool = False, source_digest: str | None = None) -> None:
        """Store the manifest; a root manifest is also recorded in index.json under its ref name
        (with the digest of its source when it was filtered to some platforms)."""
        self.layout.put_bytes(manifest.digest, manifest.data, image=image)
        if root:
            from .layout import SOURCE_DIGEST
            notes = {SOURCE_DIGEST: source_digest} if source_digest else None
            self.layout.set_refs([(self.ref_name(ident), manifest.descriptor(annotations=notes))])

    def recorded_source_digest(self, ident: str) -> str | None:
        """The source digest index.json records for a filtered image (None: the image is its source's)."""
        from .layout import SOURCE_DIGEST
        desc = self.layout.find(self.ref_name(ident))
        return desc.annotations.get(SOURCE_DIGEST) if desc is not None else None


class DirExportImage:
    """A skopeo ``dir:`` export as a source (one image; ``ident`` is ignored but for digests)."""

    kind = "dir"

    def __init__(self, export: DirExport) -> None:
        self.export = export
        self._top: str | None = None

    @property
    def key(self) -> tuple[str, ...]:
        return ("dir", self.export.path)

    def describe(self, ident: str | None = None) -> str:
        return "dir:%s" % self.export.path

    def _top_digest(self) -> str:
        if self._top is None:
            self._top = _manifest.compute_digest(self.export.top_manifest())
        return self._top

    def resolve(self, ident: str, image: str | None = None) -> tuple[str, str | None, int | None] | None:
        data = self.export.top_manifest()
        return self._top_digest(), _manifest.detect_media_type(_loads(data)), len(data)

    def fetch_manifest(self, ident: str, image: str | None = None) -> tuple[bytes, str | None]:
        if is_digest(ident):
            return self.export.read_manifest(ident, self._top_digest()), None
        return self.export.top_manifest(), None

    def open_blob(self, desc: _manifest.Descriptor, offset: int = 0, image: str | None = None) -> Any:
        try:
            return self.export.open_blob(desc.digest, offset)
        except NotFound as exc:
            raise exc.for_image(image)

    def list_tags(self, image: str | None = None) -> list[str]:
        return []


def _loads(data: bytes) -> dict[str, Any]:
    import json
    try:
        body = json.loads(data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def referrers_tag(digest: str) -> str:
    """The OCI referrers tag schema: ``<alg>-<hex>``."""
    return digest.replace(":", "-", 1)


def _index_descriptors(data: bytes) -> list[dict[str, Any]]:
    body = _loads(data)
    return [m for m in body.get("manifests") or [] if isinstance(m, dict) and m.get("digest")]


def _referrers_index(descriptors: list[dict[str, Any]]) -> bytes:
    import json
    body = {"schemaVersion": 2, "mediaType": _manifest.OCI_INDEX, "manifests": list(descriptors)}
    return json.dumps(body, separators=(",", ":")).encode()


def attachment_tags(tags: Iterable[str], digests: Iterable[str]) -> list[str]:
    """Tags that attach artifacts to one of *digests*: cosign ``sha256-<hex>.sig/.att/.sbom`` and the
    OCI referrers tag schema ``sha256-<hex>`` (an index of referrers, for registries without the
    referrers API)."""
    wanted = {d.replace(":", "-", 1) for d in digests}
    out = []
    for tag in tags:
        base = tag
        for suffix in ATTACHMENT_SUFFIXES:
            if tag.endswith(suffix):
                base = tag[: -len(suffix)]
                break
        if base in wanted:
            out.append(tag)
    return sorted(out)
