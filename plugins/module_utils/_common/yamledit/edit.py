# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""One checked edit of a YAML text: apply it, re-parse, and verify nothing else moved."""

from __future__ import annotations

from typing import Any

from .base import YAMLEditError, same, split_key
from .document import YAMLDocument


def _verify(old: YAMLDocument, new_text: str, segments: list[str], expected: Any,
            present: bool) -> YAMLDocument:
    """Re-parse *new_text*; raise unless only the target changed and it reads back as expected."""
    try:
        new = YAMLDocument(new_text, origin=old.origin, dotted_keys=old.dotted_keys)
    except YAMLEditError as exc:
        raise YAMLEditError("refusing to write %s: the edited text would not be valid: %s"
                            % (old.origin, exc)) from None
    target = tuple(segments)

    def others(flat: dict[tuple[str, ...], list[Any]]) -> dict[tuple[str, ...], list[Any]]:
        return {p: v for p, v in flat.items() if p[:len(target)] != target}

    before, after = others(old._flatten()), others(new._flatten())
    if before != after or any(not same(before[p], after[p]) for p in before):
        changed = sorted(set(before) ^ set(after)) or [p for p in before if not same(before[p], after.get(p))]
        raise YAMLEditError(
            "refusing to write %s: the edit of %s would also change %s"
            % (old.origin, ".".join(segments), ", ".join(".".join(map(str, p)) for p in changed[:5]))
        )
    values = new.get(segments)
    if present:
        if not values or not all(same(v, expected) for v in values):
            raise YAMLEditError("refusing to write %s: %s does not read back as the requested value"
                                % (old.origin, ".".join(segments)))
    else:
        remaining = [p for p in new._flatten() if p[:len(target)] == target]
        if values or remaining:
            raise YAMLEditError("refusing to write %s: %s is still present after removal"
                                % (old.origin, ".".join(segments)))
    return new


def edit_text(text: str, key: Any, value: Any = None, state: str = "present", origin: str = "<yaml>",
              dotted_keys: bool = True, insert_style: str = "auto") -> tuple[str, dict[str, Any]]:
    """Apply one edit to *text*; returns ``(new_text, details)``.

    ``details`` has ``changed``, ``occurrences`` (how often the key was found before the edit) and
    ``action`` (``set``, ``inserted``, ``removed`` or ``none``). Raises :class:`YAMLEditError`.
    """
    if state not in ("present", "absent"):
        raise YAMLEditError("state must be present or absent")
    segments = split_key(key)
    doc = YAMLDocument(text, origin=origin, dotted_keys=dotted_keys)
    occurrences = len(doc.get(segments))
    if state == "present":
        new_text = doc.set(segments, value, insert_style=insert_style)
        action = "set" if occurrences else "inserted"
    else:
        new_text = doc.remove(segments)
        action = "removed"
    if new_text == text:
        return text, {"changed": False, "occurrences": occurrences, "action": "none"}
    _verify(doc, new_text, segments, value, state == "present")
    return new_text, {"changed": True, "occurrences": occurrences, "action": action}


def get_values(text: str, key: Any, origin: str = "<yaml>", dotted_keys: bool = True) -> list[Any]:
    """Every value *key* has in *text* (``[]`` when absent)."""
    return YAMLDocument(text, origin=origin, dotted_keys=dotted_keys).get(key)
