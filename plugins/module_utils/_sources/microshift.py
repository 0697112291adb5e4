# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""MicroShift ``release-<arch>.json`` files: every value of ``.images``."""

from __future__ import annotations

import re
from typing import Any

from .documents import (DEFAULT_TAG, SourceError, is_slurp_result, line_of, load_document, parse_ref, type_name,
                        unique)
from .plain_list import read_image_list


_RELEASE_NAME = re.compile(r"release-([A-Za-z0-9_]+)\.json$")


def _documents(value: Any) -> list[Any]:
    """A list of documents: one document, a list of documents, or a registered loop result."""
    if isinstance(value, dict) and "results" in value and isinstance(value["results"], list) \
            and not is_slurp_result(value) and "images" not in value:
        docs = []
        for index, item in enumerate(value["results"]):
            if isinstance(item, dict) and item.get("skipped"):
                continue
            if isinstance(item, dict) and item.get("failed"):
                raise SourceError("item %d of the loop result failed: %s" % (index, item.get("msg", "")),
                                  str(item.get("source") or item.get("item") or "<loop result>"))
            docs.append(item)
        return docs
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def microshift_release_records(value: Any, name: str | list[str] | None = None) -> list[dict[str, Any]]:
    """One record per ``.images`` entry of one or several MicroShift ``release-<arch>.json``.

    This is the seed's ``jq -r '.images | .[]'``. Each record is ``{name, source, arch, file}``;
    ``arch`` comes from the file name (``release-x86_64.json``) or ``release.arch``, when known.
    """
    records = []
    documents = _documents(value)
    for index, document in enumerate(documents):
        if isinstance(name, (list, tuple)):
            default_name = name[index] if index < len(name) else None
        elif len(documents) == 1:
            default_name = name
        else:
            default_name = "%s[%d]" % (name or "release document", index)
        data, src = load_document(document, default_name, syntax="json")
        src = src or "<release json>"
        if not isinstance(data, dict):
            raise SourceError("top level is %s, expected a JSON object with an 'images' map (the "
                              "MicroShift release-<arch>.json format)" % type_name(data), src)
        if "images" not in data:
            keys = ", ".join(sorted(str(k) for k in data)) or "none"
            raise SourceError("no 'images' key: not a MicroShift release-<arch>.json file (top-level keys: %s)"
                              % keys, src)
        images = data["images"]
        if not isinstance(images, dict):
            raise SourceError("'images' is %s, expected a map of name to image reference" % type_name(images),
                              src, line=line_of(data, "images"))
        match = _RELEASE_NAME.search(str(src))
        arch = match.group(1) if match else None
        release = data.get("release")
        if arch is None and isinstance(release, dict) and isinstance(release.get("arch"), str):
            arch = release["arch"]
        for key, text in images.items():
            entry = "images.%s" % key
            line = line_of(images, key)
            if not isinstance(text, str):
                raise SourceError("expected an image reference string, got %s" % type_name(text), src, entry, line)
            ref = parse_ref(text, src, entry, line)
            records.append({"name": str(key), "source": str(ref), "arch": arch, "file": src})
    return records


def read_microshift_release(value: Any, name: str | list[str] | None = None, extra: Any = None,
                            default_tag: str | None = DEFAULT_TAG) -> list[str]:
    """Every image of one or several MicroShift release files (merged, deduplicated, in file
    order), followed by the user-supplied *extra* references (a list, or plain-list text)."""
    refs = [record["source"] for record in microshift_release_records(value, name)]
    if extra:
        refs.extend(read_image_list(extra, "extra", default_tag=default_tag))
    return unique(refs)
