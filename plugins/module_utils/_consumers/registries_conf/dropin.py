# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The registries_conf module's work: write (or remove) one drop-in through the managed-file helper."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..._common.managed_file import ManagedFile, diff
from .conflicts import conflict_warning, find_conflicts
from .model import DIR_MODE, FILE_MODE, MARKER, RegistriesConfError, build
from .names import effective_prefix
from .render import is_ours, render
from .validate import check_text, validate


def run(params: dict[str, Any], check_mode: bool, want_diff: bool, warn: Callable[[str], None],
        result: dict[str, Any]) -> dict[str, Any]:
    """Bring the drop-in at ``params["path"]`` to ``params["state"]``; fills and returns *result*.

    Raises RegistriesConfError / ManagedFileError (UserError) and OSError.
    """
    current = ManagedFile.read(params["path"])
    if params["state"] == "absent":
        return _absent(current, check_mode, want_diff, result)
    return _present(current, params, check_mode, want_diff, warn, result)


def _absent(current: ManagedFile, check_mode: bool, want_diff: bool, result: dict[str, Any]) -> dict[str, Any]:
    text = current.text
    if text is None:
        return result
    if not is_ours(text):
        raise RegistriesConfError(
            "%s was not written by airgap.mirror.registries_conf (no '%s' header); refusing to "
            "remove it" % (current.path, MARKER)
        )
    result["changed"] = True
    if want_diff:
        result["diff"] = diff(text, "", current.path, "(absent)")
    current.remove(check_mode)
    return result


def _present(current: ManagedFile, params: dict[str, Any], check_mode: bool, want_diff: bool,
             warn: Callable[[str], None], result: dict[str, Any]) -> dict[str, Any]:
    path, target = current.path, current.target
    if not os.path.basename(target).endswith(".conf"):
        raise RegistriesConfError("%s: containers/image only reads drop-ins whose name ends in .conf" % path)
    if not params["registries"] and not params["pairs"]:
        raise RegistriesConfError("nothing to write: give registries and/or pairs (state=absent removes the drop-in)")
    entries = build(
        registries=params["registries"],
        pairs=params["pairs"],
        mirror_insecure=params["mirror_insecure"],
        mirror_by_digest_only=params["mirror_by_digest_only"],
        mirror_registry_entry=params["mirror_registry_entry"],
    )
    validate(entries)
    text = render(entries)
    result["validated_with"] = check_text(text, entries, path)
    prefixes: list[Any] = [effective_prefix(table) for _label, table in entries]
    result.update(content=text, prefixes=prefixes)

    conflicts, unchecked = find_conflicts(target, prefixes)
    result.update(conflicts=conflicts, unchecked=unchecked)
    for conflict in conflicts:
        warn(conflict_warning(target, conflict))
    for item in unchecked:
        warn("could not check %s for prefixes that conflict with %s: %s" % (item["file"], path, item["reason"]))

    before = current.text
    content_changed = before != text
    mode_changed = before is not None and current.mode != FILE_MODE
    missing = current.missing_directories(params["create_dirs"])
    result["created_dirs"] = missing
    result["changed"] = content_changed or mode_changed
    if want_diff:
        result["diff"] = diff(before or "", text, path)
    if result["changed"]:
        data = text.encode("utf-8") if content_changed else None
        current.apply(data, FILE_MODE, check_mode, DIR_MODE, missing)
    return result
