# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The data model of a drop-in: TOML-shaped dicts, each with a label naming where it came from.

:func:`build` turns module options into ``[(label, registry table)]``; :func:`entries_of` reads
them back from a parsed document. The other modules of this package validate (:mod:`.validate`),
render (:mod:`.render`), find conflicting drop-ins (:mod:`.conflicts`) and derive pairs from the
mirror map (:mod:`.pairs`).
"""

from __future__ import annotations

from typing import Any

from ..._common.errors import UserError
from .names import effective_prefix

Table = dict[str, Any]
Labeled = list[tuple[str, Table]]

DEFAULT_PATH = "/etc/containers/registries.conf.d/999-microshift-mirror.conf"
FILE_MODE = 0o644
DIR_MODE = 0o755
MARKER = "Ansible managed by airgap.mirror.registries_conf"
HEADER = (
    "# %s: changes by hand are overwritten.\n"
    "# containers-registries.conf(5) version 2 drop-in. Drop-ins are applied in lexical order of\n"
    "# their file names; a later [[registry]] with the same prefix replaces this one entirely.\n"
) % MARKER
PULL_FROM_MIRROR = ("all", "digest-only", "tag-only")

REGISTRY_KEYS = ("prefix", "location", "insecure", "blocked", "mirror-by-digest-only", "mirror")
MIRROR_KEYS = ("location", "insecure", "pull-from-mirror")


class RegistriesConfError(UserError, ValueError):
    """Invalid registries.conf data or text; the message names the entry or file and line."""


def build(registries: list[Any] | None = None, pairs: list[Any] | None = None, mirror_insecure: bool = False,
          mirror_by_digest_only: bool = True, mirror_registry_entry: bool = True) -> Labeled:
    """Turn module options into ``[(label, registry table)]``.

    *registries*: dicts with ``prefix``, ``location``, ``insecure``, ``blocked``,
    ``mirror_by_digest_only`` and ``mirrors`` (dicts with ``location``, ``insecure``,
    ``pull_from_mirror``). *pairs*: dicts with ``source`` (prefix) and ``mirror`` (location).
    With *mirror_registry_entry*, every mirror host named by *pairs* gets an entry of its own
    (prefix = location = host[:port], ``insecure`` = *mirror_insecure*), as seed 003 section 2.6
    writes it, unless an entry already has that prefix. Order: mirror entries, *registries* in the
    given order, *pairs* sorted by source.
    """
    out = [_registry_table("registries[%d]" % index, item) for index, item in enumerate(registries or [])]
    pair_tables = [_pair_table(index, pair, mirror_insecure, mirror_by_digest_only)
                   for index, pair in enumerate(pairs or [])]
    mirror_hosts: list[str] = []
    for _label, table in pair_tables:
        host = str(table["mirror"][0]["location"]).rstrip("/").partition("/")[0]
        if host not in mirror_hosts:
            mirror_hosts.append(host)
    pair_tables.sort(key=lambda item: str(item[1]["prefix"]))

    head: Labeled = []
    if mirror_registry_entry:
        taken = {effective_prefix(t) for _l, t in out + pair_tables}
        for host in sorted(mirror_hosts):
            if host not in taken:
                table = {"prefix": host, "location": host, "insecure": bool(mirror_insecure)}
                head.append(("mirror registry %s" % host, table))
    return head + out + pair_tables


def _registry_table(label: str, item: Any) -> tuple[str, Table]:
    """One entry of the ``registries`` option as a labelled ``[[registry]]`` table."""
    if not isinstance(item, dict):
        raise RegistriesConfError("%s: expected a dict, not %s" % (label, type(item).__name__))
    unknown = sorted(set(item) - {"prefix", "location", "insecure", "blocked", "mirror_by_digest_only", "mirrors"})
    if unknown:
        raise RegistriesConfError("%s: unknown key(s) %s" % (label, ", ".join(unknown)))
    table: Table = {}
    prefix = item.get("prefix")
    location = item.get("location")
    if prefix:
        table["prefix"] = prefix
    if location:
        table["location"] = location
    elif prefix and not str(prefix).startswith("*"):
        table["location"] = prefix  # the same physical place; written out for the reader
    if "prefix" not in table and location:
        table["prefix"] = location
    label += " (%s)" % (table.get("prefix") or "no prefix")
    table["insecure"] = bool(item.get("insecure"))
    if item.get("blocked"):
        table["blocked"] = True
    mirrors = [_mirror_table(label, mindex, mirror) for mindex, mirror in enumerate(item.get("mirrors") or [])]
    digest_only = item.get("mirror_by_digest_only")
    if digest_only is None:
        # default: digest-only, unless a mirror says how it is to be used (containers/image
        # refuses both at once)
        digest_only = None if any("pull-from-mirror" in m for m in mirrors) else True
    if mirrors and digest_only is not None:
        table["mirror-by-digest-only"] = bool(digest_only)
    if mirrors:
        table["mirror"] = mirrors
    return label, table


def _mirror_table(label: str, mindex: int, mirror: Any) -> Table:
    if not isinstance(mirror, dict):
        raise RegistriesConfError("%s: mirrors[%d]: expected a dict" % (label, mindex))
    unknown = sorted(set(mirror) - {"location", "insecure", "pull_from_mirror"})
    if unknown:
        raise RegistriesConfError("%s: mirrors[%d]: unknown key(s) %s" % (label, mindex, ", ".join(unknown)))
    mtable: Table = {"location": mirror.get("location"), "insecure": bool(mirror.get("insecure"))}
    if mirror.get("pull_from_mirror"):
        mtable["pull-from-mirror"] = mirror["pull_from_mirror"]
    return mtable


def _pair_table(index: int, pair: Any, mirror_insecure: bool, mirror_by_digest_only: bool) -> tuple[str, Table]:
    """One entry of the ``pairs`` option: *source* pulled from the mirror location, by digest."""
    if (not isinstance(pair, dict) or set(pair) - {"source", "mirror"} or not pair.get("source")
            or not pair.get("mirror")):
        raise RegistriesConfError("pairs[%d]: expected a dict with exactly 'source' and 'mirror'" % index)
    source, mirror = pair["source"], pair["mirror"]
    table: Table = {"prefix": source}
    if not str(source).startswith("*"):
        table["location"] = source
    table["insecure"] = False
    table["mirror-by-digest-only"] = bool(mirror_by_digest_only)
    table["mirror"] = [{"location": mirror, "insecure": bool(mirror_insecure)}]
    return "pairs[%d] (%s -> %s)" % (index, source, mirror), table


def entries_of(doc: dict[str, Any], origin: str) -> Labeled:
    """The ``[(label, table)]`` of a parsed drop-in; raises RegistriesConfError on a wrong shape."""
    registries = doc.get("registry", [])
    if not isinstance(registries, list):
        raise RegistriesConfError("%s: 'registry' must be an array of tables ([[registry]])" % origin)
    out: Labeled = []
    for index, table in enumerate(registries):
        label = "%s: [[registry]] #%d" % (origin, index + 1)
        if isinstance(table, dict) and effective_prefix(table):
            label += " (%s)" % effective_prefix(table)
        out.append((label, table))
    return out
