# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The host side of signature enforcement: what goes into ``policy.json`` and ``registries.d``.

containers-policy.json(5) is evaluated against the LOGICAL reference (the source name a host
pulls, ``quay.io/org/app@sha256:...``), even when containers/image fetches the image from a
registries.conf mirror; containers-registries.d(5) (where the signatures are: ``lookaside``,
``use-sigstore-attachments``) is looked up for the PHYSICAL reference, the mirror's repository.
So each signature requirement gives:

* a ``transports.docker`` scope for the source prefix (``signedBy`` / ``sigstoreSigned``), and one
  for each mirror prefix of the mapping in use, with ``remapIdentity`` (the signature names the
  source repository) unless the user chose a ``signedIdentity``;
* a ``docker`` scope in the registries.d file for the source prefix and for each mirror prefix.

Nothing here touches a scope it was not asked for: :func:`merge` changes only the managed scopes
(and ``default`` when asked) and returns the previous value of each, which the record keeps so that
``state=absent`` gives back exactly what was there.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._common.errors import UserError

KINDS = ("gpg", "sigstore")
DEFAULTS = ("leave", "reject", "insecureAcceptAnything")
IDENTITY_TYPES = ("matchExact", "matchRepoDigestOrExact", "matchRepository", "exactReference",
                  "exactRepository", "remapIdentity")
HEADER = "# Written by airgap.mirror.signature_policy: signature locations for the mirrored sources.\n"
RECORD_FORMAT = "airgap.mirror/signature_policy/v1"
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SCOPE = re.compile(r"^(\*\.)?[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$")


class SignaturePolicyError(UserError, ValueError):
    """A request or a file on the host that cannot be used; the message names it."""


@dataclasses.dataclass(frozen=True)
class KeyFile:
    """A public key to install: file *name* under the keys directory, its *content*."""

    name: str
    content: str


@dataclasses.dataclass(frozen=True)
class Signature:
    """One requirement: images under *scope* must be signed (*kind*) by one of *keys*."""

    scope: str
    kind: str
    keys: tuple[KeyFile, ...]
    signed_identity: dict[str, Any] | None = None
    lookaside: str | None = None


def check_scope(scope: Any, what: str) -> str:
    """A policy scope: ``host[:port][/path]`` or ``*.domain`` (no scheme, tag or digest)."""
    if not isinstance(scope, str) or not _SCOPE.match(scope.strip().rstrip("/")):
        raise SignaturePolicyError("%s %r: give a registry or repository prefix (host[:port][/path] or "
                                   "*.domain), without a scheme, tag or digest" % (what, scope))
    return scope.strip().rstrip("/")


def parse_signatures(items: Sequence[Mapping[str, Any]], lookaside: str | None) -> list[Signature]:
    """The module's ``signatures`` option as :class:`Signature` objects (validated)."""
    out: list[Signature] = []
    seen: dict[str, str] = {}
    names: dict[str, str] = {}
    for item in items:
        scope = check_scope(item.get("scope"), "signatures scope")
        if scope in seen:
            raise SignaturePolicyError("signatures: scope %s is given twice" % scope)
        kind = item.get("kind")
        if kind not in KINDS:
            raise SignaturePolicyError("signatures scope %s: kind must be one of %s, not %r"
                                       % (scope, ", ".join(KINDS), kind))
        keys = tuple(_key(key, scope, names) for key in item.get("keys") or ())
        if not keys:
            raise SignaturePolicyError("signatures scope %s: at least one public key is needed" % scope)
        identity = item.get("signed_identity")
        if identity is not None:
            if not isinstance(identity, Mapping) or identity.get("type") not in IDENTITY_TYPES:
                raise SignaturePolicyError("signatures scope %s: signed_identity must be a mapping whose type is "
                                           "one of %s" % (scope, ", ".join(IDENTITY_TYPES)))
            identity = dict(identity)
        where = item.get("lookaside") or lookaside
        if kind == "gpg" and not where:
            raise SignaturePolicyError("signatures scope %s: GPG signatures need a lookaside URL (file://, "
                                       "http:// or https://)" % scope)
        if where and not re.match(r"^(file|https?)://", where):
            raise SignaturePolicyError("signatures scope %s: lookaside %r must be a file://, http:// or "
                                       "https:// URL" % (scope, where))
        seen[scope] = kind
        out.append(Signature(scope, kind, keys, identity, where if kind == "gpg" else None))
    return out


