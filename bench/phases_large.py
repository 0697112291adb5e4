"""(c) one large layer: time and peak RSS of the module process, registry -> registry and
registry -> disk."""

from __future__ import annotations

import shutil

import workloads as W
from context import Bench
from measure import log, quote, sync_files
from pairs import RunFn, paired
from phases_registry import ours_r2r, skopeo_r2r
from results import TARGETS
from runners import Accounted

_R2D_LOOP = """
while read -r src_img ; do
  dst_img=$(echo "${src_img}" | cut -d '/' -f 2-)
  mkdir -p %s/"${dst_img}"
  skopeo copy --all --quiet --preserve-digests --src-tls-verify=false docker://"${src_img}" dir://%s/"${dst_img}"
done < %s
"""


def large(bench: Bench, wl: W.Workload) -> None:
    """(c): time and peak RSS of the module process, registry -> registry and registry -> disk."""
    work = bench.bed.work
    tree = work / "c-dir-tree"
    layout = work / "c-oci-layout"
    refs = bench.refs(wl)

    def skopeo_r2d(_i: int) -> Accounted:
        lst = work / "c.r2d.list"
        lst.write_text("".join(ref + "\n" for ref in refs), encoding="utf-8")
        script = bench.bed.script("c-r2d", _R2D_LOOP % (quote(tree), quote(tree), quote(lst)))
        out = bench.runner.skopeo_loop("r2d", wl.name, script)
        out["res"]["sync_after"] = sync_files(tree)
        pairs = [(tree / ref.split("/", 1)[1], item.digest) for ref, item in zip(refs, wl.images)]
        out["verify"] = bench.verify.dirs("c skopeo r->disk", pairs)
        shutil.rmtree(tree, ignore_errors=True)
        return out

    def ours_r2d(_i: int) -> Accounted:
        out = bench.runner.ours_run("r2d", wl.name, bench.module_args(wl, "oci:%s" % layout,
                                                                      insecure_registries=[bench.bed.src.host]))
        out["verify"] = bench.verify.layout("c ours r->disk", layout, wl)
        shutil.rmtree(layout, ignore_errors=True)
        return out

    legs: list[tuple[str, RunFn, RunFn]] = [
        ("r->r", lambda i: skopeo_r2r(bench, wl, "r2r"), lambda i: ours_r2r(bench, wl, "r2r")),
        ("r->disk", skopeo_r2d, ours_r2d)]
    for kind, sk_fn, our_fn in legs:
        log("  %s" % kind)
        sk_runs, our_runs = paired(bench, "c %s" % kind, wl, 1, sk_fn, [("", our_fn)], None,
                                   "%s, one %s layer" % (kind, W.human(wl.spec["size"], binary=True)))
        _rss_row(bench, wl, kind, our_runs[""][0]["res"], sk_runs[0]["res"])


def _rss_row(bench: Bench, wl: W.Workload, kind: str, ours: dict, sk: dict) -> None:
    """Peak RSS of the module process, measured three ways, against skopeo's: a row."""
    mt = ours.get("module_time") or {}
    module_own = (ours["result"]["totals"].get("peak_rss_bytes") or 0) / (1 << 20)
    log("  %s peak RSS of the module process: /usr/bin/time -v %s MiB (the AnsiballZ python, pid %s), "
        "VmHWM sampled %s MiB (%d samples), module's totals.peak_rss_bytes %.1f MiB; whole ansible-playbook "
        "tree max %.1f MiB; skopeo %s MiB" % (
            kind, mt.get("maxrss_mib"), ours.get("module_pid"), ours.get("vmhwm_mib"),
            ours.get("vmhwm_samples", 0), module_own, ours["tree_maxrss_kb"] / 1024, sk["peak_rss_mib"]))
    rss = {"time_v_mib": mt.get("maxrss_mib"), "vmhwm_mib": ours.get("vmhwm_mib"),
           "module_totals_mib": round(module_own, 1), "skopeo_mib": sk["peak_rss_mib"]}
    bench.results.records["c %s" % kind]["rss"] = rss
    bench.results.row("c", "peak RSS MiB", mt.get("maxrss_mib"), sk["peak_rss_mib"], TARGETS["peak RSS MiB"],
                      wl.unique_bytes, "%s: module process (/usr/bin/time -v); VmHWM %s, totals %.1f" % (
                          kind, ours.get("vmhwm_mib"), module_own), extra={"rss": rss})
