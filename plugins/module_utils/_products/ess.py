# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Element Server Suite (ESS): the images_digests override ConfigMap, from the mirror map.

The ESS installer ships ``images_digests.yml``::

    images_digests:
      <component>:
        <container>:
          image_repository_server: docker.io
          image_repository_path: library/haproxy
          image_tag: 2.8-alpine
          image_digest: sha256:...

and accepts an override ConfigMap whose ``data.images_digests`` is a YAML *string* holding the same
component -> container tree, each overridden container giving ``image_repository_server``,
``image_repository_path``, ``image_tag`` and optionally ``image_digest`` (seed 001). Its name is
then entered in the installer's cluster settings, with the docker-registry Secret of the mirror.

:func:`build_override` matches every container of the installer file to a mirror map entry by
source reference -- same repository and the installer's digest (preferred), else same repository
and tag -- and renders the mirror location of the match. A container with no entry is reported by
``component/container``: a new ESS release that needs new images fails loudly instead of deploying
half from the mirror and half from the internet.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

from .._common import yamledit as _yamledit
from .._common.errors import UserError
from .._consumers import k8s as _k8s
from .._mirrormap import io as _mmio
from .._oci import reference as _ref
from .._oci.errors import InvalidReference

try:
    import yaml as _yaml

    class _TextLoader(_yaml.SafeLoader):
        """Every plain scalar is a string: a tag such as ``1.10`` must not become the float 1.1."""

    _TextLoader.yaml_implicit_resolvers = {}
except ImportError:  # pragma: no cover - PyYAML is a declared dependency
    _yaml = None  # type: ignore[assignment]

FIELDS = ("image_repository_server", "image_repository_path", "image_tag", "image_digest")
DIGEST_MODES = ("keep", "mirror", "drop")
ON_MISSING = ("fail", "warn")
DATA_KEY = "images_digests"


class ESSError(UserError, ValueError):
    """An installer file, mirror map or option that cannot be used; names the container."""


def load_installer(data: Any, origin: str = "images_digests.yml") -> dict[tuple[str, str], dict[str, Any]]:
    """Parse the installer's images_digests (text, or the already loaded mapping).

    Returns ``{(component, container): {field: value}}`` in file order.
    """
    if isinstance(data, (str, bytes)):
        if _yaml is None:  # pragma: no cover
            raise ESSError("PyYAML is required to read %s" % origin)
        try:
            data = _yaml.load(data, Loader=_TextLoader)  # nosec B506 - a SafeLoader subclass
        except _yaml.YAMLError as exc:
            raise ESSError("%s: not valid YAML: %s" % (origin, exc)) from None
    if isinstance(data, dict) and DATA_KEY in data and len(data) == 1:
        data = data[DATA_KEY]
    if not isinstance(data, dict):
        raise ESSError("%s: expected a mapping 'images_digests: {component: {container: {...}}}'" % origin)
    containers = {}
    for component, members in data.items():
        if not isinstance(members, dict):
            raise ESSError("%s: %s: expected a mapping of containers" % (origin, component))
        for container, spec in members.items():
            name = "%s/%s" % (component, container)
            if not isinstance(spec, dict):
                raise ESSError("%s: %s: expected a mapping with image_repository_server, "
                               "image_repository_path, image_tag, image_digest" % (origin, name))
            missing = [f for f in ("image_repository_server", "image_repository_path") if not spec.get(f)]
            if missing:
                raise ESSError("%s: %s: missing %s" % (origin, name, ", ".join(missing)))
            if not spec.get("image_tag") and not spec.get("image_digest"):
                raise ESSError("%s: %s: has neither image_tag nor image_digest" % (origin, name))
            for field in FIELDS:
                if isinstance(spec.get(field), (int, float, bool)):
                    raise ESSError(
                        "%s: %s: %s was read as a number or boolean (%r), which loses its text "
                        "(1.10 becomes 1.1): give the file's text, not parsed YAML"
                        % (origin, name, field, spec[field])
                    )
            containers[(str(component), str(container))] = {k: spec.get(k) for k in FIELDS}
    return containers


def source_reference(spec: dict[str, Any], name: str = "?") -> _ref.Reference:
    """The image an installer container pulls, as a normalized :class:`Reference`."""
    text = "%s/%s" % (str(spec["image_repository_server"]).strip().rstrip("/"),
                      str(spec["image_repository_path"]).strip().strip("/"))
    if spec.get("image_tag"):
        text += ":" + str(spec["image_tag"])
    if spec.get("image_digest"):
        text += "@" + str(spec["image_digest"])
    try:
        return _ref.parse(text)
    except InvalidReference as exc:
        raise ESSError("%s: %s" % (name, exc)) from None


