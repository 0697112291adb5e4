# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""ECK (Elastic Cloud on Kubernetes) in an air gap, driven by the mirror map.

:func:`plan` derives the operator settings from where the mirror map put the images, then
**verifies** that every image those settings make the operator pull (for the stack version and
kinds in use) is a destination in the mirror map, naming each one that is not.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..._common.version import Version
from ..._mirrormap import io as _mmio
from ..._oci import reference as _ref
from .images import (DEFAULT_REGISTRY, NO_SUFFIX_VARIANT, OPERATOR_IMAGE, ECKError, KindKey, check_source_registry,
                     image_parts, kind_keys, label, operator_image, operator_own_image, package_registry_api_version,
                     parse_stack_version)
from .mirror import MirrorIndex
from .operator import helm_values, operator_config
from .resources import resource_kinds, validate_secret_name

MODES = ("auto", "registry", "repository", "image")


@dataclasses.dataclass(frozen=True)
class PlanOptions:
    """What :func:`plan` is asked: the stack, the kinds in use and the operator settings wanted.

    *source_registry* is the registry the images were mirrored from (the ``source`` of the mirror
    map entries): ``docker.elastic.co``, or one that holds the images under the same paths. The
    kinds of *resources* (Elastic resources without ``spec.image``) are added to *kinds*.
    """

    stack_version: str
    kinds: tuple[Any, ...] = ()
    eck_version: str | None = None
    mode: str = "auto"
    container_registry: str | None = None
    container_repository: str | None = None
    container_suffix: str = ""
    ubi_only: bool = False
    fips: bool = False
    pull_secrets: tuple[Any, ...] = ()
    disable_telemetry: bool = True
    on_missing: str = "fail"
    source_registry: str = DEFAULT_REGISTRY
    resources: tuple[Any, ...] = ()

    def check(self) -> None:
        """Refuse a mode or on_missing value that does not exist."""
        if self.mode not in MODES:
            raise ECKError("mode must be one of %s, not %r" % (", ".join(MODES), self.mode))
        if self.on_missing not in ("fail", "warn"):
            raise ECKError("on_missing must be fail or warn")


@dataclasses.dataclass
class _Lookup:
    """The kinds asked for, their upstream images and where the mirror map put them."""

    version: Version
    kinds: list[KindKey]
    parts: dict[KindKey, tuple[str, str]]
    sources: list[tuple[str, str | None, str]]
    found: dict[KindKey, _ref.Reference]
    #: kinds without a suffixed variant whose unsuffixed image the map holds: (source, destination)
    unsuffixed: dict[KindKey, tuple[str, _ref.Reference]] = dataclasses.field(default_factory=dict)


def _derive_registry(path: str, tag: str, dest: _ref.Reference) -> str | None:
    """R such that R/<path>:<tag> is *dest*, or None."""
    if dest.tag != tag:
        return None
    name = "%s/%s" % (dest.registry, dest.repository)
    tail = "/" + path
    return name[:-len(tail)] if name.endswith(tail) and len(name) > len(tail) else None


def _derive_repository(path: str, tag: str, dest: _ref.Reference, kind: str) -> tuple[str, str] | None:
    """(R, P) such that the operator's repository layout gives *dest*, or None."""
    if dest.tag != tag or kind == "PackageRegistry":
        return None
    last = path.rsplit("/", 1)[-1]
    parts = dest.repository.rsplit("/", 1)
    if len(parts) != 2 or parts[1] != last:
        return None
    return dest.registry, parts[0]


def _layout_message(flag: str, looked: _Lookup) -> str:
    lines = ["%s -> %s" % (src, looked.found[(k, b)]) for k, b, src in looked.sources if (k, b) in looked.found]
    return ("the mirror layout cannot be expressed with %s alone: %s; use mode=image (spec.image "
            "on each resource) or mirror with the matching mapping mode"
            % (flag, "; ".join(lines) or "no images found"))


