"""The filters' and lookups' one error path (plugins/plugin_utils/_errors.py)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError, AnsibleLookupError

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


@reported
def a_filter(value: str) -> str:
    if value == "bad":
        raise UserError("map.yml: images[2]: bad digest")
    if value == "bug":
        raise KeyError("bug")
    return value.upper()


@reported(error=AnsibleLookupError, name="image_list")
def a_lookup(value: str) -> str:
    raise UserError("release.json line 3: not JSON")


def test_a_user_error_becomes_an_ansible_error_named_after_the_plugin() -> None:
    assert a_filter("ok") == "OK"
    with pytest.raises(AnsibleFilterError, match=r"^a_filter: map.yml: images\[2\]: bad digest$"):
        a_filter("bad")
    with pytest.raises(AnsibleLookupError, match="^image_list: release.json line 3: not JSON$"):
        a_lookup("x")


def test_a_bug_keeps_its_own_exception() -> None:
    with pytest.raises(KeyError):
        a_filter("bug")
    assert a_filter.__name__ == "a_filter"


@reported(name="")
def a_filter_that_names_its_input(value: str) -> str:
    raise UserError("my_role_variable: %s is not a file" % value)


def test_an_empty_name_keeps_the_message_as_it_is() -> None:
    with pytest.raises(AnsibleFilterError, match="^my_role_variable: x is not a file$"):
        a_filter_that_names_its_input("x")
