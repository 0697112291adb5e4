"""Throw-away OpenPGP keys for the test bed, made by the ``gpg`` CLI (GnuPG 2.2).

Usage::

    key = make_key(tmp_path, "alice")        # EdDSA (ed25519) key, no passphrase
    key.fingerprint                          # primary key fingerprint, upper-case hex
    key.public, key.secret                   # armored bytes (give .public to verifiers)
    key.home                                 # its GNUPGHOME (skopeo --sign-by needs GNUPGHOME=key.home)
    key.stop_agent()                         # after using key.home yourself (make_key stops its own)

``make_key(tmp_path, "bob", passphrase="s3cret")`` protects the secret key with a passphrase;
``key_type="RSA"`` makes an RSA 2048 key instead of EdDSA (slower to generate). Each key lives in
its own 0700 home under ``tmp_path``; the agent ``gpg`` starts is stopped before returning.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GpgKey", "make_key", "gpg"]


@dataclass(frozen=True)
class GpgKey:
    """A generated key pair and the GNUPGHOME that holds it."""

    name: str
    home: Path
    fingerprint: str
    public: bytes
    secret: bytes
    passphrase: str | None = None

    def env(self) -> dict[str, str]:
        """An environment for a client (skopeo, gpg) that must use this key's home."""
        return {**os.environ, "GNUPGHOME": str(self.home)}

    def stop_agent(self) -> None:
        """Stop the gpg-agent a client may have started in this key's home."""
        stop_agent(self.home)


def stop_agent(home: Path | str) -> None:
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def gpg(home: Path | str, *args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``gpg --batch --homedir HOME ARGS`` and return the completed process (bytes)."""
    cmd = ["gpg", "--batch", "--no-tty", "--homedir", str(home), *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120, check=False,
                          env={**os.environ, "LC_ALL": "C", "GNUPGHOME": str(home)})
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc


def make_key(tmp_path: Path | str, name: str, passphrase: str | None = None, key_type: str = "EdDSA") -> GpgKey:
    """Generate a key for ``NAME <NAME@airgap.test>`` in ``tmp_path/gnupg-NAME``."""
    home = Path(tmp_path) / f"gnupg-{name}"
    home.mkdir(mode=0o700, parents=True, exist_ok=False)
    os.chmod(home, 0o700)
    if key_type.upper() == "RSA":
        algo = "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign\n"
    else:
        algo = "Key-Type: EDDSA\nKey-Curve: ed25519\nKey-Usage: sign\n"
    protection = f"Passphrase: {passphrase}\n" if passphrase else "%no-protection\n"
    params = (f"{algo}Name-Real: {name}\nName-Email: {name}@airgap.test\nExpire-Date: 0\n"
              f"{protection}%commit\n")
    try:
        gpg(home, "--pinentry-mode", "loopback", "--gen-key", stdin=params.encode())
        listing = gpg(home, "--with-colons", "--list-secret-keys").stdout.decode()
        fingerprint = _primary_fingerprint(listing)
        public = gpg(home, "--armor", "--export", fingerprint).stdout
        secret_args = ["--pinentry-mode", "loopback", "--passphrase-fd", "0"] if passphrase else []
        secret = gpg(home, *secret_args, "--armor", "--export-secret-keys", fingerprint,
                     stdin=(passphrase or "").encode()).stdout
    finally:
        stop_agent(home)
    return GpgKey(name=name, home=home, fingerprint=fingerprint, public=public, secret=secret, passphrase=passphrase)


def _primary_fingerprint(colons: str) -> str:
    expect = False
    for line in colons.splitlines():
        fields = line.split(":")
        if fields[0] in ("sec", "pub"):
            expect = True
        elif fields[0] == "fpr" and expect:
            return fields[9].upper()
    raise RuntimeError(f"no primary key in:\n{colons}")
