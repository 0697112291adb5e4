"""Thin wrappers around the ``skopeo`` CLI: the independent client tests check results with.

Usage::

    raw = inspect_raw("docker://127.0.0.1:5000/test/img:1", tls_verify=False)     # bytes
    digest_of(f"docker://{reg.host}/test/img:1", registry=reg)                    # "sha256:…"
    copy(img.oci_ref, f"docker://{reg.host}/test/img:1", dest_registry=reg)       # --all --preserve-digests
    list_tags(f"docker://{reg.host}/test/img", registry=reg)                      # ["1", …]

    trace = []
    inspect_raw("docker://quay.io/x/y@sha256:…", registries_conf=conf, debug=True, trace=trace)
    assert "Trying to access \\"127.0.0.1:…" in trace[0]                          # mirror proof

Per-side options (``copy`` takes them with ``src_``/``dest_`` prefixes, the others plain):

- ``registry``: a :class:`support.registry.Registry`; fills in TLS (``--cert-dir`` or
  ``--tls-verify=false``) and credentials (``--creds``) unless given explicitly;
- ``tls_verify`` (bool), ``cert_dir`` (path), ``creds`` (``"user:pass"``), ``authfile`` (path).

Global options: ``registries_conf`` (skopeo 1.9 ignores ``CONTAINERS_REGISTRIES_CONF``, so pass
this), ``debug`` (``--debug``; the log lands in ``trace``), ``env`` (extra environment),
``timeout`` (seconds, default 300).

Failures raise :class:`SkopeoError` with rc and stderr; ``--creds`` values are masked in the
message. By default ``REGISTRY_AUTH_FILE`` is removed from skopeo's environment so that a stray
auth file of the machine never changes a test's outcome; pass ``authfile`` to use one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["SkopeoError", "SKOPEO_BIN", "run", "inspect_raw", "inspect_json", "digest_of", "copy", "list_tags", "side_args"]

SKOPEO_BIN = "skopeo"


class SkopeoError(RuntimeError):
    """skopeo exited non-zero; ``rc``, ``stderr`` and the (credential-masked) ``cmd`` are kept."""

    def __init__(self, cmd: list[str], rc: int, stderr: str) -> None:
        self.cmd, self.rc, self.stderr = cmd, rc, stderr
        super().__init__(f"{' '.join(cmd)} failed (rc={rc}):\n{stderr.strip()}")


def _mask(args: list[str]) -> list[str]:
    out = []
    for arg in args:
        if "creds=" in arg:
            name, value = arg.split("=", 1)
            user = value.split(":", 1)[0]
            arg = f"{name}={user}:***"
        out.append(arg)
    return out


def side_args(prefix: str = "", *, registry=None, tls_verify: bool | None = None,
              cert_dir: os.PathLike | str | None = None, creds: str | None = None,
              authfile: os.PathLike | str | None = None) -> list[str]:
    """The TLS/credential flags for one side of a command (``prefix`` is ``""``, ``"src-"`` or
    ``"dest-"``)."""
    args = []
    if registry is not None:
        if tls_verify is None and cert_dir is None:
            if registry.tls:
                cert_dir = registry.cert_dir()
            else:
                tls_verify = False
        if creds is None and authfile is None and registry.auth:
            creds = f"{registry.username}:{registry.password}"
    if tls_verify is not None:
        args.append(f"--{prefix}tls-verify={'true' if tls_verify else 'false'}")
    if cert_dir is not None:
        args.append(f"--{prefix}cert-dir={cert_dir}")
    if creds is not None:
        args.append(f"--{prefix}creds={creds}")
    if authfile is not None:
        args.append(f"--{prefix}authfile={authfile}")
    return args


def run(args: list[str], *, registries_conf: os.PathLike | str | None = None, debug: bool = False,
        trace: list | None = None, env: dict | None = None, timeout: float = 300,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run ``skopeo [--debug] [--registries-conf F] <args>``; stdout is bytes, stderr text.

    ``trace`` (a list) receives stderr. With ``check`` a non-zero exit raises
    :class:`SkopeoError`.
    """
    binary = shutil.which(SKOPEO_BIN)
    if binary is None:
        raise SkopeoError([SKOPEO_BIN], 127, "skopeo not found; install the Debian package 'skopeo'")
    cmd = [binary]
    if debug:
        cmd.append("--debug")
    if registries_conf is not None:
        cmd.append(f"--registries-conf={registries_conf}")
    cmd.extend(str(a) for a in args)
    full_env = {k: v for k, v in os.environ.items() if k != "REGISTRY_AUTH_FILE"}
    full_env.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, env=full_env, timeout=timeout, check=False)
    stderr = proc.stderr.decode(errors="replace")
    if trace is not None:
        trace.append(stderr)
    if check and proc.returncode != 0:
        raise SkopeoError(_mask(cmd), proc.returncode, stderr)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, stderr)


def _split(options: dict[str, Any]) -> tuple[dict, dict]:
    side_keys = {"registry", "tls_verify", "cert_dir", "creds", "authfile"}
    side = {k: v for k, v in options.items() if k in side_keys}
    common = {k: v for k, v in options.items() if k not in side_keys}
    return side, common


def inspect_raw(ref: str, **options) -> bytes:
    """``skopeo inspect --raw REF``: the manifest or index exactly as the registry stores it."""
    side, common = _split(options)
    return run(["inspect", "--raw", *side_args(**side), ref], **common).stdout


def inspect_json(ref: str, **options) -> dict:
    """``skopeo inspect --raw`` parsed as JSON."""
    return json.loads(inspect_raw(ref, **options))


def digest_of(ref: str, **options) -> str:
    """The digest of what ``ref`` points at: sha256 of the raw manifest bytes (for an index this
    is the index digest, not the digest of one platform's image)."""
    return "sha256:" + hashlib.sha256(inspect_raw(ref, **options)).hexdigest()


def copy(src: str, dest: str, *, all: bool = True, preserve_digests: bool = True,
         extra_args: list[str] | None = None, **options) -> subprocess.CompletedProcess:
    """``skopeo copy [--all] [--preserve-digests] SRC DEST``.

    Side options take a ``src_`` or ``dest_`` prefix (``dest_registry=reg``,
    ``src_tls_verify=False``…). A ``dir:`` destination's parent directory is created (skopeo
    fails otherwise).
    """
    src_side = {k[4:]: options.pop(k) for k in list(options) if k.startswith("src_")}
    dest_side = {k[5:]: options.pop(k) for k in list(options) if k.startswith("dest_")}
    args = ["copy"]
    if all:
        args.append("--all")
    if preserve_digests:
        args.append("--preserve-digests")
    args += side_args("src-", **src_side) + side_args("dest-", **dest_side) + list(extra_args or [])
    if dest.startswith("dir:"):
        Path(dest[4:]).parent.mkdir(parents=True, exist_ok=True)
    return run(args + [src, dest], **options)


def list_tags(repo_ref: str, **options) -> list[str]:
    """``skopeo list-tags docker://HOST/REPO``: the tag names (sorted)."""
    side, common = _split(options)
    out = run(["list-tags", *side_args(**side), repo_ref], **common).stdout
    return sorted(json.loads(out).get("Tags") or [])


def fatal_line(result: dict) -> str:
    """containers/image's error: the ``level=fatal`` line a failed skopeo ends with, from an Ansible
    command result (``rc``, ``stderr``); fails the test when the command did not fail that way."""
    lines = [line for line in result["stderr"].splitlines() if "level=fatal" in line]
    assert result["rc"] != 0 and lines, result["stderr"][-2000:]
    return lines[-1]
