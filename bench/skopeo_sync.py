"""``skopeo sync``: the other way skopeo users mirror a list of images, timed next to the seed's
per-image loop on the same source registry (behind the link, when there is one).

One ``skopeo sync --all --preserve-digests --src yaml`` per run, from a YAML file naming every
image of the workload under the source registry (tags, or digests for the digest-referenced
release), into a fresh registry (``--dest docker``) or directory (``--dest dir``). Without
``--scoped`` skopeo sync keeps only the last component of a repository, so the destination is the
workloads' common prefix (``HOST/bench/catalog``) and the images land where ours do, under a tag
(catalog) or by digest only (release: skopeo sync pushes a digest reference without a tag).
"""

from __future__ import annotations

import json
import posixpath
import shutil
from pathlib import Path

import workloads as W
from context import Bench
from measure import quote, sync_files
from runners import Accounted
from verify import Expected

_SYNC = """
skopeo sync --all --preserve-digests --src yaml --dest %s %s %s %s
"""


def _reference(wl: W.Workload, item: W.BenchImage) -> str:
    """What the YAML lists for an image: its digest for the release, its tag otherwise."""
    return item.digest if wl.by_digest else item.tag


def _prefix(wl: W.Workload) -> str:
    """The repositories' common parent (``bench/catalog``): skopeo sync keeps only the last part."""
    parents = {posixpath.dirname(item.repo) for item in wl.images}
    if len(parents) != 1:
        raise ValueError("workload %s has images under several parents: %s" % (wl.name, sorted(parents)))
    return parents.pop()


def yaml_source(bench: Bench, wl: W.Workload) -> Path:
    """The ``--src yaml`` file: every image of the workload under the source registry (JSON is
    YAML)."""
    images: dict[str, list[str]] = {}
    for item in wl.images:
        images.setdefault(item.repo, []).append(_reference(wl, item))
    path = bench.bed.work / ("%s.sync.yml" % wl.name)
    path.write_text(json.dumps({bench.bed.src.host: {"tls-verify": False, "images": images}}, indent=1) + "\n",
                    encoding="utf-8")
    return path


def expected(wl: W.Workload) -> Expected:
    """Where skopeo sync puts each image in a registry: the same repository, tag or digest."""
    return [(item.repo, _reference(wl, item), item.digest, item.image) for item in wl.images]


def script(bench: Bench, wl: W.Workload, name: str, dest: str, target: str) -> Path:
    """The bash script of one sync into ``target`` (``dest`` is docker or dir)."""
    flags = "--dest-tls-verify=false" if dest == "docker" else ""
    return bench.bed.script(name, _SYNC % (dest, flags, quote(yaml_source(bench, wl)), quote(target)))


def r2r(bench: Bench, wl: W.Workload, tag: str, keep: bool = False) -> Accounted:
    """A fresh registry and one ``skopeo sync --dest docker`` of the workload into it."""
    reg = bench.bed.new_registry("%s-sync-%s" % (wl.name, tag))
    sync_script = script(bench, wl, "%s-sync-%s" % (wl.name, tag), "docker", "%s/%s" % (reg.host, _prefix(wl)))
    out = bench.runner.skopeo_loop("sync-%s" % tag, wl.name, sync_script, reg)
    out["verify"] = bench.verify.registry("%s skopeo sync %s" % (wl.name, tag), reg, expected(wl))
    out.update(reg=reg, script=sync_script)
    if not keep:
        bench.bed.drop(reg)
    return out


def again(bench: Bench, wl: W.Workload, tag: str, kept: Accounted) -> Accounted:
    """The same sync again into the registry that already holds everything (a no-op re-run)."""
    return bench.runner.skopeo_loop("sync-%s" % tag, wl.name, kept["script"], kept["reg"])


def r2d(bench: Bench, wl: W.Workload, tag: str) -> Accounted:
    """One ``skopeo sync --dest dir`` of the workload into a fresh directory (removed after the
    digest checks); the fsync of its files is measured as for the loop, not counted."""
    tree = bench.bed.work / ("%s-sync-tree-%s" % (wl.name, tag))
    sync_script = script(bench, wl, "%s-sync-%s" % (wl.name, tag), "dir", str(tree / _prefix(wl)))
    out = bench.runner.skopeo_loop("sync-%s" % tag, wl.name, sync_script)
    out["res"]["sync_after"] = sync_files(tree)
    pairs = [(tree / _prefix(wl) / (posixpath.basename(item.repo) + ("@" if wl.by_digest else ":")
                                    + _reference(wl, item)), item.digest) for item in wl.images]
    out["verify"] = bench.verify.dirs("%s skopeo sync r->disk" % wl.name, pairs)
    shutil.rmtree(tree, ignore_errors=True)
    return out
