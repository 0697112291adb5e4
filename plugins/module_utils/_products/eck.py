# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""ECK (Elastic Cloud on Kubernetes) in an air gap, driven by the mirror map.

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

The operator reads these settings from flags or from its config file ``eck.yaml`` (ConfigMap
``elastic-operator``, keys ``container-registry``, ``container-repository``, ``container-suffix``,
``ubi-only``, ``disable-telemetry``); the Helm chart ``eck-operator`` writes that file from
``config.containerRegistry``, ``config.containerRepository``, ``config.containerSuffix``,
``config.ubiOnly`` and ``telemetry.disabled``, and runs ``image.repository`` (+ ``-ubi`` with
``config.ubiOnly``, + ``-fips`` with ``image.fips``) ``:image.tag``.

:func:`plan` derives the settings from where the mirror map put the images, then **verifies**
that every image those settings make the operator pull (for the stack version and kinds in use)
is a destination in the mirror map, naming each one that is not.
"""

from __future__ import annotations

import copy
import re

from .._mirrormap import legacy as _mm
from .._oci import reference as _ref
from .._oci.errors import InvalidReference
from .._consumers import k8s as _k8s
from .._common import yamledit as _yamledit
from .ess import mirror_entries

DEFAULT_REGISTRY = "docker.elastic.co"
OPERATOR_IMAGE = "eck/eck-operator"
DIAGNOSTICS_IMAGE = "eck-dev/support-diagnostics"
DIAGNOSTICS_REPOSITORY = DEFAULT_REGISTRY + "/" + DIAGNOSTICS_IMAGE
OPERATOR_CONFIG_KEY = "eck.yaml"
OPERATOR_CONTAINER = "manager"
UBI_SUFFIX = "-ubi"
OLD_UBI_SUFFIX = "-ubi8"
MODES = ("auto", "registry", "repository", "image")

# kind -> (apiVersion, default image path, pod template locations under spec)
KINDS = {
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
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


class ECKError(ValueError):
    """A setting, version or mirror map that does not work; names the kind and the image."""


class Version:
    """A stack version, compared the way the operator compares them (semver)."""

    def __init__(self, text):
        match = _VERSION.match(str(text).strip())
        if not match:
            raise ECKError("%r is not a stack version (MAJOR.MINOR.PATCH)" % (text,))
        self.text = str(text).strip()
        self.major, self.minor, self.patch = (int(match.group(i)) for i in (1, 2, 3))
        self.pre = match.group(4)

    def key(self):
        return (self.major, self.minor, self.patch, self.pre is None, self.pre or "")

    def __lt__(self, other):
        return self.key() < (other.key() if isinstance(other, Version) else Version(other).key())

    def __str__(self):
        return self.text


def canonical_kind(name):
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


def image_path(kind, version, beat_type=None):
    """The operator's default image path (without registry, suffix and tag) for a kind."""
    version = version if isinstance(version, Version) else Version(version)
    if kind == "Beat":
        return "beats/%s" % beat_type
    if kind == "Agent":
        return "beats/elastic-agent" if version.major < 9 else "elastic-agent/elastic-agent"
    return KINDS[kind][1]


def _ubi_suffix(version):
    if version.major == 7 and version < Version("7.17.16"):
        return OLD_UBI_SUFFIX
    if version.major == 8 and version < Version("8.12.0"):
        return OLD_UBI_SUFFIX
    return UBI_SUFFIX


def image_parts(kind, version, beat_type=None, container_repository=None, container_suffix="", ubi_only=False):
    """``(path, tag)`` of the image the operator pulls for a resource of *kind* without
    ``spec.image``: the path under ``--container-registry`` and the tag.

    The collection's ONE transcription of ``ImageRepository``, ``getUBISuffix``,
    ``isOlderMapsServerImg``, ``AgentImageFor`` and ``getPackageRegistryImage`` in ECK's
    ``pkg/controller/common/container/container.go`` (ECK 3.x): :func:`operator_image` and the
    image-list reader ``_sources.elastic_image_records`` (filter ``airgap.mirror.elastic_images``)
    both call it, so the list of images to mirror and the images the operator is verified to pull
    cannot drift apart.
    """
    version = version if isinstance(version, Version) else Version(version)
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


