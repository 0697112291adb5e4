# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""One-line YAML scalars, flow sequences and keys that read back as exactly the given value."""

from __future__ import annotations

import math
import re
from typing import Any

from .base import YAMLEditError, yaml

_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
_SHORT_ESCAPES = {
    "\0": "\\0", "\x07": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\x0b": "\\v", "\f": "\\f",
    "\r": "\\r", "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\xa0": "\\_",
    "\u2028": "\\L", "\u2029": "\\P",
}
# Plain scalars that a YAML 1.2 core-schema reader (js-yaml in Kibana, Go yaml.v3) would not read as
# strings although PyYAML (YAML 1.1) does: quote them too, so every reader sees a string.
_YAML12_NON_STRING = re.compile(
    r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|null|Null|NULL|~|true|True|TRUE|false|False|FALSE"
    r"|y|Y|n|N|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$"
)
_PLAIN_FIRST_FORBIDDEN = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS = set(",[]{}")
_LINE_BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


def _plain_ok(text: str, flow: bool) -> bool:
    if not text or text != text.strip() or "\n" in text or "\r" in text:
        return False
    if _NON_PRINTABLE.search(text) or "\t" in text or "\xa0" in text or any(c in text for c in _LINE_BREAKS):
        return False
    if text[0] in _PLAIN_FIRST_FORBIDDEN or text.endswith(":"):
        return False
    if ": " in text or " #" in text or ":\t" in text:
        return False
    if flow and any(c in _FLOW_INDICATORS for c in text):
        return False
    if text in ("---", "...") or text.startswith(("--- ", "... ")):
        return False
    if _YAML12_NON_STRING.match(text):
        return False
    try:
        return yaml.safe_load(text) == text and isinstance(yaml.safe_load(text), str)
    except yaml.YAMLError:
        return False


def double_quote(text: str) -> str:
    """A YAML double-quoted scalar for *text* (any string, including control characters)."""
    out: list[str] = ['"']
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif _NON_PRINTABLE.match(char) or char == "\ufeff":
            code = ord(char)
            if code <= 0xFF:
                out.append("\\x%02x" % code)
            elif code <= 0xFFFF:
                out.append("\\u%04x" % code)
            else:
                out.append("\\U%08x" % code)
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _single_quote_ok(text: str) -> bool:
    return not any(c in text for c in _LINE_BREAKS) and not _NON_PRINTABLE.search(text) and "\t" not in text


def render_scalar(value: Any, style: str | None = None, flow: bool = False) -> str:
    """Render a Python scalar as a one-line YAML scalar that reads back as exactly *value*.

    *style* is the style of the scalar being replaced (``'"'``, ``"'"`` or ``None`` for plain):
    strings keep it when it can represent them. *flow* asks for a scalar safe inside ``[...]``.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return yaml.safe_dump(value).split("\n", 1)[0]
    if not isinstance(value, str):
        raise YAMLEditError("cannot render a %s as a YAML scalar" % type(value).__name__)
    if style == '"':
        return double_quote(value)
    if style == "'" and _single_quote_ok(value):
        return "'%s'" % value.replace("'", "''")
    if _plain_ok(value, flow):
        return value
    return double_quote(value)


def render_value(value: Any, style: str | None = None) -> str:
    """A scalar, or a list of scalars as a flow sequence."""
    if isinstance(value, (list, tuple)):
        items: list[str] = []
        for item in value:
            if isinstance(item, (list, tuple, dict)):
                raise YAMLEditError("only lists of scalars are supported as values")
            items.append(render_scalar(item, flow=True))
        return "[%s]" % ", ".join(items)
    if isinstance(value, dict):
        raise YAMLEditError("a mapping cannot be set as one value; set its keys one by one")
    return render_scalar(value, style=style)


def render_key(text: str) -> str:
    """A mapping key: plain when it can be, else double-quoted."""
    return text if _plain_ok(text, flow=False) else double_quote(text)
