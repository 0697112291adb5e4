# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""TOML parsing: ``tomllib`` / ``tomli`` when present, else the builtin subset parser."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from .errors import TOMLError
from .scan import Scanner

_tomllib: ModuleType | None
try:  # Python >= 3.11
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - depends on the target's Python
    try:
        import tomli as _tomllib  # type: ignore[no-redef,import-not-found]
    except ImportError:
        _tomllib = None

_BARE_KEY_AT = re.compile(r"[A-Za-z0-9_-]+")
_BARE_CHAR = re.compile(r"[A-Za-z0-9_-]")
_DATE_AT = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}")


def available_parser() -> str:
    """``tomllib``, ``tomli`` or ``builtin``: what :func:`loads` uses by default."""
    if _tomllib is None:
        return "builtin"
    return _tomllib.__name__.split(".")[0]


def loads(text: str, parser: str | None = None) -> tuple[dict[str, Any], str]:
    """Parse TOML *text*; returns ``(document, parser name)``. Raises TOMLError."""
    parser = parser or available_parser()
    if parser == "builtin" or _tomllib is None:
        return loads_builtin(text), "builtin"
    try:
        return _tomllib.loads(text), parser
    except _tomllib.TOMLDecodeError as exc:
        raise TOMLError(str(exc)) from None


def loads_builtin(text: str) -> dict[str, Any]:
    """Parse *text* with the builtin subset parser (see :class:`Parser`)."""
    if not isinstance(text, str):
        raise TOMLError("TOML text must be a string")
    return Parser(text).parse()


class Parser(Scanner):
    """A TOML 1.0 parser for the subset configuration files use.

    Supported: comments, ``key = value`` with bare, quoted and dotted keys, ``[table]`` and
    ``[[array.of.tables]]`` headers, basic and literal strings (also multi-line), booleans,
    integers (decimal, hex, octal, binary), floats, arrays and inline tables. Not supported (an
    error, never a guess): dates and times. Duplicate keys and redefined tables are errors.
    """

    def parse(self) -> dict[str, Any]:
        root: dict[str, Any] = {}
        current = root
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                return root
            if self.peek(2) == "[[":
                self.pos += 2
                self.skip_ws()
                keys = self.key()
                self.skip_ws()
                if self.peek(2) != "]]":
                    raise self.error("expected ']]'")
                self.pos += 2
                current = self.open_array_table(root, keys)
            elif self.peek() == "[":
                self.pos += 1
                self.skip_ws()
                keys = self.key()
                self.skip_ws()
                if self.peek() != "]":
                    raise self.error("expected ']'")
                self.pos += 1
                current = self.open_table(root, keys)
            else:
                self.key_value(current)
            self.end_of_line()

    def descend(self, table: dict[str, Any], keys: list[str], start: int) -> dict[str, Any]:
        for key in keys:
            if key not in table:
                table[key] = {}
                table = table[key]
            elif isinstance(table[key], list) and id(table[key]) not in self.frozen:
                table = table[key][-1]
            elif isinstance(table[key], dict) and id(table[key]) not in self.frozen:
                table = table[key]
            else:
                raise self.error("key %r is already defined as a value" % key, start)
        return table

    def open_table(self, root: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        start = self.pos
        parent = self.descend(root, keys[:-1], start)
        last = keys[-1]
        if last in parent:
            table = parent[last]
            if not isinstance(table, dict) or id(table) in self.explicit or id(table) in self.frozen:
                raise self.error("table [%s] is defined twice" % ".".join(keys), start)
        else:
            table = parent[last] = {}
        self.explicit.add(id(table))
        return table

    def open_array_table(self, root: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        start = self.pos
        parent = self.descend(root, keys[:-1], start)
        last = keys[-1]
        if last not in parent:
            parent[last] = []
        array = parent[last]
        if not isinstance(array, list) or id(array) in self.frozen:
            raise self.error("[[%s]] redefines a value that is not an array of tables" % ".".join(keys), start)
        table: dict[str, Any] = {}
        array.append(table)
        self.explicit.add(id(table))
        return table

    def key_value(self, table: dict[str, Any]) -> None:
        start = self.pos
        keys = self.key()
        self.skip_ws()
        if self.peek() != "=":
            raise self.error("expected '=' after a key")
        self.pos += 1
        self.skip_ws()
        value = self.value()
        for key in keys[:-1]:
            if key not in table:
                table[key] = {}
                self.explicit.add(id(table[key]))  # defined by dotted keys: no [header] later
            elif not isinstance(table[key], dict) or id(table[key]) in self.frozen:
                raise self.error("key %r is already defined as a value" % key, start)
            table = table[key]
        if keys[-1] in table:
            raise self.error("duplicate key %r" % ".".join(keys), start)
        table[keys[-1]] = value

    def key(self) -> list[str]:
        keys = [self.simple_key()]
        while True:
            self.skip_ws()
            if self.peek() != ".":
                return keys
            self.pos += 1
            self.skip_ws()
            keys.append(self.simple_key())

    def simple_key(self) -> str:
        char = self.peek()
        if char == '"':
            if self.peek(3) == '"""':
                raise self.error("a key cannot be a multi-line string")
            return self.basic_string()
        if char == "'":
            if self.peek(3) == "'''":
                raise self.error("a key cannot be a multi-line string")
            return self.literal_string()
        match = _BARE_KEY_AT.match(self.text, self.pos)
        if not match:
            raise self.error("expected a key")
        self.pos = match.end()
        return match.group(0)

    def value(self) -> Any:
        char = self.peek()
        if char == '"':
            return self.multiline_basic() if self.peek(3) == '"""' else self.basic_string()
        if char == "'":
            return self.multiline_literal() if self.peek(3) == "'''" else self.literal_string()
        if char == "[":
            return self.array()
        if char == "{":
            return self.inline_table()
        for word, result in (("true", True), ("false", False)):
            if self.text.startswith(word, self.pos) and not _BARE_CHAR.match(self.peek_after(len(word))):
                self.pos += len(word)
                return result
        if _DATE_AT.match(self.text, self.pos):
            raise self.error("dates and times are not supported by this parser")
        return self.number()

    def array(self) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.pos += 1
                break
            items.append(self.value())
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "]":
                self.pos += 1
                break
            raise self.error("expected ',' or ']' in an array")
        self.frozen.add(id(items))
        return items

    def inline_table(self) -> dict[str, Any]:
        self.pos += 1
        table: dict[str, Any] = {}
        self.skip_ws()
        if self.peek() == "}":
            self.pos += 1
            self.frozen.add(id(table))
            return table
        while True:
            self.skip_ws()
            self.key_value(table)
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "}":
                self.pos += 1
                break
            raise self.error("expected ',' or '}' in an inline table")
        self.freeze(table)
        return table

    def freeze(self, value: Any) -> None:
        if isinstance(value, dict):
            self.frozen.add(id(value))
            for item in value.values():
                self.freeze(item)
