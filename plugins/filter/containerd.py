# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn mirror pairs into containerd and k3s/RKE2 registry configuration.

``containerd_hosts``: pairs -> ``{host[:port]: hosts.toml text}`` for ``/etc/containerd/certs.d``.
``k3s_registries_yaml``: pairs -> the text of k3s/RKE2 ``registries.yaml`` (mirrors, rewrites,
configs with TLS and auth).
Documentation: containerd_hosts.yml and k3s_registries_yaml.yml next to this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._consumers import containerd as ctrd
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


def _plain(value: Any) -> Any:
    """Jinja values (AnsibleUnsafeText and friends) as plain str/list/dict."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@reported
def containerd_hosts(pairs: list[Any] | None, ca_file: str = "", skip_verify: bool = False, client_cert: str = "",
                     client_key: str = "", mirror_registry_entry: bool = True) -> dict[str, str]:
    """``{host[:port]: hosts.toml text}`` for every source registry of *pairs* (and each mirror)."""
    return ctrd.containerd_hosts(_plain(pairs), ca_file=str(ca_file or ""), skip_verify=bool(skip_verify),
                                 client_cert=str(client_cert or ""), client_key=str(client_key or ""),
                                 mirror_registry_entry=bool(mirror_registry_entry))


@reported
def k3s_registries_yaml(pairs: list[Any] | None, ca_file: str = "", skip_verify: bool = False, cert_file: str = "",
                        key_file: str = "", username: str = "", password: str = "",
                        mirror_registry_entry: bool = True) -> str:
    """The text of k3s/RKE2 ``registries.yaml`` for *pairs*."""
    doc = ctrd.k3s_registries(_plain(pairs), ca_file=str(ca_file or ""), skip_verify=bool(skip_verify),
                              cert_file=str(cert_file or ""), key_file=str(key_file or ""),
                              username=str(username or ""), password=str(password or ""),
                              mirror_registry_entry=bool(mirror_registry_entry))
    body: str = yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)
    return ctrd.HEADER + "---\n" + body


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "containerd_hosts": containerd_hosts,
            "k3s_registries_yaml": k3s_registries_yaml,
        }
