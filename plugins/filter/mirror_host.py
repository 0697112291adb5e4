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
Documentation: mirror_registries.yml, rename_mirror_registries.yml and path_ancestors.yml next to
this file.
"""

from __future__ import annotations

import posixpath

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import registries_conf as rc


def _registry_of(location, what):
    try:
        return rc.check_location(location).partition("/")[0]
    except ValueError as exc:
        raise AnsibleFilterError("%s: %s" % (what, exc)) from None


def _pairs(pairs, name):
    if pairs is None:
        return []
    if not isinstance(pairs, (list, tuple)):
        raise AnsibleFilterError("%s: expected a list of {source, mirror} pairs, not %s" % (name, type(pairs).__name__))
    for index, pair in enumerate(pairs):
        if not isinstance(pair, dict) or not pair.get("source") or not pair.get("mirror"):
            raise AnsibleFilterError("%s: pairs[%d] must be a dict with 'source' and 'mirror', not %r"
                                     % (name, index, pair))
    return list(pairs)


def mirror_registries(pairs, registries=None):
    """The mirror registries (``host[:port]``, sorted, unique) named by pairs and full entries."""
    found = set()
    for index, pair in enumerate(_pairs(pairs, "mirror_registries")):
        found.add(_registry_of(pair["mirror"], "mirror_registries: pairs[%d].mirror" % index))
    if registries is not None and not isinstance(registries, (list, tuple)):
        raise AnsibleFilterError("mirror_registries: registries must be a list of entries")
    for index, entry in enumerate(registries or []):
        if not isinstance(entry, dict):
            raise AnsibleFilterError("mirror_registries: registries[%d] must be a dict" % index)
        mirrors = entry.get("mirrors") or []
        if not isinstance(mirrors, (list, tuple)):
            raise AnsibleFilterError("mirror_registries: registries[%d].mirrors must be a list" % index)
        for sub, mirror in enumerate(mirrors):
            location = mirror.get("location") if isinstance(mirror, dict) else None
            found.add(_registry_of(location, "mirror_registries: registries[%d].mirrors[%d].location" % (index, sub)))
    return sorted(found)


def rename_mirror_registries(pairs, names):
    """*pairs* with the registry part of each mirror renamed through *names* (old -> new).

    Every key of *names* must be a mirror registry of *pairs*: a name that matches nothing is a
    typo, and a typo here would leave the hosts pointing at a name they cannot reach.
    """
    pairs = _pairs(pairs, "rename_mirror_registries")
    if not names:
        return pairs
    if not isinstance(names, dict):
        raise AnsibleFilterError("rename_mirror_registries: names must be a dict {registry in the map: registry the hosts use}")
    renames = {}
    for old, new in names.items():
        old_reg = _registry_of(old, "rename_mirror_registries: name %r" % (old,))
        new_reg = _registry_of(new, "rename_mirror_registries: new name of %r" % (old,))
        if old_reg != old or new_reg != new:
            raise AnsibleFilterError("rename_mirror_registries: %r -> %r: rename registries (host[:port]) only, "
                                     "not paths" % (old, new))
        renames[old] = new
    used = set()
    out = []
    for index, pair in enumerate(pairs):
        _registry_of(pair["mirror"], "rename_mirror_registries: pairs[%d].mirror" % index)
        host, sep, path = rc.check_location(pair["mirror"]).partition("/")
        if host in renames:
            used.add(host)
            host = renames[host]
        out.append(dict(pair, mirror=host + sep + path))
    unused = sorted(set(renames) - used)
    if unused:
        known = sorted({p["mirror"].partition("/")[0] for p in pairs})
        raise AnsibleFilterError("rename_mirror_registries: %s is not a mirror registry of the pairs (they name: %s)"
                                 % (", ".join(unused), ", ".join(known) or "none"))
    return out


def path_ancestors(paths):
    """Every directory from ``/`` down to each absolute path, each once, shallowest first.

    ``['/etc/crio', '/etc/containers/certs.d/m:5000']`` gives ``['/etc', '/etc/containers',
    '/etc/crio', '/etc/containers/certs.d', '/etc/containers/certs.d/m:5000']``.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, (list, tuple)):
        raise AnsibleFilterError("path_ancestors: expected a list of absolute paths, not %s" % type(paths).__name__)
    found = set()
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise AnsibleFilterError("path_ancestors: %r is not an absolute path" % (path,))
        parts = [p for p in posixpath.normpath(path).split("/") if p]
        for end in range(1, len(parts) + 1):
            found.add("/" + "/".join(parts[:end]))
    return sorted(found, key=lambda p: (p.count("/"), p))


class FilterModule:
    def filters(self):
        return {
            "mirror_registries": mirror_registries,
            "rename_mirror_registries": rename_mirror_registries,
            "path_ancestors": path_ancestors,
        }
