# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Credentials files: containers ``auth.json``, docker ``config.json`` and pull secrets.

All three share one shape (containers-auth.json(5))::

    {"auths": {"mirror.example.com:8443": {"auth": "<base64 of user:password>", "email": "..."}},
     "credHelpers": {...}, ...}

Keys of ``auths`` are ``host[:port]`` or, for containers/image, ``host[:port]/repository/path``
(credentials scoped to a namespace or repository). This module changes exactly one entry of
``auths`` and keeps every other entry and every other top-level key as it was.

Nothing here ever puts a credential into a message, an exception or a view: :func:`redacted_view`
is what a diff may show.
"""

from __future__ import annotations

import base64
import json

from .._oci import reference as _ref
from .._oci.errors import InvalidReference

FILE_MODE = 0o600
DIR_MODE = 0o700
REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted, changed>"
# the only values of an entry that a diff may show; everything else is treated as a secret
_SHOWN_KEYS = ("email",)


class AuthFileError(ValueError):
    """A credentials file or request that cannot be used; the message names the file."""


def validate_registry(registry):
    """Return the ``auths`` key for *registry* (``host[:port][/path]``), or raise AuthFileError."""
    if not isinstance(registry, str) or not registry.strip():
        raise AuthFileError("registry must be a non-empty host[:port][/path]")
    value = registry.strip()
    if "://" in value:
        raise AuthFileError(
            "registry %r: give host[:port][/path] without a scheme (containers/image and podman "
            "store credentials under the bare host name)" % value
        )
    value = value.rstrip("/")
    try:
        _ref.parse_registry_prefix(value)
    except InvalidReference as exc:
        raise AuthFileError("registry %r: %s" % (value, exc.reason)) from None
    if "@" in value or ":" in value.partition("/")[2]:
        raise AuthFileError("registry %r: a credentials key cannot hold a tag or digest" % value)
    return value


def encode_auth(username, password):
    """The ``auth`` value: base64 of ``username:password`` (RFC 7617 user-pass)."""
    if not username:
        raise AuthFileError("username must not be empty")
    if ":" in username:
        # containers/image and docker split the decoded value at the first ':'
        raise AuthFileError("username must not contain ':' (the auth value is user:password)")
    if password is None or password == "":
        raise AuthFileError("password must not be empty")
    return base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")


def parse(raw, origin):
    """Parse the bytes of a credentials file; an empty file is an empty document."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuthFileError("%s: not valid UTF-8 at byte %d; not changing it" % (origin, exc.start)) from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError as exc:
        # JSONDecodeError's message names the position only, never the content
        lineno = getattr(exc, "lineno", None)
        colno = getattr(exc, "colno", None)
        where = " at line %s column %s" % (lineno, colno) if lineno is not None else ""
        reason = getattr(exc, "msg", "invalid JSON")
        raise AuthFileError("%s: not valid JSON%s (%s); not changing it" % (origin, where, reason)) from None
    if not isinstance(doc, dict):
        raise AuthFileError("%s: expected a JSON object at the top level, found %s; not changing it"
                            % (origin, type(doc).__name__))
    auths = doc.get("auths")
    if auths is not None and not isinstance(auths, dict):
        raise AuthFileError("%s: 'auths' must be a JSON object, found %s; not changing it"
                            % (origin, type(auths).__name__))
    return doc


def dumps(doc, compact=False):
    """Serialize a credentials document (compact on one line, or indented) with a final newline."""
    if compact:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _is_compact(raw):
    """True when an existing file is a one-line document (as pull secrets from the console are)."""
    return raw is not None and raw.strip() != b"" and b"\n" not in raw.strip()


def redacted_entry(entry, changed=False):
    """A view of one ``auths`` entry that is safe to show: every value but ``email`` is hidden."""
    if not isinstance(entry, dict):
        return REDACTED
    view = {}
    for key, value in entry.items():
        if key in _SHOWN_KEYS and isinstance(value, str):
            view[key] = value
        else:
            view[key] = REDACTED_CHANGED if changed and key == "auth" else REDACTED
    return view


