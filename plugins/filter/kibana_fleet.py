# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the airgap.mirror.kibana_fleet_registry role.

``kibana_fleet_settings``: the role's variables -> the Fleet settings to edit, in order
(``[{key, value, state}]``). ``kibana_fleet_eck_config``: those edits -> the ``spec.config`` of an
ECK Kibana resource, with dotted or nested keys. ``kibana_fleet_eck_ca``: the private CA of the
package registry for an ECK Kibana - a ConfigMap and the pod template that mounts it and sets
``NODE_EXTRA_CA_CERTS``. ``kibana_fleet_download_source``: a Fleet API answer (``GET
/api/fleet/agent_download_sources``) and the wanted agent binary download source -> what to send
(nothing, a POST or a PUT).
Documentation: a YAML file per filter next to this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

PREFIX = "xpack.fleet."
CA_KEY = "ca.crt"
CA_MOUNT = "/usr/share/kibana/config/package-registry-ca"
CA_VOLUME = "package-registry-ca"
_PEM = "-----BEGIN CERTIFICATE-----"


def _bool(value: Any, what: str) -> bool:
    try:
        return boolean(value, strict=True)
    except TypeError:
        raise UserError("%s must be a boolean, not %r" % (what, value)) from None


@reported
def kibana_fleet_settings(url: str, proxy_url: str = "", remove_proxy: Any = False,
                          air_gapped: Any = None, gpg_key_path: str = "") -> list[dict[str, Any]]:
    """The edits of the Fleet settings, in order: ``registryUrl``; ``registryProxyUrl`` set (with
    *proxy_url*) or removed (*remove_proxy*); ``isAirGapped`` when *air_gapped* is given (not None
    or empty); ``packageVerification.gpgKeyPath`` when *gpg_key_path* is given (an absolute path)."""
    edits: list[dict[str, Any]] = [{"key": PREFIX + "registryUrl", "value": url, "state": "present"}]
    if proxy_url:
        edits.append({"key": PREFIX + "registryProxyUrl", "value": proxy_url, "state": "present"})
    if _bool(remove_proxy, "remove_proxy"):
        edits.append({"key": PREFIX + "registryProxyUrl", "value": None, "state": "absent"})
    if air_gapped is not None and air_gapped != "":
        edits.append({"key": PREFIX + "isAirGapped", "value": _bool(air_gapped, "air_gapped"), "state": "present"})
    if gpg_key_path:
        if not str(gpg_key_path).startswith("/"):
            raise UserError("gpg_key_path must be an absolute path on the Kibana host, not %r" % (gpg_key_path,))
        edits.append({"key": PREFIX + "packageVerification.gpgKeyPath", "value": str(gpg_key_path),
                      "state": "present"})
    return edits


@reported
def kibana_fleet_eck_config(settings: Sequence[Mapping[str, Any]], key_style: str = "dotted") -> dict[str, Any]:
    """The ``spec.config`` that sets the present edits of *settings*: ``{"xpack.fleet.x": v}``
    (*key_style* ``dotted``) or ``{"xpack": {"fleet": {"x": v}}}`` (``nested``)."""
    if key_style not in ("dotted", "nested"):
        raise UserError("key_style must be dotted or nested, not %r" % (key_style,))
    if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence):
        raise UserError("expected the list of airgap.mirror.kibana_fleet_settings, not %r" % (settings,))
    config: dict[str, Any] = {}
    for edit in settings:
        if not isinstance(edit, Mapping) or not str(edit.get("key", "")).startswith(PREFIX):
            raise UserError("expected {key: xpack.fleet.*, value, state} items, not %r" % (edit,))
        if edit.get("state", "present") != "present":
            continue
        value = edit.get("value")
        if not isinstance(value, (str, bool)):
            raise UserError("%s: a Fleet setting is a string or a boolean, not %r" % (edit["key"], value))
        config[str(edit["key"])] = value
    if key_style == "dotted":
        return config
    return {"xpack": {"fleet": {key[len(PREFIX):]: value for key, value in config.items()}}}