def _selected(name: str, include: Iterable[str] | None, exclude: Iterable[str] | None) -> bool:
    component = name.split("/", 1)[0]
    if include and not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(component, p) for p in include):
        return False
    if exclude and any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(component, p) for p in exclude):
        return False
    return True


def build_override(installer: Any, mirror_map: Any, image_digest: str = "keep", on_missing: str = "fail",
                   include: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
                   origin: str = "images_digests.yml") -> dict[str, Any]:
    """Compute the override tree for the containers that are in the mirror map.

    *image_digest*: ``keep`` writes ``image_digest`` when the mirrored image has the installer's
    digest (a mirrored image whose digest differs is an error naming the container; an image the
    mirror holds filtered to some platforms gets the mirror's digest, the only one it serves); ``mirror``
    writes the digest of the image in the mirror (the seed's "regenerated" digest); ``drop`` never
    writes it. *on_missing*: ``fail`` raises for installer containers absent from the mirror map,
    ``warn`` only reports them. *include*/*exclude*: ``component`` or ``component/container``
    glob patterns limiting which containers are considered at all.

    Returns a dict: ``tree`` (component -> container -> fields), ``overridden``, ``missing``,
    ``digest_changed`` (names whose mirrored digest differs from the installer's), ``filtered``
    (names pinned to the mirror's digest of a platform-filtered image, in ``keep`` mode), ``matches``
    (name -> {source, destination, matched_by}), ``servers`` (the registries the override points
    at, sorted) and ``warnings``.
    """
    if image_digest not in DIGEST_MODES:
        raise ESSError("image_digest must be one of %s, not %r" % (", ".join(DIGEST_MODES), image_digest))
    if on_missing not in ON_MISSING:
        raise ESSError("on_missing must be one of %s, not %r" % (", ".join(ON_MISSING), on_missing))
    containers = load_installer(installer, origin=origin)
    index = _mmio.coerce(mirror_map)
    tree: dict[str, dict[str, dict[str, str]]] = {}
    overridden: list[str] = []
    missing: list[str] = []
    changed: list[str] = []
    filtered: list[str] = []
    matches: dict[str, dict[str, str | None]] = {}
    warnings: list[str] = []
    for (component, container), spec in containers.items():
        name = "%s/%s" % (component, container)
        if not _selected(name, include, exclude):
            continue
        src = source_reference(spec, name)
        entry, how = index.lookup(src)
        if entry is None:
            missing.append(name)
            continue
        if entry.registry_destination is None:
            raise ESSError(
                "%s: %s is mirrored to an OCI layout (%s), not a registry; ESS can only pull from a "
                "registry" % (name, src, entry.destination)
            )
        dest = entry.registry_destination.ref
        if not dest.tag:
            raise ESSError("%s: the mirror destination %s has no tag; ESS needs image_tag" % (name, dest))
        # a platform-filtered image: the mirror serves entry.digest for the installer's (upstream) digest
        digest_differs = bool(spec.get("image_digest")) and entry.upstream_digest != spec["image_digest"]
        if digest_differs:
            changed.append(name)
        fields = {
            "image_repository_server": dest.registry,
            "image_repository_path": dest.repository,
            "image_tag": dest.tag,
        }
        if image_digest == "keep" and spec.get("image_digest"):
            if digest_differs:
                raise ESSError(
                    "%s: the mirror holds %s with digest %s, but the installer pins %s (the tag "
                    "moved since it was mirrored); re-mirror by digest, or use image_digest=mirror "
                    "to pin what the mirror holds, or image_digest=drop" %
                    (name, src.without_digest(), entry.digest, spec["image_digest"])
                )
            # the mirror cannot serve the installer's digest of a filtered index: pin the mirror's
            fields["image_digest"] = entry.digest if entry.filtered else spec["image_digest"]
            if entry.filtered:
                filtered.append(name)
        elif image_digest == "mirror":
            fields["image_digest"] = entry.digest
        tree.setdefault(component, {})[container] = dict(sorted(fields.items()))
        overridden.append(name)
        matches[name] = {"source": str(src), "destination": str(entry.destination), "matched_by": how}
    if missing:
        message = (
            "%d container(s) of %s are not in the mirror map: %s (a new ESS release may need new "
            "images: mirror them first)" % (len(missing), origin, ", ".join(missing))
        )
        if on_missing == "fail":
            raise ESSError(message)
        warnings.append(message)
    if changed and image_digest != "keep":
        warnings.append("mirrored digest differs from the installer's for: %s" % ", ".join(changed))
    if filtered:
        warnings.append("image_digest is the mirror's for %s: the mirror holds these images filtered to some "
                        "platforms, as an index with a digest of its own (the installer's digest is the source's; "
                        "see docs/platforms.md)" % ", ".join(filtered))
    return {
        "tree": tree,
        "overridden": overridden,
        "missing": missing,
        "digest_changed": changed,
        "filtered": filtered,
        "matches": matches,
        "servers": sorted({fields["image_repository_server"] for members in tree.values()
                           for fields in members.values()}),
        "warnings": warnings,
    }


