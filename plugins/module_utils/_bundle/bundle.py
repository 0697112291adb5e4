# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Transfer bundles: an OCI image layout packed into checksummed tar parts for removable media.

A bundle is a directory holding::

    <name>.tar.0001 ... <name>.tar.NNNN   one tar stream, cut at byte boundaries into parts
    <name>.sha256                         ``sha256sum -c`` lines for the parts (for hand checks)
    <name>.bundle.json                    the manifest: format, parts (name, size, sha256), images,
                                          blobs, bytes, the mirror map; written LAST

**Split at byte boundaries, not at blob boundaries.** The parts are consecutive slices of ONE tar
stream, so a 10 GiB layer fits on 4 GiB media, every part is exactly ``part_size`` (media fill up
predictably, only the last part is shorter), and the parts are, by hand, ``cat <name>.tar.* | tar -x``.
Cutting at blob boundaries would need a second splitting scheme for blobs larger than a part anyway
and waste the rest of every part. The price - one bad part stops the stream there - is paid by the
manifest: each part is checked by size and sha256 before (``verify``) and while (``unpack``) it is
read.

The tar stream is deterministic (sorted members, mtime 0, uid/gid 0, mode 0644, POSIX pax format):
``oci-layout``, every blob ``blobs/<algorithm>/<hex>`` (manifests, configs, layers) in digest
order, and last ``index.json`` naming the bundle's images by their ref names. The same content
always gives the same bytes, which makes re-packing idempotent and lets the unpacker treat the
final ``index.json`` as the end marker of a complete stream. The layout's resume state
(``.airgap-state/``) is never read: members come from the image graphs, not from a directory walk.

Streaming everywhere: a blob is read, hashed (against its digest) and written into the part in
1 MiB chunks while the part's own sha256 is computed; a part is written to a temporary name,
fsync'ed and renamed; the manifest is written after every part, so a bundle with a manifest is a
complete bundle. Unpacking checks every tar member itself (no absolute paths, no ``..``, no links,
no device files, no duplicates, only the layout's own file names - ``tarfile`` only parses headers,
nothing is extracted with it), writes each blob through the layout's verified write, checks each
part's sha256 as the stream crosses it, checks that every image is complete, and only then merges
``index.json`` (one atomic replacement).

Incremental bundles leave out the blobs (configs and layers, never manifests) that the other side
already has, given as the mirror map of an earlier transfer (its images are looked up and walked in
this layout, which on the connected side is cumulative) or as the manifest of an earlier bundle.
Such a bundle lists those blobs as ``assumed_present``; unpacking refuses, before writing anything,
a layout that lacks them, naming the images.

No Ansible imports: modules convert :class:`BundleError` (an ``OCIError``) at their edge.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import hashlib
import json
import os
import posixpath
import re
import stat
import tarfile
import tempfile
import time
from decimal import Decimal, InvalidOperation
from typing import Callable, Iterator

from .._oci import manifest as _manifest
from .._mirrormap import legacy as _mirrormap
from .._oci import reference as _ref
from .._oci.errors import LayoutError, NotFound, OCIError
from .._common.flock import LockBusy, flocked
from .._engine.layout import LAYOUT_VERSION, REF_NAME, Layout, atomic_write, free_bytes, fsync_dir

FORMAT = "airgap.mirror/bundle/v1"
TAR_WRITER = "airgap.mirror/tar-stream/v1"
DEFAULT_NAME = "images"
DEFAULT_PART_SIZE = "4095M"  # fits FAT32 (files up to 4 GiB - 1 byte)
CHUNK = 1024 * 1024
BLOCK = 512
RECORD = 20 * BLOCK
MAX_PARTS = 99999
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_DEPTH = 8

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGTP])(i?)(B?)|(B?))\s*$", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BLOB_PATH = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]+)$")
_LAYOUT_DIRS = frozenset(("blobs", "blobs/sha256", "blobs/sha512"))
# org.opencontainers.image.ref.name as the image-layout spec defines it: components of letters and
# digits joined by '-', '.', '_', ':', '@', '+' or '--', separated by '/'
_OCI_REF_COMPONENT = r"[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*"
_OCI_REF_NAME = re.compile(r"^%s(?:/%s)*$" % (_OCI_REF_COMPONENT, _OCI_REF_COMPONENT))
MAX_REF_NAME = 1024

#: progress(event, details): "preflight", "part_written", "blob_packed", "part_checked", "part_read", ...
Progress = Callable[[str, dict], None]


class BundleError(OCIError):
    """A bundle that cannot be packed, verified or unpacked. ``part`` and ``member`` name the part
    file and the tar member when known; ``problems`` lists per-part findings."""

    def __init__(self, message, image=None, part=None, member=None, problems=None):
        super().__init__(message, image=image)
        self.part = part
        self.member = member
        self.problems = list(problems or [])

    def to_dict(self):
        out = super().to_dict()
        out.update(part=self.part, member=self.member, problems=self.problems)
        return out


# ----------------------------------------------------------------------------- names and sizes

def parse_size(value, what="part_size"):
    """Bytes from an int or a human size: ``4G``/``4GiB`` = 4 * 1024**3 (as ``split -b``),
    ``4GB`` = 4 * 1000**3, ``700M``, ``64K``, ``65536``, ``1.5G``."""
    if isinstance(value, bool):
        raise ValueError("%s: %r is not a size" % (what, value))
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError("%s: %r is not a size (examples: 4G, 700M, 4095MiB, 4GB, 65536)" % (what, value))
        number, unit, binary, decimal_b, _plain_b = match.groups()
        try:
            amount = Decimal(number)
        except InvalidOperation:  # pragma: no cover - the regex only lets numbers through
            raise ValueError("%s: %r is not a size" % (what, value)) from None
        if unit:
            base = 1000 if (decimal_b and not binary) else 1024
            amount *= base ** ("KMGTP".index(unit.upper()) + 1)
        size = int(amount)
    if size < 1:
        raise ValueError("%s must be at least 1 byte (got %r)" % (what, value))
    return size


def human_size(size):
    size = int(size)
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return "%.1f %s" % (size / float(factor), unit)
    return "%d bytes" % size


def check_name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError("bundle name %r: use 1 to 128 letters, digits, '.', '_' and '-', starting with a letter "
                         "or digit" % (name,))
    return name


def check_ref_name(ref_name: object) -> str:
    """*ref_name* if it can name an image in a layout's ``index.json``: an OCI ref name (the
    image-layout grammar, which has no '..', no white space and no leading '/') or a full image
    reference (the distribution grammar, as ``image_mirror`` records them, which also allows a tag
    like ``_x`` or a path component like ``a__b``). Raises ValueError saying what is wrong."""
    if not isinstance(ref_name, str) or not ref_name:
        raise ValueError("ref name %r is not a non-empty string" % (ref_name,))
    if len(ref_name) > MAX_REF_NAME:
        raise ValueError("ref name %r... is longer than %d characters" % (ref_name[:64], MAX_REF_NAME))
    if _OCI_REF_NAME.match(ref_name):
        return ref_name
    if ref_name == ref_name.strip() and not any(c.isspace() or not c.isprintable() for c in ref_name):
        try:
            _ref.parse(ref_name)
        except (OCIError, ValueError):
            pass
        else:
            return ref_name
    raise ValueError("ref name %r is neither an image reference nor an OCI ref name (letters and digits joined "
                     "by '-', '.', '_', ':', '@', '+' and '/'; no white space, no '..', no leading '/')" % (ref_name,))


def part_file_name(name, index, count):
    """Name of part *index* (1-based) of *count*: ``<name>.tar.0001``."""
    return "%s.tar.%0*d" % (name, max(4, len(str(count))), index)


def manifest_file_name(name):
    return "%s.bundle.json" % name


def sums_file_name(name):
    return "%s.sha256" % name


def lock_file_name(name: str) -> str:
    return ".%s.lock" % name


