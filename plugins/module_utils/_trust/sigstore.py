# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Sigstore (cosign) public keys and signatures: ECDSA P-256 with SHA-256, through ``cryptography``.

A cosign signature is the standard base64 of an ASN.1 DER ECDSA signature over the payload bytes
(the ``dev.cosignproject.cosign/signature`` annotation of the payload layer). A key is a PEM
``PUBLIC KEY`` (SubjectPublicKeyInfo); its fingerprint is ``sha256:`` and the hex SHA-256 of that
DER SubjectPublicKeyInfo. Only P-256 keys are taken (what ``cosign generate-key-pair`` makes).

``cryptography`` (which ansible-core depends on) is imported when a key is first loaded, so a run
without ``sigstoreSigned`` requirements does not pay for the import (tens of milliseconds).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._common.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

_PEM_BEGIN = b"-----BEGIN PUBLIC KEY-----"
_PEM_END = b"-----END PUBLIC KEY-----"


class KeyFormatError(ValueError):
    """A key that is not a PEM ECDSA P-256 public key."""


@dataclass(frozen=True)
class EcKey:
    """An ECDSA P-256 public key and its fingerprint."""

    key: EllipticCurvePublicKey
    fingerprint: str


def _pem_blocks(pem: bytes) -> list[bytes]:
    blocks = []
    rest = pem
    while _PEM_BEGIN in rest:
        start = rest.index(_PEM_BEGIN)
        end = rest.find(_PEM_END, start)
        if end < 0:
            raise KeyFormatError("a PEM PUBLIC KEY block has no END line")
        blocks.append(rest[start:end + len(_PEM_END)])
        rest = rest[end + len(_PEM_END):]
    if not blocks:
        raise KeyFormatError("no PEM PUBLIC KEY block (an ECDSA P-256 public key, as cosign writes it)")
    return blocks


def load_public_keys(pem: bytes) -> list[EcKey]:
    """Every ``PUBLIC KEY`` block of *pem* (at least one), each a P-256 key; :class:`KeyFormatError`."""
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as exc:  # pragma: no cover - cryptography comes with ansible-core
        raise UserError("sigstoreSigned requirements need the Python package cryptography (%s)" % exc) from None
    keys = []
    for block in _pem_blocks(pem):
        try:
            key = serialization.load_pem_public_key(block)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError("not a readable PEM public key (%s)" % exc.__class__.__name__) from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            what = "an ECDSA %s key" % key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) \
                else "a %s" % type(key).__name__.lstrip("_")
            raise KeyFormatError("only ECDSA P-256 public keys are supported, not %s" % what)
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        keys.append(EcKey(key, "sha256:" + hashlib.sha256(der).hexdigest()))
    return keys


def decode_signature(text: object) -> bytes:
    """The DER signature of a base64 annotation; ValueError when it is not one."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if not isinstance(text, str) or not text:
        raise ValueError("the signature annotation is missing or empty")
    try:
        der = base64.b64decode(text.encode("ascii"), validate=True)
        decode_dss_signature(der)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("the signature is not a base64 ASN.1 ECDSA signature") from None
    return der


def signer(keys: tuple[EcKey, ...], der: bytes, payload: bytes) -> EcKey | None:
    """The key of *keys* that verifies *der* over *payload*, or None."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    for candidate in keys:
        try:
            candidate.key.verify(der, payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return candidate
    return None
