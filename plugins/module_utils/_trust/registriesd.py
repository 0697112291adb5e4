# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""containers-registries.d(5): where GPG signatures of an image live, and whether sigstore
attachments are used.

Every ``*.yaml`` file of the directory is read (sorted by name); each may have ``default-docker``
and ``docker: {SCOPE: {...}}`` sections with ``lookaside`` (or the deprecated ``sigstore``),
``lookaside-staging``/``sigstore-staging`` (where signatures are written, not read) and
``use-sigstore-attachments``. A scope (or ``default-docker``) given in two files is an error naming
both. For an image the most specific scope that sets the key wins (:func:`.scopes.docker_scopes`),
then ``default-docker``, as containers/image does. Lookaside URLs are ``file://``, ``http://`` or
``https://``. Other keys are ignored, as containers/image ignores them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .._common.errors import UserError

try:
    import yaml
    YAML_IMPORT_ERROR: ImportError | None = None
except ImportError as _exc:  # pragma: no cover - PyYAML is a declared dependency
    yaml = None  # type: ignore[assignment]
    YAML_IMPORT_ERROR = _exc
from .scopes import docker_scopes, source_reference

DEFAULT_DIR = "/etc/containers/registries.d"
DEFAULT_KEY = "default-docker"
SCHEMES = ("file://", "http://", "https://")


class RegistriesDError(UserError):
    """A registries.d directory that cannot be used; the message names the file(s)."""


@dataclass(frozen=True)
class Namespace:
    """The settings of one scope (None: not set there)."""

    lookaside: str | None = None
    use_sigstore_attachments: bool | None = None


class RegistriesD:
    """The merged configuration of one registries.d directory."""

    def __init__(self, path: str | None = None, default: Namespace | None = None,
                 scopes: Mapping[str, Namespace] | None = None) -> None:
        self.path = path
        self.default = default
        self.scopes = dict(scopes or {})

    def _candidates(self, source_ref: str) -> list[Namespace]:
        found = [self.scopes[s] for s in docker_scopes(source_reference(source_ref)) if s in self.scopes]
        return found + ([self.default] if self.default else [])

    def lookaside_for(self, source_ref: str) -> str | None:
        """The lookaside URL signatures of *source_ref* are read from, or None when none is set."""
        for namespace in self._candidates(source_ref):
            if namespace.lookaside:
                return namespace.lookaside
        return None

    def use_sigstore_attachments(self, source_ref: str) -> bool:
        """Whether sigstore attachments (cosign ``sha256-<hex>.sig``) are used for *source_ref*."""
        for namespace in self._candidates(source_ref):
            if namespace.use_sigstore_attachments is not None:
                return namespace.use_sigstore_attachments
        return False


def load_registries_d(path: str | None) -> RegistriesD:
    """Read a registries.d directory; None: /etc/containers/registries.d if it exists, else empty."""
    if path is None:
        if not os.path.isdir(DEFAULT_DIR):
            return RegistriesD()
        path = DEFAULT_DIR
    if not os.path.isdir(path):
        raise RegistriesDError("registries.d %s: not a directory" % path)
    try:
        names = sorted(n for n in os.listdir(path) if n.endswith(".yaml"))
    except OSError as exc:
        raise RegistriesDError("registries.d %s: cannot list it: %s" % (path, exc.strerror or exc)) from None
    default: Namespace | None = None
    default_file = ""
    scopes: dict[str, Namespace] = {}
    owners: dict[str, str] = {}
    for name in names:
        file_path = os.path.join(path, name)
        doc = _read(file_path)
        if DEFAULT_KEY in doc:
            if default is not None:
                raise RegistriesDError("registries.d: default-docker is configured in both %s and %s"
                                       % (default_file, file_path))
            default, default_file = _namespace(file_path, DEFAULT_KEY, doc[DEFAULT_KEY]), file_path
        docker = doc.get("docker") or {}
        if not isinstance(docker, dict):
            raise RegistriesDError("registries.d %s: docker must be a mapping of scopes" % file_path)
        for scope, value in docker.items():
            scope = str(scope)
            if scope in owners:
                raise RegistriesDError("registries.d: scope %s is configured in both %s and %s"
                                       % (scope, owners[scope], file_path))
            owners[scope] = file_path
            scopes[scope] = _namespace(file_path, "docker scope %s" % scope, value)
    return RegistriesD(path, default, scopes)


def _read(file_path: str) -> dict[str, object]:
    if yaml is None:
        raise RegistriesDError("registries.d %s: reading it needs the Python package PyYAML (%s)"
                               % (file_path, YAML_IMPORT_ERROR))
    try:
        with open(file_path, "rb") as handle:
            doc = yaml.safe_load(handle)
    except OSError as exc:
        raise RegistriesDError("registries.d %s: cannot read it: %s" % (file_path, exc.strerror or exc)) from None
    except yaml.YAMLError as exc:
        raise RegistriesDError("registries.d %s: not valid YAML: %s" % (file_path, exc)) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise RegistriesDError("registries.d %s: the top level must be a mapping" % file_path)
    return doc


def _namespace(file_path: str, where: str, value: object) -> Namespace:
    if value is None:
        return Namespace()
    if not isinstance(value, dict):
        raise RegistriesDError("registries.d %s: %s must be a mapping" % (file_path, where))
    lookaside = value.get("lookaside") or value.get("sigstore")  # lookaside wins, as in containers/image
    if lookaside is not None:
        if not isinstance(lookaside, str) or not lookaside.startswith(SCHEMES):
            raise RegistriesDError("registries.d %s: %s: lookaside %r must be a file://, http:// or https:// URL"
                                   % (file_path, where, lookaside))
    attachments = value.get("use-sigstore-attachments")
    if attachments is not None and not isinstance(attachments, bool):
        raise RegistriesDError("registries.d %s: %s: use-sigstore-attachments must be true or false"
                               % (file_path, where))
    return Namespace(lookaside, attachments)
