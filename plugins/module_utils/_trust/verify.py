# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Decide whether an image may be mirrored: its policy requirements against its signatures.

Every requirement of the image's scope must accept it (containers/image semantics). A ``signedBy``
requirement accepts when at least one GPG simple signature of the lookaside store (registries.d)
is by one of its keys, for this manifest digest, with an identity its ``signedIdentity`` accepts;
``sigstoreSigned`` the same with cosign signatures, read only when registries.d enables sigstore
attachments for the image (as containers/image does). When no signature is accepted the verdict
names the reason of the signature that came closest (identity mismatch, then payload for another
digest, untrusted key, malformed signature), or ``unsigned`` when there was none.

A failure to read signatures (an unreachable lookaside server) is raised, not a verdict.
"""

from __future__ import annotations

import os
import ssl
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from .._common.errors import UserError
from .._common.http_library import HTTPX_IMPORT_ERROR, httpx
from .._oci.reference import Reference, validate_digest
from . import openpgp
from .payload import ATOMIC_TYPE, COSIGN_TYPE, PayloadError, SignedIdentity, parse_payload
from .policy import InsecureAcceptAnything, Policy, Reject, Requirement, SignedBy, SigstoreSigned
from .registriesd import RegistriesD
from .scopes import source_reference
from .sigstore import decode_signature, signer


ROOT_LOOKASIDE = "file:///var/lib/containers/sigstore"
USER_LOOKASIDE = ".local/share/containers/sigstore"  # under the home directory of a user other than root
MAX_SIGNATURES = 128
MAX_SIGNATURE_BYTES = 4 * 1024 * 1024
FETCH_TIMEOUT = 60.0
# how close a rejected signature came to being accepted: the verdict names the closest
_RANK = {"malformed signature": 0, "untrusted key": 1, "payload for another digest": 2, "identity mismatch": 3}


class SignatureFetchError(UserError):
    """A signature store that could not be read (not: a signature that is absent)."""


@dataclass(frozen=True)
class SigstoreSignature:
    """One cosign signature: the payload layer's bytes and its base64 signature annotation."""

    payload: bytes
    signature: str


@dataclass(frozen=True)
class Verdict:
    """Whether an image is accepted, why not, and by which keys."""

    accepted: bool
    reason: str
    kind: str
    keys: tuple[str, ...] = ()
    gpg_signatures: tuple[bytes, ...] = field(default=(), repr=False)

    def verified(self) -> dict[str, object] | None:
        """The mirror map entry's ``verified`` value: ``{"kind", "keys"}`` for an image accepted by
        signatures, None when nothing was verified (refused, or accepted by insecureAcceptAnything)."""
        if not self.accepted or self.kind == "none":
            return None
        return {"kind": self.kind, "keys": list(self.keys)}


@dataclass
class _Outcome:
    """One requirement's answer."""

    accepted: bool
    reason: str = ""
    keys: list[str] = field(default_factory=list)
    accepted_signatures: list[bytes] = field(default_factory=list)


class _Rejections:
    """The reasons signatures were not accepted; reports the closest."""

    def __init__(self) -> None:
        self.best: tuple[int, str] | None = None
        self.count = 0

    def add(self, reason: str, detail: str) -> None:
        self.count += 1
        text = "%s: %s" % (reason, detail)
        if self.best is None or _RANK[reason] > self.best[0]:
            self.best = (_RANK[reason], text)

    def summary(self, unsigned: str) -> str:
        if self.best is None:
            return "unsigned: " + unsigned
        if self.count > 1:
            return "%s (none of %d signatures accepted)" % (self.best[1], self.count)
        return self.best[1]


def builtin_lookaside() -> str:
    """containers/image's lookaside when registries.d sets none: root's, or the user's own."""
    if os.geteuid() == 0:
        return ROOT_LOOKASIDE
    return "file://" + os.path.join(os.path.expanduser("~"), USER_LOOKASIDE)


