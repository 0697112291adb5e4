# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that prepare the input of the airgap.mirror.registry_mirror_host role.

``mirror_registries``: pairs (and full registries.conf entries) -> the mirror registries
(``host[:port]``) they point at: the keys of the pull-secret entries and the certs.d directories.
``rename_mirror_registries``: pairs with the mirror registry renamed to the name the hosts use
(the mirror map records the name the mirroring host used, e.g. ``localhost:8443``).
``path_ancestors``: absolute paths -> every directory from ``/`` down to each of them, to find
which directories a role is about to create.
``controller_file``: a file on the controller, a relative path looked up where a user keeps files
(the inventory and playbook directories), or an error naming every path tried.
``ca_trust_contents``: CA items whose ``src`` is on the controller -> the same items with the
certificate text as ``content``, read and checked before anything changes on a host.
``loopback_registries``: the registries (``host[:port]``) that name the host itself.
``ca_trust_items``: CA items -> those to install, those to remove, and the bad names and sources.
``service_names``: ``ansible_facts.services`` -> the service names without ``.service``.
Documentation: a YAML file per filter next to this file.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._common import hostrecord as _hostrecord
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers.registries_conf.names import check_location
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

Pair = Mapping[str, Any]


def _registry_of(location: Any, what: str) -> str:
    try:
        registry: str = check_location(location).partition("/")[0]
    except ValueError as exc:
        raise UserError("%s: %s" % (what, exc)) from None
    return registry


def _pairs(pairs: Sequence[Pair] | None) -> list[Pair]:
    if pairs is None:
        return []
    if not isinstance(pairs, (list, tuple)):
        raise UserError("expected a list of {source, mirror} pairs, not %s" % type(pairs).__name__)
    for index, pair in enumerate(pairs):
        if not isinstance(pair, dict) or not pair.get("source") or not pair.get("mirror"):
            raise UserError("pairs[%d] must be a dict with 'source' and 'mirror', not %r" % (index, pair))
    return list(pairs)


