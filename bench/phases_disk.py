"""(a) registry -> disk and disk -> registry: the seed's ``dir:`` loops (seed 003 2.4 and 2.5)
against the module writing and reading an OCI layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import skopeo_sync
import workloads as W
from context import Bench
from measure import log, quote, sync_files, tree_size
from pairs import paired
from results import TARGETS
from runners import Accounted
from verify import Expected

_R2D_LOOP = """
IMAGE_LIST_FILE=%s
IMAGE_LOCAL_DIR=%s
while read -r src_img ; do
  # Remove the source registry prefix (seed 003, 2.4)
  dst_img=$(echo "${src_img}" | cut -d '/' -f 2-)
  mkdir -p "${IMAGE_LOCAL_DIR}/${dst_img}"
  skopeo copy --all --quiet --preserve-digests --src-tls-verify=false \\
    docker://"${src_img}" dir://"${IMAGE_LOCAL_DIR}/${dst_img}"
done < "${IMAGE_LIST_FILE}"
"""

_D2R_LOOP = """
IMAGE_LOCAL_DIR=%s
TARGET_REGISTRY=%s
image_tag=mirror-$(date +%%y%%m%%d%%H%%M%%S)
image_cnt=1
pushd "${IMAGE_LOCAL_DIR}" >/dev/null
while read -r src_manifest ; do
  src_img=$(dirname "${src_manifest}")
  dst_img="${TARGET_REGISTRY}/${src_img}"
  dst_img=$(echo "${dst_img}" | awk -F'@' '{print $1}')
  skopeo copy --all --quiet --preserve-digests --dest-tls-verify=false \\
    dir://"${IMAGE_LOCAL_DIR}/${src_img}" docker://"${dst_img}:${image_tag}-${image_cnt}"
  echo "PUSHED ${src_img} ${dst_img}:${image_tag}-${image_cnt}"
  (( image_cnt += 1 ))