def dump_tree(tree: dict[str, Any]) -> str:
    """The ``data.images_digests`` string: block YAML, keys sorted, stable across runs."""
    if not tree:
        return "{}\n"
    return _yaml.safe_dump(tree, default_flow_style=False, sort_keys=True, width=4096)


def configmap(tree: dict[str, Any], name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The override ConfigMap, ready for ``kubernetes.core.k8s``."""
    try:
        return _k8s.configmap(name, {DATA_KEY: dump_tree(tree)}, namespace=namespace, labels=labels)
    except _k8s.KubernetesObjectError as exc:
        raise ESSError(str(exc)) from None


def override_configmap(installer: Any, mirror_map: Any, name: str, namespace: str,
                       labels: dict[str, str] | None = None, **options: Any) -> dict[str, Any]:
    """:func:`build_override` + :func:`configmap`: returns the report with a ``configmap`` key."""
    report = build_override(installer, mirror_map, **options)
    report["configmap"] = configmap(report["tree"], name, namespace, labels=labels)
    return report


#: What each key of :func:`settings_edits` names. There are NO default keys: the ESS installer's
#: settings format is not public, and neither the ESS documentation nor any public source found
#: says under which keys its GUI's "Cluster > Advanced" section stores the images digests ConfigMap
#: and the Docker Secrets (docs/ess.md says how to find them in your installer's files).
SETTINGS_KEYS = {
    "configmap": "the images digests ConfigMap name",
    "secret": "the docker-registry Secret name(s)",
}


def _valid_name(name: str, what: str) -> str:
    try:
        return str(_k8s.validate_subdomain(name, what))
    except _k8s.KubernetesObjectError as exc:
        raise ESSError(str(exc)) from None


def settings_edits(configmap_name: str | None = None, secret_name: str | None = None,
                   keys: dict[str, str] | None = None, secret_as_list: bool = True,
                   current: str | None = None) -> list[dict[str, Any]]:
    """``[{"key", "value"}]`` to give ``airgap.mirror.yaml_setting`` for the installer settings.

    *keys* maps ``configmap`` and ``secret`` to the dotted keys of the settings file; each name
    given needs its key (there are no defaults, see :data:`SETTINGS_KEYS`). With *current* (the
    text of the settings file) and ``secret_as_list``, the Secret is added to the list already
    there instead of replacing it, so other pull secrets stay.
    """
    keys = dict(keys or {})
    unknown = sorted(set(keys) - set(SETTINGS_KEYS))
    if unknown:
        raise ESSError("installer settings: unknown key name(s) %s (known: %s)"
                       % (", ".join(unknown), ", ".join(SETTINGS_KEYS)))
    for what, name in (("configmap", configmap_name), ("secret", secret_name)):
        if name and not (isinstance(keys.get(what), str) and keys[what].strip()):
            raise ESSError(
                "installer settings: no key given for %s (keys.%s); the ESS installer's settings "
                "format is not public, so there is no default: find the key your installer uses "
                "(docs/ess.md) and give it" % (SETTINGS_KEYS[what], what))
    edits: list[dict[str, Any]] = []
    if configmap_name:
        edits.append({"key": keys["configmap"], "value": _valid_name(configmap_name, "ConfigMap name")})
    if secret_name:
        _valid_name(secret_name, "Secret name")
        if not secret_as_list:
            edits.append({"key": keys["secret"], "value": secret_name})
        else:
            existing: list[Any] = []
            if current:
                try:
                    values = _yamledit.get_values(current, keys["secret"], origin="installer settings",
                                                  dotted_keys=False)
                except _yamledit.YAMLEditError as exc:
                    raise ESSError(str(exc)) from None
                for value in values:
                    if isinstance(value, list):
                        existing.extend(v for v in value if v not in existing)
                    elif value:
                        raise ESSError("installer settings: %s is %r, not a list of Secret names"
                                       % (keys["secret"], value))
            edits.append({"key": keys["secret"], "value": existing + ([] if secret_name in existing else [secret_name])})
    return edits
