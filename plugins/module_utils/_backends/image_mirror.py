# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The policy of ``airgap.mirror.image_mirror``: its options, how they become one
:class:`~.._engine.request.MirrorRequest` (shard rules, the mirror map as lockfile, the default
state directory), and how the engine's report becomes the module's result and the mirror map file.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import TYPE_CHECKING, Any

from .._common.errors import UserError
from .._common.sizes import parse_size
from .._engine.build import parse_location
from .._engine.http.limits import RegistryLimits
from .._engine.job import Status
from .._engine.plan import ClientPool
from .._engine.request import Limits, MirrorRequest, Naming, Sharding, State
from .._engine.sources import SourceMirrors
from .._mirrormap import io as _io
from .._mirrormap.model import MirrorMap
from .._oci import reference as _ref
from .._oci.errors import InvalidReference
from .._oci.tagselect import selection_of
from .argspec import client_pool, merge_spec, registry_argument_spec

if TYPE_CHECKING:
    from .._engine.shard import Shard
    from .._engine.signatures import Trust

#: the statuses of an image the mirror map has something to say about
_WORTH_A_MAP = (Status.COPIED.value, Status.PRESENT.value, Status.WOULD_COPY.value)


def argument_spec() -> dict[str, Any]:
    """The module's options (with the registry options) for AnsibleModule."""
    return merge_spec(registry_argument_spec(), {
        "argument_spec": {
            "images": {"type": "list", "elements": "raw", "required": True},
            "dest": {"type": "str", "required": True},
            "src": {"type": "str"},
            "src_registry": {"type": "str"},
            "mapping": {"type": "str", "choices": ["keep", "scoped", "flatten"], "default": "keep"},
            "overrides": {"type": "dict", "default": {}},
            "tag_style": {"type": "str", "choices": ["deterministic", "timestamp", "none"],
                          "default": "deterministic"},
            "mirror_map": {"type": "path"},
            "use_mirror_map": {"type": "bool", "default": True},
            "map_prune": {"type": "bool", "default": True},
            "immutable_tags": {"type": "list", "elements": "str", "default": []},
            "attachments": {"type": "bool", "default": True},
            "concurrency": {"type": "int", "default": 8},
            "registry_limits": {"type": "dict"},
            "upload_chunk_size": {"type": "str", "default": "64M"},
            "state_dir": {"type": "path"},
            "verify": {"type": "bool", "default": False},
            "shard_count": {"type": "int", "default": 1},
            "shard_index": {"type": "int"},
            "shard_wait": {"type": "float", "default": 60},
            "space_check": {"type": "bool", "default": True},
            "mirror_storage_path": {"type": "path"},
            "progress_file": {"type": "path"},
            "progress": {"type": "bool", "default": True},
            "progress_interval": {"type": "float", "default": 5.0},
            "source_mirrors": {"type": "dict"},
            "source_mirrors_file": {"type": "path"},
            "source_mirrors_fallback": {"type": "bool", "default": False},
            "platforms": {"type": "list", "elements": "str", "default": []},
            "signature_policy": {"type": "path"},
            "registries_d": {"type": "path"},
            "lookaside_dir": {"type": "path"},
        },
        "mutually_exclusive": [["source_mirrors", "source_mirrors_file"]],
    })


class CredentialsInReference(UserError):
    """Task arguments that hold ``user[:password]@`` in a registry reference; *secrets* are what
    the module must mask in everything it echoes."""

    def __init__(self, message: str, secrets: list[str]) -> None:
        super().__init__(message)
        self.secrets = secrets


@dataclasses.dataclass(frozen=True)
class ModuleRun:
    """What one run of the module does: the engine's request, and what the module itself needs."""

    request: MirrorRequest
    upload_chunk_size: int
    map_path: str | None
    #: registries a source_mirrors_file marks insecure
    insecure_sources: tuple[str, ...] = ()
    #: connections and requests per second per registry (the registry_limits option)
    registry_limits: RegistryLimits | None = None


