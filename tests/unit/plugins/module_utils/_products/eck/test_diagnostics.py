"""Unit tests of eck-diagnostics' image (_products/eck/diagnostics.py)."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import diagnostics as DIAG
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck import images as IMG
from support.eck import MIRROR, mirror_map, sources


def test_diagnostic_image():
    mm = mirror_map(sources() + ["docker.elastic.co/eck-dev/support-diagnostics:9.3.1"])
    assert DIAG.diagnostic_image(mm) == MIRROR + "/eck-dev/support-diagnostics:9.3.1"
    assert DIAG.diagnostic_image(mm, "9.3.1") == MIRROR + "/eck-dev/support-diagnostics:9.3.1"
    with pytest.raises(IMG.ECKError, match="support-diagnostics:8.1.4 is not in the mirror map"):
        DIAG.diagnostic_image(mm, "8.1.4")
    two = mirror_map(["docker.elastic.co/eck-dev/support-diagnostics:9.3.1",
                      "docker.elastic.co/eck-dev/support-diagnostics:9.2.0"])
    with pytest.raises(IMG.ECKError, match="give the version"):
        DIAG.diagnostic_image(two)
