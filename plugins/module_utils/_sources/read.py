# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Image-list readers: turn the files vendors ship into normalized image references.

No Ansible imports: the filter and lookup plugins are thin wrappers around these functions.
Every reader returns normalized reference strings (:func:`_oci.reference.parse`), deduplicated,
in a stable order (the order of the input); readers that know the identity of an entry can also
return records (``records=True``), one per entry, not deduplicated.

Input documents can be given as

* text (``str`` or ``bytes``): parsed here, so syntax errors carry a line and column and
  entry errors carry the line of the entry;
* the result of ``ansible.builtin.slurp`` (``{"content": <base64>, "encoding": "base64",
  "source": <path>}``): decoded here, the file is named after ``source``;
* already parsed data (``dict``/``list``), e.g. from ``from_json``: accepted, but errors then
  have no line numbers, and YAML scalars like ``1.10`` may already have been turned into numbers.

YAML text is read with the safe loader, except that plain scalars are kept as strings (only
``true``/``false`` and ``null`` are resolved), so that a tag written ``1.10`` stays ``1.10``.
Duplicate keys in YAML and JSON text are errors (they would silently hide an entry).

Errors are :class:`SourceError` (an :class:`_oci.errors.OCIError`) whose text names the file,
the line when known, and the entry (``images.cli``, ``adminbot/haproxy``, ``[3]``...).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from .._oci import reference as _ref
from .._oci.errors import InvalidReference, OCIError
from .._products import eck as _eck

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML is an ansible-core requirement
    yaml = None

try:
    import jmespath
except ImportError:  # pragma: no cover - exercised only where jmespath is missing
    jmespath = None


DEFAULT_TAG = "latest"


class SourceError(OCIError):
    """A vendor image list that cannot be read: names the file, the line and the entry."""

    def __init__(self, message, source=None, entry=None, line=None, column=None):
        super().__init__(message)
        self.source = source
        self.entry = entry
        self.line = line
        self.column = column

    def __str__(self):
        parts = []
        if self.source or self.line:
            where = self.source or "<input>"
            if self.line:
                where += ":%d" % self.line
                if self.column:
                    where += ":%d" % self.column
            parts.append(where)
        if self.entry:
            parts.append(self.entry)
        parts.append(self.message)
        return ": ".join(parts)

    def to_dict(self):
        data = super().to_dict()
        data.update(message=str(self), source=self.source, entry=self.entry, line=self.line)
        return data


# --------------------------------------------------------------------------------------------
# Loading documents
# --------------------------------------------------------------------------------------------


class _LineDict(dict):
    """A dict that remembers the line of each key (1-based) when it came from text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = {}


class _LineList(list):
    """A list that remembers the line of each item (1-based) when it came from text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = []


def _line_of(container, key):
    lines = getattr(container, "lines", None)
    if lines is None:
        return None
    if isinstance(lines, dict):
        return lines.get(key)
    if isinstance(key, int) and 0 <= key < len(lines):
        return lines[key]
    return None


class _DuplicateKey(Exception):
    def __init__(self, key, first, second):
        super().__init__(key)
        self.key = key
        self.first = first
        self.second = second


if yaml is not None:

    class _LineLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """Safe loader building _LineDict/_LineList and refusing duplicate keys."""

    def _construct_mapping(loader, node):
        data = _LineDict()
        yield data
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    "found an unhashable key", key_node.start_mark) from None
            line = key_node.start_mark.line + 1
            if key in data:
                raise _DuplicateKey(key, data.lines.get(key), line)
            data[key] = loader.construct_object(value_node, deep=True)
            data.lines[key] = line

    def _construct_sequence(loader, node):
        data = _LineList()
        yield data
        for child in node.value:
            data.append(loader.construct_object(child, deep=True))
            data.lines.append(child.start_mark.line + 1)

    _LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    _LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)

    class _StringLineLoader(_LineLoader):  # pylint: disable=too-many-ancestors
        """_LineLoader that keeps plain scalars as strings, except booleans and null."""

    _StringLineLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
                           "tag:yaml.org,2002:merge")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _require_yaml():
    if yaml is None:
        raise SourceError("reading YAML needs the PyYAML Python library, which is not installed")