def prepare(params: dict[str, Any], check_mode: bool) -> ModuleRun:
    """The run the parameters ask for. Raises :class:`UserError` (the module's message) for
    parameters that cannot work together, or :class:`CredentialsInReference`."""
    check_references(params)
    for item in params["images"] or ():
        selection_of(item)  # a bad tag selector fails the task before anything is listed
    if params["concurrency"] < 1:
        raise UserError("concurrency must be at least 1")
    try:
        chunk = parse_size(params["upload_chunk_size"], "upload_chunk_size", minimum=1024)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    shard = shard_of(params)
    if params["shard_wait"] < 0:
        raise UserError("shard_wait must not be negative")
    if params["progress_interval"] <= 0:
        raise UserError("progress_interval must be more than 0 seconds")
    map_path = params["mirror_map"]
    as_lock = bool(map_path) and params["use_mirror_map"] and not params["verify"]
    previous = read_map(map_path, as_lock)
    sources, insecure = source_mirrors_of(params)
    try:
        request = MirrorRequest(
            images=tuple(params["images"]), dest=params["dest"], src=params["src"],
            naming=Naming(params["mapping"], params["overrides"] or {}, params["tag_style"], params["src_registry"]),
            limits=Limits(params["concurrency"], params["space_check"], params.get("mirror_storage_path")),
            state=State(lock=previous if as_lock else None, previous=previous, state_dir=state_dir(params),
                        prune_map=params["map_prune"], immutable_tags=tuple(params["immutable_tags"] or ())),
            sharding=Sharding(shard, params["shard_wait"]),
            verify=params["verify"], attachments=params["attachments"], check_mode=check_mode,
            source_mirrors=sources, platforms=tuple(params.get("platforms") or ()), trust=trust_of(params))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return ModuleRun(request, chunk, map_path, tuple(insecure), RegistryLimits.parse(params.get("registry_limits")))


def source_mirrors_of(params: dict[str, Any]) -> tuple[SourceMirrors | None, list[str]]:
    """The pull-through rules of ``source_mirrors`` / ``source_mirrors_file`` (None: neither is set)
    and the registries the file marks insecure. The reader (with a registries.conf parser) is
    imported only for a task that sets one: no other task's module process compiles it."""
    if not params.get("source_mirrors") and not params.get("source_mirrors_file"):
        return None, []
    from .source_mirrors import from_params

    return from_params(params)


def trust_of(params: dict[str, Any]) -> Trust | None:
    """The signature policy of ``signature_policy`` (None without one; ``registries_d`` or
    ``lookaside_dir`` alone are refused by the reader). The reader, and the verification library
    behind it, are imported only for a task that sets one of them."""
    if not (params.get("signature_policy") or params.get("registries_d") or params.get("lookaside_dir")):
        return None
    from .signature_options import trust_of as read

    return read(params)


def check_references(params: dict[str, Any]) -> None:
    """Refuse registry references of the task that hold credentials (never valid there)."""
    try:
        leaked = credentials_in_references(params)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if leaked:
        secrets = [s for _option, _redacted, userinfo in leaked for s in _ref.secrets_of(userinfo)]
        raise CredentialsInReference(
            "\n".join("%s: %s" % (option, InvalidReference(redacted, _ref.CREDENTIALS_REASON))
                      for option, redacted, _u in leaked), secrets)