@contextlib.contextmanager
def _bundle_lock(bundle_dir: str, name: str, exclusive: bool, action: str) -> Iterator[None]:
    """Hold the bundle's lock (``<bundle>/.<name>.lock``, ``flock``): a pack holds it alone, verify
    and unpack share it; a second run fails at once instead of waiting. Bundles of other names in
    the same directory are not affected. A directory that does not exist, read-only media and file
    systems without ``flock`` are not locked (no pack can be writing there)."""
    path = os.path.join(bundle_dir, lock_file_name(name))
    stack = contextlib.ExitStack()
    if os.path.isdir(bundle_dir):
        try:
            stack.enter_context(flocked(path, exclusive=exclusive, wait=False, remove=True, optional=True))
        except LockBusy:
            raise BundleError("the bundle %s in %s is in use by another run, which holds its lock %s (a pack holds "
                              "it alone, verify and unpack share it): this %s stopped before touching the bundle; "
                              "run it again when the other run has finished" % (name, bundle_dir, path, action),
                              part=lock_file_name(name)) from None
        except OSError as exc:
            raise BundleError(_os_error(exc, "locking the bundle %s in %s (%s)" % (name, bundle_dir, path))) from None
    with stack:
        yield


def _part_pattern(name):
    return re.compile(r"^%s\.tar\.[0-9]{4,}$" % re.escape(name))


def _temp_pattern(name):
    return re.compile(r"^\.%s\.(tar\.[0-9]{4,}|sha256|bundle\.json)\..*\.tmp$" % re.escape(name))


# ----------------------------------------------------------------------------- small file helpers

def _os_error(exc, what):
    if exc.errno == errno.ENOSPC:
        return "no space left on device while %s" % what
    return "%s failed: %s" % (what, exc.strerror or exc)


def _dumps(doc):
    return (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _sha256_file(path, progress=None, part=None):
    hasher = hashlib.sha256()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as handle:
        while True:
            n = handle.readinto(buf)
            if not n:
                break
            hasher.update(view[:n])
            size += n
    if progress:
        progress("part_checked", {"part": part, "bytes": size})
    return hasher.hexdigest(), size


# ----------------------------------------------------------------------------- image graphs

class _Graph:
    """Every digest an image needs: manifests (and indexes) and blobs (configs and layers)."""

    def __init__(self, ref_name, desc):
        self.ref_name = ref_name
        self.desc = desc
        self.manifests = {}
        self.blobs = {}
        self.platforms = []
        self.missing = []

    @property
    def digests(self):
        out = dict(self.manifests)
        out.update(self.blobs)
        return out

    @property
    def total_size(self):
        return sum(self.digests.values())


def _walk(layout, desc, graph, where, need_blobs=True, depth=0):
    if depth > MAX_DEPTH:
        raise BundleError("%s: indexes nested deeper than %d levels" % (where, MAX_DEPTH))
    try:
        data = layout.read_blob(desc.digest)
    except NotFound:
        if need_blobs:
            graph.missing.append(desc.digest)
            return
        raise BundleError("%s: manifest %s is not in the layout %s" % (where, desc.digest, layout.path)) from None
    except LayoutError as exc:
        raise BundleError("%s: %s" % (where, exc.message)) from None
    try:
        man = _manifest.parse(data, content_type=desc.media_type, expected_digest=desc.digest, where=where)
    except OCIError as exc:
        raise BundleError("%s (in the layout %s)" % (exc.message, layout.path)) from None
    if len(data) != desc.size:
        raise BundleError("%s: manifest %s is %d bytes, its descriptor says %d"
                          % (where, desc.digest, len(data), desc.size))
    graph.manifests[desc.digest] = desc.size
    if man.is_index:
        for child in man.children:
            if child.platform_string and child.platform_string not in graph.platforms:
                graph.platforms.append(child.platform_string)
            _walk(layout, child, graph, _manifest.child_where(where, child), need_blobs, depth + 1)
        return
    for blob in man.blobs:
        graph.blobs[blob.digest] = blob.size
        if need_blobs:
            have = layout.blob_size(blob.digest)
            if have is None:
                graph.missing.append(blob.digest)
            elif have != blob.size:
                raise BundleError("%s: blob %s is %d bytes in the layout %s, the manifest says %d"
                                  % (where, blob.digest, have, layout.path, blob.size))


def _image_graph(layout, ref_name, desc, need_blobs=True):
    graph = _Graph(ref_name, desc)
    _walk(layout, desc, graph, ref_name or desc.digest, need_blobs)
    return graph


def _missing_message(graphs, layout, what):
    lines = []
    for graph in graphs:
        more = len(graph.missing) - 3
        shown = ", ".join(graph.missing[:3]) + (" and %d more" % more if more > 0 else "")
        lines.append("%s (%d missing: %s)" % (graph.ref_name, len(graph.missing), shown))
    return "%d image(s) %s in %s: %s" % (len(graphs), what, layout, "; ".join(lines))


# ----------------------------------------------------------------------------- the pack plan

def _layout_ref_from_map(entry, layout):
    """The ref name a mirror-map entry has in *layout*, or None when it does not point there."""
    prefix = "oci:%s:" % layout.path
    dest = entry.get("destination") or ""
    if dest.startswith(prefix):
        return dest[len(prefix):]
    return None


def _select_images(layout, names, map_entries):
    entries = list(layout.entries())
    by_name = {}
    for name, desc in entries:
        if name is not None and name not in by_name:
            by_name[name] = desc
    warnings = []
    selected = []
    chosen = set()
    if names is not None:
        if list(names) == ["all"]:
            names = None
    if names is not None:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            known = sorted(by_name)
            raise BundleError("not in the layout %s: %s (it holds %d images%s)"
                              % (layout.path, ", ".join(unknown), len(known),
                                 ": " + ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else ""))
        for name in names:
            if name not in chosen:
                chosen.add(name)
                selected.append((name, by_name[name]))
        return selected, warnings
    if map_entries is not None:
        for entry in map_entries:
            ref_name = _layout_ref_from_map(entry, layout)
            candidates = [ref_name] if ref_name else [entry["source"]]
            found = None
            for candidate in candidates:
                if candidate in by_name:
                    found = candidate
                    break
            if found is None:
                raise BundleError("not in the layout %s (the mirror map's destination is %s)"
                                  % (layout.path, entry["destination"]), image=entry["source"])
            if by_name[found].digest != entry["digest"]:
                raise BundleError("the mirror map says %s, the layout %s records %s for %s"
                                  % (entry["digest"], layout.path, by_name[found].digest, found),
                                  image=entry["source"])
            extra = [found]
            try:
                repo_name = _ref.parse(found).name
            except (OCIError, ValueError):
                repo_name = None
            for tag in entry.get("attachments") or []:
                if repo_name and "%s:%s" % (repo_name, tag) in by_name:
                    extra.append("%s:%s" % (repo_name, tag))
            for name in extra:
                if name not in chosen:
                    chosen.add(name)
                    selected.append((name, by_name[name]))
        return selected, warnings
    unnamed = sum(1 for name, _desc in entries if name is None)
    if unnamed:
        warnings.append("%d entries of %s/index.json have no %s annotation and are not bundled"
                        % (unnamed, layout.path, REF_NAME))
    return sorted(by_name.items()), warnings


def read_manifest_file(path):
    """Load and validate a bundle manifest (the ``.bundle.json`` file)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise BundleError("%s does not exist: the bundle is incomplete (packing did not finish, or the manifest "
                          "was not copied)" % path, part=os.path.basename(path)) from None
    except OSError as exc:
        raise BundleError("cannot read %s: %s" % (path, exc.strerror), part=os.path.basename(path)) from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise BundleError("%s is larger than %d bytes" % (path, MAX_MANIFEST_BYTES), part=os.path.basename(path))
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError("%s is not valid JSON: %s" % (path, exc), part=os.path.basename(path)) from None
    return validate_manifest(doc, path)


def validate_manifest(doc: object, origin: str) -> dict:
    """Check the structure of a manifest read from media (names are used to open files)."""
    where = os.path.basename(origin)

    def bad(message):
        return BundleError("%s: %s" % (origin, message), part=where)

    if not isinstance(doc, dict):
        raise bad("not a bundle manifest (expected a JSON object)")
    if doc.get("format") != FORMAT:
        raise bad("unsupported format %r (this collection reads %s)" % (doc.get("format"), FORMAT))
    name = doc.get("name")
    try:
        check_name(name)
    except ValueError as exc:
        raise bad(str(exc)) from None
    tar = doc.get("tar")
    if not isinstance(tar, dict) or tar.get("writer") != TAR_WRITER:
        raise bad("unsupported tar writer %r (this collection reads %s)"
                  % (tar.get("writer") if isinstance(tar, dict) else None, TAR_WRITER))
    pattern = _part_pattern(name)
    parts = doc.get("parts")
    if not isinstance(parts, list) or not parts:
        raise bad("no parts listed")
    seen = set()
    total = 0
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("name"), str) or not pattern.match(part["name"]):
            raise bad("parts[%d]: invalid part name %r (expected %s.tar.NNNN)"
                      % (i, part.get("name") if isinstance(part, dict) else part, name))
        if part["name"] in seen:
            raise bad("parts[%d]: %s is listed twice" % (i, part["name"]))
        seen.add(part["name"])
        if not _is_size(part.get("size")) or not isinstance(part.get("sha256"), str) or \
                not _HEX64.match(part["sha256"]):
            raise bad("parts[%d] (%s): needs an integer size and a sha256 of 64 hex digits" % (i, part["name"]))
        total += part["size"]
    if not _is_size(tar.get("size")) or tar["size"] != total:
        raise bad("tar.size %r is not the sum of the part sizes (%d)" % (tar.get("size"), total))
    for key in ("blobs", "assumed_present"):
        items = doc.get(key)
        if not isinstance(items, list):
            raise bad("%s must be a list" % key)
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not _is_size(item.get("size")):
                raise bad("%s[%d]: needs a digest and an integer size" % (key, i))
            try:
                _ref.validate_digest(item.get("digest"))
            except ValueError as exc:
                raise bad("%s[%d]: %s" % (key, i, exc)) from None
    images = doc.get("images")
    if not isinstance(images, list):
        raise bad("images must be a list")
    known = set(b["digest"] for b in doc["blobs"]) | set(b["digest"] for b in doc["assumed_present"])
    for i, image in enumerate(images):
        if not isinstance(image, dict) or not isinstance(image.get("ref_name"), str) or not image["ref_name"]:
            raise bad("images[%d]: needs a ref_name" % i)
        try:
            check_ref_name(image["ref_name"])
        except ValueError as exc:
            raise bad("images[%d]: %s" % (i, exc)) from None
        label = "images[%d] (%s)" % (i, image["ref_name"])
        try:
            _ref.validate_digest(image.get("digest"))
        except ValueError as exc:
            raise bad("%s: %s" % (label, exc)) from None
        if not isinstance(image.get("media_type"), str) or not _is_size(image.get("size")):
            raise bad("%s: needs a media_type and an integer size" % label)
        if not isinstance(image.get("blobs"), list) or not all(isinstance(d, str) for d in image["blobs"]):
            raise bad("%s: blobs must be a list of digests" % label)
        unknown = [d for d in image["blobs"] if d not in known]
        if unknown:
            raise bad("%s: %s is neither in the bundle's blobs nor in assumed_present" % (label, unknown[0]))
        if image["digest"] not in known:
            raise bad("%s: its manifest %s is not in the bundle" % (label, image["digest"]))
    if doc.get("mirror_map") is not None:
        try:
            _mirrormap.loads(json.dumps({"format": _mirrormap.FORMAT, "images": doc["mirror_map"]}),
                             origin="%s mirror_map" % origin)
        except _mirrormap.MirrorMapError as exc:
            raise bad(str(exc)) from None
    return doc


def _is_size(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _load_previous(path, layout):
    """What the other side already has: ({digest: size}, summary) from a previous mirror map
    (walked in *layout*) or a previous bundle manifest."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise BundleError("cannot read the previous transfer record %s: %s" % (path, exc.strerror)) from None
    summary = {"path": os.path.abspath(path), "sha256": hashlib.sha256(raw).hexdigest()}
    doc = None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict) and str(doc.get("format", "")).startswith("airgap.mirror/bundle/"):
        doc = validate_manifest(doc, path)
        sizes = {b["digest"]: b["size"] for b in doc["blobs"] + doc["assumed_present"]}
        have = {}
        for image in doc["images"]:
            for digest in image["blobs"]:
                have[digest] = sizes[digest]
        summary.update(kind="bundle", name=doc["name"], images=len(doc["images"]))
        return have, summary
    try:
        entries = _mirrormap.loads(raw.decode("utf-8", errors="replace"), origin=path)
    except _mirrormap.MirrorMapError as exc:
        raise BundleError("the previous transfer record is neither a bundle manifest nor a mirror map: %s"
                          % exc) from None
    have = {}
    gone = []
    for entry in entries:
        digest = entry["digest"]
        size = layout.blob_size(digest)
        if size is None:
            gone.append("%s (%s)" % (entry["source"], digest))
            continue
        desc = _manifest.Descriptor(entry["media_type"], digest, size)
        graph = _image_graph(layout, entry["source"], desc, need_blobs=False)
        have.update(graph.digests)
    if gone:
        raise BundleError("the layout %s no longer holds %d image(s) of the previous mirror map %s: %s. Without "
                          "them the blobs the other side already has are unknown; give the previous bundle's "
                          "manifest (%s) as the previous transfer record instead"
                          % (layout.path, len(gone), path, ", ".join(gone), manifest_file_name("<name>")))
    summary.update(kind="mirror_map", images=len(entries))
    return have, summary


