# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""OpenPGP through the system's GnuPG (``gpg``/``gpgv`` 2.2): the one wrapper of the collection.

A maintained implementation rather than a new Python dependency (bindep.txt: ``gnupg``, ``gpgv``).
Every call works in its own temporary GNUPGHOME (mode 0700), runs ``--batch``, never reads the
user's ``~/.gnupg``, stops any agent it started (``gpgconf --kill all``) and removes the home
afterwards. Verification runs ``gpgv`` against a keyring holding exactly the keys given, so "the
signature is good" means "made by one of these keys"; the result is read from ``--status-fd``
(``VALIDSIG``'s last field: the signer's primary key fingerprint), never from localised text.

A passphrase goes to ``gpg`` through ``--passphrase-fd`` (a pipe), never argv, environment or a
message; errors carry a reason and a short text, never key material.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence

from .._common.errors import UserError

__all__ = ["OpenPGPError", "REASONS", "key_fingerprints", "verify_detached", "verify_attached",
           "sign_detached", "public_key"]

REASONS = ("unsigned", "untrusted key", "bad signature", "malformed signature", "malformed key")
TIMEOUT = 120
# gpg's ERRSIG return codes (libgpg-error): 9 = no public key for the signature.
_NO_PUBKEY = "9"


class OpenPGPError(UserError):
    """A signature or key that does not pass; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@contextlib.contextmanager
def _home() -> Iterator[str]:
    """A private 0700 GNUPGHOME, its agent stopped and the directory removed afterwards."""
    home = tempfile.mkdtemp(prefix="airgap-gpg-")  # mkdtemp creates it 0700
    try:
        yield home
    finally:
        for what in ("--kill", "--remove-socketdir"):
            args = [what, "all"] if what == "--kill" else [what]
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["gpgconf", "--homedir", home, *args], env=_env(home), check=False,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=TIMEOUT)
        shutil.rmtree(home, ignore_errors=True)


def _env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GNUPG", "GPG_", "LC_", "LANG"))}
    env.update({"GNUPGHOME": home, "LC_ALL": "C", "LANGUAGE": "C"})
    return env


def _run(home: str, cmd: list[str], stdin: bytes | None = None,
         pass_fds: Sequence[int] = ()) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(cmd, input=stdin, capture_output=True, env=_env(home), check=False,
                              pass_fds=tuple(pass_fds), timeout=TIMEOUT)
    except FileNotFoundError as exc:
        raise UserError(f"{cmd[0]} is not installed: OpenPGP signatures need GnuPG (gnupg and gpgv)") from exc
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"{cmd[0]} did not answer within {TIMEOUT} seconds") from exc


def _gpg(home: str, *args: str) -> list[str]:
    return ["gpg", "--batch", "--no-tty", "--homedir", home, "--no-auto-key-retrieve",
            "--no-auto-key-locate", *args]


def _stderr(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].strip() if lines else f"exit status {proc.returncode}"


def _status(output: bytes) -> list[list[str]]:
    prefix = "[GNUPG:] "
    return [ln[len(prefix):].split() for ln in output.decode("utf-8", "replace").splitlines()
            if ln.startswith(prefix)]


def _primary_fingerprints(colons: bytes) -> list[str]:
    found: list[str] = []
    expect = False
    for line in colons.decode("utf-8", "replace").splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sec"):
            expect = True
        elif fields[0] == "fpr" and expect and len(fields) > 9:
            found.append(fields[9].upper())
            expect = False
        elif fields[0] in ("sub", "ssb", "uid"):
            expect = False
    return found


def _keyring(home: str, keys: Sequence[bytes]) -> tuple[str, list[str]]:
    """Import *keys* into *home* and export them as a binary keyring file for gpgv."""
    fingerprints: list[str] = []
    for index, key in enumerate(keys):
        if not key or not key.strip():
            raise OpenPGPError("malformed key", f"key {index + 1} is empty")
        shown = _run(home, _gpg(home, "--with-colons", "--import-options", "show-only", "--import"), key)
        found = _primary_fingerprints(shown.stdout) if shown.returncode == 0 else []
        if not found:
            raise OpenPGPError("malformed key", f"key {index + 1} holds no OpenPGP public key")
        imported = _run(home, _gpg(home, "--import"), key)
        if imported.returncode != 0:
            raise OpenPGPError("malformed key", f"key {index + 1}: {_stderr(imported)}")
        fingerprints.extend(f for f in found if f not in fingerprints)
    ring = os.path.join(home, "trusted.gpg")
    exported = _run(home, _gpg(home, "--export", "--output", ring, *fingerprints))
    if exported.returncode != 0 or not os.path.exists(ring):
        raise OpenPGPError("malformed key", _stderr(exported))
    return ring, fingerprints


def key_fingerprints(keys: Sequence[bytes]) -> list[str]:
    """The primary fingerprints (upper-case hex) of the armored or binary public *keys*, in order."""
    with _home() as home:
        found: list[str] = []
        for index, key in enumerate(keys):
            shown = _run(home, _gpg(home, "--with-colons", "--import-options", "show-only", "--import"),
                         key) if key and key.strip() else None
            fprs = _primary_fingerprints(shown.stdout) if shown and shown.returncode == 0 else []
            if not fprs:
                raise OpenPGPError("malformed key", f"key {index + 1} holds no OpenPGP public key")
            found.extend(f for f in fprs if f not in found)
        return found


def _verdict(status: list[list[str]], returncode: int, detached: bool) -> str:
    """The signer's primary fingerprint from gpgv's status lines, or the OpenPGPError they mean."""
    words = {line[0] for line in status if line}
    if detached and "PLAINTEXT" in words:
        raise OpenPGPError("malformed signature", "expected a detached signature, found a signed message")
    if "BADSIG" in words:
        raise OpenPGPError("bad signature", "the signature does not match the signed data")
    for line in status:
        if line[0] == "ERRSIG":
            if len(line) > 6 and line[6] == _NO_PUBKEY:
                issuer = line[7] if len(line) > 7 and line[7] != "-" else line[1]
                raise OpenPGPError("untrusted key", f"signed by {issuer.upper()}, which is not a trusted key")
            raise OpenPGPError("malformed signature", "gpgv cannot check this signature")
    valid = [line for line in status if line[0] == "VALIDSIG" and len(line) >= 2]
    if returncode != 0 or not valid or "GOODSIG" not in words:
        if "NODATA" in words or not valid:
            raise OpenPGPError("malformed signature", "no OpenPGP signature found")
        raise OpenPGPError("bad signature", f"gpgv exit status {returncode}")
    if len({line[-1] for line in valid}) != 1:
        raise OpenPGPError("malformed signature", "several signers")
    return valid[0][-1].upper()


def verify_detached(keys: Sequence[bytes], signature: bytes, data: bytes | str) -> str:
    """Check the detached *signature* of *data* (bytes, or the path of a file) against *keys*;
    return the signer's primary fingerprint (upper-case hex)."""
    if not signature or not signature.strip():
        raise OpenPGPError("unsigned", "no signature")
    with _home() as home:
        ring, _unused = _keyring(home, keys)
        sig_path = os.path.join(home, "data.sig")
        with open(sig_path, "wb") as f:
            f.write(signature)
        data_path = _data_path(home, data)
        proc = _run(home, ["gpgv", "--homedir", home, "--keyring", ring, "--status-fd", "1",
                           "--", sig_path, data_path])
        return _verdict(_status(proc.stdout), proc.returncode, detached=True)


