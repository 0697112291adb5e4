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

from collections.abc import Callable
from typing import Any

from .._common.errors import UserError
from .._common.managed_file import ManagedFile, diff
from .._oci import authfile as _format
from .._oci import reference as _ref
from .._oci.errors import InvalidReference

FILE_MODE = 0o600
DIR_MODE = 0o700
REDACTED = "<redacted>"
REDACTED_CHANGED = "<redacted, changed>"
# the only values of an entry that a diff may show; everything else is treated as a secret
_SHOWN_KEYS = ("email",)


class AuthFileError(UserError, ValueError):
    """A credentials file or request that cannot be used; the message names the file."""


def validate_registry(registry: Any) -> str:
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


def encode_auth(username: str | None, password: str | None) -> str:
    """The ``auth`` value: base64 of ``username:password`` (RFC 7617 user-pass)."""
    if not username:
        raise AuthFileError("username must not be empty")
    if ":" in username:
        # containers/image and docker split the decoded value at the first ':'
        raise AuthFileError("username must not contain ':' (the auth value is user:password)")
    if password is None or password == "":
        raise AuthFileError("password must not be empty")
    return _format.encode_auth(username, password)


def parse(raw: bytes, origin: str) -> dict[str, Any]:
    """Parse the bytes of a credentials file; an empty file is an empty document."""
    try:
        return _format.loads(raw)
    except _format.AuthFileFormatError as exc:
        raise AuthFileError("%s: %s; not changing it" % (origin, exc)) from None


def dumps(doc: dict[str, Any], compact: bool = False) -> str:
    """Serialize a credentials document (compact on one line, or indented) with a final newline."""
    return _format.dumps(doc, compact)


def redacted_entry(entry: Any, changed: bool = False) -> Any:
    """A view of one ``auths`` entry that is safe to show: every value but ``email`` is hidden."""
    if not isinstance(entry, dict):
        return REDACTED
    view: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _SHOWN_KEYS and isinstance(value, str):
            view[key] = value
        else:
            view[key] = REDACTED_CHANGED if changed and key == "auth" else REDACTED
    return view


def redacted_view(doc: dict[str, Any], changed_registry: str | None = None,
                  auth_changed: bool = False) -> dict[str, Any]:
    """A view of a whole document for a diff: redacted ``auths``, other keys named only."""
    view: dict[str, Any] = {"auths": {}}
    for key, entry in (doc.get("auths") or {}).items():
        view["auths"][key] = redacted_entry(entry, changed=auth_changed and key == changed_registry)
    for key in doc:
        if key != "auths":
            view[key] = "<not shown, unchanged>"
    return view


class Change:
    """What :func:`plan` decided: the new content (if any) and what to report about it."""

    def __init__(self, path: str, registry: str) -> None:
        self.path = path
        self.registry = registry
        self.exists = False
        self.content_changed = False
        self.mode_changed = False
        self.data: bytes | None = None  # bytes to write when content_changed (None with remove_file)
        self.remove_file = False  # state=absent with remove_if_empty: delete the file
        self.before: dict[str, Any] = {}
        self.after: dict[str, Any] = {}
        self.registries: list[str] = []
        self.warnings: list[str] = []

    @property
    def changed(self) -> bool:
        return self.content_changed or self.mode_changed


def _credential_warnings(doc: dict[str, Any], registry: str, origin: str) -> list[str]:
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


def is_empty(doc: dict[str, Any]) -> bool:
    """True when a credentials document holds nothing: no ``auths`` entry and no other key."""
    return not doc.get("auths") and all(key == "auths" for key in doc)


def plan(path: str, raw: bytes | None, current_mode: int | None, registry: str, state: str,
         username: str | None = None, password: str | None = None, email: str | None = None,
         remove_if_empty: bool = False) -> Change:
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
        entry: dict[str, Any] = {"auth": encode_auth(username, password)}
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
        change.data = dumps(new_doc, compact=_format.is_compact(raw)).encode("utf-8")
        change.mode_changed = change.exists and current_mode != FILE_MODE
    elif change.exists and state == "present":
        change.mode_changed = current_mode != FILE_MODE

    change.before = redacted_view(doc) if change.exists else {}
    change.after = redacted_view(new_doc, key, auth_changed and change.content_changed)
    if change.exists:
        change.before["mode"] = "%04o" % (current_mode or 0)
    if change.remove_file:
        change.after = {}
    elif change.exists or change.content_changed:
        change.after["mode"] = "%04o" % (FILE_MODE if change.changed else (current_mode or 0))
    else:
        change.after = {}
    change.registries = list((new_doc.get("auths") or {}).keys())
    return change


def run(params: dict[str, Any], check_mode: bool, want_diff: bool, warn: Callable[[str], None],
        result: dict[str, Any]) -> dict[str, Any]:
    """The registry_auth module's work on ``params["path"]``; fills and returns *result*.

    Raises AuthFileError / ManagedFileError (UserError) and OSError.
    """
    current = ManagedFile.read(params["path"])
    change = plan(
        current.path, current.raw, current.mode, params["registry"], params["state"],
        username=params["username"], password=params["password"], email=params["email"],
        remove_if_empty=params["remove_if_empty"],
    )
    result.update(registry=change.registry, registries=change.registries)
    for warning in change.warnings:
        warn(warning)
    missing: list[str] = []
    if change.content_changed and not change.remove_file:
        missing = current.missing_directories(params["create_dirs"])
    if change.remove_file:
        current.remove(check_mode)
    elif change.changed:
        current.apply(change.data if change.content_changed else None, FILE_MODE, check_mode, DIR_MODE, missing)
    result["created_dirs"] = missing
    result["removed"] = change.remove_file
    result["changed"] = change.changed
    if want_diff:
        result["diff"] = diff(change.before, change.after, current.path)
    return result
