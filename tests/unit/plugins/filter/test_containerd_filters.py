import tomllib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import containerd as F
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import containerd as C

PAIRS = [{"source": "quay.io", "mirror": "mirror.test:5000/ns"}]


def test_containerd_hosts_filter():
    files = F.containerd_hosts(PAIRS, ca_file="/ca.crt")
    assert sorted(files) == ["mirror.test:5000", "quay.io"]
    assert tomllib.loads(files["quay.io"])["host"]["https://mirror.test:5000/v2/ns"]["ca"] == "/ca.crt"


def test_k3s_registries_yaml_filter_text():
    text = F.k3s_registries_yaml(PAIRS, ca_file="/ca.crt", username="u", password="secret")
    assert text.startswith(C.HEADER + "---\n")
    assert yaml.safe_load(text) == C.k3s_registries(PAIRS, ca_file="/ca.crt", username="u", password="secret")


def test_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="pairs"):
        F.containerd_hosts("quay.io")
    with pytest.raises(AnsibleFilterError, match="password"):
        F.k3s_registries_yaml(PAIRS, username="u")
