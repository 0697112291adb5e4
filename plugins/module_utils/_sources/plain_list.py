# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plain image lists: one reference per line, a YAML list, or a Python list of strings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .documents import DEFAULT_TAG, SourceError, line_of, parse_ref, parse_yaml, text_of, type_name, unique


def _list_items(value: Any, name: str | None) -> Iterator[tuple[Any, str | None, int | None, str | None]]:
    """Yield ``(item, entry, line)`` of a plain list: text lines, a YAML list or a Python list."""
    text, name = text_of(value, name)
    if text is None:
        if not isinstance(value, (list, tuple)):
            raise SourceError("expected a list of image references or text with one reference per "
                              "line, got %s" % type_name(value), name)
        for index, item in enumerate(value):
            yield item, "[%d]" % index, None, name
        return
    first = next((ln.strip() for ln in text.splitlines()
                  if ln.strip() and not ln.strip().startswith("#")), "")
    if first.startswith(("-", "[")):
        # A reference never starts with "-" or "[": this is a YAML (or JSON) list.
        data = parse_yaml(text, name)
        if not isinstance(data, list):
            raise SourceError("expected a YAML list of image references, got %s" % type_name(data), name)
        for index, item in enumerate(data):
            yield item, "[%d]" % index, line_of(data, index), name
        return
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            yield content, None, number, name


def read_image_list(value: Any, name: str | None = None, default_tag: str | None = DEFAULT_TAG) -> list[str]:
    """References of a plain list: one per line (``#`` comments, blank lines), a YAML list, or a
    Python list of strings. A reference with neither tag nor digest gets *default_tag*."""
    refs = []
    for item, entry, line, src in _list_items(value, name):
        if not isinstance(item, str):
            raise SourceError("expected an image reference string, got %s" % type_name(item), src, entry, line)
        refs.append(parse_ref(item, src, entry, line, default_tag))
    return unique(refs)
