# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Versions, compared as Semantic Versioning 2.0 says: the one version type of the collection
(stack and operator versions, and tag selection by version).

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``: a pre-release sorts before its release, pre-release
identifiers compare numerically when both are numbers and as text otherwise (a numeric one sorts
first), and build metadata is kept in the text but takes no part in ordering or equality
(``9.0.0+build1 == 9.0.0``). A leading ``v`` is accepted only where the caller allows it (tags).
"""

from __future__ import annotations

import functools
import re

_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                      r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                      r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")


class VersionError(ValueError):
    """Text that is not a version; the message names what it was meant to be."""


@functools.total_ordering
class Version:
    """An immutable semantic version. ``str()`` gives the text it was parsed from."""

    __slots__ = ("text", "major", "minor", "patch", "prerelease", "build")

    text: str
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...]
    build: str | None

    def __init__(self, text: str, what: str = "version", allow_v: bool = False) -> None:
        raw = text.strip() if isinstance(text, str) else None
        body = raw[1:] if raw and allow_v and raw[:1] in ("v", "V") else raw
        match = _VERSION.match(body) if body else None
        if raw is None or match is None:
            raise VersionError("%s %r is not a version like 8.16.1 (MAJOR.MINOR.PATCH)" % (what, text))
        major, minor, patch, pre, build = match.groups()
        for name, value in (("text", raw), ("major", int(major)), ("minor", int(minor)), ("patch", int(patch)),
                            ("prerelease", tuple(pre.split(".")) if pre else ()), ("build", build)):
            object.__setattr__(self, name, value)

    @classmethod
    def parse(cls, text: str, what: str = "version", allow_v: bool = False) -> Version | None:
        """The version, or None when *text* is not one (for sorting mixed tag lists)."""
        try:
            return cls(text, what, allow_v)
        except VersionError:
            return None

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Version is immutable")

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def release(self) -> tuple[int, int, int]:
        return self.major, self.minor, self.patch

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return "Version(%r)" % self.text
