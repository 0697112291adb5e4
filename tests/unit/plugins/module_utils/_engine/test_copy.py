"""Copying a resolved plan into an OCI layout (no registry needed; see conftest.py)."""

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.copy import (SMALL_BLOB, Copier, estimate,
                                                                                 preflight_space, space_margin)
from ansible_collections.airgap.mirror.plugins.module_utils._common.space import SPACE_MARGIN_MIN
from ansible_collections.airgap.mirror.plugins.module_utils._engine.job import Status
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs, resolve
from ansible_collections.airgap.mirror.plugins.module_utils._oci.manifest import Descriptor

REF = "quay.io/org/app:1"  # the image of the source fixture


@pytest.fixture
def planned(source, tmp_path):
    path, digest = source
    pool = ClientPool()
    jobs, failed = build_jobs([REF], "oci:%s" % (tmp_path / "out"), pool, src="oci:%s" % path)
    assert not failed
    resolve(jobs, attachments=False)
    yield jobs, digest
    pool.close()


def test_space_margin():
    assert space_margin(0) == SPACE_MARGIN_MIN
    assert space_margin(1000 * SPACE_MARGIN_MIN) == 10 * SPACE_MARGIN_MIN


def test_estimate_and_preflight_count_what_the_layout_lacks(planned, tmp_path):
    jobs, _digest = planned
    job = jobs[0]
    nbytes, nblobs = estimate(jobs)
    assert nblobs == len(job.blobs) == 4 and nbytes == sum(d.size for d in job.blobs.values())
    needed = preflight_space(jobs)
    # every blob and manifest, each rounded up to a block of the file system
    assert list(needed) == [str(tmp_path / "out")] and needed[str(tmp_path / "out")] >= job.size


def test_only_blobs_over_the_small_size_count_against_concurrency(planned):
    jobs, _digest = planned
    job = jobs[0]
    copier = Copier(concurrency=2, light=16)
    small = next(iter(job.blobs.values()))
    assert small.size <= SMALL_BLOB
    assert not copier._copy_task(job, job.dest, small).heavy  # pylint: disable=protected-access
    large = Descriptor(small.media_type, "sha256:" + "a" * 64, SMALL_BLOB + 1)
    assert copier._copy_task(job, job.dest, large).heavy  # pylint: disable=protected-access
    scheduler = copier._scheduler()  # pylint: disable=protected-access
    assert (scheduler.workers, scheduler.heavy_limit) == (16, 2)
    assert Copier(concurrency=8)._scheduler().workers == 8  # pylint: disable=protected-access
    assert Copier(concurrency=8, light=4)._scheduler().workers == 8  # never fewer than concurrency  # pylint: disable=protected-access


def test_copy_writes_blobs_before_the_ref(planned, tmp_path):
    jobs, digest = planned
    copier = Copier(concurrency=2)
    counts = copier.run(jobs)
    job = jobs[0]
    assert job.status is Status.COPIED and job.error is None
    assert counts == {"copied": 4, "mounted": 0, "skipped": 0, "manifests": 3}
    assert job.bytes == sum(d.size for d in job.blobs.values()) and job.started is not None
    out = Layout(str(tmp_path / "out"))
    assert out.find(REF).digest == digest
    assert all(out.has_blob(d.digest, d.size) for d in job.blobs.values())
