# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Which image the ECK operator pulls for an Elastic resource: kinds, versions, image names.

How the operator picks the image of an Elastic resource that has no ``spec.image`` (ECK 3.x,
``pkg/controller/common/container/container.go``)::

    image  = <path>                                # e.g. elasticsearch/elasticsearch
    if --container-repository P:  image = P/<last path component>
    suffix = UBI suffix for Maps < 8.16.0, or for every image with --ubi-only (none from 9.0 on),
             plus --container-suffix when not in UBI mode
    pull     <--container-registry R>/<image><suffix>:<stack version>

so with ``--container-registry R`` it pulls ``R/elasticsearch/elasticsearch:V`` and with
``--container-repository P`` ``R/P/elasticsearch:V``. The Package Registry image ignores
``--container-repository`` and uses ``lite-V`` tags. Elastic Agent images moved from
``beats/elastic-agent`` to ``elastic-agent/elastic-agent`` with 9.0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..._common.errors import UserError
from ..._common.version import Version
from ..._oci import reference as _ref
from ..._oci.errors import InvalidReference

DEFAULT_REGISTRY = "docker.elastic.co"
OPERATOR_IMAGE = "eck/eck-operator"
DIAGNOSTICS_IMAGE = "eck-dev/support-diagnostics"
DIAGNOSTICS_REPOSITORY = DEFAULT_REGISTRY + "/" + DIAGNOSTICS_IMAGE
UBI_SUFFIX = "-ubi"
OLD_UBI_SUFFIX = "-ubi8"

# kind -> (apiVersion, default image path, pod template locations under spec)
KINDS: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "Elasticsearch": ("elasticsearch.k8s.elastic.co/v1", "elasticsearch/elasticsearch", ("nodeSets[]",)),
    "Kibana": ("kibana.k8s.elastic.co/v1", "kibana/kibana", ("",)),
    "ApmServer": ("apm.k8s.elastic.co/v1", "apm/apm-server", ("",)),
    "EnterpriseSearch": ("enterprisesearch.k8s.elastic.co/v1", "enterprise-search/enterprise-search", ("",)),
    "Beat": ("beat.k8s.elastic.co/v1beta1", None, ("daemonSet", "deployment")),
    "Agent": ("agent.k8s.elastic.co/v1alpha1", None, ("daemonSet", "deployment", "statefulSet")),
    "ElasticMapsServer": ("maps.k8s.elastic.co/v1alpha1", "elastic-maps-service/elastic-maps-server", ("",)),
    "Logstash": ("logstash.k8s.elastic.co/v1alpha1", "logstash/logstash", ("",)),
    "PackageRegistry": ("packageregistry.k8s.elastic.co/v1alpha1", "package-registry/distribution", ("",)),
}
PACKAGE_REGISTRY_IMAGE = "package-registry/distribution"
#: Kinds whose image has no ``--container-suffix`` variant (``-wolfi``): the operator still appends
#: the suffix, so their resources need an explicit ``spec.image`` (ECK ``hardened-images.md``).
NO_SUFFIX_VARIANT = ("PackageRegistry", "ElasticMapsServer")
#: The apiVersion of ``PackageRegistry`` by the first ECK version using it. The CRD's group is
#: ``packageregistry.k8s.elastic.co`` in every release that has the kind (cloud-on-k8s v3.3.0 to
#: v3.5.0, ``pkg/apis/packageregistry/v1alpha1/groupversion_info.go``); the ECK 3.3 documentation
#: also spells it ``package-registry.k8s.elastic.co`` (:data:`PACKAGE_REGISTRY_DOC_GROUP`), which
#: no API server serves: resources written that way are accepted and given the group of the version.
PACKAGE_REGISTRY_API: tuple[tuple[str, str], ...] = (("3.3.0", "packageregistry.k8s.elastic.co/v1alpha1"),)
PACKAGE_REGISTRY_DOC_GROUP = "package-registry.k8s.elastic.co"
BEAT_TYPES = ("filebeat", "metricbeat", "heartbeat", "auditbeat", "journalbeat", "packetbeat")
_ALIASES = {
    "elasticsearch": "Elasticsearch", "es": "Elasticsearch",
    "kibana": "Kibana", "kb": "Kibana",
    "apmserver": "ApmServer", "apm": "ApmServer",
    "enterprisesearch": "EnterpriseSearch", "ent": "EnterpriseSearch",
    "beat": "Beat", "beats": "Beat",
    "agent": "Agent", "elasticagent": "Agent", "fleetserver": "Agent",
    "elasticmapsserver": "ElasticMapsServer", "maps": "ElasticMapsServer", "mapsserver": "ElasticMapsServer",
    "ems": "ElasticMapsServer",
    "logstash": "Logstash", "ls": "Logstash",
    "packageregistry": "PackageRegistry", "epr": "PackageRegistry", "elasticpackageregistry": "PackageRegistry",
}

