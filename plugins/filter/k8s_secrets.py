# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry pull secrets, exactly as ``kubectl create secret docker-registry`` writes them.

Call these only in tasks with ``no_log: true``: their results carry the credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import k8s as _k8s
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


# the messages of KubernetesObjectError never contain credential values
@reported
def docker_registry_secret(name: str, server: str, username: str, password: str, namespace: str | None = None,
                           email: str | None = None, labels: Mapping[str, str] | None = None,
                           annotations: Mapping[str, str] | None = None,
                           extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A ``kubernetes.io/dockerconfigjson`` Secret dict, ready for ``kubernetes.core.k8s``."""
    return _k8s.docker_registry_secret(
        name, server, username, password, email=email, namespace=namespace, labels=labels,
        annotations=annotations, extra=extra,
    )


@reported
def dockerconfigjson(server: str, username: str, password: str, email: str | None = None,
                     extra: list[dict[str, Any]] | None = None) -> str:
    """The ``.dockerconfigjson`` text (not base64-encoded)."""
    return _k8s.dockerconfigjson(server, username, password, email=email, extra=extra)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "docker_registry_secret": docker_registry_secret,
            "dockerconfigjson": dockerconfigjson,
        }
