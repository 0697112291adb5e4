# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that prepare the signature policy of the airgap.mirror.registry_mirror_host role.

``signature_requests``: the role's ``registry_mirror_host_signatures`` items (keys as controller
paths) -> the ``signatures`` of ``airgap.mirror.signature_policy`` (keys read, named by their file
name, GPG keys checked with gpg), before anything changes on a host.
Documentation: a YAML file per filter next to this file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.airgap.mirror.plugins.filter.mirror_host import _controller_file
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import signature_policy as _sp
from ansible_collections.airgap.mirror.plugins.module_utils._trust import openpgp as _openpgp
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

WHAT = "registry_mirror_host_signatures"
_KEYS = ("source", "kind", "keys", "signed_identity", "lookaside")


def _key(path: Any, kind: str, search: Sequence[str | None] | None, label: str) -> dict[str, Any]:
    if not isinstance(path, str) or not path:
        raise UserError("%s: keys must be paths of public key files on the controller, not %r" % (label, path))
    found = _controller_file(path, search, "%s: key" % label)
    with open(found, "rb") as handle:
        raw = handle.read()
    try:
        content = raw.decode("ascii")
    except UnicodeDecodeError:
        raise UserError("%s: %s is not an armored (text) key; export it with gpg --armor" % (label, found)) from None
    key: dict[str, Any] = {"name": os.path.basename(found), "content": content}
    if kind == "gpg":
        try:
            if not _openpgp.key_fingerprints([raw]):
                raise _openpgp.OpenPGPError("malformed key", "no public key in the file")
        except _openpgp.OpenPGPError as exc:
            raise UserError("%s: %s is not an OpenPGP public key (%s)" % (label, found, exc.reason)) from None
    elif "-----BEGIN PUBLIC KEY-----" not in content:
        raise UserError("%s: %s is not a PEM public key (-----BEGIN PUBLIC KEY-----)" % (label, found))
    return key


@reported
def signature_requests(items: Sequence[Mapping[str, Any]] | None, search: Sequence[str | None] | None = None,
                       what: str = WHAT) -> list[dict[str, Any]]:
    """*items* (``{source, kind, keys: [controller paths], signed_identity, lookaside}``) as the
    ``signatures`` option of ``airgap.mirror.signature_policy`` (``scope``; keys ``{name, content}``)."""
    if items is None:
        return []
    if not isinstance(items, (list, tuple)):
        raise UserError("%s: expected a list of {source, kind, keys} items, not %s" % (what, type(items).__name__))
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise UserError("%s[%d]: expected a dict, not %r" % (what, index, item))
        label = "%s item %s" % (what, item.get("source", "[%d]" % index))
        unknown = sorted(set(item) - set(_KEYS))
        if unknown:
            raise UserError("%s: unknown keys %s (known: %s)" % (label, ", ".join(unknown), ", ".join(_KEYS)))
        scope = _sp.check_scope(item.get("source"), "%s: source" % label)
        kind = item.get("kind")
        if kind not in _sp.KINDS:
            raise UserError("%s: kind must be one of %s, not %r" % (label, ", ".join(_sp.KINDS), kind))
        paths = item.get("keys")
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, (list, tuple)) or not paths:
            raise UserError("%s: keys must be a non-empty list of public key files on the controller" % label)
        request: dict[str, Any] = {"scope": scope, "kind": kind,
                                   "keys": [_key(path, kind, search, label) for path in paths]}
        for optional in ("signed_identity", "lookaside"):
            if item.get(optional):
                request[optional] = item[optional]
        out.append(request)
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"signature_requests": signature_requests}
