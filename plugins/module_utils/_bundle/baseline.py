# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A mirror inventory (``_inventory``) as the baseline of a pack: what the mirror actually holds,
per image, and whether the inventory is stale.

Per image: the mirror repository the image goes to is the one the inventory's mirror map entries
of the same source repository point at (a map-driven inventory), else a repository of the
inventory named like the source's path (``org/app``) or registry and path (``quay.io/org/app``).
What that repository holds (manifests, and blobs not found missing) is what the image does not
need in the bundle. Per repository, because a registry serves a blob only in a repository it was
pushed to or mounted into.

Stale: every real pack from an inventory is recorded in the layout's state directory
(``.airgap-state/inventory-bundles.json``: bundle name, registry, the inventory's ``read_at``,
``state_digest`` and ``sha256``). An inventory is stale when a bundle of another name was packed
from this layout on the basis of an inventory of the same registry read at the same time or
later: what that bundle carried may be in the mirror by now (or still on its way), and this
inventory cannot know. Packing from it is allowed - the bundle then carries again what the
earlier one carried, larger but never incomplete - and is reported.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .._common.fileio import atomic_write
from .._inventory import document as _invdoc
from .._inventory.model import Inventory, InventoryError
from .._oci import reference as _ref
from .._oci.errors import OCIError
from .errors import BundleError

HISTORY = "inventory-bundles.json"


def is_inventory_file(raw: bytes) -> bool:
    """Whether the bytes of a ``previous`` file are an inventory."""
    try:
        return _invdoc.is_inventory(json.loads(raw.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        return False


def load_baseline(path: str, trusted: Any = None) -> tuple[Inventory, dict[str, Any]]:
    """The inventory at *path* (its signature checked with *trusted* keys) and the summary a
    bundle manifest records as ``previous``."""
    try:
        inv, info = _invdoc.load(path, trusted)
    except InventoryError as exc:
        raise BundleError(str(exc)) from None
    summary = {"kind": "inventory", "path": info["path"], "sha256": info["sha256"], "registry": inv.registry,
               "read_at": inv.read_at, "state_digest": inv.state_digest(), "images": len(inv.images),
               "blobs_checked": inv.blobs_checked, "signature": info["signature"]}
    return inv, summary


def repository_for(inv: Inventory, ref_name: str, sources: dict[str, str]) -> str | None:
    """The mirror repository of the image named *ref_name* (its source reference), or None."""
    try:
        ref = _ref.parse(ref_name)
    except (ValueError, OCIError):
        return None
    if ref.name in sources:
        return sources[ref.name]
    for candidate in (ref.repository, ref.name):
        if candidate in inv.repositories:
            return candidate
    return None


def have_by_image(inv: Inventory, ref_names: list[str]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """({ref name: {digest: size} the mirror holds where that image goes}, [ref names matched to
    no repository of the inventory: everything of theirs is carried])."""
    sources = inv.source_repositories()
    have: dict[str, dict[str, int]] = {}
    unmatched = []
    for ref_name in ref_names:
        repo = repository_for(inv, ref_name, sources)
        if repo is None:
            unmatched.append(ref_name)
            have[ref_name] = {}
        else:
            have[ref_name] = inv.repositories[repo].holds()
    return have, unmatched


def _history_path(layout: Any) -> str:
    return layout.state_dir(HISTORY)


def _history(layout: Any) -> list[dict[str, Any]]:
    try:
        with open(_history_path(layout), "rb") as handle:
            doc = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError, UnicodeDecodeError):
        return []  # a damaged record only costs the stale warning
    return [r for r in doc.get("bundles") or [] if isinstance(r, dict)] if isinstance(doc, dict) else []


def stale_because(layout: Any, name: str, summary: dict[str, Any]) -> dict[str, Any] | None:
    """The recorded bundle that makes the inventory of *summary* stale for bundle *name*, or None."""
    later = [r for r in _history(layout) if r.get("name") != name and r.get("registry") == summary["registry"]
             and str(r.get("read_at") or "") >= summary["read_at"]]
    return max(later, key=lambda r: str(r.get("read_at"))) if later else None


def stale_message(summary: dict[str, Any], because: dict[str, Any]) -> str:
    source = "this inventory" if because.get("sha256") == summary["sha256"] else "a newer inventory"
    return ("the inventory %s (read %s) is stale: the bundle %s was already packed from %s (read %s); what it "
            "carries may be in the mirror by now. This bundle carries it again. Read the inventory again after "
            "unpacking %s, and bring that one"
            % (summary["path"], summary["read_at"], because.get("name"), source, because.get("read_at"),
               because.get("name")))


def record_bundle(layout: Any, name: str, summary: dict[str, Any]) -> None:
    """Record that bundle *name* was packed from the inventory of *summary* (replacing its earlier record)."""
    records = [r for r in _history(layout) if r.get("name") != name]
    records.append({"name": name, "registry": summary["registry"], "read_at": summary["read_at"],
                    "state_digest": summary["state_digest"], "sha256": summary["sha256"]})
    path = _history_path(layout)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, (json.dumps({"bundles": records}, indent=1, sort_keys=True) + "\n").encode(), 0o644)
    except OSError as exc:
        raise BundleError("the bundle %s is written, but recording the inventory it was packed from in %s failed: "
                          "%s" % (name, path, exc.strerror or exc)) from None
