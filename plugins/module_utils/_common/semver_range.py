# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Ranges of semantic versions (:class:`~.version.Version`), as npm's node-semver writes them.

A range is one or more comparator sets joined by ``||`` (OR); the comparators of a set are
separated by spaces or commas (AND). A comparator is an operator (``=``, ``!=``, ``<``, ``<=``,
``>``, ``>=``, ``~``, ``^``; none means ``=``) and a version, with an optional leading ``v`` and a
space allowed after the operator (``>= 8.16.0``). Also: partial versions and wildcards
(``8.16``, ``8.16.x``, ``8.*``, ``*``), tilde (``~8.16.1``: ``>=8.16.1 <8.17.0``), caret
(``^8.16.1``: ``>=8.16.1 <9.0.0``; ``^0.2.3``: ``<0.3.0``) and hyphen ranges (``8.15 - 8.16``).

Pre-releases, as node-semver and Masterminds/semver decide: a pre-release version (``8.16.0-rc1``)
is in a comparator set only when a comparator of that set names a pre-release of the same
``MAJOR.MINOR.PATCH`` (``>=8.16.0-rc1 <8.17.0`` selects ``8.16.0-rc2``, but not ``8.17.0-rc1``).
So ``>=8.16.0 <8.17.0`` never selects a pre-release, and ``*`` means every release.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from .version import Version, VersionError

_PARTIAL = re.compile(r"^[vV]?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?"
                      r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_OPERATOR = re.compile(r"^(<=|>=|!=|==|<|>|=|~>|~|\^)?(.*)$")
_COMPARE: dict[str, Callable[[Version, Version], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq, "!=": operator.ne}


class RangeError(ValueError):
    """Text that is not a version range; the message names the range and the bad part."""


class _Partial:
    """A version as a range writes it: missing or wildcard parts are None."""

    def __init__(self, text: str, whole: str) -> None:
        match = _PARTIAL.match(text)
        if match is None:
            raise RangeError("%r in the range %r is not a version such as 8.16.1, 8.16 or 8.x" % (text, whole))
        parts: list[int | None] = []
        for part in match.groups()[:3]:
            parts.append(None if part is None or part in ("x", "X", "*") else int(part))
        if None in parts:  # everything after a wildcard is one too (8.x.3 is 8.x)
            cut = parts.index(None)
            parts = parts[:cut] + [None] * (3 - cut)
        self.major, self.minor, self.patch = parts
        self.pre = match.group(4) if self.patch is not None else None
        self.text = text

    @property
    def full(self) -> bool:
        return self.patch is not None

    def low(self) -> Version:
        """The lowest version the partial covers (8.16 -> 8.16.0)."""
        text = "%d.%d.%d" % (self.major or 0, self.minor or 0, self.patch or 0)
        return Version(text + ("-" + self.pre if self.pre else ""), "range bound")

    def next_up(self) -> Version:
        """The first version above the partial (8.16 -> 8.17.0, 8 -> 9.0.0; a full version: itself)."""
        if self.major is None:
            raise RangeError("no version is above %r" % self.text)
        if self.minor is None:
            return _version(self.major + 1, 0, 0)
        if self.patch is None:
            return _version(self.major, self.minor + 1, 0)
        return self.low()


def _version(major: int, minor: int, patch: int) -> Version:
    return Version("%d.%d.%d" % (major, minor, patch), "range bound")


Comparator = tuple[str, Version]


class Range:
    """A parsed range: ``Range(">=8.16.0 <8.17.0").contains(Version("8.16.2"))``."""

    __slots__ = ("text", "sets")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise RangeError("a version range must be a non-empty string such as '>=8.16.0 <8.17.0', got %r"
                             % (text,))
        self.text = text.strip()
        self.sets: tuple[tuple[Comparator, ...], ...] = tuple(_parse_set(alt, self.text)
                                                              for alt in self.text.split("||"))

    def contains(self, version: Version) -> bool:
        """Whether *version* is in the range (see the module's rule on pre-releases)."""
        return any(_in_set(version, comparators) for comparators in self.sets)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return "Range(%r)" % self.text


def _in_set(version: Version, comparators: tuple[Comparator, ...]) -> bool:
    if not all(_COMPARE[op](version, bound) for op, bound in comparators):
        return False
    if not version.is_prerelease:
        return True
    return any(bound.is_prerelease and bound.release == version.release for _op, bound in comparators)


def _parse_set(text: str, whole: str) -> tuple[Comparator, ...]:
    # "> = 1.2" is not a thing, but ">= 1.2" is: glue an operator to its version
    tokens = re.sub(r"(<=|>=|!=|==|~>|[<>=~^])\s+", r"\1", text.replace(",", " ")).split()
    if not tokens:
        raise RangeError("the range %r has an empty alternative (nothing around '||')" % whole)
    out: list[Comparator] = []
    i = 0
    while i < len(tokens):
        if i + 2 < len(tokens) and tokens[i + 1] == "-":
            out.extend(_hyphen(tokens[i], tokens[i + 2], whole))
            i += 3
            continue
        out.extend(_comparators(tokens[i], whole))
        i += 1
    return tuple(out)


def _hyphen(low: str, high: str, whole: str) -> list[Comparator]:
    lower, upper = _Partial(low, whole), _Partial(high, whole)
    out: list[Comparator] = [(">=", lower.low())]
    if upper.major is not None:
        out.append(("<=", upper.low()) if upper.full else ("<", upper.next_up()))
    return out


def _comparators(token: str, whole: str) -> list[Comparator]:
    match = _OPERATOR.match(token)
    op, rest = (match.group(1) or "=", match.group(2)) if match else ("=", token)
    op = {"==": "=", "~>": "~"}.get(op, op)
    if not rest:
        raise RangeError("%r in the range %r has no version after the operator" % (token, whole))
    part = _Partial(rest, whole)
    if part.major is None:  # *, x: every release (">=0.0.0"); "<*" and ">*" select nothing
        return [(">=", _version(0, 0, 0))] if op in ("=", ">=", "<=", "~", "^") else [("<", _version(0, 0, 0))]
    if op == "~":
        top = _version(part.major, part.minor + 1, 0) if part.minor is not None else _version(part.major + 1, 0, 0)
        return [(">=", part.low()), ("<", top)]
    if op == "^":
        return [(">=", part.low()), ("<", _caret_top(part))]
    if part.full:
        return [(op, part.low())]
    if op == "=":
        return [(">=", part.low()), ("<", part.next_up())]
    if op == "!=":
        raise RangeError("%r in the range %r: != needs a whole version such as 8.16.1" % (token, whole))
    return {">": [(">=", part.next_up())], ">=": [(">=", part.low())],
            "<": [("<", part.low())], "<=": [("<", part.next_up())]}[op]


def _caret_top(part: _Partial) -> Version:
    """The first version a caret range excludes: the next change of its first non-zero part."""
    major, minor, patch = part.major or 0, part.minor, part.patch
    if major or minor is None:
        return _version(major + 1, 0, 0)
    if minor or patch is None:
        return _version(0, minor + 1, 0)
    return _version(0, 0, patch + 1)


def parse_range(text: str, what: str = "semver") -> Range:
    """The range, or :class:`RangeError` whose message starts with *what*."""
    try:
        return Range(text)
    except (RangeError, VersionError) as exc:
        raise RangeError("%s: %s" % (what, exc)) from None
