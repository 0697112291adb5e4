import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._backends.argspec import parse_size, registry_argument_spec


@pytest.mark.parametrize("text, size", [
    ("64M", 64 << 20), ("64MiB", 64 << 20), ("1g", 1 << 30), ("1536K", 1536 << 10), ("1048576", 1 << 20),
    ("0.5G", 1 << 29),
])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "12X", "100"])
def test_parse_size_errors(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_secrets_are_no_log():
    spec = registry_argument_spec()["argument_spec"]
    assert spec["src_password"]["no_log"] and spec["dest_password"]["no_log"]