def verify_attached(keys: Sequence[bytes], message: bytes) -> tuple[str, bytes]:
    """Check an OpenPGP signed *message* (simple signing, what ``skopeo --sign-by`` writes)
    against *keys*; return (signer's primary fingerprint, the signed payload)."""
    if not message or not message.strip():
        raise OpenPGPError("unsigned", "no signature")
    with _home() as home:
        ring, _unused = _keyring(home, keys)
        msg_path = os.path.join(home, "message.gpg")
        out_path = os.path.join(home, "payload")
        with open(msg_path, "wb") as f:
            f.write(message)
        proc = _run(home, ["gpgv", "--homedir", home, "--keyring", ring, "--status-fd", "1",
                           "--output", out_path, "--", msg_path])
        status = _status(proc.stdout)
        fingerprint = _verdict(status, proc.returncode, detached=False)
        if not any(line[0] == "PLAINTEXT" for line in status) or not os.path.exists(out_path):
            raise OpenPGPError("malformed signature", "the signed message holds no payload")
        with open(out_path, "rb") as f:
            return fingerprint, f.read()


def _import_secret(home: str, secret_key: bytes) -> None:
    imported = _run(home, _gpg(home, "--status-fd", "1", "--import"), secret_key)
    if imported.returncode != 0 or not any(line[0] == "IMPORT_OK" for line in _status(imported.stdout)):
        raise OpenPGPError("malformed key", "the signing key holds no OpenPGP secret key")
    listed = _run(home, _gpg(home, "--with-colons", "--list-secret-keys"))
    if not _primary_fingerprints(listed.stdout):
        raise OpenPGPError("malformed key", "the signing key holds no OpenPGP secret key")


