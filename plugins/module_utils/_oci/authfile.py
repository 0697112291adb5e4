# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The credentials file format, once: containers ``auth.json`` and docker ``config.json``.

containers-auth.json(5)::

    {"auths": {"mirror.example.com:8443": {"auth": "<base64 of user:password>", "email": "..."}},
     "credHelpers": {...}, "credsStore": "..."}

:func:`loads` / :func:`dumps` read and write a document, :func:`normalize_key` gives the key a
client looks an ``auths`` entry up by, :func:`encode_auth` / :func:`decode_auth` the ``auth`` value.
Readers (the engine's credential store) and writers (the registry_auth module, pull secrets) use
these. Nothing here puts a credential into a message.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

DOCKER_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


class AuthFileFormatError(ValueError):
    """Bytes that are not a credentials document; the message never holds file content and names
    no file (callers add it): ``not valid JSON at line 1 column 2 (Expecting value)``."""


def normalize_key(key: str) -> str:
    """An ``auths`` or ``credHelpers`` key as ``host[:port][/path]``: scheme, trailing ``/``, legacy
    ``/v1`` or ``/v2`` suffix removed, host lower-cased, Docker Hub aliases as ``docker.io``."""
    key = key.strip()
    if "://" in key:
        parts = urlsplit(key)
        key = parts.netloc + parts.path
    key = key.rstrip("/")
    for suffix in ("/v1", "/v2"):
        if key.endswith(suffix):
            key = key[: -len(suffix)]
    host, sep, path = key.partition("/")
    host = host.lower()
    if host in DOCKER_HUB_ALIASES:
        host = "docker.io"
    return host + sep + path


def encode_auth(username: str, password: str, errors: str = "strict") -> str:
    """The ``auth`` value: base64 of ``username:password`` (RFC 7617 user-pass), UTF-8.

    *errors* is the UTF-8 encoding's error handler (``surrogateescape`` keeps bytes that came in
    as lone surrogates, as Go does with invalid UTF-8)."""
    return base64.b64encode(("%s:%s" % (username, password)).encode("utf-8", errors)).decode("ascii")


def decode_auth(value: str) -> tuple[str, str]:
    """``(username, password)`` of an ``auth`` value; AuthFileFormatError when it is not base64 of
    ``user:password`` (split at the first ``:``, as containers/image and docker do)."""
    try:
        text = base64.b64decode(value, validate=False).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise AuthFileFormatError("the 'auth' value is not base64 of user:password") from None
    user, sep, password = text.partition(":")
    if not sep:
        raise AuthFileFormatError("the 'auth' value is not base64 of user:password")
    return user, password


def loads(raw: bytes) -> dict[str, Any]:
    """The document in the bytes of a credentials file; an empty file is an empty document.

    A UTF-8 byte order mark is allowed. Raises AuthFileFormatError for text that is not UTF-8,
    not JSON, not an object, or whose ``auths`` is not an object.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuthFileFormatError("not valid UTF-8 at byte %d" % exc.start) from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        # JSONDecodeError's message names the position only, never the content
        raise AuthFileFormatError("not valid JSON at line %s column %s (%s)"
                                  % (exc.lineno, exc.colno, exc.msg)) from None
    if not isinstance(doc, dict):
        raise AuthFileFormatError("expected a JSON object at the top level, found %s" % type(doc).__name__)
    auths = doc.get("auths")
    if auths is not None and not isinstance(auths, dict):
        raise AuthFileFormatError("'auths' must be a JSON object, found %s" % type(auths).__name__)
    return doc


def dumps(doc: dict[str, Any], compact: bool = False) -> str:
    """A credentials document (compact on one line, or indented) with a final newline."""
    if compact:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def is_compact(raw: bytes | None) -> bool:
    """True when existing bytes are a one-line document (as pull secrets from the console are)."""
    return raw is not None and raw.strip() != b"" and b"\n" not in raw.strip()
