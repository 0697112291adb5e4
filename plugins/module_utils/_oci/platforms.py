# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Platforms, and an index filtered to some of them (no I/O: the caller says how to fetch).

A filter is a list of ``os/arch[/variant]``. A platform matches a filter entry when its os and
architecture are equal and, when the entry names a variant, its variant is equal too (``arm64``
without a variant is ``arm64/v8``, ``arm`` without one is ``arm/v7``, as containerd normalizes).

:func:`select` filters an image: an index keeps exactly the child manifests of the wanted
platforms, in their order, with their descriptors as the source wrote them (a nested index is
filtered the same way; its descriptor then gets the new digest and size). When nothing was left
out the index is the source's own bytes; otherwise a new index (the source's fields and
annotations, fewer ``manifests``) is serialized deterministically, so the same source and filter
always give the same digest. BuildKit attestation manifests (``vnd.docker.reference.type:
attestation-manifest``, platform ``unknown/unknown``) are kept only with the manifest they
describe. A single image manifest is kept as it is when the platform of its config matches.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Optional

from . import manifest as _manifest
from .errors import ManifestError
from .graph import MAX_DEPTH

#: ``annotations`` of a BuildKit attestation manifest in an index
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION = "attestation-manifest"

#: config media types that describe a runnable image (and so a platform)
IMAGE_CONFIG_TYPES = frozenset(("application/vnd.oci.image.config.v1+json",
                                "application/vnd.docker.container.image.v1+json"))

_PART = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


