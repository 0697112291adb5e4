"""Bundle and part names, and the ref names a bundle may carry."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.names import (
    check_name, check_ref_name, part_file_name)


def test_names():
    assert part_file_name("r1", 3, 12) == "r1.tar.0003"
    assert part_file_name("r1", 3, 123456) == "r1.tar.000003"
    for bad in ("", "../x", "a/b", ".hidden", "x y", "-x"):
        with pytest.raises(ValueError, match="bundle name"):
            check_name(bad)


@pytest.mark.parametrize("name", ["good", "1.0", "v1-rc--2", "quay.io/org/app:1.0", "quay.io/x:_foo",
                                  "docker.io/a__b/c:1", "localhost:5000/a/b@sha256:" + "a" * 64])
def test_ref_names_that_layouts_use_are_accepted(name):
    assert check_ref_name(name) == name
