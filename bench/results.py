"""What a run produces: the final table's rows, every measurement by name, the sweep, the
problems (wrong digests, failed runs) and the fixed cost the floors start from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS: dict[str, float] = {
    "a r->r": 0.5,
    "a r->disk": 0.4,
    "a disk->r": 0.8,
    "b r->r": 0.25,
    "b r->r no-op": 0.15,
    "layout/unique": 1.02,
    "peak RSS MiB": 120,
}

# issue 16's targets on a simulated link (wan and far), the source behind the link: ours over the
# link floor, ours over the seed's loop in the same run, seconds above the fixed cost (no-op re-run)
LINK_TARGETS: dict[str, dict[str, float]] = {
    "a r->r": {"floor": 1.1, "loop": 0.30},
    "a r->disk": {"floor": 1.1, "loop": 0.15},
    "b r->r": {"floor": 1.3, "loop": 0.08},
    "b r->r no-op": {"above_fixed": 1.0},
}

Row = dict[str, Any]


def link_verdict(key: str, ours: float | None, ratio_loop: float | None, link_floor: float | None,
                 fixed_cost: float | None) -> tuple[str, str] | None:
    """The target text and PASS/FAIL of a row on a simulated link (None: the row has no target)."""
    target = LINK_TARGETS.get(key)
    if target is None or ours is None:
        return None
    checks: list[tuple[str, bool]] = []
    if "floor" in target:
        within = link_floor is not None and ours <= target["floor"] * link_floor
        checks.append(("floor x%.2f" % target["floor"], within))
    if "loop" in target:
        checks.append(("loop x%.2f" % target["loop"], ratio_loop is not None and ratio_loop <= target["loop"]))
    if "above_fixed" in target:
        checks.append(("fixed + %.0f s" % target["above_fixed"],
                       fixed_cost is not None and ours <= fixed_cost + target["above_fixed"]))
    return "<= " + ", ".join(text for text, _ok in checks), "PASS" if all(ok for _text, ok in checks) else "FAIL"


class Results:
    def __init__(self) -> None:
        self.rows: list[Row] = []                           # the final table
        self.sweep: dict[str, dict[int, dict[str, Any]]] = {}  # workload -> {concurrency: record}
        self.records: dict[str, Any] = {}                   # every measurement, by name
        self.problems: list[str] = []                       # wrong digests, failed runs
        self.fixed_cost: float | None = None                # ansible-playbook + module start, nothing to do

    def row(self, workload: str, metric: str, ours: float | None, skopeo: float | None, target: float | None,
            unique: int, note: str = "", ratio: float | None = None, ratios: list[float] | None = None,
            loads: tuple[float, float] | None = None, extra: dict[str, Any] | None = None) -> Row:
        """Adds a row of the final table; a time row's ratio is ours / skopeo unless given."""
        if ratio is None and metric == "seconds" and ours is not None and skopeo:
            ratio = ours / skopeo
        if target is None:
            verdict = "info"
        else:
            value = ratio if metric == "seconds" else ours
            verdict = "PASS" if value is not None and value <= target else "FAIL"
        row = {"workload": workload, "metric": metric, "ours": ours, "skopeo": skopeo, "ratio": ratio,
               "ratios": ratios, "target": target, "result": verdict, "unique_bytes": unique, "note": note,
               "load": loads}
        row.update(extra or {})
        self.rows.append(row)
        return row


def slim(res: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What the JSON keeps of one run."""
    rec = {k: (str(v) if isinstance(v, Path) else v) for k, v in res.items() if k != "result"}
    if res.get("result"):
        rec["totals"] = res["result"].get("totals")
    rec.update(extra)
    return rec
