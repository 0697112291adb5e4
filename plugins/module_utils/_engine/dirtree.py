# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Where each skopeo ``dir:`` export of a tree came from.

The seed's download loop (003 section 2.4) names each export by its source reference without the
registry (``cut -d/ -f2-``): ``quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:…`` and
``registry.redhat.io/lvms4/topolvm-rhel9@sha256:…`` become ``openshift-release-dev/…`` and
``lvms4/…``. Nothing in the tree says which registry each came from, and the mirror map must
record the real source: the consumers (``registry_mirror_host``'s drop-in) map exactly the
registries the map names.

So an image of a ``dir:`` source is found one of three ways:

* by its full source reference (the release file's list): the export is looked up by repository
  path, with or without the registry as first directory, and tag/digest; the digest is then
  checked against the export's manifest when the plan resolves it. This is the source of truth.
* by its relative path in a tree that keeps the registry as first directory (``quay.io/…``).
* by its relative path plus ``src_registry``, for a tree of one registry only. A first directory
  that is a registry host is refused there (it would be recorded under two registries), and a
  tree with several top-level directories gets a warning (they may be several registries).
"""

from __future__ import annotations

from .._oci import reference as _ref
from .._oci.errors import InvalidReference, LayoutError


def names_registry(component: str) -> bool:
    """Whether a first path component is a registry host (the rule of image references)."""
    return _ref._is_domain_like(component)


class DirTree:
    """The exports of one ``dir:`` tree (``{relative path: absolute path}``) and how their
    sources are named."""

    def __init__(self, root: str, exports: dict[str, str], src_registry: str | None = None) -> None:
        self.root = root
        self.exports = exports
        self.src_registry = src_registry or None
        self._labelled: dict[str, str] = {}  # top-level directory -> one export src_registry named

    def find(self, name: str, explicit_dest: str | None = None) -> tuple[str, _ref.Reference | None]:
        """The export for *name* (a relative path, or a full source reference) and the source
        reference the mirror map records for it (``None``: none known, an explicit dest is needed)."""
        rel = name.strip().strip("/")
        if rel in self.exports:
            return rel, self._by_path(rel, explicit_dest)
        ref = self._as_reference(name)
        if ref is None:
            raise LayoutError("no dir: export %s under %s" % (rel, self.root))
        tried = self._candidates(name.strip(), ref)
        for candidate in tried:
            if candidate in self.exports:
                return candidate, ref
        raise LayoutError("no dir: export under %s (looked for %s)" % (self.root, ", ".join(tried)))

    def _by_path(self, rel: str, explicit_dest: str | None) -> _ref.Reference | None:
        first = rel.split("/", 1)[0]
        if self.src_registry:
            if names_registry(first):
                raise LayoutError(
                    "the first directory of this dir: export, %s, is a registry host, so src_registry=%s would "
                    "record it as %s/%s; leave src_registry out for a tree that keeps the registry as first "
                    "directory, or give the images as their full source references"
                    % (first, self.src_registry, self.src_registry, rel))
            self._labelled.setdefault(first, rel)
            return _parse_or_none("%s/%s" % (self.src_registry, rel))
        if names_registry(first):
            return _parse_or_none(rel)
        if explicit_dest:
            return None
        raise LayoutError(
            "this dir: export does not say which registry it came from (the seed's download loop drops it from the "
            "path): give the images as their full source references, for example the release file's list (each is "
            "matched to its export by repository path and digest), or src_registry when every image of the tree "
            "comes from that one registry")

    @staticmethod
    def _as_reference(name: str) -> _ref.Reference | None:
        """*name* as a source reference, only when it names its registry (``quay.io/…``)."""
        text = name.strip()
        first, sep, _rest = text.partition("/")
        if not sep or not names_registry(first):
            return None
        try:
            return _ref.parse(text, default_tag="latest")
        except InvalidReference:
            return None

    @staticmethod
    def _candidates(text: str, ref: _ref.Reference) -> list[str]:
        """Relative paths an export of *ref* may have: without the registry (as the seed's loop
        writes it, from the reference as given and normalized), then with it."""
        suffix = (":" + ref.tag if ref.tag else "") + ("@" + ref.digest if ref.digest else "")
        found = []
        for candidate in (text.partition("/")[2], ref.repository + suffix, text, ref.name + suffix):
            candidate = candidate.strip("/")
            if candidate and candidate not in found:
                found.append(candidate)
        return found

    def warnings(self) -> list[str]:
        """A warning when src_registry named exports under several top-level directories."""
        if len(self._labelled) < 2:
            return []
        tops = sorted(self._labelled)
        return ["src_registry=%s records every dir: export of %s as %s/...; its top-level directories (%s) may come "
                "from different registries: the seed's download loop drops the registry from the path, and a "
                "MicroShift release has images of quay.io, registry.redhat.io and registry.access.redhat.com. If "
                "they do, the mirror map names the wrong source for some, and hosts configured from it "
                "(airgap.mirror.registry_mirror_host) do not send their registries to the mirror. Give the images as "
                "their full source references instead (the release file's list), without src_registry"
                % (self.src_registry, self.root, self.src_registry, ", ".join(tops))]


def _parse_or_none(text: str) -> _ref.Reference | None:
    try:
        return _ref.parse(text)
    except InvalidReference:
        return None
