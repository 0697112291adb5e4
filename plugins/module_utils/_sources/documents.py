# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Reading the documents image lists come in, and the error every reader raises.

Input documents can be given as

* text (``str`` or ``bytes``): parsed here, so syntax errors carry a line and column and
  entry errors carry the line of the entry;
* the result of ``ansible.builtin.slurp`` (``{"content": <base64>, "encoding": "base64",
  "source": <path>}``): decoded here, the file is named after ``source``;
* already parsed data (``dict``/``list``), e.g. from ``from_json``: accepted, but errors then
  have no line numbers, and YAML scalars like ``1.10`` may already have been turned into numbers.

YAML text is read with the safe loader, except that plain scalars are kept as strings (only
``true``/``false`` and ``null`` are resolved), so that a tag written ``1.10`` stays ``1.10``.
Duplicate keys in YAML and JSON text are errors (they would silently hide an entry).

Errors are :class:`SourceError` (an :class:`_oci.errors.OCIError`) whose text names the file,
the line when known, and the entry (``images.cli``, ``adminbot/haproxy``, ``[3]``...).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Generator, Iterable
from typing import Any

from .._oci import reference as _ref
from .._oci.errors import InvalidReference, OCIError

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is an ansible-core requirement
    yaml = None  # type: ignore[assignment]


DEFAULT_TAG = "latest"


class SourceError(OCIError):
    """A vendor image list that cannot be read: names the file, the line and the entry."""

    def __init__(self, message: str, source: str | None = None, entry: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.entry = entry
        self.line = line
        self.column = column

    def __str__(self) -> str:
        parts = []
        if self.source or self.line:
            where = self.source or "<input>"
            if self.line:
                where += ":%d" % self.line
                if self.column:
                    where += ":%d" % self.column
            parts.append(where)
        if self.entry:
            parts.append(self.entry)
        parts.append(self.message)
        return ": ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.update(message=str(self), source=self.source, entry=self.entry, line=self.line)
        return data


class LineDict(dict):
    """A dict that remembers the line of each key (1-based) when it came from text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: dict[Any, int] = {}


class LineList(list):
    """A list that remembers the line of each item (1-based) when it came from text."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[int] = []


def line_of(container: Any, key: Any) -> int | None:
    """The line of *key* in a container read from text, or None."""
    lines = getattr(container, "lines", None)
    if lines is None:
        return None
    if isinstance(lines, dict):
        return lines.get(key)
    if isinstance(key, int) and 0 <= key < len(lines):
        return int(lines[key])
    return None


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first: int | None, second: int | None) -> None:
        super().__init__(key)
        self.key = key
        self.first = first
        self.second = second


if yaml is not None:

    class _LineLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """Safe loader building LineDict/LineList and refusing duplicate keys."""

    def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Generator[LineDict, None, None]:
        data = LineDict()
        yield data
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found an unhashable key", key_node.start_mark) from None
            line = key_node.start_mark.line + 1
            if key in data:
                raise _DuplicateKey(key, data.lines.get(key), line)
            data[key] = loader.construct_object(value_node, deep=True)
            data.lines[key] = line

    def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Generator[LineList, None, None]:
        data = LineList()
        yield data
        for child in node.value:
            data.append(loader.construct_object(child, deep=True))
            data.lines.append(child.start_mark.line + 1)

    _LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    _LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)

    class _StringLineLoader(_LineLoader):  # pylint: disable=too-many-ancestors
        """_LineLoader that keeps plain scalars as strings, except booleans and null."""

    _StringLineLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
                           "tag:yaml.org,2002:merge")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _require_yaml() -> None:
    if yaml is None:
        raise SourceError("reading YAML needs the PyYAML Python library, which is not installed")


