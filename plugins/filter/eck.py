# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ECK filters: operator settings for the mirror, verified against the mirror map."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import diagnostics as _diagnostics
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as _images
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import operator as _operator
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import package_registry as _epr
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import plan as _plan
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import resources as _resources
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

_display = Display()


@reported
def eck_plan(mirror_map: Any, stack_version: str, kinds: Any = None, eck_version: str | None = None,
             mode: str = "auto", container_registry: str | None = None, container_repository: str | None = None,
             container_suffix: str = "", ubi_only: bool = False, fips: bool = False, pull_secrets: Any = None,
             disable_telemetry: bool = True, on_missing: str = "fail",
             source_registry: str = _images.DEFAULT_REGISTRY, resources: Any = None) -> dict[str, Any]:
    """Operator settings (``helm_values``, ``operator_config``, ``resource_images`` ...) for the
    mirror, after checking every image they make the operator pull is in the mirror map."""
    options = _plan.PlanOptions(
        stack_version=stack_version, kinds=tuple(kinds or ()), eck_version=eck_version, mode=mode,
        container_registry=container_registry, container_repository=container_repository,
        container_suffix=container_suffix, ubi_only=ubi_only, fips=fips,
        pull_secrets=tuple(pull_secrets or ()), disable_telemetry=disable_telemetry, on_missing=on_missing,
        source_registry=source_registry or _images.DEFAULT_REGISTRY, resources=tuple(resources or ()),
    )
    result = _plan.plan(mirror_map, options)
    for message in result["missing"]:
        _display.warning("eck_plan: %s" % message)
    return result


@reported
def eck_operator_manifests(docs: Any, plan: dict[str, Any], name: str = "elastic-operator") -> list[dict[str, Any]]:
    """The operator manifests (list of objects) with ConfigMap eck.yaml / flags, image and pull
    secrets pointed at the mirror."""
    return _operator.patch_operator_manifests(list(docs), plan, name=name)[0]


@reported
def eck_resource(resource: Any, plan: dict[str, Any], set_image: str = "auto", pull_secrets: Any = None,
                 on_missing: str = "fail") -> Any:
    """An Elastic resource with ``spec.image`` (per *set_image*) and image pull secrets; given a
    list of resources (``v1/List`` documents expanded), the list of them. Then every resource's
    image (its ``spec.image``, or the default image the operator picks for it) is checked against
    the mirror map the plan was made from: each one missing is named, and fails the filter unless
    *on_missing* is ``warn``."""
    if on_missing not in ("fail", "warn"):
        raise AnsibleFilterError("eck_resource: on_missing must be fail or warn, not %r" % (on_missing,))
    many = isinstance(resource, (list, tuple))
    items = _resources.expand_lists(resource) if many else [resource]
    out = [_resources.resource_with_mirror(r, plan, set_image=set_image, pull_secrets=pull_secrets) for r in items]
    _pulls, missing = _resources.verify_resources(out, plan)
    if missing:
        message = "images these resources would pull are missing from the mirror: " + "; ".join(missing)
        if on_missing == "fail":
            raise AnsibleFilterError("eck_resource: " + message)
        _display.warning("eck_resource: " + message)
    return out if many else out[0]


@reported
def eck_package_registry(plan: dict[str, Any], name: str = "package-registry", namespace: str | None = None,
                         count: int = 1, pull_secrets: Any = None) -> dict[str, Any]:
    """The ECK 3.3 ``PackageRegistry`` of the plan's stack version, pointed at the mirror (its
    apiVersion from the plan's ECK version; ``spec.image`` where the plan says it needs one)."""
    return _epr.package_registry(plan, name=name, namespace=namespace or None, count=int(count),
                                 pull_secrets=pull_secrets)


@reported
def eck_package_registry_ref(resources: Any, registry: Any, replace: bool = False) -> Any:
    """Kibana resources with ``spec.packageRegistryRef`` naming *registry* (a PackageRegistry
    resource or its name); other resources as they are. A list in, a list out."""
    many = isinstance(resources, (list, tuple))
    if isinstance(registry, str):
        registry = {"kind": "PackageRegistry", "metadata": {"name": registry}}
    out = _epr.link_kibanas(resources if many else [resources], registry, replace=bool(replace))
    return out if many else out[0]


@reported
def eck_required_images(stack_version: str, kinds: Any, eck_version: str | None = None, container_suffix: str = "",
                        ubi_only: bool = False, fips: bool = False,
                        source_registry: str = _images.DEFAULT_REGISTRY) -> list[dict[str, str]]:
    """The upstream images to mirror for the kinds in use (list of ``{kind, source}``)."""
    return _images.required_sources(stack_version, kinds, container_suffix=container_suffix,
                                    ubi_only=ubi_only, eck_version=eck_version, fips=fips,
                                    source_registry=source_registry or _images.DEFAULT_REGISTRY)


@reported
def eck_diagnostic_image(mirror_map: Any, version: str | None = None,
                         source_registry: str = _images.DEFAULT_REGISTRY) -> str:
    """The value for ``eck-diagnostics --diagnostic-image``."""
    return _diagnostics.diagnostic_image(mirror_map, version=version or None,
                                         source_registry=source_registry or _images.DEFAULT_REGISTRY)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "eck_plan": eck_plan,
            "eck_operator_manifests": eck_operator_manifests,
            "eck_resource": eck_resource,
            "eck_required_images": eck_required_images,
            "eck_package_registry": eck_package_registry,
            "eck_package_registry_ref": eck_package_registry_ref,
            "eck_diagnostic_image": eck_diagnostic_image,
        }
