"""Helpers of the bundle tests: layouts built by the test bed (tests/support/images.py), parts on disk,
hand-made hostile tar streams. No daemons, no mocks."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.names import FORMAT, TAR_WRITER
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.pack import pack as pack_bundle
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.plan import PackPlan, plan_pack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import REF_NAME, Layout
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import Entry, parse_destination
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference

from support import images as I

KiB = 1024


def sha(data):
    return hashlib.sha256(data).hexdigest()


def all_blobs(images):
    out = {}
    for image in images.values():
        out.update(image.blobs())
    return out


def part_paths(bundle_dir, report):
    return [os.path.join(bundle_dir, p["name"]) for p in report["parts"]]


def refs(layout_path):
    """The layout's ref names and digests; {} when there is no layout (yet)."""
    if not os.path.exists(os.path.join(layout_path, "oci-layout")):
        return {}
    return {name: desc.digest for name, desc in Layout(layout_path).entries()}


def pack(layout, bundle_dir, **kwargs):
    opts = {k: kwargs.pop(k) for k in ("name", "part_size", "images", "mirror_map", "previous") if k in kwargs}
    opts.setdefault("part_size", "64K")
    return pack_bundle(plan_pack(str(layout), **opts), str(bundle_dir), **kwargs)


def map_entry(source, img, destination):
    """A mirror map entry (``_mirrormap/model.py``) for the test-bed image *img*."""
    return Entry(reference.parse(source), img.digest, img.media_type, parse_destination(destination),
                 size=img.total_size)


def _info(name, size=0, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mode = size, kind, linkname, 0o644
    return info


def crafted_bundle(directory, entries, fmt=tarfile.GNU_FORMAT, mangle=None):
    """A one-part bundle around a hand-made tar whose manifest checksums MATCH (the attacker wrote
    both), listing one real image so that only the member checks can stop it. *mangle* edits the
    tar bytes before the checksums are taken."""
    directory.mkdir()
    layout = I.OCILayout(directory / "src")
    img = I.build_image(layout, "good", layers=[{"a": "1"}])
    blobs = img.blobs()
    members = []
    for digest in sorted(blobs):
        members.append((_info("blobs/sha256/" + digest[7:], blobs[digest]),
                        layout.blob_path(digest).read_bytes()))
    members = entries(members)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    stream = buf.getvalue()
    if mangle is not None:
        stream = mangle(stream)
    (directory / "images.tar.0001").write_bytes(stream)
    doc = {
        "format": FORMAT, "name": "images",
        "tar": {"writer": TAR_WRITER, "split": "bytes", "part_size": len(stream), "size": len(stream)},
        "parts": [{"name": "images.tar.0001", "size": len(stream), "sha256": sha(stream)}],
        "images": [{"ref_name": "good", "digest": img.digest, "media_type": img.media_type, "size": img.size,
                    "blobs": sorted(blobs)}],
        "blobs": [{"digest": d, "size": s} for d, s in sorted(blobs.items())],
        "blob_bytes": sum(blobs.values()), "assumed_present": [], "assumed_bytes": 0,
        "previous": None, "mirror_map": None,
    }
    (directory / "images.bundle.json").write_text(json.dumps(doc))
    assert verify(str(directory))["valid"]
    return img


def _index(img):
    return json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": img.media_type, "digest": img.digest,
                                                          "size": img.size,
                                                          "annotations": {REF_NAME: "good"}}]}).encode()


def self_consistent_bundle(directory, layout_dir, ref_name):
    """A bundle whose manifest and tar ``index.json`` both name the image *ref_name*, with correct
    checksums (an attacker who writes the whole bundle, or a packer that does not check names)."""
    layout = I.OCILayout(layout_dir)
    img = I.build_image(layout, "example.com/app:1", layers=[{"app": "1"}])
    plan = plan_pack(str(layout_dir), part_size="64K")
    plan.graphs[0].ref_name = ref_name
    forged = PackPlan(plan.layout, plan.name, plan.part_size, plan.graphs, plan.blobs, [], plan.owners, None,
                      None, [])
    pack_bundle(forged, str(directory))
    return img


BAD_REF_NAMES = ["../../../../etc/passwd", "with space", "quay.io/org/app:1 ", "a\nb", "/etc/passwd", "a//b"]
