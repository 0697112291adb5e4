# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The edge of ``transfer_bundle``: its argument spec, the request built from its parameters, the
run, and the conversion of errors and reports into the module's result.

The module's ``main()`` only wires these to ``AnsibleModule``; the library (``_bundle``) raises,
this module turns what it raises into ``fail_json`` arguments in one place.
"""

from __future__ import annotations

import dataclasses
import resource
import traceback
from collections.abc import Callable
from typing import Any

from .._bundle.errors import BundleError
from .._bundle.manifest import read_manifest
from .._bundle.names import DEFAULT_NAME, DEFAULT_PART_SIZE, check_name
from .._bundle.pack import pack
from .._bundle.plan import plan_pack
from .._bundle.signing import load_signing_key, load_trusted_keys
from .._bundle.unpack import unpack
from .._bundle.verify import verify
from .._common.errors import UserError
from .._common.progress import Progress
from .._oci.errors import OCIError

PACK_ONLY = ("part_size", "images", "previous")


def module_spec() -> dict[str, Any]:
    """The ``AnsibleModule`` keyword arguments of ``transfer_bundle``."""
    return {
        "argument_spec": {
            "action": {"type": "str", "required": True, "choices": ["pack", "verify", "unpack"]},
            "bundle": {"type": "path", "required": True},
            "name": {"type": "str", "default": DEFAULT_NAME},
            "layout": {"type": "path"},
            "part_size": {"type": "str", "default": DEFAULT_PART_SIZE},
            "images": {"type": "list", "elements": "str"},
            "mirror_map": {"type": "path"},
            "previous": {"type": "path"},
            "map_prune": {"type": "bool", "default": False},
            "space_check": {"type": "bool", "default": True},
            "progress_file": {"type": "path"},
            "progress": {"type": "bool", "default": True},
            "progress_interval": {"type": "float", "default": 5.0},
            "signing_key": {"type": "path", "no_log": False},
            "signing_key_passphrase": {"type": "str", "no_log": True},
            "verify_keys": {"type": "list", "elements": "path", "no_log": False},
            "mirror_storage_path": {"type": "path"},
        },
        "required_if": [["action", "pack", ["layout"]], ["action", "unpack", ["layout"]]],
        "required_by": {"signing_key_passphrase": "signing_key"},
        "supports_check_mode": True,
    }


@dataclasses.dataclass(frozen=True)
class BundleRequest:
    """What one ``transfer_bundle`` task asks for."""

    action: str
    bundle: str
    name: str
    layout: str | None
    part_size: str
    images: list[str] | None
    mirror_map: str | None
    previous: str | None
    space_check: bool
    check_mode: bool
    map_prune: bool = False
    signing_key: str | None = None
    signing_key_passphrase: str | None = dataclasses.field(default=None, repr=False)
    verify_keys: list[str] | None = None
    mirror_storage_path: str | None = None


def build_request(params: dict[str, Any], check_mode: bool) -> BundleRequest:
    """The request of the module's parameters; raises ``UserError`` for options the action does not use."""
    action = params["action"]
    for option in PACK_ONLY:
        if action != "pack" and params[option] is not None and \
                not (option == "part_size" and params[option] == DEFAULT_PART_SIZE):
            raise UserError("%s is only used with action=pack" % option)
    if params["progress_interval"] <= 0:
        raise UserError("progress_interval must be more than 0 seconds")
    if params.get("mirror_storage_path") and action != "unpack":
        raise UserError("mirror_storage_path is only used with action=unpack")
    if params["map_prune"] and not (action == "unpack" and params["mirror_map"]):
        raise UserError("map_prune is only used with action=unpack and a mirror_map")
    if params.get("signing_key") is not None and action != "pack":
        raise UserError("signing_key is only used with action=pack (verify and unpack check with verify_keys)")
    if params.get("verify_keys") is not None and action == "pack" and not params.get("previous"):
        raise UserError("verify_keys with action=pack checks the signature of the inventory given as previous; "
                        "without previous it is not used (pack signs with signing_key)")
    return BundleRequest(action, params["bundle"], check_name(params["name"]), params["layout"], params["part_size"],
                         params["images"], params["mirror_map"], params["previous"], params["space_check"],
                         check_mode, params["map_prune"], params.get("signing_key"),
                         params.get("signing_key_passphrase"), params.get("verify_keys"),
                         params.get("mirror_storage_path"))


