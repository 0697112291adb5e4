# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The pull-through options of ``airgap.mirror.image_mirror``: ``source_mirrors`` (a dict) or
``source_mirrors_file`` (a containers-registries.conf(5) version 2 file), and
``source_mirrors_fallback``, as the engine's :class:`~.._engine.sources.SourceMirrors`.

From a registries.conf file, each ``[[registry]]`` gives a rule: its ``prefix`` (else
``location``), its ``[[registry.mirror]]`` locations tried in order (``pull-from-mirror`` and
``mirror-by-digest-only`` say for which references), its ``location`` as the primary source
(a rewrite when it differs from the prefix), ``blocked`` and ``insecure``. Nothing of a table is
ignored silently: an unknown key, a version 1 file or a wildcard prefix an image matches is an
error. Other top-level keys (short-name settings) do not concern fully qualified references.
"""

from __future__ import annotations

from typing import Any

from .._common.errors import UserError
from .._common.toml.errors import TOMLError
from .._common.toml.parse import loads
from .._consumers.registries_conf.model import MIRROR_KEYS, PULL_FROM_MIRROR, REGISTRY_KEYS, entries_of
from .._consumers.registries_conf.names import effective_prefix
from .._engine.sources import Location, Rule, SourceMirrors, parse_location, parse_prefix


def from_params(params: dict[str, Any]) -> tuple[SourceMirrors | None, list[str]]:
    """The pull-through rules the options ask for (None: none), and the registries the file marks
    ``insecure`` (plain HTTP or unverified TLS). Raises UserError naming the option or file."""
    fallback = bool(params.get("source_mirrors_fallback"))
    try:
        if params.get("source_mirrors"):
            return SourceMirrors.from_dict(params["source_mirrors"], fallback), []
        if params.get("source_mirrors_file"):
            rules, insecure = read_file(params["source_mirrors_file"])
            return SourceMirrors(rules, fallback), insecure
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return None, []


def read_file(path: str) -> tuple[list[Rule], list[str]]:
    """The rules of a registries.conf file and its insecure registries. Raises UserError."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError("source_mirrors_file: cannot read %s: %s" % (path, exc)) from None
    return rules_of_text(text, path)


def rules_of_text(text: str, origin: str) -> tuple[list[Rule], list[str]]:
    """The rules of registries.conf *text* (*origin* names it in errors) and its insecure registries."""
    try:
        doc, _parser = loads(text)
    except TOMLError as exc:
        raise UserError("source_mirrors_file %s: %s" % (origin, exc)) from None
    if "registries" in doc:
        raise UserError("source_mirrors_file %s: this is the version 1 format ([registries.search] ...); "
                        "write version 2 [[registry]] tables" % origin)
    rules: list[Rule] = []
    insecure: list[str] = []
    for label, table in entries_of(doc, origin):
        rule, hosts = _rule(label, table)
        rules.append(rule)
        insecure.extend(h for h in hosts if h not in insecure)
    return rules, insecure


def _rule(label: str, table: Any) -> tuple[Rule, list[str]]:
    if not isinstance(table, dict):
        raise UserError("%s: expected a table" % label)
    unknown = sorted(set(table) - set(REGISTRY_KEYS))
    if unknown:
        raise UserError("%s: unknown key(s) %s" % (label, ", ".join(unknown)))
    prefix = effective_prefix(table)
    if not prefix:
        raise UserError("%s: has neither prefix nor location" % label)
    if prefix.startswith("*."):
        return Rule(prefix, error="wildcard prefixes are not supported for pull-through sources: "
                                  "write a [[registry]] with the registry's name", origin=label), []
    registry, path = parse_prefix(prefix, label)
    hosts: list[str] = []
    location = table.get("location") or prefix
    primary = parse_location(location, label)
    if table.get("insecure"):
        hosts.append(primary.registry)
    digest_only = bool(table.get("mirror-by-digest-only"))
    mirrors = []
    for index, mirror in enumerate(table.get("mirror") or []):
        where = "%s: mirror #%d" % (label, index + 1)
        loc = _mirror(where, mirror, digest_only)
        mirrors.append(loc)
        if mirror.get("insecure"):
            hosts.append(loc.registry)
    same = (primary.registry, primary.namespace) == (registry, path)
    return Rule(registry, path, tuple(mirrors), None if same else primary, bool(table.get("blocked")),
                origin=label), hosts


def _mirror(where: str, mirror: Any, digest_only: bool) -> Location:
    if not isinstance(mirror, dict) or not mirror.get("location"):
        raise UserError("%s: expected a table with a location" % where)
    unknown = sorted(set(mirror) - set(MIRROR_KEYS))
    if unknown:
        raise UserError("%s: unknown key(s) %s" % (where, ", ".join(unknown)))
    pull_from = mirror.get("pull-from-mirror", "all")
    if pull_from not in PULL_FROM_MIRROR:
        raise UserError("%s: pull-from-mirror must be one of %s" % (where, ", ".join(PULL_FROM_MIRROR)))
    return parse_location(mirror["location"], where, digest_only=digest_only or pull_from == "digest-only",
                          tag_only=pull_from == "tag-only")