def operator_image(kind, version, beat_type=None, container_registry=DEFAULT_REGISTRY,
                   container_repository=None, container_suffix="", ubi_only=False):
    """The image the operator pulls for a resource of *kind* without ``spec.image``:
    ``<container_registry>/<path>:<tag>`` of :func:`image_parts`."""
    path, tag = image_parts(kind, version, beat_type, container_repository=container_repository,
                            container_suffix=container_suffix, ubi_only=ubi_only)
    return "%s/%s:%s" % (container_registry, path, tag)


def _package_registry_parts(path, use_ubi, suffix, version):
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


def operator_image_path(ubi_only=False, fips=False):
    """The operator's own image path, as the eck-operator chart names it:
    ``eck/eck-operator`` (+ ``-ubi`` with ``config.ubiOnly``) (+ ``-fips`` with ``image.fips``)."""
    return OPERATOR_IMAGE + ("-ubi" if ubi_only else "") + ("-fips" if fips else "")


def operator_own_image(eck_version, registry_repository=DEFAULT_REGISTRY + "/" + OPERATOR_IMAGE,
                       ubi_only=False, fips=False):
    """What the eck-operator chart runs: ``image.repository`` (+-ubi) (+-fips) ``:image.tag``."""
    suffixes = operator_image_path(ubi_only, fips)[len(OPERATOR_IMAGE):]
    return "%s%s:%s" % (registry_repository, suffixes, eck_version)


def resource_kinds(resources):
    """The kinds whose default image the operator pulls for *resources* (those without
    ``spec.image``), as kind names :func:`plan` takes (``Beat:filebeat`` for a Beat)."""
    out = []
    for res in expand_lists(resources):
        kind = res.get("kind")
        spec = res.get("spec") or {}
        if kind not in KINDS:
            raise ECKError("%s: %r is not an Elastic resource kind the operator manages (%s)"
                           % (_resource_name(res), kind, ", ".join(KINDS)))
        if spec.get("image"):
            continue
        name = "%s:%s" % (kind, spec.get("type")) if kind == "Beat" else kind
        if name not in out:
            out.append(name)
    return out


def _resource_name(res):
    meta = res.get("metadata") or {}
    return "%s %s%s" % (res.get("kind", "?"), ("%s/" % meta["namespace"]) if meta.get("namespace") else "",
                        meta.get("name", "?"))


def _kinds(kinds):
    out, seen = [], set()
    for item in kinds or ():
        kind, beat_type = canonical_kind(item)
        if (kind, beat_type) not in seen:
            seen.add((kind, beat_type))
            out.append((kind, beat_type))
    if not out:
        raise ECKError("name at least one kind of Elastic resource in use")
    return out


def _label(kind, beat_type):
    return "%s(%s)" % (kind, beat_type) if beat_type else kind


def _source_registry(source_registry):
    text = str(source_registry or DEFAULT_REGISTRY).strip().rstrip("/")
    try:
        _ref.parse("%s/%s:1" % (text, OPERATOR_IMAGE))
    except InvalidReference as exc:
        raise ECKError("source registry %r: %s" % (source_registry, exc)) from None
    return text


def required_sources(stack_version, kinds, container_suffix="", ubi_only=False, eck_version=None, fips=False,
                     source_registry=DEFAULT_REGISTRY):
    """The upstream images to mirror for *kinds* at *stack_version* (and the operator itself).

    *source_registry* is where they are mirrored from (``docker.elastic.co``, or a registry that
    holds them under the same paths)."""
    registry = _source_registry(source_registry)
    out = []
    for kind, beat_type in _kinds(kinds):
        out.append({"kind": _label(kind, beat_type),
                    "source": operator_image(kind, stack_version, beat_type, container_registry=registry,
                                             container_suffix=container_suffix, ubi_only=ubi_only)})
    if eck_version:
        out.append({"kind": "operator", "source": operator_own_image(
            eck_version, registry_repository=registry + "/" + OPERATOR_IMAGE, ubi_only=ubi_only, fips=fips)})
    return out


