"""Resolving images from a real OCI layout on disk (no registry needed)."""

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._engine.job import Status
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs, resolve
from ansible_collections.airgap.mirror.plugins.module_utils._engine.report import map_entries
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import LayoutDestination

REF = "quay.io/org/app:1"


@pytest.fixture
def pool():
    p = ClientPool()
    yield p
    p.close()


def test_a_layout_image_resolves_to_its_graph(source, tmp_path, pool):
    path, digest = source
    jobs, failed = build_jobs([REF], "oci:%s" % (tmp_path / "out"), pool, src="oci:%s" % path)
    assert not failed
    resolve(jobs, attachments=False)
    job = jobs[0]
    assert job.status is Status.COPY and job.digest == digest and job.media_type == M.OCI_INDEX
    assert job.platforms == ["linux/amd64", "linux/arm64"]
    assert [m.digest for m in job.manifests][-1] == digest and len(job.manifests) == 3
    assert len(job.blobs) == 4 and job.size == sum(m.size for m in job.manifests) + sum(
        b.size for b in job.blobs.values())
    assert job.target == LayoutDestination(str(tmp_path / "out"), REF)
    assert str(job.target) == job.destination


def test_a_missing_child_names_the_index(source, tmp_path, pool):
    path, digest = source
    layout = Layout(str(path))
    index = json.loads(layout.read_blob(digest))
    child = index["manifests"][1]["digest"]
    (path / "blobs" / "sha256" / child[7:]).unlink()
    jobs, _failed = build_jobs([REF], "oci:%s" % (tmp_path / "out"), pool, src="oci:%s" % path)
    resolve(jobs, attachments=False)
    assert jobs[0].status is Status.FAILED
    assert "the index lists %s, which the source does not have" % child in str(jobs[0].error)


def test_the_lockfile_spares_a_resolution_only_when_the_destination_holds_the_image(source, tmp_path, pool):
    path, digest = source
    out = Layout(str(tmp_path / "out"), create=True)
    entry = {"source": REF, "digest": digest, "media_type": M.OCI_INDEX, "platforms": ["linux/amd64"],
             "size": 7, "destination": "oci:%s:%s" % (tmp_path / "out", REF), "attachments": []}
    lock = mirrormap_io.coerce([entry])
    jobs, _failed = build_jobs([REF], "oci:%s" % out.path, pool, src="oci:%s" % path)
    resolve(jobs, lock=lock, attachments=False)
    assert jobs[0].status is Status.COPY and not jobs[0].from_lock  # not in the destination yet
    data = Layout(str(path)).read_blob(digest)
    out.put_bytes(digest, data)
    out.set_refs([(REF, M.Descriptor(M.OCI_INDEX, digest, len(data)))])
    jobs, _failed = build_jobs([REF], "oci:%s" % out.path, pool, src="oci:%s" % path)
    resolve(jobs, lock=lock, attachments=False)
    job = jobs[0]
    assert job.status is Status.PRESENT and job.from_lock and job.size == 7 and job.platforms == ["linux/amd64"]
    entries, mirror_map, kept = map_entries(jobs, None)
    assert [e.to_dict() for e in entries] == [dict(entry, source_tag="1")] and list(mirror_map) == entries and kept == 0
