# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The images a chart deploys, read from its default ``values.yaml`` for the common patterns -
never by rendering templates, so what a chart computes in its templates is not seen.

Recognised, at any depth (``image``, ``initImage``, ``sidecar.image``, ...: a key that is
``image`` or ends in ``Image``):

* a map with ``repository`` (and optionally ``registry``, ``tag``, ``digest``): the image
  ``[REGISTRY/]REPOSITORY[:TAG][@DIGEST]``; ``global.imageRegistry``, when set, replaces every
  ``registry`` (Bitnami's ``common.images.image`` convention); an empty or missing ``tag`` falls back to the chart's
  ``appVersion`` - the common ``{{ .Values.image.tag | default .Chart.AppVersion }}`` pattern, an
  assumption reported as ``tag_from: appVersion``;
* a string that parses as a full image reference.

Anything else under such a key - a map without ``repository``, a template expression, a
reference that does not parse, a missing tag with no ``appVersion`` - is reported with its path
in ``values.yaml`` and the reason, not guessed.
"""

from __future__ import annotations

from typing import Any

from .._oci import reference as _ref
from .._oci.errors import OCIError


def chart_images(values: dict[str, Any], app_version: str | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """``(images, unresolved)``: each image ``{"path", "image", "tag_from"}`` (tag_from one of
    ``tag``, ``digest``, ``appVersion``, ``reference``), each unresolved ``{"path", "reason"}``,
    both in the order of ``values.yaml``; an image found twice is listed once (first path)."""
    global_values = values.get("global")
    registry = global_values.get("imageRegistry") if isinstance(global_values, dict) else None
    registry = registry if isinstance(registry, str) else ""
    images: list[dict[str, Any]] = []
    unresolved: list[dict[str, str]] = []
    _walk(values, "", _Found(images, unresolved, registry.strip(), app_version))
    seen: set[str] = set()
    unique = []
    for item in images:
        if item["image"] not in seen:
            seen.add(item["image"])
            unique.append(item)
    return unique, unresolved


class _Found:
    def __init__(self, images: list[dict[str, Any]], unresolved: list[dict[str, str]], registry: str,
                 app_version: str | None) -> None:
        self.images = images
        self.unresolved = unresolved
        self.registry = registry
        self.app_version = app_version

    def image(self, path: str, text: str, tag_from: str) -> None:
        if "{{" in text:
            self.unresolved.append({"path": path, "reason": "a template expression (%s) is only known when rendered"
                                    % text})
            return
        try:
            _ref.parse(text)
        except (OCIError, ValueError) as exc:
            self.unresolved.append({"path": path, "reason": "%r is not an image reference: %s" % (text, exc)})
            return
        self.images.append({"path": path, "image": text, "tag_from": tag_from})

    def miss(self, path: str, reason: str) -> None:
        self.unresolved.append({"path": path, "reason": reason})


def _is_image_key(key: str) -> bool:
    return key == "image" or key.endswith("Image")


def _walk(node: Any, path: str, found: _Found) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            key = str(key)
            child = "%s.%s" % (path, key) if path else key
            if _is_image_key(key):
                _image(value, child, found)
            elif isinstance(value, (dict, list)):
                _walk(value, child, found)
    elif isinstance(node, list):
        for n, value in enumerate(node):
            _walk(value, "%s[%d]" % (path, n), found)


def _image(value: Any, path: str, found: _Found) -> None:
    if isinstance(value, str):
        if value.strip():
            found.image(path, value.strip(), "reference")
        else:
            found.miss(path, "empty: the image is set at install time or computed in a template")
        return
    if not isinstance(value, dict):
        if value is not None and not isinstance(value, bool):
            found.miss(path, "a %s, not an image map or reference" % type(value).__name__)
        return
    repository = value.get("repository")
    if not isinstance(repository, str) or not repository.strip():
        if value and all(isinstance(v, dict) for v in value.values()):
            for key, item in value.items():  # a map of images (image.app.repository ...)
                _image(item, "%s.%s" % (path, key), found)
            return
        found.miss(path, "no repository (keys: %s): not a pattern this reader knows" % ", ".join(sorted(map(str, value))))
        return
    own = value.get("registry")
    registry = found.registry or (own.strip() if isinstance(own, str) else "")
    name = "%s/%s" % (registry.rstrip("/"), repository.strip()) if registry else repository.strip()
    tag = value.get("tag")
    tag = "" if tag is None else str(tag).strip()
    digest = value.get("digest")
    digest = digest.strip() if isinstance(digest, str) else ""
    if digest:
        found.image(path, "%s%s@%s" % (name, ":" + tag if tag else "", digest), "digest")
    elif tag:
        found.image(path, "%s:%s" % (name, tag), "tag")
    elif found.app_version:
        found.image(path, "%s:%s" % (name, found.app_version), "appVersion")
    else:
        found.miss(path, "no tag, no digest and no appVersion in Chart.yaml to default to")
