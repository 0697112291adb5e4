import json

from ansible_collections.airgap.mirror.plugins.module_utils._engine.job import IN_PLACE, ImageJob, Status, iter_jobs
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import (RegistryDestination,
                                                                                     parse_destination)
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError

D = "sha256:" + "1" * 64


def test_statuses_are_the_strings_of_the_return():
    assert [s.value for s in Status] == ["pending", "present", "copy", "copied", "would_copy", "failed", "deferred",
                                         "other_shard"]
    assert Status.COPIED == "copied" and str(Status.OTHER_SHARD) == "other_shard"
    assert json.dumps({"status": Status.WOULD_COPY}) == '{"status": "would_copy"}'
    assert IN_PLACE == (Status.PRESENT, Status.COPIED)


def test_a_failed_job_names_its_image():
    job = ImageJob("quay.io/a/b:1", None, None, None, None)
    assert job.status is Status.PENDING and job.target is None and job.destination is None
    job.fail("boom")
    assert job.status is Status.FAILED and isinstance(job.error, OCIError) and "boom" in str(job.error)


def test_registry_targets_are_the_destinations():
    pool = ClientPool()
    try:
        jobs, _failed = build_jobs(["quay.io/org/app:1.0", "quay.io/org/app@" + D,
                                    {"src": "quay.io/org/x@" + D, "dest": "mirror:5000/x@" + D}], "mirror:5000/ns",
                                   pool)
    finally:
        pool.close()
    for job in jobs:
        assert isinstance(job.target, RegistryDestination)
        assert str(job.target) == job.destination and parse_destination(job.destination) == job.target
    assert jobs[2].target.ref.digest == D and jobs[2].target.ref.tag is None


def test_iter_jobs_gives_attachments_after_their_image():
    a, b = ImageJob("a", None, None, None, None), ImageJob("b", None, None, None, None)
    att = ImageJob("a.sig", None, None, None, None, parent=a)
    a.attachments.append(att)
    assert list(iter_jobs([a, b])) == [a, att, b]