def redacted_view(doc, changed_registry=None, auth_changed=False):
    """A view of a whole document for a diff: redacted ``auths``, other keys named only."""
    view = {"auths": {}}
    for key, entry in (doc.get("auths") or {}).items():
        view["auths"][key] = redacted_entry(entry, changed=auth_changed and key == changed_registry)
    for key in doc:
        if key != "auths":
            view[key] = "<not shown, unchanged>"
    return view


class Change:
    """What :func:`plan` decided: the new content (if any) and what to report about it."""

    def __init__(self, path, registry):
        self.path = path
        self.registry = registry
        self.exists = False
        self.content_changed = False
        self.mode_changed = False
        self.data = None  # bytes to write when content_changed (None with remove_file)
        self.remove_file = False  # state=absent with remove_if_empty: delete the file
        self.before = {}
        self.after = {}
        self.registries = []
        self.warnings = []

    @property
    def changed(self):
        return self.content_changed or self.mode_changed


def _credential_warnings(doc, registry, origin):
    host = registry.partition("/")[0]
    warnings = []
    helpers = doc.get("credHelpers")
    if isinstance(helpers, dict) and host in helpers:
        warnings.append(
            "%s: credHelpers names a helper for %s; podman, skopeo, CRI-O and docker ask that helper "
            "before they read auths, so this entry is not used for %s" % (origin, host, host)
        )
    if doc.get("credsStore"):
        warnings.append(
            "%s: credsStore is set; docker reads credentials from that store instead of auths "
            "(podman, skopeo and CRI-O do read auths)" % origin
        )
    return warnings


def is_empty(doc):
    """True when a credentials document holds nothing: no ``auths`` entry and no other key."""
    return not doc.get("auths") and all(key == "auths" for key in doc)


def plan(path, raw, current_mode, registry, state, username=None, password=None, email=None,
         remove_if_empty=False):
    """Decide the change to the credentials file *path* whose current bytes are *raw*.

    *raw* is None when the file does not exist. ``state`` ``present`` sets the entry of
    *registry* to exactly ``{"auth": ..., "email": ...}`` (other keys of that entry, such as an
    ``identitytoken`` that would take precedence, are dropped); ``absent`` removes that entry
    only, and with *remove_if_empty* the whole file when nothing else is left in it
    (``change.remove_file``). Equal content is never rewritten (documents are compared, not text),
    but a present file is brought to mode 0600.
    """
    key = validate_registry(registry)
    change = Change(path, key)
    change.exists = raw is not None
    doc = parse(raw, path) if raw is not None else {}
    auths = doc.get("auths") or {}
    old_entry = auths.get(key)

    if state == "present":
        entry = {"auth": encode_auth(username, password)}
        if email:
            entry["email"] = email
        new_doc = dict(doc)
        new_auths = dict(auths)
        new_auths[key] = entry
        new_doc["auths"] = new_auths
        change.content_changed = old_entry != entry
        auth_changed = not isinstance(old_entry, dict) or old_entry.get("auth") != entry["auth"]
        change.warnings = _credential_warnings(doc, key, path)
    elif state == "absent":
        new_doc = doc
        auth_changed = False
        if key in auths:
            new_doc = dict(doc)
            new_doc["auths"] = {k: v for k, v in auths.items() if k != key}
            change.content_changed = True
    else:
        raise AuthFileError("state must be present or absent, not %r" % (state,))

    if state == "absent" and remove_if_empty and change.exists and is_empty(new_doc):
        change.remove_file = True
        change.content_changed = True
    elif change.content_changed:
        change.data = dumps(new_doc, compact=_is_compact(raw)).encode("utf-8")
        change.mode_changed = change.exists and current_mode != FILE_MODE
    elif change.exists and state == "present":
        change.mode_changed = current_mode != FILE_MODE

    change.before = redacted_view(doc) if change.exists else {}
    change.after = redacted_view(new_doc, key, auth_changed and change.content_changed)
    if change.exists:
        change.before["mode"] = "%04o" % current_mode
    if change.remove_file:
        change.after = {}
    elif change.exists or change.content_changed:
        change.after["mode"] = "%04o" % (FILE_MODE if change.changed else current_mode)
    else:
        change.after = {}
    change.registries = list((new_doc.get("auths") or {}).keys())
    return change
