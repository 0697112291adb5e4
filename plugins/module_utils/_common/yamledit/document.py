# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The edits of a parsed YAML text: set (replace in place or insert) and remove a key."""

from __future__ import annotations

from typing import Any

from .base import MappingNode, ScalarNode, YAMLEditError, construct, same, split_key
from .reader import Container, DocumentReader, Match, Trail
from .render import render_key, render_scalar, render_value

Edit = tuple[int, int, str]


class YAMLDocument(DocumentReader):
    """One parsed YAML text, ready for :meth:`set` / :meth:`remove` / :meth:`get`."""

    def _conflicts(self, segments: list[str], flat: dict[tuple[str, ...], list[Any]]) -> list[tuple[str, ...]]:
        target = tuple(segments)
        found: list[tuple[str, ...]] = []
        for path, values in flat.items():
            if all(v == {} for v in values):
                continue  # an empty mapping is a place for the key, not a collision
            if len(path) < len(target) and target[:len(path)] == path:
                found.append(path)
            elif len(path) > len(target) and path[:len(target)] == target:
                found.append(path)
        return found

    def set(self, key: Any, value: Any, insert_style: str = "auto") -> str:
        """Return the new text with *key* set to *value* (unchanged text when it already is)."""
        segments = split_key(key)
        render_value(value)  # validate the value type early
        matches, containers, _blockers = self._lookup(segments)
        edits: list[Edit] = []
        for match in matches:
            current = construct(match.value)
            if same(current, value):
                continue
            if isinstance(match.value, MappingNode):
                raise YAMLEditError(
                    "%s: %s holds a mapping of settings; refusing to replace it with a single value"
                    % (self._where(match.key), ".".join(segments))
                )
            self._check_no_anchor(self._trail_nodes(match.trail) + [match.key, match.value],
                                  ".".join(segments))
            edits.append(self._replacement(match, value))
        if not matches:
            flat = self._flatten()
            conflicts = self._conflicts(segments, flat)
            if conflicts:
                raise YAMLEditError(
                    "%s: cannot set %s: it collides with the existing setting(s) %s"
                    % (self.origin, ".".join(segments), ", ".join(".".join(map(str, p)) for p in conflicts))
                )
            edits.append(self._insertion(segments, value, containers, insert_style))
        return self._apply(edits)

    def remove(self, key: Any) -> str:
        """Return the new text without *key* (every occurrence); parents left empty are pruned."""
        segments = split_key(key)
        matches, _containers, _blockers = self._lookup(segments)
        # settings below the key that are written elsewhere (``a.b.c: 1`` next to ``a: {b: ...}``)
        # are not removed with it: refuse rather than leave half of them behind
        outside = self._flatten(skip={id(m.value) for m in matches})
        leftover = [p for p in outside if len(p) > len(segments) and p[:len(segments)] == tuple(segments)]
        if leftover:
            raise YAMLEditError(
                "%s: %s also has settings written as separate keys (%s); remove those explicitly"
                % (self.origin, ".".join(segments), ", ".join(".".join(map(str, p)) for p in leftover))
            )
        regions = [self._removal(match, ".".join(segments)) for match in matches]
        merged: list[tuple[int, int]] = []
        for start, end in sorted(set(regions)):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return self._apply([(start, end, "") for start, end in merged])

    @staticmethod
    def _trail_nodes(trail: Trail) -> list[Any]:
        nodes: list[Any] = []
        for key, value, _mapping in trail:
            nodes.extend((key, value))
        return nodes

    def _replacement(self, match: Match, value: Any) -> Edit:
        key, node = match.key, match.value
        style = node.style if isinstance(node, ScalarNode) and node.style in ('"', "'") else None
        if not isinstance(node, ScalarNode) or node.tag not in (
            "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:float", "tag:yaml.org,2002:null",
        ):
            style = None
        in_flow = bool(match.mapping.flow_style)
        rendered = render_value(value, style=style) if not in_flow else (
            render_scalar(value, flow=True) if not isinstance(value, (list, tuple)) else render_value(value)
        )
        start, end = node.start_mark.index, self._content_end(node)
        colon = self._colon_after(key)
        if start == end:
            # empty value (null written as nothing): insert after the colon
            self._check_region(colon, colon + 1, ".".join(self._key_path(match)))
            return (colon + 1, colon + 1, " " + rendered)
        if node.start_mark.line > self.text.count("\n", 0, colon) and not in_flow:
            # the value starts on a later line (block sequence, indented scalar): put the new
            # one-line value right after the colon
            self._check_region(colon + 1, end, ".".join(self._key_path(match)))
            return (colon + 1, end, " " + rendered)
        self._check_region(start, end, ".".join(self._key_path(match)))
        return (start, end, rendered)

    def _key_path(self, match: Match) -> list[str]:
        return [k.value for k, _v, _m in match.trail] + [match.key.value]

    def _colon_after(self, key: Any) -> int:
        """Index of the ':' that separates *key* from its value."""
        i, text = key.end_mark.index, self.text
        while i < len(text):
            char = text[i]
            if char == ":":
                return i
            if char == "#":
                i = self._line_end(i)
                continue
            if char in " \t\r\n":
                i += 1
                continue
            break
        raise YAMLEditError("%s: cannot find the ':' after key %r" % (self._where(key), key.value))

    def _removal(self, match: Match, name: str) -> tuple[int, int]:
        key, value, mapping, trail = match.key, match.value, match.mapping, list(match.trail)
        # prune parents that would be left empty
        while len(mapping.value) == 1 and trail and not mapping.flow_style:
            key, value, mapping = trail.pop()
        if mapping.flow_style:
            raise YAMLEditError(
                "%s: %s is inside a flow mapping ({...}); removing from flow mappings is not supported"
                % (self._where(key), name)
            )
        self._check_no_anchor(self._trail_nodes(trail) + [key, value], name)
        start = self._line_start(key.start_mark.index)
        if self.text[start:key.start_mark.index].strip():
            raise YAMLEditError(
                "%s: %s does not start its own line; refusing to remove it" % (self._where(key), name)
            )
        end = self._line_end(self._content_end(value))
        self._check_region(start, end, "removing " + name)
        return (start, end)

    def _insertion(self, segments: list[str], value: Any, containers: list[Container], insert_style: str) -> Edit:
        name = ".".join(segments)
        if insert_style not in ("auto", "dotted", "nested"):
            raise YAMLEditError("insert_style must be auto, dotted or nested")
        rendered = render_value(value)
        nl = self.newline
        if self.root is None:
            style = "nested" if insert_style == "nested" or not self.dotted_keys else "dotted"
            block = self._render_insert(segments, rendered, style, 0, 2)
            pos = len(self.text) if self.document_end is None else self._line_start(self.document_end)
            prefix = "" if pos == 0 or self.text[:pos].endswith("\n") else nl
            return (pos, pos, prefix + block)
        # deepest existing block mapping on the path (first in document order on ties)
        mapping, _depth, trail = max(containers, key=lambda c: c[1])
        if mapping.flow_style:
            raise YAMLEditError(
                "%s: %s would go inside a flow mapping ({...}); inserting into flow mappings is not "
                "supported: write that mapping in block style first" % (self._where(mapping), name)
            )
        remaining = segments[sum(len(self._key_segments(k) or ()) for k, _v, _m in trail):]
        self._check_no_anchor(self._trail_nodes(trail) + [mapping], name)
        if insert_style != "auto":
            style = insert_style
        elif not self.dotted_keys:
            style = "nested"
        elif trail:
            dotted_here = any("." in k.value for k, _v in mapping.value if isinstance(k, ScalarNode))
            style = "dotted" if dotted_here or len(remaining) == 1 else "nested"
        else:
            style = "dotted"
        if not self.dotted_keys and style == "dotted":
            raise YAMLEditError("insert_style=dotted needs dotted_keys")
        indent = mapping.value[0][0].start_mark.column if mapping.value else 0
        if trail:
            step = indent - trail[-1][0].start_mark.column
        else:
            step = self._indent_step()
        step = step if step > 0 else 2
        block = self._render_insert(remaining, rendered, style, indent, step)
        # after the last sibling sharing the longest prefix, else after the last entry
        best_pair, best_len = None, 0
        for key, val in mapping.value:
            ks = self._key_segments(key) or []
            common = 0
            for a, b in zip(ks, remaining):
                if a != b:
                    break
                common += 1
            if common >= best_len and common > 0:
                best_pair, best_len = (key, val), common
        if best_pair is None and not trail:
            # the root: at the end of the file (before an explicit document end marker)
            pos = len(self.text) if self.document_end is None else self._line_start(self.document_end)
            prefix = "" if self.text[:pos].endswith("\n") or pos == 0 else nl
            return (pos, pos, prefix + block)
        if best_pair is None:
            best_pair = mapping.value[-1]
        pos = self._line_end(self._content_end(best_pair[1]))
        prefix = "" if self.text[:pos].endswith("\n") else nl
        return (pos, pos, prefix + block)

    def _indent_step(self) -> int:
        """Indentation step the file uses for nested mappings (2 when it has none)."""
        if self.root is None:
            return 2
        for key, value in self.root.value:
            if isinstance(value, MappingNode) and not value.flow_style and value.value:
                step = value.value[0][0].start_mark.column - key.start_mark.column
                if step > 0:
                    return step
        return 2

    def _render_insert(self, segments: list[str], rendered: str, style: str, indent: int, step: int) -> str:
        nl = self.newline
        if style == "dotted":
            return "%s%s: %s%s" % (" " * indent, render_key(".".join(segments)), rendered, nl)
        lines: list[str] = []
        for depth, segment in enumerate(segments):
            pad = " " * (indent + depth * step)
            if depth == len(segments) - 1:
                lines.append("%s%s: %s%s" % (pad, render_key(segment), rendered, nl))
            else:
                lines.append("%s%s:%s" % (pad, render_key(segment), nl))
        return "".join(lines)

    def _apply(self, edits: list[Edit]) -> str:
        text = self.text
        for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + replacement + text[end:]
        return text