class _Destinations:
    def __init__(self, entries):
        self.by_source = {}
        self.by_source_name = {}
        self.destinations = set()
        self.pinned = set()
        for entry in entries:
            src = _ref.parse(entry["source"])
            self.by_source_name.setdefault(src.name, []).append((src, entry))
            dest = _mm.destination_reference(entry)
            if dest is not None:
                self.destinations.add(str(dest.without_digest()))
                self.pinned.add("%s@%s" % (dest.name, entry["digest"]))

    def lookup(self, source_text):
        """The registry destination :class:`Reference` of a source ``name:tag`` (None if absent)."""
        src = _ref.parse(source_text)
        for cand, entry in self.by_source_name.get(src.name, []):
            if cand.tag == src.tag:
                dest = _mm.destination_reference(entry)
                if dest is None:
                    raise ECKError("%s is mirrored to an OCI layout (%s), not a registry"
                                   % (source_text, entry["destination"]))
                return dest
        return None

    def has(self, image_text):
        try:
            ref = _ref.parse(image_text)
        except InvalidReference:
            return False
        if ref.digest and "%s@%s" % (ref.name, ref.digest) not in self.pinned:
            return False
        return ref.tag is None or str(ref.without_digest()) in self.destinations

    def listing(self):
        """Every mirror image, as ``name:tag`` and ``name@digest`` (what a plan carries)."""
        return sorted(self.destinations | self.pinned)


def _derive_registry(path, tag, dest):
    """R such that R/<path>:<tag> is *dest*, or None."""
    if dest.tag != tag:
        return None
    name = "%s/%s" % (dest.registry, dest.repository)
    tail = "/" + path
    return name[:-len(tail)] if name.endswith(tail) and len(name) > len(tail) else None


def _derive_repository(path, tag, dest, kind):
    """(R, P) such that the operator's repository layout gives *dest*, or None."""
    if dest.tag != tag or kind == "PackageRegistry":
        return None
    last = path.rsplit("/", 1)[-1]
    parts = dest.repository.rsplit("/", 1)
    if len(parts) != 2 or parts[1] != last:
        return None
    return dest.registry, parts[0]


