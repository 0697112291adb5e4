# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The registry options of ``airgap.mirror.registry`` (doc fragment), built once.

Modules call :func:`registry_argument_spec` and merge its parts into their AnsibleModule, then
:func:`client_pool` turns the parameters into the engine's ClientPool.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine (httpx) is imported only by the modules that make a pool
    from .._engine.plan import ClientPool


def registry_argument_spec(source: bool = True) -> dict[str, Any]:
    """``dict(argument_spec=..., required_together=...)`` for the registry options; without
    *source*, only the mirror's (no ``src_username``/``src_password``: doc fragment
    ``airgap.mirror.registry`` without ``airgap.mirror.registry.source``)."""
    spec: dict[str, Any] = {
        "argument_spec": {
            "src_username": {"type": "str"},
            "src_password": {"type": "str", "no_log": True},
            "dest_username": {"type": "str"},
            "dest_password": {"type": "str", "no_log": True},
            "auth_file": {"type": "path"},
            "ca_path": {"type": "path"},
            "client_cert": {"type": "path"},
            "client_key": {"type": "path", "no_log": False},
            "insecure_registries": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 60},
            "retries": {"type": "int", "default": 5},
            "deadline": {"type": "float"},
        },
        "required_together": [["src_username", "src_password"], ["dest_username", "dest_password"],
                              ["client_cert", "client_key"]],
    }
    if not source:
        del spec["argument_spec"]["src_username"], spec["argument_spec"]["src_password"]
        spec["required_together"] = spec["required_together"][1:]
    return spec


def merge_spec(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge a module's own argument_spec/required_* lists into the shared registry spec."""
    out: dict[str, Any] = {"argument_spec": dict(base["argument_spec"])}
    out["argument_spec"].update(extra.pop("argument_spec", {}))
    for key in ("required_together", "mutually_exclusive", "required_one_of", "required_if"):
        values = list(base.get(key, [])) + list(extra.pop(key, []))
        if values:
            out[key] = values
    required_by = dict(base.get("required_by", {}), **extra.pop("required_by", {}))
    if required_by:
        out["required_by"] = required_by
    out.update(extra)
    return out


def client_pool(params: dict[str, Any], source_registries: Iterable[str] = (), dest_registry: str | None = None,
                max_connections: int = 16, upload_chunk_size: int | None = None,
                registry_limits: Any = None) -> ClientPool:
    """A ClientPool from the module parameters. Explicit credentials go to *dest_registry* and to
    every registry in *source_registries*. *registry_limits*: a parsed ``RegistryLimits``."""
    from .._engine.auth import CredentialStore
    from .._engine.plan import ClientPool, explicit_credentials
    from .._engine.http.options import ClientOptions
    from .._engine.http.retry import Deadline

    pairs: list[tuple[str | None, str | None, str | None]] = [
        (r, params.get("src_username"), params.get("src_password")) for r in source_registries]
    if dest_registry:
        pairs.append((dest_registry, params.get("dest_username"), params.get("dest_password")))
    store = CredentialStore(explicit=explicit_credentials(pairs), auth_file=params.get("auth_file"))
    sizes: dict[str, Any] = {}
    if upload_chunk_size:
        sizes = {"chunked_threshold": upload_chunk_size, "upload_chunk_size": upload_chunk_size}
    if registry_limits is not None:
        sizes["registry_limits"] = registry_limits
    options = ClientOptions.build(
        insecure_registries=params.get("insecure_registries") or (),
        credentials=store,
        ca_path=params.get("ca_path"),
        client_cert=params.get("client_cert"),
        client_key=params.get("client_key"),
        timeout=float(params.get("timeout") or 60),
        retries=params.get("retries") or 5,
        max_connections=max_connections,
        **sizes)
    return ClientPool(options, deadline=Deadline(params.get("deadline")))
