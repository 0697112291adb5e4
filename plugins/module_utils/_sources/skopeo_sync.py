# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""``skopeo sync --src yaml`` files (the ``images`` of each registry)."""

from __future__ import annotations

import re
from typing import Any

from .._oci.tagselect import TagSelectorError, selection_of
from .documents import SourceError, line_of, load_document, parse_ref, scalar_text, type_name


SKOPEO_SYNC_KEYS = ("images", "images-by-tag-regex", "images-by-semver", "credentials", "tls-verify", "cert-dir")
_DIGEST_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
#: what to do instead of each transport setting this reader refuses
_TRANSPORT = {
    "credentials": "give them to image_mirror (src_username and src_password, or auth_file: a containers "
                   "auth.json such as 'skopeo login' writes) and remove them from the file",
    "cert-dir": "put the registry's CA in ca_path or /etc/containers/certs.d/REGISTRY/ (and a client "
                "certificate in client_cert and client_key) and remove the key",
    "tls-verify": "list the registry in image_mirror's insecure_registries (the mirror_images role's "
                  "mirror_images_insecure_registries) and remove the key",
}


def read_skopeo_sync(value: Any, name: str | None = None) -> list[Any]:
    """Images of a ``skopeo sync --src yaml`` file: ``registry: {images: {repo: [tag|digest]}}``.

    A tag or digest gives a normalized reference; ``images-by-tag-regex`` (``repo: regex``, which
    skopeo matches anywhere in a tag), ``images-by-semver`` (``repo: range``) and an empty tag list
    (every tag) give tag selections ``{"src": repository, "tags": selector}`` that image_mirror
    resolves by listing the repository's tags (``_oci/tagselect.py``).

    Transport settings are never ignored: ``tls-verify: true`` is what image_mirror does anyway;
    ``tls-verify: false``, ``cert-dir`` and ``credentials`` are refused with an error naming the
    file, the registry and the key, and what to use instead (a credential is never echoed).
    """
    data, src = load_document(value, name, syntax="yaml")
    src = src or "<skopeo sync yaml>"
    if not isinstance(data, dict):
        raise SourceError("top level is %s, expected a map of registry to settings (skopeo sync YAML)"
                          % type_name(data), src)
    out: list[Any] = []
    for registry, settings in data.items():
        rline = line_of(data, registry)
        if not isinstance(settings, dict):
            raise SourceError("expected a map with 'images', got %s" % type_name(settings), src, str(registry), rline)
        for key in settings:
            if key not in SKOPEO_SYNC_KEYS:
                raise SourceError("unknown key %r (skopeo sync knows: %s)" % (key, ", ".join(SKOPEO_SYNC_KEYS)),
                                  src, str(registry), line_of(settings, key))
        _check_transport(settings, str(registry), src)
        out.extend(_images(settings, str(registry), src))
        for key, selector_key in (("images-by-tag-regex", "include"), ("images-by-semver", "semver")):
            out.extend(_selections(settings, str(registry), key, selector_key, src))
    return _unique(out)


def _check_transport(settings: dict[str, Any], registry: str, src: str) -> None:
    for key, instead in _TRANSPORT.items():
        if key not in settings or (key == "tls-verify" and settings[key] is True):
            continue
        what = "tls-verify: %r" % (settings[key],) if key == "tls-verify" else key
        raise SourceError("%s is not taken from an image list: %s" % (what, instead),
                          src, "%s.%s" % (registry, key), line_of(settings, key))


def _images(settings: dict[str, Any], registry: str, src: str) -> list[Any]:
    images = settings.get("images")
    if images is None:
        return []
    if not isinstance(images, dict):
        raise SourceError("'images' is %s, expected a map of repository to a list of tags or digests"
                          % type_name(images), src, registry, line_of(settings, "images"))
    out: list[Any] = []
    for repo, items in images.items():
        entry = "%s.images.%s" % (registry, repo)
        line = line_of(images, repo)
        if items is None or items == []:  # every tag, as skopeo sync does
            out.append(_selection(registry, repo, {}, src, entry, line))
            continue
        if not isinstance(items, list):
            raise SourceError("expected a list of tags or digests, got %s" % type_name(items), src, entry, line)
        for index, item in enumerate(items):
            iline = line_of(items, index) or line
            item_entry = "%s[%d]" % (entry, index)
            text = scalar_text(item, "tag or digest", src, item_entry, iline)
            sep = "@" if _DIGEST_LIKE.match(text) else ":"
            out.append(str(parse_ref("%s/%s%s%s" % (registry, repo, sep, text), src, item_entry, iline)))
    return out


def _selections(settings: dict[str, Any], registry: str, key: str, selector_key: str, src: str) -> list[Any]:
    by_repo = settings.get(key)
    if by_repo is None:
        return []
    if not isinstance(by_repo, dict):
        raise SourceError("'%s' is %s, expected a map of repository to a %s" % (
            key, type_name(by_repo), "regular expression" if selector_key == "include" else "version range"),
            src, registry, line_of(settings, key))
    out = []
    for repo, value in by_repo.items():
        entry = "%s.%s.%s" % (registry, key, repo)
        line = line_of(by_repo, repo)
        text = scalar_text(value, "regular expression" if selector_key == "include" else "version range",
                           src, entry, line)
        # skopeo finds the expression anywhere in a tag; a selector's include matches the whole tag
        selector = {"include": ".*(?:%s).*" % text} if selector_key == "include" else {"semver": text}
        out.append(_selection(registry, repo, selector, src, entry, line))
    return out


def _selection(registry: str, repo: Any, selector: dict[str, Any], src: str, entry: str,
               line: int | None) -> dict[str, Any]:
    """``{"src": repository, "tags": selector}``, checked as image_mirror will check it."""
    item = {"src": "%s/%s" % (registry, repo), "tags": selector}
    try:
        selection = selection_of(item)
    except TagSelectorError as exc:
        raise SourceError(exc.message, src, entry, line) from None
    if selection is None:  # pragma: no cover - an item with tags is always a selection
        raise SourceError("not a tag selection", src, entry, line)
    return {"src": selection[0], "tags": selector}


def _unique(items: list[Any]) -> list[Any]:
    """Deduplicated, in order (selections compare by value)."""
    out: list[Any] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
