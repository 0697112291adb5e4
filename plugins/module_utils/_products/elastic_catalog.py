# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The Elastic Stack image catalog: which images a stack version (and ECK) needs.

Repository names and tags as ECK computes them (the ImageRepository rules of
elastic/cloud-on-k8s pkg/controller/common/container/container.go: UBI and container suffixes,
older Maps images, the Elastic Agent move to elastic-agent/elastic-agent in 9.0, the Package
Registry's lite tags, --container-repository) are NOT transcribed here: they are in ONE place,
``eck.images.image_parts`` (with ``eck.images.operator_image_path`` for the operator's own image),
which the ECK role's verification uses too. This module only knows which components exist for
which versions and how the include/exclude options select them.

Stack versions ECK deploys each application for (ECK "Supported versions" pages, 1.x-3.x):
Elasticsearch/Kibana/APM Server 6.8+, Beats 7.0+, Elastic Agent 7.10+, Elastic Maps Server
7.11+, Logstash 8.7+, Enterprise Search 7.7+ and removed from the stack in 9.0.0 ("Enterprise
Search no longer available since version 9.0.0", ECK breaking changes), Journalbeat 7.0 up to
7.15 (removed in 7.16, Journalbeat reference "6.5-7.15"), Elastic Package Registry 8+.

Outside ECK: the operator is eck/eck-operator:<ECK version>; the self-hosted Elastic Package
Registry of the Fleet air-gap guide is package-registry/distribution:<stack version> (Elastic's
recommendation over the moving :production; package_registry_tag chooses another); eck-diagnostics
runs eck-dev/support-diagnostics:<version> (the default printed by eck-diagnostics, e.g. 8.1.4
or 9.3.1 depending on the release; pass it with --diagnostic-image in the air gap).

Errors are :class:`eck.images.ECKError` (a ``UserError``); one about a component starts with its
name.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from .._common.version import Version
from .._oci import reference as _ref
from .._oci.errors import InvalidReference
from .eck import images as _eck

ELASTIC_REGISTRY = "docker.elastic.co"


@dataclasses.dataclass(frozen=True)
class _Component:
    name: str
    kind: str
    beat_type: str | None
    low: Version
    high: Version | None = None


def _v(text: str) -> Version:
    return Version(text)


# component, ECK kind, beat type, minimum stack version, first stack version without it
_STACK = (
    _Component("elasticsearch", "Elasticsearch", None, _v("6.8.0")),
    _Component("kibana", "Kibana", None, _v("6.8.0")),
    _Component("apm_server", "ApmServer", None, _v("6.8.0")),
    _Component("enterprise_search", "EnterpriseSearch", None, _v("7.7.0"), _v("9.0.0")),
    _Component("elastic_agent", "Agent", None, _v("7.10.0")),
    _Component("maps_server", "ElasticMapsServer", None, _v("7.11.0")),
    _Component("logstash", "Logstash", None, _v("8.7.0")),
    _Component("filebeat", "Beat", "filebeat", _v("7.0.0")),
    _Component("metricbeat", "Beat", "metricbeat", _v("7.0.0")),
    _Component("heartbeat", "Beat", "heartbeat", _v("7.0.0")),
    _Component("auditbeat", "Beat", "auditbeat", _v("7.0.0")),
    _Component("packetbeat", "Beat", "packetbeat", _v("7.0.0")),
    _Component("journalbeat", "Beat", "journalbeat", _v("7.0.0"), _v("7.16.0")),
    _Component("package_registry_lite", "PackageRegistry", None, _v("8.0.0")),
)
_BY_NAME = {c.name: c for c in _STACK}
ELASTIC_COMPONENTS = ("eck_operator",) + tuple(c.name for c in _STACK) + ("package_registry", "support_diagnostics")
ELASTIC_GROUPS = {
    "beats": ("filebeat", "metricbeat", "heartbeat", "auditbeat", "packetbeat", "journalbeat"),
    "stack": tuple(c.name for c in _STACK if c.name != "package_registry_lite"),
}
ECK_PACKAGE_REGISTRY_MIN = _v("3.3.0")


def _fmt_version(version: Version) -> str:
    return "%d.%d.%d" % version.release


def _version(text: Any, what: str) -> Version:
    version = Version.parse(text.strip(), what) if isinstance(text, str) else None
    if version is None or version.build is not None:  # "+build" cannot be in an image tag
        raise _eck.ECKError("%s %r is not a version like 8.16.1" % (what, text))
    return version


def _expand(names: Any, option: str) -> list[tuple[str, bool]] | None:
    """``[(component, explicit)]`` of an include/exclude list; groups expand to non-explicit."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[tuple[str, bool]] = []
    for raw in names:
        item = str(raw).strip()
        if item in ELASTIC_GROUPS:
            out.extend((member, False) for member in ELASTIC_GROUPS[item])
        elif item in ELASTIC_COMPONENTS:
            out.append((item, True))
        else:
            raise _eck.ECKError("%s: unknown component %r (known: %s; groups: %s)" % (
                option, item, ", ".join(ELASTIC_COMPONENTS), ", ".join(sorted(ELASTIC_GROUPS))))
    return out


@dataclasses.dataclass(frozen=True)
class _Settings:
    """The checked options of :func:`elastic_image_records`."""

    version: Version
    eck: Version | None
    diag: str | None
    base: str
    repo_ns: str | None
    suffix: str
    ubi_only: bool
    fips: bool
    pr_tag: str

    def unavailable(self, component: str) -> str | None:
        """None when the component exists for the versions given, else the reason."""
        if component == "eck_operator":
            return None if self.eck else "needs eck_version"
        if component == "support_diagnostics":
            return None if self.diag else "needs support_diagnostics_version (the image eck-diagnostics prints)"
        if component == "package_registry":
            return None
        row = _BY_NAME[component]
        if self.version < row.low:
            return "exists from stack %s on, not in %s" % (_fmt_version(row.low), self.version)
        if row.high is not None and self.version >= row.high:
            return "was removed in stack %s, not in %s" % (_fmt_version(row.high), self.version)
        if component == "package_registry_lite" and self.eck is not None and self.eck < ECK_PACKAGE_REGISTRY_MIN:
            return "is deployed by ECK %s and later, not by ECK %s" % (
                _fmt_version(ECK_PACKAGE_REGISTRY_MIN), self.eck)
        return None

    def image(self, component: str) -> tuple[str, str]:
        """``(repository path, tag)`` of an available component."""
        if component == "eck_operator":
            if self.eck is None:  # checked by unavailable()
                raise AssertionError('bug: expected self.eck is not None')
            return _eck.operator_image_path(self.ubi_only, self.fips), str(self.eck)
        if component == "support_diagnostics":
            if self.diag is None:  # checked by unavailable()
                raise AssertionError('bug: expected self.diag is not None')
            return _eck.DIAGNOSTICS_IMAGE, self.diag
        if component == "package_registry":
            return _eck.PACKAGE_REGISTRY_IMAGE, self.pr_tag
        row = _BY_NAME[component]
        try:
            return _eck.image_parts(row.kind, self.version, row.beat_type, container_repository=self.repo_ns,
                                    container_suffix=self.suffix, ubi_only=self.ubi_only)
        except _eck.ECKError as exc:
            raise _eck.ECKError("%s: %s" % (component, exc)) from None


def _checked_tag(value: str, option: str) -> str:
    try:
        _ref.validate_tag(value)
    except ValueError as exc:
        raise _eck.ECKError("%s: %s" % (option, exc)) from None
    return value


def _settings(stack_version: Any, eck_version: Any, registry: Any, container_repository: Any, ubi_only: bool,
              container_suffix: Any, fips: bool, package_registry_tag: Any,
              support_diagnostics_version: Any) -> _Settings:
    ver = _version(stack_version, "stack version")
    eck = _version(eck_version, "eck_version") if eck_version not in (None, "") else None
    diag = None
    if support_diagnostics_version not in (None, ""):
        diag = _checked_tag(str(support_diagnostics_version).strip(), "support_diagnostics_version")
    try:
        reg, namespace = _ref.parse_registry_prefix(str(registry or ELASTIC_REGISTRY))
    except InvalidReference as exc:
        raise _eck.ECKError("registry: %s" % exc.reason) from None
    repo_ns = None
    if container_repository:
        repo_ns = str(container_repository).strip().strip("/")
        if not all(_ref._PATH_COMPONENT.match(c) for c in repo_ns.split("/")):  # pylint: disable=protected-access
            raise _eck.ECKError("container_repository %r is not a valid repository path" % container_repository)
    suffix = str(container_suffix or "").strip()
    if suffix:
        if ubi_only:
            raise _eck.ECKError("ubi_only and container_suffix cannot be combined (the operator refuses to start)")
        if not re.match(r"^[a-z0-9._-]+$", suffix):
            raise _eck.ECKError("container_suffix %r may only hold lower-case letters, digits, '.', '_' and '-'"
                                % container_suffix)
    pr_tag = _checked_tag(str(package_registry_tag or ver).strip(), "package_registry_tag")
    return _Settings(ver, eck, diag, reg + ("/" + namespace if namespace else ""), repo_ns, suffix,
                     bool(ubi_only), bool(fips), pr_tag)


def _select(settings: _Settings, include: Any, exclude: Any) -> list[str]:
    wanted = _expand(include, "include")
    excluded = {name for name, _explicit in _expand(exclude, "exclude") or ()}
    if wanted is None:
        selected = [c for c in ELASTIC_COMPONENTS if settings.unavailable(c) is None]
        if not (settings.eck is not None and settings.eck >= ECK_PACKAGE_REGISTRY_MIN):
            selected = [c for c in selected if c != "package_registry_lite"]
    else:
        chosen = set()
        for component, explicit in wanted:
            reason = settings.unavailable(component)
            if reason is None:
                chosen.add(component)
            elif explicit:
                raise _eck.ECKError("component %s %s" % (component, reason))
        selected = [c for c in ELASTIC_COMPONENTS if c in chosen]
    return [c for c in selected if c not in excluded]


def elastic_image_records(stack_version: Any, eck_version: Any = None, include: Any = None, exclude: Any = None,
                          registry: Any = ELASTIC_REGISTRY, container_repository: Any = None,
                          ubi_only: bool = False, container_suffix: Any = None, fips: bool = False,
                          package_registry_tag: Any = None,
                          support_diagnostics_version: Any = None) -> list[dict[str, str]]:
    """Images of an Elastic Stack version as ECK deploys them, plus the operator and tools.

    Returns records ``{component, source, repository, tag}`` in the order of
    :data:`ELASTIC_COMPONENTS`; ``repository`` is the path under the registry, i.e. where the
    image must be in a mirror that ECK uses through ``--container-registry``.

    *container_repository*, *ubi_only* and *container_suffix* are the operator's
    ``--container-repository``, ``--ubi-only`` and ``--container-suffix``; *ubi_only* and *fips*
    also select the operator image the eck-operator Helm chart runs with ``config.ubiOnly`` and
    ``image.fips`` (``eck/eck-operator[-ubi][-fips]``).

    Without *include*, every component that exists for *stack_version* is selected, plus
    ``eck_operator`` when *eck_version* is given, ``support_diagnostics`` when
    *support_diagnostics_version* is given and ``package_registry_lite`` when *eck_version* is
    3.3.0 or later. A component named in *include* that does not exist for the versions given is
    an error (never silently dropped). *exclude* removes components (or the groups ``beats`` and
    ``stack``).
    """
    settings = _settings(stack_version, eck_version, registry, container_repository, ubi_only, container_suffix,
                         fips, package_registry_tag, support_diagnostics_version)
    records = []
    for component in _select(settings, include, exclude):
        path, tag = settings.image(component)
        try:
            ref = _ref.parse("%s/%s:%s" % (settings.base, path, tag))
        except InvalidReference as exc:
            raise _eck.ECKError("%s: %s" % (component, exc.message)) from None
        records.append({"component": component, "source": str(ref), "repository": path, "tag": tag})
    return records


def unique_sources(records: Iterable[dict[str, Any]]) -> list[str]:
    """The ``source`` of each record, deduplicated, in order."""
    return list(dict.fromkeys(str(record["source"]) for record in records))


def elastic_images(stack_version: Any, **kwargs: Any) -> list[str]:
    """Normalized, deduplicated references of :func:`elastic_image_records`."""
    return unique_sources(elastic_image_records(stack_version, **kwargs))
