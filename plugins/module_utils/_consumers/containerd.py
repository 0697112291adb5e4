# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""containerd ``certs.d/<host>/hosts.toml`` files and the k3s/RKE2 ``registries.yaml`` document.

Both are computed from ``[{source, mirror}]`` pairs (:func:`registries_conf.pairs_from_mirror_map`
gives them from a mirror map) grouped by source registry into :class:`HostMirror` routes:

* containerd (docs/hosts.md) has no repository rewrite: a mirror that adds a namespace
  (``quay.io -> mirror:5000/ns``) is the host ``https://mirror:5000/v2/ns`` with
  ``override_path = true`` (the URL path is then the API root, containerd appends no ``/v2``).
  A registry whose repositories go to different prefixes cannot be expressed and is an error.
* k3s/RKE2 (docs.k3s.io "Private Registry Configuration") take ``mirrors.<registry>.endpoint``
  and regular-expression ``rewrite`` rules on the repository, and ``configs.<mirror host>`` with
  ``tls`` (``ca_file``, ``cert_file``, ``key_file``, ``insecure_skip_verify``) and ``auth``.

No Ansible imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._common.errors import UserError
from .._common.toml.emit import dumps as toml_dumps
from .registries_conf.names import check_location

HEADER = "# Written by airgap.mirror (containerd_mirror_host): changes are overwritten.\n"
DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "https://registry-1.docker.io"


@dataclass
class HostMirror:
    """Where the images of one source registry are pulled from.

    *mirror*: ``host[:port]`` of the mirror registry; *prefix*: the namespace the mirror adds in
    front of every repository ('' for none), or None when *repositories* (source repository path
    -> mirror repository path) say it repository by repository.
    """

    source: str
    mirror: str
    prefix: str | None = ""
    repositories: dict[str, str] = field(default_factory=dict)


def _split(location: str) -> tuple[str, str]:
    host, _sep, path = location.partition("/")
    return host, path


def routes(pairs: Sequence[Mapping[str, Any]] | None) -> list[HostMirror]:
    """:class:`HostMirror` per source registry of *pairs*, sorted by source registry.

    A pair is ``{"source": "quay.io" | "quay.io/org/app", "mirror": "mirror:5000[/path]"}``.
    Raises :class:`UserError` for a bad pair, a source registry sent to two mirror registries,
    or a registry-wide pair and a repository pair of the same registry that disagree.
    """
    if pairs is None:
        return []
    if not isinstance(pairs, (list, tuple)):
        raise UserError("expected a list of {source, mirror} pairs, not %s" % type(pairs).__name__)
    found: dict[str, HostMirror] = {}
    for index, pair in enumerate(pairs):
        if not isinstance(pair, Mapping) or not pair.get("source") or not pair.get("mirror"):
            raise UserError("pairs[%d] must be a dict with 'source' and 'mirror', not %r" % (index, pair))
        try:
            source = check_location(pair["source"])
            mirror = check_location(pair["mirror"])
        except ValueError as exc:
            raise UserError("pairs[%d]: %s" % (index, exc)) from None
        registry, repo = _split(source)
        mirror_host, mirror_path = _split(mirror)
        if registry == mirror_host and repo == mirror_path:
            continue  # the mirror itself: no route
        route = found.setdefault(registry, HostMirror(registry, mirror_host, None))
        if route.mirror != mirror_host:
            raise UserError("pairs[%d]: the source registry %s is sent to two mirror registries, %s and %s; "
                            "containerd and k3s take one mirror per source registry"
                            % (index, registry, route.mirror, mirror_host))
        if repo:
            if route.repositories.get(repo, mirror_path) != mirror_path:
                raise UserError("pairs[%d]: %s is sent to two mirror repositories" % (index, source))
            route.repositories[repo] = mirror_path
        elif route.prefix is not None and route.prefix != mirror_path:
            raise UserError("pairs[%d]: the source registry %s is sent to two mirror prefixes, %s and %s"
                            % (index, registry, "/".join(filter(None, (mirror_host, route.prefix))), mirror))
        else:
            route.prefix = mirror_path
    for route in found.values():
        _settle(route)
    return [found[name] for name in sorted(found)]


def _settle(route: HostMirror) -> None:
    """A single prefix when every repository pair of *route* agrees with one (and with the registry
    pair, if any); else keep the repository pairs (prefix None)."""
    prefixes: set[str | None] = set()
    for repo, target in route.repositories.items():
        if target == repo:
            prefixes.add("")
        elif target.endswith("/" + repo):
            prefixes.add(target[:-len(repo) - 1])
        else:
            prefixes.add(None)
    if route.prefix is not None:
        prefixes.add(route.prefix)
        if len(prefixes) != 1:
            raise UserError("the source registry %s has a registry-wide mirror %s and repositories sent "
                            "elsewhere (%s): give one or the other"
                            % (route.source, "/".join(filter(None, (route.mirror, route.prefix))),
                               ", ".join(sorted(route.repositories))))
        route.repositories = {}
    elif len(prefixes) == 1 and None not in prefixes:
        route.prefix = prefixes.pop()
        route.repositories = {}


