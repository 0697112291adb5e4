# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The registry clients of one run: one :class:`RegistryClient` per registry, created on first use
from the run's :class:`ClientOptions`, sharing retry policy, deadline, counters and cancellation.

The HTTP stack (:mod:`.registry` and httpx) is imported with the first client: a run between OCI
layouts and ``dir:`` trees, which has none, does not load it."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .auth import CredentialStore
from .http.limits import Limiters
from .http.options import ClientOptions, Shared
from .http.retry import Deadline, RetryPolicy

if TYPE_CHECKING:  # pragma: no cover
    from .registry import RegistryClient


class ClientPool:
    """One RegistryClient per registry, created on first use, sharing stats, deadline, cancel.

    ``ClientPool(options, deadline=...)``; or keyword settings as :meth:`ClientOptions.build` takes
    them (``ClientPool(insecure_registries=[...], retries=3)``). Without credentials, those of
    the default auth files are used."""

    def __init__(self, options: ClientOptions | None = None, deadline: Deadline | None = None,
                 **settings: Any) -> None:
        options = options if options is not None else ClientOptions.build(**settings)
        if options.credentials is None:
            options = replace(options, credentials=CredentialStore())
        self.options = options
        self.shared = Shared(retry=RetryPolicy(attempts=options.retries), deadline=deadline or Deadline(),
                             limiters=Limiters(options.registry_limits))
        self.limiters = self.shared.limiters
        self.deadline = self.shared.deadline
        self.stats = self.shared.stats
        self.cancel = self.shared.cancel
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def get(self, registry: str) -> RegistryClient:
        with self._lock:
            client = self._clients.get(registry)
            if client is None:
                from .registry import RegistryClient

                client = self._clients[registry] = RegistryClient(registry, self.options, self.shared)
            return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
