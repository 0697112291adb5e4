"""plugins/filter/runtime_services.py: which services registry_mirror_host reloads or restarts."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import runtime_services as S

SERVICES = ["crio", "microshift"]
# the role's defaults (roles/registry_mirror_host/defaults/main.yml)
RULES = {"crio": {"dropin": "reload", "certs_d": "reload", "ca": "restart", "auth": "restart", "policy": "reload"},
         "microshift": {"ca": "restart"}}
BOTH = ["crio", "microshift", "ssh"]


def actions(**changed):
    return S.service_actions(changed, SERVICES, RULES, BOTH)


def test_nothing_changed_nothing_to_do():
    assert actions() == []
    assert actions(dropin=False, certs_d=False, ca=False, auth=False) == []
    assert S.service_actions(None, SERVICES, RULES, BOTH) == []


@pytest.mark.parametrize("changed", [{"dropin": True}, {"certs_d": True}, {"dropin": True, "certs_d": True},
                                     {"policy": True}, {"policy": True, "dropin": True}])
def test_only_the_registries_configuration_reloads_crio(changed):
    assert actions(**changed) == [{"service": "crio", "action": "reload", "inputs": sorted(changed, key=S.INPUTS.index),
                                   "present": True}]


def test_the_pull_secret_restarts_crio_not_microshift():
    assert actions(auth=True) == [{"service": "crio", "action": "restart", "inputs": ["auth"], "present": True}]
    assert actions(auth=True, dropin=True) == [
        {"service": "crio", "action": "restart", "inputs": ["dropin", "auth"], "present": True}]


def test_the_system_trust_restarts_crio_then_microshift():
    assert actions(ca=True, dropin=True) == [
        {"service": "crio", "action": "restart", "inputs": ["dropin", "ca"], "present": True},
        {"service": "microshift", "action": "restart", "inputs": ["ca"], "present": True}]


def test_order_presence_and_services_without_a_rule():
    # the order of the services list; a service without a rule restarts on any change
    assert S.service_actions({"dropin": True}, ["podman-registry", "crio", "crio"], RULES, ["crio"]) == [
        {"service": "podman-registry", "action": "restart", "inputs": ["dropin"], "present": False},
        {"service": "crio", "action": "reload", "inputs": ["dropin"], "present": True}]
    # present omitted: every service counts as present; no rules at all: restart everything
    assert S.service_actions({"certs_d": True}, ["crio"]) == [
        {"service": "crio", "action": "restart", "inputs": ["certs_d"], "present": True}]
    # an empty rule: the service never needs anything
    assert S.service_actions({"ca": True}, SERVICES, {"crio": {}, "microshift": None}) == []


@pytest.mark.parametrize("changed, services, rules, message", [
    ({"registries": True}, SERVICES, RULES, "unknown input registries"),
    (["dropin"], SERVICES, RULES, "expected a dict"),
    ({"dropin": True}, "crio", RULES, "services must be a list"),
    ({"dropin": True}, [""], RULES, "is not a service name"),
    ({"dropin": True}, SERVICES, ["crio"], "rules must be a dict"),
    ({"dropin": True}, SERVICES, {"crio": "reload"}, r"rules\[crio\] must be a dict"),
    ({"dropin": True}, SERVICES, {"crio": {"drop-in": "reload"}}, r"rules\[crio\]: unknown input drop-in"),
    ({"dropin": True}, SERVICES, {"crio": {"dropin": "sighup"}}, r"rules\[crio\]\[dropin\] must be reload or restart"),
])
def test_bad_input_is_named(changed, services, rules, message):
    with pytest.raises(AnsibleFilterError, match="^service_actions: .*" + message):
        S.service_actions(changed, services, rules)
