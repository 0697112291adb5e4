# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the airgap.mirror.package_registry role.

``package_registry_image``: the mirror map and a source reference -> the image to pull by digest
through the mirror (``image``, ``mirror``, ``source``, ``digest``), or the ``problem`` that stops the
role. ``package_registry_podman_args``: the arguments of ``podman run`` both managers use.
``package_registry_container_action``: what to do with the plain container (create, replace...).
``systemd_exec_args``: an argv list as the arguments of a systemd ``ExecStart=`` line.
``package_registry_source``: the image to run (``distribution:<stack version>``, Elastic's
recommendation, or ``:production`` without a stack version). ``package_registry_health_url``: the
``/health`` (``?ready=true``) URL the role waits on.
Documentation: a YAML file per filter next to this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as _io
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as _model
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as _ref
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import InvalidReference
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

LABEL = "airgap.mirror.package-registry"
DEFAULT_TAG = "latest"
DISTRIBUTION = "docker.elastic.co/package-registry/distribution"
#: where the TLS directory of the host is mounted in the container, and the files it holds
TLS_MOUNT = "/etc/package-registry/tls"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
HTTP_PORT = 8080
HTTPS_PORT = 443
_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
_ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")  # nosec B104 - addresses compared, not bound


@reported
def package_registry_source(stack_version: Any = "", source: Any = "") -> str:
    """*source* when given; else ``distribution:<stack_version>`` (the tag Elastic recommends:
    the packages of that stack version), or ``distribution:production`` without a version."""
    if source:
        return str(source)
    version = str(stack_version or "").strip()
    if not version:
        return DISTRIBUTION + ":production"
    if not _VERSION.match(version):
        raise UserError("stack version %r is not MAJOR.MINOR.PATCH" % (stack_version,))
    return "%s:%s" % (DISTRIBUTION, version)


@reported
def package_registry_health_url(port: int | str, bind_address: str = "", tls: Any = False,
                                ready: Any = True) -> str:
    """The URL of the registry's health endpoint on the host: ``/health``, with ``?ready=true``
    (answers 200 once the packages are loaded) when *ready*; https with *tls*."""
    host = "127.0.0.1" if bind_address in _ANY_ADDRESS else str(bind_address)
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    return "%s://%s:%s/health%s" % ("https" if tls else "http", host, int(port), "?ready=true" if ready else "")


def _document(mirror_map: Any, origin: str) -> Any:
    """The parsed map document, or None when it is not a mapping with an images list."""
    if isinstance(mirror_map, (str, bytes)):
        try:
            mirror_map = yaml.safe_load(mirror_map)
        except yaml.YAMLError:
            return None
    if isinstance(mirror_map, _model.MirrorMap):
        return mirror_map
    if not isinstance(mirror_map, Mapping) or not isinstance(mirror_map.get("images"), list):
        return None
    if mirror_map.get("format", _model.FORMAT) != _model.FORMAT:
        return None
    return mirror_map


def _find(mirror_map: _model.MirrorMap, wanted: _ref.Reference, origin: str,
          mirror_registry: str) -> dict[str, Any]:
    matches = [e for e in mirror_map.by_source_name(wanted.name)
               if e.source == wanted or (wanted.digest is None and e.source.without_digest() == wanted)]
    if not matches:
        return {"problem": "%s is not in the mirror map %s; mirror it first (the airgap.mirror.elastic_images "
                           "filter lists it)" % (wanted, origin)}
    if len({e.digest for e in matches}) != 1:
        return {"problem": "%s has several digests in %s: %s"
                           % (wanted, origin, ", ".join(str(e.source) for e in matches))}
    entry = matches[0]
    dest = entry.registry_destination
    if dest is None:
        return {"problem": "%s was mirrored to an OCI layout (%s), not to a registry; push it with "
                           "airgap.mirror.disk_to_mirror" % (wanted, entry.destination)}
    mirror = mirror_registry or dest.registry
    return {"problem": None, "image": "%s/%s@%s" % (mirror, dest.repository, entry.digest), "mirror": mirror,
            "source": str(entry.source), "digest": entry.digest, "destination": str(dest)}


@reported
def package_registry_image(mirror_map: Any, source: str, mirror_registry: str = "",
                           origin: str = "the mirror map") -> dict[str, Any]:
    """The mirror map entry whose source is *source* (or *source* with a digest added), as the image
    to pull through the mirror; ``problem`` is None, or the message the role stops with."""
    origin = str(origin or "the mirror map")
    try:
        wanted = _ref.parse(source, default_tag=DEFAULT_TAG)
    except InvalidReference as exc:
        raise UserError(str(exc)) from None
    document = _document(mirror_map, origin)
    if document is None:
        return {"problem": "%s is not an airgap.mirror/v1 mirror map (a mapping with an images list)" % origin}
    try:
        entries = _io.coerce(document, origin)
    except _model.MirrorMapError as exc:
        return {"problem": str(exc)}
    return _find(entries, wanted, origin, str(mirror_registry or ""))


