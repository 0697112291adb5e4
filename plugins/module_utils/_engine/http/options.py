# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""What a registry client is configured with (:class:`ClientOptions`, one value for every registry
of a run) and what the clients of a run share while it runs (:class:`Shared`: deadline, counters,
cancellation)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..._oci import reference as _ref
from .limits import Limiters, RegistryLimits
from .retry import Deadline, RetryPolicy
from .tls import CERTS_DIRS

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterable

    from ..auth import CredentialStore

DEFAULT_CHUNK = 1024 * 1024
DEFAULT_CHUNKED_THRESHOLD = 128 * 1024 * 1024
DEFAULT_UPLOAD_CHUNK = 64 * 1024 * 1024
# blobs up to this size are asked about and started in one request (see RegistryClient.ensure_blob);
# sending one again where a registry cannot tell us it has it costs about as much as asking first
DEFAULT_PROBE_MAX = 8 * 1024 * 1024
# registries cap a page of tags (Quay at 100); the Link header gives the rest
DEFAULT_TAG_PAGE = 100


@dataclass(frozen=True)
class ClientOptions:
    """TLS, authentication, retry, timeout and transfer settings of the registry clients.

    ``insecure_registries``: canonical registry names (``host:port``) spoken to over plain HTTP or
    unverified TLS. ``retries``: attempts of a request before it fails. Sizes are in bytes:
    ``chunk_size`` of a download read, ``chunked_threshold`` above which an upload is chunked,
    ``upload_chunk_size`` of one chunk, ``probe_max`` the largest blob asked about in the POST
    that starts its upload. ``registry_limits``: per-registry limits (limits.py)."""

    credentials: CredentialStore | None = None
    ca_path: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure_registries: frozenset[str] = frozenset()
    timeout: float = 60.0
    retries: int = 5
    max_connections: int = 16
    certs_dirs: tuple[str, ...] = CERTS_DIRS
    chunk_size: int = DEFAULT_CHUNK
    chunked_threshold: int = DEFAULT_CHUNKED_THRESHOLD
    upload_chunk_size: int = DEFAULT_UPLOAD_CHUNK
    probe_max: int = DEFAULT_PROBE_MAX
    #: tags asked for in one page of a tag list (``?n=``; the ``Link`` header gives the next page)
    tag_page_size: int = DEFAULT_TAG_PAGE
    #: connections and requests per second per registry (see limits.py); None: no limits
    registry_limits: RegistryLimits | None = None

    @classmethod
    def build(cls, insecure_registries: Iterable[str] | None = (), certs_dirs: Iterable[str] | None = None,
              **settings: Any) -> ClientOptions:
        """Options from keyword settings as a caller has them: registry names in any spelling
        (normalised), ``certs_dirs`` None for the default directories."""
        options = cls(insecure_registries=frozenset(_ref.normalize_registry(r) for r in insecure_registries or ()),
                      certs_dirs=CERTS_DIRS if certs_dirs is None else tuple(certs_dirs))
        return replace(options, **settings) if settings else options

    def insecure(self, registry: str) -> bool:
        return registry in self.insecure_registries


class Stats:
    """Thread-safe counters of what went over the wire (for results, benchmarks and tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.bytes_down = 0
        self.bytes_up = 0
        self.per_registry: dict[str, int] = {}

    def request(self, registry: str) -> None:
        """Count one request sent to *registry* (in ``requests`` and per registry)."""
        with self._lock:
            self.requests += 1
            self.per_registry[registry] = self.per_registry.get(registry, 0) + 1

    def by_registry(self) -> dict[str, int]:
        """``{registry: requests sent to it}``."""
        with self._lock:
            return dict(sorted(self.per_registry.items()))

    def add(self, **values: int) -> None:
        with self._lock:
            for key, value in values.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "retries": self.retries,
                    "bytes_downloaded": self.bytes_down, "bytes_uploaded": self.bytes_up}


@dataclass
class Shared:
    """What every client of one run shares: the retry policy, the deadline, the counters, the
    cancellation event and the per-registry limiters."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    deadline: Deadline = field(default_factory=Deadline)
    stats: Stats = field(default_factory=Stats)
    cancel: threading.Event = field(default_factory=threading.Event)
    limiters: Limiters = field(default_factory=Limiters)