def public_key(secret_key: bytes) -> bytes:
    """The armored public key(s) of an armored or binary *secret_key* (no passphrase needed)."""
    with _home() as home:
        _import_secret(home, secret_key)
        exported = _run(home, _gpg(home, "--armor", "--export"))
        if exported.returncode != 0 or not exported.stdout.strip():
            raise OpenPGPError("malformed key", "cannot export the public key of the signing key")
        return exported.stdout


def _data_path(home: str, data: bytes | str) -> str:
    """*data* as a file: its own path, or the bytes written into the private *home*."""
    if isinstance(data, str):
        return data
    path = os.path.join(home, "data")
    with open(path, "wb") as f:
        f.write(data)
    return path


def sign_command(home: str, passphrase_fd: int, output: str, data_path: str) -> list[str]:
    """The ``gpg`` argv of sign_detached: the passphrase is read from *passphrase_fd*, never argv."""
    return _gpg(home, "--pinentry-mode", "loopback", "--passphrase-fd", str(passphrase_fd),
                "--armor", "--detach-sign", "--output", output, "--", data_path)


def sign_detached(secret_key: bytes, data: bytes | str, passphrase: str | None = None) -> bytes:
    """An armored detached signature of *data* (bytes, or the path of a file) by *secret_key*
    (armored or binary). Raises OpenPGPError("malformed key") when the key cannot be read or
    unlocked (no secret key, missing or wrong passphrase)."""
    with _home() as home:
        _import_secret(home, secret_key)
        data_path = _data_path(home, data)
        out_path = os.path.join(home, "data.asc")
        read_fd, write_fd = os.pipe()
        try:
            with os.fdopen(write_fd, "wb") as w:
                w.write((passphrase or "").encode("utf-8") + b"\n")
            proc = _run(home, sign_command(home, read_fd, out_path, data_path), pass_fds=(read_fd,))
        finally:
            os.close(read_fd)
        if proc.returncode != 0 or not os.path.exists(out_path):
            raise OpenPGPError("malformed key", "cannot sign: the secret key cannot be unlocked "
                               "(missing or wrong passphrase?) or cannot sign")
        with open(out_path, "rb") as f:
            return f.read()


def sign_unless_signed(secret_key: bytes, data: bytes, passphrase: str | None = None,
                       existing: bytes | None = None) -> tuple[bytes | None, str]:
    """(a new detached signature of *data* by *secret_key*, or None when *existing* is already a
    valid one by that key over *data*; the signer's primary fingerprint). The new signature is
    checked against the key's public half before it is returned."""
    public = public_key(secret_key)
    if existing is not None:
        try:
            return None, verify_detached([public], existing, data)
        except OpenPGPError:
            pass  # another key's, or of other content: replaced
    signature = sign_detached(secret_key, data, passphrase)
    return signature, verify_detached([public], signature, data)
