# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Prefixes and locations of containers-registries.conf(5): the checks containers/image applies,
plus stricter ones of ours (no scheme, normalized host names, wildcards only as ``*.domain``)."""

from __future__ import annotations

import re
from typing import Any

from ..._oci import reference as _ref

_WILDCARD = re.compile(r"^\*\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
                       r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$")


def _domain_like(host: str) -> bool:
    return "." in host or ":" in host or host == "localhost" or host.startswith("[")


def check_location(value: Any) -> str:
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


def _check_host(value: str, host: str) -> None:
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


def check_prefix(value: Any) -> str:
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


def effective_prefix(entry: dict[str, Any]) -> str | None:
    """The prefix containers/image keys a ``[[registry]]`` table by (prefix, else location)."""
    prefix = entry.get("prefix") or ""
    if not isinstance(prefix, str):
        return None
    prefix = prefix.rstrip("/")
    if prefix:
        return prefix
    location = entry.get("location")
    return location.rstrip("/") if isinstance(location, str) and location.rstrip("/") else None
