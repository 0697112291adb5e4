# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The ``mirror_prune`` module's backend: argument spec, and plan / apply from its parameters.

The mirror is read with the inventory reader (``_inventory.read.read_repositories``), the kept
set comes from ``_prune.keep``, the plan from ``_prune.plan`` and the deletes from
``_prune.apply`` through the engine's registry client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._common.fileio import read_bytes
from .._common.sizes import human_size
from .._inventory.read import read_repositories
from .._prune import apply as _apply
from .._prune import keep as _keep
from .._prune.plan import make_plan
from .argspec import client_pool, merge_spec, registry_argument_spec

KEEP_OPTIONS = {
    "maps": {"type": "list", "elements": "path", "default": []},
    "images": {"type": "list", "elements": "str", "default": []},
    "image_lists": {"type": "list", "elements": "raw", "default": []},
    "microshift_release": {"type": "list", "elements": "path", "default": []},
    "ess_images_digests": {"type": "list", "elements": "path", "default": []},
    "ess_helm_values": {"type": "list", "elements": "raw", "default": []},
    "eck": {"type": "list", "elements": "raw", "default": []},
}


def argument_spec() -> dict[str, Any]:
    """The AnsibleModule keyword arguments: the shared registry options and the prune's own."""
    return merge_spec(registry_argument_spec(source=False), {
        "argument_spec": {
            "registry": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["plan", "apply"], "default": "plan"},
            "plan_file": {"type": "path", "required": True},
            "keep": {"type": "dict", "options": KEEP_OPTIONS},
            "mirror_map": {"type": "list", "elements": "path", "default": []},
            "repositories": {"type": "list", "elements": "str"},
            "on_missing": {"type": "str", "choices": list(_keep.ON_MISSING), "default": "fail"},
        },
        "required_if": [["state", "plan", ["keep"]]],
        "supports_check_mode": True,
    })


def _lines(items: list[dict[str, Any]]) -> str:
    out = []
    for item in items:
        out.append("%s@%s" % (item["repository"], item["digest"]))
        out.extend("%s:%s -> %s" % (item["repository"], tag, item["digest"]) for tag in item.get("tags") or ())
    return "".join(line + "\n" for line in out)


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {"tags": list(doc.get("tags") or ()), "manifests": list(doc["manifests"]),
            "bytes_freed": int(doc.get("bytes_freed") or 0),
            "bytes_freed_human": human_size(int(doc.get("bytes_freed") or 0)),
            "fingerprint": doc["fingerprint"]}


def plan(params: dict[str, Any], check_mode: bool, warn: Callable[[str], None]) -> dict[str, Any]:
    """Read the kept set and the mirror; write the plan file (not in check mode)."""
    keep = params.get("keep") or {}
    whole = _keep.load_maps(keep.get("maps") or ())
    lookup = _keep.load_maps(params.get("mirror_map") or ())
    wanted = _keep.consumer_images(keep)
    registry = params["registry"]
    kept = _keep.kept_set(registry, whole, lookup, wanted, params["on_missing"])
    for text in kept.warnings:
        warn(text)
    pool = client_pool(params, dest_registry=registry)
    try:
        inventory = read_repositories(pool.get(registry), params.get("repositories"))
    finally:
        pool.close()
    result = make_plan(inventory, kept.seeds(), inventory.state_digest())
    doc = result.to_dict()
    doc["repositories"] = params.get("repositories")
    for absent in result.absent:
        warn("a kept image is not in the mirror: %s" % absent)
    path = params["plan_file"]
    before = read_bytes(path)
    changed = _apply.write(path, doc, check_mode)
    out = dict(changed=changed, state="plan", plan_file=path, kept=len(kept.images),
               kept_manifests=result.kept_manifests, absent=result.absent, **_summary(doc))
    out["diff"] = {"before": (before or b"").decode("utf-8", "replace"), "after": _apply.dumps(doc).decode(),
                   "before_header": path, "after_header": path}
    return out


def apply(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Delete exactly the plan's manifests (their tags go with them) when the mirror is unchanged."""
    path = params["plan_file"]
    doc = _apply.load(path)
    registry = params["registry"]
    pool = client_pool(params, dest_registry=registry)
    try:
        client = pool.get(registry)
        inventory = read_repositories(client, doc.get("repositories"))
        outcome = _apply.apply(doc, inventory, inventory.state_digest(), client, check_mode, path)
    finally:
        pool.close()
    out = dict(changed=outcome.changed, state="apply", plan_file=path, already_applied=outcome.already_applied,
               deleted=outcome.deleted, **_summary(doc))
    out["diff"] = {"before": _lines(outcome.deleted), "after": "",
                   "before_header": "%s (planned deletions)" % registry, "after_header": registry}
    return out


def run(params: dict[str, Any], check_mode: bool, warn: Callable[[str], None]) -> dict[str, Any]:
    """The module's result for *params*."""
    if params["state"] == "apply":
        return apply(params, check_mode)
    return plan(params, check_mode, warn)
