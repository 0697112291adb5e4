# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A TOML emitter for plain data: tables, arrays of tables, strings, numbers, booleans, arrays."""

from __future__ import annotations

import math
import re
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def toml_string(value: str) -> str:
    """A TOML basic string for *value* (every character that needs it escaped)."""
    out: list[str] = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("\\u%04X" % ord(char))
        else:
            out.append(char)
    return '"%s"' % "".join(out)


def toml_key(key: str) -> str:
    """*key* bare when it can be, else quoted."""
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    """An inline TOML value for a scalar or an array of scalars; ValueError for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError("refusing to write a non-finite float")
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        if any(isinstance(item, dict) for item in value):
            raise ValueError("an array of tables cannot be written inline here")
        return "[%s]" % ", ".join(toml_value(item) for item in value)
    raise ValueError("cannot write a %s as TOML" % type(value).__name__)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _emit_table(lines: list[str], path: list[str], table: dict[str, Any]) -> None:
    for key, value in table.items():
        if not isinstance(value, dict) and not _is_table_array(value):
            lines.append("%s = %s" % (toml_key(key), toml_value(value)))
    for key, value in table.items():
        sub = path + [toml_key(key)]
        if isinstance(value, dict):
            lines.append("")
            lines.append("[%s]" % ".".join(sub))
            _emit_table(lines, sub, value)
        elif _is_table_array(value):
            for item in value:
                lines.append("")
                lines.append("[[%s]]" % ".".join(sub))
                _emit_table(lines, sub, item)


def dumps(doc: dict[str, Any]) -> str:
    """TOML text for *doc* (dicts of scalars, arrays of scalars, tables and arrays of tables)."""
    lines: list[str] = []
    _emit_table(lines, [], doc)
    while lines and lines[0] == "":
        lines.pop(0)
    return "\n".join(lines) + "\n"
