# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Reading, merging and writing the mirror map file.

The file is YAML (JSON is accepted too)::

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

Every writer of the file (``image_mirror``, and ``transfer_bundle`` when it unpacks) goes through
:func:`merge`, and it has one rule: the map describes the mirror, and an image has one place in it.
A run's entries replace the entries of the same sources; every other entry stays, because nothing
a run does removes an image from the mirror (an image that failed, or one this run was not asked
for, is still there). Entries leave the map only when the writer is told to *prune* it to a set of
sources (``map_prune``): ``image_mirror`` prunes to the images it was asked for by default, so its
map — and a bundle packed from it — holds exactly what the task lists; an unpack adds to the map
by default, so a site that receives delta bundles keeps every image it received.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable
from typing import Any

from .._common.fileio import atomic_write, read_bytes
from .model import FORMAT, Entry, MirrorMap, MirrorMapError

try:
    import yaml as _yaml
    HAS_YAML = True
    #: libyaml's loader and dumper where PyYAML was built with it (Debian's python3-yaml and the
    #: PyPI wheels are): they read and write the same text as the pure-Python ones, ten times
    #: faster -- 0.10 s to 0.01 s to read a 150-image map, 0.06 s to 0.008 s to write it, on every
    #: run that uses the map as lockfile
    _LOADER: Any = getattr(_yaml, "CSafeLoader", _yaml.SafeLoader)
    _DUMPER: Any = getattr(_yaml, "CSafeDumper", _yaml.SafeDumper)
except ImportError:  # pragma: no cover - PyYAML is a declared dependency
    HAS_YAML = False


def dumps(mirror_map: MirrorMap | Iterable[Entry]) -> str:
    """The stable YAML (JSON without PyYAML) text of a map."""
    entries = mirror_map if isinstance(mirror_map, MirrorMap) else MirrorMap(mirror_map)
    doc = {"format": FORMAT, "images": [e.to_dict() for e in entries]}
    if not HAS_YAML:
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"
    return str(_yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, default_flow_style=False, width=4096))


def from_document(doc: Any, origin: str = "<mirror map>") -> MirrorMap:
    """A map from a parsed document: ``{"format": ..., "images": [...]}``, or ``None`` (empty)."""
    if doc is None:
        return MirrorMap()
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise MirrorMapError("%s: expected a mapping with an 'images' list" % origin)
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise MirrorMapError("%s: unsupported format %r (this collection reads %s)" % (origin, fmt, FORMAT))
    return MirrorMap(Entry.from_dict(item, "%s: images[%d]" % (origin, n)) for n, item in enumerate(doc["images"]))


def loads(text: str | bytes, origin: str = "<mirror map>") -> MirrorMap:
    """Parse and validate the text of a map file."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    # a plain str: libyaml refuses str subclasses, such as the tagged strings a filter is given
    text = str.__str__(text)
    try:
        doc = _yaml.load(text, Loader=_LOADER) if HAS_YAML else json.loads(text)
    except Exception as exc:  # yaml.YAMLError / ValueError, with line information in the text
        raise MirrorMapError("%s: not valid YAML/JSON: %s" % (origin, exc)) from None
    return from_document(doc, origin)


def coerce(value: Any, origin: str = "<mirror map>") -> MirrorMap:
    """A map from what a filter or role is given: the file's text, the loaded document, a list of
    entry dicts, or a :class:`MirrorMap`."""
    if isinstance(value, MirrorMap):
        return value
    if isinstance(value, (str, bytes)):
        return loads(value, origin)
    if isinstance(value, (list, tuple)):
        value = {"images": list(value)}
    if not isinstance(value, dict):
        raise MirrorMapError("%s: expected a mirror map, not %s" % (origin, type(value).__name__))
    # values from Jinja may be AnsibleUnsafeText and friends: round-trip to plain data
    return from_document(json.loads(json.dumps(value, default=str)), origin)


def load(path: str) -> MirrorMap:
    """Read the map file at *path* (``FileNotFoundError`` when it does not exist)."""
    with open(path, "r", encoding="utf-8") as handle:
        return loads(handle.read(), origin=path)


def load_if_exists(path: str | None) -> MirrorMap | None:
    """The map at *path*, or None when no path is given or the file does not exist."""
    if not path:
        return None
    try:
        return load(path)
    except FileNotFoundError:
        return None


def merge(previous: MirrorMap | None, run: Iterable[Entry], prune_to: Collection[str] | None = None) -> MirrorMap:
    """The map after a run that produced the entries *run* (see the module docstring).

    The run's entries replace every previous entry of the same source; the other previous entries
    stay. With *prune_to* (source references as the map writes them), a previous entry the run did
    not replace stays only when its source is in *prune_to*.
    """
    run = list(run)
    produced = {str(e.source) for e in run}
    old = previous.entries if previous is not None else ()
    kept = [e for e in old if str(e.source) not in produced
            and (prune_to is None or str(e.source) in prune_to)]
    return MirrorMap(kept + run)


def write(path: str, mirror_map: MirrorMap, check_mode: bool = False) -> bool:
    """Write the map atomically, only when its text changes. Returns True when the file changed
    (or, in check mode, would change)."""
    text = dumps(mirror_map).encode("utf-8")
    if read_bytes(path) == text:
        return False
    if not check_mode:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write(path, text, 0o644, media=True)
    return True
