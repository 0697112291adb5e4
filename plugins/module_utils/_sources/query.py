# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Any JSON or YAML document, with a JMESPath query selecting its image references."""

from __future__ import annotations

from typing import Any

from .documents import DEFAULT_TAG, SourceError, load_document, parse_ref, plain, type_name, unique

try:
    import jmespath
except ImportError:  # pragma: no cover - exercised only where jmespath is missing
    jmespath = None  # type: ignore[assignment]


def query_images(value: Any, query: Any, name: str | None = None, default_tag: str | None = DEFAULT_TAG) -> list[str]:
    """References selected by a JMESPath *query* from any JSON/YAML document.

    The query must produce a list of strings (``images.*``, ``values(images)``,
    ``items[].image``...). A map result, a single string, null or non-string items are errors.
    """
    if jmespath is None:
        raise SourceError("the query option needs the jmespath Python library, which is not installed", name)
    if not isinstance(query, str) or not query.strip():
        raise SourceError("query must be a non-empty JMESPath expression", name)
    data, src = load_document(value, name, syntax="auto")
    src = src or "<document>"
    try:
        result = jmespath.search(query, plain(data))
    except jmespath.exceptions.ParseError as exc:
        raise SourceError("invalid JMESPath query %r: %s" % (query, exc), src) from None
    except jmespath.exceptions.JMESPathError as exc:
        raise SourceError("JMESPath query %r failed: %s" % (query, exc), src) from None
    if result is None:
        raise SourceError("query %r matched nothing (null): check the key names" % query, src)
    if isinstance(result, dict):
        raise SourceError("query %r gives a map, not a list of strings; select its values, e.g. %r or %r"
                          % (query, query + ".*", "values(%s)" % query), src)
    if not isinstance(result, list):
        raise SourceError("query %r gives %s, not a list of strings" % (query, type_name(result)), src)
    refs = []
    for index, item in enumerate(result):
        entry = "%s[%d]" % (query, index)
        if not isinstance(item, str):
            raise SourceError("query result item is %s, expected an image reference string" % type_name(item),
                              src, entry)
        refs.append(parse_ref(item, src, entry, None, default_tag))
    return unique(refs)
