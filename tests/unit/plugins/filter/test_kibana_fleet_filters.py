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


# The Fleet API answers below are written by hand from the documented schema of
# GET /api/fleet/agent_download_sources (https://www.elastic.co/docs/api/doc/kibana/v8/operation/operation-get-download-sources):
# {items: [{id, name, host, is_default, proxy_id}], page, perPage, total}. They are not recorded from a real Kibana.
FILES = "https://files.corp.net/downloads/"
ELASTIC_DEFAULT = {"id": "fleet-default-download-source", "name": "Elastic Artifacts", "is_default": True,
                   "host": "https://artifacts.elastic.co/downloads/", "proxy_id": None}


def answer(*items):
    return {"items": list(items), "page": 1, "perPage": 20, "total": len(items)}


def test_download_source_created_when_missing():
    plan = F.kibana_fleet_download_source(answer(ELASTIC_DEFAULT), "airgap.mirror", FILES)
    assert plan == {"action": "create", "method": "POST", "path": "/api/fleet/agent_download_sources",
                    "body": {"name": "airgap.mirror", "host": FILES, "is_default": True}, "current": None}


def test_download_source_unchanged_when_equal():
    ours = {"id": "6b1a", "name": "airgap.mirror", "host": FILES, "is_default": True, "proxy_id": None}
    plan = F.kibana_fleet_download_source(answer({**ELASTIC_DEFAULT, "is_default": False}, ours),
                                          "airgap.mirror", FILES, "yes")
    assert plan["action"] == "none" and plan["method"] is None and plan["current"] == ours


@pytest.mark.parametrize("change", [{"host": "https://old.corp.net/downloads/"}, {"is_default": False}])
def test_download_source_updated_by_id_when_different(change):
    ours = {"id": "6b1a", "name": "airgap.mirror", "host": FILES, "is_default": True, **change}
    plan = F.kibana_fleet_download_source(answer(ELASTIC_DEFAULT, ours), "airgap.mirror", FILES)
    assert plan["action"] == "update" and plan["method"] == "PUT"
    assert plan["path"] == "/api/fleet/agent_download_sources/6b1a"
    assert plan["body"] == {"name": "airgap.mirror", "host": FILES, "is_default": True}


def test_download_source_not_default_when_asked():
    ours = {"id": "6b1a", "name": "airgap.mirror", "host": FILES}  # is_default absent: false (documented default)
    assert F.kibana_fleet_download_source(answer(ours), "airgap.mirror", FILES, False)["action"] == "none"


@pytest.mark.parametrize("response, host, message", [
    (answer(), "files.corp.net/downloads", "host must be an http\\(s\\) URL"),
    (answer(), "https://", "host must be an http\\(s\\) URL"),
    ([], FILES, "expected the answer of GET /api/fleet/agent_download_sources"),
    ({**answer(ELASTIC_DEFAULT), "total": 21}, FILES, "returned 1 of 21 download sources"),
    (answer({"id": "a", "name": "airgap.mirror", "host": FILES}, {"id": "b", "name": "airgap.mirror", "host": FILES}),
     FILES, "2 Fleet download sources are named 'airgap.mirror' \\(ids a, b\\)"),
    (answer({"id": "p", "name": "airgap.mirror", "host": "https://x/", "is_preconfigured": True}), FILES,
     "is preconfigured in kibana.yml"),
    (answer({"id": "../x", "name": "airgap.mirror", "host": "https://x/"}), FILES, "has no usable id"),
])
def test_download_source_refusals(response, host, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F.kibana_fleet_download_source(response, "airgap.mirror", host)


def test_gpg_key_path_setting():
    assert F.kibana_fleet_settings(URL, gpg_key_path="/etc/kibana/fleet/key.asc")[-1] == {
        "key": "xpack.fleet.packageVerification.gpgKeyPath", "value": "/etc/kibana/fleet/key.asc",
        "state": "present"}
    with pytest.raises(AnsibleFilterError, match="gpg_key_path must be an absolute path"):
        F.kibana_fleet_settings(URL, gpg_key_path="key.asc")
