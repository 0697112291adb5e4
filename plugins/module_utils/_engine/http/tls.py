# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""TLS contexts for registries: the system trust store (``ssl.create_default_context()``, which reads
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` and the distribution bundle, unlike httpx's certifi default), plus
``ca_path``, plus ``/etc/containers/certs.d/<host:port>/`` (``*.crt`` CAs, ``*.cert``/``*.key`` client
pairs) like containers/image. No verification only for registries marked insecure."""

from __future__ import annotations

import glob
import os
import ssl
import threading
from collections.abc import Iterable

from ..._oci.errors import TLSError

CERTS_DIRS = ("/etc/containers/certs.d", "/etc/docker/certs.d")

_SSL_CONTEXTS: dict[tuple[object, ...], ssl.SSLContext] = {}
_SSL_LOCK = threading.Lock()


def shared_ssl_context(registry: str, ca_path: str | None = None, client_cert: str | None = None,
                       client_key: str | None = None, insecure: bool = False,
                       certs_dirs: Iterable[str] | None = CERTS_DIRS) -> ssl.SSLContext:
    """:func:`build_ssl_context`, shared between registries whose TLS settings are the same (loading
    the system trust store costs tens of milliseconds)."""
    dirs = tuple(certs_dirs or ())
    local = []
    for base in dirs:
        directory = os.path.join(base, registry)
        if os.path.isdir(directory):
            local.extend(sorted(os.path.join(directory, n) for n in os.listdir(directory)))
    key = (ca_path, client_cert, client_key, bool(insecure), tuple(local))
    with _SSL_LOCK:
        ctx = _SSL_CONTEXTS.get(key)
        if ctx is None:
            ctx = _SSL_CONTEXTS[key] = build_ssl_context(registry, ca_path, client_cert, client_key, insecure, dirs)
        return ctx


def build_ssl_context(registry: str, ca_path: str | None = None, client_cert: str | None = None,
                      client_key: str | None = None, insecure: bool = False,
                      certs_dirs: Iterable[str] | None = CERTS_DIRS) -> ssl.SSLContext:
    """System trust + ca_path + certs.d/<registry>/ (+ client certificate), or no verification."""
    if insecure:
        # nothing is verified: do not spend time loading the system trust store
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context()
    if not insecure and ca_path:
        for path in ca_files(ca_path):
            _load_ca(ctx, path)
    pairs: list[tuple[str, str | None]] = []
    for base in certs_dirs or ():
        directory = os.path.join(base, registry)
        if not os.path.isdir(directory):
            continue
        if not insecure:
            for path in sorted(glob.glob(os.path.join(directory, "*.crt"))):
                _load_ca(ctx, path)
        for cert in sorted(glob.glob(os.path.join(directory, "*.cert"))):
            key = cert[: -len(".cert")] + ".key"
            if os.path.exists(key):
                pairs.append((cert, key))
    if client_cert:
        pairs = [(client_cert, client_key)]
    for cert, key_file in pairs[:1]:
        try:
            ctx.load_cert_chain(cert, key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TLSError("cannot load client certificate %s: %s" % (cert, exc)) from None
    return ctx


def _load_ca(ctx: ssl.SSLContext, path: str) -> None:
    try:
        ctx.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise TLSError("cannot load CA certificate %s: %s" % (path, exc)) from None


def ca_files(ca_path: str) -> list[str]:
    """The certificate files *ca_path* names: itself (a PEM file) or the ``*.crt``/``*.pem`` files of
    a directory. Raises :class:`TLSError` saying which of missing, unreadable, not a file or a
    directory, or empty it is."""
    if not os.path.lexists(ca_path):
        raise TLSError("ca_path %s does not exist (give a PEM file, or a directory of *.crt/*.pem files)" % ca_path)
    if not os.path.exists(ca_path):
        raise TLSError("ca_path %s is a symbolic link to %s, which does not exist" % (ca_path, os.readlink(ca_path)))
    if os.path.isdir(ca_path):
        try:
            names = os.listdir(ca_path)
        except OSError as exc:
            raise TLSError("ca_path %s: cannot read the directory: %s" % (ca_path, exc.strerror or exc)) from None
        paths = sorted(os.path.join(ca_path, n) for n in names
                       if n.endswith((".crt", ".pem")) and not n.startswith(".")
                       and os.path.isfile(os.path.join(ca_path, n)))
        if not paths:
            raise TLSError("ca_path %s is a directory without a *.crt or *.pem file" % ca_path)
        return paths
    if not os.path.isfile(ca_path):
        raise TLSError("ca_path %s is not a regular file or a directory (give a PEM file, or a directory of "
                       "*.crt/*.pem files)" % ca_path)
    if not os.access(ca_path, os.R_OK):
        raise TLSError("ca_path %s is not readable by this user (uid %d)" % (ca_path, os.getuid()))
    return [ca_path]
