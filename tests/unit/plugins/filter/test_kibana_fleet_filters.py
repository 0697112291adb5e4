"""Filters of plugins/filter/kibana_fleet.py: the Fleet settings of the kibana_fleet_registry role."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import kibana_fleet as F

URL = "http://epr.corp.net:8080"


def test_settings_in_order():
    assert F.kibana_fleet_settings(URL) == [{"key": "xpack.fleet.registryUrl", "value": URL, "state": "present"}]
    assert F.kibana_fleet_settings(URL, "http://proxy:3128", air_gapped="false") == [
        {"key": "xpack.fleet.registryUrl", "value": URL, "state": "present"},
        {"key": "xpack.fleet.registryProxyUrl", "value": "http://proxy:3128", "state": "present"},
        {"key": "xpack.fleet.isAirGapped", "value": False, "state": "present"}]
    assert F.kibana_fleet_settings(URL, remove_proxy="yes", air_gapped="")[1:] == [
        {"key": "xpack.fleet.registryProxyUrl", "value": None, "state": "absent"}]
    assert F.kibana_fleet_settings(URL, air_gapped=True)[1]["value"] is True
    with pytest.raises(AnsibleFilterError, match="kibana_fleet_settings: air_gapped must be a boolean"):
        F.kibana_fleet_settings(URL, air_gapped="maybe")


def test_eck_config_dotted_and_nested():
    edits = F.kibana_fleet_settings(URL, "http://proxy:3128", air_gapped=True)
    assert F.kibana_fleet_eck_config(edits) == {"xpack.fleet.registryUrl": URL,
                                                "xpack.fleet.registryProxyUrl": "http://proxy:3128",
                                                "xpack.fleet.isAirGapped": True}
    assert F.kibana_fleet_eck_config(edits, "nested") == {"xpack": {"fleet": {
        "registryUrl": URL, "registryProxyUrl": "http://proxy:3128", "isAirGapped": True}}}
    # a removal is not part of the patch
    assert F.kibana_fleet_eck_config(F.kibana_fleet_settings(URL, remove_proxy=True)) == {
        "xpack.fleet.registryUrl": URL}


@pytest.mark.parametrize("settings, style, message", [
    ([], "flat", "key_style must be dotted or nested"),
    ("x", "dotted", "expected the list"),
    ([{"key": "server.host", "value": "x"}], "dotted", "expected {key: xpack.fleet.*"),
    ([{"key": "xpack.fleet.registryUrl", "value": 5, "state": "present"}], "dotted",
     "xpack.fleet.registryUrl: a Fleet setting is a string or a boolean"),
])
def test_eck_config_refuses(settings, style, message):
    with pytest.raises(AnsibleFilterError, match="^kibana_fleet_eck_config: " + message.replace("*", r"\*")):
        F.kibana_fleet_eck_config(settings, style)


CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_eck_ca_configmap_and_pod_template_validate():
    from support import k8s

    out = F.kibana_fleet_eck_ca(CA, "kb", "elastic")
    path = "/usr/share/kibana/config/package-registry-ca/ca.crt"
    assert out["path"] == path
    assert out["configmap"]["metadata"]["name"] == "kb-package-registry-ca" and out["configmap"]["data"] == {
        "ca.crt": CA}
    container = out["pod_template"]["spec"]["containers"][0]
    assert container["name"] == "kibana" and container["env"] == [{"name": "NODE_EXTRA_CA_CERTS", "value": path}]
    assert out["pod_template"]["spec"]["volumes"] == [{"name": "package-registry-ca",
                                                       "configMap": {"name": "kb-package-registry-ca"}}]
    k8s.validate(out["configmap"])
    k8s.validate({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check", "namespace": "elastic"},
                  "template": out["pod_template"]})
    with pytest.raises(AnsibleFilterError, match="kibana_fleet_eck_ca: the package registry's CA must be PEM"):
        F.kibana_fleet_eck_ca("not a cert", "kb", "elastic")
    with pytest.raises(AnsibleFilterError, match="mount_dir must be an absolute path"):
        F.kibana_fleet_eck_ca(CA, "kb", "elastic", mount_dir="rel")
