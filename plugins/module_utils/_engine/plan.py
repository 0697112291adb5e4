# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan: turn the requested images into jobs (build.py), resolve every one of them into digests,
the manifest tree and the blob graph (resolve.py), and optionally check the destination deeply
(verify.py), before a single byte is copied.

The plan gives check mode (what would be copied, how many bytes), diff (destination digests before
and after), the free-space preflight, cheap no-op re-runs and the mirror map.

This module keeps the names the rest of the collection imports from it, and the client pool.
"""

from __future__ import annotations

import threading

from .._oci import reference as _ref
from .auth import CredentialStore, Credentials
from .build import build_jobs, mapping_tag, parse_location, timestamp_tag
from .job import ImageJob, Status, iter_jobs, unique_blobs
from .registry import Deadline, RegistryClient, RetryPolicy, Stats
from .repos import is_digest
from .resolve import resolve
from .verify import verify


class ClientPool:
    """One RegistryClient per registry, created on first use, sharing stats, deadline, cancel."""

    def __init__(self, credentials=None, ca_path=None, client_cert=None, client_key=None, insecure_registries=(),
                 timeout=60.0, retries=5, max_connections=16, deadline=None, certs_dirs=None, **client_options):
        self.credentials = credentials if credentials is not None else CredentialStore()
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.insecure = {_ref.normalize_registry(r) for r in insecure_registries or ()}
        self.timeout = timeout
        self.retry = RetryPolicy(attempts=retries)
        self.max_connections = max_connections
        self.deadline = deadline or Deadline()
        self.stats = Stats()
        self.cancel = threading.Event()
        self.certs_dirs = certs_dirs
        self.client_options = client_options
        self._clients = {}
        self._lock = threading.Lock()

    def get(self, registry):
        with self._lock:
            client = self._clients.get(registry)
            if client is None:
                kwargs = dict(self.client_options)
                if self.certs_dirs is not None:
                    kwargs["certs_dirs"] = self.certs_dirs
                client = RegistryClient(
                    registry, credentials=self.credentials, ca_path=self.ca_path, client_cert=self.client_cert,
                    client_key=self.client_key, insecure=registry in self.insecure, timeout=self.timeout,
                    retry=self.retry, max_connections=self.max_connections, deadline=self.deadline,
                    stats=self.stats, cancel=self.cancel, **kwargs)
                self._clients[registry] = client
            return client

    def close(self):
        for client in self._clients.values():
            client.close()


def explicit_credentials(pairs: list[tuple[str | None, str | None, str | None]]) -> dict[str, Credentials]:
    """{registry: Credentials} from ``[(registry, username, password)]`` leaving out empty ones."""
    out: dict[str, Credentials] = {}
    for registry, username, password in pairs:
        if registry and (username or password):
            out[_ref.normalize_registry(registry)] = Credentials(username, password)
    return out


__all__ = ["ImageJob", "ClientPool", "Status", "build_jobs", "resolve", "verify", "unique_blobs", "iter_jobs",
           "parse_location", "mapping_tag", "timestamp_tag", "explicit_credentials", "is_digest"]