#: ``(kind, beat type or None)``: what the operator picks an image for.
KindKey = tuple[str, "str | None"]


class ECKError(UserError, ValueError):
    """A setting, version or mirror map that does not work; names the kind and the image."""


def package_registry_api_version(eck_version: object = None) -> str:
    """The ``apiVersion`` of a ``PackageRegistry`` for *eck_version* (the newest without one)."""
    if eck_version is None or eck_version == "":
        return PACKAGE_REGISTRY_API[-1][1]
    version = parse_stack_version(str(eck_version).lstrip("v"))
    chosen = [api for first, api in PACKAGE_REGISTRY_API if version >= Version(first)]
    if not chosen:
        raise ECKError("ECK %s has no PackageRegistry resource (added in ECK %s)"
                       % (version, PACKAGE_REGISTRY_API[0][0]))
    return chosen[-1]


def parse_stack_version(text: object) -> Version:
    """A stack version as the operator compares them (semver)."""
    if isinstance(text, Version):
        return text
    version = Version.parse(str(text).strip()) if isinstance(text, (str, int, float)) else None
    if version is None:
        raise ECKError("%r is not a stack version (MAJOR.MINOR.PATCH)" % (text,))
    return version


def canonical_kind(name: object) -> KindKey:
    """``(kind, beat type or None)`` for a user's kind name (``"Elasticsearch"``, ``"apm"``,
    ``"filebeat"``, ``"Beat:metricbeat"``, ``"Elastic Agent"`` ...)."""
    text = str(name).strip()
    beat_type = None
    if ":" in text:
        text, beat_type = (part.strip() for part in text.split(":", 1))
    squashed = re.sub(r"[\s_-]", "", text).lower()
    if squashed in BEAT_TYPES:
        return "Beat", squashed
    if squashed not in _ALIASES:
        raise ECKError(
            "unknown Elastic resource kind %r (one of %s, or a beat type: %s)"
            % (name, ", ".join(KINDS), ", ".join(BEAT_TYPES))
        )
    kind = _ALIASES[squashed]
    if kind == "Beat":
        if not beat_type:
            raise ECKError("name the beat type for %r, e.g. 'Beat:filebeat' or 'filebeat'" % (name,))
        if beat_type not in BEAT_TYPES:
            raise ECKError(
                "the operator has no default image for beat type %r (only %s); such Beats need "
                "spec.image" % (beat_type, ", ".join(BEAT_TYPES))
            )
    elif beat_type:
        raise ECKError("%r: only Beat takes a type" % (name,))
    return kind, beat_type


def kind_keys(kinds: Iterable[object] | None) -> list[KindKey]:
    """The distinct kinds of *kinds* (user names), in order; at least one."""
    out: list[KindKey] = []
    for item in kinds or ():
        key = canonical_kind(item)
        if key not in out:
            out.append(key)
    if not out:
        raise ECKError("name at least one kind of Elastic resource in use")
    return out


def label(kind: str, beat_type: str | None) -> str:
    """How plans name a kind: ``Elasticsearch``, ``Beat(filebeat)``."""
    return "%s(%s)" % (kind, beat_type) if beat_type else kind


def image_path(kind: str, version: Version | str, beat_type: str | None = None) -> str:
    """The operator's default image path (without registry, suffix and tag) for a kind."""
    version = parse_stack_version(version)
    if kind == "Beat":
        return "beats/%s" % beat_type
    if kind == "Agent":
        return "beats/elastic-agent" if version.major < 9 else "elastic-agent/elastic-agent"
    path = KINDS[kind][1]
    if path is None:  # only Beat and Agent have no fixed path
        raise AssertionError('bug: expected path is not None')
    return path


def _ubi_suffix(version: Version) -> str:
    if version.major == 7 and version < Version("7.17.16"):
        return OLD_UBI_SUFFIX
    if version.major == 8 and version < Version("8.12.0"):
        return OLD_UBI_SUFFIX
    return UBI_SUFFIX