def _tar_header(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size):
    return (BLOCK - size % BLOCK) % BLOCK


class PackPlan:
    """What a pack will write: computed from the layout before any byte is written."""

    def __init__(self, layout, name, part_size, graphs, blobs, assumed, owners, mirror_map, previous, warnings):
        self.layout = layout
        self.name = name
        self.part_size = part_size
        self.graphs = graphs
        self.blobs = blobs  # [(digest, size)] in the tar, digest order
        self.assumed = assumed  # [(digest, size)] needed by the images, left out (incremental)
        self.owners = owners  # digest -> first image needing it (for messages)
        self.mirror_map = mirror_map
        self.previous = previous
        self.warnings = warnings
        self.index_bytes = _dumps(self._index())
        self.layout_bytes = json.dumps(LAYOUT_VERSION).encode()
        self.members = ([("oci-layout", len(self.layout_bytes), None)]
                        + [("blobs/%s/%s" % tuple(d.split(":", 1)), s, d) for d, s in blobs]
                        + [("index.json", len(self.index_bytes), None)])
        size = 0
        for member, member_size, _digest in self.members:
            size += len(_tar_header(member, member_size)) + member_size + _padding(member_size)
        size += 2 * BLOCK
        size += (RECORD - size % RECORD) % RECORD
        self.tar_size = size
        count = -(-size // part_size)
        if count > MAX_PARTS:
            raise BundleError("part_size %d would cut %s into %d parts (at most %d); use a larger part_size"
                              % (part_size, human_size(size), count, MAX_PARTS))
        self.part_names = [part_file_name(name, i + 1, count) for i in range(count)]
        self.part_sizes = [min(part_size, size - i * part_size) for i in range(count)]

    @property
    def blob_bytes(self):
        return sum(s for _d, s in self.blobs)

    @property
    def assumed_bytes(self):
        return sum(s for _d, s in self.assumed)

    def _index(self):
        manifests = []
        for graph in sorted(self.graphs, key=lambda g: g.ref_name):
            entry = {"mediaType": graph.desc.media_type, "digest": graph.desc.digest, "size": graph.desc.size}
            if graph.desc.artifact_type:
                entry["artifactType"] = graph.desc.artifact_type
            entry["annotations"] = {REF_NAME: graph.ref_name}
            manifests.append(entry)
        return {"schemaVersion": 2, "mediaType": _manifest.OCI_INDEX, "manifests": manifests}

    def images(self):
        return [{
            "ref_name": g.ref_name,
            "digest": g.desc.digest,
            "media_type": g.desc.media_type,
            "size": g.desc.size,
            "total_size": g.total_size,
            "platforms": list(g.platforms),
            "blobs": sorted(g.digests),
        } for g in sorted(self.graphs, key=lambda g: g.ref_name)]

    def document(self, parts):
        """The manifest; *parts* is [(name, size, sha256)] (None: sizes only, hashes unknown yet)."""
        if parts is None:
            parts = [(n, s, None) for n, s in zip(self.part_names, self.part_sizes)]
        return {
            "format": FORMAT,
            "name": self.name,
            "tar": {"writer": TAR_WRITER, "split": "bytes", "part_size": self.part_size, "size": self.tar_size},
            "parts": [{"name": n, "size": s, "sha256": h} for n, s, h in parts],
            "images": self.images(),
            "blobs": [{"digest": d, "size": s} for d, s in self.blobs],
            "blob_bytes": self.blob_bytes,
            "assumed_present": [{"digest": d, "size": s} for d, s in self.assumed],
            "assumed_bytes": self.assumed_bytes,
            "previous": self.previous,
            "mirror_map": self.mirror_map,
        }


def plan_pack(layout_path: str, name: str = DEFAULT_NAME, part_size: int | str = DEFAULT_PART_SIZE,
              images: list[str] | None = None, mirror_map: str | None = None,
              previous: str | None = None) -> PackPlan:
    """Read the layout and decide every byte of the bundle. Nothing is written."""
    check_name(name)
    part_size = parse_size(part_size)
    layout = Layout(layout_path)
    map_entries = None
    if mirror_map:
        try:
            map_entries = _mirrormap.load(mirror_map)
        except FileNotFoundError:
            raise BundleError("the mirror map %s does not exist" % mirror_map) from None
        except (OSError, _mirrormap.MirrorMapError) as exc:
            raise BundleError("cannot read the mirror map: %s" % exc) from None
    selected, warnings = _select_images(layout, images, map_entries)
    if not selected:
        raise BundleError("nothing to bundle: no images selected in the layout %s" % layout.path)
    for ref_name, _desc in selected:
        try:
            check_ref_name(ref_name)
        except ValueError as exc:
            raise BundleError("%s/index.json: %s; the other side would refuse this bundle (leave the image out "
                              "with images)" % (layout.path, exc)) from None
    graphs = [_image_graph(layout, ref_name, desc) for ref_name, desc in selected]
    incomplete = [g for g in graphs if g.missing]
    if incomplete:
        raise BundleError(_missing_message(incomplete, layout.path, "are incomplete (blobs missing)"))
    have = {}
    previous_summary = None
    if previous:
        have, previous_summary = _load_previous(previous, layout)
    wanted = {}
    owners = {}
    for graph in graphs:
        for digest, size in graph.manifests.items():
            wanted[digest] = size
            owners.setdefault(digest, graph.ref_name)
        for digest, size in graph.blobs.items():
            owners.setdefault(digest, graph.ref_name)
            if digest not in graph.manifests:
                wanted.setdefault(digest, size)
    blobs = []
    assumed = []
    manifest_digests = set()
    for graph in graphs:
        manifest_digests.update(graph.manifests)
    for digest in sorted(wanted):
        if digest in have and digest not in manifest_digests:
            assumed.append((digest, wanted[digest]))
        else:
            blobs.append((digest, wanted[digest]))
    embedded = None
    if map_entries is not None:
        names = set(g.ref_name for g in graphs)
        embedded = [e for e in map_entries
                    if (_layout_ref_from_map(e, layout) or e["source"]) in names]
        embedded = sorted(embedded, key=lambda e: (e["source"], e["destination"]))
    return PackPlan(layout, name, part_size, graphs, blobs, assumed, owners, embedded, previous_summary, warnings)


# ----------------------------------------------------------------------------- writing parts

class _PartWriter:
    """Cuts one byte stream into parts: temp file, sha256 while writing, fsync, rename."""

    def __init__(self, directory, names, part_size, progress=None):
        self.directory = directory
        self.names = names
        self.part_size = part_size
        self.progress = progress
        self.done = []
        self.total = 0
        self._index = 0
        self._handle = None
        self._tmp = None
        self._hasher = None
        self._written = 0

    def _open(self):
        if self._index >= len(self.names):
            raise BundleError("the tar stream is longer than planned (%d parts); the layout changed while packing"
                              % len(self.names))
        name = self.names[self._index]
        try:
            fd, self._tmp = tempfile.mkstemp(prefix="." + name + ".", suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise BundleError(_os_error(exc, "creating part %s in %s" % (name, self.directory)), part=name) from None
        self._handle = os.fdopen(fd, "wb", buffering=CHUNK)
        self._hasher = hashlib.sha256()
        self._written = 0

    def write(self, data):
        view = memoryview(data)
        while len(view):
            if self._handle is None:
                self._open()
            room = self.part_size - self._written
            piece = view[:room]
            try:
                self._handle.write(piece)
            except OSError as exc:
                self._fail(exc)
            self._hasher.update(piece)
            self._written += len(piece)
            self.total += len(piece)
            view = view[len(piece):]
            if self._written == self.part_size:
                self._finish()

    def _fail(self, exc):
        name = self.names[self._index]
        self.abort()
        raise BundleError("%s (%s of the bundle written in %d complete part(s)); the bundle is incomplete and has "
                          "no manifest" % (_os_error(exc, "writing part %s to %s" % (name, self.directory)),
                                           human_size(self.total), len(self.done)), part=name) from None

    def _finish(self):
        name = self.names[self._index]
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            with contextlib.suppress(OSError):
                os.fchmod(self._handle.fileno(), 0o644)
            self._handle.close()
            self._handle = None
            os.replace(self._tmp, os.path.join(self.directory, name))
        except OSError as exc:
            self._fail(exc)
        self._tmp = None
        fsync_dir(self.directory)
        self.done.append((name, self._written, self._hasher.hexdigest()))
        if self.progress:
            self.progress("part_written", {"part": name, "bytes": self._written, "total": self.total})
        self._index += 1

    def close(self):
        if self._handle is not None:
            self._finish()
        return self.done

    def abort(self):
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        if self._tmp:
            with contextlib.suppress(OSError):
                os.unlink(self._tmp)
            self._tmp = None


def _stream_blob(plan, digest, size, out, buf):
    image = plan.owners.get(digest)
    path = plan.layout.blob_path(digest)
    hasher = _manifest.hasher_for(digest)
    view = memoryview(buf)
    count = 0
    try:
        handle = open(path, "rb", buffering=0)
    except OSError as exc:
        raise BundleError("cannot read blob %s from the layout %s: %s" % (digest, plan.layout.path, exc.strerror),
                          image=image) from None
    with handle:
        while count <= size:
            try:
                n = handle.readinto(buf)
            except OSError as exc:
                raise BundleError("cannot read blob %s from the layout %s: %s"
                                  % (digest, plan.layout.path, exc.strerror), image=image) from None
            if not n:
                break
            count += n
            if count > size:
                break
            hasher.update(view[:n])
            out.write(view[:n])
    if count != size:
        raise BundleError("blob %s in the layout %s is %d bytes, the image's manifest says %d; the layout changed "
                          "or is damaged" % (digest, plan.layout.path, count, size), image=image)
    actual = "%s:%s" % (digest.split(":", 1)[0], hasher.hexdigest())
    if actual != digest:
        raise BundleError("blob %s in the layout %s does not match its digest (it hashes to %s): the layout is "
                          "damaged; mirror the image again" % (digest, plan.layout.path, actual), image=image)


def _write_tar(plan, out, progress=None):
    buf = bytearray(CHUNK)
    for member, size, digest in plan.members:
        out.write(_tar_header(member, size))
        if member == "oci-layout":
            out.write(plan.layout_bytes)
        elif member == "index.json":
            out.write(plan.index_bytes)
        else:
            _stream_blob(plan, digest, size, out, buf)
            if progress:
                progress("blob_packed", {"digest": digest, "bytes": size})
        pad = _padding(size)
        if pad:
            out.write(b"\0" * pad)
    end = 2 * BLOCK
    end += (RECORD - (out.total + end) % RECORD) % RECORD
    out.write(b"\0" * end)


def _content_key(doc):
    """The manifest without part hashes: equal keys mean byte-identical tar streams."""
    key = dict(doc)
    key["parts"] = [(p.get("name"), p.get("size")) for p in doc.get("parts") or []]
    return json.dumps(key, sort_keys=True)


def _bundle_files(directory, name):
    """Existing files of bundle *name* in *directory*: {file name: size}."""
    found = {}
    try:
        listing = os.listdir(directory)
    except FileNotFoundError:
        return found
    parts, temps = _part_pattern(name), _temp_pattern(name)
    for entry in listing:
        if parts.match(entry) or temps.match(entry) or entry in (manifest_file_name(name), sums_file_name(name)):
            try:
                found[entry] = os.lstat(os.path.join(directory, entry)).st_size
            except FileNotFoundError:
                continue
    return found


def _summary_lines(doc):
    if doc is None:
        return ""
    lines = ["image %s %s" % (i["ref_name"], i["digest"]) for i in doc.get("images", [])]
    lines += ["part %s %d %s" % (p["name"], p["size"], p.get("sha256") or "(to be written)")
              for p in doc.get("parts", [])]
    return "".join(line + "\n" for line in lines)


def _try_manifest(path):
    if not os.path.exists(path):
        return None
    try:
        return read_manifest_file(path)
    except BundleError:
        return None


def pack(plan: PackPlan, bundle_dir: str, check_mode: bool = False, check_space: bool = True,
         progress: Progress | None = None) -> dict:
    """Write the bundle planned by :func:`plan_pack` into *bundle_dir* (created when missing),
    under the bundle's exclusive lock (check mode: shared). Returns a report dict."""
    bundle_dir = os.path.abspath(bundle_dir)
    created = []
    if not check_mode:
        probe = bundle_dir
        while not os.path.exists(probe) and os.path.dirname(probe) != probe:
            created.append(probe)
            probe = os.path.dirname(probe)
        try:
            os.makedirs(bundle_dir, exist_ok=True)
        except OSError as exc:
            raise BundleError(_os_error(exc, "creating the bundle directory %s" % bundle_dir)) from None
    try:
        with _bundle_lock(bundle_dir, plan.name, exclusive=not check_mode, action="pack"):
            return _pack(plan, bundle_dir, check_mode, check_space, progress)
    except BaseException:
        for directory in created:  # a refused pack leaves no directory behind (only empty ones go)
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        raise


def _pack(plan: PackPlan, bundle_dir: str, check_mode: bool, check_space: bool, progress: Progress | None) -> dict:
    started = time.monotonic()
    manifest_path = os.path.join(bundle_dir, manifest_file_name(plan.name))
    existing = _try_manifest(manifest_path)
    planned = plan.document(None)
    report = {
        "bundle": bundle_dir,
        "manifest": manifest_path,
        "name": plan.name,
        "images": [{k: v for k, v in i.items() if k != "blobs"} for i in plan.images()],
        "blobs": len(plan.blobs),
        "blob_bytes": plan.blob_bytes,
        "assumed_present": len(plan.assumed),
        "assumed_bytes": plan.assumed_bytes,
        "bytes": plan.tar_size,
        "part_size": plan.part_size,
        "previous": plan.previous,
    }
    if existing is not None and _content_key(existing) == _content_key(planned):
        problems = _check_parts(bundle_dir, existing, full=True, progress=progress)
        if not problems:
            report.update(changed=False, status="present", parts=[
                dict(p, status="present") for p in existing["parts"]],
                diff={"before": _summary_lines(existing), "after": _summary_lines(existing)})
            report.update(_timing(started, 0))
            return report
    stale = _bundle_files(bundle_dir, plan.name)
    free = free_bytes(bundle_dir)
    needed = plan.tar_size + len(_dumps(planned)) + 64 * len(plan.part_names)
    report["space"] = {"needed": needed, "free": free, "freed_by_replacing": sum(stale.values()),
                       "path": bundle_dir}
    if check_space and free + sum(stale.values()) < needed:
        raise BundleError("not enough free space in %s for the bundle: it needs %d bytes (%s), %d bytes (%s) are "
                          "free%s" % (bundle_dir, needed, human_size(needed), free, human_size(free),
                                      " plus %s of the bundle's previous files" % human_size(sum(stale.values()))
                                      if stale else ""))
    diff_before = _summary_lines(existing)
    if check_mode:
        report.update(changed=True, status="would_write", parts=[
            {"name": n, "size": s, "sha256": None, "status": "would_write"}
            for n, s in zip(plan.part_names, plan.part_sizes)],
            diff={"before": diff_before, "after": _summary_lines(planned)})
        report.update(_timing(started, 0))
        return report
    if progress:
        progress("preflight", {"needed": needed, "free": free, "path": bundle_dir})
    try:
        # the manifest goes first: from here on the directory never looks like a complete bundle
        for entry in sorted(stale, key=lambda e: e != manifest_file_name(plan.name)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(bundle_dir, entry))
        fsync_dir(bundle_dir)
    except OSError as exc:
        raise BundleError(_os_error(exc, "preparing the bundle directory %s" % bundle_dir)) from None
    out = _PartWriter(bundle_dir, plan.part_names, plan.part_size, progress)
    try:
        _write_tar(plan, out, progress)
        parts = out.close()
    except BaseException:
        out.abort()
        raise
    if out.total != plan.tar_size or len(parts) != len(plan.part_names):
        raise BundleError("the tar stream is %d bytes in %d parts, %d bytes in %d parts were planned; the layout "
                          "changed while packing" % (out.total, len(parts), plan.tar_size, len(plan.part_names)))
    doc = plan.document(parts)
    try:
        atomic_write(os.path.join(bundle_dir, sums_file_name(plan.name)),
                     "".join("%s  %s\n" % (h, n) for n, _s, h in parts).encode())
        atomic_write(manifest_path, _dumps(doc))
    except OSError as exc:
        raise BundleError(_os_error(exc, "writing the manifest %s" % manifest_path),
                          part=manifest_file_name(plan.name)) from None
    report.update(changed=True, status="written", parts=[
        {"name": n, "size": s, "sha256": h, "status": "written"} for n, s, h in parts],
        diff={"before": diff_before, "after": _summary_lines(doc)})
    report.update(_timing(started, plan.tar_size))
    return report


def _timing(started, moved):
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 3),
            "bytes_per_second": int(moved / seconds) if moved and seconds > 0 else 0}