@dataclasses.dataclass(frozen=True)
class Platform:
    """``os/architecture[/variant]``, architecture aliases normalized (x86_64 is amd64)."""

    os: str
    architecture: str
    variant: Optional[str] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "architecture", _ARCH_ALIASES.get(self.architecture, self.architecture))

    @classmethod
    def parse(cls, text: object) -> Platform:
        """A platform of a filter; raises ValueError naming *text*."""
        parts = text.split("/") if isinstance(text, str) else []
        if len(parts) not in (2, 3) or not all(_PART.match(p) for p in parts):
            raise ValueError("platform %r is not of the form os/arch[/variant] (for example linux/amd64 or "
                             "linux/arm64/v8)" % (text,))
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def from_dict(cls, data: Any) -> Platform | None:
        """The platform of a descriptor or an image config (None when it names none)."""
        if not isinstance(data, dict):
            return None
        os_name, arch = data.get("os"), data.get("architecture")
        if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
            return None
        variant = data.get("variant")
        return cls(os_name, arch, variant if isinstance(variant, str) and variant else None)

    @property
    def unknown(self) -> bool:
        return self.os == "unknown" and self.architecture == "unknown"

    def __str__(self) -> str:
        return "%s/%s%s" % (self.os, self.architecture, "/" + self.variant if self.variant else "")

    def matches(self, other: Platform) -> bool:
        """Whether *other* (an image's platform) is selected by this filter entry."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if self.variant is None:
            return True
        default = _DEFAULT_VARIANT.get(other.architecture)
        return self.variant == (other.variant or default)


def parse_filter(values: Iterable[object] | None, where: str = "platforms") -> tuple[Platform, ...]:
    """The platforms of a filter option (an empty tuple: every platform). Raises ValueError naming
    *where* and the first bad value."""
    if values is None:
        return ()
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError("%s must be a list of os/arch[/variant], not %r" % (where, values))
    out: list[Platform] = []
    for value in values:
        try:
            platform = Platform.parse(value)
        except ValueError as exc:
            raise ValueError("%s: %s" % (where, exc)) from None
        if platform not in out:
            out.append(platform)
    return tuple(out)


def selected(wanted: Iterable[Platform], platform: Platform) -> bool:
    return any(w.matches(platform) for w in wanted)


@dataclasses.dataclass
class Selection:
    """What :func:`select` made of an image."""

    source: _manifest.Manifest
    root: _manifest.Manifest
    #: platforms kept, and every platform the source has, in the source's order
    kept: list[str] = dataclasses.field(default_factory=list)
    available: list[str] = dataclasses.field(default_factory=list)
    #: child manifests left out (digest -> platform text)
    dropped: dict[str, str] = dataclasses.field(default_factory=dict)
    #: nested indexes rewritten by the filter, by their new digest
    rewritten: dict[str, _manifest.Manifest] = dataclasses.field(default_factory=dict)

    @property
    def filtered(self) -> bool:
        return self.root.digest != self.source.digest


#: ``fetch(descriptor, where)`` -> ``(bytes, content type or None)`` of a child manifest
Fetch = Callable[[_manifest.Descriptor, str], "tuple[bytes, str | None]"]
#: ``config_platform(manifest)`` -> the platform its config names (None: not an image config)
ConfigPlatform = Callable[[_manifest.Manifest], Optional[Platform]]


class NoMatchingPlatform(ManifestError):
    """An image none of whose platforms the filter selects."""


def select(root: _manifest.Manifest, wanted: tuple[Platform, ...], fetch: Fetch, config_platform: ConfigPlatform,
           where: str, image: str | None = None) -> Selection:
    """*root* filtered to *wanted* (see the module's documentation). Raises
    :class:`NoMatchingPlatform` naming *image* and the platforms it has when nothing matches."""
    sel = Selection(root, root)
    wanted_text = ", ".join(str(w) for w in wanted)
    if not root.is_index:
        platform = config_platform(root)
        if platform is None:
            return sel  # not a platform-specific image (an artifact): nothing to filter
        sel.available.append(str(platform))
        if not selected(wanted, platform):
            raise NoMatchingPlatform("%s is a single-platform image for %s, which the platforms filter (%s) does "
                                     "not select" % (image or where, platform, wanted_text), image=image)
        sel.kept.append(str(platform))
        return sel
    filtered = _filter_index(sel, root, wanted, fetch, config_platform, where, 0)
    if filtered is None:
        raise NoMatchingPlatform("%s has no manifest for the platforms %s; it has %s"
                                 % (image or where, wanted_text, ", ".join(sel.available) or "none"), image=image)
    sel.root = filtered
    return sel


def _filter_index(sel: Selection, index: _manifest.Manifest, wanted: tuple[Platform, ...], fetch: Fetch,
                  config_platform: ConfigPlatform, where: str, depth: int) -> _manifest.Manifest | None:
    """*index* with only the wanted children (itself when nothing is left out; None when nothing is
    kept but attestations)."""
    if depth > MAX_DEPTH:
        raise ManifestError("%s: indexes nested deeper than %d levels" % (where, MAX_DEPTH))
    kept: list[dict[str, Any]] = []
    kept_digests: set[str] = set()
    attestations: list[tuple[int, _manifest.Descriptor]] = []
    changed = False
    for desc in index.children:
        child_where = _manifest.child_where(where, desc)
        raw = desc.to_dict()
        if desc.annotations.get(REFERENCE_TYPE) == ATTESTATION:
            attestations.append((len(kept), desc))
            continue
        if desc.media_type in _manifest.INDEX_TYPES:
            child = _parse_child(desc, fetch, child_where)
            new = _filter_index(sel, child, wanted, fetch, config_platform, child_where, depth + 1)
            if new is None:
                changed = True
                continue
            if new.digest != child.digest:
                changed = True
                sel.rewritten[new.digest] = new
                raw = dict(raw, digest=new.digest, size=new.size)
            kept.append(raw)
            kept_digests.add(desc.digest)
            continue
        platform = Platform.from_dict(desc.platform)
        if platform is None or platform.unknown:
            platform = config_platform(_parse_child(desc, fetch, child_where)) or platform
        text = str(platform) if platform is not None else "unknown"
        if text not in sel.available:
            sel.available.append(text)
        if platform is not None and not platform.unknown and selected(wanted, platform):
            kept.append(raw)
            kept_digests.add(desc.digest)
            if text not in sel.kept:
                sel.kept.append(text)
        else:
            sel.dropped[desc.digest] = text
            changed = True
    if not kept:
        return None
    for position, desc in reversed(attestations):  # with what they describe, where they were
        if desc.annotations.get(REFERENCE_DIGEST) in kept_digests:
            kept.insert(position, desc.to_dict())
        else:
            sel.dropped[desc.digest] = "attestation"
            changed = True
    if not changed:
        return index
    body = dict(index.body)
    body["manifests"] = kept
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _manifest.parse(data, index.media_type, where="%s (filtered)" % where)


def _parse_child(desc: _manifest.Descriptor, fetch: Fetch, where: str) -> _manifest.Manifest:
    data, ctype = fetch(desc, where)
    return _manifest.parse(data, ctype or desc.media_type, expected_digest=desc.digest, where=where)


def config_platform_of(manifest: _manifest.Manifest, read_config: Callable[[_manifest.Descriptor], bytes]) -> \
        Platform | None:
    """The platform of an image manifest's config (read with *read_config*); None for an artifact."""
    config = manifest.config
    if manifest.is_index or config is None or config.media_type not in IMAGE_CONFIG_TYPES:
        return None
    try:
        body = json.loads(read_config(config))
    except ValueError:
        return None
    return Platform.from_dict(body)
