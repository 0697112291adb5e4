# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""One pass over a bundle's tar stream into a layout: every member checked, every blob verified as
it is written, every part's sha256 checked as the stream crosses it."""

from __future__ import annotations

import json
from typing import Any

from .._engine.layout import LAYOUT_VERSION, REF_NAME
from .._oci import manifest as _manifest
from .._oci.errors import OCIError
from .errors import BundleError, Progress
from .parts import PartsReader
from .tarstream import TarStream, normalize_member

IndexEntries = list[tuple[str, str, str, int]]


def index_entries(doc: dict[str, Any]) -> IndexEntries:
    """The images of a bundle manifest as (ref name, digest, media type, size), sorted."""
    return sorted((i["ref_name"], i["digest"], i["media_type"], i["size"]) for i in doc["images"])


def _tar_index_entries(data: bytes, member: str) -> IndexEntries:
    try:
        index = json.loads(data.decode("utf-8"))
        out = []
        for raw in index["manifests"]:
            out.append((raw["annotations"][REF_NAME], raw["digest"], raw["mediaType"], raw["size"]))
        return sorted(out)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        raise BundleError("tar member %r is not an OCI index naming every image" % member, member=member) from None


class _Intake:
    """The state of one pass: what was seen, received and written."""

    def __init__(self, layout: Any, doc: dict[str, Any], progress: Progress | None) -> None:
        self.layout = layout
        self.progress = progress
        self.expected = {b["digest"]: b["size"] for b in doc["blobs"]}
        self.seen: set[str] = set()
        self.received: set[str] = set()
        self.tar_index: IndexEntries | None = None
        self.written = 0
        self.written_bytes = 0

    def member(self, stream: TarStream, reader: PartsReader, member: Any) -> None:
        path, kind = normalize_member(member, self.seen)
        part = reader.part_at(member.offset)
        if kind == "dir":
            return
        if kind == "oci-layout":
            data = stream.read_all(4096)
            try:
                ok = json.loads(data.decode("utf-8")) == LAYOUT_VERSION
            except (ValueError, UnicodeDecodeError):
                ok = False
            if not ok:
                raise BundleError("tar member 'oci-layout' is not %s" % json.dumps(LAYOUT_VERSION),
                                  member=member.name, part=part)
            return
        if kind == "index.json":
            self.tar_index = _tar_index_entries(stream.read_all(_manifest.MAX_MANIFEST_BYTES), member.name)
            return
        digest = "%s:%s" % tuple(path.split("/")[1:3])
        if digest not in self.expected:
            raise BundleError("tar member %r: blob %s is not listed in the bundle manifest" % (member.name, digest),
                              member=member.name, part=part)
        if member.size != self.expected[digest]:
            raise BundleError("tar member %r: %d bytes, the bundle manifest says %d"
                              % (member.name, member.size, self.expected[digest]), member=member.name, part=part)
        self.received.add(digest)
        if self.layout.has_blob(digest, member.size):
            return
        try:
            self.layout.write_blob(digest, member.size, stream.chunks)
        except OCIError as exc:
            if isinstance(exc, BundleError):
                raise
            span = reader.parts_between(member.offset_data, member.offset_data + member.size)
            where = " to ".join(span[:1] + span[1:][-1:]) or part
            raise BundleError("%s: tar member %r: %s" % (where, member.name, exc.message),
                              member=member.name, part=span[0] if span else part) from None
        self.written += 1
        self.written_bytes += member.size
        if self.progress:
            self.progress("blob_unpacked", {"digest": digest, "bytes": member.size})


def stream_into(layout: Any, bundle_dir: str, doc: dict[str, Any], progress: Progress | None) -> tuple[int, int]:
    """One pass over the tar stream: returns (blobs written, bytes written)."""
    reader = PartsReader(bundle_dir, doc["parts"], progress)
    intake = _Intake(layout, doc, progress)
    failure = None
    member = None
    stream = TarStream(reader)
    try:
        while not reader.problems:
            member = None
            member = stream.next()
            if member is None:
                break
            intake.member(stream, reader, member)
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
    _check_complete(reader, intake, doc)
    return intake.written, intake.written_bytes


def _check_complete(reader: PartsReader, intake: _Intake, doc: dict[str, Any]) -> None:
    last = doc["parts"][-1]["name"]
    if reader.position != reader.size:
        raise BundleError("read %d bytes of the %d the manifest lists" % (reader.position, reader.size))
    missing = sorted(set(intake.expected) - intake.received)
    if missing:
        raise BundleError("the tar stream has no member for %d blob(s) its manifest lists: %s"
                          % (len(missing), ", ".join(missing[:5])), part=last)
    if intake.tar_index is None:
        raise BundleError("the tar stream has no index.json (it ends early)", part=last)
    if intake.tar_index != index_entries(doc):
        raise BundleError("index.json in the tar stream does not name the same images as the bundle manifest",
                          member="index.json", part=last)
