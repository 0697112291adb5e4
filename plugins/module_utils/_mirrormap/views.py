# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Consumer views of a mirror map that the model itself does not index.

:func:`labeled_entries` reads what a filter is given (text, document, list of entry dicts or a
:class:`MirrorMap`) into entries labelled ``images[N]`` for messages; :func:`source_prefix_pairs`
is the ``source prefix -> mirror prefix`` view that :meth:`Mapping.source_prefix_pairs` gives for a
mapping, derived here from what the map records; :func:`filtered_pinned` names the images a
prefix mirror cannot serve by the digest their source pins (a platform-filtered index).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .io import coerce
from .model import Entry, MirrorMap, MirrorMapError, RegistryDestination


def labeled_entries(value: Any, origin: str = "<mirror map>") -> list[tuple[str, Entry]]:
    """``[("images[N]", entry)]``: a list keeps its order (N is its index); any other form is read
    with :func:`io.coerce` and numbered in the map's order (the order of the file)."""
    if isinstance(value, (list, tuple)):
        # values from Jinja may be AnsibleUnsafeText and friends: round-trip to plain data
        plain = json.loads(json.dumps(list(value), default=str))
        return [("images[%d]" % n, Entry.from_dict(item, "images[%d]" % n)) for n, item in enumerate(plain)]
    return [("images[%d]" % n, entry) for n, entry in enumerate(coerce(value, origin))]


def source_prefix_pairs(entries: MirrorMap | Iterable[tuple[str, Entry]]) -> list[tuple[str, str]]:
    """``[(source prefix, mirror prefix)]`` covering the registry destinations of a map.

    A source registry becomes one pair when every image of it keeps its repository path under
    one mirror prefix (``quay.io/org/app -> mirror:5000/ns/org/app`` for all of them gives
    ``quay.io -> mirror:5000/ns``); otherwise each of its repositories gets a pair of its own.
    Entries with an ``oci:`` layout destination are skipped. A source repository that the map
    sends to two different mirror repositories is a :class:`MirrorMapError` naming both.
    *entries* is a map or ``[(label, entry)]`` (see :func:`labeled_entries`).
    """
    labeled = [("images[%d]" % n, e) for n, e in enumerate(entries)] if isinstance(entries, MirrorMap) else entries
    by_registry: dict[str, dict[str, tuple[RegistryDestination, str, str]]] = {}
    for label, entry in labeled:
        dest = entry.registry_destination
        if dest is None:
            continue
        source = entry.source
        repos = by_registry.setdefault(source.registry, {})
        known = repos.get(source.name)
        if known is not None and known[0].name != dest.name:
            raise MirrorMapError(
                "source prefix %s is claimed by two mirror locations: %s (%s, %s) and %s (%s, %s)"
                % (source.name, known[0].name, known[1], known[2], dest.name, label, source)
            )
        if known is None:
            repos[source.name] = (dest, label, str(source))

    pairs: list[tuple[str, str]] = []
    for registry in sorted(by_registry):
        repos = by_registry[registry]
        prefixes: set[str | None] = set()
        for name, (dest, _label, _src) in repos.items():
            path = name[len(registry) + 1:]
            if dest.repository == path:
                prefixes.add(dest.registry)
            elif dest.repository.endswith("/" + path):
                prefixes.add("%s/%s" % (dest.registry, dest.repository[:-len(path) - 1]))
            else:
                prefixes.add(None)
        single = prefixes.pop() if len(prefixes) == 1 else None
        if single is not None:
            pairs.append((registry, single))
        else:
            pairs.extend((name, repos[name][0].name) for name in sorted(repos))
    return pairs


def filtered_pinned(entries: MirrorMap | Iterable[tuple[str, Entry]]) -> list[tuple[str, Entry]]:
    """The registry entries whose source pins a digest that the mirror does not serve: the image
    was filtered to some platforms, so the mirror holds an index with another digest
    (``entry.digest``) than the one a pull of ``source@digest`` asks a prefix mirror for."""
    labeled = [("images[%d]" % n, e) for n, e in enumerate(entries)] if isinstance(entries, MirrorMap) else entries
    return [(label, e) for label, e in labeled
            if e.registry_destination is not None and e.filtered and e.source.digest is not None]
