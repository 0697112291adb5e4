# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ECK filters: operator settings for the mirror, verified against the mirror map."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.airgap.mirror.plugins.module_utils._products import eck as _eck
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.legacy import MirrorMapError

_display = Display()
_ERRORS = (_eck.ECKError, MirrorMapError)


def eck_plan(mirror_map, stack_version, kinds=None, eck_version=None, mode="auto", container_registry=None,
             container_repository=None, container_suffix="", ubi_only=False, fips=False, pull_secrets=None,
             disable_telemetry=True, on_missing="fail", source_registry=_eck.DEFAULT_REGISTRY, resources=None):
    """Operator settings (``helm_values``, ``operator_config``, ``resource_images`` ...) for the
    mirror, after checking every image they make the operator pull is in the mirror map."""
    try:
        result = _eck.plan(
            mirror_map, stack_version, kinds, eck_version=eck_version, mode=mode,
            container_registry=container_registry, container_repository=container_repository,
            container_suffix=container_suffix, ubi_only=ubi_only, fips=fips,
            pull_secrets=pull_secrets or (), disable_telemetry=disable_telemetry, on_missing=on_missing,
            source_registry=source_registry or _eck.DEFAULT_REGISTRY, resources=resources or (),
        )
    except _ERRORS as exc:
        raise AnsibleFilterError("eck_plan: %s" % exc) from None
    for message in result["missing"]:
        _display.warning("eck_plan: %s" % message)
    return result


def eck_operator_manifests(docs, plan, name="elastic-operator"):
    """The operator manifests (list of objects) with ConfigMap eck.yaml / flags, image and pull
    secrets pointed at the mirror."""
    try:
        return _eck.patch_operator_manifests(list(docs), plan, name=name)[0]
    except _ERRORS as exc:
        raise AnsibleFilterError("eck_operator_manifests: %s" % exc) from None


def eck_resource(resource, plan, set_image="auto", pull_secrets=None, on_missing="fail"):
    """An Elastic resource with ``spec.image`` (per *set_image*) and image pull secrets; given a
    list of resources (``v1/List`` documents expanded), the list of them. Then every resource's
    image (its ``spec.image``, or the default image the operator picks for it) is checked against
    the mirror map the plan was made from: each one missing is named, and fails the filter unless
    *on_missing* is ``warn``."""
    if on_missing not in ("fail", "warn"):
        raise AnsibleFilterError("eck_resource: on_missing must be fail or warn, not %r" % (on_missing,))
    try:
        many = isinstance(resource, (list, tuple))
        items = _eck.expand_lists(resource) if many else [resource]
        out = [_eck.resource_with_mirror(r, plan, set_image=set_image, pull_secrets=pull_secrets) for r in items]
        _pulls, missing = _eck.verify_resources(out, plan)
    except _ERRORS as exc:
        raise AnsibleFilterError("eck_resource: %s" % exc) from None
    if missing:
        message = "images these resources would pull are missing from the mirror: " + "; ".join(missing)
        if on_missing == "fail":
            raise AnsibleFilterError("eck_resource: " + message)
        _display.warning("eck_resource: " + message)
    return out if many else out[0]


def eck_required_images(stack_version, kinds, eck_version=None, container_suffix="", ubi_only=False, fips=False,
                        source_registry=_eck.DEFAULT_REGISTRY):
    """The upstream images to mirror for the kinds in use (list of ``{kind, source}``)."""
    try:
        return _eck.required_sources(stack_version, kinds, container_suffix=container_suffix,
                                     ubi_only=ubi_only, eck_version=eck_version, fips=fips,
                                     source_registry=source_registry or _eck.DEFAULT_REGISTRY)
    except _ERRORS as exc:
        raise AnsibleFilterError("eck_required_images: %s" % exc) from None


def eck_diagnostic_image(mirror_map, version=None, source_registry=_eck.DEFAULT_REGISTRY):
    """The value for ``eck-diagnostics --diagnostic-image``."""
    try:
        return _eck.diagnostic_image(mirror_map, version=version or None,
                                     source_registry=source_registry or _eck.DEFAULT_REGISTRY)
    except _ERRORS as exc:
        raise AnsibleFilterError("eck_diagnostic_image: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {
            "eck_plan": eck_plan,
            "eck_operator_manifests": eck_operator_manifests,
            "eck_resource": eck_resource,
            "eck_required_images": eck_required_images,
            "eck_diagnostic_image": eck_diagnostic_image,
        }
