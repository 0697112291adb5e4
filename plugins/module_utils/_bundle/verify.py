# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Checking a bundle after a copy: every part by size and sha256, and files it does not list."""

from __future__ import annotations

import os
import time
from typing import Any

from .errors import Progress
from .lock import bundle_lock
from .names import DEFAULT_NAME, check_name, manifest_file_name
from .parts import check_parts, extra_files
from .report import timing
from .signing import TrustedKeys, read_signed


def verify(bundle_dir: str, name: str = DEFAULT_NAME, full: bool = True,
           progress: Progress | None = None, trusted: TrustedKeys | None = None) -> dict[str, Any]:
    """Check every part of a bundle against its manifest and look for extra parts.

    Never raises for a bad part: returns ``{"valid": bool, "problems": [...], "extra": [...],
    "parts": [...], "signature": {...}}``; files the manifest does not list are in ``extra`` and
    leave ``valid`` alone. Raises :class:`BundleError` when the manifest itself is missing or
    invalid, or, with *trusted* keys, when its signature does not pass (see signing.read_signed)."""
    bundle_dir = os.path.abspath(bundle_dir)
    check_name(name)
    with bundle_lock(bundle_dir, name, exclusive=False, action="verify"):
        return _verify(bundle_dir, name, full, progress, trusted)


def _verify(bundle_dir: str, name: str, full: bool, progress: Progress | None,
            trusted: TrustedKeys | None) -> dict[str, Any]:
    started = time.monotonic()
    doc, signature = read_signed(bundle_dir, name, trusted)
    problems = check_parts(bundle_dir, doc, full=full, progress=progress)
    extra = extra_files(bundle_dir, doc)
    by_part: dict[str, str] = {}
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
        "signature": signature,
    }
    report.update(timing(started, doc["tar"]["size"] if full else 0))
    return report