def lookaside_urls(base: str, ref: Reference, manifest_digest: str) -> Callable[[int], str]:
    """``n -> <base>/<repository path>@<algorithm>=<hex>/signature-<n>`` (containers-registries.d(5))."""
    algorithm, _sep, hexpart = manifest_digest.partition(":")
    prefix = "%s%s%s@%s=%s/signature-" % (base, "" if base.endswith("/") else "/", ref.path, algorithm, hexpart)
    return lambda n: prefix + str(n)


def verify_image(policy: Policy, registries_d: RegistriesD, source_ref: str, manifest_digest: str,
                 sigstore: Callable[[], list[SigstoreSignature]],
                 fetch: Callable[[str], bytes | None]) -> Verdict:
    """The verdict for the image *source_ref* whose manifest has *manifest_digest*.

    *sigstore* returns the image's cosign signatures (called once, only when a ``sigstoreSigned``
    requirement applies and registries.d enables attachments); *fetch* returns a lookaside
    object's bytes or None when absent (called for ``signature-1``, ``-2``, ... until None)."""
    ref = source_reference(source_ref)
    validate_digest(manifest_digest, "manifest digest")
    requirements = policy.requirements_for(source_ref)
    context = _Context(registries_d, source_ref, ref, manifest_digest, sigstore, fetch)
    keys: list[str] = []
    carried: list[bytes] = []
    kinds: list[str] = []
    for requirement in requirements:
        kind = _kind(requirement)
        outcome = context.check(requirement)
        if not outcome.accepted:
            return Verdict(False, outcome.reason, kind)
        kinds.append(kind)
        keys.extend(k for k in outcome.keys if k not in keys)
        carried.extend(s for s in outcome.accepted_signatures if s not in carried)
    kind = "gpg" if "gpg" in kinds else "sigstore" if "sigstore" in kinds else "none"
    return Verdict(True, "", kind, tuple(keys), tuple(carried))


def _kind(requirement: Requirement) -> str:
    if isinstance(requirement, SignedBy):
        return "gpg"
    if isinstance(requirement, SigstoreSigned):
        return "sigstore"
    return "none"