def _key(key: Any, scope: str, names: dict[str, str]) -> KeyFile:
    if not isinstance(key, Mapping) or not isinstance(key.get("content"), str) or not key["content"].strip():
        raise SignaturePolicyError("signatures scope %s: each key needs a name and a content" % scope)
    name = key.get("name")
    if not isinstance(name, str) or not _KEY_NAME.match(name):
        raise SignaturePolicyError("signatures scope %s: key name %r must be a file name (letters, digits, "
                                   "'.', '_', '-')" % (scope, name))
    if names.setdefault(name, key["content"]) != key["content"]:
        raise SignaturePolicyError("signatures: two different keys are both named %s" % name)
    return KeyFile(name, key["content"])


def mirror_scopes(scope: str, pairs: Iterable[Mapping[str, str]]) -> list[tuple[str, str]]:
    """(mirror prefix, source prefix it stands for) for each pair of the mapping under *scope*:
    a pair for the scope or a parent of it maps the scope itself; a pair for a sub-prefix of the
    scope maps that sub-prefix. Wildcard scopes have no mirror counterpart."""
    out: list[tuple[str, str]] = []
    if scope.startswith("*."):
        return out
    for pair in pairs:
        source = str(pair["source"]).rstrip("/")
        mirror = str(pair["mirror"]).rstrip("/")
        if scope == source or scope.startswith(source + "/"):
            item = (mirror + scope[len(source):], scope)
        elif source.startswith(scope + "/"):
            item = (mirror, source)
        else:
            continue
        if item not in out:
            out.append(item)
    return out


def key_path(keys_dir: str, key: KeyFile) -> str:
    return "%s/%s" % (keys_dir.rstrip("/"), key.name)


