"""A real Docker distribution registry (Debian's ``/usr/bin/docker-registry``) for tests.

Usage::

    reg = Registry(tmp_path / "reg")                                 # plain HTTP on 127.0.0.1:<free>
    reg = Registry(tmp_path / "reg", tls=True, auth=True, pki=pki)   # TLS + htpasswd (bcrypt)
    reg.start()                     # returns once GET /v2/ answers; raises with the log if it dies
    reg.host, reg.url               # "127.0.0.1:40123", "https://127.0.0.1:40123"
    reg.ca_path, reg.cert_dir()     # CA file / a directory for ``skopeo --cert-dir`` (None if plain)
    reg.username, reg.password      # None unless auth=True
    reg.auth_file(tmp_path / "auth.json")   # containers auth.json (0600) for this registry

    m = reg.mark()
    ...                                    # run the code under test
    assert reg.blob_uploads(since=m) == []        # "the second run uploaded no blob"
    reg.count("PUT", r"/manifests/", since=m)     # request accounting from the access log

    reg.restart()                   # same port, same storage: for "registry went away" tests
    reg.garbage_collect()           # offline GC (stops and restarts the registry around it)
    reg.stop()                      # terminate + wait, kill on timeout; also ``with Registry(...)``

Each instance has its own directory holding ``config.yml`` (never the packaged /etc config),
``data/`` (storage), ``access.log`` (the access log, Apache combined format, from the registry's
stdout) and ``registry.log`` (its JSON application log, from stderr). ``REGISTRY_*`` variables of
the calling environment are removed so they cannot override the config.

Request accounting: distribution 2.8 with ``log.accesslog.disabled: false`` writes one line per
request to stdout, e.g. ``127.0.0.1 - - [21/Nov/2026:05:11:04 +0000] "POST /v2/x/blobs/uploads/
HTTP/1.1" 202 0 "" "skopeo/1.9.3"``. The line is written when the handler returns, which can be
a moment after a client has read a streamed response, so :meth:`requests` first sends a marker
request (``GET /v2/?airgap-testbed-flush=<random>``) and waits until the marker shows up in the log;
marker lines are never returned. Paths are the request target as logged, including any query
string (e.g. ``/v2/dst/blobs/uploads/?mount=sha256:...&from=src``).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Iterable, NamedTuple

from .pki import PKI

__all__ = ["Registry", "RegistryError", "Request", "REGISTRY_BIN", "free_port"]

REGISTRY_BIN = "/usr/bin/docker-registry"

_ACCESS_RE = re.compile(r'^\S+ \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) ')
_FLUSH_PARAM = "airgap-testbed-flush"


class RegistryError(RuntimeError):
    """The registry failed to start, stop, or collect garbage; the message carries its log."""


class Request(NamedTuple):
    """One access-log entry: ``method``, request ``path`` (with query string) and HTTP ``status``."""

    method: str
    path: str
    status: int


# Safety net: registries still running when the interpreter exits (a test crashed before its
# teardown) are stopped rather than left behind.
_LIVE: "weakref.WeakSet[Registry]" = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    for registry in list(_LIVE):
        registry.stop()


def free_port(bind: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``bind`` a moment ago (bind to port 0, read it, close)."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((bind, 0))
        return sock.getsockname()[1]


def _merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


class Registry:
    """One ``docker-registry serve`` process with its own config, storage and logs.

    :param workdir: directory for config, storage, logs and credentials (created).
    :param tls: serve HTTPS with a certificate from ``pki`` (required when ``tls``).
    :param auth: enable htpasswd (bcrypt) auth; ``username``/``password`` default to random values.
        Auth without TLS is allowed by distribution but only sensible for negative tests.
    :param pki: the :class:`~support.pki.PKI` issuing the server certificate.
    :param bind: listen address; ``host`` uses it too (the podman host bed binds ``10.88.0.1``).
    :param port: fixed port; default is a free port chosen at the first start and kept for restarts.
    :param sans: extra subjectAltNames for the server certificate, e.g. ``["DNS:mirror.test"]``;
        ``IP:<bind>``, ``IP:127.0.0.1`` and ``DNS:localhost`` are always included.
    :param delete: ``storage.delete.enabled`` (manifest/blob DELETE answers 202 instead of 405).
    :param extra_config: merged into the generated config (e.g. ``{"proxy": {"remoteurl": ...}}``).
    """

    def __init__(self, workdir: os.PathLike | str, *, tls: bool = False, auth: bool = False,
                 pki: PKI | None = None, username: str | None = None, password: str | None = None,
                 bind: str = "127.0.0.1", port: int | None = None, sans: Iterable[str] = (),
                 delete: bool = True, extra_config: dict | None = None, binary: str = REGISTRY_BIN) -> None:
        if tls and pki is None:
            raise ValueError("a TLS registry needs pki=PKI(...) to issue its certificate")
        self.workdir = Path(workdir)
        self.tls = tls
        self.auth = auth
        self.pki = pki
        self.bind = bind
        self.port = port
        self.sans = list(sans)
        self.delete = delete
        self.extra_config = extra_config or {}
        self.binary = binary
        self.username = (username or "testbed-" + secrets.token_hex(3)) if auth else None
        self.password = (password or secrets.token_urlsafe(12)) if auth else None
        self.storage = self.workdir / "data"
        self.config_path = self.workdir / "config.yml"
        self.access_log = self.workdir / "access.log"
        self.log_path = self.workdir / "registry.log"
        self._server_pair = None
        self._proc: subprocess.Popen | None = None
        self._fixed_port = port is not None

    # -- properties -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """``address:port`` as clients name it in references (``127.0.0.1:40123``)."""
        if self.port is None:
            raise RegistryError("the registry has no port yet; call start() first")
        address = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"{address}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, ``http://host`` or ``https://host``."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def ca_path(self) -> Path | None:
        """The CA certificate clients must trust, or ``None`` for a plain HTTP registry."""
        return self.pki.ca_cert if self.tls else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running else None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> "Registry":
        """Write the config, start the process and wait until it answers. Returns ``self``."""
        if self.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(exist_ok=True)
        if shutil.which(self.binary) is None:
            raise RegistryError(f"{self.binary} not found; install the Debian package 'docker-registry'")
        attempts = 1 if self._fixed_port else 5
        for attempt in range(attempts):
            if self.port is None:
                self.port = free_port(self.bind)
            self._write_config()
            self._spawn()
            try:
                self.wait_ready(timeout)
                return self
            except RegistryError:
                busy = "address already in use" in self._log_tail()
                self._terminate()
                if busy and attempt + 1 < attempts:
                    self.port = None  # someone took the port between free_port() and bind()
                    continue
                raise
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the registry and wait for it; SIGKILL if it does not exit in ``timeout``."""
        self._terminate(timeout)

    def restart(self, timeout: float = 15.0) -> "Registry":
        """Stop and start again on the same port with the same storage."""
        self.stop()
        self._fixed_port = True
        return self.start(timeout)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Poll ``GET /v2/`` until it answers 200 (or 401 with auth); raise with the log if the
        process exits or the deadline passes."""
        deadline = time.monotonic() + timeout
        last = "no attempt"
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                rc = None if self._proc is None else self._proc.returncode
                raise RegistryError(f"docker-registry exited (rc={rc}) before it was ready:\n{self._log_tail()}")
            try:
                status = self._get("/v2/", timeout=2)
            except OSError as exc:
                last = str(exc)
            else:
                if status in (200, 401):
                    return
                last = f"HTTP {status}"
            time.sleep(0.03)
        raise RegistryError(f"docker-registry at {self.url} not ready after {timeout}s ({last}):\n{self._log_tail()}")

    def garbage_collect(self, *, delete_untagged: bool = False, dry_run: bool = False) -> str:
        """Run ``docker-registry garbage-collect`` on this registry's config and return its output.

        The registry must not serve while GC runs, so a running registry is stopped first and
        started again (same port) afterwards.
        """
        was_running = self.running
        self.stop()
        if self.port is None:
            self.port = free_port(self.bind)
        self._write_config()
        cmd = [self.binary, "garbage-collect"]
        if delete_untagged:
            cmd.append("--delete-untagged")
        if dry_run:
            cmd.append("--dry-run")
        cmd.append(str(self.config_path))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self._env(), timeout=300, check=False)
        if was_running:
            self.restart()
        if proc.returncode != 0:
            raise RegistryError(f"{' '.join(cmd)} failed (rc={proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc.stdout + proc.stderr

    def __enter__(self) -> "Registry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- client helpers -------------------------------------------------------------------------

    def cert_dir(self) -> Path | None:
        """A directory holding ``ca.crt`` for ``skopeo --cert-dir`` (``None`` for plain HTTP)."""
        if not self.tls:
            return None
        directory = self.workdir / "cert-dir"
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.pki.ca_cert, directory / "ca.crt")
        return directory

    def auth_file(self, path: os.PathLike | str) -> Path:
        """Write (or merge into) a containers ``auth.json`` with this registry's credentials.

        The file is replaced atomically and is 0600. Raises ``ValueError`` for a registry without
        auth (there is nothing to write).
        """
        if not self.auth:
            raise ValueError(f"registry {self.host} has no auth; there are no credentials to write")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(path.read_text()) if path.exists() else {}
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        data.setdefault("auths", {})[self.host] = {"auth": token}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".auth-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def ssl_context(self) -> ssl.SSLContext | None:
        """An ``ssl.SSLContext`` trusting this registry's CA (``None`` for plain HTTP)."""
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=str(self.ca_path))

    def request(self, method: str, path: str, *, data=None, credentials: tuple[str, str] | None = None,
                headers: dict | None = None, timeout: float = 30) -> tuple[int, dict, bytes]:
        """One raw HTTP request: returns ``(status, headers, body)``; never raises on HTTP errors.

        ``path`` is relative to :attr:`url` (``/v2/``) or a full URL (an upload ``Location``).
        ``data`` is bytes or a binary file object (then give ``Content-Length`` in ``headers``).
        ``credentials`` default to the registry's own (if it has auth); pass ``("", "")`` to send
        none. Meant for assertions ("401 without a password") and the test bed's own seeding,
        never for the code under test.
        """
        url = path if path.startswith(("http://", "https://")) else self.url + path
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if credentials is None and self.auth:
            credentials = (self.username, self.password)
        if credentials and credentials != ("", ""):
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context()) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def get(self, path: str, **kwargs) -> tuple[int, dict, bytes]:
        """``request("GET", path, ...)``."""
        return self.request("GET", path, **kwargs)

    # -- request accounting ---------------------------------------------------------------------

    def requests(self, *, since: int = 0) -> list[Request]:
        """Every request the registry logged (all runs of this instance), oldest first.

        Flushes first (see the module docstring). ``since`` is a value from :meth:`mark`.
        """
        return self._read_log(flush=True)[since:]

    def mark(self) -> int:
        """A position in the request log; pass it to :meth:`since` / ``since=`` later."""
        return len(self._read_log(flush=True))

    def since(self, mark: int) -> list[Request]:
        """Requests logged after :meth:`mark` returned ``mark``."""
        return self.requests(since=mark)

    def count(self, method: str | Iterable[str] | None = None, path_regex: str | None = None, *,
              status: int | None = None, since: int = 0) -> int:
        """How many logged requests match ``method`` (one name or several), ``path_regex``
        (``re.search`` on the path) and ``status``, counting from ``since``."""
        return len(self.filter(method, path_regex, status=status, since=since))

    def filter(self, method: str | Iterable[str] | None = None, path_regex: str | None = None, *,
               status: int | None = None, since: int = 0) -> list[Request]:
        """The matching requests themselves (same arguments as :meth:`count`)."""
        methods = {method} if isinstance(method, str) else (set(method) if method is not None else None)
        pattern = re.compile(path_regex) if path_regex else None
        return [r for r in self.requests(since=since)
                if (methods is None or r.method in methods)
                and (pattern is None or pattern.search(r.path))
                and (status is None or r.status == status)]

    def blob_uploads(self, *, since: int = 0) -> list[Request]:
        """Requests that start, continue or finish a blob upload (including cross-repo mounts)."""
        return self.filter(("POST", "PATCH", "PUT"), r"/blobs/uploads/", since=since)

    # -- internals ------------------------------------------------------------------------------

    def _config(self) -> dict:
        config: dict = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "json", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": bool(self.delete)},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": "airgap-testbed-" + self.workdir.name},
        }
        if self.tls:
            if self._server_pair is None:
                sans = [f"IP:{self.bind}", "IP:127.0.0.1", "DNS:localhost", *self.sans]
                self._server_pair = self.pki.server_cert(sans)
            config["http"]["tls"] = {"certificate": str(self._server_pair.cert), "key": str(self._server_pair.key)}
        if self.auth:
            htpasswd = self.workdir / "htpasswd"
            if not htpasswd.exists():
                self._write_htpasswd(htpasswd)
            config["auth"] = {"htpasswd": {"realm": "airgap-testbed", "path": str(htpasswd)}}
        return _merge(config, self.extra_config)

    def _write_config(self) -> None:
        # JSON is YAML: no YAML library needed to write the registry config.
        self.config_path.write_text(json.dumps(self._config(), indent=2) + "\n")

    def _write_htpasswd(self, path: Path) -> None:
        if shutil.which("htpasswd") is None:
            raise RegistryError("htpasswd not found; install the Debian package 'apache2-utils'")
        proc = subprocess.run(["htpasswd", "-Bbc", str(path), self.username, self.password],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RegistryError(f"htpasswd failed (rc={proc.returncode}): {proc.stderr.strip()}")
        os.chmod(path, 0o600)

    def _env(self) -> dict:
        return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}

    def _spawn(self) -> None:
        with open(self.access_log, "ab") as out, open(self.log_path, "ab") as err:
            self._proc = subprocess.Popen([self.binary, "serve", str(self.config_path)],
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                          env=self._env())
        _LIVE.add(self)

    def _terminate(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def _get(self, path: str, timeout: float) -> int:
        request = urllib.request.Request(self.url + path)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.ssl_context()) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _read_log(self, *, flush: bool) -> list[Request]:
        marker = None
        if flush and self.running:
            marker = f"/v2/?{_FLUSH_PARAM}={secrets.token_hex(6)}"
            try:
                self._get(marker, timeout=5)
            except OSError:
                marker = None  # not answering: nothing more can arrive in the log
        deadline = time.monotonic() + 5
        while True:
            entries, seen = self._parse()
            if marker is None or marker in seen or time.monotonic() > deadline:
                return entries
            time.sleep(0.01)

    def _parse(self) -> tuple[list[Request], set[str]]:
        entries, markers = [], set()
        try:
            text = self.access_log.read_text(errors="replace")
        except FileNotFoundError:
            return entries, markers
        for line in text.splitlines():
            match = _ACCESS_RE.match(line)
            if not match:
                continue
            if f"?{_FLUSH_PARAM}=" in match["path"]:
                markers.add(match["path"])
                continue
            entries.append(Request(match["method"], match["path"], int(match["status"])))
        return entries, markers
