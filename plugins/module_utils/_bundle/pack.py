# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Writing a planned bundle: the tar stream, cut into parts, then the sums file and the manifest."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from .._common.fileio import atomic_write, fsync_dir
from .._common.sizes import human_size
from .._common.space import free_bytes
from .._oci import manifest as _manifest
from .baseline import record_bundle
from .errors import BundleError, Progress, os_error
from .lock import bundle_lock
from .manifest import content_key, dumps, read_manifest_bytes, try_manifest
from .names import CHUNK, bundle_files, manifest_file_name, signature_file_name, sums_file_name
from .parts import PartWriter, check_parts
from .plan import PackPlan
from .report import summary_lines, timing
from .signing import SigningKey, sign
from .tarstream import BLOCK, RECORD, padding, tar_header


def pack(plan: PackPlan, bundle_dir: str, check_mode: bool = False, check_space: bool = True,
         progress: Progress | None = None, signing_key: SigningKey | None = None) -> dict[str, Any]:
    """Write the bundle planned by :func:`plan.plan_pack` into *bundle_dir* (created when missing),
    under the bundle's exclusive lock (check mode: shared), and with *signing_key* the manifest's
    detached signature (see signing.py). Returns a report dict."""
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
            raise BundleError(os_error(exc, "creating the bundle directory %s" % bundle_dir)) from None
    try:
        with bundle_lock(bundle_dir, plan.name, exclusive=not check_mode, action="pack"):
            report = _pack(plan, bundle_dir, check_mode, check_space, progress)
            report["signature"] = _signature(plan, bundle_dir, report, check_mode, signing_key)
            if not check_mode and plan.previous is not None and plan.previous.get("kind") == "inventory":
                record_bundle(plan.layout, plan.name, plan.previous)
            return report
    except BaseException:
        for directory in created:  # a refused pack leaves no directory behind (only empty ones go)
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        raise


def _pack(plan: PackPlan, bundle_dir: str, check_mode: bool, check_space: bool,
          progress: Progress | None) -> dict[str, Any]:
    started = time.monotonic()
    manifest_path = os.path.join(bundle_dir, manifest_file_name(plan.name))
    existing = try_manifest(manifest_path)
    planned = plan.document(None)
    report: dict[str, Any] = {
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
    if existing is not None and content_key(existing) == content_key(planned):
        problems = check_parts(bundle_dir, existing, full=True, progress=progress)
        if not problems:
            report.update(changed=False, status="present", parts=[
                dict(p, status="present") for p in existing["parts"]],
                diff={"before": summary_lines(existing), "after": summary_lines(existing)})
            report.update(timing(started, 0))
            return report
    stale = bundle_files(bundle_dir, plan.name)
    free = free_bytes(bundle_dir)
    needed = plan.tar_size + len(dumps(planned)) + 64 * len(plan.part_names)
    report["space"] = {"needed": needed, "free": free, "freed_by_replacing": sum(stale.values()),
                       "path": bundle_dir}
    if check_space and free + sum(stale.values()) < needed:
        raise BundleError("not enough free space in %s for the bundle: it needs %d bytes (%s), %d bytes (%s) are "
                          "free%s" % (bundle_dir, needed, human_size(needed), free, human_size(free),
                                      " plus %s of the bundle's previous files" % human_size(sum(stale.values()))
                                      if stale else ""))
    diff_before = summary_lines(existing)
    if check_mode:
        report.update(changed=True, status="would_write", parts=[
            {"name": n, "size": s, "sha256": None, "status": "would_write"}
            for n, s in zip(plan.part_names, plan.part_sizes)],
            diff={"before": diff_before, "after": summary_lines(planned)})
        report.update(timing(started, 0))
        return report
    if progress:
        progress("preflight", {"needed": needed, "free": free, "path": bundle_dir})
    parts = _write(plan, bundle_dir, stale, progress)
    doc = plan.document(parts)
    try:
        atomic_write(os.path.join(bundle_dir, sums_file_name(plan.name)),
                     "".join("%s  %s\n" % (h, n) for n, _s, h in parts).encode(), 0o644, media=True)
        atomic_write(manifest_path, dumps(doc), 0o644, media=True)
    except OSError as exc:
        raise BundleError(os_error(exc, "writing the manifest %s" % manifest_path),
                          part=manifest_file_name(plan.name)) from None
    report.update(changed=True, status="written", parts=[
        {"name": n, "size": s, "sha256": h, "status": "written"} for n, s, h in parts],
        diff={"before": diff_before, "after": summary_lines(doc)})
    report.update(timing(started, plan.tar_size))
    return report


def _signature(plan: PackPlan, bundle_dir: str, report: dict[str, Any], check_mode: bool,
               signing_key: SigningKey | None) -> dict[str, Any]:
    """Sign the manifest just written (or found present) with *signing_key*; without one, say
    whether a signature of this manifest's bundle is there."""
    path = os.path.join(bundle_dir, signature_file_name(plan.name))
    if signing_key is None:
        return {"present": report["status"] == "present" and os.path.exists(path), "file": path}
    if report["status"] == "would_write":  # the manifest's part hashes are not known yet: sign what is planned
        manifest = dumps(plan.document(None))
    else:
        manifest = read_manifest_bytes(report["manifest"])
    signature = sign(bundle_dir, plan.name, manifest, signing_key, check_mode)
    if signature["status"] != "present":
        report["changed"] = True
    return signature


def _write(plan: PackPlan, bundle_dir: str, stale: dict[str, int],
           progress: Progress | None) -> list[tuple[str, int, str]]:
    """Remove the bundle's previous files (the manifest first), write the parts; returns them."""
    try:
        # the manifest goes first: from here on the directory never looks like a complete bundle
        for entry in sorted(stale, key=lambda e: e != manifest_file_name(plan.name)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(bundle_dir, entry))
        fsync_dir(bundle_dir)
    except OSError as exc:
        raise BundleError(os_error(exc, "preparing the bundle directory %s" % bundle_dir)) from None
    out = PartWriter(bundle_dir, plan.part_names, plan.part_size, progress)
    try:
        _write_tar(plan, out, progress)
        parts = out.close()
    except BaseException:
        out.abort()
        raise
    if out.total != plan.tar_size or len(parts) != len(plan.part_names):
        raise BundleError("the tar stream is %d bytes in %d parts, %d bytes in %d parts were planned; the layout "
                          "changed while packing" % (out.total, len(parts), plan.tar_size, len(plan.part_names)))
    return parts


def _stream_blob(plan: PackPlan, digest: str, size: int, out: PartWriter, buf: bytearray) -> None:
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


def _write_tar(plan: PackPlan, out: PartWriter, progress: Progress | None = None) -> None:
    buf = bytearray(CHUNK)
    for member, size, digest in plan.members:
        out.write(tar_header(member, size))
        if member == "oci-layout":
            out.write(plan.layout_bytes)
        elif member == "index.json":
            out.write(plan.index_bytes)
        else:
            if digest is None:
                raise AssertionError('bug: expected digest is not None')
            _stream_blob(plan, digest, size, out, buf)
            if progress:
                progress("blob_packed", {"digest": digest, "bytes": size})
        pad = padding(size)
        if pad:
            out.write(b"\0" * pad)
    end = 2 * BLOCK
    end += (RECORD - (out.total + end) % RECORD) % RECORD
    out.write(b"\0" * end)
