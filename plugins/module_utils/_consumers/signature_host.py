# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The files of ``airgap.mirror.signature_policy`` on a host: ``policy.json`` (merged), the public
keys and the registries.d file (owned), and the record of what was there before.

The record is written FIRST (what the run is about to change, with the previous value of each
policy scope and the files and directories it is about to create), so that ``state=absent``
removes exactly that, even after a run that stopped half way. Every file goes through
:class:`ManagedFile` (read, compare, diff, check mode, atomic write).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from typing import Any

from .._common import fileio
from .._common.managed_file import ManagedFile, diff
from . import signature_policy as _sp

FILE_MODE = 0o644
RECORD_MODE = 0o600


def _text(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "replace")


def docker_scopes(text: str) -> set[str]:
    """The scopes under ``docker:`` of a registries.d file: with PyYAML when the host has it, else
    the keys one level under a top-level ``docker:`` line (hosts need not have PyYAML)."""
    try:
        import yaml
    except ImportError:
        return _scan_docker_scopes(text)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return set()
    docker = doc.get("docker") if isinstance(doc, dict) else None
    return {str(key) for key in docker} if isinstance(docker, dict) else set()


def _scan_docker_scopes(text: str) -> set[str]:
    found: set[str] = set()
    inside, indent = False, None
    for line in text.splitlines():
        bare = line.split("#", 1)[0].rstrip() if not line.lstrip().startswith(("'", '"')) else line.rstrip()
        if not bare.strip():
            continue
        depth = len(bare) - len(bare.lstrip())
        if depth == 0:
            inside, indent = bare.startswith("docker:"), None
            continue
        if inside and (indent is None or depth == indent) and bare.endswith(":"):
            indent = depth
            found.add(bare.strip()[:-1].strip().strip("'\""))
    return found


