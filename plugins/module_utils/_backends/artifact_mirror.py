# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""``airgap.mirror.artifact_mirror``: its argument spec, the file list read into
:class:`FileSpec` values, and one run (``state=present``: files into a layout;
``state=exported``: files out of a layout or a registry into a directory) turned into the result."""

from __future__ import annotations

import traceback
from typing import Any

from .._artifacts.model import ArtifactError, FileSpec, check_path, check_url, url_path
from .._common.errors import UserError
from .argspec import client_pool, merge_spec, registry_argument_spec

LAYOUT_PREFIX = "oci:"
DIR_PREFIX = "dir:"
_FILE_KEYS = frozenset(("url", "checksum", "signature", "path"))


def argument_spec() -> dict[str, Any]:
    """The AnsibleModule keyword arguments (the shared registry options included)."""
    return merge_spec(registry_argument_spec(), {
        "argument_spec": {
            "state": {"type": "str", "choices": ["present", "exported"], "default": "present"},
            "files": {"type": "list", "elements": "raw", "default": []},
            "dest": {"type": "str", "required": True},
            "src": {"type": "str"},
            "mirror_map": {"type": "path"},
            "checksum": {"type": "str", "default": "sha512"},
            "signature_keys": {"type": "list", "elements": "path", "default": [], "no_log": False},
            "concurrency": {"type": "int", "default": 4},
        },
        "required_if": [["state", "exported", ["src"]]],
        "supports_check_mode": True,
    })


def file_specs(params: dict[str, Any]) -> list[FileSpec]:
    """The files of ``state=present``, each checked; the first bad one fails the task naming its
    position. Two files that would get the same reference or path are refused."""
    from .._artifacts.checksums import parse_source

    signed = bool(params.get("signature_keys"))
    specs: list[FileSpec] = []
    for n, item in enumerate(params.get("files") or []):
        where = "files[%d]" % n
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            raise ArtifactError("%s: give a URL or a dict with url, checksum, signature, path" % where)
        unknown = sorted(set(item) - _FILE_KEYS)
        if unknown:
            raise ArtifactError("%s: unknown keys %s (known: %s)"
                                % (where, ", ".join(unknown), ", ".join(sorted(_FILE_KEYS))))
        url = check_url(item.get("url"), where)
        checksum = parse_source(item.get("checksum") or params.get("checksum") or "sha512", url, where)
        signature = item.get("signature", signed)
        if isinstance(signature, str):
            signature_url: str | None = check_url(signature, where + ".signature")
        elif isinstance(signature, bool):
            signature_url = url + ".asc" if signature else None
        else:
            raise ArtifactError("%s: signature must be true, false or a URL" % where)
        if signature_url and not signed:
            raise ArtifactError("%s: a signature to verify needs signature_keys" % where)
        path = check_path(item.get("path") or url_path(url), where + ".path")
        specs.append(FileSpec(url, checksum, signature_url, path))
    _unique(specs)
    return specs


def _unique(specs: list[FileSpec]) -> None:
    seen: dict[str, str] = {}
    for spec in specs:
        for key in ("ref " + spec.ref, "path " + spec.path):
            if key in seen and seen[key] != spec.url:
                raise ArtifactError("%s and %s would share the %s; give one of them another path"
                                    % (seen[key], spec.url, key))
            seen[key] = spec.url


def _prefixed(value: str | None, prefix: str, option: str) -> str:
    if not value or not value.startswith(prefix) or len(value) == len(prefix):
        raise ArtifactError("%s must be %sPATH here, not %r" % (option, prefix, value))
    return value[len(prefix):]


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """One task: the module result (``failed`` set when a file failed)."""
    if params["state"] == "exported":
        return _exported(params, check_mode)
    return _present(params, check_mode)


def _present(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    from .._artifacts.store import DOWNLOADED, FAILED, WOULD_DOWNLOAD, Settings, fingerprints, mirror_files
    from .._engine.layout import Layout

    specs = file_specs(params)
    if not specs:
        raise ArtifactError("files: give at least one file to mirror")
    layout = Layout(_prefixed(params["dest"], LAYOUT_PREFIX, "dest"), create=True)
    keys = tuple(_read_key(path) for path in params.get("signature_keys") or [])
    pool = client_pool(params, max_connections=max(4, params["concurrency"]))
    try:
        settings = Settings(pool, layout, keys, fingerprints(keys), attempts=params.get("retries") or 5,
                            check_mode=check_mode)
        results = [r.to_dict() for r in mirror_files(specs, settings, params["concurrency"])]
    finally:
        pool.close()
    changed = any(r["status"] in (DOWNLOADED, WOULD_DOWNLOAD) for r in results)
    failed = [r for r in results if r["status"] == FAILED]
    out: dict[str, Any] = {
        "changed": changed, "files": results, "layout": layout.path,
        "refs": [r["ref"] for r in results if r["status"] != FAILED],
        "bytes_downloaded": sum(r["fetched"] for r in results),
        "diff": {"before": _lines((r["ref"], r["before"]) for r in results),
                 "after": _lines((r["ref"], r["digest"] if r["status"] != WOULD_DOWNLOAD else "(download)")
                                 for r in results)},
    }
    return _failures(out, results, failed)


def _exported(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    from .._artifacts import export as _export

    directory = _prefixed(params["dest"], DIR_PREFIX, "dest")
    src = params["src"]
    names = [_name(v, n) for n, v in enumerate(params.get("files") or [])]
    pool = None
    try:
        if src.startswith(LAYOUT_PREFIX):
            from .._engine.layout import Layout

            items = _export.layout_items(Layout(_prefixed(src, LAYOUT_PREFIX, "src")), names)
        else:
            pool = client_pool(params, source_registries=[src.split("/", 1)[0]])
            items = _export.registry_items(pool, src, names)
            if params.get("mirror_map"):
                from .._mirrormap import io as map_io

                items += _export.map_items(pool, map_io.load(params["mirror_map"]))
        if not items:
            raise ArtifactError("%s holds no file to export%s" % (src, "" if names else " (give files)"))
        results = [r.to_dict() for r in _export.export(items, directory, check_mode)]
    finally:
        if pool is not None:
            pool.close()
    failed = [r for r in results if r["status"] == _export.FAILED]
    changed_files = sorted(f for r in results for f in r["changed_files"])
    out: dict[str, Any] = {
        "changed": bool(changed_files), "files": results, "directory": directory,
        "diff": {"before": "", "after": "".join("%s\n" % f for f in changed_files)},
    }
    return _failures(out, results, failed)


def _failures(out: dict[str, Any], results: list[dict[str, Any]], failed: list[dict[str, Any]]) -> dict[str, Any]:
    """*out*, failed with one line per failed file when there is one."""
    if failed:
        out["failed"] = True
        out["msg"] = "%d of %d files failed:\n%s" % (
            len(failed), len(results), "\n".join("- %s" % r["error"] for r in failed))
    return out


def _name(value: Any, n: int) -> str:
    if not isinstance(value, str) or not value:
        raise ArtifactError("files[%d]: with state=exported, give the reference of a stored file" % n)
    return value


def _read_key(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ArtifactError("signature_keys: cannot read %s: %s" % (path, exc.strerror or exc)) from None


def _lines(pairs: Any) -> str:
    return "".join("%s: %s\n" % (ref, digest) for ref, digest in pairs if digest)


def failure(exc: Exception) -> dict[str, Any]:
    """The ``fail_json`` arguments for an exception of :func:`run`."""
    if isinstance(exc, (UserError, ValueError)):
        return {"msg": str(exc)}
    return {"msg": "unexpected error: %s: %s" % (type(exc).__name__, exc), "exception": traceback.format_exc()}
