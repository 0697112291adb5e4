# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Other drop-ins of the directory that claim one of our prefixes, and which file wins.

Drop-ins are applied in lexical order of their file names and a later ``[[registry]]`` with the
same prefix replaces an earlier one entirely (mirrors are not merged).
"""

from __future__ import annotations

import os
from typing import Any

from ..._common.toml.errors import TOMLError
from ..._common.toml.parse import loads
from .names import effective_prefix


def prefixes_of_text(text: str, parser: str | None = None) -> list[str]:
    """The effective prefixes of the ``[[registry]]`` tables of a drop-in's text. Raises TOMLError."""
    doc, _used = loads(text, parser)
    registries = doc.get("registry", [])
    if not isinstance(registries, list):
        raise TOMLError("'registry' is not an array of tables")
    prefixes = []
    for table in registries:
        if isinstance(table, dict):
            prefix = effective_prefix(table)
            if prefix and prefix not in prefixes:
                prefixes.append(prefix)
    return prefixes


def find_conflicts(path: str, prefixes: list[str], parser: str | None = None
                   ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Other ``*.conf`` drop-ins in the directory of *path* that define one of *prefixes*.

    Returns ``(conflicts, unchecked)``: conflicts are dicts ``{prefix, file, winner}`` (winner is
    the path of the file whose entry containers/image uses: the later one in lexical order of
    file names); unchecked are ``{file, reason}`` for files that could not be read or parsed.
    """
    directory = os.path.dirname(os.path.abspath(path))
    ours = os.path.basename(path)
    conflicts: list[dict[str, str]] = []
    unchecked: list[dict[str, str]] = []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return conflicts, unchecked
    wanted = set(prefixes)
    for name in names:
        if name == ours or not name.endswith(".conf"):
            continue
        other = os.path.join(directory, name)
        if os.path.isdir(other):
            continue
        try:
            with open(other, "rb") as handle:
                text = handle.read().decode("utf-8")
            found = prefixes_of_text(text, parser)
        except (OSError, UnicodeDecodeError, TOMLError) as exc:
            unchecked.append({"file": other, "reason": str(exc)})
            continue
        for prefix in found:
            if prefix in wanted:
                winner = other if name > ours else os.path.join(directory, ours)
                conflicts.append({"prefix": prefix, "file": other, "winner": winner})
    return conflicts, unchecked


def conflict_warning(path: str, conflict: dict[str, Any]) -> str:
    """The warning for one conflict found by :func:`find_conflicts`."""
    ours = os.path.abspath(path)
    if conflict["winner"] == ours:
        return (
            "prefix %s is also defined in %s; %s is applied after it and replaces that entry "
            "entirely (containers/image applies drop-ins in lexical order of file names and does "
            "not merge mirrors), so the settings in %s for %s are ignored"
            % (conflict["prefix"], conflict["file"], os.path.basename(ours), os.path.basename(conflict["file"]),
               conflict["prefix"])
        )
    return (
        "prefix %s is also defined in %s, which is applied after %s and replaces its entry "
        "entirely (containers/image applies drop-ins in lexical order of file names and does not "
        "merge mirrors): %s wins and this file's entry for %s has no effect"
        % (conflict["prefix"], conflict["file"], os.path.basename(ours), os.path.basename(conflict["file"]),
           conflict["prefix"])
    )