def run(request: BundleRequest, warn: Callable[[str], None], progress: Progress | None = None) -> dict[str, Any]:
    """Pack, verify or unpack; warnings go to *warn*; *progress* counts parts and bytes (see
    :func:`progress_callback`). Returns the library's report."""
    progress = progress or Progress()
    on_progress = progress_callback(progress, request.action)
    if request.action == "pack":
        if request.layout is None:  # required_if
            raise AssertionError('bug: expected request.layout is not None')
        signing_key = load_signing_key(request.signing_key, request.signing_key_passphrase) \
            if request.signing_key else None
        trusted = load_trusted_keys(request.verify_keys) if request.verify_keys is not None else None
        plan = plan_pack(request.layout, name=request.name, part_size=request.part_size, images=request.images,
                         mirror_map=request.mirror_map, previous=request.previous, trusted=trusted)
        for warning in plan.warnings:
            warn(warning)
        progress.plan(len(plan.part_names), sum(size for _digest, size in plan.blobs))
        progress.set_phase("pack")
        return pack(plan, request.bundle, check_mode=request.check_mode, check_space=request.space_check,
                    progress=on_progress, signing_key=signing_key)
    trusted = load_trusted_keys(request.verify_keys) if request.verify_keys is not None else None
    plan_from_manifest(progress, request)
    progress.set_phase(request.action)
    if request.action == "verify":
        report = verify(request.bundle, name=request.name, progress=on_progress, trusted=trusted)
        report["changed"] = False
    else:
        if request.layout is None:  # required_if
            raise AssertionError('bug: expected request.layout is not None')
        report = unpack(request.bundle, request.layout, name=request.name, check_mode=request.check_mode,
                        check_space=request.space_check, progress=on_progress, mirror_map=request.mirror_map,
                        map_prune=request.map_prune, trusted=trusted,
                        mirror_storage_path=request.mirror_storage_path)
    for extra in report["extra"]:
        warn(extra["message"])
    return report


def plan_from_manifest(progress: Progress, request: BundleRequest) -> None:
    """The totals of a verify (parts, their bytes) or an unpack (parts, blob bytes), from the
    bundle's manifest; a manifest that cannot be read is left to the action to report."""
    try:
        doc = read_manifest(request.bundle, request.name)
        parts = doc["parts"]
        nbytes = sum(p["size"] for p in parts) if request.action == "verify" else sum(b["size"] for b in doc["blobs"])
    except (BundleError, OSError, ValueError, KeyError, TypeError):
        return
    progress.plan(len(parts), int(nbytes))


def progress_callback(progress: Progress, action: str) -> Callable[[str, dict[str, Any]], None]:
    """The ``progress(event, details)`` callback of ``_bundle`` that counts into *progress*:
    bytes as blobs are packed or unpacked (or parts checked, for verify), a part (the unit of
    ``images_done``) as it is written, checked or read."""

    def on_event(event: str, details: dict[str, Any]) -> None:
        nbytes = int(details.get("bytes") or 0)
        part = str(details.get("part") or "")
        if event in ("blob_packed", "blob_unpacked"):
            progress.add_bytes(nbytes)
        elif event == "part_written" and action == "pack":
            progress.image_done(part, "written")
        elif event == "part_checked" and action == "verify":
            progress.add_bytes(nbytes)
            progress.image_done(part, "checked")
        elif event == "part_read" and action == "unpack":
            progress.image_done(part, "read")

    return on_event


def failure(exc: Exception) -> dict[str, Any]:
    """The ``fail_json`` arguments for an exception raised by :func:`build_request` or :func:`run`."""
    if isinstance(exc, BundleError):
        out: dict[str, Any] = {"msg": str(exc)}
        if exc.problems:
            out["problems"] = exc.problems
        if exc.part:
            out["part"] = exc.part
        if exc.member:
            out["member"] = exc.member
        if exc.image:
            out["image"] = str(exc.image)
        return out
    if isinstance(exc, (OCIError, UserError, ValueError)):
        return {"msg": str(exc)}
    # report, with the traceback, instead of a bare module failure
    return {"msg": "unexpected error: %s: %s" % (type(exc).__name__, exc), "exception": traceback.format_exc()}


def result(request: BundleRequest, report: dict[str, Any], diff_mode: bool) -> tuple[bool, dict[str, Any]]:
    """``(failed, module result)``: the report with the peak memory use and, in diff mode, the diff;
    a bundle that ``verify`` finds damaged fails the task with the report."""
    report["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    diff = report.pop("diff", None)
    if diff_mode and diff is not None:
        report["diff"] = diff
    if request.action == "verify" and not report["valid"]:
        return True, dict(report, msg="the bundle %s in %s is not intact:\n%s" % (
            report["name"], report["bundle"], "\n".join(p["message"] for p in report["problems"])))
    return False, report