# ----------------------------------------------------------------------------- verifying parts

def _problem(part, kind, message):
    return {"part": part, "problem": kind, "message": "%s: %s" % (part, message)}


def _symlink_problem(name: str, path: str) -> dict:
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return _problem(name, "symlink", "a symbolic link (to %r), not the part itself: copy the file, not the link"
                    % target)


def _check_parts(bundle_dir: str, doc: dict, full: bool = True, progress: Progress | None = None) -> list[dict]:
    """Problems of the listed parts: missing, a symbolic link (never followed), not a file,
    truncated, too long, corrupted (sha256, when *full*)."""
    problems = []
    for part in doc["parts"]:
        name = part["name"]
        path = os.path.join(bundle_dir, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            problems.append(_problem(name, "missing", "missing (the manifest lists it with %d bytes)" % part["size"]))
            continue
        if stat.S_ISLNK(st.st_mode):
            problems.append(_symlink_problem(name, path))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(_problem(name, "not_a_file", "not a regular file"))
            continue
        if st.st_size < part["size"]:
            problems.append(_problem(name, "truncated", "truncated: %d of %d bytes" % (st.st_size, part["size"])))
            continue
        if st.st_size > part["size"]:
            problems.append(_problem(name, "too_long", "%d bytes, the manifest says %d" % (st.st_size, part["size"])))
            continue
        if full:
            try:
                actual, _size = _sha256_file(path, progress, name)
            except OSError as exc:
                problems.append(_problem(name, "unreadable", "cannot be read: %s" % exc.strerror))
                continue
            if actual != part["sha256"]:
                problems.append(_problem(name, "corrupted", "corrupted: its sha256 is %s, the manifest says %s"
                                         % (actual, part["sha256"])))
    return problems


def _extra_files(bundle_dir: str, doc: dict) -> list[dict]:
    """Files of the bundle's name that its manifest does not list. They are never read, so they do
    not make the bundle invalid; verify and unpack name them alike (a ``cat NAME.tar.*`` by hand
    would include them)."""
    listed = set(p["name"] for p in doc["parts"])
    manifest = manifest_file_name(doc["name"])
    problems = []
    for entry in sorted(_bundle_files(bundle_dir, doc["name"])):
        if entry in listed or entry in (manifest, sums_file_name(doc["name"])):
            continue
        if _temp_pattern(doc["name"]).match(entry):
            what = "extra file: a temporary file left by an interrupted pack"
        else:
            what = "extra part: not listed in %s (left over from another bundle of the same name?)" % manifest
        problems.append(_problem(entry, "extra", "%s; not read, the bundle does not need it: delete it (a "
                                 "'cat %s.tar.*' by hand would read it)" % (what, doc["name"])))
    return problems


def read_manifest(bundle_dir, name=DEFAULT_NAME):
    check_name(name)
    return read_manifest_file(os.path.join(os.path.abspath(bundle_dir), manifest_file_name(name)))


def verify(bundle_dir: str, name: str = DEFAULT_NAME, full: bool = True, progress: Progress | None = None) -> dict:
    """Check every part of a bundle against its manifest and look for extra parts.

    Never raises for a bad part: returns ``{"valid": bool, "problems": [...], "extra": [...],
    "parts": [...]}``; files the manifest does not list are in ``extra`` and leave ``valid`` alone.
    Raises :class:`BundleError` when the manifest itself is missing or invalid."""
    bundle_dir = os.path.abspath(bundle_dir)
    check_name(name)
    with _bundle_lock(bundle_dir, name, exclusive=False, action="verify"):
        return _verify(bundle_dir, name, full, progress)


def _verify(bundle_dir: str, name: str, full: bool, progress: Progress | None) -> dict:
    started = time.monotonic()
    doc = read_manifest(bundle_dir, name)
    problems = _check_parts(bundle_dir, doc, full=full, progress=progress)
    extra = _extra_files(bundle_dir, doc)
    by_part = {}
    for problem in problems:
        by_part.setdefault(problem["part"], problem["problem"])
    parts = [{"name": p["name"], "size": p["size"], "sha256": p["sha256"], "status": by_part.get(p["name"], "ok")}
             for p in doc["parts"]]
    parts += [{"name": p["part"], "size": None, "sha256": None, "status": "extra"} for p in extra]
    report = {
        "bundle": bundle_dir,
        "manifest": os.path.join(bundle_dir, manifest_file_name(name)),
        "name": name,
        "valid": not problems,
        "problems": problems,
        "extra": extra,
        "parts": parts,
        "images": [{k: v for k, v in i.items() if k != "blobs"} for i in doc["images"]],
        "blobs": len(doc["blobs"]),
        "blob_bytes": sum(b["size"] for b in doc["blobs"]),
        "assumed_present": len(doc["assumed_present"]),
        "bytes": doc["tar"]["size"],
    }
    report.update(_timing(started, doc["tar"]["size"] if full else 0))
    return report


# ----------------------------------------------------------------------------- unpacking

class _PartsReader:
    """Reads the parts as one stream, checking each part's size and sha256 as it is crossed."""

    def __init__(self, bundle_dir, parts, progress=None):
        self.bundle_dir = bundle_dir
        self.parts = parts
        self.progress = progress
        self.starts = []
        offset = 0
        for part in parts:
            self.starts.append(offset)
            offset += part["size"]
        self.size = offset
        self.problems = []
        self.position = 0
        self._index = -1
        self._handle = None
        self._hasher = None
        self._read = 0

    def part_at(self, offset):
        index = max(0, bisect.bisect_right(self.starts, offset) - 1)
        return self.parts[min(index, len(self.parts) - 1)]["name"]

    def parts_between(self, start, end):
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_right(self.starts, max(start, end - 1)) - 1
        return [p["name"] for p in self.parts[max(first, 0):max(last, 0) + 1]]

    def _next_part(self) -> bool:
        self._index += 1
        if self._index >= len(self.parts):
            return False
        part = self.parts[self._index]
        path = os.path.join(self.bundle_dir, part["name"])
        try:
            self._handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb", buffering=0)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                problem = _symlink_problem(part["name"], path)
                raise BundleError(problem["message"], part=part["name"], problems=[problem]) from None
            raise BundleError("%s: cannot be opened: %s" % (part["name"], exc.strerror), part=part["name"]) from None
        self._hasher = hashlib.sha256()
        self._read = 0
        return True

    def _close_part(self):
        part = self.parts[self._index]
        self._handle.close()
        self._handle = None
        if self._read != part["size"]:
            kind = "truncated" if self._read < part["size"] else "too_long"
            self.problems.append(_problem(part["name"], kind, "%d bytes read, the manifest says %d"
                                          % (self._read, part["size"])))
        elif self._hasher.hexdigest() != part["sha256"]:
            self.problems.append(_problem(part["name"], "corrupted", "corrupted: its sha256 is %s, the manifest "
                                          "says %s" % (self._hasher.hexdigest(), part["sha256"])))
        if self.progress:
            self.progress("part_read", {"part": part["name"], "bytes": self._read})

    def read(self, size=-1):
        if size is None or size < 0:
            size = CHUNK
        while True:
            if self._handle is None and not self._next_part():
                return b""
            part = self.parts[self._index]
            try:
                data = self._handle.read(min(size, CHUNK * 4))
            except OSError as exc:
                raise BundleError("%s: read error: %s" % (part["name"], exc.strerror), part=part["name"]) from None
            if not data:
                self._close_part()
                continue
            self._hasher.update(data)
            self._read += len(data)
            self.position += len(data)
            return data

    def read_exact(self, size):
        """*size* bytes, fewer only at the end of the last part."""
        chunks = []
        got = 0
        while got < size:
            data = self.read(size - got)
            if not data:
                break
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    def drain(self):
        try:
            while self.read(CHUNK * 4):
                pass
        except BundleError as exc:
            self.problems.append(_problem(exc.part or "?", "unreadable", exc.message))

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _normalize_member(member, seen):
    """The member's path inside the layout and its kind, after the safety checks (raises)."""
    raw = member.name
    label = "tar member %r" % raw
    if not raw or "\x00" in raw:
        raise BundleError("%s: empty or invalid name" % label, member=raw)
    if raw.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", raw):
        raise BundleError("%s: absolute path (a bundle holds only paths inside the layout)" % label, member=raw)
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BundleError("%s: path with '..' escapes the layout" % label, member=raw)
    if not parts:
        raise BundleError("%s: empty path" % label, member=raw)
    path = "/".join(parts)
    if path in seen:
        raise BundleError("%s: duplicate entry (%s appears twice in the bundle)" % (label, path), member=raw)
    seen.add(path)
    if member.issym() or member.islnk():
        target = member.linkname or ""
        if member.issym():
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        else:
            resolved = posixpath.normpath(target)
        kind = "symbolic link" if member.issym() else "hard link"
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise BundleError("%s: %s to %r escapes the layout" % (label, kind, target), member=raw)
        raise BundleError("%s: %s to %r (a bundle holds only regular files)" % (label, kind, target), member=raw)
    if member.ischr() or member.isblk():
        raise BundleError("%s: device file (a bundle holds only regular files)" % label, member=raw)
    if member.isfifo():
        raise BundleError("%s: FIFO (a bundle holds only regular files)" % label, member=raw)
    if member.isdir():
        if path in _LAYOUT_DIRS:
            return path, "dir"
        raise BundleError("%s: unexpected directory (a bundle holds only oci-layout, index.json and "
                          "blobs/<algorithm>/<hex>)" % label, member=raw)
    if not member.isreg() or member.issparse():
        raise BundleError("%s: unsupported entry type %r" % (label, member.type), member=raw)
    if path in ("oci-layout", "index.json"):
        return path, path
    match = _BLOB_PATH.match(path)
    if match:
        try:
            _ref.validate_digest("%s:%s" % match.groups())
        except ValueError:
            pass
        else:
            return path, "blob"
    raise BundleError("%s: unexpected file (a bundle holds only oci-layout, index.json and blobs/<algorithm>/<hex>)"
                      % label, member=raw)


_META_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
               tarfile.SOLARIS_XHDTYPE)
