# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Simple-signing payloads (containers-signature(5), cosign) and the ``signedIdentity`` rules.

A payload is JSON that names what was signed::

    {"critical": {"type": "atomic container signature",
                  "image": {"docker-manifest-digest": "sha256:..."},
                  "identity": {"docker-reference": "quay.io/org/app:1.0"}},
     "optional": {"creator": "...", "timestamp": 1700000000}}

GPG simple signatures carry type ``atomic container signature``; cosign's carry ``cosign container
image signature``, a repository-only identity and ``"optional": null`` when it has no annotations.
Parsing is as strict as containers/image: exactly these keys in ``critical``, ``image`` and
``identity``, no duplicate keys, a valid digest. What the payload says is untrusted until its
signature verified; only then are digest and identity compared.

Identity rules (containers-policy.json(5)), ``image`` being the source reference the image is
pulled by (a reference with a tag counts as tagged, its digest is checked against the payload's
separately), ``signed`` the payload's docker-reference:

- ``matchExact``: both have a tag or digest and are the same reference;
- ``matchRepoDigestOrExact`` (the default): a tagged image needs exactly that reference signed; an
  image pulled by digest needs the same repository;
- ``matchRepository``: same repository (what cosign signatures carry);
- ``exactReference`` / ``exactRepository``: compare the signed reference with a fixed one instead of
  the image's;
- ``remapIdentity``: the image's name with ``prefix`` replaced by ``signedPrefix``, then as
  ``matchRepoDigestOrExact``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .._oci.errors import InvalidReference
from .._oci.reference import Reference, parse, parse_registry_prefix, validate_digest

ATOMIC_TYPE = "atomic container signature"
COSIGN_TYPE = "cosign container image signature"

IDENTITY_TYPES = ("matchExact", "matchRepoDigestOrExact", "matchRepository", "exactReference",
                  "exactRepository", "remapIdentity")


class PayloadError(ValueError):
    """A payload that is not a simple-signing payload of the expected type."""


