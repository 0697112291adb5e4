# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""OCI image layouts on disk (skopeo ``dir:`` exports, read as a source, are in direxport.py).

One layout holds a whole image set: one ``blobs/`` directory (a layer shared by 30 images is stored
once) and one ``index.json`` in which every image is a descriptor annotated with
``org.opencontainers.image.ref.name`` = its full source reference, so that
``skopeo copy oci:DIR:quay.io/org/app:1.0 …`` reads it back.

Blobs are written to ``.airgap-state/partial/<hex>`` while they stream in, hashed on the way,
fsync'ed, verified against their digest and size, and only then renamed into ``blobs/``: a blob
under its digest is always complete and correct. A partial file left by an interrupted run is
continued (its bytes are re-hashed, the rest is fetched with Range). ``index.json`` is replaced
atomically, under a lock, after the image's blobs and manifests are in place.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._oci import manifest as _manifest
from .._oci.errors import DigestMismatch, LayoutError, NotFound
from .._common import fileio as _fileio
from .._common.fileio import fsync_dir
from .._common.flock import flocked
from .direxport import READ_CHUNK, FileChunks
from .._oci.reference import validate_digest

REF_NAME = "org.opencontainers.image.ref.name"
#: index.json annotation of an image filtered to some platforms: the digest of its source (the
#: layout holds an index with another digest; see platforms.py)
SOURCE_DIGEST = "io.github.airgap-mirror.source-digest"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
STATE_DIR = ".airgap-state"


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write a layout file atomically (``_common.fileio.atomic_write``): layouts live on removable
    media too (FAT/exFAT keep neither owners nor modes)."""
    _fileio.atomic_write(path, data, mode, media=True)


def _disk_error(exc: OSError, what: str) -> LayoutError:
    if exc.errno == errno.ENOSPC:
        return LayoutError("no space left on device while %s" % what)
    return LayoutError("%s failed: %s" % (what, exc.strerror or exc))


class Layout:
    """An OCI image layout directory, safe for concurrent use by threads of one process and,
    for index.json updates, by several processes."""

    def __init__(self, path: str | os.PathLike[str], create: bool = False) -> None:
        """Open the layout at *path*. With *create*, a missing layout is created on the first
        write (so that planning, and check mode, never write anything); a directory that exists,
        is not empty and is not a layout is refused rather than written into."""
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()
        self._missing = False
        marker = os.path.join(self.path, "oci-layout")
        if not os.path.exists(marker):
            if not create:
                raise LayoutError("%s is not an OCI image layout (no oci-layout file)" % self.path)
            if os.path.isdir(self.path) and [n for n in os.listdir(self.path) if n != STATE_DIR]:
                raise LayoutError("%s exists and is not an OCI image layout; give an empty or new directory"
                                  % self.path)
            self._missing = True
        else:
            try:
                with open(marker, "rb") as handle:
                    version = json.load(handle).get("imageLayoutVersion")
            except (OSError, ValueError):
                raise LayoutError("%s/oci-layout is unreadable or not JSON" % self.path) from None
            if version != "1.0.0":
                raise LayoutError("%s: unsupported imageLayoutVersion %r" % (self.path, version))

    @property
    def exists(self) -> bool:
        return not self._missing

    def _ensure(self) -> None:
        """Create the layout (oci-layout, empty index.json, blobs/) if it does not exist yet."""
        if not self._missing:
            return
        with self._lock:
            if not self._missing:
                return
            try:
                os.makedirs(os.path.join(self.path, "blobs", "sha256"), exist_ok=True)
                if not os.path.exists(os.path.join(self.path, "index.json")):
                    atomic_write(os.path.join(self.path, "index.json"),
                                 _dump_index({"schemaVersion": 2, "mediaType": _manifest.OCI_INDEX,
                                              "manifests": []}))
                atomic_write(os.path.join(self.path, "oci-layout"), json.dumps(LAYOUT_VERSION).encode())
            except OSError as exc:
                raise _disk_error(exc, "creating the layout %s" % self.path) from None
            self._missing = False

    def __repr__(self) -> str:
        return "Layout(%s)" % self.path

    # --------------------------------------------------------------- blobs

    def blob_path(self, digest: str) -> str:
        algo, hexpart = validate_digest(digest).split(":", 1)
        return os.path.join(self.path, "blobs", algo, hexpart)

    def state_dir(self, *parts: str) -> str:
        return os.path.join(self.path, STATE_DIR, *parts)

    def partial_path(self, digest: str) -> str:
        algo, hexpart = digest.split(":", 1)
        return self.state_dir("partial", "%s-%s" % (algo, hexpart))

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        try:
            st = os.stat(self.blob_path(digest))
        except FileNotFoundError:
            return False
        return size is None or st.st_size == size

    def blob_size(self, digest: str) -> int | None:
        try:
            return os.stat(self.blob_path(digest)).st_size
        except FileNotFoundError:
            return None

    def partial_size(self, digest: str) -> int:
        try:
            return os.stat(self.partial_path(digest)).st_size
        except FileNotFoundError:
            return 0

    def open_blob(self, digest: str, size: int | None = None, offset: int = 0) -> FileChunks:
        """Iterate the blob's bytes from *offset*, in bounded chunks."""
        path = self.blob_path(digest)
        if not os.path.exists(path):
            raise NotFound("blob %s is not in the layout %s" % (digest, self.path))
        return FileChunks(path, offset)

    def read_blob(self, digest: str, limit: int = _manifest.MAX_MANIFEST_BYTES) -> bytes:
        path = self.blob_path(digest)
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            raise NotFound("blob %s is not in the layout %s" % (digest, self.path)) from None
        if len(data) > limit:
            raise LayoutError("blob %s in %s is larger than %d bytes" % (digest, self.path, limit))
        return data

    def write_blob(self, digest: str, size: int, opener: Callable[[int], Iterable[bytes]], image: object = None,
                   on_bytes: Callable[[int], None] | None = None) -> int:
        """Stream a blob in, verified. *opener(offset)* yields the blob's bytes from *offset*.

        Continues a partial file left by an earlier run. Returns the number of bytes fetched."""
        final = self.blob_path(digest)
        if os.path.exists(final) and os.path.getsize(final) == size:
            return 0
        self._ensure()
        partial = self.partial_path(digest)
        lock = None
        try:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            for _attempt in range(20):
                os.makedirs(os.path.dirname(partial), exist_ok=True)
                try:
                    lock = open(partial + ".lock", "a")  # pylint: disable=consider-using-with
                    break
                except FileNotFoundError:  # another process's cleanup_state removed the empty directory
                    continue
            if lock is None:
                raise OSError(errno.ENOENT, "the directory %s keeps disappearing" % os.path.dirname(partial))
        except OSError as exc:
            raise _disk_error(exc, "preparing %s" % partial) from None
        # one writer per blob, across threads and processes (two unpacks into one layout): the
        # lock file is never renamed, and a writer that waited finds the blob already stored
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            if os.path.exists(final) and os.path.getsize(final) == size:
                return 0
            return self._write_partial(digest, size, opener, partial, final, image, on_bytes)
        finally:
            lock.close()

    def _write_partial(self, digest: str, size: int, opener: Callable[[int], Iterable[bytes]], partial: str, final: str,
                       image: object, on_bytes: Callable[[int], None] | None) -> int:
        hasher = _manifest.hasher_for(digest)
        offset = 0
        try:
            if os.path.exists(partial):
                with open(partial, "rb") as handle:
                    while True:
                        chunk = handle.read(READ_CHUNK)
                        if not chunk:
                            break
                        hasher.update(chunk)
                        offset += len(chunk)
                if offset > size:
                    os.unlink(partial)
                    hasher, offset = _manifest.hasher_for(digest), 0
        except OSError as exc:
            raise _disk_error(exc, "reading %s" % partial) from None
        fetched = 0
        source = opener(offset) if offset < size else iter(())
        try:
            with open(partial, "ab") as handle:
                for chunk in source:
                    if offset + len(chunk) > size:
                        raise DigestMismatch("blob %s: the source sent more than the %d bytes of its descriptor"
                                             % (digest, size), image=image)
                    handle.write(chunk)
                    hasher.update(chunk)
                    offset += len(chunk)
                    fetched += len(chunk)
                    if on_bytes:
                        on_bytes(len(chunk))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise _disk_error(exc, "writing blob %s into %s" % (digest, self.path)) from None
        finally:
            close = getattr(source, "close", None)
            if close:
                close()
        actual = "%s:%s" % (digest.split(":", 1)[0], hasher.hexdigest())
        if offset != size or actual != digest:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            if offset != size:
                raise DigestMismatch("blob %s: got %d bytes, its descriptor says %d" % (digest, offset, size),
                                     image=image)
            raise DigestMismatch("blob %s: the content does not match its digest (got %s); the corrupted "
                                 "download was discarded" % (digest, actual), image=image)
        try:
            os.chmod(partial, 0o644)
            os.replace(partial, final)
        except OSError as exc:
            raise _disk_error(exc, "storing blob %s in %s" % (digest, self.path)) from None
        fsync_dir(os.path.dirname(final))
        return fetched

    def put_bytes(self, digest: str, data: bytes, image: str | None = None) -> bool:
        """Store small content (a manifest) after verifying it."""
        _manifest.verify_digest(data, digest, what="content for %s" % digest, image=image)
        self._ensure()
        final = self.blob_path(digest)
        if os.path.exists(final) and os.path.getsize(final) == len(data):
            return False
        try:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            atomic_write(final, data)
        except OSError as exc:
            raise _disk_error(exc, "storing %s in %s" % (digest, self.path)) from None
        return True

    # --------------------------------------------------------------- index.json

    def read_index(self) -> dict[str, Any]:
        if self._missing:
            return {"schemaVersion": 2, "mediaType": _manifest.OCI_INDEX, "manifests": []}
        path = os.path.join(self.path, "index.json")
        try:
            with open(path, "rb") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            raise LayoutError("%s has no index.json" % self.path) from None
        except ValueError as exc:
            raise LayoutError("%s/index.json is not valid JSON: %s" % (self.path, exc)) from None
        if not isinstance(data, dict) or not isinstance(data.get("manifests", []), list):
            raise LayoutError("%s/index.json is not an image index" % self.path)
        return data

    def entries(self) -> list[tuple[str | None, _manifest.Descriptor]]:
        """[(ref name or None, Descriptor)] in index.json order."""
        out = []
        for i, raw in enumerate(self.read_index().get("manifests", [])):
            desc = _manifest.Descriptor.from_dict(raw, "%s/index.json manifests[%d]" % (self.path, i))
            out.append((desc.annotations.get(REF_NAME), desc))
        return out

    def find(self, name: str) -> _manifest.Descriptor | None:
        """The descriptor recorded under ref name *name* (exact match), or None."""
        for ref_name, desc in self.entries():
            if ref_name == name:
                return desc
        return None

    @contextlib.contextmanager
    def _index_lock(self, remove: bool = False) -> Iterator[None]:
        """Hold the layout's lock on index.json (threads of this process and other processes), on
        ``.airgap-state/index.lock``; with *remove*, the lock file is removed while still held (a
        process waiting on the removed file then locks the new one, see :mod:`.flock`)."""
        with self._lock:
            with flocked(self.state_dir("index.lock"), exclusive=True, wait=True, remove=remove, makedirs=True):
                yield

    def set_refs(self, refs: Iterable[tuple[str, _manifest.Descriptor]]) -> bool:
        """Record ``[(ref name, Descriptor)]`` in index.json, replacing entries of the same name.

        Returns True when index.json changed."""
        self._ensure()
        try:
            with self._index_lock():
                index = self.read_index()
                old = list(index.get("manifests", []))
                manifests = list(old)
                for name, desc in refs:
                    entry = {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}
                    if desc.artifact_type:
                        entry["artifactType"] = desc.artifact_type
                    notes = {REF_NAME: name}
                    if desc.annotations.get(SOURCE_DIGEST):
                        notes[SOURCE_DIGEST] = desc.annotations[SOURCE_DIGEST]
                    entry["annotations"] = notes
                    for i, existing in enumerate(manifests):
                        if (existing.get("annotations") or {}).get(REF_NAME) == name:
                            manifests[i] = entry
                            break
                    else:
                        manifests.append(entry)
                changed = manifests != old
                if changed:
                    index["manifests"] = manifests
                    atomic_write(os.path.join(self.path, "index.json"), _dump_index(index))
                return changed
        except OSError as exc:
            raise _disk_error(exc, "updating %s/index.json" % self.path) from None

    def remove_refs(self, names: Iterable[str]) -> bool:
        names = set(names)
        with self._index_lock():
            index = self.read_index()
            kept = [m for m in index.get("manifests", []) if (m.get("annotations") or {}).get(REF_NAME) not in names]
            if len(kept) != len(index.get("manifests", [])):
                index["manifests"] = kept
                atomic_write(os.path.join(self.path, "index.json"), _dump_index(index))
                return True
        return False

    def cleanup_state(self) -> None:
        """Remove resume state once a copy completed (partials of blobs that are now complete,
        and the state directory when it is empty).

        Other processes may be writing into the layout at the same time: this waits for the
        index.json lock and removes its file only while holding it, and a blob writer whose
        empty ``partial/`` directory disappears makes it again."""
        if not os.path.isdir(self.state_dir()):
            return
        partial_dir = self.state_dir("partial")
        try:
            with self._index_lock(remove=True):
                if os.path.isdir(partial_dir):
                    for name in os.listdir(partial_dir):
                        algo, _sep, hexpart = name[:-len(".lock")].partition("-") if name.endswith(".lock") \
                            else name.partition("-")
                        if os.path.exists(os.path.join(self.path, "blobs", algo, hexpart)):
                            with contextlib.suppress(OSError):
                                os.unlink(os.path.join(partial_dir, name))
                    with contextlib.suppress(OSError):
                        os.rmdir(partial_dir)
        except OSError:
            return  # resume state is only tidied up; a layout we cannot lock keeps it
        with contextlib.suppress(OSError):
            os.rmdir(self.state_dir())

    def disk_usage(self) -> int:
        """Bytes of all blobs."""
        total = 0
        for root, _dirs, files in os.walk(os.path.join(self.path, "blobs")):
            for name in files:
                total += os.path.getsize(os.path.join(root, name))
        return total


def _dump_index(index: dict[str, Any]) -> bytes:
    return (json.dumps(index, indent=2, sort_keys=False) + "\n").encode()