_META_LIMIT = 1024 * 1024


def _parse_pax(data, where):
    """The ``path``, ``linkpath`` and ``size`` records of a pax extended header."""
    out = {}
    pos = 0
    while pos < len(data):
        if not data[pos:].strip(b"\0"):
            break
        space = data.find(b" ", pos)
        record_length = data[pos:space] if space > pos else b""
        if not record_length.isdigit():
            raise BundleError("malformed pax header at byte %d" % where)
        length = int(record_length)
        end = pos + length
        if length <= 0 or end > len(data) or data[end - 1:end] != b"\n":
            raise BundleError("malformed pax header at byte %d" % where)
        key, sep, value = data[space + 1:end - 1].partition(b"=")
        if not sep:
            raise BundleError("malformed pax header at byte %d" % where)
        if key in (b"path", b"linkpath"):
            out[key.decode()] = value.decode("utf-8", "surrogateescape")
        elif key == b"size":
            if not value.isdigit():
                raise BundleError("pax header at byte %d: invalid size %r" % (where, value))
            out["size"] = int(value)
        elif key.startswith(b"GNU.sparse"):
            raise BundleError("pax header at byte %d: sparse files are not allowed in a bundle" % where)
        pos = end
    return out


class _TarStream:
    """Tar headers read one by one from the parts (ustar and GNU headers through
    ``tarfile.TarInfo.frombuf``; GNU long names and pax ``path``/``linkpath``/``size`` records
    applied here). Nothing is extracted: member data is handed to the caller in chunks."""

    def __init__(self, reader):
        self.reader = reader
        self.member = None
        self.remaining = 0
        self.pad = 0

    def _exact(self, size, what):
        data = self.reader.read_exact(size)
        if len(data) != size:
            raise BundleError("the tar stream ends inside %s" % what)
        return data

    def skip_rest(self):
        while self.remaining:
            data = self.reader.read(min(self.remaining, CHUNK * 4))
            if not data:
                raise BundleError("the tar stream ends inside tar member %r (%d bytes missing)"
                                  % (self.member.name, self.remaining), member=self.member.name)
            self.remaining -= len(data)
        if self.pad:
            self._exact(self.pad, "the padding of tar member %r" % self.member.name)
            self.pad = 0

    def next(self):
        """The next member (a ``tarfile.TarInfo`` with ``offset``/``offset_data``), None at the end."""
        if self.member is not None:
            self.skip_rest()
        long_name = long_link = None
        pax = {}
        start = self.reader.position  # the member starts at its first (extension) header
        while True:
            offset = self.reader.position
            block = self.reader.read_exact(BLOCK)
            if len(block) != BLOCK:
                raise BundleError("the tar stream ends %s (no end-of-archive blocks)"
                                  % ("inside a header" if block else "early"))
            if block.count(0) == BLOCK:
                self.member = None
                return None
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise BundleError("invalid tar header at byte %d of the stream: %s" % (offset, exc)) from None
            if info.type in _META_TYPES:
                if info.type == tarfile.XGLTYPE:
                    raise BundleError("global pax header at byte %d (a bundle never has one)" % offset)
                if info.size > _META_LIMIT:
                    raise BundleError("tar header at byte %d announces %d bytes of names or records"
                                      % (offset, info.size))
                data = self._exact(info.size + _padding(info.size), "a header")[:info.size]
                if info.type == tarfile.GNUTYPE_LONGNAME:
                    long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                elif info.type == tarfile.GNUTYPE_LONGLINK:
                    long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                else:
                    pax.update(_parse_pax(data, offset))
                continue
            if "path" in pax:
                info.name = pax["path"]
            elif long_name is not None:
                info.name = long_name
            if "linkpath" in pax:
                info.linkname = pax["linkpath"]
            elif long_link is not None:
                info.linkname = long_link
            if "size" in pax:
                info.size = pax["size"]
            info.offset = start
            info.offset_data = self.reader.position
            has_data = info.type in tarfile.REGULAR_TYPES or info.type not in tarfile.SUPPORTED_TYPES
            self.remaining = info.size if has_data else 0
            self.pad = _padding(self.remaining)
            self.member = info
            return info

    def chunks(self, offset=0):
        """The current member's data from *offset*, in chunks of at most 1 MiB."""
        skip = offset
        while self.remaining:
            data = self.reader.read(min(self.remaining, CHUNK))
            if not data:
                raise BundleError("the tar stream ends inside tar member %r (%d bytes missing)"
                                  % (self.member.name, self.remaining), member=self.member.name)
            self.remaining -= len(data)
            if skip:
                if len(data) <= skip:
                    skip -= len(data)
                    continue
                data = data[skip:]
                skip = 0
            yield data

    def read_all(self, limit):
        member = self.member
        if member.size > limit:
            raise BundleError("tar member %r is %d bytes, more than the %d expected"
                              % (member.name, member.size, limit), member=member.name)
        return b"".join(self.chunks())