@dataclass(frozen=True)
class Payload:
    """What a verified signature says it signed."""

    manifest_digest: str
    docker_reference: str


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads` refusing duplicate keys (as containers/image)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadError("duplicate key %r" % key)
        result[key] = value
    return result


def _exact(obj: object, keys: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise PayloadError("%s is not a JSON object" % where)
    if set(obj) != set(keys):
        raise PayloadError("%s must have exactly the keys %s, has %s"
                           % (where, ", ".join(keys), ", ".join(sorted(obj)) or "none"))
    return obj


def parse_payload(data: bytes, kind: str = ATOMIC_TYPE) -> Payload:
    """Parse a payload whose ``critical.type`` must be *kind*; :class:`PayloadError` otherwise."""
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError("not JSON (%s)" % exc) from None
    top = _exact(doc, ("critical", "optional"), "the payload")
    optional = top["optional"]
    if not isinstance(optional, dict) and not (optional is None and kind == COSIGN_TYPE):
        raise PayloadError("optional is not a JSON object")
    critical = _exact(top["critical"], ("type", "image", "identity"), "critical")
    if critical["type"] != kind:
        raise PayloadError("type is %r, not %r" % (critical["type"], kind))
    image = _exact(critical["image"], ("docker-manifest-digest",), "critical.image")
    identity = _exact(critical["identity"], ("docker-reference",), "critical.identity")
    digest, reference = image["docker-manifest-digest"], identity["docker-reference"]
    if not isinstance(reference, str):
        raise PayloadError("docker-reference is not a string")
    try:
        validate_digest(digest, "docker-manifest-digest")
    except ValueError as exc:
        raise PayloadError(str(exc)) from None
    return Payload(digest, reference)


def _is_name_only(ref: Reference) -> bool:
    return ref.tag is None and ref.digest is None


def _tagged_view(ref: Reference) -> Reference:
    """A tagged reference is compared as ``name:tag`` (its digest is checked elsewhere)."""
    return ref.without_digest() if ref.tag else ref


def _repo_digest_or_exact(intended: Reference, signed: Reference) -> bool:
    if _is_name_only(signed):
        return False
    if intended.tag:
        return str(signed) == str(_tagged_view(intended))
    if intended.digest:
        return signed.name == intended.name
    return False


def _exact_match(intended: Reference, signed: Reference) -> bool:
    if _is_name_only(intended) or _is_name_only(signed):
        return False
    return str(signed) == str(_tagged_view(intended))


def check_prefix(prefix: object, what: str) -> str:
    """A remapIdentity prefix: a host, or a fully expanded ``host[/namespace]`` (ValueError)."""
    try:
        host, namespace = parse_registry_prefix(prefix)
    except InvalidReference as exc:
        raise ValueError("%s %r: %s" % (what, prefix, exc.reason)) from None
    expanded = str(parse(prefix)) if namespace else host
    if expanded != prefix:
        raise ValueError("%s %r is not a fully expanded name (host[/namespace...]): write %r"
                         % (what, prefix, expanded))
    return prefix


@dataclass(frozen=True)
class SignedIdentity:
    """One ``signedIdentity`` of a policy requirement (see the module documentation)."""

    type: str = "matchRepoDigestOrExact"
    reference: str | None = None       # exactReference: dockerReference; exactRepository: dockerRepository
    prefix: str | None = None          # remapIdentity
    signed_prefix: str | None = None   # remapIdentity

    def describe(self) -> str:
        if self.type in ("exactReference", "exactRepository"):
            return "%s %s" % (self.type, self.reference)
        if self.type == "remapIdentity":
            return "remapIdentity %s -> %s" % (self.prefix, self.signed_prefix)
        return self.type

    def matches(self, image: Reference, signed_text: str) -> bool:
        """Whether a signature for *signed_text* is accepted for *image* under this rule."""
        try:
            signed = parse(signed_text)
        except InvalidReference:
            return False
        if self.type == "matchExact":
            return _exact_match(image, signed)
        if self.type == "matchRepository":
            return signed.name == image.name
        if self.type == "exactReference":
            return _exact_match(parse(self.reference), signed)
        if self.type == "exactRepository":
            return signed.name == parse(self.reference).name
        if self.type == "remapIdentity":
            return _repo_digest_or_exact(self._remap(image), signed)
        return _repo_digest_or_exact(image, signed)

    def _remap(self, image: Reference) -> Reference:
        prefix, signed_prefix = self.prefix or "", self.signed_prefix or ""
        name = image.name
        if name != prefix and not name.startswith(prefix + "/"):
            return image
        try:
            return parse(signed_prefix + str(image)[len(prefix):])
        except InvalidReference:
            return image


MATCH_REPO_DIGEST_OR_EXACT = SignedIdentity()


def identity_from_json(obj: object, where: str) -> SignedIdentity:
    """A ``signedIdentity`` object of policy.json; ValueError naming *where* and the problem."""
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ValueError("%s: signedIdentity must be an object with a \"type\"" % where)
    kind = obj["type"]
    if kind not in IDENTITY_TYPES:
        raise ValueError("%s: signedIdentity type %r is not one of %s" % (where, kind, ", ".join(IDENTITY_TYPES)))
    fields = {"exactReference": ("dockerReference",), "exactRepository": ("dockerRepository",),
              "remapIdentity": ("prefix", "signedPrefix")}.get(kind, ())
    unknown = sorted(set(obj) - {"type", *fields})
    missing = [f for f in fields if f not in obj]
    if unknown or missing:
        raise ValueError("%s: signedIdentity %s %s" % (
            where, kind, "does not take %s" % ", ".join(unknown) if unknown else "needs %s" % ", ".join(missing)))
    try:
        if kind == "exactReference":
            ref = parse(obj["dockerReference"])
            if _is_name_only(ref):
                raise ValueError("dockerReference %r has neither a tag nor a digest" % obj["dockerReference"])
            return SignedIdentity(kind, reference=str(ref))
        if kind == "exactRepository":
            return SignedIdentity(kind, reference=parse(obj["dockerRepository"]).name)
        if kind == "remapIdentity":
            return SignedIdentity(kind, prefix=check_prefix(obj["prefix"], "prefix"),
                                  signed_prefix=check_prefix(obj["signedPrefix"], "signedPrefix"))
    except InvalidReference as exc:
        raise ValueError("%s: signedIdentity %s: %s" % (where, kind, exc)) from None
    except ValueError as exc:
        raise ValueError("%s: signedIdentity %s: %s" % (where, kind, exc)) from None
    return SignedIdentity(kind)
