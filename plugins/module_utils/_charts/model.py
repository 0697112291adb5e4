# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A Helm chart as an OCI artifact: Helm's media types, the chart package read (``Chart.yaml``,
``values.yaml``), the config and the manifest built from them, and the reference it gets.

The media types are Helm's (``helm/helm`` ``internal/experimental/registry/constants.go``, later
``pkg/registry``; https://helm.sh/blog/helm-oci-mediatypes/). The config is ``Chart.yaml`` as JSON
with the fields of Helm's ``chart.Metadata`` in its order, empty ones left out (as Go's
``omitempty`` does). Same package bytes -> same config, same manifest, same digest: nothing
time-dependent is written (Helm's own push adds a ``created`` annotation; we do not).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import tarfile
from typing import Any
from urllib.parse import urlsplit

from .._common.errors import UserError
from .._oci import manifest as _manifest

CONFIG_TYPE = "application/vnd.cncf.helm.config.v1+json"
CONTENT_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
PROVENANCE_TYPE = "application/vnd.cncf.helm.chart.provenance.v1.prov"
#: the largest Chart.yaml / values.yaml read from a package
MAX_MEMBER = 4 * 1024 * 1024
#: chart.Metadata's JSON fields, in the Go struct's order
_METADATA = ("name", "home", "sources", "version", "description", "keywords", "maintainers", "icon",
             "apiVersion", "condition", "tags", "appVersion", "deprecated", "annotations", "kubeVersion",
             "dependencies", "type")
_MAINTAINER = ("name", "email", "url")
_DEPENDENCY = ("name", "version", "repository", "condition", "tags", "enabled", "import-values", "alias")
_COMPONENT_BAD = re.compile(r"[^a-z0-9._-]+")
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


class ChartError(UserError):
    """A chart that cannot be read, verified or mirrored; the message names it."""


@dataclasses.dataclass(frozen=True)
class Chart:
    """One chart package: its bytes, the parsed ``Chart.yaml`` and ``values.yaml`` (``{}`` when
    absent), and its provenance file when there is one."""

    package: bytes
    metadata: dict[str, Any]
    values: dict[str, Any]
    provenance: bytes | None = None

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])


def read_package(data: bytes, what: str, provenance: bytes | None = None) -> Chart:
    """The chart in the ``.tgz`` *data*: ``NAME/Chart.yaml`` (required, with name and version)
    and ``NAME/values.yaml`` of the top directory; *what* names it in errors."""
    import yaml

    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            top = sorted({name.split("/", 1)[0] for name in members if "/" in name})
            chart_files = [t for t in top if t + "/Chart.yaml" in members]
            if not chart_files:
                raise ChartError("%s: no CHART/Chart.yaml in the package" % what)
            base = chart_files[0]
            texts = {}
            for leaf in ("Chart.yaml", "values.yaml"):
                member = members.get(base + "/" + leaf)
                if member is None:
                    continue
                if member.size > MAX_MEMBER:
                    raise ChartError("%s: %s/%s is larger than %d bytes" % (what, base, leaf, MAX_MEMBER))
                handle = tar.extractfile(member)
                texts[leaf] = handle.read() if handle else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ChartError("%s: not a gzip-compressed tar chart package: %s" % (what, exc)) from None
    metadata = _yaml(yaml, texts["Chart.yaml"], "%s: %s/Chart.yaml" % (what, base))
    values = _yaml(yaml, texts.get("values.yaml", b""), "%s: %s/values.yaml" % (what, base))
    for key in ("name", "version"):
        if not isinstance(metadata.get(key), (str, int, float)) or not str(metadata.get(key)):
            raise ChartError("%s: %s/Chart.yaml has no %s" % (what, base, key))
    return Chart(data, metadata, values, provenance)


def _yaml(yaml: Any, text: bytes, where: str) -> dict[str, Any]:
    try:
        body = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = " line %d" % (mark.line + 1) if mark is not None else ""
        raise ChartError("%s%s: not YAML: %s" % (where, line, getattr(exc, "problem", exc))) from None
    if not isinstance(body, dict):
        raise ChartError("%s: must be a mapping" % where)
    return body


def config_bytes(metadata: dict[str, Any]) -> bytes:
    """``Chart.yaml`` as Helm's config JSON (see the module docstring)."""
    out: dict[str, Any] = {}
    for key in _METADATA:
        value = metadata.get(key)
        if value in (None, "", [], {}, False):
            continue
        if key == "maintainers" and isinstance(value, list):
            value = [_ordered(m, _MAINTAINER) for m in value]
        elif key == "dependencies" and isinstance(value, list):
            value = [_ordered(d, _DEPENDENCY) for d in value]
        elif key == "annotations" and isinstance(value, dict):
            value = {str(k): str(v) for k, v in sorted(value.items())}
        elif key in ("name", "version", "appVersion", "kubeVersion", "apiVersion"):
            value = str(value)
        out[key] = value
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()


def _ordered(item: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(item, dict):
        return item
    return {k: item[k] for k in keys if item.get(k) not in (None, "", [], {}, False)}


def manifest_bytes(chart: Chart) -> tuple[bytes, dict[str, bytes]]:
    """The OCI image manifest of *chart* and its blobs by digest (config, package, provenance)."""
    config = config_bytes(chart.metadata)
    blobs = {_manifest.compute_digest(config): config, _manifest.compute_digest(chart.package): chart.package}
    layers = [_desc(CONTENT_TYPE, chart.package)]
    if chart.provenance is not None:
        layers.append(_desc(PROVENANCE_TYPE, chart.provenance))
        blobs[_manifest.compute_digest(chart.provenance)] = chart.provenance
    annotations = {"org.opencontainers.image.title": chart.name, "org.opencontainers.image.version": chart.version}
    if isinstance(chart.metadata.get("description"), str) and chart.metadata["description"]:
        annotations["org.opencontainers.image.description"] = chart.metadata["description"]
    body = {"schemaVersion": 2, "mediaType": _manifest.OCI_MANIFEST, "config": _desc(CONFIG_TYPE, config),
            "layers": layers, "annotations": dict(sorted(annotations.items()))}
    return json.dumps(body, separators=(",", ":"), sort_keys=False).encode(), blobs


def _desc(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _manifest.compute_digest(data), "size": len(data)}


def chart_tag(version: str) -> str:
    """The OCI tag of a chart version: Helm writes ``+`` (not allowed in tags) as ``_``."""
    return version.replace("+", "_")


def repository_for(repo_url: str, name: str) -> str:
    """``HOST[:PORT]/PATH/NAME`` for chart *name* of the chart repository at *repo_url*: the
    repository path lower-cased, runs of other characters as ``-``, so ``helm pull
    oci://MIRROR/HOST/PATH/NAME`` finds it after ``image_mirror``'s naming."""
    parts = urlsplit(repo_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ChartError("chart repository %r: give an http(s) URL" % repo_url)
    host = parts.netloc.rsplit("@", 1)[-1].lower()
    components = [_component(p) for p in parts.path.split("/") if p and p != "index.yaml"]
    if not _NAME.match(name):
        raise ChartError("chart %r of %s: a chart name must be lower-case letters, digits and . _ -"
                         % (name, repo_url))
    return "/".join([host] + [c for c in components if c] + [name])


def _component(text: str) -> str:
    return _COMPONENT_BAD.sub("-", text.lower()).strip("._-")