def _index_entries(doc):
    return sorted((i["ref_name"], i["digest"], i["media_type"], i["size"]) for i in doc["images"])


def _tar_index_entries(data, member):
    try:
        index = json.loads(data.decode("utf-8"))
        out = []
        for raw in index["manifests"]:
            out.append((raw["annotations"][REF_NAME], raw["digest"], raw["mediaType"], raw["size"]))
        return sorted(out)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        raise BundleError("tar member %r is not an OCI index naming every image" % member, member=member) from None


def _open_layout(path):
    """The layout at *path*; a missing one is created by its first write (``Layout(create=True)``),
    so a refused or check-mode unpack leaves no directory behind."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise BundleError("%s exists and is not a directory" % path)
    try:
        return Layout(path, create=True)
    except LayoutError as exc:
        raise BundleError("%s; unpack into a layout or into a new or empty directory" % exc.message) from None


def _graphs_from_layout(layout, doc):
    graphs = []
    for image in doc["images"]:
        desc = _manifest.Descriptor(image["media_type"], image["digest"], image["size"])
        graphs.append(_image_graph(layout, image["ref_name"], desc))
    return graphs


def unpack(bundle_dir: str, layout_path: str, name: str = DEFAULT_NAME, check_mode: bool = False,
           check_space: bool = True, progress: Progress | None = None, mirror_map: str | None = None) -> dict:
    """Unpack bundle *name* of *bundle_dir* into the layout at *layout_path* (created when missing).

    Order: manifest checks, part sizes, the layout has what an incremental bundle assumes, free
    space, then one pass over the stream (members checked, blobs verified as they are written,
    part hashes checked as they are crossed), then every image checked complete, then
    ``index.json`` merged in one atomic replacement. The bundle's lock is shared with other
    readers (a pack of it at the same time fails, or makes this fail, at once); the layout takes
    concurrent writers (see :class:`Layout`). Returns a report dict."""
    bundle_dir = os.path.abspath(bundle_dir)
    check_name(name)
    with _bundle_lock(bundle_dir, name, exclusive=False, action="unpack"):
        return _unpack(bundle_dir, os.path.abspath(layout_path), name, check_mode, check_space, progress, mirror_map)


def _unpack(bundle_dir: str, layout_path: str, name: str, check_mode: bool, check_space: bool,
            progress: Progress | None, mirror_map: str | None) -> dict:
    started = time.monotonic()
    doc = read_manifest(bundle_dir, name)
    layout = _open_layout(layout_path)

    def has(digest, size):
        return layout.has_blob(digest, size)

    absent = [b for b in doc["assumed_present"] if not has(b["digest"], b["size"])]
    if absent:
        gone = set(b["digest"] for b in absent)
        images = [i for i in doc["images"] if gone.intersection(i["blobs"])]
        previous = (doc.get("previous") or {}).get("path") or "the previous transfer"
        raise BundleError("%d image(s) of this incremental bundle need %d blob(s) (%s) that are not in the layout %s "
                          "and not in the bundle: %s. Unpack the bundle of %s into this layout first"
                          % (len(images), len(absent), human_size(sum(b["size"] for b in absent)), layout_path,
                             ", ".join(i["ref_name"] for i in images), previous))
    to_write = [b for b in doc["blobs"] if not has(b["digest"], b["size"])]
    current = {}
    for ref_name, desc in layout.entries():
        current.setdefault(ref_name, desc)
    image_status = []
    for image in doc["images"]:
        old = current.get(image["ref_name"])
        if old is None:
            status = "added"
        elif old.digest != image["digest"]:
            status = "updated"
        else:
            status = "present"
        image_status.append((image, old.digest if old is not None else None, status))
    changing = [s for s in image_status if s[2] != "present"]
    report = {
        "bundle": bundle_dir,
        "manifest": os.path.join(bundle_dir, manifest_file_name(name)),
        "name": name,
        "layout": layout_path,
        "extra": _extra_files(bundle_dir, doc),
        "blobs": len(doc["blobs"]),
        "blob_bytes": sum(b["size"] for b in doc["blobs"]),
        "blobs_to_write": len(to_write),
        "bytes_to_write": sum(b["size"] for b in to_write),
        "assumed_present": len(doc["assumed_present"]),
        "bytes": doc["tar"]["size"],
        "diff": {
            "before": "".join("%s %s\n" % (i["ref_name"], old or "(absent)") for i, old, _s in image_status),
            "after": "".join("%s %s\n" % (i["ref_name"], i["digest"]) for i, _old, _s in image_status),
        },
    }

    def image_results(prefix=""):
        return [{"ref_name": i["ref_name"], "digest": i["digest"], "media_type": i["media_type"],
                 "previous_digest": old, "status": (prefix + s) if s != "present" else s,
                 "total_size": i.get("total_size")} for i, old, s in image_status]

    if not to_write and not changing and layout.exists:
        incomplete = [g for g in _graphs_from_layout(layout, doc) if g.missing]
        if incomplete:
            raise BundleError(_missing_message(incomplete, layout_path, "recorded by the bundle are incomplete"))
        map_changed = _write_mirror_map(mirror_map, doc, layout_path, check_mode)
        report.update(changed=map_changed, status="present", images=image_results(), blobs_written=0,
                      bytes_written=0, mirror_map=mirror_map)
        report.update(_timing(started, 0))
        return report

    # only images to name (their blobs are all in the layout already): no part needs reading
    problems = _check_parts(bundle_dir, doc, full=False) if to_write else []
    if problems:
        raise BundleError("the bundle in %s cannot be unpacked:\n%s" % (bundle_dir, "\n".join(
            p["message"] for p in problems)), part=problems[0]["part"], problems=problems)
    partial = sum(layout.partial_size(b["digest"]) for b in to_write)
    needed = sum(b["size"] for b in to_write) - partial + len(doc["images"]) * 1024 + 65536
    free = free_bytes(layout_path)
    report["space"] = {"needed": needed, "free": free, "path": layout_path}
    if check_space and free < needed:
        raise BundleError("not enough free space in %s for the bundle's blobs: %d blob(s) not already in the layout "
                          "need %d bytes (%s), %d bytes (%s) are free"
                          % (layout_path, len(to_write), needed, human_size(needed), free, human_size(free)))
    if check_mode:
        report.update(changed=True, status="would_unpack", images=image_results("would_be_"), blobs_written=0,
                      bytes_written=0, mirror_map=mirror_map)
        report.update(_timing(started, 0))
        return report
    if progress:
        progress("preflight", {"needed": needed, "free": free, "path": layout_path})

    written, written_bytes = _stream_into(layout, bundle_dir, doc, progress) if to_write else (0, 0)
    graphs = _graphs_from_layout(layout, doc)
    incomplete = [g for g in graphs if g.missing]
    if incomplete:
        raise BundleError(_missing_message(incomplete, layout_path, "are incomplete after unpacking (index.json "
                                           "left unchanged)"))
    layout.set_refs([(i["ref_name"], _manifest.Descriptor(i["media_type"], i["digest"], i["size"]))
                     for i in doc["images"]])
    layout.cleanup_state()
    _write_mirror_map(mirror_map, doc, layout_path, False)
    report.update(changed=True, status="unpacked", images=image_results(), blobs_written=written,
                  bytes_written=written_bytes, mirror_map=mirror_map)
    report.update(_timing(started, doc["tar"]["size"]))
    return report


def _stream_into(layout, bundle_dir, doc, progress):
    """One pass over the tar stream: returns (blobs written, bytes written)."""
    expected = {b["digest"]: b["size"] for b in doc["blobs"]}
    reader = _PartsReader(bundle_dir, doc["parts"], progress)
    seen = set()
    received = set()
    tar_index = None
    written = 0
    written_bytes = 0
    failure = None
    member = None
    stream = _TarStream(reader)
    try:
        while not reader.problems:
            member = None
            member = stream.next()
            if member is None:
                break
            path, kind = _normalize_member(member, seen)
            part = reader.part_at(member.offset)
            if kind == "dir":
                continue
            if kind == "oci-layout":
                data = stream.read_all(4096)
                try:
                    ok = json.loads(data.decode("utf-8")) == LAYOUT_VERSION
                except (ValueError, UnicodeDecodeError):
                    ok = False
                if not ok:
                    raise BundleError("tar member 'oci-layout' is not %s" % json.dumps(LAYOUT_VERSION),
                                      member=member.name, part=part)
                continue
            if kind == "index.json":
                tar_index = _tar_index_entries(stream.read_all(_manifest.MAX_MANIFEST_BYTES), member.name)
                continue
            digest = "%s:%s" % tuple(path.split("/")[1:3])
            if digest not in expected:
                raise BundleError("tar member %r: blob %s is not listed in the bundle manifest" % (member.name, digest),
                                  member=member.name, part=part)
            if member.size != expected[digest]:
                raise BundleError("tar member %r: %d bytes, the bundle manifest says %d"
                                  % (member.name, member.size, expected[digest]), member=member.name, part=part)
            received.add(digest)
            if layout.has_blob(digest, member.size):
                continue
            try:
                layout.write_blob(digest, member.size, stream.chunks)
            except OCIError as exc:
                if isinstance(exc, BundleError):
                    raise
                span = reader.parts_between(member.offset_data, member.offset_data + member.size)
                where = " to ".join(span[:1] + span[1:][-1:]) or part
                raise BundleError("%s: tar member %r: %s" % (where, member.name, exc.message),
                                  member=member.name, part=span[0] if span else part) from None
            written += 1
            written_bytes += member.size
            if progress:
                progress("blob_unpacked", {"digest": digest, "bytes": member.size})
    except BundleError as exc:
        failure = exc
        if exc.part is None:
            exc.part = reader.part_at(member.offset if member is not None else max(0, reader.position - 1))
        if not exc.message.startswith(exc.part):
            exc.message = "%s: %s" % (exc.part, exc.message)
            exc.args = (exc.message,)
    # read (and hash) whatever the tar reader did not: every part is checked in full
    reader.drain()
    reader.close()
    if reader.problems:
        message = "the bundle's parts are damaged:\n%s" % "\n".join(p["message"] for p in reader.problems)
        if failure is not None:
            message += "\n(while unpacking: %s)" % failure.message
        raise BundleError(message, part=reader.problems[0]["part"], problems=reader.problems)
    if failure is not None:
        raise failure
    if reader.position != reader.size:
        raise BundleError("read %d bytes of the %d the manifest lists" % (reader.position, reader.size))
    missing = sorted(set(expected) - received)
    if missing:
        raise BundleError("the tar stream has no member for %d blob(s) its manifest lists: %s"
                          % (len(missing), ", ".join(missing[:5])), part=doc["parts"][-1]["name"])
    if tar_index is None:
        raise BundleError("the tar stream has no index.json (it ends early)", part=doc["parts"][-1]["name"])
    if tar_index != _index_entries(doc):
        raise BundleError("index.json in the tar stream does not name the same images as the bundle manifest",
                          member="index.json", part=doc["parts"][-1]["name"])
    return written, written_bytes


def _map_entries(doc, layout_path):
    """Mirror map entries for the bundle's images, pointing at the unpacked layout."""
    refs = {i["ref_name"]: i for i in doc["images"]}
    out = []
    embedded = doc.get("mirror_map") or []
    covered = set()
    for entry in embedded:
        dest = entry.get("destination") or ""
        ref_name = None
        if dest.startswith("oci:"):
            for candidate in refs:
                if dest.endswith(":" + candidate):
                    ref_name = candidate
                    break
        if ref_name is None and entry["source"] in refs:
            ref_name = entry["source"]
        if ref_name is None:
            continue
        clean = dict(entry)
        clean["destination"] = "oci:%s:%s" % (layout_path, ref_name)
        out.append(clean)
        covered.add(ref_name)
    for ref_name, image in refs.items():
        if ref_name in covered:
            continue
        try:
            source = _ref.parse(ref_name)
        except (OCIError, ValueError):
            continue
        out.append(_mirrormap.make_entry(source, image["digest"], image["media_type"], image.get("platforms") or [],
                                         image.get("total_size") or image["size"],
                                         "oci:%s:%s" % (layout_path, ref_name)))
    return out


def _write_mirror_map(path, doc, layout_path, check_mode):
    """Merge the bundle's images into the mirror map at *path* (entries of the same source are
    replaced). Returns True when the file changed (or would change)."""
    if not path:
        return False
    try:
        existing = _mirrormap.load(path)
    except FileNotFoundError:
        existing = []
    except (OSError, _mirrormap.MirrorMapError) as exc:
        raise BundleError("cannot read the mirror map to update: %s" % exc) from None
    new = _map_entries(doc, layout_path)
    sources = set(e["source"] for e in new)
    merged = [e for e in existing if e["source"] not in sources] + new
    try:
        return _mirrormap.write(os.path.abspath(path), merged, check_mode)
    except OSError as exc:
        raise BundleError(_os_error(exc, "writing the mirror map %s" % path)) from None
