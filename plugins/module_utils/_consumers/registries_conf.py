# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""containers-registries.conf(5) version 2 drop-ins: build, emit, parse back, validate.

A drop-in in ``/etc/containers/registries.conf.d/*.conf`` is read by every containers/image
consumer on the host (CRI-O, podman, skopeo, buildah). A broken one breaks every pull, and
unknown keys are ignored silently, so nothing is written that has not passed:

1. structural checks of the data (:func:`validate`): prefix formats (``host[:port][/path]``,
   optionally ``:tag``/``@digest``, or a ``*.example.com`` wildcard), locations
   (``host[:port][/path]``, never a scheme), no duplicate prefixes, no conflicting ``insecure``
   or ``blocked`` for one location, ``pull-from-mirror`` values and its exclusion with
   ``mirror-by-digest-only`` (the rules containers/image enforces, plus stricter ones of ours);
2. the TOML text produced by :func:`dumps` (code, not a template) parsed back by the best
   available parser - ``tomllib`` (Python >= 3.11), ``tomli`` if importable, else the small
   parser in this file (:func:`loads_builtin`, the TOML subset these files use, refusing what it
   does not understand) - and the parsed document validated again and compared with the data.

Drop-ins are applied in lexical order of their file names and a later ``[[registry]]`` with the
same prefix replaces an earlier one entirely (mirrors are not merged): :func:`find_conflicts`
reports which other drop-in of the directory claims one of our prefixes, and which file wins.

No Ansible imports.
"""

from __future__ import annotations

import math
import os
import re

from .._mirrormap import legacy as _mirrormap
from .._oci import reference as _ref

DEFAULT_PATH = "/etc/containers/registries.conf.d/999-microshift-mirror.conf"
FILE_MODE = 0o644
DIR_MODE = 0o755
MARKER = "Ansible managed by airgap.mirror.registries_conf"
HEADER = (
    "# %s: changes by hand are overwritten.\n"
    "# containers-registries.conf(5) version 2 drop-in. Drop-ins are applied in lexical order of\n"
    "# their file names; a later [[registry]] with the same prefix replaces this one entirely.\n"
) % MARKER
PULL_FROM_MIRROR = ("all", "digest-only", "tag-only")

REGISTRY_KEYS = ("prefix", "location", "insecure", "blocked", "mirror-by-digest-only", "mirror")
MIRROR_KEYS = ("location", "insecure", "pull-from-mirror")

_WILDCARD = re.compile(r"^\*\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
                       r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$")


class RegistriesConfError(ValueError):
    """Invalid registries.conf data or text; the message names the entry or file and line."""


class TOMLError(ValueError):
    """Text that the builtin TOML parser cannot read (invalid, or outside the supported subset)."""

    def __init__(self, message, text=None, pos=None):
        if text is not None and pos is not None:
            line = text.count("\n", 0, pos) + 1
            col = pos - (text.rfind("\n", 0, pos) + 1) + 1
            message = "%s (at line %d, column %d)" % (message, line, col)
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# prefixes and locations


def _domain_like(host):
    return "." in host or ":" in host or host == "localhost" or host.startswith("[")


def check_location(value):
    """Return *value* as ``host[:port][/path]`` (trailing ``/`` removed) or raise ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty host[:port][/path]")
    if value != value.strip():
        raise ValueError("%r has leading or trailing white space" % value)
    if "://" in value:
        raise ValueError("%r: give host[:port][/path] without a scheme" % value)
    trimmed = value.rstrip("/")
    try:
        _ref.parse_registry_prefix(trimmed)
    except _ref.InvalidReference as exc:
        raise ValueError("%r: %s" % (value, exc.reason)) from None
    host = trimmed.partition("/")[0]
    _check_host(value, host)
    return trimmed


def _check_host(value, host):
    if not _domain_like(host):
        raise ValueError(
            "%r: the first component must be a registry host (with a '.' or a ':port', or "
            "'localhost'); a name without one is a Docker Hub repository" % value
        )
    if _ref.normalize_registry(host) != host:
        raise ValueError(
            "%r: image names are normalized to %s; containers/image would never match or "
            "rewrite to %s" % (value, _ref.normalize_registry(host), host)
        )


def check_prefix(value):
    """Return *value* as a valid prefix (trailing ``/`` removed) or raise ValueError.

    Accepted: ``host[:port]``, ``host[:port]/namespace.../repo``, the same with ``:tag`` or
    ``@digest``, and ``*.example.com`` (wildcard subdomains: no port, path, tag or digest).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty prefix")
    if value != value.strip():
        raise ValueError("%r has leading or trailing white space" % value)
    if "://" in value:
        raise ValueError("%r: a prefix has no scheme" % value)
    trimmed = value.rstrip("/")
    if trimmed.startswith("*"):
        if not _WILDCARD.match(trimmed):
            raise ValueError(
                "%r: a wildcard prefix must be of the form *.example.com (no port, path, tag or "
                "digest; the '*' only at the start)" % value
            )
        return trimmed
    if "*" in trimmed:
        raise ValueError("%r: '*' is only allowed as the first label of a wildcard prefix" % value)
    host = trimmed.partition("/")[0]
    _check_host(value, host)
    if "/" not in trimmed:
        try:
            _ref.parse_registry_prefix(trimmed)
        except _ref.InvalidReference as exc:
            raise ValueError("%r: %s" % (value, exc.reason)) from None
    else:
        try:
            parsed = _ref.parse(trimmed)
        except _ref.InvalidReference as exc:
            raise ValueError("%r: %s" % (value, exc.reason)) from None
        if str(parsed) != trimmed:
            raise ValueError(
                "%r: image names are normalized to %s, so this prefix would never match; write %s"
                % (value, parsed, parsed)
            )
    return trimmed


def effective_prefix(entry):
    """The prefix containers/image keys a ``[[registry]]`` table by (prefix, else location)."""
    prefix = entry.get("prefix") or ""
    if not isinstance(prefix, str):
        return None
    prefix = prefix.rstrip("/")
    if prefix:
        return prefix
    location = entry.get("location")
    return location.rstrip("/") if isinstance(location, str) and location.rstrip("/") else None


# ---------------------------------------------------------------------------------------------
# the data model: TOML-shaped dicts, each with a label naming where it came from


def build(registries=None, pairs=None, mirror_insecure=False, mirror_by_digest_only=True,
          mirror_registry_entry=True):
    """Turn module options into ``[(label, registry table)]``.

    *registries*: dicts with ``prefix``, ``location``, ``insecure``, ``blocked``,
    ``mirror_by_digest_only`` and ``mirrors`` (dicts with ``location``, ``insecure``,
    ``pull_from_mirror``). *pairs*: dicts with ``source`` (prefix) and ``mirror`` (location).
    With *mirror_registry_entry*, every mirror host named by *pairs* gets an entry of its own
    (prefix = location = host[:port], ``insecure`` = *mirror_insecure*), as seed 003 section 2.6
    writes it, unless an entry already has that prefix. Order: mirror entries, *registries* in the
    given order, *pairs* sorted by source.
    """
    out = []
    for index, item in enumerate(registries or []):
        label = "registries[%d]" % index
        if not isinstance(item, dict):
            raise RegistriesConfError("%s: expected a dict, not %s" % (label, type(item).__name__))
        unknown = sorted(set(item) - {"prefix", "location", "insecure", "blocked", "mirror_by_digest_only", "mirrors"})
        if unknown:
            raise RegistriesConfError("%s: unknown key(s) %s" % (label, ", ".join(unknown)))
        table = {}
        prefix = item.get("prefix")
        location = item.get("location")
        if prefix:
            table["prefix"] = prefix
        if location:
            table["location"] = location
        elif prefix and not str(prefix).startswith("*"):
            table["location"] = prefix  # the same physical place; written out for the reader
        if "prefix" not in table and location:
            table["prefix"] = location
        label += " (%s)" % (table.get("prefix") or "no prefix")
        table["insecure"] = bool(item.get("insecure"))
        if item.get("blocked"):
            table["blocked"] = True
        mirrors = []
        for mindex, mirror in enumerate(item.get("mirrors") or []):
            if not isinstance(mirror, dict):
                raise RegistriesConfError("%s: mirrors[%d]: expected a dict" % (label, mindex))
            unknown = sorted(set(mirror) - {"location", "insecure", "pull_from_mirror"})
            if unknown:
                raise RegistriesConfError("%s: mirrors[%d]: unknown key(s) %s" % (label, mindex, ", ".join(unknown)))
            mtable = {"location": mirror.get("location"), "insecure": bool(mirror.get("insecure"))}
            if mirror.get("pull_from_mirror"):
                mtable["pull-from-mirror"] = mirror["pull_from_mirror"]
            mirrors.append(mtable)
        digest_only = item.get("mirror_by_digest_only")
        if digest_only is None:
            # default: digest-only, unless a mirror says how it is to be used (containers/image
            # refuses both at once)
            digest_only = None if any("pull-from-mirror" in m for m in mirrors) else True
        if mirrors and digest_only is not None:
            table["mirror-by-digest-only"] = bool(digest_only)
        if mirrors:
            table["mirror"] = mirrors
        out.append((label, table))

    pair_tables = []
    mirror_hosts = []
    for index, pair in enumerate(pairs or []):
        if not isinstance(pair, dict) or set(pair) - {"source", "mirror"} or not pair.get("source") or not pair.get("mirror"):
            raise RegistriesConfError("pairs[%d]: expected a dict with exactly 'source' and 'mirror'" % index)
        source, mirror = pair["source"], pair["mirror"]
        label = "pairs[%d] (%s -> %s)" % (index, source, mirror)
        table = {"prefix": source}
        if not str(source).startswith("*"):
            table["location"] = source
        table["insecure"] = False
        table["mirror-by-digest-only"] = bool(mirror_by_digest_only)
        table["mirror"] = [{"location": mirror, "insecure": bool(mirror_insecure)}]
        pair_tables.append((label, table))
        host = str(mirror).rstrip("/").partition("/")[0]
        if host not in mirror_hosts:
            mirror_hosts.append(host)
    pair_tables.sort(key=lambda item: str(item[1]["prefix"]))

    head = []
    if mirror_registry_entry:
        taken = {effective_prefix(t) for _l, t in out + pair_tables}
        for host in sorted(mirror_hosts):
            if host not in taken:
                head.append(("mirror registry %s" % host, {"prefix": host, "location": host, "insecure": bool(mirror_insecure)}))
    return head + out + pair_tables


def validate(entries):
    """Check ``[(label, registry table)]``; raise RegistriesConfError listing every problem."""
    problems = []
    seen = {}
    by_location = {}
    for label, table in entries:
        if not isinstance(table, dict):
            problems.append("%s: expected a table" % label)
            continue
        unknown = sorted(set(table) - set(REGISTRY_KEYS))
        if unknown:
            problems.append("%s: unknown key(s) %s (containers/image would ignore them silently)" % (label, ", ".join(unknown)))
        for key in ("prefix", "location"):
            if key in table and not isinstance(table[key], str):
                problems.append("%s: %s must be a string" % (label, key))
        for key in ("insecure", "blocked", "mirror-by-digest-only"):
            if key in table and not isinstance(table[key], bool):
                problems.append("%s: %s must be true or false" % (label, key))
        prefix = table.get("prefix") if isinstance(table.get("prefix"), str) else ""
        location = table.get("location") if isinstance(table.get("location"), str) else ""
        if not prefix and not location:
            problems.append("%s: neither prefix nor location is set" % label)
            continue
        if prefix:
            try:
                prefix = check_prefix(prefix)
            except ValueError as exc:
                problems.append("%s: prefix %s" % (label, exc))
                continue
        wildcard = prefix.startswith("*.")
        if location:
            try:
                location = check_location(location)
            except ValueError as exc:
                problems.append("%s: location %s" % (label, exc))
                continue
            if wildcard:
                problems.append(
                    "%s: a wildcard prefix (%s) takes no location (references are used as they are)"
                    % (label, prefix)
                )
        elif not wildcard:
            location = prefix
        key = prefix or location
        if key in seen:
            problems.append("%s: prefix %s is already used by %s (containers/image would silently "
                            "ignore one of them)" % (label, key, seen[key]))
        else:
            seen[key] = label
        conflict_key = location or prefix
        flags = (bool(table.get("insecure")), bool(table.get("blocked")))
        if conflict_key in by_location and by_location[conflict_key][1] != flags:
            other, other_flags = by_location[conflict_key]
            what = "insecure" if other_flags[0] != flags[0] else "blocked"
            problems.append("%s: location %s is also used by %s with a different '%s' setting "
                            "(containers/image refuses the file)" % (label, conflict_key, other, what))
        else:
            by_location.setdefault(conflict_key, (label, flags))

        mirrors = table.get("mirror", [])
        if not isinstance(mirrors, list):
            problems.append("%s: mirror must be an array of tables" % label)
            continue
        digest_only = table.get("mirror-by-digest-only") is True
        mirror_locations = set()
        for mindex, mirror in enumerate(mirrors):
            mlabel = "%s: mirror[%d]" % (label, mindex)
            if not isinstance(mirror, dict):
                problems.append("%s: expected a table" % mlabel)
                continue
            unknown = sorted(set(mirror) - set(MIRROR_KEYS))
            if unknown:
                problems.append("%s: unknown key(s) %s" % (mlabel, ", ".join(unknown)))
            try:
                mloc = check_location(mirror.get("location"))
            except ValueError as exc:
                problems.append("%s: location %s" % (mlabel, exc))
                continue
            if mloc in mirror_locations:
                problems.append("%s: mirror %s is listed twice" % (mlabel, mloc))
            mirror_locations.add(mloc)
            if "insecure" in mirror and not isinstance(mirror["insecure"], bool):
                problems.append("%s: insecure must be true or false" % mlabel)
            pfm = mirror.get("pull-from-mirror")
            if pfm is not None:
                if pfm not in PULL_FROM_MIRROR:
                    problems.append("%s: pull-from-mirror %r is not one of %s" % (mlabel, pfm, ", ".join(PULL_FROM_MIRROR)))
                if digest_only:
                    problems.append(
                        "%s: pull-from-mirror cannot be combined with mirror-by-digest-only = true on "
                        "the registry (containers/image refuses the file); set mirror_by_digest_only "
                        "to false or leave it out" % mlabel
                    )
    if problems:
        raise RegistriesConfError("; ".join(problems))


# ---------------------------------------------------------------------------------------------
# TOML emitter


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def toml_string(value):
    """A TOML basic string for *value* (every character that needs it escaped)."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append("\\u%04X" % ord(char))
        else:
            out.append(char)
    return '"%s"' % "".join(out)


def toml_key(key):
    return key if _BARE_KEY.match(key) else toml_string(key)


def toml_value(value):
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


def _is_table_array(value):
    return isinstance(value, list) and value and all(isinstance(item, dict) for item in value)


def _emit_table(lines, path, table):
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


def dumps(doc):
    """TOML text for *doc* (dicts of scalars, arrays of scalars, tables and arrays of tables)."""
    lines = []
    _emit_table(lines, [], doc)
    while lines and lines[0] == "":
        lines.pop(0)
    return "\n".join(lines) + "\n"


def render(entries):
    """The drop-in text for ``[(label, table)]``: header, then the ``[[registry]]`` tables."""
    return HEADER + "\n" + dumps({"registry": [table for _label, table in entries]})


def is_ours(text):
    """True when *text* carries the header this module writes."""
    return text.lstrip("\ufeff").startswith("# " + MARKER)


# ---------------------------------------------------------------------------------------------
# TOML parsing: tomllib / tomli when present, else the builtin subset parser


try:  # Python >= 3.11
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - depends on the target's Python
    try:
        import tomli as _tomllib
    except ImportError:
        _tomllib = None


def available_parser():
    if _tomllib is None:
        return "builtin"
    return _tomllib.__name__.split(".")[0]


def loads(text, parser=None):
    """Parse TOML *text*; returns ``(document, parser name)``. Raises TOMLError."""
    parser = parser or available_parser()
    if parser == "builtin":
        return loads_builtin(text), parser
    try:
        return _tomllib.loads(text), parser
    except _tomllib.TOMLDecodeError as exc:
        raise TOMLError(str(exc)) from None


class _Parser:
    """A TOML 1.0 parser for the subset configuration files use.

    Supported: comments, ``key = value`` with bare, quoted and dotted keys, ``[table]`` and
    ``[[array.of.tables]]`` headers, basic and literal strings (also multi-line), booleans,
    integers (decimal, hex, octal, binary), floats, arrays and inline tables. Not supported (an
    error, never a guess): dates and times. Duplicate keys and redefined tables are errors.
    """

    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.explicit = set()  # ids of tables defined by a [header]
        self.frozen = set()  # ids of inline tables and static arrays

    def error(self, message, pos=None):
        return TOMLError(message, self.text, self.pos if pos is None else pos)

    def peek(self, count=1):
        return self.text[self.pos:self.pos + count]

    def skip_ws(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_comment(self):
        if self.peek() == "#":
            while self.pos < len(self.text) and self.text[self.pos] != "\n":
                char = self.text[self.pos]
                if char == "\r" and self.peek(2) == "\r\n":
                    return
                if (ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F:
                    raise self.error("control character in a comment")
                self.pos += 1

    def skip_blank(self):
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

    def end_of_line(self):
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

    def parse(self):
        root = {}
        current = root
        while True:
            self.skip_blank()
            if self.pos >= len(self.text):
                return root
            if self.peek(2) == "[[":
                self.pos += 2
                self.skip_ws()
                keys = self.key()
                self.skip_ws()
                if self.peek(2) != "]]":
                    raise self.error("expected ']]'")
                self.pos += 2
                current = self.open_array_table(root, keys)
            elif self.peek() == "[":
                self.pos += 1
                self.skip_ws()
                keys = self.key()
                self.skip_ws()
                if self.peek() != "]":
                    raise self.error("expected ']'")
                self.pos += 1
                current = self.open_table(root, keys)
            else:
                self.key_value(current)
            self.end_of_line()

    def descend(self, table, keys, start):
        for key in keys:
            if key not in table:
                table[key] = {}
                table = table[key]
            elif isinstance(table[key], list) and id(table[key]) not in self.frozen:
                table = table[key][-1]
            elif isinstance(table[key], dict) and id(table[key]) not in self.frozen:
                table = table[key]
            else:
                raise self.error("key %r is already defined as a value" % key, start)
        return table

    def open_table(self, root, keys):
        start = self.pos
        parent = self.descend(root, keys[:-1], start)
        last = keys[-1]
        if last in parent:
            table = parent[last]
            if not isinstance(table, dict) or id(table) in self.explicit or id(table) in self.frozen:
                raise self.error("table [%s] is defined twice" % ".".join(keys), start)
        else:
            table = parent[last] = {}
        self.explicit.add(id(table))
        return table

    def open_array_table(self, root, keys):
        start = self.pos
        parent = self.descend(root, keys[:-1], start)
        last = keys[-1]
        if last not in parent:
            parent[last] = []
        array = parent[last]
        if not isinstance(array, list) or id(array) in self.frozen:
            raise self.error("[[%s]] redefines a value that is not an array of tables" % ".".join(keys), start)
        table = {}
        array.append(table)
        self.explicit.add(id(table))
        return table

    def key_value(self, table):
        start = self.pos
        keys = self.key()
        self.skip_ws()
        if self.peek() != "=":
            raise self.error("expected '=' after a key")
        self.pos += 1
        self.skip_ws()
        value = self.value()
        for key in keys[:-1]:
            if key not in table:
                table[key] = {}
                self.explicit.add(id(table[key]))  # defined by dotted keys: no [header] later
            elif not isinstance(table[key], dict) or id(table[key]) in self.frozen:
                raise self.error("key %r is already defined as a value" % key, start)
            table = table[key]
        if keys[-1] in table:
            raise self.error("duplicate key %r" % ".".join(keys), start)
        table[keys[-1]] = value

    def key(self):
        keys = [self.simple_key()]
        while True:
            self.skip_ws()
            if self.peek() != ".":
                return keys
            self.pos += 1
            self.skip_ws()
            keys.append(self.simple_key())

    def simple_key(self):
        char = self.peek()
        if char == '"':
            if self.peek(3) == '"""':
                raise self.error("a key cannot be a multi-line string")
            return self.basic_string()
        if char == "'":
            if self.peek(3) == "'''":
                raise self.error("a key cannot be a multi-line string")
            return self.literal_string()
        match = _BARE_KEY_AT.match(self.text, self.pos)
        if not match:
            raise self.error("expected a key")
        self.pos = match.end()
        return match.group(0)

    def value(self):
        char = self.peek()
        if char == '"':
            return self.multiline_basic() if self.peek(3) == '"""' else self.basic_string()
        if char == "'":
            return self.multiline_literal() if self.peek(3) == "'''" else self.literal_string()
        if char == "[":
            return self.array()
        if char == "{":
            return self.inline_table()
        for word, result in (("true", True), ("false", False)):
            if self.text.startswith(word, self.pos) and not _BARE_CHAR.match(self.peek_after(len(word))):
                self.pos += len(word)
                return result
        if _DATE_AT.match(self.text, self.pos):
            raise self.error("dates and times are not supported by this parser")
        return self.number()

    def peek_after(self, count):
        return self.text[self.pos + count:self.pos + count + 1]

    def number(self):
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

    def basic_string(self):
        self.pos += 1
        out = []
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

    def escape(self):
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

    def literal_string(self):
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

    def _multiline_start(self):
        self.pos += 3
        if self.peek() == "\n":
            self.pos += 1
        elif self.peek(2) == "\r\n":
            self.pos += 2

    def _multiline_end(self, quote):
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

    def multiline_basic(self):
        self._multiline_start()
        out = []
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

    def multiline_literal(self):
        self._multiline_start()
        out = []
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

    def array(self):
        self.pos += 1
        items = []
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.pos += 1
                break
            items.append(self.value())
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "]":
                self.pos += 1
                break
            raise self.error("expected ',' or ']' in an array")
        self.frozen.add(id(items))
        return items

    def inline_table(self):
        self.pos += 1
        table = {}
        self.skip_ws()
        if self.peek() == "}":
            self.pos += 1
            self.frozen.add(id(table))
            return table
        while True:
            self.skip_ws()
            self.key_value(table)
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            if self.peek() == "}":
                self.pos += 1
                break
            raise self.error("expected ',' or '}' in an inline table")
        self.freeze(table)
        return table

    def freeze(self, value):
        if isinstance(value, dict):
            self.frozen.add(id(value))
            for item in value.values():
                self.freeze(item)


_BARE_KEY_AT = re.compile(r"[A-Za-z0-9_-]+")
_BARE_CHAR = re.compile(r"[A-Za-z0-9_-]")
_DATE_AT = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}")
_NUMBER_AT = re.compile(r"[+-]?[0-9A-Za-z_.+-]*")
_INT = re.compile(r"^(?:[+-]?(?:0|[1-9](?:_?[0-9])*)|0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*)$")
_FLOAT = re.compile(r"^[+-]?(?:0|[1-9](?:_?[0-9])*)(?:\.[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?$")


def loads_builtin(text):
    """Parse *text* with the builtin subset parser (see :class:`_Parser`)."""
    if not isinstance(text, str):
        raise TOMLError("TOML text must be a string")
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------
# checking a whole drop-in


def entries_of(doc, origin):
    """The ``[(label, table)]`` of a parsed drop-in; raises RegistriesConfError on a wrong shape."""
    registries = doc.get("registry", [])
    if not isinstance(registries, list):
        raise RegistriesConfError("%s: 'registry' must be an array of tables ([[registry]])" % origin)
    out = []
    for index, table in enumerate(registries):
        label = "%s: [[registry]] #%d" % (origin, index + 1)
        if isinstance(table, dict) and effective_prefix(table):
            label += " (%s)" % effective_prefix(table)
        out.append((label, table))
    return out


def check_text(text, entries, origin, parser=None):
    """Parse back the *text* rendered from *entries* and validate what was parsed.

    Returns the name of the parser used. Raises RegistriesConfError naming *origin* when the text
    does not parse, fails validation, holds other top-level keys or differs from *entries*.
    """
    try:
        doc, used = loads(text, parser)
    except TOMLError as exc:
        raise RegistriesConfError("%s: the generated TOML does not parse: %s" % (origin, exc)) from None
    extra = sorted(set(doc) - {"registry"})
    if extra:
        raise RegistriesConfError("%s: unexpected top-level key(s) %s" % (origin, ", ".join(extra)))
    parsed = entries_of(doc, origin)
    validate(parsed)
    if [table for _label, table in parsed] != [table for _label, table in entries]:
        raise RegistriesConfError("%s: the generated TOML does not read back as the data it was made from" % origin)
    return used


def prefixes_of_text(text, parser=None):
    """The effective prefixes of the ``[[registry]]`` tables of a drop-in's text. Raises TOMLError."""
    doc, _used = loads(text, parser)
    registries = doc.get("registry", [])
    if not isinstance(registries, list):
        raise TOMLError("'registry' is not an array of tables")
    prefixes = []
    for table in registries:
        if isinstance(table, dict):
            prefix = effective_prefix(table)
            if prefix and prefix not in prefixes:
                prefixes.append(prefix)
    return prefixes


def find_conflicts(path, prefixes, parser=None):
    """Other ``*.conf`` drop-ins in the directory of *path* that define one of *prefixes*.

    Returns ``(conflicts, unchecked)``: conflicts are dicts ``{prefix, file, winner}`` (winner is
    the path of the file whose entry containers/image uses: the later one in lexical order of
    file names); unchecked are ``{file, reason}`` for files that could not be read or parsed.
    """
    directory = os.path.dirname(os.path.abspath(path))
    ours = os.path.basename(path)
    conflicts, unchecked = [], []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return conflicts, unchecked
    wanted = set(prefixes)
    for name in names:
        if name == ours or not name.endswith(".conf"):
            continue
        other = os.path.join(directory, name)
        if os.path.isdir(other):
            continue
        try:
            with open(other, "rb") as handle:
                text = handle.read().decode("utf-8")
            found = prefixes_of_text(text, parser)
        except (OSError, UnicodeDecodeError, TOMLError) as exc:
            unchecked.append({"file": other, "reason": str(exc)})
            continue
        for prefix in found:
            if prefix in wanted:
                winner = other if name > ours else os.path.join(directory, ours)
                conflicts.append({"prefix": prefix, "file": other, "winner": winner})
    return conflicts, unchecked


def conflict_warning(path, conflict):
    ours = os.path.abspath(path)
    if conflict["winner"] == ours:
        return (
            "prefix %s is also defined in %s; %s is applied after it and replaces that entry "
            "entirely (containers/image applies drop-ins in lexical order of file names and does "
            "not merge mirrors), so the settings in %s for %s are ignored"
            % (conflict["prefix"], conflict["file"], os.path.basename(ours), os.path.basename(conflict["file"]),
               conflict["prefix"])
        )
    return (
        "prefix %s is also defined in %s, which is applied after %s and replaces its entry "
        "entirely (containers/image applies drop-ins in lexical order of file names and does not "
        "merge mirrors): %s wins and this file's entry for %s has no effect"
        % (conflict["prefix"], conflict["file"], os.path.basename(ours), os.path.basename(conflict["file"]),
           conflict["prefix"])
    )


# ---------------------------------------------------------------------------------------------
# pairs from the mirror map


def pairs_from_mirror_map(entries):
    """``[{"source": prefix, "mirror": location}]`` covering the images of a mirror map.

    A source registry becomes one pair when every image of it keeps its repository path under
    one mirror prefix (``quay.io/org/app -> mirror:5000/ns/org/app`` for all of them gives
    ``quay.io -> mirror:5000/ns``); otherwise each of its repositories gets a pair of its own.
    This is the view :meth:`Mapping.source_prefix_pairs` gives for a mapping, derived here from
    what the map records. Entries with an ``oci:`` layout destination are skipped. A source
    repository that the map sends to two different mirror repositories is an error naming both.
    """
    by_registry = {}
    for index, entry in enumerate(entries):
        label = "images[%d]" % index
        if not isinstance(entry, dict) or not entry.get("source") or not entry.get("destination"):
            raise RegistriesConfError("%s: expected a mirror map entry with 'source' and 'destination'" % label)
        try:
            source = _ref.parse(entry["source"])
            dest = _mirrormap.destination_reference(entry)
        except _ref.InvalidReference as exc:
            raise RegistriesConfError("%s: %s" % (label, exc)) from None
        if dest is None:
            continue
        repos = by_registry.setdefault(source.registry, {})
        known = repos.get(source.name)
        if known is not None and known[0].name != dest.name:
            raise RegistriesConfError(
                "source prefix %s is claimed by two mirror locations: %s (%s, %s) and %s (%s, %s)"
                % (source.name, known[0].name, known[1], known[2], dest.name, label, entry["source"])
            )
        if known is None:
            repos[source.name] = (dest, label, entry["source"])

    pairs = []
    for registry in sorted(by_registry):
        repos = by_registry[registry]
        prefixes = set()
        for name, (dest, _label, _src) in repos.items():
            path = name[len(registry) + 1:]
            if dest.repository == path:
                prefixes.add(dest.registry)
            elif dest.repository.endswith("/" + path):
                prefixes.add("%s/%s" % (dest.registry, dest.repository[:-len(path) - 1]))
            else:
                prefixes.add(None)
        if len(prefixes) == 1 and None not in prefixes:
            pairs.append({"source": registry, "mirror": prefixes.pop()})
        else:
            pairs.extend({"source": name, "mirror": repos[name][0].name} for name in sorted(repos))
    return pairs
