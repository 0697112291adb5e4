# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Registry pull secrets for Kubernetes, byte for byte what kubectl writes, and object names.

``kubectl create secret docker-registry NAME --docker-server=S --docker-username=U
--docker-password=P [--docker-email=E]`` stores, base64-encoded under ``.dockerconfigjson``, the
compact JSON that Go's ``encoding/json`` produces for::

    {"auths":{"S":{"username":"U","password":"P","email":"E","auth":"base64(U:P)"}}}

(struct field order, ``omitempty`` on every field, map keys sorted, no spaces, ``<``, ``>`` and
``&`` escaped as ``\\u003c`` ``\\u003e`` ``\\u0026``, U+2028/U+2029 escaped, invalid UTF-8 replaced
by U+FFFD, other non-ASCII characters written as UTF-8). :func:`dockerconfigjson` reproduces that
exactly, so a Secret rendered here and one made by kubectl never differ and re-applying one over
the other is a no-op.

Nothing in this module logs or keeps the credentials; callers must keep the results out of
anything that is not ``no_log``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from .._common.errors import UserError
from .._oci import authfile as _format

SECRET_TYPE = "kubernetes.io/dockerconfigjson"
SECRET_KEY = ".dockerconfigjson"
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class KubernetesObjectError(UserError, ValueError):
    """An object that the API server would reject (bad name, missing credential part)."""


def validate_subdomain(name: Any, what: str = "metadata.name") -> str:
    """A DNS-1123 subdomain (names of Secrets, ConfigMaps and most objects)."""
    if not isinstance(name, str) or not name:
        raise KubernetesObjectError("%s must be a non-empty string" % what)
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        raise KubernetesObjectError(
            "%s %r is not a valid DNS-1123 subdomain (lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters)" % (what, name)
        )
    return name


def validate_label(name: Any, what: str = "metadata.namespace") -> str:
    """A DNS-1123 label (namespaces)."""
    if not isinstance(name, str) or not name:
        raise KubernetesObjectError("%s must be a non-empty string" % what)
    if len(name) > 63 or not _DNS1123_LABEL.match(name):
        raise KubernetesObjectError(
            "%s %r is not a valid DNS-1123 label (lower-case letters, digits and '-', starting and "
            "ending with a letter or digit, at most 63 characters)" % (what, name)
        )
    return name


def validate_configmap_key(key: Any) -> str:
    """A ConfigMap data key, as the API server accepts it."""
    if not isinstance(key, str) or not key or len(key) > 253 or not _CONFIGMAP_KEY.match(key):
        raise KubernetesObjectError(
            "ConfigMap key %r must consist of alphanumeric characters, '-', '_' or '.'" % (key,)
        )
    if key in (".", ".."):
        raise KubernetesObjectError("ConfigMap key %r is not allowed" % key)
    return key


def metadata(name: str, namespace: str | None = None, labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``metadata`` of an object: validated name and namespace, labels and annotations."""
    meta: dict[str, Any] = {"name": validate_subdomain(name)}
    if namespace is not None:
        meta["namespace"] = validate_label(namespace)
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def configmap(name: str, data: Mapping[str, Any], namespace: str | None = None,
              labels: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None
              ) -> dict[str, Any]:
    """A ``v1/ConfigMap`` dict, the shape ``kubectl create configmap --dry-run=client`` gives."""
    clean: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise KubernetesObjectError("ConfigMap %s: data.%s must be a string" % (name, key))
        clean[validate_configmap_key(key)] = value
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(name, namespace, labels, annotations),
        "data": clean,
    }


# --------------------------------------------------------------------------------------------
# Go encoding/json, for strings
# --------------------------------------------------------------------------------------------

_GO_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def go_json_string(text: str) -> str:
    """*text* as Go's ``json.Marshal`` writes a string (HTML-escaping on, as kubectl uses it)."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _GO_SHORT:
            out.append(_GO_SHORT[char])
        elif code < 0x20 or char in "<>&":
            out.append("\\u%04x" % code)
        elif char in "\u2028\u2029":
            out.append("\\u%04x" % code)
        elif 0xD800 <= code <= 0xDFFF:
            # a lone surrogate stands for bytes that were not valid UTF-8: Go writes U+FFFD
            out.append("\\ufffd")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _entry(username: str, password: str, email: str) -> str:
    fields = []
    if username:
        fields.append('"username":' + go_json_string(username))
    if password:
        fields.append('"password":' + go_json_string(password))
    if email:
        fields.append('"email":' + go_json_string(email))
    auth = _format.encode_auth(username, password, errors="surrogateescape")
    fields.append('"auth":' + go_json_string(auth))
    return "{" + ",".join(fields) + "}"


def _check_credentials(server: Any, username: Any, password: Any) -> None:
    for what, value in (("server", server), ("username", username), ("password", password)):
        if not isinstance(value, str) or not value:
            raise KubernetesObjectError(
                "a docker-registry secret needs a non-empty registry %s (as kubectl requires "
                "--docker-server, --docker-username and --docker-password)" % what
            )


def dockerconfigjson(server: str, username: str, password: str, email: str | None = None,
                     extra: list[dict[str, Any]] | None = None) -> str:
    """The ``.dockerconfigjson`` text (str) for one registry, as kubectl writes it.

    *extra* optionally adds more registries: ``[{"server", "username", "password", "email"}]``;
    entries are keyed by server and written in sorted order, as Go sorts map keys.
    """
    auths: dict[str, str] = {}
    for item in [{"server": server, "username": username, "password": password, "email": email}] + list(extra or []):
        _check_credentials(item.get("server"), item.get("username"), item.get("password"))
        if item["server"] in auths:
            raise KubernetesObjectError("registry server %r is listed twice" % item["server"])
        auths[item["server"]] = _entry(item["username"], item["password"], item.get("email") or "")
    body = ",".join(go_json_string(key) + ":" + auths[key] for key in sorted(auths, key=_utf8))
    return '{"auths":{' + body + "}}"


def docker_registry_secret(name: str, server: str, username: str, password: str, email: str | None = None,
                           namespace: str | None = None, labels: Mapping[str, str] | None = None,
                           annotations: Mapping[str, str] | None = None,
                           extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A ``v1/Secret`` of type ``kubernetes.io/dockerconfigjson`` (the kubectl shape, minus
    ``creationTimestamp: null``)."""
    payload = dockerconfigjson(server, username, password, email=email, extra=extra)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, labels, annotations),
        "type": SECRET_TYPE,
        "data": {SECRET_KEY: base64.b64encode(_utf8(payload)).decode("ascii")},
    }
