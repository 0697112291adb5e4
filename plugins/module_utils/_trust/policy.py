# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""containers-policy.json(5): load a signature policy and pick the requirements of an image.

Supported requirements: ``insecureAcceptAnything``, ``reject``, ``signedBy`` (``keyType: GPGKeys``
with ``keyPath``, ``keyPaths`` or ``keyData``) and ``sigstoreSigned`` (``keyPath``, ``keyPaths``,
``keyData`` or ``keyDatas``: ECDSA P-256 public keys), each with a ``signedIdentity``. Everything
else (``fulcio``, ``pki``, ``rekorPublicKey*``, other key types, ``signedBaseLayer``, unknown types
or keys) is refused when the policy is loaded, naming the file, the scope and what is refused: a
requirement that is not understood is never taken as met. Keys are read and checked at load time;
``keyPath`` must be absolute (the directory a module runs in is not the user's).

The requirements of an image are those of the most specific ``docker`` scope that matches its
source reference (:func:`.scopes.docker_scopes`), else the transport's ``""`` scope, else
``default``. Every requirement of that list must accept the image.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

from .._common.errors import UserError
from . import openpgp
from .payload import MATCH_REPO_DIGEST_OR_EXACT, SignedIdentity, identity_from_json, no_duplicate_keys
from .scopes import check_docker_scope, docker_scopes, source_reference
from .sigstore import EcKey, KeyFormatError, load_public_keys

DOCKER = "docker"
REFUSED_KEYS = {"fulcio": "Fulcio certificates (keyless)", "pki": "X.509 PKI certificates",
                "rekorPublicKeyPath": "Rekor transparency log", "rekorPublicKeyPaths": "Rekor transparency log",
                "rekorPublicKeyData": "Rekor transparency log", "rekorPublicKeyDatas": "Rekor transparency log"}


class PolicyError(UserError):
    """A policy file that cannot be used; the message names the file and the scope."""


@dataclass(frozen=True)
class InsecureAcceptAnything:
    """Any image, signed or not."""

    where: str


@dataclass(frozen=True)
class Reject:
    """No image."""

    where: str


@dataclass(frozen=True)
class SignedBy:
    """A GPG simple signature by one of ``keys`` (armored or binary public keys)."""

    where: str
    keys: tuple[bytes, ...]
    fingerprints: tuple[str, ...]
    identity: SignedIdentity = MATCH_REPO_DIGEST_OR_EXACT


@dataclass(frozen=True)
class SigstoreSigned:
    """A cosign signature by one of ``keys`` (ECDSA P-256)."""

    where: str
    keys: tuple[EcKey, ...]
    identity: SignedIdentity = MATCH_REPO_DIGEST_OR_EXACT

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(k.fingerprint for k in self.keys)


Requirement = Union[InsecureAcceptAnything, Reject, SignedBy, SigstoreSigned]


class Policy:
    """A loaded policy: ``default`` and, per transport, scope -> requirements."""

    def __init__(self, path: str, default: tuple[Requirement, ...],
                 transports: Mapping[str, Mapping[str, tuple[Requirement, ...]]]) -> None:
        self.path = path
        self.default = default
        self.transports = {name: dict(scopes) for name, scopes in transports.items()}

    def _match(self, source_ref: str) -> tuple[str | None, tuple[Requirement, ...]]:
        scopes = self.transports.get(DOCKER, {})
        for scope in docker_scopes(source_reference(source_ref)) + [""]:
            if scope in scopes:
                return scope, scopes[scope]
        return None, self.default

    def scope_for(self, source_ref: str) -> str:
        """Which scope applies to *source_ref*, as the messages name it."""
        scope, _requirements = self._match(source_ref)
        return "default" if scope is None else "transports.docker scope %s" % json.dumps(scope)

    def requirements_for(self, source_ref: str) -> tuple[Requirement, ...]:
        """The requirements of the most specific scope matching *source_ref* (a docker reference)."""
        return self._match(source_ref)[1]


def load_policy(path: str) -> Policy:
    """Load and check a containers-policy.json(5) file; :class:`PolicyError` naming what is wrong."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        raise PolicyError("signature policy %s: cannot read it: %s" % (path, exc.strerror or exc)) from None
    try:
        doc = json.loads(text.decode("utf-8"), object_pairs_hook=no_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PolicyError("signature policy %s: not valid JSON: %s" % (path, exc)) from None
    if not isinstance(doc, dict):
        raise PolicyError("signature policy %s: the top level must be a JSON object" % path)
    unknown = sorted(set(doc) - {"default", "transports"})
    if unknown:
        raise PolicyError("signature policy %s: unknown top-level key(s) %s (only default and transports)"
                          % (path, ", ".join(unknown)))
    if "default" not in doc:
        raise PolicyError("signature policy %s: \"default\" is missing (containers tools require it)" % path)
    default = _requirements(path, "default", doc["default"])
    transports: dict[str, dict[str, tuple[Requirement, ...]]] = {}
    raw_transports = doc.get("transports", {})
    if not isinstance(raw_transports, dict):
        raise PolicyError("signature policy %s: transports must be an object" % path)
    for transport, scopes in raw_transports.items():
        if not isinstance(scopes, dict):
            raise PolicyError("signature policy %s: transports.%s must be an object of scopes" % (path, transport))
        transports[transport] = {}
        for scope, requirements in scopes.items():
            where = "transports.%s scope %s" % (transport, json.dumps(scope))
            if transport == DOCKER:
                problem = check_docker_scope(scope)
                if problem:
                    raise PolicyError("signature policy %s: %s never matches an image: %s" % (path, where, problem))
            transports[transport][scope] = _requirements(path, where, requirements)
    return Policy(path, default, transports)


def _requirements(path: str, where: str, value: object) -> tuple[Requirement, ...]:
    if not isinstance(value, list) or not value:
        raise PolicyError("signature policy %s: %s must be a non-empty list of requirements" % (path, where))
    result = []
    for index, item in enumerate(value, 1):
        label = "%s, requirement %d" % (where, index)
        try:
            result.append(_requirement(path, label, item))
        except ValueError as exc:
            raise PolicyError("signature policy %s: %s" % (path, exc)) from None
    return tuple(result)


def _requirement(path: str, where: str, item: object) -> Requirement:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise ValueError("%s: a requirement is an object with a \"type\"" % where)
    kind = item["type"]
    where = "%s (%s)" % (where, kind)
    if kind in ("insecureAcceptAnything", "reject"):
        _only(item, ("type",), where)
        return InsecureAcceptAnything(where) if kind == "insecureAcceptAnything" else Reject(where)
    if kind == "signedBy":
        _only(item, ("type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"), where)
        if item.get("keyType") != "GPGKeys":
            raise ValueError("%s: keyType %s is not supported (only GPGKeys)"
                             % (where, json.dumps(item.get("keyType"))))
        keys = _key_material(path, where, item, ("keyPath", "keyPaths", "keyData"))
        fingerprints: list[str] = []
        for label, data in keys:
            try:
                fingerprints.extend(openpgp.key_fingerprints([data]))
            except openpgp.OpenPGPError as exc:
                raise ValueError("%s: %s is not an OpenPGP public key (%s)" % (where, label, exc.reason)) from None
        return SignedBy(where, tuple(d for _label, d in keys), tuple(fingerprints), _identity(item, where))
    if kind == "sigstoreSigned":
        refused = [k for k in item if k in REFUSED_KEYS]
        if refused:
            raise ValueError("%s: %s not supported (%s); only public keys (keyPath, keyPaths, keyData, keyDatas)"
                             % (where, ", ".join(refused), ", ".join(sorted({REFUSED_KEYS[k] for k in refused}))))
        _only(item, ("type", "keyPath", "keyPaths", "keyData", "keyDatas", "signedIdentity"), where)
        ec_keys: list[EcKey] = []
        for label, data in _key_material(path, where, item, ("keyPath", "keyPaths", "keyData", "keyDatas")):
            try:
                ec_keys.extend(load_public_keys(data))
            except KeyFormatError as exc:
                raise ValueError("%s: %s: %s" % (where, label, exc)) from None
        return SigstoreSigned(where, tuple(ec_keys), _identity(item, where))
    if kind == "signedBaseLayer":
        raise ValueError("%s: signedBaseLayer is not supported" % where)
    raise ValueError("%s: unknown requirement type %s (supported: insecureAcceptAnything, reject, signedBy, "
                     "sigstoreSigned)" % (where, json.dumps(kind)))


def _only(item: Mapping[str, object], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(item) - set(allowed))
    if unknown:
        raise ValueError("%s: %s not supported (known: %s)" % (where, ", ".join(unknown), ", ".join(allowed[1:])))


def _identity(item: Mapping[str, object], where: str) -> SignedIdentity:
    if "signedIdentity" not in item:
        return MATCH_REPO_DIGEST_OR_EXACT
    return identity_from_json(item["signedIdentity"], where)


def _key_material(path: str, where: str, item: Mapping[str, object],
                  fields: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """``(label, bytes)`` of each key of the one key field present in *item*."""
    given = [f for f in fields if f in item]
    if len(given) != 1:
        raise ValueError("%s: exactly one of %s is needed%s" % (
            where, ", ".join(fields), " (has %s)" % ", ".join(given) if given else ""))
    field = given[0]
    value = item[field]
    plural = field.endswith("s")
    values = value if plural else [value]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise ValueError("%s: %s must be %s" % (where, field, "a non-empty list of strings" if plural else "a string"))
    result = []
    for index, text in enumerate(values, 1):
        label = "%s[%d]" % (field, index) if plural else field
        if field.startswith("keyData"):
            try:
                result.append((label, base64.b64decode(text.encode("ascii"), validate=True)))
            except (binascii.Error, UnicodeEncodeError):
                raise ValueError("%s: %s is not base64" % (where, label)) from None
            continue
        if not os.path.isabs(text):
            raise ValueError("%s: %s %s is not an absolute path" % (where, label, text))
        try:
            with open(text, "rb") as handle:
                result.append(("%s %s" % (label, text), handle.read()))
        except OSError as exc:
            raise ValueError("%s: %s %s: %s" % (where, label, text, exc.strerror or exc)) from None
    return result
