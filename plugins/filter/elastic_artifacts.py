# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Elastic artifact catalog as a filter: a stack version and platforms -> the ``files`` of
``airgap.mirror.artifact_mirror`` (``plugins/module_utils/_products/elastic_artifacts.py``).
Documentation: ``elastic_artifacts.yml`` next to this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._products import elastic_artifacts as _catalog
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


@reported(name="airgap.mirror.elastic_artifacts")
def elastic_artifacts(stack_version: Any, platforms: Any = None, include: Any = None, exclude: Any = None,
                      base_url: Any = _catalog.ARTIFACTS_BASE, endpoint_base_url: Any = _catalog.ENDPOINT_BASE,
                      endpoint_manifest_checksum: Any = None) -> list[dict[str, Any]]:
    return _catalog.elastic_artifact_files(
        stack_version, platforms if platforms is not None else ["linux/amd64"], include=include, exclude=exclude,
        base_url=base_url, endpoint_base_url=endpoint_base_url, endpoint_manifest_checksum=endpoint_manifest_checksum)


class FilterModule:
    """airgap.mirror Elastic artifact catalog."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"elastic_artifacts": elastic_artifacts}
