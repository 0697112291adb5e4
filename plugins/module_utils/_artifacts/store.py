# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Files into an OCI image layout: fetch the checksum, compare with what the layout holds, download
(resumable), verify checksum and signature, then store blobs and manifest and - last - record the
reference in ``index.json``. Nothing unverified is ever named by the index: the file's blob is
renamed into ``blobs/`` only after both checks passed, and the index is written after every blob
of the artifact is in place.

Each file succeeds or fails on its own (:func:`mirror_files` never raises for one file)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._common.errors import UserError
from .._common.fileio import fsync_dir
from .._engine.layout import Layout
from .._oci import manifest as _manifest
from .._trust import openpgp
from . import checksums
from .download import download, get_small
from .model import CHECKSUM_NOTE, EMPTY, FILE_TYPE, SIGNER_NOTE, URL_NOTE, ArtifactError, FileSpec, artifact_manifest

DOWNLOADED = "downloaded"
PRESENT = "present"
WOULD_DOWNLOAD = "would_download"
FAILED = "failed"


@dataclasses.dataclass
class FileResult:
    """What happened to one file."""

    url: str
    ref: str
    path: str
    status: str = FAILED
    digest: str | None = None
    before: str | None = None
    size: int = 0
    checksum: str | None = None
    signer: str | None = None
    fetched: int = 0
    resumed_from: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every file of a run shares: the client pool, the layout, the trusted keys (and their
    fingerprints), body attempts, check mode."""

    pool: Any
    layout: Layout
    keys: tuple[bytes, ...] = ()
    fingerprints: tuple[str, ...] = ()
    attempts: int = 5
    check_mode: bool = False


def mirror_files(specs: Sequence[FileSpec], settings: Settings, concurrency: int = 4) -> list[FileResult]:
    """Mirror every file of *specs* into the layout; results in the order of *specs*."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(pool.map(lambda spec: _one(spec, settings), specs))
    if not settings.check_mode:
        _tidy(settings.layout)
    return results


def _one(spec: FileSpec, settings: Settings) -> FileResult:
    result = FileResult(spec.url, spec.ref, spec.path)
    try:
        _mirror(spec, settings, result)
    except UserError as exc:
        result.status, result.error = FAILED, str(exc)
    return result


def _current(layout: Layout, ref: str) -> tuple[str | None, dict[str, Any] | None]:
    """(digest, manifest body) the layout records for *ref*, or (None, None)."""
    if not layout.exists:
        return None, None
    desc = layout.find(ref)
    if desc is None:
        return None, None
    try:
        body = json.loads(layout.read_blob(desc.digest))
    except (UserError, ValueError):
        return desc.digest, None
    return desc.digest, body if isinstance(body, dict) else None


def _complete(layout: Layout, body: dict[str, Any]) -> bool:
    """True when every blob of the stored artifact is in the layout with its size."""
    descs = [body.get("config") or {}] + list(body.get("layers") or [])
    return all(isinstance(d, dict) and isinstance(d.get("digest"), str)
               and layout.has_blob(d["digest"], d.get("size")) for d in descs)


def _mirror(spec: FileSpec, settings: Settings, result: FileResult) -> None:
    layout = settings.layout
    client = settings.pool.get(spec.host)
    result.before, body = _current(layout, spec.ref)
    algorithm, value, checksum_bytes = _expected(client, spec)
    result.checksum = "%s:%s" % (algorithm, value)
    notes = (body or {}).get("annotations") or {}
    signed_ok = spec.signature_url is None or notes.get(SIGNER_NOTE) in settings.fingerprints
    if (body is not None and notes.get(CHECKSUM_NOTE) == result.checksum and notes.get(URL_NOTE) == spec.url
            and signed_ok and _complete(layout, body)):
        result.status, result.digest = PRESENT, result.before
        result.signer = notes.get(SIGNER_NOTE)
        result.size = int((body.get("layers") or [{}])[0].get("size") or 0)
        return
    if settings.check_mode:
        result.status = WOULD_DOWNLOAD
        return
    signature = get_small(client, spec.signature_url, "signature") if spec.signature_url else None
    got = download(client, layout.state_dir("files"), spec.url, algorithm, settings.attempts)
    result.fetched, result.resumed_from, result.size = got.fetched, got.resumed_from, got.size
    if got.checksum != value:
        _discard(got.path)
        raise ArtifactError("%s: checksum mismatch - the download has %s %s, %s says %s; the download was "
                            "discarded" % (spec.url, algorithm, got.checksum, _checksum_origin(spec), value))
    if signature is not None:
        try:
            result.signer = openpgp.verify_detached(list(settings.keys), signature, got.path)
        except openpgp.OpenPGPError as exc:
            _discard(got.path)
            raise ArtifactError("%s: signature %s: %s; the download was discarded"
                                % (spec.url, spec.signature_url, exc)) from None
    data = artifact_manifest(spec, got.digest, got.size, (algorithm, value), checksum_bytes, signature,
                             result.signer)
    _store(layout, got.path, got.digest, [EMPTY, checksum_bytes]
           + ([signature] if signature is not None else []))
    digest = _manifest.compute_digest(data)
    layout.put_bytes(digest, data, image=spec.url)
    layout.set_refs([(spec.ref, _manifest.Descriptor(_manifest.OCI_MANIFEST, digest, len(data),
                                                     artifact_type=FILE_TYPE))])
    result.digest = digest
    result.status = DOWNLOADED if digest != result.before else PRESENT


def _checksum_origin(spec: FileSpec) -> str:
    return "the pinned checksum" if spec.checksum.kind == "pinned" else str(spec.checksum.url)


def _expected(client: Any, spec: FileSpec) -> tuple[str, str, bytes]:
    """(algorithm, hex, checksum file bytes to store) of *spec*."""
    source = spec.checksum
    if source.kind == "pinned":
        algorithm, value = str(source.algorithm), str(source.value)
        return algorithm, value, checksums.checksum_line(value, spec.name)
    data = get_small(client, str(source.url), "checksum file")
    algorithm, value = checksums.expected(data, source, spec.url)
    if source.kind == "list":
        data = checksums.checksum_line(value, spec.name)
    return algorithm, value, data


def _store(layout: Layout, path: str, digest: str, small: list[bytes]) -> None:
    """Put the small blobs, then rename the verified download into ``blobs/``."""
    for data in small:
        layout.put_bytes(_manifest.compute_digest(data), data)
    final = layout.blob_path(digest)
    if os.path.exists(final) and os.path.getsize(final) == os.path.getsize(path):
        _discard(path)
        return
    try:
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.chmod(path, 0o644)
        os.replace(path, final)
    except OSError as exc:
        raise ArtifactError("storing %s in %s failed: %s" % (digest, layout.path, exc.strerror or exc)) from None
    fsync_dir(os.path.dirname(final))
    _discard(path)


def _discard(path: str) -> None:
    """Remove a partial download and its notes."""
    for name in (path, path[:-len(".part")] + ".json" if path.endswith(".part") else path):
        with contextlib.suppress(OSError):
            os.unlink(name)


def _tidy(layout: Layout) -> None:
    """Remove the temporary area when nothing is left in it (a broken download stays)."""
    with contextlib.suppress(OSError):
        os.rmdir(layout.state_dir("files"))
    if layout.exists:
        layout.cleanup_state()


def fingerprints(keys: Sequence[bytes]) -> tuple[str, ...]:
    """The primary fingerprints of the trusted *keys* (a malformed key fails the task)."""
    return tuple(openpgp.key_fingerprints(keys)) if keys else ()
