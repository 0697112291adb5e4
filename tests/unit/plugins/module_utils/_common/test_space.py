"""_common.space and the free_space module's run(): the free space of a real file system, the
margin, and the refusal that names host, path, needed and free."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._backends import free_space as B
from ansible_collections.airgap.mirror.plugins.module_utils._common.space import (SPACE_MARGIN_MIN, NotEnoughSpace,
                                                                                  check_fits, free_bytes, space_margin)

MiB = 1024 * 1024


def test_margin_is_one_percent_at_least_one_mib():
    assert space_margin(0) == SPACE_MARGIN_MIN == MiB
    assert space_margin(50 * MiB) == MiB
    assert space_margin(1000 * MiB) == 10 * MiB


def test_free_bytes_of_a_missing_path_is_that_of_its_nearest_parent(tmp_path):
    assert free_bytes(str(tmp_path / "not" / "yet")) == shutil.disk_usage(tmp_path).free


def test_check_fits_counts_the_margin_and_names_where():
    assert check_fits(9 * MiB, 10 * MiB, "h:/p") == {"needed": 9 * MiB, "margin": MiB, "free": 10 * MiB, "fits": True}
    assert check_fits(0, 0, "h:/p") == {"needed": 0, "margin": 0, "free": 0, "fits": True}
    with pytest.raises(NotEnoughSpace) as err:
        check_fits(9 * MiB + 1, 10 * MiB, "mirror1:/srv/registry")
    assert str(err.value) == ("not enough free space at mirror1:/srv/registry: the push sends 10.0 MiB (9.0 MiB plus "
                              "a 1.0 MiB margin), the file system has 10.0 MiB free")
    assert err.value.result == {"needed": 9 * MiB + 1, "margin": MiB, "free": 10 * MiB, "fits": False}
    with pytest.raises(ValueError):
        check_fits(-1, 10, "h:/p")


def test_module_run_reports_and_refuses(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    out = B.run({"path": str(tmp_path), "bytes": "1M"})
    assert out["changed"] is False and out["host"] == socket.gethostname() and out["path"] == str(tmp_path)
    assert out["needed"] == MiB and out["margin"] == MiB and out["fits"]
    assert abs(out["free"] - free) < 64 * MiB  # the same file system, read a moment later
    assert B.run({"path": str(tmp_path), "bytes": 0})["needed"] == 0
    with pytest.raises(NotEnoughSpace) as err:
        B.run({"path": str(tmp_path), "bytes": free * 2})
    assert err.value.result["host"] == socket.gethostname() and err.value.result["path"] == str(tmp_path)
    assert not err.value.result["fits"]
    assert "%s:%s" % (socket.gethostname(), tmp_path) in str(err.value)


@pytest.mark.parametrize("params, message", [
    ({"path": "relative/dir", "bytes": 1}, "is not an absolute path"),
    ({"path": os.sep, "bytes": "lots"}, "bytes: 'lots' is not a size"),
    ({"path": os.sep, "bytes": -5}, "bytes must be at least"),
])
def test_module_run_bad_input(params, message):
    with pytest.raises(ValueError, match=message):
        B.run(params)
