# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Registry connection options shared by every module that talks to registries.

    Paired with ``plugins/module_utils/_backends/argspec.py`` ``registry_argument_spec()``: the
    options are documented here once and built there once. ``SOURCE`` adds the source registries'
    credentials (``registry_argument_spec(source=True)``, the default).
    """

    DOCUMENTATION = r"""
options:
  dest_username:
    description:
      - Username for the destination (mirror) registry.
    type: str
  dest_password:
    description:
      - Password or token for O(dest_username).
    type: str
  auth_file:
    description:
      - A containers C(auth.json) or docker C(config.json) (an C(auths) map, C(credHelpers) and
        C(credsStore) are honoured) to read credentials from.
      - It is read first; then C($REGISTRY_AUTH_FILE), C($XDG_RUNTIME_DIR/containers/auth.json),
        C(~/.config/containers/auth.json) and C(~/.docker/config.json) (or C($DOCKER_CONFIG)).
        Entries scoped to a repository (C(quay.io/org/repo)) win over the registry's entry.
      - Explicit user names and passwords given as options win over every file.
    type: path
  ca_path:
    description:
      - A PEM file, or a directory of C(*.crt)/C(*.pem) files, with CA certificates to trust in
        addition to the system trust store.
      - C(/etc/containers/certs.d/<host:port>/*.crt) (and C(/etc/docker/certs.d)) are read too, as
        containers/image does; client certificate pairs C(*.cert)/C(*.key) there are used.
    type: path
  client_cert:
    description:
      - Client certificate (PEM) for registries that require mutual TLS.
    type: path
  client_key:
    description:
      - Private key of O(client_cert).
    type: path
  insecure_registries:
    description:
      - Registries (C(host[:port])) that may be reached over plain HTTP or with unverified TLS.
      - Every other registry is verified against the system trust store, O(ca_path) and certs.d.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds to wait for a connection or for data on one before the request is retried.
    type: float
    default: 60
  retries:
    description:
      - Attempts per request for connection errors, timeouts and the answers 408, 429 and 5xx,
        with exponential backoff and jitter, honouring C(Retry-After).
    type: int
    default: 5
  deadline:
    description:
      - Overall time limit in seconds. When it passes, no new request is started and the images
        not done yet fail with a message saying so; nothing half-written is left under a tag.
    type: float
"""

    # the source registries' credentials: airgap.mirror.registry.source (modules that read sources)
    SOURCE = r"""
options:
  src_username:
    description:
      - Username for the source registries.
      - Used for every source registry; to use different accounts per registry, put them in an
        auth file (O(auth_file)).
    type: str
  src_password:
    description:
      - Password or token for O(src_username).
    type: str
"""