class _Context:
    """The signatures of one image, read at most once, checked against requirements."""

    def __init__(self, registries_d: RegistriesD, source_ref: str, ref: Reference, manifest_digest: str,
                 sigstore: Callable[[], list[SigstoreSignature]], fetch: Callable[[str], bytes | None]) -> None:
        self.registries_d = registries_d
        self.source_ref = source_ref
        self.ref = ref
        self.manifest_digest = manifest_digest
        self.sigstore = sigstore
        self.fetch = fetch
        self._gpg: list[bytes] | None = None
        self._cosign: list[SigstoreSignature] | None = None
        self.lookaside = registries_d.lookaside_for(source_ref) or builtin_lookaside()

    def check(self, requirement: Requirement) -> _Outcome:
        if isinstance(requirement, InsecureAcceptAnything):
            return _Outcome(True)
        if isinstance(requirement, Reject):
            return _Outcome(False, "rejected by policy: %s" % requirement.where)
        if isinstance(requirement, SignedBy):
            return self._signed_by(requirement)
        return self._sigstore_signed(requirement)

    def gpg_signatures(self) -> list[bytes]:
        if self._gpg is None:
            url = lookaside_urls(self.lookaside, self.ref, self.manifest_digest)
            found: list[bytes] = []
            while True:
                if len(found) >= MAX_SIGNATURES:
                    raise SignatureFetchError("%s: more than %d signatures in %s; assuming a broken store"
                                              % (self.source_ref, MAX_SIGNATURES, self.lookaside))
                data = self.fetch(url(len(found) + 1))
                if data is None:
                    break
                found.append(data)
            self._gpg = found
        return self._gpg

    def _signed_by(self, requirement: SignedBy) -> _Outcome:
        rejections = _Rejections()
        outcome = _Outcome(False)
        for signature in self.gpg_signatures():
            try:
                fingerprint, data = openpgp.verify_attached(requirement.keys, signature)
            except openpgp.OpenPGPError as exc:
                if exc.reason == "untrusted key":
                    detail = exc.detail or "signed by another key"
                    rejections.add("untrusted key", "%s (%s)" % (detail, requirement.where))
                else:
                    rejections.add("malformed signature", str(exc))
                continue
            if fingerprint not in requirement.fingerprints:
                rejections.add("untrusted key", "signed by %s, not a key of %s" % (fingerprint, requirement.where))
                continue
            if self._judge(rejections, data, ATOMIC_TYPE, requirement.identity):
                outcome.keys.append(fingerprint)
                outcome.accepted_signatures.append(signature)
        if outcome.keys:
            outcome.accepted = True
            return outcome
        first = lookaside_urls(self.lookaside, self.ref, self.manifest_digest)(1)
        outcome.reason = rejections.summary("no GPG signature at %s" % first)
        return outcome

    def _sigstore_signed(self, requirement: SigstoreSigned) -> _Outcome:
        if not self.registries_d.use_sigstore_attachments(self.source_ref):
            return _Outcome(False, "unsigned: sigstore attachments are not enabled for %s "
                                   "(use-sigstore-attachments in registries.d)" % self.ref.name)
        if self._cosign is None:
            self._cosign = list(self.sigstore())
        rejections = _Rejections()
        outcome = _Outcome(False)
        for signature in self._cosign:
            try:
                der = decode_signature(signature.signature)
            except ValueError as exc:
                rejections.add("malformed signature", str(exc))
                continue
            key = signer(requirement.keys, der, signature.payload)
            if key is None:
                rejections.add("untrusted key", "the signature verifies with none of the %d key(s) of %s"
                               % (len(requirement.keys), requirement.where))
                continue
            if self._judge(rejections, signature.payload, COSIGN_TYPE, requirement.identity):
                if key.fingerprint not in outcome.keys:
                    outcome.keys.append(key.fingerprint)
        if outcome.keys:
            outcome.accepted = True
            return outcome
        outcome.reason = rejections.summary("no sigstore signature for %s@%s" % (self.ref.name, self.manifest_digest))
        return outcome

    def _judge(self, rejections: _Rejections, data: bytes, kind: str, identity: SignedIdentity) -> bool:
        """Whether a cryptographically verified payload is for this image (else record why not)."""
        try:
            payload = parse_payload(data, kind)
        except PayloadError as exc:
            rejections.add("malformed signature", "payload: %s" % exc)
            return False
        if payload.manifest_digest != self.manifest_digest:
            rejections.add("payload for another digest", "signed %s, the manifest is %s"
                           % (payload.manifest_digest, self.manifest_digest))
            return False
        if not identity.matches(self.ref, payload.docker_reference):
            rejections.add("identity mismatch", "signed for %s, %s does not accept it for %s"
                           % (payload.docker_reference, identity.describe(), self.source_ref))
            return False
        return True


def default_fetch(url: str) -> bytes | None:
    """A lookaside object's bytes, None when absent: ``file://`` and ``http(s)://`` (system trust)."""
    if url.startswith("file://"):
        path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_SIGNATURE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SignatureFetchError("cannot read signature %s: %s" % (path, exc.strerror or exc)) from None
    elif url.startswith(("http://", "https://")):
        fetched = _http_get(url)
        if fetched is None:
            return None
        data = fetched
    else:
        raise SignatureFetchError("lookaside URL %s: only file://, http:// and https:// are supported" % url)
    if len(data) > MAX_SIGNATURE_BYTES:
        raise SignatureFetchError("signature %s is larger than %d bytes" % (url, MAX_SIGNATURE_BYTES))
    return data


def _http_get(url: str) -> bytes | None:
    if httpx is None:
        raise SignatureFetchError("signature %s: reading it needs the Python package httpx (%s)"
                                  % (url, HTTPX_IMPORT_ERROR))
    try:
        with httpx.Client(verify=ssl.create_default_context(), timeout=FETCH_TIMEOUT,
                          follow_redirects=True, trust_env=True) as client:
            with client.stream("GET", url) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise SignatureFetchError("signature %s: HTTP %d" % (url, response.status_code))
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_SIGNATURE_BYTES:
                        break
                return data
    except httpx.HTTPError as exc:
        raise SignatureFetchError("signature %s: %s %s" % (url, type(exc).__name__, exc)) from None
