# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The ESS installer's ``images_digests.yml``: one image per component and container."""

from __future__ import annotations

from typing import Any

from .documents import SourceError, line_of, load_document, parse_ref, scalar_text, type_name, unique_sources


ESS_KEYS = ("image_repository_server", "image_repository_path", "image_tag", "image_digest")


def ess_image_records(value: Any, name: str | None = None) -> list[dict[str, Any]]:
    """One record per component/container of an ESS installer ``images_digests.yml``.

    Each record is ``{component, container, source, server, path, tag, digest}`` where
    ``source`` is ``server/path:tag@digest`` (tag-only or digest-only when one is missing),
    normalized. An entry without a server or a path, or with neither tag nor digest, is an error
    naming ``component/container``.
    """
    data, src = load_document(value, name, syntax="yaml")
    src = src or "<images_digests>"
    if not isinstance(data, dict):
        raise SourceError("top level is %s, expected a map with an 'images_digests' key" % type_name(data), src)
    if "images_digests" not in data:
        raise SourceError("no 'images_digests' key: not an ESS images_digests.yml file", src)
    components = data["images_digests"]
    if not isinstance(components, dict):
        raise SourceError("'images_digests' is %s, expected a map of component to containers"
                          % type_name(components), src, line=line_of(data, "images_digests"))
    records = []
    for component, containers in components.items():
        cline = line_of(components, component)
        if not isinstance(containers, dict):
            raise SourceError("expected a map of container to image, got %s" % type_name(containers),
                              src, str(component), cline)
        for container, entry in containers.items():
            ident = "%s/%s" % (component, container)
            line = line_of(containers, container)
            if not isinstance(entry, dict):
                raise SourceError("expected a map with image_repository_server, image_repository_path, "
                                  "image_tag and/or image_digest, got %s" % type_name(entry), src, ident, line)
            fields = {}
            for key in ESS_KEYS:
                raw = entry.get(key)
                fields[key] = None if raw is None else (
                    scalar_text(raw, key, src, ident, line_of(entry, key) or line) or None)
            missing = [key for key in ESS_KEYS[:2] if not fields[key]]
            if missing:
                raise SourceError("no %s: cannot tell where the image lives" % " and no ".join(missing),
                                  src, ident, line)
            if not fields["image_tag"] and not fields["image_digest"]:
                raise SourceError("neither image_tag nor image_digest: nothing to pull", src, ident, line)
            server = str(fields["image_repository_server"]).rstrip("/")
            path = str(fields["image_repository_path"]).strip("/")
            text = "%s/%s" % (server, path)
            if fields["image_tag"]:
                text += ":" + fields["image_tag"]
            if fields["image_digest"]:
                text += "@" + fields["image_digest"]
            ref = parse_ref(text, src, ident, line)
            records.append({
                "component": str(component),
                "container": str(container),
                "source": str(ref),
                "server": ref.registry,
                "path": ref.repository,
                "tag": ref.tag,
                "digest": ref.digest,
            })
    return records


def read_ess_images(value: Any, name: str | None = None) -> list[str]:
    """Normalized, deduplicated references of an ESS ``images_digests.yml``."""
    return unique_sources(ess_image_records(value, name))
