# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""``skopeo sync --src yaml`` files (the ``images`` of each registry)."""

from __future__ import annotations

import re
from typing import Any

from .documents import SourceError, line_of, load_document, parse_ref, scalar_text, type_name, unique


SKOPEO_SYNC_KEYS = ("images", "images-by-tag-regex", "images-by-semver", "credentials", "tls-verify", "cert-dir")
_DIGEST_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def read_skopeo_sync(value: Any, name: str | None = None) -> list[str]:
    """References of a ``skopeo sync --src yaml`` file: ``registry: {images: {repo: [tag|digest]}}``.

    ``images-by-tag-regex``, ``images-by-semver`` and an empty tag list (all tags) need the
    registry's tag listing and are refused with a clear error. ``credentials``, ``tls-verify``
    and ``cert-dir`` are transport settings and are ignored here (never echoed).
    """
    data, src = load_document(value, name, syntax="yaml")
    src = src or "<skopeo sync yaml>"
    if not isinstance(data, dict):
        raise SourceError("top level is %s, expected a map of registry to settings (skopeo sync YAML)"
                          % type_name(data), src)
    refs = []
    for registry, settings in data.items():
        rline = line_of(data, registry)
        if not isinstance(settings, dict):
            raise SourceError("expected a map with 'images', got %s" % type_name(settings), src, str(registry), rline)
        for key in settings:
            if key not in SKOPEO_SYNC_KEYS:
                raise SourceError("unknown key %r (skopeo sync knows: %s)" % (key, ", ".join(SKOPEO_SYNC_KEYS)),
                                  src, str(registry), line_of(settings, key))
        for key in ("images-by-tag-regex", "images-by-semver"):
            if settings.get(key):
                raise SourceError("%s is not supported: it needs the registry's tag listing, which a file "
                                  "reader cannot do; list the tags under 'images'" % key,
                                  src, "%s.%s" % (registry, key), line_of(settings, key))
        images = settings.get("images")
        if images is None:
            continue
        if not isinstance(images, dict):
            raise SourceError("'images' is %s, expected a map of repository to a list of tags or digests"
                              % type_name(images), src, str(registry), line_of(settings, "images"))
        for repo, items in images.items():
            entry = "%s.images.%s" % (registry, repo)
            line = line_of(images, repo)
            if not items:
                raise SourceError("an empty tag list means 'all tags', which needs the registry's tag "
                                  "listing and is not supported: list the tags", src, entry, line)
            if not isinstance(items, list):
                raise SourceError("expected a list of tags or digests, got %s" % type_name(items), src, entry, line)
            for index, item in enumerate(items):
                iline = line_of(items, index) or line
                item_entry = "%s[%d]" % (entry, index)
                text = scalar_text(item, "tag or digest", src, item_entry, iline)
                sep = "@" if _DIGEST_LIKE.match(text) else ":"
                refs.append(parse_ref("%s/%s%s%s" % (registry, repo, sep, text), src, item_entry, iline))
    return unique(refs)