@reported
def package_registry_podman_args(image: Mapping[str, Any], name: str, port: int | str, bind_address: str = "",
                                 stop_timeout: int | str = 10, env: Mapping[str, Any] | None = None,
                                 auth_file: str = "", tls_dir: str = "", tls_id: str = "") -> list[str]:
    """The arguments of ``podman run`` both managers use: name, port, labels, environment,
    credentials (*auth_file*, when given), then the image (from ``package_registry_image``).

    With *tls_dir* (a host directory holding ``tls.crt`` and ``tls.key``) the registry serves TLS:
    the directory is mounted read-only, ``EPR_ADDRESS=0.0.0.0:443``, ``EPR_TLS_CERT`` and
    ``EPR_TLS_KEY`` name the files, and *port* publishes 443. Variables of *env* come after and
    win (``EPR_TLS_MIN_VERSION``...). *tls_id* (checksums of the files) goes into a label, so that
    new files change the arguments, which replaces the container (restarts the unit)."""
    if not isinstance(image, Mapping) or not image.get("image"):
        raise UserError("expected the result of airgap.mirror.package_registry_image, not %r" % (image,))
    if env is not None and not isinstance(env, Mapping):
        raise UserError("env must be a dict of environment variables, not %s" % type(env).__name__)
    variables: dict[str, Any] = {}
    if tls_dir:
        variables = {"EPR_ADDRESS": "0.0.0.0:%d" % HTTPS_PORT, "EPR_TLS_CERT": "%s/%s" % (TLS_MOUNT, TLS_CERT),
                     "EPR_TLS_KEY": "%s/%s" % (TLS_MOUNT, TLS_KEY)}
    variables.update(env or {})
    publish = ("%s:" % bind_address if bind_address else "") + "%s:%d" % (port, HTTPS_PORT if tls_dir else HTTP_PORT)
    args = ["--name", str(name), "--publish", publish, "--stop-timeout", str(stop_timeout),
            "--label", "%s.source=%s" % (LABEL, image["source"]),
            "--label", "%s.digest=%s" % (LABEL, image["digest"])]
    if tls_dir:
        args += ["--volume", "%s:%s:ro,z" % (tls_dir, TLS_MOUNT)]
        if tls_id:
            args += ["--label", "%s.tls=%s" % (LABEL, tls_id)]
    for key, value in variables.items():
        args += ["--env", "%s=%s" % (key, value)]
    if auth_file:
        args += ["--authfile", str(auth_file)]
    return args + [str(image["image"])]


@reported
def package_registry_container_action(inspect: Mapping[str, Any], config_hash: str) -> str:
    """What to do with the container, from the registered result of ``podman container inspect``
    and the hash of the wanted run arguments: ``create`` (there is none), ``foreign`` (not created
    by the role: no config label), ``replace`` (other arguments), ``start`` (stopped) or ``none``."""
    if not isinstance(inspect, Mapping) or "rc" not in inspect:
        raise UserError("expected the registered result of podman container inspect, not %r" % (inspect,))
    if inspect["rc"] != 0:
        return "create"
    try:
        containers = json.loads(inspect.get("stdout") or "")
    except ValueError:
        raise UserError("podman container inspect did not print JSON: %r" % (inspect.get("stdout"),)) from None
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        raise UserError("podman container inspect printed no container: %r" % (inspect.get("stdout"),))
    current = containers[0]
    labels = (current.get("Config") or {}).get("Labels") or {}
    label = LABEL + ".config"
    if label not in labels:
        return "foreign"
    if labels[label] != config_hash:
        return "replace"
    if not (current.get("State") or {}).get("Running"):
        return "start"
    return "none"


_SYSTEMD_PLAIN = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")


def _systemd_quote(arg: str) -> str:
    if _SYSTEMD_PLAIN.match(arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return '"%s"' % escaped


@reported
def systemd_exec_args(argv: Sequence[Any]) -> str:
    """*argv* joined for a systemd ``Exec*=`` line: plain words as they are, others in double
    quotes with ``\\`` and ``"`` escaped and ``%`` and ``$`` doubled (specifiers, variables)."""
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        raise UserError("expected a list of arguments, not %s" % type(argv).__name__)
    return " ".join(_systemd_quote(str(arg)) for arg in argv)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "package_registry_image": package_registry_image,
            "package_registry_source": package_registry_source,
            "package_registry_health_url": package_registry_health_url,
            "package_registry_podman_args": package_registry_podman_args,
            "package_registry_container_action": package_registry_container_action,
            "systemd_exec_args": systemd_exec_args,
        }
