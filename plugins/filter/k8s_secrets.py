# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry pull secrets, exactly as ``kubectl create secret docker-registry`` writes them.

Call these only in tasks with ``no_log: true``: their results carry the credentials.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import k8s as _dockerconfig


def docker_registry_secret(name, server, username, password, namespace=None, email=None, labels=None,
                           annotations=None, extra=None):
    """A ``kubernetes.io/dockerconfigjson`` Secret dict, ready for ``kubernetes.core.k8s``."""
    try:
        return _dockerconfig.docker_registry_secret(
            name, server, username, password, email=email, namespace=namespace, labels=labels,
            annotations=annotations, extra=extra,
        )
    except _dockerconfig.KubernetesObjectError as exc:
        # the messages never contain credential values
        raise AnsibleFilterError("docker_registry_secret: %s" % exc) from None


def dockerconfigjson(server, username, password, email=None, extra=None):
    """The ``.dockerconfigjson`` text (not base64-encoded)."""
    try:
        return _dockerconfig.dockerconfigjson(server, username, password, email=email, extra=extra)
    except _dockerconfig.KubernetesObjectError as exc:
        raise AnsibleFilterError("dockerconfigjson: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {
            "docker_registry_secret": docker_registry_secret,
            "dockerconfigjson": dockerconfigjson,
        }