@reported
def kibana_fleet_eck_ca(ca_pem: str, kibana_name: str, namespace: str, mount_dir: str = CA_MOUNT) -> dict[str, Any]:
    """The package registry's CA for an ECK Kibana: ``configmap`` (``<kibana>-package-registry-ca``,
    key ``ca.crt``), the ``pod_template`` that mounts it in the ``kibana`` container and sets
    ``NODE_EXTRA_CA_CERTS`` to the file (Node.js, hence Kibana, then trusts it besides its bundle),
    and that ``path``."""
    if not isinstance(ca_pem, str) or _PEM not in ca_pem:
        raise UserError("the package registry's CA must be PEM certificates (%s...)" % _PEM)
    if not mount_dir.startswith("/"):
        raise UserError("mount_dir must be an absolute path, not %r" % (mount_dir,))
    ca_pem = ca_pem.rstrip("\n") + "\n"  # a file lookup strips the last newline
    name = "%s-%s" % (kibana_name, CA_VOLUME)
    path = "%s/%s" % (mount_dir.rstrip("/"), CA_KEY)
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": name, "namespace": namespace,
                              "labels": {"app.kubernetes.io/managed-by": "airgap.mirror"}},
                 "data": {CA_KEY: ca_pem}}
    pod_template = {"spec": {
        "containers": [{"name": "kibana", "env": [{"name": "NODE_EXTRA_CA_CERTS", "value": path}],
                        "volumeMounts": [{"name": CA_VOLUME, "mountPath": mount_dir, "readOnly": True}]}],
        "volumes": [{"name": CA_VOLUME, "configMap": {"name": name}}],
    }}
    return {"configmap": configmap, "pod_template": pod_template, "path": path}


DOWNLOAD_SOURCES = "/api/fleet/agent_download_sources"


@reported
def kibana_fleet_download_source(answer: Any, name: str, host: str, is_default: Any = True) -> dict[str, Any]:
    """What makes Fleet's agent binary download source *name* point at *host* (and be the default
    when *is_default*), given *answer*, the JSON of ``GET /api/fleet/agent_download_sources``
    (``{items: [{id, name, host, is_default, ...}], total, ...}``).

    Returns ``{action, method, path, body, current}``: ``action`` ``none`` (the source is as wanted),
    ``create`` (``POST`` to the collection) or ``update`` (``PUT`` to the source's id, keeping its
    other fields out of the body - the documented PUT body is ``name``, ``host``, ``is_default``);
    ``current`` is the matching item or None. The source is matched by name; a name held by two
    sources, a source Kibana marks ``is_preconfigured`` (kibana.yml owns it) or an answer that is
    not the whole list (``total`` above the items) is an error, never a guess."""
    if not isinstance(name, str) or not name.strip():
        raise UserError("the download source needs a name")
    if not isinstance(host, str) or not (host.startswith("https://") or host.startswith("http://")) \
            or len(host.split("://", 1)[1].strip("/")) == 0 or any(c.isspace() for c in host):
        raise UserError("the download source host must be an http(s) URL, not %r" % (host,))
    default = _bool(is_default, "is_default")
    if not isinstance(answer, Mapping) or not isinstance(answer.get("items"), list):
        raise UserError("expected the answer of GET %s ({items: [...]}), not %r" % (DOWNLOAD_SOURCES, answer))
    items = answer["items"]
    total = answer.get("total", len(items))
    if isinstance(total, int) and total > len(items):
        raise UserError("GET %s returned %d of %d download sources; the list must be complete"
                        % (DOWNLOAD_SOURCES, len(items), total))
    same = [item for item in items if isinstance(item, Mapping) and item.get("name") == name]
    if len(same) > 1:
        raise UserError("%d Fleet download sources are named %r (ids %s); remove all but one"
                        % (len(same), name, ", ".join(str(item.get("id")) for item in same)))
    body = {"name": name, "host": host, "is_default": default}
    if not same:
        return {"action": "create", "method": "POST", "path": DOWNLOAD_SOURCES, "body": body, "current": None}
    current = dict(same[0])
    if current.get("host") == host and bool(current.get("is_default", False)) == default:
        return {"action": "none", "method": None, "path": None, "body": None, "current": current}
    if current.get("is_preconfigured"):
        raise UserError("the Fleet download source %r (id %s) is preconfigured in kibana.yml and cannot be changed "
                        "through the API" % (name, current.get("id")))
    if not isinstance(current.get("id"), str) or not current["id"] or "/" in current["id"]:
        raise UserError("the Fleet download source %r has no usable id: %r" % (name, current.get("id")))
    return {"action": "update", "method": "PUT", "path": "%s/%s" % (DOWNLOAD_SOURCES, current["id"]),
            "body": body, "current": current}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "kibana_fleet_settings": kibana_fleet_settings,
            "kibana_fleet_eck_config": kibana_fleet_eck_config,
            "kibana_fleet_eck_ca": kibana_fleet_eck_ca,
            "kibana_fleet_download_source": kibana_fleet_download_source,
        }
