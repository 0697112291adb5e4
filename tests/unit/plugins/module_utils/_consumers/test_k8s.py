import base64
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import k8s as D


@pytest.mark.parametrize("text, want", [
    ("plain", '"plain"'),
    ('q"b\\s', '"q\\"b\\\\s"'),
    ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
    ("\b\f\n\r\t\x01\x1f", '"\\b\\f\\n\\r\\t\\u0001\\u001f"'),
    ("\x7f", '"\x7f"'),
    ("\u2028\u2029", '"\\u2028\\u2029"'),
    ("é日本😀", '"é日本😀"'),
    ("ab\udcffcd", '"ab\\ufffdcd"'),
])
def test_go_json_string(text, want):
    assert D.go_json_string(text) == want


def test_dockerconfigjson_shape_and_auth():
    text = D.dockerconfigjson("mirror.example.com:8443", "user", "p:ss", email="a@b.c")
    assert text == ('{"auths":{"mirror.example.com:8443":{"username":"user","password":"p:ss",'
                    '"email":"a@b.c","auth":"dXNlcjpwOnNz"}}}')
    assert json.loads(text)["auths"]["mirror.example.com:8443"]["auth"] == base64.b64encode(b"user:p:ss").decode()
    assert '"email"' not in D.dockerconfigjson("m", "u", "p")


def test_several_registries_are_sorted_like_go_maps():
    text = D.dockerconfigjson("z.example", "u", "p", extra=[{"server": "a.example", "username": "v", "password": "q"}])
    assert list(json.loads(text)["auths"]) == ["a.example", "z.example"]
    with pytest.raises(D.KubernetesObjectError, match="listed twice"):
        D.dockerconfigjson("a", "u", "p", extra=[{"server": "a", "username": "u", "password": "p"}])


SECRET = "S3cr3t-Value"


@pytest.mark.parametrize("server, user, password, missing", [
    ("", "u", SECRET, "server"), ("s", "", SECRET, "username"), ("s", None, SECRET, "username"),
    ("s", "u", "", "password"),
])
def test_credentials_are_required_and_never_echoed(server, user, password, missing):
    with pytest.raises(D.KubernetesObjectError) as info:
        D.docker_registry_secret("pull", server, user, password)
    assert "non-empty registry %s" % missing in str(info.value) and "kubectl requires" in str(info.value)
    assert SECRET not in str(info.value)
    with pytest.raises(D.KubernetesObjectError) as info:
        D.docker_registry_secret("Bad_Name", "s", "u", SECRET)
    assert SECRET not in str(info.value)


def test_secret_object():
    secret = D.docker_registry_secret("mirror-pull", "m:5000", "u", "p", namespace="element-onprem")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    assert secret["metadata"] == {"name": "mirror-pull", "namespace": "element-onprem"}
    payload = base64.b64decode(secret["data"][".dockerconfigjson"]).decode()
    assert payload == D.dockerconfigjson("m:5000", "u", "p")


@pytest.mark.parametrize("name, ok", [
    ("a", True), ("mirror-pull", True), ("a.b-c.d", True), ("x" * 253, True),
    ("", False), ("Bad_Name", False), ("-a", False), ("a-", False), ("a..b", False), ("x" * 254, False),
    ("UPPER", False), ("a b", False),
])
def test_subdomain_names(name, ok):
    if ok:
        assert D.validate_subdomain(name) == name
    else:
        with pytest.raises(D.KubernetesObjectError, match="DNS-1123 subdomain|non-empty"):
            D.validate_subdomain(name)


@pytest.mark.parametrize("name, ok", [("elastic-system", True), ("a" * 63, True), ("a" * 64, False),
                                      ("a.b", False), ("A", False)])
def test_namespace_labels(name, ok):
    if ok:
        assert D.validate_label(name) == name
    else:
        with pytest.raises(D.KubernetesObjectError):
            D.validate_label(name)


def test_configmap_checks_keys_and_values():
    assert D.configmap("cm", {"a.yml": "x"}, namespace="ns")["data"] == {"a.yml": "x"}
    with pytest.raises(D.KubernetesObjectError, match="must be a string"):
        D.configmap("cm", {"a": 1})
    with pytest.raises(D.KubernetesObjectError, match="ConfigMap key"):
        D.configmap("cm", {"a/b": "x"})
