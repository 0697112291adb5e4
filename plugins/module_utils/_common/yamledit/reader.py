# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Reading a YAML text for an edit: the composed node tree with its marks, and key lookups.

:class:`DocumentReader` parses once and finds where a key is written (every occurrence, in any
dotted or nested form); :class:`.document.YAMLDocument` adds the edits on top of it.
"""

from __future__ import annotations

from typing import Any

from .base import (
    HAS_YAML, MERGE_TAG, MappingNode, Node, ScalarNode, SequenceNode, YAMLEditError, construct, split_key, yaml,
)

Trail = list[tuple[Any, Any, Any]]
Container = tuple[Any, int, Trail]


class Match:
    """Where a key is written: its key node, value node, holding mapping and parents."""

    __slots__ = ("key", "value", "mapping", "trail")

    def __init__(self, key: Any, value: Any, mapping: Any, trail: Trail) -> None:
        self.key = key          # key ScalarNode
        self.value = value      # value node
        self.mapping = mapping  # MappingNode holding the pair
        self.trail = trail      # [(key node, value node, holding mapping)] of the parents, outermost first


class DocumentReader:
    """One parsed YAML text and its lookups (:meth:`get`)."""

    def __init__(self, text: str, origin: str = "<yaml>", dotted_keys: bool = True) -> None:
        if not HAS_YAML:  # pragma: no cover
            raise YAMLEditError("PyYAML is required")
        self.text = text
        self.origin = origin
        self.dotted_keys = dotted_keys
        self.newline = "\r\n" if "\r\n" in text else "\n"
        try:
            events: list[Any] = list(yaml.parse(text, Loader=yaml.SafeLoader))
            documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise YAMLEditError("%s: not valid YAML: %s" % (origin, exc)) from None
        starts: list[Any] = [e for e in events if isinstance(e, yaml.DocumentStartEvent)]
        if len(starts) > 1:
            raise YAMLEditError(
                "%s: holds %d YAML documents (line %d starts the second); only single-document files "
                "can be edited" % (origin, len(starts), starts[1].start_mark.line + 1)
            )
        self.anchors: list[int] = sorted(e.start_mark.index for e in events if getattr(e, "anchor", None)
                                         and not isinstance(e, yaml.AliasEvent))
        aliases: list[Any] = [e for e in events if isinstance(e, yaml.AliasEvent)]
        self.aliases: list[int] = sorted(e.start_mark.index for e in aliases)
        ends: list[Any] = [e for e in events if isinstance(e, yaml.DocumentEndEvent) and e.explicit]
        self.document_end = ends[0].start_mark.index if ends else None
        root = documents[0] if documents else None
        if isinstance(root, ScalarNode) and root.tag == "tag:yaml.org,2002:null" and not root.value:
            root = None
        if root is not None and not isinstance(root, MappingNode):
            raise YAMLEditError(
                "%s: the document is a %s, not a mapping of settings"
                % (origin, "list" if isinstance(root, SequenceNode) else "scalar")
            )
        self.root = root

    # -- helpers -------------------------------------------------------------------------------

    def _line(self, index: int) -> int:
        return self.text.count("\n", 0, index) + 1

    def _where(self, node: Node) -> str:
        return "%s line %d" % (self.origin, node.start_mark.line + 1)

    def _key_segments(self, node: Node) -> list[str] | None:
        if not isinstance(node, ScalarNode):
            return None
        if self.dotted_keys:
            return node.value.split(".")
        return [node.value]

    def _line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def _line_end(self, index: int) -> int:
        """Index just after the line break ending the line that holds *index*."""
        j = self.text.find("\n", index)
        return len(self.text) if j < 0 else j + 1

    def _content_end(self, node: Any) -> int:
        """Index just after the last character that belongs to *node* (comments excluded)."""
        if isinstance(node, ScalarNode):
            start, end = node.start_mark.index, node.end_mark.index
            return start + len(self.text[start:end].rstrip(" \t\r\n"))
        if node.flow_style or not node.value:
            return node.end_mark.index
        last = node.value[-1]
        return self._content_end(last[1] if isinstance(node, MappingNode) else last)

    def _check_no_anchor(self, nodes: list[Any], what: str) -> None:
        for node in nodes:
            if node.start_mark.index in self.anchors:
                raise YAMLEditError(
                    "%s: %s goes through content shared with a YAML anchor/alias (anchor at line %d); "
                    "refusing to edit shared content" % (self.origin, what, node.start_mark.line + 1)
                )

    def _check_region(self, start: int, end: int, what: str) -> None:
        for index in self.anchors + self.aliases:
            if start <= index < end:
                raise YAMLEditError(
                    "%s line %d: %s would change a YAML anchor or alias; refusing to edit shared content"
                    % (self.origin, self._line(index), what)
                )

    # -- lookup --------------------------------------------------------------------------------

    def _walk(self, mapping: Any, segments: list[str], trail: Trail, matches: list[Match],
              containers: list[Container], blockers: list[Any], stack: frozenset[int]) -> None:
        if id(mapping) in stack:
            raise YAMLEditError("%s: recursive YAML structure" % self._where(mapping))
        stack = stack | {id(mapping)}
        containers.append((mapping, len(trail), trail))
        for key, value in mapping.value:
            if isinstance(key, ScalarNode) and key.tag == MERGE_TAG:
                raise YAMLEditError(
                    "%s: a merge key (<<) in a mapping on the path of the key; refusing to guess "
                    "where the setting lives" % self._where(key)
                )
            ks = self._key_segments(key)
            if ks is None or segments[:len(ks)] != ks:
                continue
            if len(ks) == len(segments):
                matches.append(Match(key, value, mapping, trail))
            elif isinstance(value, MappingNode):
                self._walk(value, segments[len(ks):], trail + [(key, value, mapping)], matches,
                           containers, blockers, stack)
            else:
                blockers.append(key)

    def _lookup(self, segments: list[str]) -> tuple[list[Match], list[Container], list[Any]]:
        matches: list[Match] = []
        containers: list[Container] = []
        blockers: list[Any] = []
        if self.root is not None:
            self._walk(self.root, segments, [], matches, containers, blockers, frozenset())
        return matches, containers, blockers

    def _flatten(self, skip: frozenset[int] | set[int] = frozenset()) -> dict[tuple[str, ...], list[Any]]:
        """{path tuple: [constructed leaf values, in document order]} of the whole document.

        Value nodes whose ``id`` is in *skip* are left out.
        """
        out: dict[tuple[str, ...], list[Any]] = {}

        def walk(node: Any, prefix: tuple[str, ...], stack: frozenset[int]) -> None:
            if id(node) in stack:
                raise YAMLEditError("%s: recursive YAML structure" % self._where(node))
            for key, value in node.value:
                if id(value) in skip:
                    continue
                ks = self._key_segments(key)
                if ks is None:
                    ks = [repr(construct(key))]
                path = prefix + tuple(ks)
                if isinstance(value, MappingNode) and value.value:
                    walk(value, path, stack | {id(node)})
                else:
                    out.setdefault(path, []).append(construct(value))

        if self.root is not None:
            walk(self.root, (), frozenset())
        return out

    def get(self, key: Any) -> list[Any]:
        """All values the key has in the document (several if it is written more than once)."""
        segments = split_key(key)
        matches, _containers, _blockers = self._lookup(segments)
        return [construct(m.value) for m in matches]
