# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The ECK operator's own settings for the mirror: Helm values, ``eck.yaml`` and its manifests.

The operator reads its settings from flags or from its config file ``eck.yaml`` (ConfigMap
``elastic-operator``, keys ``container-registry``, ``container-repository``, ``container-suffix``,
``ubi-only``, ``disable-telemetry``); the Helm chart ``eck-operator`` writes that file from
``config.containerRegistry``, ``config.containerRepository``, ``config.containerSuffix``,
``config.ubiOnly`` and ``telemetry.disabled``, and runs ``image.repository`` (+ ``-ubi`` with
``config.ubiOnly``, + ``-fips`` with ``image.fips``) ``:image.tag``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from ..._common import yamledit as _yamledit
from .images import ECKError
from .resources import expand_lists, merge_pull_secrets

OPERATOR_CONFIG_KEY = "eck.yaml"
OPERATOR_CONTAINER = "manager"


def helm_values(mode: str, registry: str | None, repository: str | None, operator: dict[str, Any] | None,
                pull_secrets: Iterable[str] = (), disable_telemetry: bool = True, container_suffix: str = "",
                ubi_only: bool = False, fips: bool = False) -> dict[str, Any]:
    """Values for the ``eck-operator`` Helm chart (names as in the chart's values.yaml)."""
    values: dict[str, Any] = {}
    if operator:
        values["image"] = {"repository": operator["repository"], "tag": operator["tag"]}
        if fips:
            values["image"]["fips"] = True
    config: dict[str, Any] = {}
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


def operator_config(mode: str, registry: str | None, repository: str | None,
                    disable_telemetry: bool = True) -> dict[str, Any]:
    """``eck.yaml`` keys to set (value) or remove (None)."""
    config: dict[str, Any] = {}
    if mode in ("registry", "repository"):
        config["container-registry"] = registry
        config["container-repository"] = repository if mode == "repository" else None
    if disable_telemetry:
        config["disable-telemetry"] = True
    return config


def edit_operator_config_text(text: str, settings: dict[str, Any], origin: str = OPERATOR_CONFIG_KEY) -> str:
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


def _edit_args(args: list[str], settings: dict[str, Any]) -> list[str]:
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


def _named(docs: list[dict[str, Any]], kind: str, name: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind and d.get("metadata", {}).get("name") == name]


def patch_operator_manifests(docs: Iterable[Any], the_plan: dict[str, Any], name: str = "elastic-operator"
                             ) -> tuple[list[dict[str, Any]], list[str]]:
    """Point the operator's own manifests (``operator.yaml`` / a rendered chart) at the mirror.

    *docs* is the list of objects. Edits the ``eck.yaml`` of ConfigMap *name* (or, without one, the
    ``manager`` container's flags) and the image and pull secrets of StatefulSet *name*.
    Returns ``(new docs, [change descriptions])``; the input is not modified.
    """
    objects = copy.deepcopy(expand_lists(docs))
    settings = the_plan["operator_config"]
    changes = []
    configmaps = [d for d in _named(objects, "ConfigMap", name) if OPERATOR_CONFIG_KEY in (d.get("data") or {})]
    statefulsets = _named(objects, "StatefulSet", name)
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
        if merge_pull_secrets(pod, the_plan.get("pull_secrets") or ()):
            changes.append("StatefulSet %s: imagePullSecrets %s" % (name, ", ".join(the_plan["pull_secrets"])))
    return objects, changes
