# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""httpx, the one HTTP library of the collection, imported in one place for every module that
sends requests (the registry client, the signature store reader).

``import httpx`` also imports httpx's command-line client whenever click, rich and pygments are
installed, and Debian's ``python3-httpx`` depends on all three: 40-53 ms of CPU at the start of
every task that talks to a registry (``bench/fixed_cost.py --registry``), for a program the
collection never runs. When httpx is not
imported yet, its ``httpx._main`` module is marked absent first, so httpx falls back to the stub
``main`` it defines for an installation without those extras; the library itself is the same.
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

try:
    import httpx
    HTTPX_IMPORT_ERROR: ImportError | None = None
except ImportError as _exc:  # pragma: no cover - reported where a request is about to be sent
    httpx = None  # type: ignore[assignment]
    HTTPX_IMPORT_ERROR = _exc

__all__ = ["HTTPX_IMPORT_ERROR", "httpx"]
