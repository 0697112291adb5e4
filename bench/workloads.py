"""Deterministic benchmark workloads, written as OCI image layouts (stdlib + the test bed's builders).

Every layer is an **uncompressed tar** (media type ``application/vnd.oci.image.layer.v1.tar``)
holding one file of pseudo-random bytes from ``random.Random(seed)``: incompressible, so no
tool gets anything cheaper than it looks, and valid tars, so nothing is "gzip-labelled noise".
The same spec always gives the same digests.

Workloads (sizes in decimal MB; ``--quick`` shrinks them, see :data:`QUICK`):

``a`` "release": 16 multi-arch images (linux/amd64 + linux/arm64 index, OCI). Per architecture
    one *base* layer shared by all 16, one *runtime* layer shared by each group of
    ``group_size`` images, and a small *top* layer unique to the image. The numbers are chosen
    so that the unique bytes are about 450 MB and the per-image total (what a per-image store
    such as skopeo's ``dir:`` tree holds) about 1.6 GB.
``b`` "catalog": ``count`` small single-arch images (OCI manifest) on one shared base layer.
``c`` "large": one single-arch image whose only layer holds ``size`` bytes (600 MiB).

Usage::

    spec = FULL["a"]
    wl = build("a", spec, Path("/tmp/gen/a"))     # -> Workload
    wl.images           # [BenchImage(repo, tag, image)], image is support.images.Image
    wl.unique_bytes     # every distinct blob (layers, configs, manifests, indexes) once
    wl.per_image_bytes  # sum over images of each image's distinct blobs (a per-image store)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

from support.images import Image, OCILayout, add_large_layer, build_image, build_index  # noqa: E402

MB = 1000 * 1000
MIB = 1024 * 1024
ARCHES = ("linux/amd64", "linux/arm64")

FULL = {
    "a": {"images": 16, "group_size": 2, "base": 30 * MB, "runtime": 15 * MB, "top": 4_700_000},
    "b": {"count": 150, "base": 4 * MB, "top": 100_000},
    "c": {"size": 600 * MIB},
}
QUICK = {
    "a": {"images": 16, "group_size": 2, "base": 1_500_000, "runtime": 750_000, "top": 235_000},
    "b": {"count": 30, "base": 1 * MB, "top": 20_000},
    "c": {"size": 64 * MIB},
}
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class BenchImage:
    """One image of a workload: where it goes in the source registry, and what it is."""

    repo: str
    tag: str
    image: Image

    @property
    def digest(self) -> str:
        return self.image.digest


@dataclass
class Workload:
    """A workload's images in its generated OCI layout, and how to describe it."""

    name: str
    title: str
    spec: dict
    layout: OCILayout
    images: list[BenchImage] = field(default_factory=list)
    layers: dict[str, int] = field(default_factory=dict)  # role -> count, for the description
    by_digest: bool = False  # reference the images by digest (as the MicroShift release does)

    @property
    def unique_blobs(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.images:
            out.update(item.image.blobs())
        return out

    @property
    def unique_bytes(self) -> int:
        return sum(self.unique_blobs.values())

    @property
    def per_image_bytes(self) -> int:
        return sum(item.image.total_size for item in self.images)

    def describe(self) -> str:
        return "%s: %d images, unique %s (%d bytes), per-image total %s (%d bytes)" % (
            self.title, len(self.images), human(self.unique_bytes), self.unique_bytes,
            human(self.per_image_bytes), self.per_image_bytes)


def _seed(*parts: object) -> int:
    """A stable integer seed from readable parts (hash() is salted per process)."""
    text = "/".join(str(p) for p in parts)
    value = 0
    for ch in text.encode():
        value = (value * 131 + ch) % (1 << 61)
    return value


def build(name: str, spec: dict, path: Path) -> Workload:
    path.mkdir(parents=True, exist_ok=True)
    layout = OCILayout(path)
    return {"a": _release, "b": _catalog, "c": _large}[name](spec, layout)


def _release(spec: dict, layout: OCILayout) -> Workload:
    wl = Workload("a", "release (16 multi-arch images, shared base + runtime layers)", spec, layout,
                  by_digest=True)
    bases = {arch: add_large_layer(layout, spec["base"], seed=_seed("a", "base", arch), name="base.bin")
             for arch in ARCHES}
    groups = -(-spec["images"] // spec["group_size"])
    runtimes = {(g, arch): add_large_layer(layout, spec["runtime"], seed=_seed("a", "runtime", g, arch),
                                           name="runtime.bin")
                for g in range(groups) for arch in ARCHES}
    for i in range(spec["images"]):
        members = []
        for arch in ARCHES:
            top = add_large_layer(layout, spec["top"], seed=_seed("a", "top", i, arch), name="app.bin")
            members.append(build_image(layout, None, layers=[bases[arch], runtimes[(i // spec["group_size"], arch)], top],
                                       platform=arch, cmd=["/app.bin"],
                                       labels={"org.opencontainers.image.title": "app-%02d" % i}))
        ref = "app-%02d" % i
        index = build_index(layout, ref, members)
        wl.images.append(BenchImage("bench/release/app-%02d" % i, "4.18.%d" % i, index))
    wl.layers = {"base": len(bases), "runtime": len(runtimes), "top": spec["images"] * len(ARCHES)}
    return wl


def _catalog(spec: dict, layout: OCILayout) -> Workload:
    wl = Workload("b", "catalog (%d small single-arch images, one shared base)" % spec["count"], spec, layout)
    base = add_large_layer(layout, spec["base"], seed=_seed("b", "base"), name="base.bin")
    for i in range(spec["count"]):
        top = add_large_layer(layout, spec["top"], seed=_seed("b", "top", i), name="app.bin")
        ref = "img-%03d" % i
        image = build_image(layout, ref, layers=[base, top], platform="linux/amd64")
        wl.images.append(BenchImage("bench/catalog/img-%03d" % i, "1.0", image))
    wl.layers = {"base": 1, "top": spec["count"]}
    return wl


def _large(spec: dict, layout: OCILayout) -> Workload:
    wl = Workload("c", "large (one image, one %s layer)" % human(spec["size"], binary=True), spec, layout)
    layer = add_large_layer(layout, spec["size"], seed=_seed("c", "big"), name="big.bin")
    image = build_image(layout, "big", layers=[layer], platform="linux/amd64")
    wl.images.append(BenchImage("bench/large/big", "600m", image))
    wl.layers = {"big": 1}
    return wl


def human(nbytes: float, binary: bool = False) -> str:
    step, units = (1024.0, ("B", "KiB", "MiB", "GiB")) if binary else (1000.0, ("B", "kB", "MB", "GB"))
    value = float(nbytes)
    for unit in units:
        if abs(value) < step or unit == units[-1]:
            return ("%d %s" % (value, unit)) if unit == "B" else ("%.1f %s" % (value, unit))
        value /= step
    return "%d B" % nbytes
