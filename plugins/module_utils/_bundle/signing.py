# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Signed bundles: a detached, armored OpenPGP signature of the manifest, ``<name>.bundle.json.asc``.

The manifest lists every part by size and sha256 and every blob by digest, so signing the manifest
signs the whole bundle. The format is the one ``gpg --verify NAME.bundle.json.asc NAME.bundle.json``
checks, made and checked through ``_trust/openpgp`` (the system's GnuPG).

With trusted keys, :func:`read_signed` checks the signature over the exact bytes of the manifest it
then parses (no second read), and refuses an unsigned bundle, a manifest changed after signing and a
bundle signed by another key, naming the bundle and the reason. Without them it only says whether a
signature is there. Key material and passphrases never appear in a message or a result.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

from .._common.fileio import atomic_write
from .._trust import openpgp
from .errors import BundleError, os_error
from .manifest import parse_manifest, read_manifest_bytes
from .names import manifest_file_name, signature_file_name

MAX_KEY_BYTES = 1024 * 1024
MAX_SIGNATURE_BYTES = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class SigningKey:
    """The secret key a pack signs with (read from *path*); repr never shows the key or passphrase."""

    path: str
    secret: bytes = dataclasses.field(repr=False)
    passphrase: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True)
class TrustedKeys:
    """The public keys a verify or unpack accepts signatures from, and their primary fingerprints."""

    paths: tuple[str, ...]
    keys: tuple[bytes, ...] = dataclasses.field(repr=False)
    fingerprints: tuple[str, ...]


def _read_key(path: str, option: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_BYTES + 1)
    except OSError as exc:
        raise BundleError("cannot read the %s %s: %s" % (option, path, exc.strerror or exc)) from None
    if len(data) > MAX_KEY_BYTES:
        raise BundleError("the %s %s is larger than %d bytes: not an OpenPGP key" % (option, path, MAX_KEY_BYTES))
    return data


def load_signing_key(path: str, passphrase: str | None = None) -> SigningKey:
    """The armored (or binary) OpenPGP secret key at *path*."""
    return SigningKey(path, _read_key(path, "signing_key"), passphrase)


def load_trusted_keys(paths: Sequence[str]) -> TrustedKeys:
    """The armored or binary OpenPGP public keys at *paths*; a file that holds none is refused by name."""
    if not paths:
        raise BundleError("verify_keys is empty: give at least one public key file")
    keys = []
    fingerprints: list[str] = []
    for path in paths:
        key = _read_key(path, "verify_keys file")
        try:
            found = openpgp.key_fingerprints([key])
        except openpgp.OpenPGPError:
            raise BundleError("the verify_keys file %s holds no OpenPGP public key" % path) from None
        keys.append(key)
        fingerprints.extend(f for f in found if f not in fingerprints)
    return TrustedKeys(tuple(paths), tuple(keys), tuple(fingerprints))


def sign(bundle_dir: str, name: str, manifest: bytes, key: SigningKey, check_mode: bool) -> dict[str, Any]:
    """Sign the *manifest* bytes of bundle *name* into ``<name>.bundle.json.asc`` unless a signature
    by the same key over the same bytes is there already. Returns ``{file, fingerprint, status}``
    (status ``written``, ``present`` or ``would_write``)."""
    path = os.path.join(bundle_dir, signature_file_name(name))
    existing = _read_signature(path)
    try:
        signature, fingerprint = openpgp.sign_unless_signed(key.secret, manifest, key.passphrase, existing)
    except openpgp.OpenPGPError as exc:
        raise BundleError("cannot sign the manifest of the bundle %s with the signing_key %s: %s"
                          % (name, key.path, exc), part=signature_file_name(name)) from None
    if signature is None:
        return {"file": path, "fingerprint": fingerprint, "status": "present", "present": True}
    if check_mode:
        return {"file": path, "fingerprint": fingerprint, "status": "would_write", "present": existing is not None}
    try:
        atomic_write(path, signature, 0o644, media=True)
    except OSError as exc:
        raise BundleError(os_error(exc, "writing the signature %s" % path), part=signature_file_name(name)) from None
    return {"file": path, "fingerprint": fingerprint, "status": "written", "present": True}


def _read_signature(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_SIGNATURE_BYTES)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BundleError("cannot read the signature %s: %s" % (path, exc.strerror or exc),
                          part=os.path.basename(path)) from None


_WHY = {
    "unsigned": "it has no signature %(sig)s next to its manifest, and verify_keys requires one (pack it with "
                "signing_key)",
    "untrusted key": "%(manifest)s is %(detail)s; verify_keys trusts %(trusted)s",
    "bad signature": "%(manifest)s does not match its signature %(sig)s: the manifest was changed after it was "
                     "signed",
    "malformed signature": "%(sig)s is not an OpenPGP signature that gpgv can check (%(detail)s)",
    "malformed key": "a verify_keys file cannot be used (%(detail)s)",
}


def read_signed(bundle_dir: str, name: str, trusted: TrustedKeys | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validated manifest of bundle *name* and its signature report ``{present, file, verified,
    fingerprint}``. With *trusted* keys, the manifest's bytes are checked against its signature
    before anything in them is used, and a bundle that fails is refused (``BundleError``)."""
    manifest_path = os.path.join(bundle_dir, manifest_file_name(name))
    sig_path = os.path.join(bundle_dir, signature_file_name(name))
    data = read_manifest_bytes(manifest_path)
    signature = _read_signature(sig_path)
    report: dict[str, Any] = {"present": signature is not None, "file": sig_path, "verified": False,
                              "fingerprint": None}
    if trusted is not None:
        try:
            if signature is None:
                raise openpgp.OpenPGPError("unsigned")
            report["fingerprint"] = openpgp.verify_detached(trusted.keys, signature, data)
        except openpgp.OpenPGPError as exc:
            detail = exc.detail or exc.reason
            if exc.reason == "untrusted key":
                detail = detail.replace(", which is not a trusted key", "")
            why = _WHY.get(exc.reason, "%(detail)s") % {
                "sig": signature_file_name(name), "manifest": manifest_file_name(name), "detail": detail,
                "trusted": ", ".join(trusted.fingerprints)}
            raise BundleError("the bundle %s in %s is refused: %s: %s" % (name, bundle_dir, exc.reason, why),
                              part=signature_file_name(name)) from None
        report["verified"] = True
    return parse_manifest(data, manifest_path), report
