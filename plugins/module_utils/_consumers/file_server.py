# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A directory served over HTTPS (and HTTP) by the host's Debian nginx, as an instance of its own.

The role ``airgap.mirror.file_server`` runs ``nginx -c <its configuration>``: a master process of
its own with its own pid file, logs and temporary directories, never the site's ``nginx.service``
or ``/etc/nginx/sites-enabled``. This module computes everything the role writes: the paths of
the instance, ``nginx.conf``, the systemd unit, the commands that test, start, reload and stop it,
and the URL of the health check.

The served root is ``<data>/current/tree``, ``current`` being a symbolic link to
``releases/<release>``: the role copies a new tree into a new release directory and then
replaces the link (a rename), so a request sees either the old tree or the new one. nginx
resolves the path at every request (no ``open_file_cache``), so no reload is needed for new
content; only a new configuration or certificate reloads it. ``<release>/release`` holds the
tree's digest and is served at :data:`HEALTH_PATH`: the health check reads back the release it
expects.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from .._common.errors import UserError

HEALTH_PATH = "/.airgap-mirror/release"
MIME_TYPES = "/etc/nginx/mime.types"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# what may stand unquoted in an nginx directive (a path, an address, a user name)
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@+=,\[\]-]+$")
_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


class FileServerError(UserError, ValueError):
    """A setting of the file server that cannot be used; the message names the variable."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """The role's inputs that shape the instance (``file_server_<field>``)."""

    name: str = "files"
    https_port: int = 8443
    http_port: int = 0
    bind_address: str = ""
    server_names: tuple[str, ...] = ()
    autoindex: bool = False
    nginx: str = "/usr/sbin/nginx"
    user: str = "www-data"
    workers: str = "auto"
    config_dir: str = "/etc/airgap-mirror/file-server"
    data_dir: str = "/var/lib/airgap-mirror/file-server"
    log_dir: str = "/var/log/airgap-mirror/file-server"
    run_dir: str = "/run"
    unit_dir: str = "/etc/systemd/system"


def _var(field: str) -> str:
    return "file_server_" + field


def _plain(value: str, field: str) -> str:
    if not isinstance(value, str) or not _PLAIN.match(value):
        raise FileServerError("%s: %r must be non-empty, without spaces, quotes, ';', '{' or '}'"
                              % (_var(field), value))
    return value


def _absolute(value: str, field: str) -> str:
    _plain(value, field)
    if not value.startswith("/") or ".." in value.split("/"):
        raise FileServerError("%s: %r is not an absolute path without '..'" % (_var(field), value))
    return posixpath.normpath(value)


