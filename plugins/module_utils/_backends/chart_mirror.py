# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""``airgap.mirror.chart_mirror``: its argument spec, the chart list read, and one run (charts of a
classic HTTP chart repository into an OCI layout as OCI charts) turned into the module result."""

from __future__ import annotations

import traceback
from typing import Any

from .._charts.model import ChartError
from .._common.errors import UserError
from .argspec import client_pool, merge_spec, registry_argument_spec

LAYOUT_PREFIX = "oci:"
_CHART_KEYS = frozenset(("name", "version"))


def argument_spec() -> dict[str, Any]:
    """The AnsibleModule keyword arguments (the shared registry options included)."""
    return merge_spec(registry_argument_spec(source=False), {
        "argument_spec": {
            "repository": {"type": "str", "required": True},
            "charts": {"type": "list", "elements": "raw", "required": True},
            "dest": {"type": "str", "required": True},
        },
        "supports_check_mode": True,
    })


def wanted_charts(items: list[Any]) -> list[tuple[str, str | None]]:
    """``[(name, version or range or None)]`` from ``charts``: ``NAME`` or ``{name, version}``;
    a bad item fails naming its position."""
    out: list[tuple[str, str | None]] = []
    for n, item in enumerate(items or []):
        where = "charts[%d]" % n
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ChartError("%s: give a chart name or a dict with name and version" % where)
        unknown = sorted(set(item) - _CHART_KEYS)
        if unknown:
            raise ChartError("%s: unknown keys %s (known: name, version)" % (where, ", ".join(unknown)))
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ChartError("%s: name is required" % where)
        version = item.get("version")
        out.append((name.strip(), None if version in (None, "") else str(version).strip()))
    if not out:
        raise ChartError("charts: give at least one chart")
    return out


def run(params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """One task: the module result."""
    from .._charts.store import ADDED, WOULD_ADD, mirror_repository
    from .._engine.layout import Layout

    dest = params["dest"]
    if not isinstance(dest, str) or not dest.startswith(LAYOUT_PREFIX) or len(dest) == len(LAYOUT_PREFIX):
        raise ChartError("dest must be oci:PATH (an OCI layout; image_mirror pushes it to the mirror), not %r"
                         % (dest,))
    wanted = wanted_charts(params["charts"])
    layout = Layout(dest[len(LAYOUT_PREFIX):], create=True)
    pool = client_pool(params)
    try:
        results = [r.to_dict() for r in mirror_repository(pool, layout, params["repository"], wanted, check_mode)]
    finally:
        pool.close()
    images: list[str] = []
    for r in results:
        images += [i["image"] for i in r["images"] if i["image"] not in images]
    return {
        "changed": any(r["status"] in (ADDED, WOULD_ADD) for r in results),
        "charts": results,
        "refs": [r["ref"] for r in results],
        "images": images,
        "unresolved": [dict(u, chart=r["ref"]) for r in results for u in r["unresolved"]],
        "layout": layout.path,
        "diff": {"before": "".join("%s %s\n" % (r["ref"], r["before"] or "(absent)") for r in results),
                 "after": "".join("%s %s\n" % (r["ref"], r["digest"]) for r in results)},
    }


def failure(exc: Exception) -> dict[str, Any]:
    """The ``fail_json`` arguments for an exception of :func:`run`."""
    if isinstance(exc, (UserError, ValueError)):
        return {"msg": str(exc)}
    return {"msg": "unexpected error: %s: %s" % (type(exc).__name__, exc), "exception": traceback.format_exc()}
