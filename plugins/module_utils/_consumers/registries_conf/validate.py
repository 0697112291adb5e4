# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Structural checks of drop-in data, and the read-back check of rendered text."""

from __future__ import annotations

from typing import Any

from ..._common.toml.errors import TOMLError
from ..._common.toml.parse import loads
from .model import MIRROR_KEYS, PULL_FROM_MIRROR, REGISTRY_KEYS, Labeled, RegistriesConfError, entries_of
from .names import check_location, check_prefix


def validate(entries: Labeled) -> None:
    """Check ``[(label, registry table)]``; raise RegistriesConfError listing every problem."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    by_location: dict[str, tuple[str, tuple[bool, bool]]] = {}
    for label, table in entries:
        if not isinstance(table, dict):
            problems.append("%s: expected a table" % label)
            continue
        unknown = sorted(set(table) - set(REGISTRY_KEYS))
        if unknown:
            problems.append("%s: unknown key(s) %s (containers/image would ignore them silently)"
                            % (label, ", ".join(unknown)))
        for key in ("prefix", "location"):
            if key in table and not isinstance(table[key], str):
                problems.append("%s: %s must be a string" % (label, key))
        for key in ("insecure", "blocked", "mirror-by-digest-only"):
            if key in table and not isinstance(table[key], bool):
                problems.append("%s: %s must be true or false" % (label, key))
        prefix: str = table["prefix"] if isinstance(table.get("prefix"), str) else ""
        location: str = table["location"] if isinstance(table.get("location"), str) else ""
        if not prefix and not location:
            problems.append("%s: neither prefix nor location is set" % label)
            continue
        if prefix:
            try:
                prefix = check_prefix(prefix)
            except ValueError as exc:
                problems.append("%s: prefix %s" % (label, exc))
                continue
        wildcard = prefix.startswith("*.")
        if location:
            try:
                location = check_location(location)
            except ValueError as exc:
                problems.append("%s: location %s" % (label, exc))
                continue
            if wildcard:
                problems.append(
                    "%s: a wildcard prefix (%s) takes no location (references are used as they are)"
                    % (label, prefix)
                )
        elif not wildcard:
            location = prefix
        key = prefix or location
        if key in seen:
            problems.append("%s: prefix %s is already used by %s (containers/image would silently "
                            "ignore one of them)" % (label, key, seen[key]))
        else:
            seen[key] = label
        conflict_key = location or prefix
        flags = (bool(table.get("insecure")), bool(table.get("blocked")))
        if conflict_key in by_location and by_location[conflict_key][1] != flags:
            other, other_flags = by_location[conflict_key]
            what = "insecure" if other_flags[0] != flags[0] else "blocked"
            problems.append("%s: location %s is also used by %s with a different '%s' setting "
                            "(containers/image refuses the file)" % (label, conflict_key, other, what))
        else:
            by_location.setdefault(conflict_key, (label, flags))

        mirrors = table.get("mirror", [])
        if not isinstance(mirrors, list):
            problems.append("%s: mirror must be an array of tables" % label)
            continue
        problems.extend(_mirror_problems(label, mirrors, table.get("mirror-by-digest-only") is True))
    if problems:
        raise RegistriesConfError("; ".join(problems))


def _mirror_problems(label: str, mirrors: list[Any], digest_only: bool) -> list[str]:
    """The problems of the ``[[registry.mirror]]`` tables of one registry."""
    problems: list[str] = []
    mirror_locations: set[str] = set()
    for mindex, mirror in enumerate(mirrors):
        mlabel = "%s: mirror[%d]" % (label, mindex)
        if not isinstance(mirror, dict):
            problems.append("%s: expected a table" % mlabel)
            continue
        unknown = sorted(set(mirror) - set(MIRROR_KEYS))
        if unknown:
            problems.append("%s: unknown key(s) %s" % (mlabel, ", ".join(unknown)))
        try:
            mloc = check_location(mirror.get("location"))
        except ValueError as exc:
            problems.append("%s: location %s" % (mlabel, exc))
            continue
        if mloc in mirror_locations:
            problems.append("%s: mirror %s is listed twice" % (mlabel, mloc))
        mirror_locations.add(mloc)
        if "insecure" in mirror and not isinstance(mirror["insecure"], bool):
            problems.append("%s: insecure must be true or false" % mlabel)
        pfm = mirror.get("pull-from-mirror")
        if pfm is not None:
            if pfm not in PULL_FROM_MIRROR:
                problems.append("%s: pull-from-mirror %r is not one of %s"
                                % (mlabel, pfm, ", ".join(PULL_FROM_MIRROR)))
            if digest_only:
                problems.append(
                    "%s: pull-from-mirror cannot be combined with mirror-by-digest-only = true on "
                    "the registry (containers/image refuses the file); set mirror_by_digest_only "
                    "to false or leave it out" % mlabel
                )
    return problems


def check_text(text: str, entries: Labeled, origin: str, parser: str | None = None) -> str:
    """Parse back the *text* rendered from *entries* and validate what was parsed.

    Returns the name of the parser used. Raises RegistriesConfError naming *origin* when the text
    does not parse, fails validation, holds other top-level keys or differs from *entries*.
    """
    try:
        doc, used = loads(text, parser)
    except TOMLError as exc:
        raise RegistriesConfError("%s: the generated TOML does not parse: %s" % (origin, exc)) from None
    extra = sorted(set(doc) - {"registry"})
    if extra:
        raise RegistriesConfError("%s: unexpected top-level key(s) %s" % (origin, ", ".join(extra)))
    parsed = entries_of(doc, origin)
    validate(parsed)
    if [table for _label, table in parsed] != [table for _label, table in entries]:
        raise RegistriesConfError("%s: the generated TOML does not read back as the data it was made from" % origin)
    return used
