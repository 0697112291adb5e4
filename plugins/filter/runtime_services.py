# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``service_actions``: which container runtime services the registry_mirror_host role reloads or
restarts, from which of its inputs changed on a host.

The inputs are ``dropin`` (the registries.conf.d drop-in), ``certs_d`` (CA files in
containers-certs.d), ``ca`` (the system trust) and ``auth`` (the pull secret). A rule per service
maps each input to ``reload`` or ``restart``; an input a service's rule does not name does not touch
that service; a service without a rule is restarted when anything changed. ``restart`` wins over
``reload``. Documentation: service_actions.yml next to this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

INPUTS = ("dropin", "certs_d", "ca", "auth", "policy")
ACTIONS = ("reload", "restart")


def _changed_inputs(changed: Mapping[str, Any] | None) -> list[str]:
    if changed is None:
        return []
    if not isinstance(changed, Mapping):
        raise UserError("expected a dict {input: changed} of the inputs %s, not %s"
                        % (", ".join(INPUTS), type(changed).__name__))
    unknown = sorted(str(key) for key in changed if key not in INPUTS)
    if unknown:
        raise UserError("unknown input %s (the inputs are %s)" % (", ".join(unknown), ", ".join(INPUTS)))
    return [name for name in INPUTS if changed.get(name)]


def _rules(rules: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    if rules is None:
        return {}
    if not isinstance(rules, Mapping):
        raise UserError("rules must be a dict {service: {input: reload | restart}}, not %s"
                        % type(rules).__name__)
    out: dict[str, dict[str, str]] = {}
    for service, rule in rules.items():
        if rule is None:
            rule = {}
        if not isinstance(rule, Mapping):
            raise UserError("rules[%s] must be a dict {input: reload | restart}, not %r" % (service, rule))
        for name, action in rule.items():
            if name not in INPUTS:
                raise UserError("rules[%s]: unknown input %s (the inputs are %s)"
                                % (service, name, ", ".join(INPUTS)))
            if action not in ACTIONS:
                raise UserError("rules[%s][%s] must be reload or restart, not %r" % (service, name, action))
        out[str(service)] = dict(rule)
    return out


@reported
def service_actions(changed: Mapping[str, Any] | None, services: Sequence[str] | None,
                    rules: Mapping[str, Any] | None = None,
                    present: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The services of *services* (in that order) that need an action because of *changed*.

    Each item: ``service``, ``action`` (``reload`` or ``restart``), ``inputs`` (the changed inputs
    that call for an action on this service, in the order of ``INPUTS``) and ``present`` (whether
    *service* is in *present*, the names of the host's services; true for all when *present* is
    None). A service nothing calls for is left out; with nothing changed the list is empty.
    """
    inputs = _changed_inputs(changed)
    checked = _rules(rules)
    if services is None:
        services = []
    if isinstance(services, str) or not isinstance(services, (list, tuple)):
        raise UserError("services must be a list of service names, not %r" % (services,))
    out: list[dict[str, Any]] = []
    for service in services:
        if not isinstance(service, str) or not service:
            raise UserError("services: %r is not a service name" % (service,))
        if any(item["service"] == service for item in out):
            continue
        rule = checked.get(service)
        why = [name for name in inputs if rule is None or name in rule]
        if not why:
            continue
        action = "restart" if rule is None or any(rule[name] == "restart" for name in why) else "reload"
        out.append({"service": service, "action": action, "inputs": why,
                    "present": present is None or service in present})
    return out


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"service_actions": service_actions}
