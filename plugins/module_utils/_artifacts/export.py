# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Stored files back into a directory, in their download layout: each artifact's layers (the file,
its checksum file, its signature) are written under the directory of the path the artifact
records, with the names their titles give, so a web server serves the tree as it is.

A file already there with the layer's digest is left alone; any other is replaced atomically (a
temporary file in the same directory, streamed, verified against the layer's digest, fsync'ed,
renamed). Paths and titles from the artifact are checked: relative, no ``..``, titles plain names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import posixpath
from collections.abc import Iterable
from typing import Any

from .._common.errors import UserError
from .._common.fileio import fsync_dir
from .._engine.layout import Layout
from .._engine.repos import LayoutRepo, RegistryRepo
from .._oci import manifest as _manifest
from .._oci import reference as _ref
from .download import READ_CHUNK
from .model import FILE_TYPE, FILES_COMPONENT, PATH_NOTE, TITLE, ArtifactError, check_path, is_file_artifact

WRITTEN = "written"
UNCHANGED = "unchanged"
WOULD_WRITE = "would_write"
FAILED = "failed"


@dataclasses.dataclass
class Item:
    """One artifact to export: its name (ref name or reference), where it is read from, and the
    tag or digest there."""

    name: str
    repo: Any
    ident: str


@dataclasses.dataclass
class ExportResult:
    ref: str
    path: str | None = None
    status: str = FAILED
    files: list[str] = dataclasses.field(default_factory=list)
    changed_files: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def layout_items(layout: Layout, names: Iterable[str] = ()) -> list[Item]:
    """The file artifacts of *layout*: those named by *names* (ref names), or every one."""
    repo = LayoutRepo(layout)
    wanted = list(names)
    if wanted:
        return [Item(name, repo, name) for name in wanted]
    items = []
    for name, desc in layout.entries():
        if name is None or desc.media_type != _manifest.OCI_MANIFEST:
            continue
        if desc.artifact_type == FILE_TYPE or (desc.artifact_type is None and _is_file(layout, desc.digest)):
            items.append(Item(name, repo, name))
    return items


def _is_file(layout: Layout, digest: str) -> bool:
    try:
        return is_file_artifact(json.loads(layout.read_blob(digest)))
    except (UserError, ValueError):
        return False


def registry_items(pool: Any, registry: str, names: Iterable[str]) -> list[Item]:
    """Artifacts at *registry* (``HOST[:PORT][/NAMESPACE]``) named ``REPOSITORY:TAG`` (or
    ``@DIGEST``) under it."""
    items = []
    for name in names:
        ref = _ref.parse("%s/%s" % (registry.rstrip("/"), name))
        ident = ref.digest or ref.tag or "latest"
        items.append(Item(str(ref), RegistryRepo(pool.get(ref.registry), ref.repository), ident))
    return items


def map_items(pool: Any, entries: Iterable[Any]) -> list[Item]:
    """The artifacts a mirror map records at registries whose source is a file reference
    (``HOST/files/...``); whether each is one is checked when it is read."""
    items = []
    for entry in entries:
        dest = entry.registry_destination
        if dest is None or not entry.source.repository.startswith(FILES_COMPONENT + "/"):
            continue
        items.append(Item(str(dest.ref), RegistryRepo(pool.get(dest.registry), dest.repository),
                          dest.ref.digest or entry.digest))
    return items


def export(items: Iterable[Item], directory: str, check_mode: bool) -> list[ExportResult]:
    """Write every item's files under *directory*; results in order, one per item."""
    results = []
    for item in items:
        result = ExportResult(item.name)
        try:
            _export(item, directory, check_mode, result)
        except UserError as exc:
            result.status, result.error = FAILED, str(exc)
        results.append(result)
    return results


def _export(item: Item, directory: str, check_mode: bool, result: ExportResult) -> None:
    data, _media_type = item.repo.fetch_manifest(item.ident, image=item.name)
    try:
        body = json.loads(data)
    except ValueError:
        raise ArtifactError("%s: the manifest is not JSON" % item.name) from None
    if not is_file_artifact(body):
        raise ArtifactError("%s is not a file stored by airgap.mirror.artifact_mirror (artifactType %r)"
                            % (item.name, body.get("artifactType") if isinstance(body, dict) else None))
    path = check_path((body.get("annotations") or {}).get(PATH_NOTE), "%s: annotation %s" % (item.name, PATH_NOTE))
    result.path = path
    base = posixpath.dirname(path)
    for n, raw in enumerate(body.get("layers") or []):
        desc = _manifest.Descriptor.from_dict(raw, "%s layers[%d]" % (item.name, n))
        title = desc.annotations.get(TITLE)
        if not isinstance(title, str) or not title or "/" in title or title in (".", "..") or "\0" in title:
            raise ArtifactError("%s layers[%d]: the title %r is not a plain file name" % (item.name, n, title))
        relative = posixpath.join(base, title) if base else title
        target = os.path.join(directory, *relative.split("/"))
        result.files.append(relative)
        if _has(target, desc):
            continue
        result.changed_files.append(relative)
        if not check_mode:
            _write(item, desc, target)
    if result.changed_files:
        result.status = WOULD_WRITE if check_mode else WRITTEN
    else:
        result.status = UNCHANGED


def _has(target: str, desc: _manifest.Descriptor) -> bool:
    """True when *target* is a regular file with the layer's size and digest."""
    try:
        if not os.path.isfile(target) or os.path.islink(target) or os.path.getsize(target) != desc.size:
            return False
        hasher = _manifest.hasher_for(desc.digest)
        with open(target, "rb") as handle:
            for chunk in iter(lambda: handle.read(READ_CHUNK), b""):
                hasher.update(chunk)
    except OSError as exc:
        raise ArtifactError("reading %s failed: %s" % (target, exc.strerror or exc)) from None
    return "%s:%s" % (desc.digest.split(":", 1)[0], hasher.hexdigest()) == desc.digest


def _write(item: Item, desc: _manifest.Descriptor, target: str) -> None:
    """Stream the layer into a temporary file next to *target*, verify it, rename it."""
    folder = os.path.dirname(target)
    temp = os.path.join(folder, ".%s.airgap-tmp" % os.path.basename(target))
    hasher = hashlib.sha256() if desc.digest.startswith("sha256:") else _manifest.hasher_for(desc.digest)
    size = 0
    try:
        os.makedirs(folder, exist_ok=True)
        source = item.repo.open_blob(desc, 0, image=item.name)
        try:
            with open(temp, "wb") as handle:
                for chunk in source:
                    handle.write(chunk)
                    hasher.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            close = getattr(source, "close", None)
            if close:
                close()
        actual = "%s:%s" % (desc.digest.split(":", 1)[0], hasher.hexdigest())
        if size != desc.size or actual != desc.digest:
            raise ArtifactError("%s: %s arrived with %d bytes and digest %s, not %d bytes with %s"
                                % (item.name, os.path.basename(target), size, actual, desc.size, desc.digest))
        os.chmod(temp, 0o644)
        os.replace(temp, target)
        fsync_dir(folder)
    except OSError as exc:
        raise ArtifactError("writing %s failed: %s" % (target, exc.strerror or exc)) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
