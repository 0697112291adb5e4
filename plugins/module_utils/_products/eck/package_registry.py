# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The ECK 3.3 ``PackageRegistry`` (Elastic Package Registry run by the operator) and Kibana's
``spec.packageRegistryRef``, rendered from a plan (the mirror map).

ECK documents the resource as (``deploy-manage/deploy/cloud-on-k8s/package-registry``)::

    apiVersion: packageregistry.k8s.elastic.co/v1alpha1
    kind: PackageRegistry
    spec: {version: 9.3.0, count: 1}
    ---
    kind: Kibana
    spec: {packageRegistryRef: {name: <PackageRegistry name>}}
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ..._consumers import k8s as _k8s
from .images import ECKError
from .resources import expand_lists, resource_with_mirror


def _name(value: Any, what: str) -> str:
    try:
        return str(_k8s.validate_subdomain(value, what))
    except _k8s.KubernetesObjectError as exc:
        raise ECKError(str(exc)) from None


def package_registry(the_plan: dict[str, Any], name: str = "package-registry", namespace: str | None = None,
                     count: int = 1, pull_secrets: Iterable[Any] | None = None) -> dict[str, Any]:
    """A ``PackageRegistry`` of the plan's stack version and ECK version (its apiVersion), pointed
    at the mirror like every resource (:func:`resources.resource_with_mirror`): ``spec.image`` in
    image mode, or when the plan names the kind in ``explicit_images`` (a ``container_suffix`` such
    as ``-wolfi`` that the package registry image does not have)."""
    if not the_plan.get("package_registry_api_version"):
        raise ECKError("the plan's ECK version has no PackageRegistry resource (ECK 3.3 or later)")
    if "PackageRegistry" not in (the_plan.get("resource_images") or {}) and the_plan.get("mode") == "image":
        raise ECKError("the plan was made without the PackageRegistry kind: add it to the kinds")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ECKError("count must be a whole number of replicas, not %r" % (count,))
    metadata: dict[str, Any] = {"name": _name(name, "PackageRegistry name")}
    if namespace:
        metadata["namespace"] = _name(namespace, "namespace")
    resource = {"apiVersion": the_plan["package_registry_api_version"], "kind": "PackageRegistry",
                "metadata": metadata, "spec": {"version": the_plan["stack_version"], "count": count}}
    return resource_with_mirror(resource, the_plan, pull_secrets=pull_secrets)


def kibana_with_registry(kibana: dict[str, Any], registry: dict[str, Any] | str,
                         registry_namespace: str | None = None) -> dict[str, Any]:
    """A copy of a Kibana resource whose ``spec.packageRegistryRef`` names *registry* (a
    PackageRegistry resource, or its name); the namespace is set when it differs from Kibana's."""
    if not isinstance(kibana, dict) or kibana.get("kind") != "Kibana":
        raise ECKError("packageRegistryRef goes on a Kibana resource, not %r" % (
            kibana.get("kind") if isinstance(kibana, dict) else kibana,))
    if isinstance(registry, dict):
        if registry.get("kind") != "PackageRegistry":
            raise ECKError("expected a PackageRegistry resource, not a %s" % registry.get("kind"))
        meta = registry.get("metadata") or {}
        name, namespace = meta.get("name"), registry_namespace or meta.get("namespace")
    else:
        name, namespace = registry, registry_namespace
    ref = {"name": _name(name, "PackageRegistry name")}
    own_namespace = (kibana.get("metadata") or {}).get("namespace")
    if namespace and namespace != own_namespace:
        ref["namespace"] = _name(namespace, "namespace")
    out = copy.deepcopy(kibana)
    out.setdefault("spec", {})["packageRegistryRef"] = ref
    return out


def link_kibanas(resources: Iterable[Any], registry: dict[str, Any], replace: bool = False) -> list[dict[str, Any]]:
    """*resources* with every Kibana linked to *registry* (those that already have a
    ``packageRegistryRef`` are kept unless *replace*)."""
    out = []
    for res in expand_lists(resources):
        if res.get("kind") == "Kibana" and (replace or not (res.get("spec") or {}).get("packageRegistryRef")):
            res = kibana_with_registry(res, registry)
        out.append(res)
    return out
