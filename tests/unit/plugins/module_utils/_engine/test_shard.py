from types import SimpleNamespace

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.job import Status
from ansible_collections.airgap.mirror.plugins.module_utils._engine.shard import Assignment, Shard, homes


def _dest(repo):
    return SimpleNamespace(key=("registry", "mirror:5000", repo), blob_scope=("registry", "mirror:5000"))


def _job(repo, blobs, status=Status.COPY, attachments=()):
    return SimpleNamespace(dest=_dest(repo), status=status, attachments=list(attachments),
                           blobs={d: SimpleNamespace(digest=d, size=n) for d, n in blobs})


def _release():
    base, runtime = ("sha256:base", 900), ("sha256:runtime", 500)
    return [_job("app%d" % i, [base, runtime, ("sha256:own%d" % i, 40 + 37 * i), ("sha256:cfg%d" % i, 2)])
            for i in range(12)]


@pytest.mark.parametrize("index, count, message", [
    (3, 3, "between 0 and shard_count - 1 (2), got 3"),
    (-1, 2, "got -1"),
    (0, 0, "shard_count must be at least 1"),
    ("x", 2, "must be integers"),
])
def test_shard_numbers_are_checked(index, count, message):
    with pytest.raises(OCIError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Shard(index, count)


def test_home_is_the_first_image_that_has_the_blob_present_or_not():
    jobs = _release()
    jobs[0].status = Status.PRESENT
    jobs[1].status = Status.FAILED
    found = homes(jobs)
    assert found[(jobs[0].dest.blob_scope, "sha256:base")].job is jobs[0]
    assert found[(jobs[0].dest.blob_scope, "sha256:own2")].job is jobs[2]
    assert (jobs[0].dest.blob_scope, "sha256:own1") not in found  # a failed image has no plan


def test_each_blob_has_one_owner_and_bytes_are_balanced():
    jobs = _release()
    for count in (1, 2, 3, 5):
        split = Assignment(jobs, count)
        sizes = {key: home.desc.size for key, home in split.homes.items()}
        assert sorted(split.blob_owner) == sorted(sizes)
        assert sum(split.loads) == sum(sizes.values())
        assert sum(split.blob_counts) == len(sizes)
        # largest-first to the least loaded: no worker is more than one largest blob behind
        assert max(split.loads) - min(split.loads) <= max(sizes.values())
        owned = [k for n in range(count) for k, _h in split.owned_blobs(n)]
        assert sorted(owned) == sorted(sizes)


def test_the_split_does_not_depend_on_what_the_destination_holds():
    """Workers resolve at different moments: an image pushed in between is present for one and
    to copy for another; both must compute the same owners."""
    early, late = _release(), _release()
    for job in late[:5]:
        job.status = Status.PRESENT
    a, b = Assignment(early, 3), Assignment(late, 3)
    assert a.blob_owner == b.blob_owner and a.loads == b.loads
    assert [a.image_owner[id(j)] for j in early] == [b.image_owner[id(j)] for j in late]


def test_images_go_round_robin_with_their_attachments():
    sig = _job("app0", [("sha256:sig", 10)])
    jobs = _release()
    jobs[4].attachments.append(sig)
    split = Assignment(jobs, 3)
    assert [split.image_owner[id(j)] for j in jobs] == [i % 3 for i in range(12)]
    assert split.owns_image(sig, 1) and not split.owns_image(sig, 0)
    assert split.summary(2)["assigned_images"] == 4
    assert split.summary(2)["bytes_per_shard"] == split.loads