def plan(mirror_map, stack_version, kinds, eck_version=None, mode="auto", container_registry=None,
         container_repository=None, container_suffix="", ubi_only=False, fips=False, pull_secrets=(),
         disable_telemetry=True, on_missing="fail", source_registry=DEFAULT_REGISTRY, resources=()):
    """Work out the operator settings for the mirror and verify every image they lead to.

    Returns a dict with ``mode``, ``container_registry``, ``container_repository``, ``images``
    (per kind: ``source``, ``pull`` = what the operator will pull, ``in_mirror``), ``operator``
    (``repository``, ``tag``, ``image``) when *eck_version* is given, ``missing`` (one message per
    image that is not in the mirror map), ``helm_values``, ``operator_config`` (``eck.yaml`` keys)
    and ``resource_images`` (kind label -> mirror image, for ``spec.image``).

    *source_registry* is the registry the images were mirrored from (the ``source`` of the mirror
    map entries): ``docker.elastic.co``, or one that holds the images under the same paths.
    The kinds of *resources* (Elastic resources without ``spec.image``) are added to *kinds*.
    The plan also carries every mirror image (``mirror_images``), so that
    :func:`resource_with_mirror` can verify what a resource will pull.
    """
    if mode not in MODES:
        raise ECKError("mode must be one of %s, not %r" % (", ".join(MODES), mode))
    if on_missing not in ("fail", "warn"):
        raise ECKError("on_missing must be fail or warn")
    version = Version(stack_version)
    index = _Destinations(mirror_entries(mirror_map))
    kind_list = _kinds(list(kinds or ()) + resource_kinds(resources or ()))
    src_registry = _source_registry(source_registry)
    parts = {(kind, beat_type): image_parts(kind, version, beat_type, container_suffix=container_suffix,
                                            ubi_only=ubi_only)
             for kind, beat_type in kind_list}
    sources = [(kind, beat_type, "%s/%s:%s" % ((src_registry,) + parts[(kind, beat_type)]))
               for kind, beat_type in kind_list]
    found = {}
    for kind, beat_type, source in sources:
        dest = index.lookup(source)
        if dest is not None:
            found[(kind, beat_type)] = dest

    registry, repository = container_registry, container_repository
    if mode == "image":
        chosen, registry, repository = "image", None, None
    elif registry is not None or repository is not None:
        chosen = "repository" if repository else "registry"
        if not registry:
            raise ECKError("container_repository needs container_registry as well")
    else:
        chosen = None
        if mode in ("auto", "registry"):
            candidates = {_derive_registry(*parts[(k, b)], found[(k, b)]) for k, b, _src in sources
                          if (k, b) in found}
            if len(candidates) == 1 and None not in candidates:
                registry, chosen = candidates.pop(), "registry"
            elif mode == "registry":
                raise ECKError(_layout_message("--container-registry", sources, found))
        if chosen is None and mode in ("auto", "repository"):
            pairs = {_derive_repository(*parts[(k, b)], found[(k, b)], k) for k, b, _src in sources
                     if (k, b) in found and k != "PackageRegistry"}
            if len(pairs) == 1 and None not in pairs:
                (registry, repository), chosen = pairs.pop(), "repository"
            elif mode == "repository":
                raise ECKError(_layout_message("--container-repository", sources, found))
        if chosen is None:
            if not found:
                raise ECKError(
                    "none of the images of %s %s is in the mirror map (looked for %s)"
                    % (", ".join(_label(k, b) for k, b in kind_list), version,
                       ", ".join(src for _k, _b, src in sources))
                )
            chosen = "image"

    images, missing, resource_images = [], [], {}
    for kind, beat_type, source in sources:
        label = _label(kind, beat_type)
        if chosen == "image":
            dest = found.get((kind, beat_type))
            pull = str(dest.without_digest()) if dest else None
        else:
            pull = operator_image(kind, version, beat_type, container_registry=registry,
                                  container_repository=repository, container_suffix=container_suffix,
                                  ubi_only=ubi_only)
        ok = pull is not None and index.has(pull)
        images.append({"kind": label, "source": source, "pull": pull, "in_mirror": ok})
        if ok:
            resource_images[label] = pull
        else:
            missing.append(
                "%s %s: %s is not in the mirror map%s" % (
                    label, version, pull or source,
                    "" if pull is None or (kind, beat_type) not in found else
                    " (the mirror map has %s at %s)" % (source, found[(kind, beat_type)])
                )
            )

    operator = None
    if eck_version:
        op_source = operator_own_image(eck_version, registry_repository=src_registry + "/" + OPERATOR_IMAGE,
                                       ubi_only=ubi_only, fips=fips)
        dest = index.lookup(op_source)
        if dest is None:
            missing.append("operator %s: %s is not in the mirror map" % (eck_version, op_source))
        else:
            strip = ("-ubi" if ubi_only else "") + ("-fips" if fips else "")
            name = "%s/%s" % (dest.registry, dest.repository)
            if strip and not name.endswith(strip):
                raise ECKError("the operator image %s was mirrored to %s, whose name does not end with "
                               "%s as the chart requires with ubiOnly/fips" % (op_source, dest, strip))
            operator = {"repository": name[:len(name) - len(strip)], "tag": dest.tag,
                        "image": str(dest.without_digest())}
    if missing and on_missing == "fail":
        raise ECKError("images the operator would pull are missing from the mirror: " + "; ".join(missing))

    secrets = [validate_secret_name(s) for s in pull_secrets or ()]
    registries = {_ref.parse(i["pull"]).registry for i in images if i["pull"]}
    if operator:
        registries.add(_ref.parse(operator["image"]).registry)
    return {
        "registries": sorted(registries),
        "mode": chosen,
        "stack_version": str(version),
        "container_registry": registry,
        "container_repository": repository,
        "images": images,
        "operator": operator,
        "missing": missing,
        "resource_images": resource_images,
        "pull_secrets": secrets,
        "container_suffix": container_suffix or "",
        "ubi_only": bool(ubi_only),
        "mirror_images": index.listing(),
        "helm_values": helm_values(chosen, registry, repository, operator, secrets, disable_telemetry,
                                   container_suffix, ubi_only, fips),
        "operator_config": operator_config(chosen, registry, repository, disable_telemetry),
    }


def validate_secret_name(name):
    try:
        return _k8s.validate_subdomain(name, "pull secret name")
    except _k8s.KubernetesObjectError as exc:
        raise ECKError(str(exc)) from None


