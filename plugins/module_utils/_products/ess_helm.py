# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Element Server Suite, Helm: values for the ``matrix-stack`` chart pointing at the mirror.

The chart (element-hq/ess-helm) gives each component its own image::

    synapse:
      image:
        registry: oci.element.io
        repository: synapse
        tag: "v1.159.0"
        # digest: sha256:...
        pullSecrets: []

and renders ``registry/repository@digest`` when a digest is set (else ``registry/repository:tag``).
There is no global registry override; the top-level ``image:`` holds only ``pullPolicy`` and
``pullSecrets`` (merged with each component's). The top-level ``imagePullSecrets`` was removed in
25.12.0.

The components are found by walking the chart's own ``values.yaml``: every mapping under an
``image`` key that has a ``repository`` is one, named by the dotted path of its parent
(``matrixRTC.sfu``). Nothing is hard-coded, so a chart version that adds a component is seen.
A component is *enabled* unless a mapping on its path (itself included) has ``enabled: false``
in the chart's values merged with the site's.

:func:`build_values` matches each component's image to a mirror map entry (same repository and
tag, or the digest when the values pin one) and writes ``registry``, ``repository``, ``tag`` (the
mirror's, ``null`` when it has none) and ``digest`` (what the mirror holds) and ``pullSecrets``.
An enabled component with no entry is named: an error by default, a warning when told.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Tuple

from .._common.errors import UserError
from .._consumers import k8s as _k8s
from .._mirrormap import io as _mmio
from .._oci import reference as _ref
from .._oci.errors import InvalidReference

try:
    import yaml as _yaml
except ImportError:  # pragma: no cover - PyYAML is a declared dependency
    _yaml = None  # type: ignore[assignment]

ON_MISSING = ("fail", "warn")
DEFAULT_REGISTRY = "docker.io"


class ESSHelmError(UserError, ValueError):
    """A chart values file, mirror map or option that cannot be used; names the component."""


@dataclass(frozen=True)
class Component:
    """One ``image:`` of the chart: where it sits, what it pulls, and whether it is deployed."""

    path: tuple[str, ...]
    source: _ref.Reference
    enabled: bool

    @property
    def name(self) -> str:
        return ".".join(self.path)


def load_values(data: Any, origin: str = "values.yaml") -> dict[str, Any]:
    """A values document (text, or the already loaded mapping); ``None``/empty text is ``{}``."""
    if isinstance(data, (str, bytes)):
        if _yaml is None:  # pragma: no cover
            raise ESSHelmError("PyYAML is required to read %s" % origin)
        try:
            data = _yaml.safe_load(data)
        except _yaml.YAMLError as exc:
            raise ESSHelmError("%s: not valid YAML: %s" % (origin, exc)) from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ESSHelmError("%s: expected a mapping of chart values, not %s" % (origin, type(data).__name__))
    return dict(data)


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values: mappings merge key by key, anything else (lists too) replaces,
    and ``null`` deletes the key."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


#: (path of an ``image:`` mapping in the values, the mapping, whether its component is enabled)
ImageAt = Tuple[Tuple[str, ...], Mapping[str, Any], bool]


def _images(node: Mapping[str, Any], path: tuple[str, ...], enabled: bool) -> Iterator[ImageAt]:
    if node.get("enabled") is False:
        enabled = False
    image = node.get("image")
    if isinstance(image, Mapping) and "repository" in image and path:
        yield path, image, enabled
    for key, value in node.items():
        if key != "image" and isinstance(value, Mapping):
            yield from _images(value, path + (str(key),), enabled)


def _text(value: Any, where: str, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ESSHelmError("%s: image.%s is %r, not a string (quote it: 1.10 is not \"1.10\")" % (where, field, value))
    return value.strip()


def components(chart_values: Any, site_values: Any = None, origin: str = "values.yaml") -> list[Component]:
    """Every component of the chart, in file order, from its values (with the site's merged in)."""
    values = merge(load_values(chart_values, origin), load_values(site_values, "site values"))
    found = []
    for path, image, enabled in _images(values, (), True):
        name = ".".join(path)
        registry = _text(image.get("registry"), name, "registry") or DEFAULT_REGISTRY
        repository = _text(image.get("repository"), name, "repository")
        tag = _text(image.get("tag"), name, "tag")
        digest = _text(image.get("digest"), name, "digest")
        if not repository or not (tag or digest):
            raise ESSHelmError("%s: %s: image needs a repository and a tag or a digest" % (origin, name))
        text = "%s/%s%s%s" % (registry.rstrip("/"), repository.strip("/"), ":" + tag if tag else "",
                              "@" + digest if digest else "")
        try:
            source = _ref.parse(text)
        except InvalidReference as exc:
            raise ESSHelmError("%s: %s: %s" % (origin, name, exc)) from None
        found.append(Component(path, source, enabled))
    if not found:
        raise ESSHelmError("%s: no component image found (image: {repository, tag}); is this the "
                           "matrix-stack chart's values.yaml?" % origin)
    return found


def _selected(name: str, include: Iterable[str] | None, exclude: Iterable[str] | None) -> bool:
    if include and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return False
    return not (exclude and any(fnmatch.fnmatchcase(name, p) for p in exclude))


def _put(tree: dict[str, Any], path: tuple[str, ...], image: dict[str, Any]) -> None:
    node = tree
    for key in path:
        node = node.setdefault(key, {})
    node["image"] = image


def build_values(chart_values: Any, mirror_map: Any, pull_secret: str | None = None, on_missing: str = "fail",
                 include: Iterable[str] | None = None, exclude: Iterable[str] | None = None,
                 site_values: Any = None, origin: str = "values.yaml") -> dict[str, Any]:
    """The values overlay and a report.

    *include*/*exclude*: glob patterns on component names (``matrixRTC.sfu``, ``redis*``).
    *pull_secret*: the docker-registry Secret each mirrored component lists in ``pullSecrets``.

    Returns ``values`` (the overlay to give ``helm -f``), ``components`` (mirrored, by name),
    ``missing`` (enabled, not in the map), ``skipped`` (disabled, not in the map), ``matches``
    (name -> source, destination, matched_by), ``registries`` (sorted) and ``warnings``.
    """
    if on_missing not in ON_MISSING:
        raise ESSHelmError("on_missing must be one of %s, not %r" % (", ".join(ON_MISSING), on_missing))
    try:
        secrets = [{"name": str(_k8s.validate_subdomain(pull_secret, "pull Secret name"))}] if pull_secret else []
    except _k8s.KubernetesObjectError as exc:
        raise ESSHelmError(str(exc)) from None
    index = _mmio.coerce(mirror_map)
    values: dict[str, Any] = {}
    report: dict[str, Any] = {"components": [], "missing": [], "skipped": [], "matches": {}, "warnings": []}
    registries: set[str] = set()
    for comp in components(chart_values, site_values, origin):
        if not _selected(comp.name, include, exclude):
            continue
        entry, how = index.lookup(comp.source)
        if entry is None:
            report["missing" if comp.enabled else "skipped"].append(comp.name)
            continue
        dest = entry.registry_destination
        if dest is None:
            raise ESSHelmError("%s: %s is mirrored to an OCI layout (%s), not a registry; the chart can "
                               "only pull from a registry" % (comp.name, comp.source, entry.destination))
        if comp.source.digest and entry.upstream_digest != comp.source.digest:
            raise ESSHelmError("%s: the values pin %s but the mirror holds %s with digest %s (the tag moved "
                               "since it was mirrored); re-mirror by digest" %
                               (comp.name, comp.source.digest, comp.source.without_digest(), entry.digest))
        _put(values, comp.path, {"registry": dest.registry, "repository": dest.repository,
                                 "tag": dest.ref.tag, "digest": entry.digest, "pullSecrets": list(secrets)})
        registries.add(dest.registry)
        report["components"].append(comp.name)
        report["matches"][comp.name] = {"source": str(comp.source), "destination": str(dest), "matched_by": how}
    if report["missing"]:
        message = ("%d component(s) of %s are not in the mirror map: %s (a new chart version may deploy new "
                   "images: mirror them first)" % (len(report["missing"]), origin, ", ".join(report["missing"])))
        if on_missing == "fail":
            raise ESSHelmError(message)
        report["warnings"].append(message)
    report["values"] = values
    report["registries"] = sorted(registries)
    return report


def dump_values(values: Mapping[str, Any], header: str | None = None) -> str:
    """The values file text: block YAML in chart order, stable across runs, an optional comment first."""
    plain = json.loads(json.dumps(dict(values)))  # str subclasses (Ansible's tagged strings) become str
    text = _yaml.safe_dump(plain, default_flow_style=False, sort_keys=False, width=4096) if values else "{}\n"
    if header:
        text = "".join("# %s\n" % line if line else "#\n" for line in header.splitlines()) + text
    return text
