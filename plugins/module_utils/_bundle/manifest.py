# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Transfer bundles: an OCI image layout packed into checksummed tar parts for removable media.
This module reads and checks the bundle manifest; the package's other modules plan
(``plan.py``), write (``pack.py``), check (``verify.py``) and read back (``unpack.py``) bundles.

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

import json
import os
import re
from collections.abc import Callable
from typing import Any

from .._mirrormap import io as _mapio
from .._mirrormap.model import FORMAT as MAP_FORMAT, MirrorMapError, Verified
from .._oci import reference as _ref
from .errors import BundleError
from .names import DEFAULT_NAME, FORMAT, TAR_WRITER, check_name, check_ref_name, manifest_file_name, part_pattern

MAX_MANIFEST_BYTES = 256 * 1024 * 1024

_HEX64 = re.compile(r"^[0-9a-f]{64}$")

#: builds the error for a finding in the manifest being checked
_Bad = Callable[[str], BundleError]


def dumps(doc: Any) -> bytes:
    """The manifest's bytes on media (indented JSON, keys in the document's order)."""
    return (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode("utf-8")


def is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_manifest_file(path: str) -> dict[str, Any]:
    """Load and validate a bundle manifest (the ``.bundle.json`` file)."""
    return parse_manifest(read_manifest_bytes(path), path)


def read_manifest_bytes(path: str) -> bytes:
    """The bytes of the manifest at *path* (what its signature covers), not yet checked."""
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
    return data


def parse_manifest(data: bytes, path: str) -> dict[str, Any]:
    """The validated manifest of the bytes *data* read from *path*."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError("%s is not valid JSON: %s" % (path, exc), part=os.path.basename(path)) from None
    return validate_manifest(doc, path)


def read_manifest(bundle_dir: str, name: str = DEFAULT_NAME) -> dict[str, Any]:
    """The validated manifest of bundle *name* in *bundle_dir*."""
    check_name(name)
    return read_manifest_file(os.path.join(os.path.abspath(bundle_dir), manifest_file_name(name)))


def try_manifest(path: str) -> dict[str, Any] | None:
    """The manifest at *path*, or None when it is missing or invalid."""
    if not os.path.exists(path):
        return None
    try:
        return read_manifest_file(path)
    except BundleError:
        return None


def content_key(doc: dict[str, Any]) -> str:
    """The manifest without part hashes: equal keys mean byte-identical tar streams."""
    key = dict(doc)
    key["parts"] = [(p.get("name"), p.get("size")) for p in doc.get("parts") or []]
    return json.dumps(key, sort_keys=True)


def validate_manifest(doc: object, origin: str) -> dict[str, Any]:
    """Check the structure of a manifest read from media (names are used to open files)."""
    where = os.path.basename(origin)

    def bad(message: str) -> BundleError:
        return BundleError("%s: %s" % (origin, message), part=where)

    if not isinstance(doc, dict):
        raise bad("not a bundle manifest (expected a JSON object)")
    if doc.get("format") != FORMAT:
        raise bad("unsupported format %r (this collection reads %s)" % (doc.get("format"), FORMAT))
    name = doc.get("name")
    try:
        name = check_name(name)
    except ValueError as exc:
        raise bad(str(exc)) from None
    tar = doc.get("tar")
    if not isinstance(tar, dict) or tar.get("writer") != TAR_WRITER:
        raise bad("unsupported tar writer %r (this collection reads %s)"
                  % (tar.get("writer") if isinstance(tar, dict) else None, TAR_WRITER))
    _check_parts_list(doc, name, tar, bad)
    for key in ("blobs", "assumed_present"):
        items = doc.get(key)
        if not isinstance(items, list):
            raise bad("%s must be a list" % key)
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not is_size(item.get("size")):
                raise bad("%s[%d]: needs a digest and an integer size" % (key, i))
            try:
                _ref.validate_digest(item.get("digest"))
            except ValueError as exc:
                raise bad("%s[%d]: %s" % (key, i, exc)) from None
    _check_images(doc, bad)
    if doc.get("mirror_map") is not None:
        try:
            _mapio.from_document({"format": MAP_FORMAT, "images": doc["mirror_map"]}, origin="%s mirror_map" % origin)
        except MirrorMapError as exc:
            raise bad(str(exc)) from None
    return doc


def _check_parts_list(doc: dict[str, Any], name: str, tar: dict[str, Any], bad: _Bad) -> None:
    pattern = part_pattern(name)
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
        if not is_size(part.get("size")) or not isinstance(part.get("sha256"), str) or \
                not _HEX64.match(part["sha256"]):
            raise bad("parts[%d] (%s): needs an integer size and a sha256 of 64 hex digits" % (i, part["name"]))
        total += part["size"]
    if not is_size(tar.get("size")) or tar["size"] != total:
        raise bad("tar.size %r is not the sum of the part sizes (%d)" % (tar.get("size"), total))


def _check_images(doc: dict[str, Any], bad: _Bad) -> None:
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
        if not isinstance(image.get("media_type"), str) or not is_size(image.get("size")):
            raise bad("%s: needs a media_type and an integer size" % label)
        if not isinstance(image.get("blobs"), list) or not all(isinstance(d, str) for d in image["blobs"]):
            raise bad("%s: blobs must be a list of digests" % label)
        unknown = [d for d in image["blobs"] if d not in known]
        if unknown:
            raise bad("%s: %s is neither in the bundle's blobs nor in assumed_present" % (label, unknown[0]))
        if image["digest"] not in known:
            raise bad("%s: its manifest %s is not in the bundle" % (label, image["digest"]))
        if image.get("verified") is not None:
            try:
                Verified.from_dict(image["verified"])
            except ValueError as exc:
                raise bad("%s: %s" % (label, exc)) from None
