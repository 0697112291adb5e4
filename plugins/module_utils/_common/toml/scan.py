# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The lexical half of the builtin TOML parser: white space, comments, strings and numbers.

:class:`Scanner` reads values at ``self.pos`` of ``self.text``; :mod:`.parse` builds tables on it.
"""

from __future__ import annotations

import re

from .errors import TOMLError

_NUMBER_AT = re.compile(r"[+-]?[0-9A-Za-z_.+-]*")
_INT = re.compile(r"^(?:[+-]?(?:0|[1-9](?:_?[0-9])*)|0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*"
                  r"|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*)$")
_FLOAT = re.compile(r"^[+-]?(?:0|[1-9](?:_?[0-9])*)(?:\.[0-9](?:_?[0-9])*)?"
                    r"(?:[eE][+-]?[0-9](?:_?[0-9])*)?$")


class Scanner:
    """Position, white space, comments and scalar values of a TOML text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.explicit: set[int] = set()  # ids of tables defined by a [header]
        self.frozen: set[int] = set()  # ids of inline tables and static arrays

    def error(self, message: str, pos: int | None = None) -> TOMLError:
        return TOMLError(message, self.text, self.pos if pos is None else pos)

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos:self.pos + count]

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_comment(self) -> None:
        if self.peek() == "#":
            while self.pos < len(self.text) and self.text[self.pos] != "\n":
                char = self.text[self.pos]
                if char == "\r" and self.peek(2) == "\r\n":
                    return
                if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
                    raise self.error("control character in a comment")
                self.pos += 1

    def skip_blank(self) -> None:
        """Skip white space, comments and newlines."""
        while True:
            self.skip_ws()
            self.skip_comment()
            if self.peek() == "\n":
                self.pos += 1
            elif self.peek(2) == "\r\n":
                self.pos += 2
            else:
                return

    def end_of_line(self) -> None:
        self.skip_ws()
        self.skip_comment()
        if self.pos >= len(self.text):
            return
        if self.peek() == "\n":
            self.pos += 1
        elif self.peek(2) == "\r\n":
            self.pos += 2
        else:
            raise self.error("expected the end of the line")

    def peek_after(self, count: int) -> str:
        return self.text[self.pos + count:self.pos + count + 1]

    def number(self) -> int | float:
        match = _NUMBER_AT.match(self.text, self.pos)
        if not match or not match.group(0):
            raise self.error("expected a value")
        token = match.group(0)
        self.pos = match.end()
        try:
            if token in ("inf", "+inf", "-inf", "nan", "+nan", "-nan"):
                return float(token)
            if _INT.match(token):
                if token.startswith(("0x", "0o", "0b")):
                    return int(token[2:].replace("_", ""), {"x": 16, "o": 8, "b": 2}[token[1]])
                return int(token.replace("_", ""))
            if _FLOAT.match(token):
                return float(token.replace("_", ""))
        except ValueError:
            pass
        raise self.error("invalid value %r" % token, self.pos - len(token))

    def basic_string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated string")
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                out.append(self.escape())
                continue
            if char == "\n" or (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
                raise self.error("control character or newline in a string")
            out.append(char)
            self.pos += 1

    def escape(self) -> str:
        char = self.text[self.pos + 1:self.pos + 2]
        simple = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
        if char in simple and char:
            self.pos += 2
            return simple[char]
        if char in ("u", "U") and char:
            size = 4 if char == "u" else 8
            digits = self.text[self.pos + 2:self.pos + 2 + size]
            if len(digits) != size or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise self.error("invalid unicode escape")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise self.error("escape is not a unicode scalar value")
            self.pos += 2 + size
            return chr(code)
        raise self.error("invalid escape sequence")

    def literal_string(self) -> str:
        self.pos += 1
        end = self.text.find("'", self.pos)
        newline = self.text.find("\n", self.pos)
        if end < 0 or (0 <= newline < end):
            raise self.error("unterminated literal string")
        value = self.text[self.pos:end]
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
            raise self.error("control character in a string")
        self.pos = end + 1
        return value

    def _multiline_start(self) -> None:
        self.pos += 3
        if self.peek() == "\n":
            self.pos += 1
        elif self.peek(2) == "\r\n":
            self.pos += 2

    def _multiline_end(self, quote: str) -> tuple[str, bool]:
        """At a run of quote characters: consume it; return extra quotes, or None if not the end."""
        run = 0
        while self.text[self.pos + run:self.pos + run + 1] == quote:
            run += 1
        if run < 3:
            self.pos += run
            return quote * run, False
        if run > 5:
            raise self.error("too many quotes")
        self.pos += run
        return quote * (run - 3), True

    def multiline_basic(self) -> str:
        self._multiline_start()
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated multi-line string")
            char = self.text[self.pos]
            if char == '"':
                extra, done = self._multiline_end('"')
                out.append(extra)
                if done:
                    return "".join(out)
                continue
            if char == "\\":
                # a line-ending backslash trims the newline and the white space after it
                after = self.pos + 1
                while after < len(self.text) and self.text[after] in " \t":
                    after += 1
                if self.text[after:after + 1] == "\n" or self.text[after:after + 2] == "\r\n":
                    self.pos = after
                    while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
                        self.pos += 1
                    continue
                out.append(self.escape())
                continue
            if char == "\r":
                if self.peek(2) != "\r\n":
                    raise self.error("carriage return without a newline in a string")
                self.pos += 1  # CRLF in a multi-line string reads as a newline
                continue
            if (ord(char) < 0x20 and char not in "\t\n\r") or ord(char) == 0x7F:
                raise self.error("control character in a string")
            out.append(char)
            self.pos += 1

    def multiline_literal(self) -> str:
        self._multiline_start()
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated multi-line literal string")
            char = self.text[self.pos]
            if char == "'":
                extra, done = self._multiline_end("'")
                out.append(extra)
                if done:
                    return "".join(out)
                continue
            if char == "\r":
                if self.peek(2) != "\r\n":
                    raise self.error("carriage return without a newline in a string")
                self.pos += 1  # CRLF in a multi-line string reads as a newline
                continue
            if (ord(char) < 0x20 and char not in "\t\n\r") or ord(char) == 0x7F:
                raise self.error("control character in a string")
            out.append(char)
            self.pos += 1
