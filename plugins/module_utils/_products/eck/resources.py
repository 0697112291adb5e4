# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Elastic resources (Elasticsearch, Kibana, Beat...) and the mirror: which kinds they use, a copy
pointing at the mirror, and the image each one will pull, checked against a plan."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ..._consumers import k8s as _k8s
from .images import (BEAT_TYPES, DEFAULT_REGISTRY, KINDS, PACKAGE_REGISTRY_DOC_GROUP, ECKError, label,
                     operator_image)
from .mirror import listed


def expand_lists(docs: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Objects of a manifest stream: ``v1/List`` documents are replaced by their items, empty
    documents dropped."""
    out: list[dict[str, Any]] = []
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


def resource_name(res: dict[str, Any]) -> str:
    """``Kind namespace/name`` of a resource, for messages."""
    meta = res.get("metadata") or {}
    return "%s %s%s" % (res.get("kind", "?"), ("%s/" % meta["namespace"]) if meta.get("namespace") else "",
                        meta.get("name", "?"))


def resource_kinds(resources: Iterable[Any] | None) -> list[str]:
    """The kinds whose default image the operator pulls for *resources* (those without
    ``spec.image``), as kind names a plan takes (``Beat:filebeat`` for a Beat)."""
    out: list[str] = []
    for res in expand_lists(resources):
        kind = res.get("kind")
        spec = res.get("spec") or {}
        if kind not in KINDS:
            raise ECKError("%s: %r is not an Elastic resource kind the operator manages (%s)"
                           % (resource_name(res), kind, ", ".join(KINDS)))
        if spec.get("image"):
            continue
        name = "%s:%s" % (kind, spec.get("type")) if kind == "Beat" else str(kind)
        if name not in out:
            out.append(name)
    return out


def validate_secret_name(name: Any) -> str:
    """A pull secret name, checked as a DNS-1123 subdomain."""
    try:
        return str(_k8s.validate_subdomain(name, "pull secret name"))
    except _k8s.KubernetesObjectError as exc:
        raise ECKError(str(exc)) from None


def merge_pull_secrets(pod_spec: dict[str, Any], secrets: Iterable[str]) -> bool:
    """Add the *secrets* a pod spec lacks to its ``imagePullSecrets``; True when it changed."""
    existing = pod_spec.get("imagePullSecrets") or []
    names = {s.get("name") for s in existing}
    added = [{"name": s} for s in secrets if s not in names]
    if added:
        pod_spec["imagePullSecrets"] = existing + added
    return bool(added)


def pod_templates(resource: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The pod templates of a resource of *kind* (created empty where the kind has one)."""
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


def _mirror_image(kind: str, name: str, spec: dict[str, Any], the_plan: dict[str, Any]) -> str:
    version = spec.get("version")
    if not version:
        raise ECKError("%s %s: spec.version is required to choose the image" % (kind, name))
    if str(version) != the_plan["stack_version"]:
        raise ECKError("%s %s: spec.version %s differs from the planned stack version %s"
                       % (kind, name, version, the_plan["stack_version"]))
    kind_label = kind
    if kind == "Beat":
        beat_type = spec.get("type")
        if beat_type not in BEAT_TYPES:
            raise ECKError("Beat %s: type %r has no default image; set spec.image yourself" % (name, beat_type))
        kind_label = label(kind, beat_type)
    if kind_label not in the_plan["resource_images"]:
        raise ECKError("%s %s: no mirror image for %s %s in the plan (add the kind to the plan)"
                       % (kind, name, kind_label, version))
    return str(the_plan["resource_images"][kind_label])


def _set_api_version(res: dict[str, Any], kind: str, name: str, the_plan: dict[str, Any]) -> None:
    """Check the resource's API group; a PackageRegistry gets the apiVersion of the plan's ECK
    version (also when written with the group the ECK 3.3 documentation spells with a hyphen)."""
    api_version = KINDS[kind][0]
    group = api_version.split("/")[0]
    groups = (group, PACKAGE_REGISTRY_DOC_GROUP) if kind == "PackageRegistry" else (group,)
    if res.get("apiVersion", api_version).split("/")[0] not in groups:
        raise ECKError("%s %s: apiVersion %s is not in group %s" % (kind, name, res.get("apiVersion"), group))
    if kind == "PackageRegistry" and the_plan.get("package_registry_api_version"):
        res["apiVersion"] = the_plan["package_registry_api_version"]
    res.setdefault("apiVersion", api_version)


def resource_with_mirror(resource: dict[str, Any], the_plan: dict[str, Any], set_image: str = "auto",
                         pull_secrets: Iterable[Any] | None = None) -> dict[str, Any]:
    """A copy of an Elastic resource pointing at the mirror.

    ``spec.image`` is set with ``set_image=always`` (or ``auto`` when the plan's mode is
    ``image``, or the kind is one of the plan's ``explicit_images``), to the mirror image for the
    resource's kind and ``spec.version``; pull secrets go into every pod template of the kind
    (each ``nodeSets[].podTemplate`` of Elasticsearch, ``daemonSet``/``deployment``/
    ``statefulSet`` ``.podTemplate`` of Beats and Agents, ``spec.podTemplate`` otherwise), merged
    by name.
    """
    if set_image not in ("auto", "always", "never"):
        raise ECKError("set_image must be auto, always or never")
    res = copy.deepcopy(resource)
    kind = res.get("kind")
    if kind not in KINDS:
        raise ECKError("%r is not an Elastic resource kind the operator manages (%s)" % (kind, ", ".join(KINDS)))
    name = res.get("metadata", {}).get("name", "?")
    _set_api_version(res, str(kind), name, the_plan)
    spec = res.setdefault("spec", {})
    explicit = {item["kind"] for item in the_plan.get("explicit_images") or ()}
    if set_image == "always" or (set_image == "auto" and (the_plan["mode"] == "image" or kind in explicit)):
        spec["image"] = _mirror_image(kind, name, spec, the_plan)
    secrets = (the_plan.get("pull_secrets", []) if pull_secrets is None
               else [validate_secret_name(s) for s in pull_secrets])
    if secrets:
        templates = pod_templates(res, kind)
        if not templates:
            raise ECKError("%s %s: no pod template to put imagePullSecrets in (%s)"
                           % (kind, name, ", ".join(KINDS[kind][2])))
        for template in templates:
            merge_pull_secrets(template.setdefault("spec", {}), secrets)
    return res


def resource_pull(resource: dict[str, Any], the_plan: dict[str, Any]) -> str:
    """The image the operator will pull for *resource* as it stands: its ``spec.image``, or the
    default image of its kind and ``spec.version`` under the plan's registry settings (in image
    mode there are none, so that is the image on ``docker.elastic.co``)."""
    kind = resource.get("kind")
    spec = resource.get("spec") or {}
    if kind not in KINDS:
        raise ECKError("%s: not an Elastic resource kind the operator manages" % resource_name(resource))
    if spec.get("image"):
        return str(spec["image"])
    if not spec.get("version"):
        raise ECKError("%s: has neither spec.image nor spec.version" % resource_name(resource))
    beat_type = None
    if kind == "Beat":
        beat_type = spec.get("type")
        if beat_type not in BEAT_TYPES:
            raise ECKError("%s: type %r has no default image; set spec.image" % (resource_name(resource), beat_type))
    registry = the_plan.get("container_registry") if the_plan.get("mode") != "image" else None
    try:
        return operator_image(kind, spec["version"], beat_type, container_registry=registry or DEFAULT_REGISTRY,
                              container_repository=the_plan.get("container_repository") if registry else None,
                              container_suffix=the_plan.get("container_suffix") or "",
                              ubi_only=bool(the_plan.get("ubi_only")))
    except ECKError as exc:
        raise ECKError("%s: %s" % (resource_name(resource), exc)) from None


def verify_resources(resources: Iterable[Any], the_plan: dict[str, Any]
                     ) -> tuple[list[dict[str, Any]], list[str]]:
    """``[{resource, image, in_mirror}]`` for each resource and the messages naming every one whose
    image is not in the mirror map the plan was made from: ``(pulls, missing)``."""
    listing = set(the_plan.get("mirror_images") or ())
    pulls, missing = [], []
    for res in expand_lists(resources):
        image = resource_pull(res, the_plan)
        ok = listed(image, listing)
        pulls.append({"resource": resource_name(res), "image": image, "in_mirror": ok})
        if not ok:
            missing.append("%s: %s is not in the mirror map" % (resource_name(res), image))
    return pulls, missing