def credentials_in_references(params: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``[(option, redacted, userinfo)]`` for every registry reference of the task that holds
    ``user[:password]@`` credentials (never valid there; see reference.split_credentials)."""
    candidates: list[tuple[str, Any]] = [("dest", params["dest"])]
    src_kind = None
    if params["src"]:
        src_kind = parse_location(params["src"])[0]
        candidates.append(("src", params["src"]))
    for item in params["images"] or ():
        if isinstance(item, dict):
            candidates.extend(("images", item.get(key)) for key in ("src", "dest"))
        elif src_kind != "dir":  # a dir: tree names its images by relative path, not by reference
            candidates.append(("images", item))
    found = []
    for option, value in candidates:
        if not isinstance(value, str) or (option in ("dest", "src") and parse_location(value)[0] != "registry"):
            continue
        userinfo, redacted = _ref.split_credentials(value)
        if userinfo is not None:
            found.append((option, redacted, userinfo))
    return found


def shard_of(params: dict[str, Any]) -> Shard | None:
    """This worker's shard, or None for a run that is not split; the shard options' rules."""
    if params["shard_count"] == 1 and params["shard_index"] in (None, 0):
        return None
    if params["shard_index"] is None:
        raise UserError("shard_index is required when shard_count is %d" % params["shard_count"])
    from .._engine.shard import Shard  # a run that is not split never loads it
    shard = Shard(params["shard_index"], params["shard_count"])  # OCIError is a UserError
    if shard.count > 1 and params["mirror_map"]:
        raise UserError("a sharded run (shard_count=%d) does not write mirror_map: the final run, without shard "
                        "options and with verify=true, writes it once for the whole set" % shard.count)
    if shard.count > 1 and params["verify"]:
        raise UserError("verify=true is the final run after the workers: run it without shard_index and shard_count")
    return shard


def read_map(path: str | None, as_lock: bool) -> MirrorMap | None:
    """The mirror map as it is before the run. A map that cannot be read fails the run when it is
    to be the lockfile; otherwise it is replaced by this run's."""
    if not path:
        return None
    try:
        return _io.load(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        if as_lock:
            raise UserError("cannot use the mirror map as lockfile: %s" % exc) from None
        return None


def state_dir(params: dict[str, Any]) -> str | None:
    """Where upload sessions are recorded: O(state_dir), else ``.airgap-state`` next to the map."""
    if params["state_dir"]:
        return str(params["state_dir"])
    if params["mirror_map"]:
        return os.path.join(os.path.dirname(os.path.abspath(params["mirror_map"])), ".airgap-state")
    return None


def source_registries(images: list[Any]) -> list[str]:
    """The registries of the source references among *images* (for the explicit credentials)."""
    found = set()
    for item in images:
        name = item.get("src") if isinstance(item, dict) else item
        try:
            found.add(_ref.parse(name).registry)
        except (InvalidReference, TypeError):
            continue
    return sorted(found)


def pool_for(params: dict[str, Any], run: ModuleRun) -> ClientPool:
    """The client pool of the run: explicit credentials go to the source and destination registries
    (and to the pull-through registries the sources are fetched from)."""
    kind, location = parse_location(params["dest"])
    dest_registry = _ref.parse_registry_prefix(location)[0] if kind == "registry" else None
    sources = source_registries(params["images"])
    if run.request.source_mirrors:
        sources = sorted(set(sources) | set(run.request.source_mirrors.hosts()))
    if run.insecure_sources:
        params = dict(params, insecure_registries=list(params.get("insecure_registries") or ())
                      + list(run.insecure_sources))
    return client_pool(params, sources, dest_registry,
                       max_connections=max(16, run.request.limits.concurrency * 2,
                                           run.request.limits.lookups),
                       upload_chunk_size=run.upload_chunk_size, registry_limits=run.registry_limits)


def map_worth_writing(report: dict[str, Any]) -> bool:
    """A run that failed for every image (a refused free-space check, an unreachable source) has
    nothing to say about the mirror: writing its map could only make it emptier. Anything that
    was copied, found present (or, in check mode, would be copied) is worth recording."""
    if not report["failed"]:
        return True
    return any(i["status"] in _WORTH_A_MAP for i in report["images"])


def diff_text(mapping: dict[str, str | None]) -> str:
    """``destination digest`` lines of the diff."""
    return "".join("%s %s\n" % (dest, digest or "(absent)") for dest, digest in sorted(mapping.items()))


def result(report: dict[str, Any], run: ModuleRun, diff: bool) -> tuple[dict[str, Any], list[str]]:
    """The module's result and its problems (the failure message, line by line; none: success).
    Writes the mirror map (unless in check mode)."""
    out: dict[str, Any] = {
        "changed": report["changed"],
        "images": report["images"],
        "attachments": report["attachments"],
        "failed_images": report["failed"],
        "totals": report["totals"],
        "mirror_map": report["mirror_map"],
        "timings": dict(report.get("timings") or {}, write_map=0.0),
        "requests": report.get("requests") or {},
        "limit_wait_seconds": report.get("limit_wait_seconds") or {},
    }
    started = time.monotonic()
    problems = []
    if report["failed"]:
        # engine errors already start with the image they concern; do not name it twice
        lines = [f["error"] if str(f.get("error") or "").startswith(f["source"])
                 else "%s: %s" % (f["source"], f.get("error")) for f in report["failed"]]
        total = len(report["images"]) + len(report["attachments"])
        problems.append("%d of %d images failed:\n%s" % (len(report["failed"]), total, "\n".join(lines)))
    map_path = run.map_path
    if map_path:
        out["mirror_map_path"] = map_path
        out["mirror_map_written"] = False
        if map_worth_writing(report):
            try:
                out["mirror_map_written"] = _io.write(map_path, report["map"], check_mode=run.request.check_mode)
            except OSError as exc:
                # after the image failures, which are what usually filled the disk: the first cause leads
                problems.append("cannot write the mirror map %s: %s" % (map_path, exc.strerror or exc))
        elif report["failed"]:
            problems.append("the mirror map %s was left as it was: no image was copied or found present" % map_path)
        out["changed"] = out["changed"] or out["mirror_map_written"]
    out["timings"]["write_map"] = round(time.monotonic() - started, 3)
    if diff:
        out["diff"] = {"before": diff_text(report["diff"]["before"]), "after": diff_text(report["diff"]["after"])}
    return out, problems
