# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The edge of ``mirror_inventory``: its argument spec, the read (``_inventory/read.py``) built
from its parameters, the file (``_inventory/document.py``) and the module's result."""

from __future__ import annotations

import os
import traceback
from typing import Any

from .._bundle.errors import BundleError
from .._bundle.signing import load_signing_key
from .._common.errors import UserError
from .._inventory import document as _doc
from .._inventory import read as _read
from .._mirrormap import io as _mapio
from .._oci import reference as _ref
from .._oci.errors import OCIError
from .argspec import client_pool, merge_spec, registry_argument_spec


def module_spec() -> dict[str, Any]:
    """The ``AnsibleModule`` keyword arguments of ``mirror_inventory``."""
    return merge_spec(registry_argument_spec(source=False), {
        "argument_spec": {
            "registry": {"type": "str"},
            "mirror_map": {"type": "path"},
            "repositories": {"type": "list", "elements": "str"},
            "dest": {"type": "path", "required": True},
            "check_blobs": {"type": "bool", "default": False},
            "layout": {"type": "path"},
            "concurrency": {"type": "int", "default": _read.CONCURRENCY},
            "page_size": {"type": "int", "default": 100},
            "signing_key": {"type": "path", "no_log": False},
            "signing_key_passphrase": {"type": "str", "no_log": True},
        },
        "mutually_exclusive": [["mirror_map", "repositories"]],
        "required_one_of": [["mirror_map", "repositories"]],
        "required_by": {"signing_key_passphrase": "signing_key"},
        "supports_check_mode": True,
    })


def _registry(params: dict[str, Any]) -> str | None:
    text = params.get("registry")
    if not text:
        return None
    try:
        return _ref.normalize_registry(str(text).strip().rstrip("/"))
    except (ValueError, OCIError) as exc:
        raise UserError("registry %r is not a registry host[:port]: %s" % (text, exc)) from None


def _open_layout(path: str) -> Any:
    from .._engine.layout import Layout

    if not os.path.isfile(os.path.join(path, "index.json")):
        raise UserError("layout %s is not an OCI image layout (no index.json)" % path)
    return Layout(path)


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Read the mirror and write the inventory file; the module's result."""
    if params["concurrency"] < 1 or params["page_size"] < 1:
        raise UserError("concurrency and page_size must be at least 1")
    if params.get("layout") and not params.get("mirror_map"):
        raise UserError("layout is only used with mirror_map")
    dest = params["dest"]
    if os.path.isdir(dest):
        raise UserError("dest %s is a directory; give the inventory file's path" % dest)
    signing_key = load_signing_key(params["signing_key"], params.get("signing_key_passphrase")) \
        if params.get("signing_key") else None
    registry = _registry(params)
    mirror_map = _mapio.load(params["mirror_map"]) if params.get("mirror_map") else None
    if mirror_map is None and registry is None:
        raise UserError("registry is required with repositories (the mirror registry to read)")
    if mirror_map is not None and registry is None:
        found = sorted(set(d.registry for _e, d in mirror_map.registry_entries()))
        registry = found[0] if len(found) == 1 else None  # else read_for_map names them
    previous = _doc.load_if_exists(dest)
    pool = client_pool(params, dest_registry=registry)
    try:
        if mirror_map is not None:
            known = {d: m for repo in previous.repositories.values() for d, m in repo.manifests.items()} \
                if previous is not None else {}
            if params.get("layout"):
                known.update(_read.known_from_layout(_open_layout(params["layout"]),
                                                     [e.digest for e in mirror_map]))
            inv = _read.read_for_map(pool, mirror_map, registry, known=known, check_blobs=params["check_blobs"],
                                     concurrency=params["concurrency"],
                                     scope={"mirror_map": os.path.abspath(params["mirror_map"])})
        else:
            names = list(params["repositories"])
            inv = _read.read_repositories(pool.get(str(registry)), None if names == ["all"] else names,
                                          check_blobs=params["check_blobs"], page_size=params["page_size"],
                                          concurrency=params["concurrency"])
    finally:
        pool.close()
    written = _doc.write(dest, inv, signing_key, check_mode)
    return {
        "changed": written["changed"],
        "dest": written["path"],
        "status": written["status"],
        "sha256": written["sha256"],
        "read_at": written["read_at"],
        "state_digest": written["state_digest"],
        "signature": written["signature"],
        "registry": inv.registry,
        "scope": inv.scope,
        "blobs_checked": inv.blobs_checked,
        "totals": inv.totals(),
        "missing": inv.missing(),
        "incomplete_images": [i.to_dict() for i in inv.images if not i.complete],
        "requests": inv.requests,
        "diff": written["diff"],
    }


def failure(exc: Exception) -> dict[str, Any]:
    """The ``fail_json`` arguments for an exception raised by :func:`run`."""
    if isinstance(exc, (OCIError, UserError, BundleError, ValueError)):
        return {"msg": str(exc)}
    return {"msg": "unexpected error: %s: %s" % (type(exc).__name__, exc), "exception": traceback.format_exc()}
