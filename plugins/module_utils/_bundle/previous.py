# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""What the other side already has, for an incremental pack: the blobs of a previous bundle
manifest, or of the images of a previous mirror map (walked in this layout)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from .._mirrormap import io as _mapio
from .._mirrormap.model import MirrorMapError
from .._oci import manifest as _manifest
from .errors import BundleError
from .graphs import image_graph
from .manifest import validate_manifest
from .names import manifest_file_name


def load_previous(path: str, layout: Any) -> tuple[dict[str, int], dict[str, Any]]:
    """What the other side already has: ({digest: size}, summary) from a previous mirror map
    (walked in *layout*) or a previous bundle manifest."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise BundleError("cannot read the previous transfer record %s: %s" % (path, exc.strerror)) from None
    summary: dict[str, Any] = {"path": os.path.abspath(path), "sha256": hashlib.sha256(raw).hexdigest()}
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        doc = None
    have: dict[str, int] = {}
    if isinstance(doc, dict) and str(doc.get("format", "")).startswith("airgap.mirror/bundle/"):
        doc = validate_manifest(doc, path)
        sizes = {b["digest"]: b["size"] for b in doc["blobs"] + doc["assumed_present"]}
        for image in doc["images"]:
            for digest in image["blobs"]:
                have[digest] = sizes[digest]
        summary.update(kind="bundle", name=doc["name"], images=len(doc["images"]))
        return have, summary
    try:
        entries = _mapio.loads(raw, origin=path)
    except MirrorMapError as exc:
        raise BundleError("the previous transfer record is neither a bundle manifest nor a mirror map: %s"
                          % exc) from None
    gone = []
    for entry in entries:
        size = layout.blob_size(entry.digest)
        if size is None:
            gone.append("%s (%s)" % (entry.source, entry.digest))
            continue
        desc = _manifest.Descriptor(entry.media_type, entry.digest, size)
        have.update(image_graph(layout, str(entry.source), desc, need_blobs=False).digests)
    if gone:
        raise BundleError("the layout %s no longer holds %d image(s) of the previous mirror map %s: %s. Without "
                          "them the blobs the other side already has are unknown; give the previous bundle's "
                          "manifest (%s) as the previous transfer record instead"
                          % (layout.path, len(gone), path, ", ".join(gone), manifest_file_name("<name>")))
    summary.update(kind="mirror_map", images=len(entries))
    return have, summary
