# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The kept set of a prune: what the user names to keep, as mirror repositories and digests.

The inputs are the ones the collection already reads (no second parser): mirror maps
(``_mirrormap``), image lists (``_sources``: MicroShift release files, ESS ``images_digests``,
plain lists, queries), ESS Helm values (``_products.ess_helm``) and Elastic Stack / ECK versions
(``_products.elastic_catalog``). A mirror map given in ``maps`` is kept whole (each of its entries
whose destination is the mirror); every other input names *source* references, which are found in
the mirror through the mirror maps (:meth:`MirrorMap.lookup`: by digest, else by tag). A source
no map knows cannot be placed in the mirror: an error naming the image and its file, or a warning
with ``on_missing="warn"``.

What a kept image reaches in the mirror (index children, signatures, referrers) is added by
:mod:`.plan`, which sees the mirror's state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._common.errors import UserError
from .._mirrormap import io as _mmio
from .._mirrormap.model import MirrorMap
from .._oci import reference as _ref
from .._products import elastic_catalog, ess_helm
from .._sources import read as _read

ON_MISSING = ("fail", "warn")
LIST_FORMATS = _read.FORMATS


class KeepError(UserError, ValueError):
    """A keep input that cannot be read or placed in the mirror; names the file and the image."""


@dataclass(frozen=True)
class Kept:
    """One image kept in the mirror: its repository (without the registry) and digest, and why."""

    repository: str
    digest: str
    origin: str


@dataclass(frozen=True)
class Wanted:
    """A source reference a consumer input names, and the input it came from."""

    source: str
    origin: str


@dataclass
class KeptSet:
    """The kept images, and the warnings made while placing them."""

    images: list[Kept] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def seeds(self) -> dict[str, set[str]]:
        """Repository -> kept digests."""
        out: dict[str, set[str]] = {}
        for kept in self.images:
            out.setdefault(kept.repository, set()).add(kept.digest)
        return out


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeepError("cannot read the %s %s: %s" % (what, path, exc)) from None


def _items(value: Any, option: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise KeepError("keep.%s must be a list, got %s" % (option, type(value).__name__))
    return list(value)


def _as_spec(item: Any, option: str, key: str) -> dict[str, Any]:
    """A list item given as a string means ``{key: item}``."""
    if isinstance(item, str):
        return {key: item}
    if not isinstance(item, Mapping) or not item.get(key):
        raise KeepError("keep.%s: each item is a path or a map with %r, got %r" % (option, key, item))
    return dict(item)


def consumer_images(keep: Mapping[str, Any]) -> list[Wanted]:
    """Every source reference named by the consumer inputs of *keep* (all but ``maps``).

    *keep* keys: ``images`` (references), ``image_lists`` (``{path, format, query}``; format one
    of ``_sources.read.FORMATS``, default ``list``), ``microshift_release`` (release-<arch>.json
    paths), ``ess_images_digests`` (paths), ``ess_helm_values`` (``{chart, site}`` paths: the
    deployed components), ``eck`` (``{stack_version, eck_version, include, exclude}``).
    """
    wanted: list[Wanted] = []
    images = [str(ref) for ref in _items(keep.get("images"), "images")]
    if images:
        wanted.extend(Wanted(r, "keep.images") for r in _read.read_source("list", images, name="keep.images"))
    for item in _items(keep.get("image_lists"), "image_lists"):
        spec = _as_spec(item, "image_lists", "path")
        fmt = spec.get("format") or "list"
        path = str(spec["path"])
        refs = _read.read_source(fmt, _read_text(path, "image list"), name=path, query=spec.get("query"))
        wanted.extend(Wanted(r, path) for r in refs)
    for path in _items(keep.get("microshift_release"), "microshift_release"):
        refs = _read.read_source("microshift", _read_text(str(path), "MicroShift release file"), name=str(path))
        wanted.extend(Wanted(r, str(path)) for r in refs)
    for path in _items(keep.get("ess_images_digests"), "ess_images_digests"):
        refs = _read.read_source("ess", _read_text(str(path), "ESS images_digests file"), name=str(path))
        wanted.extend(Wanted(r, str(path)) for r in refs)
    for item in _items(keep.get("ess_helm_values"), "ess_helm_values"):
        spec = _as_spec(item, "ess_helm_values", "chart")
        chart = str(spec["chart"])
        site = _read_text(str(spec["site"]), "site values file") if spec.get("site") else None
        for comp in ess_helm.components(_read_text(chart, "chart values file"), site, origin=chart):
            if comp.enabled:
                wanted.append(Wanted(str(comp.source), "%s %s" % (chart, comp.name)))
    for item in _items(keep.get("eck"), "eck"):
        spec = _as_spec(item, "eck", "stack_version")
        origin = "keep.eck stack %s" % spec["stack_version"]
        refs = elastic_catalog.elastic_images(str(spec["stack_version"]), eck_version=spec.get("eck_version"),
                                              include=spec.get("include"), exclude=spec.get("exclude"))
        wanted.extend(Wanted(r, origin) for r in refs)
    return wanted


def load_maps(paths: Iterable[str]) -> list[tuple[str, MirrorMap]]:
    """Each mirror map file, read through ``_mirrormap.io``."""
    return [(str(path), _mmio.load(str(path))) for path in paths]


def _same_registry(a: str, b: str) -> bool:
    return _ref.normalize_registry(a) == _ref.normalize_registry(b)


def kept_set(registry: str, whole: list[tuple[str, MirrorMap]], lookup: list[tuple[str, MirrorMap]],
             wanted: Iterable[Wanted], on_missing: str = "fail") -> KeptSet:
    """The kept images in the mirror *registry*: every entry of the *whole* maps that lives there,
    and each *wanted* source found (by digest, else tag) in the *whole* or *lookup* maps."""
    if on_missing not in ON_MISSING:
        raise KeepError("on_missing must be one of %s, got %r" % (", ".join(ON_MISSING), on_missing))
    out = KeptSet()
    seen: set[tuple[str, str]] = set()

    def add(repository: str, digest: str, origin: str) -> None:
        if (repository, digest) not in seen:
            seen.add((repository, digest))
            out.images.append(Kept(repository, digest, origin))

    for origin, mirror_map in whole:
        for entry, dest in mirror_map.registry_entries():
            if _same_registry(dest.registry, registry):
                add(dest.repository, entry.digest, "%s: %s" % (origin, entry.source))
    maps = whole + lookup
    missing: list[str] = []
    for item in wanted:
        source = _ref.parse(item.source)
        placed = False
        for _origin, mirror_map in maps:
            found, _how = mirror_map.lookup(source)
            place = found.registry_destination if found is not None else None
            if found is not None and place is not None and _same_registry(place.registry, registry):
                add(place.repository, found.digest, "%s: %s" % (item.origin, item.source))
                placed = True
                break
        if not placed:
            missing.append("%s (from %s)" % (item.source, item.origin))
    if missing:
        text = "%d kept image(s) are in no mirror map for %s: %s" % (len(missing), registry, "; ".join(missing))
        if on_missing == "fail":
            raise KeepError(text + " -- a prune cannot tell where they are in the mirror; give the map "
                                   "that mirrored them (mirror_map) or on_missing=warn")
        out.warnings.append(text)
    return out
