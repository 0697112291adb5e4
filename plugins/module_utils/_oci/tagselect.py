# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Tag selection: which tags of a repository an image entry ``{src: REPOSITORY, tags: SELECTOR}``
asks for. No I/O: the engine lists the tags (``_engine/selection.py``), this module chooses.

SELECTOR has any of (all given ones apply, in this order):

- ``include``: a regular expression or a list of them; a tag is kept when one matches it whole
  (``re.fullmatch``). None given: every tag.
- ``exclude``: the same; a tag that one matches whole is dropped.
- ``semver``: a version range (``_common/semver_range.py``, npm's syntax and pre-release rule);
  only tags that are versions (``8.16.1``, ``v8.16.1``, ``8.16.1-rc1``) are kept.
- ``newest``: N: the N highest versions among the tags left (tags that are not versions are
  dropped; ``8.16.1-amd64`` is a pre-release of 8.16.1 and sorts below it).

An empty selector (``tags: {}``) selects every tag.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import reference as _ref
from .errors import InvalidReference, OCIError

if TYPE_CHECKING:  # imported where used: a run without tag selections never loads them
    from .._common.semver_range import Range

SELECTOR_KEYS = ("include", "exclude", "semver", "newest")


class TagSelectorError(OCIError):
    """A tag selection that cannot work; the message names the entry and the selector key."""


@dataclasses.dataclass(frozen=True)
class TagSelector:
    """A parsed selector (see the module's docstring)."""

    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    semver: Range | None = None
    newest: int | None = None

    @classmethod
    def parse(cls, value: Any, entry: str = "images") -> TagSelector:
        """The selector of *value* (the ``tags`` of an entry); :class:`TagSelectorError` naming
        *entry* otherwise."""
        if not isinstance(value, dict):
            raise TagSelectorError("tags must be a dictionary with any of %s, got %r"
                                   % (", ".join(SELECTOR_KEYS), value), entry)
        unknown = sorted(str(k) for k in value if k not in SELECTOR_KEYS)
        if unknown:
            raise TagSelectorError("tags has unknown key(s) %s (known: %s)"
                                   % (", ".join(unknown), ", ".join(SELECTOR_KEYS)), entry)
        semver = None
        if value.get("semver") is not None:
            from .._common.semver_range import RangeError, parse_range
            try:
                semver = parse_range(value["semver"], "tags.semver")
            except RangeError as exc:
                raise TagSelectorError(str(exc), entry) from None
        return cls(include=_patterns(value.get("include"), "include", entry),
                   exclude=_patterns(value.get("exclude"), "exclude", entry),
                   semver=semver, newest=_newest(value.get("newest"), entry))

    def select(self, tags: Iterable[str]) -> list[str]:
        """The selected tags: versions first, lowest to highest, then the others by name."""
        from .._common.version import Version
        chosen = []
        for tag in dict.fromkeys(tags):
            if self.include and not any(p.fullmatch(tag) for p in self.include):
                continue
            if any(p.fullmatch(tag) for p in self.exclude):
                continue
            version = Version.parse(tag, "tag", allow_v=True)
            if self.semver is not None and (version is None or not self.semver.contains(version)):
                continue
            chosen.append((version, tag))
        versions = sorted((v, t) for v, t in chosen if v is not None)
        if self.newest is not None:
            return [t for _v, t in versions[-self.newest:]]
        return [t for _v, t in versions] + sorted(t for v, t in chosen if v is None)

    def describe(self) -> str:
        """The selector as the user wrote it, shortly (for messages)."""
        parts = []
        for key in ("include", "exclude"):
            patterns = getattr(self, key)
            if patterns:
                parts.append("%s %s" % (key, ", ".join(repr(p.pattern) for p in patterns)))
        if self.semver is not None:
            parts.append("semver %r" % self.semver.text)
        if self.newest is not None:
            parts.append("newest %d" % self.newest)
        return "; ".join(parts) or "every tag"


def _patterns(value: Any, key: str, entry: str) -> tuple[re.Pattern[str], ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise TagSelectorError("tags.%s must be a regular expression or a list of them, got %r"
                                   % (key, item), entry)
        try:
            out.append(re.compile(item))
        except re.error as exc:
            raise TagSelectorError("tags.%s %r is not a valid regular expression: %s" % (key, item, exc),
                                   entry) from None
    return tuple(out)


def _newest(value: Any, entry: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TagSelectorError("tags.newest must be a positive whole number, got %r" % (value,), entry)
    return value


def selection_of(item: Any) -> tuple[str, TagSelector] | None:
    """``(repository, selector)`` of an image entry that selects tags, None for any other entry.
    The repository must name no tag or digest."""
    if not isinstance(item, dict) or "tags" not in item:
        return None
    src = item.get("src")
    entry = src if isinstance(src, str) and src else repr(item)
    if not isinstance(src, str) or not src.strip():
        raise TagSelectorError("an entry with tags needs src, the repository to list tags of", entry)
    selector = TagSelector.parse(item["tags"], entry)
    try:
        ref = _ref.parse(src.strip())
    except InvalidReference as exc:
        raise TagSelectorError("src: %s" % exc.message, entry) from None
    if ref.identifier is not None:
        raise TagSelectorError("src of an entry with tags is a repository: leave out the tag or digest "
                               "(%s)" % ref.without_digest().without_tag(), entry)
    return ref.name, selector