def _look_up(options: PlanOptions, index: MirrorIndex) -> _Lookup:
    version = parse_stack_version(options.stack_version)
    kinds = kind_keys(list(options.kinds) + resource_kinds(options.resources))
    src_registry = check_source_registry(options.source_registry)
    parts = {key: image_parts(key[0], version, key[1], container_suffix=options.container_suffix,
                              ubi_only=options.ubi_only)
             for key in kinds}
    sources = [(kind, beat_type, "%s/%s:%s" % ((src_registry,) + parts[(kind, beat_type)]))
               for kind, beat_type in kinds]
    found = {}
    unsuffixed = {}
    for kind, beat_type, source in sources:
        dest = index.lookup(source)
        if dest is not None:
            found[(kind, beat_type)] = dest
        elif kind in NO_SUFFIX_VARIANT and options.container_suffix:
            plain = "%s/%s:%s" % ((src_registry,) + image_parts(kind, version, beat_type))
            plain_dest = index.lookup(plain)
            if plain_dest is not None:
                unsuffixed[(kind, beat_type)] = (plain, plain_dest)
    return _Lookup(version, kinds, parts, sources, found, unsuffixed)


def _choose_mode(options: PlanOptions, looked: _Lookup) -> tuple[str, str | None, str | None]:
    """``(mode, container registry, container repository)`` for the operator."""
    registry, repository = options.container_registry, options.container_repository
    mode = options.mode
    if mode == "image":
        return "image", None, None
    if registry is not None or repository is not None:
        if not registry:
            raise ECKError("container_repository needs container_registry as well")
        return ("repository" if repository else "registry"), registry, repository
    found = looked.found
    if mode in ("auto", "registry"):
        candidates = {_derive_registry(*looked.parts[(k, b)], found[(k, b)]) for k, b, _src in looked.sources
                      if (k, b) in found}
        if len(candidates) == 1 and None not in candidates:
            return "registry", candidates.pop(), None
        if mode == "registry":
            raise ECKError(_layout_message("--container-registry", looked))
    if mode in ("auto", "repository"):
        pairs = {_derive_repository(*looked.parts[(k, b)], found[(k, b)], k) for k, b, _src in looked.sources
                 if (k, b) in found and k != "PackageRegistry"}
        if len(pairs) == 1 and None not in pairs:
            pair = pairs.pop()
            if pair is None:  # None was excluded above
                raise AssertionError('bug: expected pair is not None')
            return "repository", pair[0], pair[1]
        if mode == "repository":
            raise ECKError(_layout_message("--container-repository", looked))
    if not found and not looked.unsuffixed:
        raise ECKError(
            "none of the images of %s %s is in the mirror map (looked for %s)"
            % (", ".join(label(k, b) for k, b in looked.kinds), looked.version,
               ", ".join(src for _k, _b, src in looked.sources))
        )
    return "image", None, None


def _kind_images(options: PlanOptions, looked: _Lookup, index: MirrorIndex, chosen: str, registry: str | None,
                 repository: str | None
                 ) -> tuple[list[dict[str, Any]], list[str], dict[str, str], list[dict[str, str]]]:
    """``(images, missing messages, resource_images, explicit images)`` of the kinds asked for."""
    images, missing, resource_images = [], [], {}
    explicit: list[dict[str, str]] = []
    for kind, beat_type, source in looked.sources:
        kind_label = label(kind, beat_type)
        pull: str | None
        if chosen == "image":
            dest = looked.found.get((kind, beat_type))
            pull = str(dest.without_digest()) if dest else None
        else:
            pull = operator_image(kind, looked.version, beat_type, container_registry=registry or "",
                                  container_repository=repository, container_suffix=options.container_suffix,
                                  ubi_only=options.ubi_only)
        ok = pull is not None and index.has(pull)
        if not ok and (kind, beat_type) in looked.unsuffixed:
            # no suffixed variant (-wolfi): the resource gets spec.image, the unsuffixed mirror image
            plain, dest = looked.unsuffixed[(kind, beat_type)]
            pull = str(dest.without_digest())
            ok = True
            explicit.append({"kind": kind_label, "image": pull, "source": plain,
                             "reason": "the mirror map has no %s (no %s variant); spec.image is set to the "
                                       "mirror of %s" % (source, options.container_suffix, plain)})
            source = plain
        images.append({"kind": kind_label, "source": source, "pull": pull, "in_mirror": ok})
        if ok and pull is not None:
            resource_images[kind_label] = pull
        else:
            missing.append(
                "%s %s: %s is not in the mirror map%s" % (
                    kind_label, looked.version, pull or source,
                    "" if pull is None or (kind, beat_type) not in looked.found else
                    " (the mirror map has %s at %s)" % (source, looked.found[(kind, beat_type)])
                )
            )
    return images, missing, resource_images, explicit