def _server(registry: str) -> str:
    return DOCKER_HUB_SERVER if registry == DOCKER_HUB else "https://" + registry


def hosts_toml(route: HostMirror | None, registry: str, *, ca_file: str = "", skip_verify: bool = False,
               client_cert: str = "", client_key: str = "") -> str:
    """The text of ``certs.d/<registry>/hosts.toml``: *route*'s mirror first (pull and resolve),
    then the source itself as ``server``. *route* None: the file of the mirror registry itself
    (``server`` = the mirror, with the CA)."""
    host: dict[str, Any] = {"capabilities": ["pull", "resolve"]}
    if route is None:
        url = server = "https://" + registry
        host["capabilities"].append("push")
    else:
        if route.prefix is None:
            raise UserError("containerd cannot mirror the repositories of %s to different paths (%s): its "
                            "hosts.toml has no repository rewrite; mirror them under one prefix"
                            % (registry, ", ".join("%s -> %s" % item for item in sorted(route.repositories.items()))))
        server = _server(registry)
        url = "https://" + route.mirror
        if route.prefix:
            url += "/v2/" + route.prefix
            host["override_path"] = True
    if ca_file:
        host["ca"] = ca_file
    if client_cert:
        host["client"] = [[client_cert, client_key]]
    if skip_verify:
        host["skip_verify"] = True
    doc: dict[str, Any] = {"server": server, "host": {url: host}}
    return HEADER + toml_dumps(doc)


def containerd_hosts(pairs: Sequence[Mapping[str, Any]] | None, *, ca_file: str = "", skip_verify: bool = False,
                     client_cert: str = "", client_key: str = "",
                     mirror_registry_entry: bool = True) -> dict[str, str]:
    """``{directory name (host[:port]): hosts.toml text}`` for every source registry of *pairs*,
    and (*mirror_registry_entry*) for each mirror registry that is not also a source."""
    if client_key and not client_cert:
        raise UserError("a client key needs its client certificate")
    found = routes(pairs)
    files = {route.source: hosts_toml(route, route.source, ca_file=ca_file, skip_verify=skip_verify,
                                      client_cert=client_cert, client_key=client_key) for route in found}
    if mirror_registry_entry:
        for mirror in sorted({route.mirror for route in found} - set(files)):
            files[mirror] = hosts_toml(None, mirror, ca_file=ca_file, skip_verify=skip_verify,
                                       client_cert=client_cert, client_key=client_key)
    return dict(sorted(files.items()))


def _rewrites(route: HostMirror) -> dict[str, str]:
    if route.prefix is None:
        return {"^%s$" % re.escape(repo): target for repo, target in sorted(route.repositories.items())}
    if route.prefix:
        return {"^(.*)$": route.prefix + "/$1"}
    return {}


def k3s_registries(pairs: Sequence[Mapping[str, Any]] | None, *, ca_file: str = "", skip_verify: bool = False,
                   cert_file: str = "", key_file: str = "", username: str = "", password: str = "",
                   mirror_registry_entry: bool = True) -> dict[str, Any]:
    """The k3s/RKE2 ``registries.yaml`` document for *pairs*: ``mirrors`` (endpoint, rewrite) per
    source registry and ``configs`` (tls, auth) per mirror registry."""
    if bool(username) != bool(password):
        raise UserError("k3s registries.yaml needs a username and a password together, or neither")
    if bool(cert_file) != bool(key_file):
        raise UserError("k3s registries.yaml needs a client certificate and its key together, or neither")
    found = routes(pairs)
    mirrors: dict[str, Any] = {}
    for route in found:
        entry: dict[str, Any] = {"endpoint": ["https://" + route.mirror]}
        rewrite = _rewrites(route)
        if rewrite:
            entry["rewrite"] = rewrite
        mirrors[route.source] = entry
    configs: dict[str, Any] = {}
    for mirror in sorted({route.mirror for route in found}):
        if mirror_registry_entry and mirror not in mirrors:
            mirrors[mirror] = {"endpoint": ["https://" + mirror]}
        tls: dict[str, Any] = {}
        if ca_file:
            tls["ca_file"] = ca_file
        if cert_file:
            tls["cert_file"] = cert_file
            tls["key_file"] = key_file
        if skip_verify:
            tls["insecure_skip_verify"] = True
        config: dict[str, Any] = {}
        if username:
            config["auth"] = {"username": username, "password": password}
        if tls:
            config["tls"] = tls
        if config:
            configs[mirror] = config
    doc: dict[str, Any] = {"mirrors": dict(sorted(mirrors.items()))}
    if configs:
        doc["configs"] = configs
    return doc
