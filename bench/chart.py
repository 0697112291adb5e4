"""The benchmark's time rows as a PNG chart: for every workload row, ours, the seed's skopeo loop,
``skopeo sync`` and the link floor, in seconds; one panel per link profile, the simulated links
first and loopback beside them (the same rows on every panel).

``run.py --chart PATH`` draws the rows of its run; this file redraws saved results::

    .venv/bin/python bench/chart.py bench/results/bench-….json [more.json …] --chart docs/img/bench.png

matplotlib is a benchmark-only dependency (``bench/requirements.txt``), imported only here and
only when a chart is drawn.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

Row = dict[str, Any]
SERIES = (("ours", "image_mirror (ours)", "#1f77b4"), ("skopeo", "seed's skopeo loop", "#d62728"),
          ("sync", "skopeo sync", "#ff7f0e"), ("link_floor_s", "link floor", "#7f7f7f"))


def label(row: Row) -> str:
    """A row's name on the chart: ``(b) registry → registry``."""
    what = row["note"].split(";")[0].replace(" (oci: vs dir: loop)", "").replace("->", "→")
    return "(%s) %s" % (row["workload"], what)


def profiles(rows: list[Row]) -> list[str]:
    """The rows' link profiles, simulated links first (in order of appearance), loopback last."""
    seen = list(dict.fromkeys(r.get("link") or "loopback" for r in rows))
    return [p for p in seen if p != "loopback"] + [p for p in seen if p == "loopback"]


def time_rows(rows: list[Row]) -> list[Row]:
    """The rows drawn: time rows with a time for ours."""
    return [r for r in rows if r.get("metric") == "seconds" and r.get("ours") is not None]


def title(started: str, quick: bool, rows: list[Row]) -> str:
    """The chart's title: when, which sizes, how many rounds, and how busy the machine was."""
    rounds = max((r.get("runs") or 1 for r in time_rows(rows)), default=1)
    loads = sorted(r["load"][0] for r in rows if r.get("load"))
    load = loads[len(loads) // 2] if loads else 0.0
    return "airgap.mirror benchmark %s%s, %d round%s, median load %.1f on %d CPUs" % (
        started, " (--quick sizes)" if quick else "", rounds, "" if rounds == 1 else "s", load, os.cpu_count() or 1)


def draw(rows: list[Row], path: Path, title: str = "") -> Path:
    """Draws ``rows`` (the final table's rows, of one or more runs) as a PNG at ``path``."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    drawn = time_rows(rows)
    if not drawn:
        raise ValueError("no time rows to draw")
    names = list(dict.fromkeys(label(r) for r in drawn))
    panels = profiles(drawn)
    height = 0.9 + 0.62 * len(names)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 2.4, height), sharey=True, squeeze=False)
    bar_height = 0.8 / len(SERIES)
    for ax, profile in zip(axes[0], panels):
        by_name = {label(r): r for r in drawn if (r.get("link") or "loopback") == profile}
        _panel(ax, names, by_name, bar_height)
        ax.set_title(profile, fontsize=10)
        ax.set_xlabel("seconds (median wall time)", fontsize=8)
    axes[0][0].set_yticks(range(len(names)), names, fontsize=8)
    axes[0][0].invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=color) for _key, _name, color in SERIES]
    fig.legend(handles, [name for _key, name, _color in SERIES], loc="lower center", ncol=len(SERIES), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0.3 / height, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(ax: Any, names: list[str], by_name: dict[str, Row], bar_height: float) -> None:
    """One profile's bars: per row, one bar per series, with its value written after it."""
    top = max((r.get(key) or 0) for r in by_name.values() for key, _name, _color in SERIES) or 1.0
    for idx, name in enumerate(names):
        row = by_name.get(name)
        for pos, (key, _series, color) in enumerate(SERIES):
            value = row.get(key) if row else None
            if value is None:
                continue
            y = idx - 0.4 + bar_height * (pos + 0.5)
            ax.barh(y, value, height=bar_height * 0.95, color=color)
            ax.text(value + top * 0.01, y, "%.1f" % value, va="center", fontsize=6)
    ax.set_xlim(0, top * 1.15)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(axis="x", labelsize=7)


def main(argv: list[str] | None = None) -> int:
    """Redraws the rows of saved results files."""
    parser = argparse.ArgumentParser(description="draw saved benchmark results as a PNG chart")
    parser.add_argument("results", nargs="+", help="bench/results/*.json files")
    parser.add_argument("--chart", required=True, help="the PNG to write")
    parser.add_argument("--title", help="a title above the panels (default: the first run's time, sizes, "
                        "rounds and load)")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    docs = [json.loads(Path(name).read_text(encoding="utf-8")) for name in args.results]
    for doc in docs:
        rows += doc["rows"]
    heading = args.title if args.title is not None else title(docs[0]["started"], docs[0]["quick"], rows)
    print("chart written to %s" % draw(rows, Path(args.chart), heading))
    return 0


if __name__ == "__main__":
    sys.exit(main())
