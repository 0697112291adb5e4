# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja tests for Kubernetes object names: ``dns1123_subdomain`` (object names) and
``dns1123_label`` (namespaces), with the rules of ``_consumers/k8s.py``.
Documentation: a YAML file per test next to this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import k8s as _k8s


def dns1123_subdomain(name: Any) -> bool:
    """Whether *name* is a DNS-1123 subdomain (at most 253 characters)."""
    try:
        _k8s.validate_subdomain(name)
    except ValueError:
        return False
    return True


def dns1123_label(name: Any) -> bool:
    """Whether *name* is a DNS-1123 label (at most 63 characters)."""
    try:
        _k8s.validate_label(name)
    except ValueError:
        return False
    return True


class TestModule:
    def tests(self) -> dict[str, Callable[[Any], bool]]:
        return {"dns1123_subdomain": dns1123_subdomain, "dns1123_label": dns1123_label}
