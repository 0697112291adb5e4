"""A throw-away certificate authority for the test bed, driven by the ``openssl`` CLI.

Usage::

    pki = PKI(tmp_path / "pki")                    # creates ca.crt / ca.key once per directory
    server = pki.server_cert(["IP:127.0.0.1", "DNS:localhost", "DNS:mirror.test"])
    server.cert, server.key                        # paths for the registry's http.tls section
    client = pki.client_cert("robot")              # for mTLS tests (extendedKeyUsage=clientAuth)
    pki.ca_cert                                    # give this to clients (skopeo --cert-dir, httpx verify=)

Everything is cached per directory: asking twice for the same SAN list (or the same client name)
returns the files made the first time, and a second ``PKI`` on the same directory reuses the CA.
Keys are RSA 2048 (what every client here accepts); the whole CA + one server certificate takes
well under a second. Files are written to a temporary name and renamed, so a half-written
certificate is never picked up. Key files are 0600.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PKI", "CertPair", "PKIError"]


class PKIError(RuntimeError):
    """An ``openssl`` command failed; the message carries the command and its stderr."""


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path) -> None:
    cmd = ["openssl", *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError as exc:
        raise PKIError("openssl not found; install the Debian package 'openssl'") from exc
    if proc.returncode != 0:
        raise PKIError(f"{' '.join(cmd)} failed (rc={proc.returncode}): {proc.stderr.strip()}")


class PKI:
    """A test CA living in ``directory`` (created if missing).

    :param directory: where ``ca.crt``, ``ca.key`` and every issued pair are stored.
    :param ca_name: the CA's common name (only used when the CA is created).
    """

    def __init__(self, directory: os.PathLike | str, ca_name: str = "airgap.mirror test CA") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_cert = self.directory / "ca.crt"
        self.ca_key = self.directory / "ca.key"
        if not (self.ca_cert.exists() and self.ca_key.exists()):
            self._make_ca(ca_name)

    # -- public ---------------------------------------------------------------------------------

    def server_cert(self, sans: list[str] | tuple[str, ...] = ("IP:127.0.0.1", "DNS:localhost"),
                    common_name: str | None = None) -> CertPair:
        """A server certificate (serverAuth) for the given subjectAltName entries.

        ``sans`` are openssl SAN strings such as ``"IP:10.88.0.1"`` or ``"DNS:mirror.test"``. The
        order does not matter for caching; duplicates are dropped.
        """
        entries = sorted(set(sans))
        if not entries:
            raise ValueError("a server certificate needs at least one subjectAltName")
        for entry in entries:
            if not entry.startswith(("IP:", "DNS:")):
                raise ValueError(f"subjectAltName entry {entry!r} must start with 'IP:' or 'DNS:'")
        tag = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:12]
        cn = common_name or entries[0].split(":", 1)[1]
        ext = ("subjectAltName=" + ",".join(entries) + "\n"
               "basicConstraints=CA:FALSE\n"
               "keyUsage=critical,digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=serverAuth\n")
        return self._issue(f"server-{tag}", cn, ext)

    def client_cert(self, name: str = "client") -> CertPair:
        """A client certificate (clientAuth) with common name ``name``, for mTLS tests."""
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"client certificate name {name!r} must be a plain file-name part")
        ext = ("basicConstraints=CA:FALSE\n"
               "keyUsage=critical,digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=clientAuth\n")
        return self._issue(f"client-{name}", name, ext)

    # -- internals ------------------------------------------------------------------------------

    def _make_ca(self, ca_name: str) -> None:
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            work = Path(tmp)
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                     "-keyout", "ca.key", "-out", "ca.crt", "-subj", f"/CN={ca_name}",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=work)
            os.chmod(work / "ca.key", 0o600)
            os.replace(work / "ca.key", self.ca_key)
            os.replace(work / "ca.crt", self.ca_cert)

    def _issue(self, stem: str, common_name: str, extensions: str) -> CertPair:
        pair = CertPair(self.directory / f"{stem}.crt", self.directory / f"{stem}.key")
        if pair.cert.exists() and pair.key.exists():
            return pair
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            work = Path(tmp)
            (work / "ext.cnf").write_text(extensions)
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "x.key", "-out", "x.csr",
                     "-subj", f"/CN={common_name}", cwd=work)
            # A random serial per certificate: -CAcreateserial would share one serial file.
            _openssl("x509", "-req", "-in", "x.csr", "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key),
                     "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "825",
                     "-out", "x.crt", "-extfile", "ext.cnf", cwd=work)
            os.chmod(work / "x.key", 0o600)
            os.replace(work / "x.key", pair.key)
            os.replace(work / "x.crt", pair.cert)
        return pair
