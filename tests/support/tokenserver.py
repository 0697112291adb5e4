"""A Bearer token service for distribution's ``auth: token:`` mode (the Docker registry v2 token
flow), so tests can run a REAL docker-registry that demands tokens.

Usage::

    ts = TokenServer(tmp_path / "tokens", users={"alice": "s3cret"}).start()
    reg = registry_factory(extra_config=ts.registry_config())      # the registry trusts ts
    ts.grant("alice", r"src/.*", "pull")                           # per-repository scopes;
    ts.grant("alice", r"dst/.*", "pull,push")                      # without grants: everything
    ts.lifetime = 2                                                # tokens die 2 s after issue
    ts.advertised_lifetime = 300                                   # ...but expires_in says 300
    ts.refuse_ungranted = True                                     # 403 to asking for more than granted
    ts.issued                                                      # [Issued(user, requested, granted, at)]
    ts.stop()

How the registry checks a token (distribution 2.8 ``registry/auth/token``): a JWS in compact form
whose header names ``alg`` (RS256 here) and ``kid`` = the libtrust fingerprint of the signing key
(SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, twelve groups of four joined by
``:``); the key must belong to a certificate of ``rootcertbundle``. Claims: ``iss`` = the configured
issuer, ``aud`` = the service, ``exp``/``nbf`` (checked with a leeway of 60 s each way), and
``access`` = ``[{type, name, actions}]`` -- the registry answers 401 ``insufficient_scope`` to a
request whose repository/action is not in it. Because of the leeway, a token that must die
``lifetime`` seconds after issue carries ``exp = now + lifetime - 60``.

The token endpoint follows the spec: ``GET /token?service=..&scope=..&scope=..`` with optional
Basic credentials (anonymous gets a token with no access), and ``POST /token`` (OAuth2 form,
``grant_type=password`` or ``refresh_token``). Wrong credentials get 401. Answers carry ``token``,
``access_token``, ``expires_in`` and ``issued_at``. Every answer is recorded in :attr:`issued`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = ["TokenServer", "Issued", "libtrust_key_id", "LEEWAY"]

LEEWAY = 60  # seconds distribution 2.8 adds to exp and subtracts from nbf


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def libtrust_key_id(public_key) -> str:
    """The ``kid`` distribution derives from a key: libtrust's fingerprint."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(text[i:i + 4] for i in range(0, len(text), 4))


@dataclass
class Issued:
    """One token the server handed out (or refused: ``granted`` is None)."""

    user: Optional[str]
    requested: list
    granted: Optional[list]
    at: float
    status: int = 200