class Run:
    """One module run; :meth:`present` / :meth:`absent` fill ``result``."""

    def __init__(self, params: dict[str, Any], check_mode: bool, warn: Callable[[str], None]) -> None:
        self.params = params
        self.check = check_mode
        self.warn = warn
        self.diffs: list[dict[str, Any]] = []
        self.changed = False
        self.result: dict[str, Any] = dict(policy=params["policy"], registries_d=params["registries_d"],
                                           scopes=[], keys=[], created=[], removed=[])

    # -- helpers ------------------------------------------------------------------------------------
    def _write(self, path: str, data: bytes, mode: int, created: list[str], dirs: list[str]) -> None:
        current = ManagedFile.read(path)
        if current.raw == data and current.mode == mode:
            return
        missing = fileio.missing_directories(os.path.dirname(current.target)) if current.raw != data else []
        for directory in missing:
            if directory not in dirs:
                dirs.append(directory)
        if not current.exists and path not in created:
            created.append(path)
        self.diffs.append(diff(_text(current.raw), data.decode("utf-8", "replace"), path))
        current.apply(data if current.raw != data else None, mode, self.check, 0o755, missing)
        self.changed = True

    def _remove(self, path: str) -> None:
        current = ManagedFile.read(path)
        if current.exists:
            self.diffs.append(diff(_text(current.raw), "", path, "%s (removed)" % path))
            current.remove(self.check)
            self.result["removed"].append(path)
            self.changed = True

    def _record_write(self, path: str, record: dict[str, Any], old: dict[str, Any] | None) -> None:
        if record == old:
            return
        dirs = record.setdefault("dirs_created", [])
        current = ManagedFile.read(path)
        missing = fileio.missing_directories(os.path.dirname(current.target))
        dirs.extend(d for d in missing if d not in dirs)
        data = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")
        self.diffs.append(diff(_text(current.raw), data.decode("utf-8"), path))
        current.apply(data, RECORD_MODE, self.check, 0o755, missing)
        self.changed = True

    def _others_claim(self, scopes: list[str]) -> None:
        """containers/image refuses every pull when two registries.d files name one scope."""
        ours = os.path.abspath(self.params["registries_d"])
        for path in sorted(glob.glob(os.path.join(os.path.dirname(ours), "*.yaml"))
                           + glob.glob(os.path.join(os.path.dirname(ours), "*.yml"))):
            if os.path.abspath(path) == ours:
                continue
            raw = fileio.read_bytes(path)
            clash = sorted(set(scopes) & docker_scopes(_text(raw)))
            if clash:
                raise _sp.SignaturePolicyError(
                    "%s already names %s; containers/image refuses a scope that two registries.d files name "
                    "(every pull would fail). Remove it there or drop it from signatures"
                    % (path, ", ".join(clash)))

    # -- present ------------------------------------------------------------------------------------
    def present(self) -> dict[str, Any]:
        params = self.params
        sigs = _sp.parse_signatures(params["signatures"], params["lookaside"])
        want = _sp.desired(sigs, params["pairs"] or [], params["keys_dir"])
        for scope in want.unmapped:
            if params["pairs"]:
                self.warn("signatures scope %s matches no source of the mapping: only pulls by that name are "
                          "checked" % scope)
        self._others_claim(sorted(want.locations))
        text = _sp.registries_d_text(want.locations)
        current = ManagedFile.read(params["registries_d"])
        if current.exists and current.raw != text.encode() and not _text(current.raw).startswith(_sp.HEADER):
            raise _sp.SignaturePolicyError("%s exists and was not written by airgap.mirror.signature_policy; it is "
                                           "left as it is (give another registries_d file name)"
                                           % params["registries_d"])
        record_path = params["record"]
        old = _sp.parse_record(fileio.read_bytes(record_path), record_path)
        rec = json.loads(json.dumps(old)) if old else {"format": _sp.RECORD_FORMAT}
        policy = ManagedFile.read(params["policy"])
        doc = _sp.parse_policy(policy.raw, params["policy"])
        if doc is None:
            if params["default"] == "leave":
                raise _sp.SignaturePolicyError(
                    "%s does not exist: a policy needs a default; set default to reject or "
                    "insecureAcceptAnything to create it" % params["policy"])
            doc = {}
            rec["policy_created"] = True
        elif "policy_original" not in rec:
            # absent writes these very bytes back when the document is the same again
            rec["policy_original"] = _text(policy.raw)
        merged = _sp.merge(doc, want.scopes, params["default"], old)
        for warning in merged.warnings:
            self.warn(warning)
        rec["previous"] = merged.previous
        rec["written"] = dict(want.scopes)
        if merged.default_managed:
            rec["default_previous"] = merged.default_previous
            rec["default_written"] = merged.doc["default"]
        else:
            rec.pop("default_previous", None)
            rec.pop("default_written", None)
        files = list(want.keys) + [params["registries_d"]]
        created = [p for p in rec.get("files_created", []) if p in files]
        created += [p for p in files if p not in created and not os.path.lexists(p)]
        stale = [p for p in rec.get("files_created", []) if p not in files]
        rec["files_created"] = created
        dirs = list(rec.get("dirs_created", []))
        for path in files:
            dirs.extend(d for d in fileio.missing_directories(os.path.dirname(path)) if d not in dirs)
        rec["dirs_created"] = dirs
        self._record_write(record_path, rec, old)

        if merged.doc != doc or not policy.exists:
            self._write(params["policy"], _sp.dumps_policy(merged.doc), policy.mode or FILE_MODE, [], [])
        for path, content in want.keys.items():
            self._write(path, content.encode("utf-8"), FILE_MODE, [], [])
        self._write(params["registries_d"], text.encode("utf-8"), FILE_MODE, [], [])
        for path in stale:
            self._remove(path)
        self.result.update(scopes=sorted(want.scopes), keys=sorted(want.keys),
                           created=[p for p in created if p not in (old or {}).get("files_created", [])])
        return self._finish()

    # -- absent -------------------------------------------------------------------------------------
    def absent(self) -> dict[str, Any]:
        params = self.params
        record_path = params["record"]
        rec = _sp.parse_record(fileio.read_bytes(record_path), record_path)
        if rec is None:
            current = ManagedFile.read(params["registries_d"])
            if current.exists and _text(current.raw).startswith(_sp.HEADER):
                self._remove(params["registries_d"])
            return self._finish()
        policy = ManagedFile.read(params["policy"])
        doc = _sp.parse_policy(policy.raw, params["policy"])
        if doc is not None:
            new, warnings = _sp.unmerge(doc, rec)
            for warning in warnings:
                self.warn(warning)
            self.result["scopes"] = sorted(rec.get("previous", {}))
            if rec.get("policy_created") and not new.get("transports") and new.get("default") in (
                    None, rec.get("default_written")):
                self._remove(params["policy"])
            elif new != doc:
                original = rec.get("policy_original")
                data = _sp.dumps_policy(new)
                if original is not None and _sp.parse_policy(original.encode("utf-8"), params["policy"]) == new:
                    data = original.encode("utf-8")
                self._write(params["policy"], data, policy.mode or FILE_MODE, [], [])
        for path in rec.get("files_created", []):
            self._remove(path)
        self._remove(record_path)
        gone = set(self.result["removed"])
        for directory in sorted(rec.get("dirs_created", []), key=len, reverse=True):
            if os.path.isdir(directory) and all(os.path.join(directory, n) in gone for n in os.listdir(directory)):
                gone.add(directory)
                self.result["removed"].append(directory)
                self.changed = True
                if not self.check:
                    os.rmdir(directory)
        return self._finish()

    def _finish(self) -> dict[str, Any]:
        self.result["changed"] = self.changed
        self.result["diff"] = self.diffs
        return self.result


def run(params: dict[str, Any], check_mode: bool, warn: Callable[[str], None]) -> dict[str, Any]:
    """The module's work; raises SignaturePolicyError (UserError) and OSError."""
    work = Run(params, check_mode, warn)
    # no requirement left: give back what a former run changed (nothing when there was none)
    return work.present() if params["state"] == "present" and params["signatures"] else work.absent()
