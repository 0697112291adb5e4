# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Set or remove one key in an existing YAML file without disturbing anything else.

The file is parsed with PyYAML's composer, whose nodes carry start/end marks; the edit is a
surgical text replacement guided by those marks, so comments, key order, quoting and the layout of
every untouched line are kept byte for byte. No ruamel.yaml needed.

Keys are paths of segments. With ``dotted_keys=True`` (Kibana, Elasticsearch, the ECK operator
config) a key written with dots in the file is a path too, so ``xpack.fleet.registryUrl`` is found
whether the file says ``xpack.fleet.registryUrl: ...``, ``xpack: {fleet.registryUrl: ...}`` or a
fully nested ``xpack:\\n  fleet:\\n    registryUrl: ...``. With ``dotted_keys=False`` (ordinary YAML)
dots in the file are part of the key.

Rules:

* an existing key is changed where it is, in the form the file uses; every occurrence is changed
  (a setting written twice, in two forms, would otherwise disagree with itself);
* a missing key goes under the deepest existing block mapping on its path, in that mapping's form
  (dotted keys there -> dotted, otherwise nested), next to the keys sharing the longest prefix with
  it; with nothing on its path it goes at the end of the file, dotted (``dotted_keys``) or nested;
* ``remove`` deletes the key's lines and prunes parents it leaves empty;
* the result is re-parsed before it is returned: it must be one YAML document, every other setting
  must read exactly as before and the key must read back as the requested value, or
  :class:`YAMLEditError` is raised and nothing is written.

Refused with a clear error: several documents in one file, a root that is not a mapping, anchors,
aliases or merge keys (``<<``) touching the edit, inserting into or removing from flow mappings,
replacing a mapping by a scalar, and keys that would collide with existing settings
(``a.b: 1`` when setting ``a.b.c``).
"""

from __future__ import annotations

import copy
import math
import re

try:
    import yaml
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised by the sanity import test only
    yaml = None
    MappingNode = ScalarNode = SequenceNode = ()
    HAS_YAML = False
    YAML_IMPORT_ERROR = _exc

_MERGE_TAG = "tag:yaml.org,2002:merge"
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


class YAMLEditError(ValueError):
    """The edit cannot be made safely; the message names the file, the key and the line."""


class _Missing:
    def __repr__(self):
        return "<missing>"


MISSING = _Missing()


def split_key(key):
    """A key given as ``"a.b.c"`` or ``["a", "b.c"]`` -> list of segments."""
    if isinstance(key, (list, tuple)):
        segments = [str(s) for s in key]
    elif isinstance(key, str):
        segments = key.split(".")
    else:
        raise YAMLEditError("a key must be a string or a list of strings, not %s" % type(key).__name__)
    if not segments or any(s == "" for s in segments):
        raise YAMLEditError("invalid key %r: empty segment" % (key,))
    return segments


# --------------------------------------------------------------------------------------------
# Rendering scalars
# --------------------------------------------------------------------------------------------

def _plain_ok(text, flow):
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


def double_quote(text):
    """A YAML double-quoted scalar for *text* (any string, including control characters)."""
    out = ['"']
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


def _single_quote_ok(text):
    return not any(c in text for c in _LINE_BREAKS) and not _NON_PRINTABLE.search(text) and "\t" not in text


def render_scalar(value, style=None, flow=False):
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


def render_value(value, style=None):
    """A scalar, or a list of scalars as a flow sequence."""
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if isinstance(item, (list, tuple, dict)):
                raise YAMLEditError("only lists of scalars are supported as values")
            items.append(render_scalar(item, flow=True))
        return "[%s]" % ", ".join(items)
    if isinstance(value, dict):
        raise YAMLEditError("a mapping cannot be set as one value; set its keys one by one")
    return render_scalar(value, style=style)


def render_key(text):
    return text if _plain_ok(text, flow=False) else double_quote(text)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

def _same(a, b):
    """Equal values of the same types (``1`` is not ``True``, ``"1"`` is not ``1``)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _construct(node):
    # The constructor mutates merge-key mappings in place: always work on a copy.
    return yaml.constructor.SafeConstructor().construct_object(copy.deepcopy(node), deep=True)


class _Match:
    __slots__ = ("key", "value", "mapping", "trail")

    def __init__(self, key, value, mapping, trail):
        self.key = key          # key ScalarNode
        self.value = value      # value node
        self.mapping = mapping  # MappingNode holding the pair
        self.trail = trail      # [(key node, value node, holding mapping)] of the parents, outermost first