def _layout_message(flag, sources, found):
    lines = ["%s -> %s" % (src, found[(k, b)]) for k, b, src in sources if (k, b) in found]
    return ("the mirror layout cannot be expressed with %s alone: %s; use mode=image (spec.image "
            "on each resource) or mirror with the matching mapping mode" % (flag, "; ".join(lines) or "no images found"))


def helm_values(mode, registry, repository, operator, pull_secrets=(), disable_telemetry=True,
                container_suffix="", ubi_only=False, fips=False):
    """Values for the ``eck-operator`` Helm chart (names as in the chart's values.yaml)."""
    values = {}
    if operator:
        values["image"] = {"repository": operator["repository"], "tag": operator["tag"]}
        if fips:
            values["image"]["fips"] = True
    config = {}
    if mode in ("registry", "repository"):
        config["containerRegistry"] = registry
    if mode == "repository":
        config["containerRepository"] = repository
    if container_suffix:
        config["containerSuffix"] = container_suffix
    if ubi_only:
        config["ubiOnly"] = True
    if config:
        values["config"] = config
    if disable_telemetry:
        values["telemetry"] = {"disabled": True}
    if pull_secrets:
        values["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    return values


def operator_config(mode, registry, repository, disable_telemetry=True):
    """``eck.yaml`` keys to set (value) or remove (None)."""
    config = {}
    if mode in ("registry", "repository"):
        config["container-registry"] = registry
        config["container-repository"] = repository if mode == "repository" else None
    if disable_telemetry:
        config["disable-telemetry"] = True
    return config


def edit_operator_config_text(text, settings, origin=OPERATOR_CONFIG_KEY):
    """Apply :func:`operator_config` settings to an ``eck.yaml`` text, keeping everything else."""
    for key, value in settings.items():
        try:
            text, _details = _yamledit.edit_text(
                text, [key], value, state="absent" if value is None else "present", origin=origin,
                dotted_keys=False,
            )
        except _yamledit.YAMLEditError as exc:
            raise ECKError(str(exc)) from None
    return text


_FLAG_FOR = {"container-registry": "--container-registry", "container-repository": "--container-repository",
             "disable-telemetry": "--disable-telemetry"}


def _edit_args(args, settings):
    out = list(args)
    for key, value in settings.items():
        flag = _FLAG_FOR[key]
        kept = [a for a in out if a != flag and not a.startswith(flag + "=")]
        if value is None:
            out = kept
            continue
        rendered = "%s=%s" % (flag, "true" if value is True else value)
        if len(kept) != len(out):
            # replace in place
            position = next(i for i, a in enumerate(out) if a == flag or a.startswith(flag + "="))
            out = kept[:position] + [rendered] + kept[position:]
        else:
            out = kept + [rendered]
    return out


def expand_lists(docs):
    """Objects of a manifest stream: ``v1/List`` documents are replaced by their items, empty
    documents dropped."""
    out = []
    for doc in docs or ():
        if not doc:
            continue
        if not isinstance(doc, dict):
            raise ECKError("a manifest document is a %s, not an object" % type(doc).__name__)
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend(expand_lists(doc["items"]))
        else:
            out.append(doc)
    return out


def patch_operator_manifests(docs, the_plan, name="elastic-operator"):
    """Point the operator's own manifests (``operator.yaml`` / a rendered chart) at the mirror.

    *docs* is the list of objects. Edits the ``eck.yaml`` of ConfigMap *name* (or, without one, the
    ``manager`` container's flags) and the image and pull secrets of StatefulSet *name*.
    Returns ``(new docs, [change descriptions])``; the input is not modified.
    """
    docs = copy.deepcopy(expand_lists(docs))
    settings = the_plan["operator_config"]
    changes = []
    configmaps = [d for d in docs if d.get("kind") == "ConfigMap" and d.get("metadata", {}).get("name") == name
                  and OPERATOR_CONFIG_KEY in (d.get("data") or {})]
    statefulsets = [d for d in docs if d.get("kind") == "StatefulSet" and d.get("metadata", {}).get("name") == name]
    if not statefulsets:
        raise ECKError("no StatefulSet %r in the operator manifests" % name)
    for cm in configmaps:
        before = cm["data"][OPERATOR_CONFIG_KEY]
        after = edit_operator_config_text(before, settings, origin="ConfigMap %s %s" % (name, OPERATOR_CONFIG_KEY))
        if after != before:
            cm["data"][OPERATOR_CONFIG_KEY] = after
            changes.append("ConfigMap %s: %s" % (name, ", ".join(
                "%s=%s" % (k, v) if v is not None else "-%s" % k for k, v in settings.items())))
    for sts in statefulsets:
        pod = sts.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
        managers = [c for c in pod.get("containers", []) if c.get("name") == OPERATOR_CONTAINER]
        if not managers:
            raise ECKError("StatefulSet %s has no %r container" % (name, OPERATOR_CONTAINER))
        for container in managers:
            if the_plan.get("operator") and container.get("image") != the_plan["operator"]["image"]:
                changes.append("StatefulSet %s: image %s -> %s" % (name, container.get("image"),
                                                                   the_plan["operator"]["image"]))
                container["image"] = the_plan["operator"]["image"]
            if not configmaps:
                args = _edit_args(container.get("args", []), settings)
                if args != container.get("args", []):
                    container["args"] = args
                    changes.append("StatefulSet %s: args %s" % (name, " ".join(args)))
        if _merge_pull_secrets(pod, the_plan.get("pull_secrets") or ()):
            changes.append("StatefulSet %s: imagePullSecrets %s" % (name, ", ".join(the_plan["pull_secrets"])))
    return docs, changes


def _merge_pull_secrets(pod_spec, secrets):
    existing = pod_spec.get("imagePullSecrets") or []
    names = {s.get("name") for s in existing}
    added = [{"name": s} for s in secrets if s not in names]
    if added:
        pod_spec["imagePullSecrets"] = existing + added
    return bool(added)


def _pod_templates(resource, kind):
    spec = resource.setdefault("spec", {})
    locations = KINDS[kind][2]
    templates = []
    for location in locations:
        if location == "":
            templates.append(spec.setdefault("podTemplate", {}))
        elif location.endswith("[]"):
            for item in spec.get(location[:-2]) or []:
                templates.append(item.setdefault("podTemplate", {}))
        elif isinstance(spec.get(location), dict):
            templates.append(spec[location].setdefault("podTemplate", {}))
    return templates


def resource_with_mirror(resource, the_plan, set_image="auto", pull_secrets=None):
    """A copy of an Elastic resource pointing at the mirror.

    ``spec.image`` is set with ``set_image=always`` (or ``auto`` when the plan's mode is
    ``image``), to the mirror image for the resource's kind and ``spec.version``; pull secrets go
    into every pod template of the kind (each ``nodeSets[].podTemplate`` of Elasticsearch,
    ``daemonSet``/``deployment``/``statefulSet`` ``.podTemplate`` of Beats and Agents,
    ``spec.podTemplate`` otherwise), merged by name.
    """
    if set_image not in ("auto", "always", "never"):
        raise ECKError("set_image must be auto, always or never")
    res = copy.deepcopy(resource)
    kind = res.get("kind")
    if kind not in KINDS:
        raise ECKError("%r is not an Elastic resource kind the operator manages (%s)" % (kind, ", ".join(KINDS)))
    name = res.get("metadata", {}).get("name", "?")
    api_version = KINDS[kind][0]
    group = api_version.split("/")[0]
    if res.get("apiVersion", api_version).split("/")[0] != group:
        raise ECKError("%s %s: apiVersion %s is not in group %s" % (kind, name, res.get("apiVersion"), group))
    res.setdefault("apiVersion", api_version)
    spec = res.setdefault("spec", {})
    want_image = set_image == "always" or (set_image == "auto" and the_plan["mode"] == "image")
    if want_image:
        version = spec.get("version")
        if not version:
            raise ECKError("%s %s: spec.version is required to choose the image" % (kind, name))
        if str(version) != the_plan["stack_version"]:
            raise ECKError("%s %s: spec.version %s differs from the planned stack version %s"
                           % (kind, name, version, the_plan["stack_version"]))
        label = kind
        if kind == "Beat":
            beat_type = spec.get("type")
            if beat_type not in BEAT_TYPES:
                raise ECKError("Beat %s: type %r has no default image; set spec.image yourself" % (name, beat_type))
            label = _label(kind, beat_type)
        if label not in the_plan["resource_images"]:
            raise ECKError("%s %s: no mirror image for %s %s in the plan (add the kind to the plan)"
                           % (kind, name, label, version))
        spec["image"] = the_plan["resource_images"][label]
    secrets = the_plan.get("pull_secrets", []) if pull_secrets is None else [validate_secret_name(s) for s in pull_secrets]
    if secrets:
        templates = _pod_templates(res, kind)
        if not templates:
            raise ECKError("%s %s: no pod template to put imagePullSecrets in (%s)"
                           % (kind, name, ", ".join(KINDS[kind][2])))
        for template in templates:
            _merge_pull_secrets(template.setdefault("spec", {}), secrets)
    return res


def resource_pull(resource, the_plan):
    """The image the operator will pull for *resource* as it stands: its ``spec.image``, or the
    default image of its kind and ``spec.version`` under the plan's registry settings (in image
    mode there are none, so that is the image on ``docker.elastic.co``)."""
    kind = resource.get("kind")
    spec = resource.get("spec") or {}
    if kind not in KINDS:
        raise ECKError("%s: not an Elastic resource kind the operator manages" % _resource_name(resource))
    if spec.get("image"):
        return str(spec["image"])
    if not spec.get("version"):
        raise ECKError("%s: has neither spec.image nor spec.version" % _resource_name(resource))
    beat_type = None
    if kind == "Beat":
        beat_type = spec.get("type")
        if beat_type not in BEAT_TYPES:
            raise ECKError("%s: type %r has no default image; set spec.image" % (_resource_name(resource), beat_type))
    registry = the_plan.get("container_registry") if the_plan.get("mode") != "image" else None
    try:
        return operator_image(kind, spec["version"], beat_type, container_registry=registry or DEFAULT_REGISTRY,
                              container_repository=the_plan.get("container_repository") if registry else None,
                              container_suffix=the_plan.get("container_suffix") or "",
                              ubi_only=bool(the_plan.get("ubi_only")))
    except ECKError as exc:
        raise ECKError("%s: %s" % (_resource_name(resource), exc)) from None


def _listed(image, listing):
    try:
        ref = _ref.parse(image)
    except InvalidReference:
        return False
    if ref.digest and "%s@%s" % (ref.name, ref.digest) not in listing:
        return False
    return ref.tag is None or str(ref.without_digest()) in listing


def verify_resources(resources, the_plan):
    """``[{resource, image, in_mirror}]`` for each resource and the messages naming every one whose
    image is not in the mirror map the plan was made from: ``(pulls, missing)``."""
    listing = set(the_plan.get("mirror_images") or ())
    pulls, missing = [], []
    for res in expand_lists(resources):
        image = resource_pull(res, the_plan)
        ok = _listed(image, listing)
        pulls.append({"resource": _resource_name(res), "image": image, "in_mirror": ok})
        if not ok:
            missing.append("%s: %s is not in the mirror map" % (_resource_name(res), image))
    return pulls, missing


def diagnostic_image(mirror_map, version=None, repository=None, source_registry=DEFAULT_REGISTRY):
    """The ``--diagnostic-image`` for eck-diagnostics: the mirror location of the support
    diagnostics image (the one tagged *version*, or the only one mirrored), mirrored from
    *repository* (default ``<source_registry>/eck-dev/support-diagnostics``)."""
    entries = mirror_entries(mirror_map)
    if not repository:
        repository = "%s/%s" % (_source_registry(source_registry), DIAGNOSTICS_IMAGE)
    wanted = _ref.parse(repository).name
    found = []
    for entry in entries:
        src = _ref.parse(entry["source"])
        if src.name == wanted and (version is None or src.tag == str(version)):
            dest = _mm.destination_reference(entry)
            if dest is None:
                raise ECKError("%s is mirrored to an OCI layout (%s), not a registry" % (src, entry["destination"]))
            found.append((src, dest))
    if not found:
        raise ECKError("%s%s is not in the mirror map; run eck-diagnostics once without arguments to "
                       "see which image it uses, and mirror it" % (wanted, ":%s" % version if version else ""))
    if len({str(d) for _s, d in found}) > 1:
        raise ECKError("several %s images are mirrored (%s); give the version"
                       % (wanted, ", ".join(sorted(str(s) for s, _d in found))))
    return str(found[0][1].without_digest())