def plain(value: Any) -> Any:
    """A deep copy made of plain dict/list/str (Ansible hands over tagged subclasses)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    return value


def is_slurp_result(value: Any) -> bool:
    """True for the result of ``ansible.builtin.slurp`` (content + encoding)."""
    return (isinstance(value, dict) and "content" in value and "encoding" in value
            and isinstance(value.get("content"), str))


def _decode_slurp(value: dict[str, Any], name: str | None) -> tuple[bytes, str | None]:
    source = value.get("source") or name
    encoding = value.get("encoding")
    if encoding != "base64":
        raise SourceError("slurp result has encoding %r, expected 'base64'" % (encoding,), source)
    try:
        raw = base64.b64decode(value["content"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SourceError("slurp content is not valid base64: %s" % exc, source) from None
    return raw, source


def _to_text(raw: str | bytes, name: str | None) -> str:
    if isinstance(raw, str):
        return raw[1:] if raw.startswith("\ufeff") else raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError("not UTF-8 text (byte %d)" % exc.start, name) from None


def text_of(value: Any, name: str | None = None) -> tuple[str | None, str | None]:
    """``(text, name)`` for text, bytes or a slurp result; ``(None, name)`` for parsed data."""
    if is_slurp_result(value):
        raw, name = _decode_slurp(value, name)
        return _to_text(raw, name), name
    if isinstance(value, (str, bytes)):
        return _to_text(value, name), name
    return None, name


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, val in pairs:
        if key in data:
            raise _DuplicateKey(key, None, None)
        data[key] = val
    return data


def parse_json(text: str, name: str | None) -> Any:
    """Parse JSON text; errors carry line and column. Keys carry their lines when possible."""
    data = duplicate = None
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs)
    except json.JSONDecodeError as exc:
        raise SourceError("not valid JSON: %s" % exc.msg, name, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        # the YAML pass below finds its line when it can read the text
        duplicate = exc
    # A second pass with the YAML loader only to learn the line of every key. JSON is (nearly) a
    # subset of YAML; when the YAML reading differs or fails, the JSON data is kept without lines.
    if yaml is not None:
        try:
            located = yaml.load(text, Loader=_LineLoader)  # nosec B506 - safe loader subclass
        except _DuplicateKey as exc:
            raise SourceError("duplicate key %r (lines %s and %s)" % (exc.key, exc.first, exc.second),
                              name, line=exc.second) from None
        except yaml.YAMLError:
            located = None
        if duplicate is None and located == data:
            return located
    if duplicate is not None:
        raise SourceError("duplicate key %r" % (duplicate.key,), name)
    return data


def parse_yaml(text: str, name: str | None) -> Any:
    """Parse YAML text (plain scalars stay strings); errors carry line and column."""
    _require_yaml()
    try:
        return yaml.load(text, Loader=_StringLineLoader)  # nosec B506 - safe loader subclass
    except _DuplicateKey as exc:
        raise SourceError("duplicate key %r (lines %s and %s)" % (exc.key, exc.first, exc.second),
                          name, line=exc.second) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise SourceError("not valid YAML: %s" % problem, name,
                          line=mark.line + 1 if mark else None,
                          column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SourceError("not valid YAML: %s" % exc, name) from None


def load_document(value: Any, name: str | None = None, syntax: str = "yaml") -> tuple[Any, str | None]:
    """``(data, name)`` of one document: text, bytes, a slurp result or parsed data.

    *syntax* is ``json``, ``yaml`` or ``auto`` (JSON when the text starts with ``{`` or ``[``,
    YAML otherwise).
    """
    text, name = text_of(value, name)
    if text is None:
        return plain(value), name
    if syntax == "json":
        return parse_json(text, name), name
    if syntax == "auto" and text.lstrip().startswith(("{", "[")):
        # Text that starts like JSON is read as JSON only: YAML would accept broken JSON (a
        # trailing comma, a missing quote) and quietly read something else.
        return parse_json(text, name), name
    return parse_yaml(text, name), name


def type_name(value: Any) -> str:
    """What *value* is, for messages: ``null``, ``a map``, ``a number (1.1)``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number (%r)" % (value,)
    return "a %s" % type(value).__name__


#: the scheme Helm writes before a chart reference in an OCI registry
HELM_OCI = "oci://"


def parse_ref(text: str, name: str | None, entry: str | None, line: int | None,
              default_tag: str | None = None) -> _ref.Reference:
    """The normalized reference of *text*; a bad one is a :class:`SourceError` naming the entry.
    Helm's chart notation ``oci://HOST/REPO:VERSION`` names the registry reference after ``oci://``
    (a chart in an OCI registry is mirrored like an image; see docs/charts.md)."""
    if isinstance(text, str) and text.strip().startswith(HELM_OCI):
        text = text.strip()[len(HELM_OCI):]
    try:
        return _ref.parse(text, default_tag=default_tag or None)
    except InvalidReference as exc:
        raise SourceError(exc.message, name, entry=entry, line=line) from None


def unique(refs: Iterable[object]) -> list[str]:
    """The text of each reference, deduplicated, in order."""
    seen = set()
    out = []
    for ref in refs:
        text = str(ref)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def unique_sources(records: Iterable[dict[str, Any]]) -> list[str]:
    """The ``source`` of each record, deduplicated, in order."""
    return unique(record["source"] for record in records)


def scalar_text(value: Any, what: str, name: str | None, entry: str | None, line: int | None) -> str:
    """A tag/digest/server value as text; numbers from pre-parsed YAML are refused or converted."""
    if isinstance(value, bool):
        raise SourceError("%s is a boolean (%r): quote it in the file" % (what, value), name, entry, line)
    if isinstance(value, float):
        raise SourceError(
            "%s was read as the number %r, which may have lost characters (1.10 becomes 1.1): "
            "quote it in the file, or pass the file's text instead of parsed data" % (what, value),
            name, entry, line)
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise SourceError("%s is %s, expected a string" % (what, type_name(value)), name, entry, line)
    return value.strip()
