# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The scopes a ``docker`` image reference is looked up under, most specific first.

One rule for containers-policy.json(5) and containers-registries.d(5), as containers/image has it
(``PolicyConfigurationIdentity`` then ``PolicyConfigurationNamespaces``): the exact reference
(``host/repo:tag`` or ``host/repo@digest``), the repository, each parent namespace, the host, then
the host's ``*.`` wildcard domains from the longest to the shortest (``*.example.com`` matches
``a.example.com``, never ``example.com`` itself). Names are fully expanded (``busybox`` is
``docker.io/library/busybox``).
"""

from __future__ import annotations

from .._oci.errors import InvalidReference
from .._oci.reference import Reference, parse, parse_registry_prefix


def source_reference(text: str) -> Reference:
    """An image's source reference as containers/image's docker transport takes it: a reference
    with neither tag nor digest means ``:latest``."""
    return parse(text, default_tag="latest")


def docker_scopes(ref: Reference) -> list[str]:
    """Every scope that can apply to *ref*, most specific first (without ``""`` and ``default``).

    A reference with both a tag and a digest (which containers/image's docker transport does not
    take) is looked up under ``name@digest`` first, then ``name:tag``."""
    scopes = []
    if ref.digest:
        scopes.append("%s@%s" % (ref.name, ref.digest))
    if ref.tag:
        scopes.append("%s:%s" % (ref.name, ref.tag))
    name = ref.name
    while True:
        scopes.append(name)
        head, sep, _tail = name.rpartition("/")
        if not sep:
            break
        name = head
    domain = ref.registry
    while "." in domain:
        domain = domain.split(".", 1)[1]
        scopes.append("*." + domain)
    return scopes


def check_docker_scope(scope: str) -> str | None:
    """Why *scope* (a ``docker`` scope key) can never match a reference, or None when it can.

    containers/image takes any string, but a scope that is not written fully expanded
    (``docker.io/busybox``, ``Quay.io/x``) silently never applies; that is refused here."""
    if scope == "":
        return None
    if scope.startswith("*."):
        try:
            host, namespace = parse_registry_prefix(scope[2:])
        except InvalidReference:
            host, namespace = "", ""
        return None if host == scope[2:] and not namespace else "a wildcard scope is '*.' and a domain (no path)"
    if "/" not in scope:
        try:
            host, _namespace = parse_registry_prefix(scope)
        except InvalidReference as exc:
            return str(exc)
        if host != scope:
            return "write the host as %r" % host
        if "." not in scope and ":" not in scope and scope != "localhost":
            return ("a registry host has a '.' or a ':' or is localhost (for the Docker Hub repository write %r)"
                    % parse(scope).name)
        return None
    try:
        ref = parse(scope)
    except InvalidReference as exc:
        return str(exc)
    if str(ref) != scope:
        return "scopes are compared with fully expanded names: write %r" % str(ref)
    return None
