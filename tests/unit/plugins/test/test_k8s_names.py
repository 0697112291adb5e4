"""Jinja tests of plugins/test/k8s_names.py."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.test import k8s_names as T


@pytest.mark.parametrize("name, subdomain, label", [
    ("quickstart", True, True),
    ("kibana.elastic-system", True, False),
    ("a" * 63, True, True),
    ("a" * 64, True, False),
    ("a." * 126 + "a", True, False),
    ("a." * 126 + "ab", False, False),
    ("Quick_Start", False, False),
    ("-a", False, False),
    ("a-", False, False),
    ("", False, False),
    (None, False, False),
])
def test_names(name, subdomain, label):
    assert T.dns1123_subdomain(name) is subdomain
    assert T.dns1123_label(name) is label
    assert set(T.TestModule().tests()) == {"dns1123_subdomain", "dns1123_label"}