def _port(value: Any, field: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise FileServerError("%s: %r is not a TCP port number" % (_var(field), value)) from None
    if isinstance(value, bool) or not 0 <= port <= 65535:
        raise FileServerError("%s: %r is not a TCP port number (0 turns it off)" % (_var(field), value))
    return port


def settings(values: Mapping[str, Any]) -> Settings:
    """*values* (the role's variables without ``file_server_``) checked into :class:`Settings`."""
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise FileServerError("unknown file server settings: %s" % ", ".join(unknown))
    merged = {**dataclasses.asdict(Settings()), **dict(values)}
    name = merged["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise FileServerError("file_server_name: %r must be letters, digits, '.', '_' or '-' (not first)" % (name,))
    https, http = _port(merged["https_port"], "https_port"), _port(merged["http_port"], "http_port")
    if not https and not http:
        raise FileServerError("file_server_https_port and file_server_http_port are both 0: nothing would be served")
    if https and https == http:
        raise FileServerError("file_server_https_port and file_server_http_port are both %d" % https)
    bind = merged["bind_address"] or ""
    if bind:
        try:
            ipaddress.ip_address(bind.strip("[]"))
        except ValueError:
            raise FileServerError("file_server_bind_address: %r is not an IP address" % (bind,)) from None
    names = merged["server_names"] or ()
    if isinstance(names, str):
        names = (names,)
    workers = str(merged["workers"])
    if workers != "auto" and not (workers.isdigit() and int(workers) > 0):
        raise FileServerError("file_server_workers: %r is not 'auto' or a number above 0" % (workers,))
    return Settings(
        name=name, https_port=https, http_port=http, bind_address=bind,
        server_names=tuple(_plain(n, "server_names") for n in names), autoindex=bool(merged["autoindex"]),
        nginx=_absolute(merged["nginx"], "nginx"), user=_plain(merged["user"], "user"), workers=workers,
        **{f: _absolute(merged[f], f) for f in ("config_dir", "data_dir", "log_dir", "run_dir", "unit_dir")})


def _listen(address: str, port: int, tls: bool) -> str:
    if address and ":" in address.strip("[]"):
        address = "[%s]" % address.strip("[]")
    return "listen %s%d%s;" % (address + ":" if address else "", port, " ssl" if tls else "")


def _server(s: Settings, paths: Mapping[str, str], port: int, tls: bool) -> list[str]:
    out = ["    server {", "        " + _listen(s.bind_address, port, tls),
           "        server_name %s;" % (" ".join(s.server_names) or "_")]
    if tls:
        out += ["        ssl_certificate %s;" % paths["tls_cert"],
                "        ssl_certificate_key %s;" % paths["tls_key"],
                "        ssl_protocols TLSv1.2 TLSv1.3;"]
    out += ["        root %s;" % paths["root"],
            "        autoindex %s;" % ("on" if s.autoindex else "off"),
            "        location / {",
            "            try_files $uri $uri/ =404;",
            "        }",
            "        location = %s {" % HEALTH_PATH,
            "            alias %s;" % paths["release_file"],
            "            default_type text/plain;",
            "        }",
            "    }"]
    return out


def nginx_conf(s: Settings, paths: Mapping[str, str]) -> str:
    """The instance's ``nginx.conf``: nothing of ``/etc/nginx`` but ``mime.types``."""
    lines = ["# airgap.mirror.file_server %s: written by the role, replaced on every run" % s.name,
             "user %s;" % s.user,
             "worker_processes %s;" % s.workers,
             "pid %s;" % paths["pid"],
             "error_log %s;" % paths["error_log"],
             "events {", "    worker_connections 512;", "}",
             "http {",
             "    include %s;" % MIME_TYPES,
             "    default_type application/octet-stream;",
             "    sendfile on;",
             "    server_tokens off;",
             "    access_log %s;" % paths["access_log"]]
    lines += ["    %s_temp_path %s/%s;" % (t, paths["temp"], t) for t in _TEMP_PATHS]
    if s.https_port:
        lines += _server(s, paths, s.https_port, True)
    if s.http_port:
        lines += _server(s, paths, s.http_port, False)
    return "\n".join(lines + ["}"]) + "\n"


def argv(s: Settings, paths: Mapping[str, str], signal: str | None = None, test: bool = False) -> list[str]:
    """``nginx`` with this instance's error log (before the configuration is read) and configuration."""
    out = [s.nginx, "-e", paths["error_log"], "-c", paths["conf"]]
    if test:
        out[1:1] = ["-t", "-q"]
    if signal:
        out += ["-s", signal]
    return out


def running_argv(paths: Mapping[str, str]) -> list[str]:
    """Exit 0 when the pid file names a live nginx master of THIS configuration: a stale pid file whose
    number now belongs to another process is not taken for the server (nginx would signal it)."""
    script = ('pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] '
              '&& tr "\\000" " " < "/proc/$pid/cmdline" | grep -qF -- " -c $2"')
    return ["sh", "-c", script, "sh", paths["pid"], paths["conf"]]


def unit(s: Settings, paths: Mapping[str, str]) -> str:
    """The systemd unit (the shape of Debian's ``nginx.service``, with this instance's files)."""
    return "\n".join([
        "# airgap.mirror.file_server %s: written by the role, replaced on every run" % s.name,
        "[Unit]",
        "Description=airgap.mirror file server %s (nginx)" % s.name,
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=forking",
        "PIDFile=%s" % paths["pid"],
        "ExecStartPre=%s" % " ".join(argv(s, paths, test=True)),
        "ExecStart=%s" % " ".join(argv(s, paths)),
        "ExecReload=%s" % " ".join(argv(s, paths, "reload")),
        "ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile %s" % paths["pid"],
        "TimeoutStopSec=10",
        "KillMode=mixed",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]) + "\n"


def _health_url(s: Settings) -> str:
    address = s.bind_address.strip("[]") if s.bind_address else "127.0.0.1"
    if ipaddress.ip_address(address).is_unspecified:
        address = "127.0.0.1" if ipaddress.ip_address(address).version == 4 else "::1"
    host = "[%s]" % address if ":" in address else address
    scheme, port = ("https", s.https_port) if s.https_port else ("http", s.http_port)
    return "%s://%s:%d%s" % (scheme, host, port, HEALTH_PATH)


def layout(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every path, text and command of the instance *values* describe (see the module's text)."""
    s = settings(values)
    config = "%s/%s" % (s.config_dir, s.name)
    data = "%s/%s" % (s.data_dir, s.name)
    log = "%s/%s" % (s.log_dir, s.name)
    paths = {
        "config_dir": config, "data_dir": data, "log_dir": log,
        "conf": config + "/nginx.conf", "tls_cert": config + "/tls.crt", "tls_key": config + "/tls.key",
        "releases": data + "/releases", "current": data + "/current", "temp": data + "/temp",
        "root": data + "/current/tree", "release_file": data + "/current/release",
        "error_log": log + "/error.log", "access_log": log + "/access.log",
        "pid": "%s/airgap-file-server-%s.pid" % (s.run_dir, s.name),
        "unit": "%s/airgap-file-server-%s.service" % (s.unit_dir, s.name),
    }
    return {
        "name": s.name,
        "paths": paths,
        # the leaves: ansible.builtin.file makes their parents (data) with the same mode
        "dirs": [config, paths["releases"], paths["temp"], log],
        "unit_name": "airgap-file-server-%s.service" % s.name,
        "conf_text": nginx_conf(s, paths),
        "unit_text": unit(s, paths),
        "argv": {"test": argv(s, paths, test=True), "start": argv(s, paths), "reload": argv(s, paths, "reload"),
                 "quit": argv(s, paths, "quit"), "running": running_argv(paths)},
        # ansible.builtin.copy's validate: the new nginx.conf (%s) tested before it replaces the old one
        "validate": " ".join(argv(s, {**paths, "conf": "%s"}, test=True)),
        "health_url": _health_url(s),
        "health_path": HEALTH_PATH,
        "tls": bool(s.https_port),
        "https_port": s.https_port,
        "http_port": s.http_port,
    }


def release_dir(lay: Mapping[str, Any], release: str) -> str:
    """The directory of *release* (a tree digest's short name) in the instance *lay*."""
    if not re.match(r"^[0-9a-f]{16}$", release or ""):
        raise FileServerError("%r is not a release name (16 hex digits of the tree digest)" % (release,))
    return "%s/%s" % (lay["paths"]["releases"], release)