def image_parts(kind: str, version: Version | str, beat_type: str | None = None,
                container_repository: str | None = None, container_suffix: str = "",
                ubi_only: bool = False) -> tuple[str, str]:
    """``(path, tag)`` of the image the operator pulls for a resource of *kind* without
    ``spec.image``: the path under ``--container-registry`` and the tag.

    The collection's ONE transcription of ``ImageRepository``, ``getUBISuffix``,
    ``isOlderMapsServerImg``, ``AgentImageFor`` and ``getPackageRegistryImage`` in ECK's
    ``pkg/controller/common/container/container.go`` (ECK 3.x): :func:`operator_image` and the
    Elastic image catalog ``_products.elastic_catalog`` (filter ``airgap.mirror.elastic_images``)
    both call it, so the list of images to mirror and the images the operator is verified to pull
    cannot drift apart.
    """
    version = parse_stack_version(version)
    if ubi_only and container_suffix:
        raise ECKError("ubi-only and container-suffix cannot be combined (the operator refuses to start)")
    suffix_setting = UBI_SUFFIX if ubi_only else (container_suffix or "")
    path = image_path(kind, version, beat_type)
    image = path
    if container_repository:
        image = "%s/%s" % (container_repository, path.split("/", 1)[1] if path.count("/") == 1 else path)
    use_ubi = suffix_setting == UBI_SUFFIX
    suffix = ""
    if use_ubi or (kind == "ElasticMapsServer" and version < Version("8.16.0")):
        suffix = _ubi_suffix(version)
    if use_ubi and version.major >= 9:
        suffix = ""
    if not use_ubi:
        suffix += suffix_setting
    if kind == "PackageRegistry":
        return _package_registry_parts(path, use_ubi, suffix, version)
    return image + suffix, str(version)


def _package_registry_parts(path: str, use_ubi: bool, suffix: str, version: Version) -> tuple[str, str]:
    # as getPackageRegistryImage: lite tags, UBI in the tag, fixed fallbacks for old UBI versions,
    # and no --container-repository
    if not use_ubi:
        return path + suffix, "lite-%s" % version
    if version < Version("8.19.8"):
        return path, "lite-8.19.8-ubi"
    if version.major == 9 and version.minor <= 1 and version < Version("9.1.8"):
        return path, "lite-9.1.8-ubi"
    if version.major == 9 and version.minor > 1 and version < Version("9.2.2"):
        return path, "lite-9.2.2-ubi"
    return path + suffix, "lite-%s-ubi" % version


def operator_image(kind: str, version: Version | str, beat_type: str | None = None,
                   container_registry: str = DEFAULT_REGISTRY, container_repository: str | None = None,
                   container_suffix: str = "", ubi_only: bool = False) -> str:
    """The image the operator pulls for a resource of *kind* without ``spec.image``:
    ``<container_registry>/<path>:<tag>`` of :func:`image_parts`."""
    path, tag = image_parts(kind, version, beat_type, container_repository=container_repository,
                            container_suffix=container_suffix, ubi_only=ubi_only)
    return "%s/%s:%s" % (container_registry, path, tag)


def operator_image_path(ubi_only: bool = False, fips: bool = False) -> str:
    """The operator's own image path, as the eck-operator chart names it:
    ``eck/eck-operator`` (+ ``-ubi`` with ``config.ubiOnly``) (+ ``-fips`` with ``image.fips``)."""
    return OPERATOR_IMAGE + ("-ubi" if ubi_only else "") + ("-fips" if fips else "")


def operator_own_image(eck_version: str, registry_repository: str = DEFAULT_REGISTRY + "/" + OPERATOR_IMAGE,
                       ubi_only: bool = False, fips: bool = False) -> str:
    """What the eck-operator chart runs: ``image.repository`` (+-ubi) (+-fips) ``:image.tag``."""
    suffixes = operator_image_path(ubi_only, fips)[len(OPERATOR_IMAGE):]
    return "%s%s:%s" % (registry_repository, suffixes, eck_version)


def check_source_registry(registry: str | None) -> str:
    """The registry the images are mirrored from, checked."""
    text = str(registry or DEFAULT_REGISTRY).strip().rstrip("/")
    try:
        _ref.parse("%s/%s:1" % (text, OPERATOR_IMAGE))
    except InvalidReference as exc:
        raise ECKError("source registry %r: %s" % (registry, exc)) from None
    return text


def required_sources(stack_version: str, kinds: Iterable[object], container_suffix: str = "",
                     ubi_only: bool = False, eck_version: str | None = None, fips: bool = False,
                     source_registry: str = DEFAULT_REGISTRY) -> list[dict[str, str]]:
    """The upstream images to mirror for *kinds* at *stack_version* (and the operator itself).

    *source_registry* is where they are mirrored from (``docker.elastic.co``, or a registry that
    holds them under the same paths). The kinds of :data:`NO_SUFFIX_VARIANT` are listed without
    *container_suffix*: their suffixed image does not exist, so their resources get ``spec.image``
    (see ``plan.explicit_images``)."""
    registry = check_source_registry(source_registry)
    out = []
    for kind, beat_type in kind_keys(kinds):
        suffix = "" if kind in NO_SUFFIX_VARIANT else container_suffix
        out.append({"kind": label(kind, beat_type),
                    "source": operator_image(kind, stack_version, beat_type, container_registry=registry,
                                             container_suffix=suffix, ubi_only=ubi_only)})
    if eck_version:
        out.append({"kind": "operator", "source": operator_own_image(
            eck_version, registry_repository=registry + "/" + OPERATOR_IMAGE, ubi_only=ubi_only, fips=fips)})
    return out