class YAMLDocument:
    """One parsed YAML text, ready for :meth:`set` / :meth:`remove` / :meth:`get`."""

    def __init__(self, text, origin="<yaml>", dotted_keys=True):
        if not HAS_YAML:  # pragma: no cover
            raise YAMLEditError("PyYAML is required")
        self.text = text
        self.origin = origin
        self.dotted_keys = dotted_keys
        self.newline = "\r\n" if "\r\n" in text else "\n"
        try:
            events = list(yaml.parse(text, Loader=yaml.SafeLoader))
            documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise YAMLEditError("%s: not valid YAML: %s" % (origin, exc)) from None
        starts = [e for e in events if isinstance(e, yaml.DocumentStartEvent)]
        if len(starts) > 1:
            raise YAMLEditError(
                "%s: holds %d YAML documents (line %d starts the second); only single-document files "
                "can be edited" % (origin, len(starts), starts[1].start_mark.line + 1)
            )
        self.anchors = sorted(e.start_mark.index for e in events if getattr(e, "anchor", None)
                              and not isinstance(e, yaml.AliasEvent))
        self.aliases = sorted(e.start_mark.index for e in events if isinstance(e, yaml.AliasEvent))
        ends = [e for e in events if isinstance(e, yaml.DocumentEndEvent) and e.explicit]
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

    def _line(self, index):
        return self.text.count("\n", 0, index) + 1

    def _where(self, node):
        return "%s line %d" % (self.origin, node.start_mark.line + 1)

    def _key_segments(self, node):
        if not isinstance(node, ScalarNode):
            return None
        if self.dotted_keys:
            return node.value.split(".")
        return [node.value]

    def _line_start(self, index):
        return self.text.rfind("\n", 0, index) + 1

    def _line_end(self, index):
        """Index just after the line break ending the line that holds *index*."""
        j = self.text.find("\n", index)
        return len(self.text) if j < 0 else j + 1

    def _content_end(self, node):
        """Index just after the last character that belongs to *node* (comments excluded)."""
        if isinstance(node, ScalarNode):
            start, end = node.start_mark.index, node.end_mark.index
            return start + len(self.text[start:end].rstrip(" \t\r\n"))
        if node.flow_style or not node.value:
            return node.end_mark.index
        last = node.value[-1]
        return self._content_end(last[1] if isinstance(node, MappingNode) else last)

    def _check_no_anchor(self, nodes, what):
        for node in nodes:
            if node.start_mark.index in self.anchors:
                raise YAMLEditError(
                    "%s: %s goes through content shared with a YAML anchor/alias (anchor at line %d); "
                    "refusing to edit shared content" % (self.origin, what, node.start_mark.line + 1)
                )

    def _check_region(self, start, end, what):
        for index in self.anchors + self.aliases:
            if start <= index < end:
                raise YAMLEditError(
                    "%s line %d: %s would change a YAML anchor or alias; refusing to edit shared content"
                    % (self.origin, self._line(index), what)
                )

    # -- lookup --------------------------------------------------------------------------------

    def _walk(self, mapping, segments, trail, matches, containers, blockers, stack):
        if id(mapping) in stack:
            raise YAMLEditError("%s: recursive YAML structure" % self._where(mapping))
        stack = stack | {id(mapping)}
        containers.append((mapping, len(trail), trail))
        for key, value in mapping.value:
            if isinstance(key, ScalarNode) and key.tag == _MERGE_TAG:
                raise YAMLEditError(
                    "%s: a merge key (<<) in a mapping on the path of the key; refusing to guess "
                    "where the setting lives" % self._where(key)
                )
            ks = self._key_segments(key)
            if ks is None or segments[:len(ks)] != ks:
                continue
            if len(ks) == len(segments):
                matches.append(_Match(key, value, mapping, trail))
            elif isinstance(value, MappingNode):
                self._walk(value, segments[len(ks):], trail + [(key, value, mapping)], matches,
                           containers, blockers, stack)
            else:
                blockers.append(key)

    def _lookup(self, segments):
        matches, containers, blockers = [], [], []
        if self.root is not None:
            self._walk(self.root, segments, [], matches, containers, blockers, frozenset())
        return matches, containers, blockers

    def _flatten(self, skip=frozenset()):
        """{path tuple: [constructed leaf values, in document order]} of the whole document.

        Value nodes whose ``id`` is in *skip* are left out.
        """
        out = {}

        def walk(node, prefix, stack):
            if id(node) in stack:
                raise YAMLEditError("%s: recursive YAML structure" % self._where(node))
            for key, value in node.value:
                if id(value) in skip:
                    continue
                ks = self._key_segments(key)
                if ks is None:
                    ks = [repr(_construct(key))]
                path = prefix + tuple(ks)
                if isinstance(value, MappingNode) and value.value:
                    walk(value, path, stack | {id(node)})
                else:
                    out.setdefault(path, []).append(_construct(value))

        if self.root is not None:
            walk(self.root, (), frozenset())
        return out

    def get(self, key):
        """All values the key has in the document (several if it is written more than once)."""
        segments = split_key(key)
        matches, _containers, _blockers = self._lookup(segments)
        return [_construct(m.value) for m in matches]

    # -- edits ---------------------------------------------------------------------------------

    def _conflicts(self, segments, flat):
        target = tuple(segments)
        found = []
        for path, values in flat.items():
            if all(v == {} for v in values):
                continue  # an empty mapping is a place for the key, not a collision
            if len(path) < len(target) and target[:len(path)] == path:
                found.append(path)
            elif len(path) > len(target) and path[:len(target)] == target:
                found.append(path)
        return found

    def set(self, key, value, insert_style="auto"):
        """Return the new text with *key* set to *value* (unchanged text when it already is)."""
        segments = split_key(key)
        render_value(value)  # validate the value type early
        matches, containers, _blockers = self._lookup(segments)
        edits = []
        for match in matches:
            current = _construct(match.value)
            if _same(current, value):
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

    def remove(self, key):
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
        merged = []
        for start, end in sorted(set(regions)):
            if merged and start < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return self._apply([(start, end, "") for start, end in merged])

    @staticmethod
    def _trail_nodes(trail):
        nodes = []
        for key, value, _mapping in trail:
            nodes.extend((key, value))
        return nodes

    def _replacement(self, match, value):
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

    def _key_path(self, match):
        return [k.value for k, _v, _m in match.trail] + [match.key.value]

    def _colon_after(self, key):
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

    def _removal(self, match, name):
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

    def _insertion(self, segments, value, containers, insert_style):
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
        remaining = segments[sum(len(self._key_segments(k)) for k, _v, _m in trail):]
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

    def _indent_step(self):
        """Indentation step the file uses for nested mappings (2 when it has none)."""
        if self.root is None:
            return 2
        for key, value in self.root.value:
            if isinstance(value, MappingNode) and not value.flow_style and value.value:
                step = value.value[0][0].start_mark.column - key.start_mark.column
                if step > 0:
                    return step
        return 2

    def _render_insert(self, segments, rendered, style, indent, step):
        nl = self.newline
        if style == "dotted":
            return "%s%s: %s%s" % (" " * indent, render_key(".".join(segments)), rendered, nl)
        lines = []
        for depth, segment in enumerate(segments):
            pad = " " * (indent + depth * step)
            if depth == len(segments) - 1:
                lines.append("%s%s: %s%s" % (pad, render_key(segment), rendered, nl))
            else:
                lines.append("%s%s:%s" % (pad, render_key(segment), nl))
        return "".join(lines)

    def _apply(self, edits):
        text = self.text
        for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + replacement + text[end:]
        return text