class TokenServer:
    """A token issuer on 127.0.0.1 (plain HTTP; clients reach it directly, not through a proxy)."""

    def __init__(self, workdir, users: Optional[dict] = None, *, lifetime: float = 300,
                 advertised_lifetime: Optional[float] = None, service: str = "airgap-testbed-registry",
                 issuer: str = "airgap-testbed-token-issuer", bind: str = "127.0.0.1") -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.users = dict(users or {})
        self.lifetime = lifetime
        self.advertised_lifetime = advertised_lifetime
        self.service = service
        self.issuer = issuer
        self.bind = bind
        self.port: Optional[int] = None
        #: refuse (403) a token request asking for any action the user is not granted, as some token
        #: services do, instead of issuing a token with what is granted (the specification's way)
        self.refuse_ungranted = False
        self.issued: list[Issued] = []
        self._grants: dict[str, list] = {}
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = libtrust_key_id(self.key.public_key())
        self.cert_path = self.workdir / "token-signing.crt"
        self._write_cert()

    # -- set-up ---------------------------------------------------------------------------------

    def _write_cert(self) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        tmp = self.cert_path.with_suffix(".tmp")
        tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp, self.cert_path)

    def grant(self, user: Optional[str], repository_regex: str, actions: str) -> None:
        """Allow ``user`` (None: anonymous) ``actions`` ("pull", "pull,push", "*") on repositories
        matching ``repository_regex`` (full match). Once any grant exists for a user, only granted
        scopes are issued to that user; a user without grants gets what it asks for."""
        with self._lock:
            self._grants.setdefault(user, []).append((re.compile(repository_regex), set(actions.split(","))))

    @property
    def realm(self) -> str:
        return f"http://{self.bind}:{self.port}/token"

    def registry_config(self) -> dict:
        """The ``auth:`` section for :class:`support.registry.Registry` (``extra_config=``)."""
        if self.port is None:
            raise RuntimeError("start() the token server first: the realm needs its port")
        return {"auth": {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                                   "rootcertbundle": str(self.cert_path)}}}

    def start(self) -> "TokenServer":
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((self.bind, 0), _Handler)
        server.daemon_threads = True
        server.tokens = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"tokenserver-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None

    def __enter__(self) -> "TokenServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- tokens ---------------------------------------------------------------------------------

    def authenticate(self, header: Optional[str]):
        """(ok, user) for an Authorization header (None/absent: anonymous)."""
        if not header:
            return True, None
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _sep, password = base64.b64decode(value).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False, None
        return self.check_password(user, password), user

    def check_password(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        return expected is not None and secrets.compare_digest(expected.encode(), password.encode())

    def decide(self, user: Optional[str], scopes: list[str]) -> list[dict]:
        """The ``access`` claim for ``user`` asking for ``scopes``."""
        access = []
        with self._lock:
            grants = self._grants.get(user)
        for scope in scopes:
            kind, _sep, rest = scope.partition(":")
            name, _sep, actions = rest.rpartition(":")
            if not kind or not name:
                continue
            wanted = [a for a in actions.split(",") if a]
            if user is None and grants is None:
                allowed = []
            elif grants is None:
                allowed = wanted
            else:
                allowed = []
                for regex, acts in grants:
                    if kind == "repository" and regex.fullmatch(name):
                        allowed += [a for a in wanted if a in acts or "*" in acts]
                allowed = sorted(set(allowed))
            access.append({"type": kind, "name": name, "actions": allowed})
        return access

    def make_token(self, user: Optional[str], access: list[dict]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service,
                  "exp": now + int(self.lifetime) - LEEWAY, "nbf": now - 1, "iat": now,
                  "jti": secrets.token_hex(12), "access": access}
        signing_input = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def _issue(self, user: Optional[str], scopes: list[str]) -> dict:
        access = self.decide(user, scopes)
        token = self.make_token(user, access)
        with self._lock:
            self.issued.append(Issued(user, list(scopes), access, time.monotonic()))
        advertised = self.advertised_lifetime if self.advertised_lifetime is not None else self.lifetime
        return {"token": token, "access_token": token, "expires_in": int(advertised),
                "issued_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def _refuse(self, user: Optional[str], scopes: list[str], status: int = 401) -> None:
        with self._lock:
            self.issued.append(Issued(user, list(scopes), None, time.monotonic(), status=status))

    def grants_all(self, user: Optional[str], scopes: list[str]) -> bool:
        """Whether ``user`` is granted every action ``scopes`` ask for."""
        access = self.decide(user, scopes)
        return all(set(a for a in scope.rpartition(":")[2].split(",") if a) <= set(granted["actions"])
                   for scope, granted in zip(scopes, access))


def _split_scopes(values) -> list[str]:
    out = []
    for value in values:
        out.extend(v for v in value.split(" ") if v)
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="airgap-testbed-token"')
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        ts: TokenServer = self.server.tokens
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self._send(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        query = urllib.parse.parse_qs(url.query)
        scopes = _split_scopes(query.get("scope", []))
        if query.get("service", [ts.service])[0] != ts.service:
            self._send(400, {"errors": [{"code": "INVALID_SERVICE", "message": "unknown service"}]})
            return
        ok, user = ts.authenticate(self.headers.get("Authorization"))
        if not ok:
            ts._refuse(user, scopes)
            self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication failed"}]})
            return
        if ts.refuse_ungranted and not ts.grants_all(user, scopes):
            ts._refuse(user, scopes, status=403)
            self._send(403, {"errors": [{"code": "DENIED", "message": "requested access is not granted"}]})
            return
        self._send(200, ts._issue(user, scopes))

    def do_POST(self) -> None:
        ts: TokenServer = self.server.tokens
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        scopes = _split_scopes(form.get("scope", []))
        grant = form.get("grant_type", [""])[0]
        user = form.get("username", [None])[0]
        if grant == "password":
            ok = user is not None and ts.check_password(user, form.get("password", [""])[0])
        elif grant == "refresh_token":
            # refresh tokens are "user:password" here: enough to exercise the client's code path
            user, _sep, password = form.get("refresh_token", [""])[0].partition(":")
            ok = ts.check_password(user, password)
        else:
            ok = False
        if not ok:
            ts._refuse(user, scopes)
            self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication failed"}]})
            return
        self._send(200, ts._issue(user, scopes))