def _plain(value):
    """A deep copy made of plain dict/list/str (Ansible hands over tagged subclasses)."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    return value


def is_slurp_result(value):
    """True for the result of ``ansible.builtin.slurp`` (content + encoding)."""
    return (isinstance(value, dict) and "content" in value and "encoding" in value
            and isinstance(value.get("content"), str))


def _decode_slurp(value, name):
    source = value.get("source") or name
    encoding = value.get("encoding")
    if encoding != "base64":
        raise SourceError("slurp result has encoding %r, expected 'base64'" % (encoding,), source)
    try:
        raw = base64.b64decode(value["content"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SourceError("slurp content is not valid base64: %s" % exc, source) from None
    return raw, source


def _to_text(raw, name):
    if isinstance(raw, str):
        return raw[1:] if raw.startswith("\ufeff") else raw
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError("not UTF-8 text (byte %d)" % exc.start, name) from None


def text_of(value, name=None):
    """``(text, name)`` for text, bytes or a slurp result; ``(None, name)`` for parsed data."""
    if is_slurp_result(value):
        raw, name = _decode_slurp(value, name)
        return _to_text(raw, name), name
    if isinstance(value, (str, bytes)):
        return _to_text(value, name), name
    return None, name


def _json_pairs(pairs):
    data = {}
    for key, val in pairs:
        if key in data:
            raise _DuplicateKey(key, None, None)
        data[key] = val
    return data


def parse_json(text, name):
    """Parse JSON text; errors carry line and column. Keys carry their lines when possible."""
    data = duplicate = None
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs)
    except json.JSONDecodeError as exc:
        raise SourceError("not valid JSON: %s" % exc.msg, name, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        # the YAML pass below finds its line when it can read the text
        duplicate = exc
    # A second pass with the YAML loader only to learn the line of every key. JSON is (nearly) a
    # subset of YAML; when the YAML reading differs or fails, the JSON data is kept without lines.
    if yaml is not None:
        try:
            located = yaml.load(text, Loader=_LineLoader)  # nosec B506 - safe loader subclass
        except _DuplicateKey as exc:
            raise SourceError("duplicate key %r (lines %s and %s)" % (exc.key, exc.first, exc.second),
                              name, line=exc.second) from None
        except yaml.YAMLError:
            located = None
        if duplicate is None and located == data:
            return located
    if duplicate is not None:
        raise SourceError("duplicate key %r" % (duplicate.key,), name)
    return data


def parse_yaml(text, name):
    """Parse YAML text (plain scalars stay strings); errors carry line and column."""
    _require_yaml()
    try:
        return yaml.load(text, Loader=_StringLineLoader)  # nosec B506 - safe loader subclass
    except _DuplicateKey as exc:
        raise SourceError("duplicate key %r (lines %s and %s)" % (exc.key, exc.first, exc.second),
                          name, line=exc.second) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise SourceError("not valid YAML: %s" % problem, name,
                          line=mark.line + 1 if mark else None,
                          column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise SourceError("not valid YAML: %s" % exc, name) from None


def load_document(value, name=None, syntax="yaml"):
    """``(data, name)`` of one document: text, bytes, a slurp result or parsed data.

    *syntax* is ``json``, ``yaml`` or ``auto`` (JSON when the text starts with ``{`` or ``[``,
    YAML otherwise).
    """
    text, name = text_of(value, name)
    if text is None:
        return _plain(value), name
    if syntax == "json":
        return parse_json(text, name), name
    if syntax == "auto" and text.lstrip().startswith(("{", "[")):
        # Text that starts like JSON is read as JSON only: YAML would accept broken JSON (a
        # trailing comma, a missing quote) and quietly read something else.
        return parse_json(text, name), name
    return parse_yaml(text, name), name


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number (%r)" % (value,)
    return "a %s" % type(value).__name__


def _parse_ref(text, name, entry, line, default_tag=None):
    try:
        return _ref.parse(text, default_tag=default_tag or None)
    except InvalidReference as exc:
        raise SourceError(exc.message, name, entry=entry, line=line) from None


def _unique(refs):
    seen = set()
    out = []
    for ref in refs:
        text = str(ref)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def unique_sources(records):
    """The ``source`` of each record, deduplicated, in order."""
    return _unique(record["source"] for record in records)


def _scalar_text(value, what, name, entry, line):
    """A tag/digest/server value as text; numbers from pre-parsed YAML are refused or converted."""
    if isinstance(value, bool):
        raise SourceError("%s is a boolean (%r): quote it in the file" % (what, value), name, entry, line)
    if isinstance(value, float):
        raise SourceError(
            "%s was read as the number %r, which may have lost characters (1.10 becomes 1.1): "
            "quote it in the file, or pass the file's text instead of parsed data" % (what, value),
            name, entry, line)
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise SourceError("%s is %s, expected a string" % (what, _type_name(value)), name, entry, line)
    return value.strip()


# --------------------------------------------------------------------------------------------
# Plain lists
# --------------------------------------------------------------------------------------------


def _list_items(value, name):
    """Yield ``(item, entry, line)`` of a plain list: text lines, a YAML list or a Python list."""
    text, name = text_of(value, name)
    if text is None:
        if not isinstance(value, (list, tuple)):
            raise SourceError("expected a list of image references or text with one reference per "
                              "line, got %s" % _type_name(value), name)
        for index, item in enumerate(value):
            yield item, "[%d]" % index, None, name
        return
    first = next((ln.strip() for ln in text.splitlines()
                  if ln.strip() and not ln.strip().startswith("#")), "")
    if first.startswith(("-", "[")):
        # A reference never starts with "-" or "[": this is a YAML (or JSON) list.
        data = parse_yaml(text, name)
        if not isinstance(data, list):
            raise SourceError("expected a YAML list of image references, got %s" % _type_name(data), name)
        for index, item in enumerate(data):
            yield item, "[%d]" % index, _line_of(data, index), name
        return
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if content:
            yield content, None, number, name


def read_image_list(value, name=None, default_tag=DEFAULT_TAG):
    """References of a plain list: one per line (``#`` comments, blank lines), a YAML list, or a
    Python list of strings. A reference with neither tag nor digest gets *default_tag*."""
    refs = []
    for item, entry, line, src in _list_items(value, name):
        if not isinstance(item, str):
            raise SourceError("expected an image reference string, got %s" % _type_name(item), src, entry, line)
        refs.append(_parse_ref(item, src, entry, line, default_tag))
    return _unique(refs)


# --------------------------------------------------------------------------------------------
# MicroShift release-<arch>.json
# --------------------------------------------------------------------------------------------

_RELEASE_NAME = re.compile(r"release-([A-Za-z0-9_]+)\.json$")


def _documents(value):
    """A list of documents: one document, a list of documents, or a registered loop result."""
    if isinstance(value, dict) and "results" in value and isinstance(value["results"], list) \
            and not is_slurp_result(value) and "images" not in value:
        docs = []
        for index, item in enumerate(value["results"]):
            if isinstance(item, dict) and item.get("skipped"):
                continue
            if isinstance(item, dict) and item.get("failed"):
                raise SourceError("item %d of the loop result failed: %s" % (index, item.get("msg", "")),
                                  str(item.get("source") or item.get("item") or "<loop result>"))
            docs.append(item)
        return docs
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def microshift_release_records(value, name=None):
    """One record per ``.images`` entry of one or several MicroShift ``release-<arch>.json``.

    This is the seed's ``jq -r '.images | .[]'``. Each record is ``{name, source, arch, file}``;
    ``arch`` comes from the file name (``release-x86_64.json``) or ``release.arch``, when known.
    """
    records = []
    documents = _documents(value)
    for index, document in enumerate(documents):
        if isinstance(name, (list, tuple)):
            default_name = name[index] if index < len(name) else None
        elif len(documents) == 1:
            default_name = name
        else:
            default_name = "%s[%d]" % (name or "release document", index)
        data, src = load_document(document, default_name, syntax="json")
        src = src or "<release json>"
        if not isinstance(data, dict):
            raise SourceError("top level is %s, expected a JSON object with an 'images' map (the "
                              "MicroShift release-<arch>.json format)" % _type_name(data), src)
        if "images" not in data:
            keys = ", ".join(sorted(str(k) for k in data)) or "none"
            raise SourceError("no 'images' key: not a MicroShift release-<arch>.json file (top-level keys: %s)"
                              % keys, src)
        images = data["images"]
        if not isinstance(images, dict):
            raise SourceError("'images' is %s, expected a map of name to image reference" % _type_name(images),
                              src, line=_line_of(data, "images"))
        match = _RELEASE_NAME.search(str(src))
        arch = match.group(1) if match else None
        release = data.get("release")
        if arch is None and isinstance(release, dict) and isinstance(release.get("arch"), str):
            arch = release["arch"]
        for key, text in images.items():
            entry = "images.%s" % key
            line = _line_of(images, key)
            if not isinstance(text, str):
                raise SourceError("expected an image reference string, got %s" % _type_name(text), src, entry, line)
            ref = _parse_ref(text, src, entry, line)
            records.append({"name": str(key), "source": str(ref), "arch": arch, "file": src})
    return records


def read_microshift_release(value, name=None, extra=None, default_tag=DEFAULT_TAG):
    """Every image of one or several MicroShift release files (merged, deduplicated, in file
    order), followed by the user-supplied *extra* references (a list, or plain-list text)."""
    refs = [record["source"] for record in microshift_release_records(value, name)]
    if extra:
        refs.extend(read_image_list(extra, "extra", default_tag=default_tag))
    return _unique(refs)


# --------------------------------------------------------------------------------------------
# ESS images_digests.yml
# --------------------------------------------------------------------------------------------

ESS_KEYS = ("image_repository_server", "image_repository_path", "image_tag", "image_digest")


def ess_image_records(value, name=None):
    """One record per component/container of an ESS installer ``images_digests.yml``.

    Each record is ``{component, container, source, server, path, tag, digest}`` where
    ``source`` is ``server/path:tag@digest`` (tag-only or digest-only when one is missing),
    normalized. An entry without a server or a path, or with neither tag nor digest, is an error
    naming ``component/container``.
    """
    data, src = load_document(value, name, syntax="yaml")
    src = src or "<images_digests>"
    if not isinstance(data, dict):
        raise SourceError("top level is %s, expected a map with an 'images_digests' key" % _type_name(data), src)
    if "images_digests" not in data:
        raise SourceError("no 'images_digests' key: not an ESS images_digests.yml file", src)
    components = data["images_digests"]
    if not isinstance(components, dict):
        raise SourceError("'images_digests' is %s, expected a map of component to containers"
                          % _type_name(components), src, line=_line_of(data, "images_digests"))
    records = []
    for component, containers in components.items():
        cline = _line_of(components, component)
        if not isinstance(containers, dict):
            raise SourceError("expected a map of container to image, got %s" % _type_name(containers),
                              src, str(component), cline)
        for container, entry in containers.items():
            ident = "%s/%s" % (component, container)
            line = _line_of(containers, container)
            if not isinstance(entry, dict):
                raise SourceError("expected a map with image_repository_server, image_repository_path, "
                                  "image_tag and/or image_digest, got %s" % _type_name(entry), src, ident, line)
            fields = {}
            for key in ESS_KEYS:
                raw = entry.get(key)
                fields[key] = None if raw is None else (
                    _scalar_text(raw, key, src, ident, _line_of(entry, key) or line) or None)
            missing = [key for key in ESS_KEYS[:2] if not fields[key]]
            if missing:
                raise SourceError("no %s: cannot tell where the image lives" % " and no ".join(missing),
                                  src, ident, line)
            if not fields["image_tag"] and not fields["image_digest"]:
                raise SourceError("neither image_tag nor image_digest: nothing to pull", src, ident, line)
            server = fields["image_repository_server"].rstrip("/")
            path = fields["image_repository_path"].strip("/")
            text = "%s/%s" % (server, path)
            if fields["image_tag"]:
                text += ":" + fields["image_tag"]
            if fields["image_digest"]:
                text += "@" + fields["image_digest"]
            ref = _parse_ref(text, src, ident, line)
            records.append({
                "component": str(component),
                "container": str(container),
                "source": str(ref),
                "server": ref.registry,
                "path": ref.repository,
                "tag": ref.tag,
                "digest": ref.digest,
            })
    return records


def read_ess_images(value, name=None):
    """Normalized, deduplicated references of an ESS ``images_digests.yml``."""
    return unique_sources(ess_image_records(value, name))


# --------------------------------------------------------------------------------------------
# skopeo sync YAML
# --------------------------------------------------------------------------------------------

SKOPEO_SYNC_KEYS = ("images", "images-by-tag-regex", "images-by-semver", "credentials", "tls-verify", "cert-dir")
_DIGEST_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def read_skopeo_sync(value, name=None):
    """References of a ``skopeo sync --src yaml`` file: ``registry: {images: {repo: [tag|digest]}}``.

    ``images-by-tag-regex``, ``images-by-semver`` and an empty tag list (all tags) need the
    registry's tag listing and are refused with a clear error. ``credentials``, ``tls-verify``
    and ``cert-dir`` are transport settings and are ignored here (never echoed).
    """
    data, src = load_document(value, name, syntax="yaml")
    src = src or "<skopeo sync yaml>"
    if not isinstance(data, dict):
        raise SourceError("top level is %s, expected a map of registry to settings (skopeo sync YAML)"
                          % _type_name(data), src)
    refs = []
    for registry, settings in data.items():
        rline = _line_of(data, registry)
        if not isinstance(settings, dict):
            raise SourceError("expected a map with 'images', got %s" % _type_name(settings), src, str(registry), rline)
        for key in settings:
            if key not in SKOPEO_SYNC_KEYS:
                raise SourceError("unknown key %r (skopeo sync knows: %s)" % (key, ", ".join(SKOPEO_SYNC_KEYS)),
                                  src, str(registry), _line_of(settings, key))
        for key in ("images-by-tag-regex", "images-by-semver"):
            if settings.get(key):
                raise SourceError("%s is not supported: it needs the registry's tag listing, which a file "
                                  "reader cannot do; list the tags under 'images'" % key,
                                  src, "%s.%s" % (registry, key), _line_of(settings, key))
        images = settings.get("images")
        if images is None:
            continue
        if not isinstance(images, dict):
            raise SourceError("'images' is %s, expected a map of repository to a list of tags or digests"
                              % _type_name(images), src, str(registry), _line_of(settings, "images"))
        for repo, items in images.items():
            entry = "%s.images.%s" % (registry, repo)
            line = _line_of(images, repo)
            if not items:
                raise SourceError("an empty tag list means 'all tags', which needs the registry's tag "
                                  "listing and is not supported: list the tags", src, entry, line)
            if not isinstance(items, list):
                raise SourceError("expected a list of tags or digests, got %s" % _type_name(items), src, entry, line)
            for index, item in enumerate(items):
                iline = _line_of(items, index) or line
                item_entry = "%s[%d]" % (entry, index)
                text = _scalar_text(item, "tag or digest", src, item_entry, iline)
                sep = "@" if _DIGEST_LIKE.match(text) else ":"
                refs.append(_parse_ref("%s/%s%s%s" % (registry, repo, sep, text), src, item_entry, iline))
    return _unique(refs)


# --------------------------------------------------------------------------------------------
# jmespath query over any JSON/YAML document
# --------------------------------------------------------------------------------------------


def query_images(value, query, name=None, default_tag=DEFAULT_TAG):
    """References selected by a JMESPath *query* from any JSON/YAML document.

    The query must produce a list of strings (``images.*``, ``values(images)``,
    ``items[].image``...). A map result, a single string, null or non-string items are errors.
    """
    if jmespath is None:
        raise SourceError("the query option needs the jmespath Python library, which is not installed", name)
    if not isinstance(query, str) or not query.strip():
        raise SourceError("query must be a non-empty JMESPath expression", name)
    data, src = load_document(value, name, syntax="auto")
    src = src or "<document>"
    try:
        result = jmespath.search(query, _plain(data))
    except jmespath.exceptions.ParseError as exc:
        raise SourceError("invalid JMESPath query %r: %s" % (query, exc), src) from None
    except jmespath.exceptions.JMESPathError as exc:
        raise SourceError("JMESPath query %r failed: %s" % (query, exc), src) from None
    if result is None:
        raise SourceError("query %r matched nothing (null): check the key names" % query, src)
    if isinstance(result, dict):
        raise SourceError("query %r gives a map, not a list of strings; select its values, e.g. %r or %r"
                          % (query, query + ".*", "values(%s)" % query), src)
    if not isinstance(result, list):
        raise SourceError("query %r gives %s, not a list of strings" % (query, _type_name(result)), src)
    refs = []
    for index, item in enumerate(result):
        entry = "%s[%d]" % (query, index)
        if not isinstance(item, str):
            raise SourceError("query result item is %s, expected an image reference string" % _type_name(item),
                              src, entry)
        refs.append(_parse_ref(item, src, entry, None, default_tag))
    return _unique(refs)


# --------------------------------------------------------------------------------------------
# Elastic Stack / ECK
# --------------------------------------------------------------------------------------------
#
# Repository names and tags as ECK computes them (the ImageRepository rules of
# elastic/cloud-on-k8s pkg/controller/common/container/container.go: UBI and container suffixes,
# older Maps images, the Elastic Agent move to elastic-agent/elastic-agent in 9.0, the Package
# Registry's lite tags, --container-repository) are NOT transcribed here: they are in ONE place,
# ``_eck.image_parts`` (with ``_eck.operator_image_path`` for the operator's own image), which the
# ECK role's verification uses too. This section only knows which components exist for which
# versions and how the include/exclude options select them.
#
# Stack versions ECK deploys each application for (ECK "Supported versions" pages, 1.x-3.x):
# Elasticsearch/Kibana/APM Server 6.8+, Beats 7.0+, Elastic Agent 7.10+, Elastic Maps Server
# 7.11+, Logstash 8.7+, Enterprise Search 7.7+ and removed from the stack in 9.0.0 ("Enterprise
# Search no longer available since version 9.0.0", ECK breaking changes), Journalbeat 7.0 up to
# 7.15 (removed in 7.16, Journalbeat reference "6.5-7.15"), Elastic Package Registry 8+.
#
# Outside ECK: the operator is eck/eck-operator:<ECK version>; the self-hosted Elastic Package
# Registry of the Fleet air-gap guide is package-registry/distribution:production; eck-diagnostics
# runs eck-dev/support-diagnostics:<version> (the default printed by eck-diagnostics, e.g. 8.1.4
# or 9.3.1 depending on the release; pass it with --diagnostic-image in the air gap).

ELASTIC_REGISTRY = "docker.elastic.co"

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z][0-9A-Za-z.-]*))?$")


class _Version(tuple):
    """(major, minor, patch, is_release) comparable; pre-releases sort before the release."""

    text = ""

    def __new__(cls, text, what):
        match = _VERSION.match(str(text).strip()) if isinstance(text, str) else None
        if not match:
            raise SourceError("%s %r is not a version like 8.16.1" % (what, text))
        major, minor, patch, pre = match.groups()
        self = super().__new__(cls, (int(major), int(minor), int(patch), 0 if pre else 1))
        self.text = str(text).strip()
        return self

    @property
    def major(self):
        return self[0]


def _v(major, minor, patch):
    return (major, minor, patch, 1)


# component -> (ECK kind, beat type, minimum stack version, first stack version without it)
_STACK = (
    ("elasticsearch", "Elasticsearch", None, _v(6, 8, 0), None),
    ("kibana", "Kibana", None, _v(6, 8, 0), None),
    ("apm_server", "ApmServer", None, _v(6, 8, 0), None),
    ("enterprise_search", "EnterpriseSearch", None, _v(7, 7, 0), _v(9, 0, 0)),
    ("elastic_agent", "Agent", None, _v(7, 10, 0), None),
    ("maps_server", "ElasticMapsServer", None, _v(7, 11, 0), None),
    ("logstash", "Logstash", None, _v(8, 7, 0), None),
    ("filebeat", "Beat", "filebeat", _v(7, 0, 0), None),
    ("metricbeat", "Beat", "metricbeat", _v(7, 0, 0), None),
    ("heartbeat", "Beat", "heartbeat", _v(7, 0, 0), None),
    ("auditbeat", "Beat", "auditbeat", _v(7, 0, 0), None),
    ("packetbeat", "Beat", "packetbeat", _v(7, 0, 0), None),
    ("journalbeat", "Beat", "journalbeat", _v(7, 0, 0), _v(7, 16, 0)),
    ("package_registry_lite", "PackageRegistry", None, _v(8, 0, 0), None),
)
ELASTIC_COMPONENTS = ("eck_operator",) + tuple(row[0] for row in _STACK) + (
    "package_registry", "support_diagnostics")
ELASTIC_GROUPS = {
    "beats": ("filebeat", "metricbeat", "heartbeat", "auditbeat", "packetbeat", "journalbeat"),
    "stack": tuple(row[0] for row in _STACK if row[0] != "package_registry_lite"),
}
ECK_PACKAGE_REGISTRY_MIN = _v(3, 3, 0)


def _fmt_version(version):
    return "%d.%d.%d" % version[:3]


def _expand(names, option):
    """``[(component, explicit)]`` of an include/exclude list; groups expand to non-explicit."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out = []
    for item in names:
        item = str(item).strip()
        if item in ELASTIC_GROUPS:
            out.extend((member, False) for member in ELASTIC_GROUPS[item])
        elif item in ELASTIC_COMPONENTS:
            out.append((item, True))
        else:
            raise SourceError("%s: unknown component %r (known: %s; groups: %s)" % (
                option, item, ", ".join(ELASTIC_COMPONENTS), ", ".join(sorted(ELASTIC_GROUPS))))
    return out


def elastic_image_records(stack_version, eck_version=None, include=None, exclude=None,
                          registry=ELASTIC_REGISTRY, container_repository=None, ubi_only=False,
                          container_suffix=None, fips=False, package_registry_tag="production",
                          support_diagnostics_version=None):
    """Images of an Elastic Stack version as ECK deploys them, plus the operator and tools.

    Returns records ``{component, source, repository, tag}`` in the order of
    :data:`ELASTIC_COMPONENTS`; ``repository`` is the path under the registry, i.e. where the
    image must be in a mirror that ECK uses through ``--container-registry``.

    *container_repository*, *ubi_only* and *container_suffix* are the operator's
    ``--container-repository``, ``--ubi-only`` and ``--container-suffix``; *ubi_only* and *fips*
    also select the operator image the eck-operator Helm chart runs with ``config.ubiOnly`` and
    ``image.fips`` (``eck/eck-operator[-ubi][-fips]``).

    Without *include*, every component that exists for *stack_version* is selected, plus
    ``eck_operator`` when *eck_version* is given, ``support_diagnostics`` when
    *support_diagnostics_version* is given and ``package_registry_lite`` when *eck_version* is
    3.3.0 or later. A component named in *include* that does not exist for the versions given is
    an error (never silently dropped). *exclude* removes components (or the groups ``beats`` and
    ``stack``).
    """
    ver = _Version(stack_version, "stack version")
    eck = _Version(eck_version, "eck_version") if eck_version not in (None, "") else None
    diag = None
    if support_diagnostics_version not in (None, ""):
        diag = str(support_diagnostics_version).strip()
        try:
            _ref.validate_tag(diag)
        except ValueError as exc:
            raise SourceError("support_diagnostics_version: %s" % exc) from None
    try:
        reg, namespace = _ref.parse_registry_prefix(str(registry or ELASTIC_REGISTRY))
    except InvalidReference as exc:
        raise SourceError("registry: %s" % exc.reason) from None
    base = reg + ("/" + namespace if namespace else "")
    if container_repository:
        repo_ns = str(container_repository).strip().strip("/")
        if not all(_ref._PATH_COMPONENT.match(c) for c in repo_ns.split("/")):  # pylint: disable=protected-access
            raise SourceError("container_repository %r is not a valid repository path" % container_repository)
    else:
        repo_ns = None
    suffix_setting = str(container_suffix or "").strip()
    if suffix_setting:
        if ubi_only:
            raise SourceError("ubi_only and container_suffix cannot be combined (the operator refuses to start)")
        if not re.match(r"^[a-z0-9._-]+$", suffix_setting):
            raise SourceError("container_suffix %r may only hold lower-case letters, digits, '.', '_' and '-'"
                              % container_suffix)
    pr_tag = str(package_registry_tag or "production").strip()
    try:
        _ref.validate_tag(pr_tag)
    except ValueError as exc:
        raise SourceError("package_registry_tag: %s" % exc) from None

    def available(component):
        """None when the component exists for the versions given, else the reason."""
        if component == "eck_operator":
            return None if eck else "needs eck_version"
        if component == "support_diagnostics":
            return None if diag else "needs support_diagnostics_version (the image eck-diagnostics prints)"
        if component == "package_registry":
            return None
        row = next(r for r in _STACK if r[0] == component)
        _name, _kind, _beat, low, high = row
        if ver < low:
            return "exists from stack %s on, not in %s" % (_fmt_version(low), ver.text)
        if high is not None and ver >= high:
            return "was removed in stack %s, not in %s" % (_fmt_version(high), ver.text)
        if component == "package_registry_lite" and eck is not None and eck < ECK_PACKAGE_REGISTRY_MIN:
            return "is deployed by ECK %s and later, not by ECK %s" % (
                _fmt_version(ECK_PACKAGE_REGISTRY_MIN), eck.text)
        return None

    wanted = _expand(include, "include")
    excluded = {name for name, _explicit in _expand(exclude, "exclude") or ()}
    if wanted is None:
        selected = [c for c in ELASTIC_COMPONENTS if available(c) is None]
        if not (eck is not None and eck >= ECK_PACKAGE_REGISTRY_MIN):
            selected = [c for c in selected if c != "package_registry_lite"]
    else:
        chosen = set()
        for component, explicit in wanted:
            reason = available(component)
            if reason is None:
                chosen.add(component)
            elif explicit:
                raise SourceError("component %s %s" % (component, reason))
        selected = [c for c in ELASTIC_COMPONENTS if c in chosen]
    selected = [c for c in selected if c not in excluded]

    records = []
    for component in selected:
        if component == "eck_operator":
            path, tag = _eck.operator_image_path(ubi_only, fips), eck.text
        elif component == "support_diagnostics":
            path, tag = _eck.DIAGNOSTICS_IMAGE, diag
        elif component == "package_registry":
            path, tag = _eck.KINDS["PackageRegistry"][1], pr_tag
        else:
            _name, kind, beat_type, _low, _high = next(r for r in _STACK if r[0] == component)
            try:
                path, tag = _eck.image_parts(kind, ver.text, beat_type, container_repository=repo_ns,
                                             container_suffix=suffix_setting, ubi_only=ubi_only)
            except _eck.ECKError as exc:
                raise SourceError(str(exc), entry=component) from None
        text = "%s/%s:%s" % (base, path, tag)
        try:
            ref = _ref.parse(text)
        except InvalidReference as exc:
            raise SourceError(exc.message, entry=component) from None
        records.append({"component": component, "source": str(ref), "repository": path, "tag": tag})
    return records


def elastic_images(stack_version, **kwargs):
    """Normalized, deduplicated references of :func:`elastic_image_records`."""
    return unique_sources(elastic_image_records(stack_version, **kwargs))


# --------------------------------------------------------------------------------------------
# One entry point by format name (the lookup plugin)
# --------------------------------------------------------------------------------------------

FORMATS = ("microshift", "ess", "skopeo_sync", "list", "query")


def read_source(fmt, value, name=None, query=None, records=False, default_tag=DEFAULT_TAG):
    """Read one document of format *fmt* (one of :data:`FORMATS`)."""
    if fmt == "microshift":
        return microshift_release_records(value, name) if records else read_microshift_release(value, name)
    if fmt == "ess":
        return ess_image_records(value, name) if records else read_ess_images(value, name)
    if records:
        raise SourceError("records are available for the microshift and ess formats only, not %r" % fmt, name)
    if fmt == "skopeo_sync":
        return read_skopeo_sync(value, name)
    if fmt == "list":
        return read_image_list(value, name, default_tag=default_tag)
    if fmt == "query":
        return query_images(value, query, name, default_tag=default_tag)
    raise SourceError("unknown format %r (known: %s)" % (fmt, ", ".join(FORMATS)), name)