@reported
def mirror_registries(pairs: Sequence[Pair] | None, registries: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
    """The mirror registries (``host[:port]``, sorted, unique) named by pairs and full entries."""
    found = set()
    for index, pair in enumerate(_pairs(pairs)):
        found.add(_registry_of(pair["mirror"], "pairs[%d].mirror" % index))
    if registries is not None and not isinstance(registries, (list, tuple)):
        raise UserError("registries must be a list of entries")
    for index, entry in enumerate(registries or []):
        if not isinstance(entry, dict):
            raise UserError("registries[%d] must be a dict" % index)
        mirrors = entry.get("mirrors") or []
        if not isinstance(mirrors, (list, tuple)):
            raise UserError("registries[%d].mirrors must be a list" % index)
        for sub, mirror in enumerate(mirrors):
            location = mirror.get("location") if isinstance(mirror, dict) else None
            found.add(_registry_of(location, "registries[%d].mirrors[%d].location" % (index, sub)))
    return sorted(found)


@reported
def rename_mirror_registries(pairs: Sequence[Pair] | None, names: Mapping[str, str] | None) -> list[Pair]:
    """*pairs* with the registry part of each mirror renamed through *names* (old -> new).

    Every key of *names* must be a mirror registry of *pairs*: a name that matches nothing is a
    typo, and a typo here would leave the hosts pointing at a name they cannot reach.
    """
    checked = _pairs(pairs)
    if not names:
        return checked
    if not isinstance(names, dict):
        raise UserError("names must be a dict {registry in the map: registry the hosts use}")
    renames = {}
    for old, new in names.items():
        old_reg = _registry_of(old, "name %r" % (old,))
        new_reg = _registry_of(new, "new name of %r" % (old,))
        if old_reg != old or new_reg != new:
            raise UserError("%r -> %r: rename registries (host[:port]) only, not paths" % (old, new))
        renames[old] = new
    used = set()
    out: list[Pair] = []
    for index, pair in enumerate(checked):
        _registry_of(pair["mirror"], "pairs[%d].mirror" % index)
        host, sep, path = check_location(pair["mirror"]).partition("/")
        if host in renames:
            used.add(host)
            host = renames[host]
        out.append(dict(pair, mirror=host + sep + path))
    unused = sorted(set(renames) - used)
    if unused:
        known = sorted({p["mirror"].partition("/")[0] for p in checked})
        raise UserError("%s is not a mirror registry of the pairs (they name: %s)"
                        % (", ".join(unused), ", ".join(known) or "none"))
    return out


@reported
def path_ancestors(paths: str | Sequence[str]) -> list[str]:
    """Every directory from ``/`` down to each absolute path, each once, shallowest first.

    ``['/etc/crio', '/etc/containers/certs.d/m:5000']`` gives ``['/etc', '/etc/containers',
    '/etc/crio', '/etc/containers/certs.d', '/etc/containers/certs.d/m:5000']``.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, (list, tuple)):
        raise UserError("expected a list of absolute paths, not %s" % type(paths).__name__)
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise UserError("%r is not an absolute path" % (path,))
    return _hostrecord.ancestors(paths)


def _search_paths(path: str, search: Sequence[str | None] | None) -> list[str]:
    """Where a relative *path* is looked for: ``<dir>/<path>``, then ``<dir>/files/<path>`` (the
    place Ansible's own ``copy`` looks; not for a path that starts with ``files/``) for each
    directory of *search*, in order, each once."""
    tried: list[str] = []
    in_files = path.split(os.sep, 1)[0] == "files"
    for base in search or ():
        if not base or not isinstance(base, str):
            continue
        for candidate in [os.path.join(base, path)] + ([] if in_files else [os.path.join(base, "files", path)]):
            candidate = os.path.normpath(os.path.abspath(os.path.expanduser(candidate)))
            if candidate not in tried:
                tried.append(candidate)
    return tried


def _controller_file(path: str, search: Sequence[str | None] | None = None, what: str = "file") -> str:
    """The absolute path of the regular file *path* on the controller.

    An absolute path (``~`` expanded) must exist. A relative one is looked up in each directory of
    *search* (the role passes ``inventory_dir`` and ``playbook_dir``), directly and under
    ``files/``; the first that exists wins. The error names *what* and every path tried.
    """
    if not isinstance(path, str) or not path.strip():
        raise UserError("%s: expected a file name, not %r" % (what, path))
    path = os.path.expanduser(path)
    tried = [os.path.normpath(path)] if os.path.isabs(path) else _search_paths(path, search)
    for candidate in tried:
        if os.path.isfile(candidate):
            if not os.access(candidate, os.R_OK):
                raise UserError("%s: %s on the controller is not readable" % (what, candidate))
            return candidate
    if not tried:
        raise UserError("%s: %s is a relative path and there is no directory to look it up in "
                        "(give an absolute path)" % (what, path))
    if len(tried) == 1:
        raise UserError("%s: %s is not a file on the controller" % (what, tried[0]))
    raise UserError("%s: %s is not a file on the controller (relative paths are looked up in the inventory "
                    "and playbook directories); tried: %s" % (what, path, ", ".join(tried)))


# the messages of these two start with what the caller says the file is (the role variable)
controller_file = reported(name="")(_controller_file)


_PEM_CERTIFICATE = re.compile(r"-----BEGIN (?:TRUSTED )?CERTIFICATE-----")


@reported(name="")
def ca_trust_contents(items: Sequence[Mapping[str, Any]] | None, search: Sequence[str | None] | None = None,
                      what: str = "registry_mirror_host_ca_trust") -> list[dict[str, Any]]:
    """*items* (``{name, content | src, remote_src}``) with every controller-side ``src`` read.

    Each such item comes back with the file's text as ``content`` and without ``src``, so that the
    copy shows the destination, not the controller's path, in its diff, and a missing or wrong file
    fails here, before anything changes on a host. Items with ``remote_src`` are left as they are
    (their file is on the host). Every certificate text must hold a PEM certificate.
    """
    if items is None:
        return []
    if not isinstance(items, (list, tuple)):
        raise UserError("%s: expected a list of {name, content | src} items, not %s"
                        % (what, type(items).__name__))
    out = []
    for index, given in enumerate(items):
        if not isinstance(given, Mapping):
            raise UserError("%s[%d]: expected a dict, not %r" % (what, index, given))
        label = "%s item %s" % (what, given.get("name", "[%d]" % index))
        item = dict(given)
        if item.get("remote_src"):
            out.append(item)
            continue
        where = "its content"
        if item.get("src") is not None and item.get("content") is None:
            path = _controller_file(item["src"], search, "%s: src" % label)
            try:
                with open(path, "r", encoding="utf-8") as handle:
                    item["content"] = handle.read()
            except UnicodeDecodeError:
                raise UserError("%s: %s is not a PEM certificate (not text)" % (label, path)) from None
            except OSError as exc:
                raise UserError("%s: cannot read %s: %s" % (label, path, exc.strerror)) from None
            del item["src"]
            item.pop("remote_src", None)
            where = path
        content = item.get("content")
        if isinstance(content, str) and not _PEM_CERTIFICATE.search(content):
            raise UserError("%s: %s is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)"
                            % (label, where))
        out.append(item)
    return out


_CA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@reported
def ca_trust_items(items: Sequence[Mapping[str, Any]] | None, state: str = "present") -> dict[str, list[Any]]:
    """*items* (``{name, content | src, remote_src, state}``) sorted for a role in *state*.

    ``present``: the items to install (none with *state* ``absent``), those without ``state`` first;
    ``absent``: the items to remove (all of them with *state* ``absent``); ``bad_names``: the names
    that are not a file name without ``.crt``; ``bad_sources``: the names of items with both
    ``content`` and ``src``, or, to install, with neither.
    """
    if items is None:
        items = []
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, Mapping) for item in items):
        raise UserError("expected a list of {name, content | src, remote_src, state} items, not %r" % (items,))
    if state not in ("present", "absent"):
        raise UserError("state must be present or absent, not %r" % (state,))
    present: list[Mapping[str, Any]] = []
    if state == "present":
        present = ([item for item in items if "state" not in item]
                   + [item for item in items if "state" in item and item["state"] == "present"])
    absent = list(items) if state == "absent" else [item for item in items if item.get("state") == "absent"]
    names = [item.get("name") for item in items]
    bad_names = ([name for name in names if not isinstance(name, str) or not _CA_NAME.match(name)]
                 + [name for name in names if isinstance(name, str) and name.endswith(".crt")])
    bad_sources = ([item.get("name") for item in items if "content" in item and "src" in item]
                   + [item.get("name") for item in present if "content" not in item and "src" not in item])
    return {"present": [dict(item) for item in present], "absent": [dict(item) for item in absent],
            "bad_names": bad_names, "bad_sources": bad_sources}


@reported
def service_names(services: Mapping[str, Any] | None) -> list[str]:
    """The names of the services of ``ansible_facts.services``, without the ``.service`` suffix."""
    if services is None:
        return []
    if not isinstance(services, Mapping):
        raise UserError("expected ansible_facts.services (a dict), not %s" % type(services).__name__)
    return [name[:-len(".service")] if name.endswith(".service") else name for name in services]


def _host_of(registry: str) -> str:
    """The host part of ``host[:port]`` (``[v6]:port`` too), lower-case, without brackets."""
    if registry.startswith("["):
        return registry[1:].partition("]")[0].lower()
    host, _sep, _port = registry.partition(":")
    return host.lower()


def _is_loopback(registry: str) -> bool:
    host = _host_of(registry).rstrip(".")
    if host == "localhost" or host.endswith(".localhost") or host == "localhost.localdomain":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return address.is_loopback or address.is_unspecified


@reported
def loopback_registries(registries: Sequence[str] | None) -> list[str]:
    """The registries (``host[:port]``) of *registries* whose host is the host itself:
    ``localhost`` (and ``*.localhost``), ``127.0.0.0/8``, ``::1``, or the unspecified address."""
    if registries is None:
        return []
    if isinstance(registries, str):
        registries = [registries]
    if not isinstance(registries, (list, tuple)):
        raise UserError("expected a list of registries, not %s" % type(registries).__name__)
    out = []
    for registry in registries:
        if not isinstance(registry, str):
            raise UserError("%r is not a registry name" % (registry,))
        if _is_loopback(registry.partition("/")[0]) and registry not in out:
            out.append(registry)
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "mirror_registries": mirror_registries,
            "rename_mirror_registries": rename_mirror_registries,
            "path_ancestors": path_ancestors,
            "controller_file": controller_file,
            "ca_trust_contents": ca_trust_contents,
            "loopback_registries": loopback_registries,
            "ca_trust_items": ca_trust_items,
            "service_names": service_names,
        }