done < <(find . -type f -name manifest.json -printf '%%P\\n')
popd >/dev/null
"""


def to_disk(bench: Bench, wl: W.Workload, n: int) -> tuple[Path, Path]:
    """(a) registry -> disk: the seed's dir: loop (2.4) and skopeo sync --dest dir against the
    module into an OCI layout.
    Returns the last dir tree and layout (the sources of the disk -> registry leg)."""
    work = bench.bed.work
    listing = work / ("%s.r2d.list" % wl.name)
    listing.write_text("".join(ref + "\n" for ref in bench.refs(wl)), encoding="utf-8")
    kept: dict[str, Path] = {}

    def skopeo_fn(i: int) -> Accounted:
        if "tree" in kept:
            shutil.rmtree(kept["tree"], ignore_errors=True)
        tree = kept["tree"] = work / ("%s-dir-tree-%d" % (wl.name, i))
        script = bench.bed.script("%s-r2d-%d" % (wl.name, i), _R2D_LOOP % (quote(listing), quote(tree)))
        out = bench.runner.skopeo_loop("r2d-%d" % i, wl.name, script)
        out["res"]["sync_after"] = sync_files(tree)
        pairs = [(tree / ref.split("/", 1)[1], item.digest) for ref, item in zip(bench.refs(wl), wl.images)]
        out["verify"] = bench.verify.dirs("%s skopeo r->disk" % wl.name, pairs)
        return out

    def ours_fn(i: int) -> Accounted:
        if "layout" in kept:
            shutil.rmtree(kept["layout"], ignore_errors=True)
        layout = kept["layout"] = work / ("%s-oci-layout-%d" % (wl.name, i))
        out = bench.runner.ours_run("r2d-%d" % i, wl.name, bench.module_args(
            wl, "oci:%s" % layout, insecure_registries=[bench.bed.src.host],
            mirror_map=str(work / "maps" / ("%s-r2d-%d.yml" % (wl.name, i)))))
        out["verify"] = bench.verify.layout("%s ours r->disk" % wl.name, layout, wl)
        return out

    paired(bench, "%s r->disk" % wl.name, wl, n, skopeo_fn, [("", ours_fn)], TARGETS.get("%s r->disk" % wl.name),
           "registry -> disk (oci: vs dir: loop)", sync_fn=lambda i: skopeo_sync.r2d(bench, wl, "r2d-%d" % i))
    _sizes(bench, wl, kept["tree"], kept["layout"])
    return kept["tree"], kept["layout"]


def _sizes(bench: Bench, wl: W.Workload, tree: Path, layout: Path) -> None:
    """The layout's size against the unique blob bytes (and skopeo's dir: tree): a row."""
    tree_app, tree_alloc, tree_files = tree_size(tree)
    lay_app, lay_alloc, lay_files = tree_size(layout)
    sizes = {"unique_blob_bytes": wl.unique_bytes, "per_image_bytes": wl.per_image_bytes,
             "layout_bytes": lay_app, "layout_allocated": lay_alloc, "layout_files": lay_files,
             "dir_tree_bytes": tree_app, "dir_tree_allocated": tree_alloc, "dir_tree_files": tree_files}
    bench.results.records["%s r->disk" % wl.name]["sizes"] = sizes
    log("  sizes: OCI layout %s (%d files, %s allocated) = %.4f x unique blob bytes %s; skopeo dir tree %s "
        "(%d files) = %.3f x unique" % (
            W.human(lay_app), lay_files, W.human(lay_alloc), lay_app / wl.unique_bytes, W.human(wl.unique_bytes),
            W.human(tree_app), tree_files, tree_app / wl.unique_bytes))
    bench.results.row(wl.name, "layout/unique", lay_app / wl.unique_bytes, tree_app / wl.unique_bytes,
                      TARGETS["layout/unique"], wl.unique_bytes,
                      "OCI layout bytes / unique blob bytes (skopeo col: its dir tree)", extra={"sizes": sizes})


def from_disk(bench: Bench, wl: W.Workload, n: int, tree: Path, layout: Path) -> None:
    """(a) disk -> registry: the seed's dir: -> docker loop (2.5) against the module from the
    layout (no link: the source is local; no skopeo sync row)."""
    digest_of_dir = {str(tree / ref.split("/", 1)[1]): item for ref, item in zip(bench.refs(wl), wl.images)}
    by_digest = {item.digest: item for item in wl.images}
    problems = bench.results.problems

    def skopeo_fn(i: int) -> Accounted:
        reg = bench.bed.new_registry("%s-skopeo-d2r-%d" % (wl.name, i))
        script = bench.bed.script("%s-d2r-%d" % (wl.name, i), _D2R_LOOP % (quote(tree), reg.host))
        out = bench.runner.skopeo_loop("d2r-%d" % i, wl.name, script, reg, source=False)
        expected: Expected = []
        for line in Path(out["res"]["stdout"]).read_text(encoding="utf-8").splitlines():
            if line.startswith("PUSHED "):
                _pushed, rel, dst = line.split(" ", 2)
                item = digest_of_dir[str(tree / rel)]
                repo, tag = dst.split("/", 1)[1].rsplit(":", 1)
                expected.append((repo, tag, item.digest, item.image))
        if len(expected) != len(wl.images):
            problems.append("skopeo disk->r pushed %d of %d images" % (len(expected), len(wl.images)))
        out["verify"] = bench.verify.registry("%s skopeo disk->r" % wl.name, reg, expected)
        bench.bed.drop(reg)
        return out

    def ours_fn(i: int) -> Accounted:
        reg = bench.bed.new_registry("%s-ours-d2r-%d" % (wl.name, i))
        out = bench.runner.ours_run("d2r-%d" % i, wl.name, {
            "src": "oci:%s" % layout, "images": ["all"], "dest": reg.host, "insecure_registries": [reg.host],
            "mirror_map": str(bench.bed.work / "maps" / ("%s-d2r-%d.yml" % (wl.name, i)))}, reg, source=False)
        expected: Expected = []
        for entry in out["res"]["result"]["images"]:
            item = by_digest.get(entry["digest"])
            if item is None:
                problems.append("disk->r ours: unexpected image %s" % entry)
                continue
            repo, tag = entry["destination"].split("/", 1)[1].rsplit(":", 1)
            expected.append((repo, tag, item.digest, item.image))
        if len(expected) != len(wl.images):
            problems.append("ours disk->r pushed %d of %d images" % (len(expected), len(wl.images)))
        out["verify"] = bench.verify.registry("%s ours disk->r" % wl.name, reg, expected)
        bench.bed.drop(reg)
        return out

    paired(bench, "%s disk->r" % wl.name, wl, n, skopeo_fn, [("", ours_fn)], TARGETS.get("%s disk->r" % wl.name),
           "disk -> registry (oci: vs dir: loop)", link_bytes=0)