def _verify(old, new_text, segments, expected, present):
    """Re-parse *new_text*; raise unless only the target changed and it reads back as expected."""
    try:
        new = YAMLDocument(new_text, origin=old.origin, dotted_keys=old.dotted_keys)
    except YAMLEditError as exc:
        raise YAMLEditError("refusing to write %s: the edited text would not be valid: %s"
                            % (old.origin, exc)) from None
    target = tuple(segments)

    def others(flat):
        return {p: v for p, v in flat.items() if p[:len(target)] != target}

    before, after = others(old._flatten()), others(new._flatten())
    if before != after or any(not _same(before[p], after[p]) for p in before):
        changed = sorted(set(before) ^ set(after)) or [p for p in before if not _same(before[p], after.get(p))]
        raise YAMLEditError(
            "refusing to write %s: the edit of %s would also change %s"
            % (old.origin, ".".join(segments), ", ".join(".".join(map(str, p)) for p in changed[:5]))
        )
    values = new.get(segments)
    if present:
        if not values or not all(_same(v, expected) for v in values):
            raise YAMLEditError("refusing to write %s: %s does not read back as the requested value"
                                % (old.origin, ".".join(segments)))
    else:
        remaining = [p for p in new._flatten() if p[:len(target)] == target]
        if values or remaining:
            raise YAMLEditError("refusing to write %s: %s is still present after removal"
                                % (old.origin, ".".join(segments)))
    return new


def edit_text(text, key, value=None, state="present", origin="<yaml>", dotted_keys=True,
              insert_style="auto"):
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


def get_values(text, key, origin="<yaml>", dotted_keys=True):
    """Every value *key* has in *text* (``[]`` when absent)."""
    return YAMLDocument(text, origin=origin, dotted_keys=dotted_keys).get(key)
