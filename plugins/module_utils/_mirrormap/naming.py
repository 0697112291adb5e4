# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Where a source image lives in the mirror: the one mapping used by every module, filter and role.

Modes (``dest`` is ``HOST[:PORT][/NAMESPACE]``):

keep      DEST/<source path>                 quay.io/org/app -> mirror:5000/ns/org/app (default;
                                             what seed 003's ``cut -d/ -f2-`` does)
scoped    DEST/<source registry>/<path>      quay.io/org/app -> mirror:5000/ns/quay.io/org/app
                                             (no collision between registries; ``:port`` becomes ``_port``)
flatten   DEST/<last path component>         quay.io/org/app -> mirror:5000/ns/app (registries that
                                             limit nesting; ECK's ``--container-repository`` layout)

``overrides`` maps a source repository (``registry/path``, normalized like any reference) to a
repository path under the mirror registry; an override ignores the namespace and the mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping as Mapping_
from typing import Any

from .._oci import reference as _ref
from .._oci.errors import InvalidReference

MODES = ("keep", "scoped", "flatten")

# Deterministic tag given to an image that was referenced by digest only, so that a re-run never
# creates a new tag and registry garbage collection never removes the image. Deliberately not the
# "sha256-<hex>" form, which the OCI referrers tag schema reserves for referrers indexes.
DIGEST_TAG_PREFIX = "mirror-sha256-"


def digest_tag(digest: str) -> str:
    """The deterministic destination tag of a digest-only image."""
    algo, _sep, hexpart = digest.partition(":")
    if algo == "sha256":
        return DIGEST_TAG_PREFIX + hexpart
    # sha512 hex is 128 characters: keep the tag within the 128 character limit
    return ("mirror-%s-%s" % (algo, hexpart))[:128]


class Mapping:
    """Maps source repositories to mirror repositories."""

    def __init__(self, dest: str, mode: str = "keep", overrides: Mapping_[str, Any] | None = None) -> None:
        self.registry, self.namespace = _ref.parse_registry_prefix(dest)
        if mode not in MODES:
            raise ValueError("mapping mode %r is not one of %s" % (mode, ", ".join(MODES)))
        self.mode = mode
        self.overrides: dict[str, str] = {}
        for src, target in (overrides or {}).items():
            try:
                key = _ref.parse(src).name
            except InvalidReference as exc:
                raise ValueError("mapping override key: %s" % exc) from None
            path = str(target).strip().strip("/")
            try:
                _ref.parse("%s/%s" % (self.registry, path))
            except InvalidReference as exc:
                raise ValueError("mapping override for %s: %s" % (src, exc)) from None
            self.overrides[key] = path

    @property
    def prefix(self) -> str:
        """HOST[:PORT][/NAMESPACE] of the mirror."""
        return "%s/%s" % (self.registry, self.namespace) if self.namespace else self.registry

    def repository(self, src: _ref.Reference) -> str:
        """The mirror repository path (without registry) for a source :class:`Reference`."""
        if src.name in self.overrides:
            return self.overrides[src.name]
        if self.mode == "keep":
            path = src.repository
        elif self.mode == "scoped":
            path = "%s/%s" % (src.registry.replace(":", "_").strip("[]"), src.repository)
        else:
            path = src.repository.rsplit("/", 1)[-1]
        return "%s/%s" % (self.namespace, path) if self.namespace else path

    def map(self, src: _ref.Reference, digest: str | None = None, tag_style: str = "deterministic") -> _ref.Reference:
        """The mirror :class:`Reference` for *src*.

        The source tag is kept. A digest-only source gets :func:`digest_tag` of its digest with
        ``tag_style="deterministic"``, and no tag with ``"none"``. The digest, when known (from the
        source reference or the *digest* argument), is carried along.
        """
        digest = src.digest or digest
        tag = src.tag
        if tag is None and digest and tag_style == "deterministic":
            tag = digest_tag(digest)
        return _ref.Reference(self.registry, self.repository(src), tag, digest)

    def source_prefix_pairs(self, sources: Iterable[_ref.Reference]) -> list[tuple[str, str]]:
        """Consumer view: ``[(source prefix, mirror prefix)]`` covering *sources*.

        Whole registries are mapped with one pair when the mode keeps their paths (keep, scoped)
        and no override touches them; otherwise each repository gets its own pair. Sorted, unique.
        """
        pairs: set[tuple[str, str]] = set()
        overridden = set(self.overrides)
        for src in sources:
            if self.mode in ("keep", "scoped") and not any(
                o.startswith(src.registry + "/") for o in overridden
            ):
                if self.mode == "keep":
                    target = self.prefix
                else:
                    target = "%s/%s" % (self.prefix, src.registry.replace(":", "_").strip("[]"))
                pairs.add((src.registry, target))
            else:
                pairs.add((src.name, "%s/%s" % (self.registry, self.repository(src))))
        return sorted(pairs)
