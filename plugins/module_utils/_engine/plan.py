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

This module keeps the names the rest of the collection imports from it (the client pool lives
in pool.py).
"""

from __future__ import annotations

from .._oci import reference as _ref
from .auth import Credentials
from .build import build_jobs, mapping_tag, parse_location, timestamp_tag
from .job import ImageJob, Status, iter_jobs, unique_blobs
from .pool import ClientPool
from .repos import is_digest
from .resolve import resolve
from .verify import verify


def explicit_credentials(pairs: list[tuple[str | None, str | None, str | None]]) -> dict[str, Credentials]:
    """{registry: Credentials} from ``[(registry, username, password)]`` leaving out empty ones."""
    out: dict[str, Credentials] = {}
    for registry, username, password in pairs:
        if registry and (username or password):
            out[_ref.normalize_registry(registry)] = Credentials(username, password)
    return out


__all__ = ["ImageJob", "ClientPool", "Status", "build_jobs", "resolve", "verify", "unique_blobs", "iter_jobs",
           "parse_location", "mapping_tag", "timestamp_tag", "explicit_credentials", "is_digest"]