def requirement(sig: Signature, keys_dir: str, identity: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The policy requirement list of one scope."""
    req: dict[str, Any] = {"type": "signedBy", "keyType": "GPGKeys"} if sig.kind == "gpg" else {
        "type": "sigstoreSigned"}
    paths = [key_path(keys_dir, key) for key in sig.keys]
    if len(paths) == 1:
        req["keyPath"] = paths[0]
    else:
        req["keyPaths"] = paths
    if identity is not None:
        req["signedIdentity"] = identity
    return [req]


@dataclasses.dataclass
class Desired:
    """What the host must hold: policy scopes, registries.d scopes, key files (path -> content)."""

    scopes: dict[str, list[dict[str, Any]]]
    locations: dict[str, dict[str, Any]]
    keys: dict[str, str]
    unmapped: list[str]


def desired(signatures: Sequence[Signature], pairs: Sequence[Mapping[str, str]], keys_dir: str) -> Desired:
    """Everything :func:`merge` and :func:`registries_d_text` write, from the requirements and the
    mapping (the registries.conf pairs) the host uses."""
    out = Desired({}, {}, {}, [])
    for sig in signatures:
        for key in sig.keys:
            out.keys[key_path(keys_dir, key)] = key.content
        identity = sig.signed_identity
        if identity is None and sig.kind == "sigstore":
            # cosign's payload names only the repository (anchors §4.3)
            identity = {"type": "matchRepository"}
        location: dict[str, Any] = {"lookaside": sig.lookaside} if sig.kind == "gpg" else {
            "use-sigstore-attachments": True}
        _put(out.scopes, sig.scope, requirement(sig, keys_dir, identity))
        _put(out.locations, sig.scope, location)
        mirrors = mirror_scopes(sig.scope, pairs)
        if not mirrors:
            out.unmapped.append(sig.scope)
        for mirror, source in mirrors:
            remapped = sig.signed_identity
            if remapped is None:
                remapped = {"type": "remapIdentity", "prefix": mirror, "signedPrefix": source}
            _put(out.scopes, mirror, requirement(sig, keys_dir, remapped))
            _put(out.locations, mirror, location)
    return out


def _put(target: dict[str, Any], scope: str, value: Any) -> None:
    if scope in target and target[scope] != value:
        raise SignaturePolicyError("signatures: scope %s would get two different requirements (two signature "
                                   "entries map to the same mirror prefix)" % scope)
    target[scope] = value


def registries_d_text(locations: Mapping[str, Mapping[str, Any]]) -> str:
    """The registries.d YAML file (JSON scalars are YAML); empty when there is nothing to say."""
    lines = [HEADER, "docker:\n"]
    for scope in sorted(locations):
        lines.append("  %s:\n" % json.dumps(scope))
        for key, value in locations[scope].items():
            lines.append("    %s: %s\n" % (key, json.dumps(value)))
    return "".join(lines)


def parse_policy(raw: bytes | None, path: str) -> dict[str, Any] | None:
    """policy.json as a document (None when the file does not exist)."""
    if raw is None:
        return None
    try:
        doc = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise SignaturePolicyError("%s is not valid JSON (%s); it is left as it is" % (path, exc)) from None
    transports = doc.get("transports", {}) if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or not isinstance(transports, dict) \
            or not isinstance(transports.get("docker", {}), dict):
        raise SignaturePolicyError("%s is not a containers-policy.json(5) document (an object with "
                                   "transports.docker an object); it is left as it is" % path)
    return doc


@dataclasses.dataclass
class Merge:
    """The merged policy document and what the record must remember."""

    doc: dict[str, Any]
    previous: dict[str, Any]
    default_managed: bool
    default_previous: Any
    warnings: list[str]


def merge(doc: dict[str, Any], scopes: Mapping[str, list[dict[str, Any]]], default: str,
          record: Mapping[str, Any] | None) -> Merge:
    """*doc* with the managed *scopes* set. Scopes of a former run (in *record*) that are no longer
    wanted get back their previous value when nobody changed them since. The previous value of each
    scope (None: there was none) is taken from the record when it has it, from *doc* otherwise."""
    rec = record or {}
    written: dict[str, Any] = dict(rec.get("written", {}))
    previous: dict[str, Any] = dict(rec.get("previous", {}))
    new = copy.deepcopy(doc)
    docker = new.setdefault("transports", {}).setdefault("docker", {})
    warnings: list[str] = []
    for scope in [s for s in previous if s not in scopes]:
        warnings += _restore(docker, scope, previous.pop(scope), written.get(scope))
    for scope, value in scopes.items():
        if scope not in previous:
            previous[scope] = copy.deepcopy(docker.get(scope))
        docker[scope] = copy.deepcopy(value)
    default_previous = rec.get("default_previous")
    if default != "leave":
        if "default_previous" not in rec:
            default_previous = copy.deepcopy(doc.get("default"))
        new["default"] = [{"type": default}]
    elif "default_previous" in rec:
        warnings += _restore_default(new, rec)
        default_previous = None
    _tidy(new, doc)
    return Merge(new, previous, default != "leave", default_previous, warnings)


def unmerge(doc: dict[str, Any], record: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """*doc* with every scope of the record given back its previous value (and ``default``), for
    ``state=absent``; a scope someone changed since the role wrote it is left as it is."""
    new = copy.deepcopy(doc)
    docker = new.setdefault("transports", {}).setdefault("docker", {})
    warnings: list[str] = []
    for scope, before in record.get("previous", {}).items():
        warnings += _restore(docker, scope, before, record.get("written", {}).get(scope))
    if "default_previous" in record:
        warnings += _restore_default(new, record)
    _tidy(new, {})
    return new, warnings


def _tidy(new: dict[str, Any], old: Mapping[str, Any]) -> None:
    """Drop the empty ``docker`` and ``transports`` objects *old* did not have."""
    transports = new["transports"]
    if not transports["docker"] and "docker" not in old.get("transports", {}):
        del transports["docker"]
    if not transports and "transports" not in old:
        del new["transports"]


def _restore(docker: dict[str, Any], scope: str, before: Any, written: Any) -> list[str]:
    if scope not in docker:
        return []
    if written is not None and docker[scope] != written:
        return ["policy scope %s was changed by someone else since airgap.mirror.signature_policy wrote it; "
                "it is left as it is" % scope]
    if before is None:
        del docker[scope]
    else:
        docker[scope] = before
    return []


def _restore_default(doc: dict[str, Any], record: Mapping[str, Any]) -> list[str]:
    if record.get("default_written") is not None and doc.get("default") != record["default_written"]:
        return ["the policy default was changed by someone else since airgap.mirror.signature_policy set it; "
                "it is left as it is"]
    if record.get("default_previous") is None:
        doc.pop("default", None)
    else:
        doc["default"] = record["default_previous"]
    return []


def dumps_policy(doc: Mapping[str, Any]) -> bytes:
    return (json.dumps(doc, indent=4) + "\n").encode("utf-8")


def parse_record(raw: bytes | None, path: str) -> dict[str, Any] | None:
    """The module's record of what it changed (None when there is none)."""
    if raw is None:
        return None
    try:
        rec = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        rec = None
    if not isinstance(rec, dict) or rec.get("format") != RECORD_FORMAT:
        raise SignaturePolicyError("%s is not a record of airgap.mirror.signature_policy (format %s); remove "
                                   "it or give another record path" % (path, RECORD_FORMAT))
    return rec