def _operator(options: PlanOptions, index: MirrorIndex, missing: list[str]) -> dict[str, Any] | None:
    """Where the mirror holds the operator's own image (None, and a message, when it does not)."""
    if not options.eck_version:
        return None
    src_registry = check_source_registry(options.source_registry)
    op_source = operator_own_image(options.eck_version, registry_repository=src_registry + "/" + OPERATOR_IMAGE,
                                   ubi_only=options.ubi_only, fips=options.fips)
    dest = index.lookup(op_source)
    if dest is None:
        missing.append("operator %s: %s is not in the mirror map" % (options.eck_version, op_source))
        return None
    strip = ("-ubi" if options.ubi_only else "") + ("-fips" if options.fips else "")
    name = "%s/%s" % (dest.registry, dest.repository)
    if strip and not name.endswith(strip):
        raise ECKError("the operator image %s was mirrored to %s, whose name does not end with "
                       "%s as the chart requires with ubiOnly/fips" % (op_source, dest, strip))
    return {"repository": name[:len(name) - len(strip)], "tag": dest.tag,
            "image": str(dest.without_digest())}


def _package_registry_api(options: PlanOptions, looked: _Lookup) -> str | None:
    """The PackageRegistry apiVersion of the ECK version (None when it has none and none is used)."""
    try:
        return package_registry_api_version(options.eck_version or None)
    except ECKError:
        if any(kind == "PackageRegistry" for kind, _beat in looked.kinds):
            raise
        return None


def plan(mirror_map: Any, options: PlanOptions) -> dict[str, Any]:
    """Work out the operator settings for the mirror and verify every image they lead to.

    Returns a dict with ``mode``, ``container_registry``, ``container_repository``, ``images``
    (per kind: ``source``, ``pull`` = what the operator will pull, ``in_mirror``), ``operator``
    (``repository``, ``tag``, ``image``) when ``eck_version`` is given, ``missing`` (one message
    per image that is not in the mirror map), ``helm_values``, ``operator_config`` (``eck.yaml``
    keys), ``resource_images`` (kind label -> mirror image, for ``spec.image``),
    ``explicit_images`` (``kind``, ``image``, ``source``, ``reason``: the kinds whose resources must
    get ``spec.image`` whatever the mode, because ``container_suffix`` names a variant their image
    does not have and the map holds the unsuffixed image) and ``package_registry_api_version``.

    The plan also carries every mirror image (``mirror_images``), so that
    ``resources.resource_with_mirror`` can verify what a resource will pull.
    """
    options.check()
    index = MirrorIndex(_mmio.coerce(mirror_map))
    looked = _look_up(options, index)
    chosen, registry, repository = _choose_mode(options, looked)
    images, missing, resource_images, explicit = _kind_images(options, looked, index, chosen, registry, repository)
    operator = _operator(options, index, missing)
    if missing and options.on_missing == "fail":
        raise ECKError("images the operator would pull are missing from the mirror: " + "; ".join(missing))

    secrets = [validate_secret_name(s) for s in options.pull_secrets or ()]
    registries = {_ref.parse(i["pull"]).registry for i in images if i["pull"]}
    if operator:
        registries.add(_ref.parse(operator["image"]).registry)
    return {
        "registries": sorted(registries),
        "mode": chosen,
        "stack_version": str(looked.version),
        "container_registry": registry,
        "container_repository": repository,
        "images": images,
        "operator": operator,
        "missing": missing,
        "resource_images": resource_images,
        "explicit_images": explicit,
        "package_registry_api_version": _package_registry_api(options, looked),
        "pull_secrets": secrets,
        "container_suffix": options.container_suffix or "",
        "ubi_only": bool(options.ubi_only),
        "mirror_images": index.listing(),
        "helm_values": helm_values(chosen, registry, repository, operator, secrets, options.disable_telemetry,
                                   options.container_suffix, options.ubi_only, options.fips),
        "operator_config": operator_config(chosen, registry, repository, options.disable_telemetry),
    }
