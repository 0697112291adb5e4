# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The mirror map: the contract between the copy engine and every consumer.

A YAML document (JSON is accepted too)::

    format: airgap.mirror/v1
    images:
      - source: quay.io/org/app:1.0            # normalized source reference, as requested
        source_tag: "1.0"                      # null for a digest-only source
        digest: sha256:...                     # digest of the top-level manifest or index
        media_type: application/vnd.oci.image.index.v1+json
        platforms: [linux/amd64, linux/arm64]  # [] for a single manifest without platform data
        size: 12345                            # bytes of every manifest and blob of the image
        destination: mirror:5000/org/app:1.0   # registry reference, or oci:/path/layout:<ref name>
        attachments: []                        # cosign tags / referrers copied with the image

Entries are sorted by source so the file is stable across runs (no timestamps in it), which keeps
a re-run that changes nothing from rewriting it. The map doubles as the lockfile of the next run.
"""

from __future__ import annotations

import json
import os

from .._oci import reference as _ref
from .._oci.errors import InvalidReference

FORMAT = "airgap.mirror/v1"
REQUIRED = ("source", "digest", "media_type", "destination")
KEYS = ("source", "source_tag", "digest", "media_type", "platforms", "size", "destination", "attachments")

try:
    import yaml as _yaml
except ImportError:  # pragma: no cover - PyYAML is a declared dependency
    _yaml = None


class MirrorMapError(ValueError):
    """A mirror map that cannot be read; the message names the file and the entry."""


def make_entry(source, digest, media_type, platforms, size, destination, attachments=()):
    return {
        "source": str(source),
        "source_tag": getattr(source, "tag", None),
        "digest": digest,
        "media_type": media_type,
        "platforms": list(platforms),
        "size": int(size),
        "destination": str(destination),
        "attachments": list(attachments),
    }


def dumps(entries):
    """Serialize entries as a stable YAML (or JSON without PyYAML) document."""
    doc = {"format": FORMAT, "images": sorted(entries, key=lambda e: (e["source"], e["destination"]))}
    if _yaml is None:
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"
    return _yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=4096)


def loads(text, origin="<mirror map>"):
    """Parse and validate a mirror map; returns the list of entries."""
    try:
        if _yaml is not None:
            doc = _yaml.safe_load(text)
        else:
            doc = json.loads(text)
    except Exception as exc:  # yaml.YAMLError / ValueError, with line information in the text
        raise MirrorMapError("%s: not valid YAML/JSON: %s" % (origin, exc)) from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise MirrorMapError("%s: expected a mapping with an 'images' list" % origin)
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise MirrorMapError("%s: unsupported format %r (this collection reads %s)" % (origin, fmt, FORMAT))
    entries = []
    for index, entry in enumerate(doc["images"]):
        where = "%s: images[%d]" % (origin, index)
        if not isinstance(entry, dict):
            raise MirrorMapError("%s: expected a mapping" % where)
        missing = [k for k in REQUIRED if not entry.get(k)]
        if missing:
            raise MirrorMapError("%s (%s): missing %s" % (where, entry.get("source", "?"), ", ".join(missing)))
        try:
            _ref.parse(entry["source"])
            _ref.validate_digest(entry["digest"])
        except (InvalidReference, ValueError) as exc:
            raise MirrorMapError("%s: %s" % (where, exc)) from None
        clean = {k: entry.get(k) for k in KEYS}
        clean["platforms"] = list(clean["platforms"] or [])
        clean["attachments"] = list(clean["attachments"] or [])
        clean["size"] = int(clean["size"] or 0)
        entries.append(clean)
    return entries


def write(path, entries, check_mode=False):
    """Write the mirror map atomically, only when its content changes; returns True when it changed
    (or, in check mode, would change)."""
    from .._common.fileio import atomic_write
    text = dumps(entries).encode("utf-8")
    try:
        with open(path, "rb") as handle:
            if handle.read() == text:
                return False
    except FileNotFoundError:
        pass
    if not check_mode:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write(path, text, 0o644, media=True)
    return True


def load(path):
    with open(path, "r", encoding="utf-8") as handle:
        return loads(handle.read(), origin=path)


def destination_reference(entry):
    """The destination of an entry as a :class:`Reference`, or None for a layout destination."""
    dest = entry["destination"]
    if dest.startswith("oci:"):
        return None
    return _ref.parse(dest)


def index_by_source(entries):
    """{normalized source reference string: entry}."""
    return {str(_ref.parse(e["source"])): e for e in entries}
