"""The plan file and the refusal of a plan older than the mirror (no registry: the state is given)."""

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._prune import apply as A
from ansible_collections.airgap.mirror.plugins.module_utils._prune.plan import make_plan
from ansible_collections.airgap.mirror.plugins.module_utils._inventory.model import Inventory, ManifestRecord, Repository

D = "sha256:" + "a" * 64
E = "sha256:" + "e" * 64
IMAGE = "application/vnd.oci.image.manifest.v1+json"


def mirror(*digests):
    repo = Repository("app", {"t%d" % i: d for i, d in enumerate(digests)},
                      {d: ManifestRecord(d, IMAGE, 10) for d in digests})
    return Inventory("mirror:5000", "2026-12-06T00:00:00Z", {"kind": "repositories"}, repositories={"app": repo})


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "plan.json"
    doc = make_plan(mirror(D), {}, "fp-old").to_dict()
    assert A.write(str(path), doc, check_mode=False)
    assert not A.write(str(path), doc, check_mode=False)  # same plan, same bytes: unchanged
    return str(path)


def test_a_plan_applies_to_the_state_it_was_made_from(plan_file):
    doc = A.load(plan_file)
    assert A.check_current(doc, mirror(D), "fp-old", plan_file)


def test_a_plan_older_than_the_mirror_is_refused_with_both_fingerprints(plan_file):
    doc = A.load(plan_file)
    with pytest.raises(A.PruneError, match=r"older than the mirror's current state.*fp-old when planned, fp-new now"):
        A.check_current(doc, mirror(D, E), "fp-new", plan_file)


def test_a_plan_whose_manifests_are_all_gone_was_applied_already(plan_file):
    doc = A.load(plan_file)
    assert not A.check_current(doc, mirror(E), "fp-after", plan_file)


def test_a_plan_for_another_registry_is_refused(plan_file):
    doc = A.load(plan_file)
    other = mirror(D)
    other.registry = "other:5000"
    with pytest.raises(A.PruneError, match="made for mirror:5000, not other:5000"):
        A.check_current(doc, other, "fp-old", plan_file)


def test_bad_plan_files_are_named(tmp_path):
    with pytest.raises(A.PruneError, match="no plan file at .*missing.json"):
        A.load(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(A.PruneError, match="bad.json is not JSON"):
        A.load(str(bad))
    bad.write_text(json.dumps({"format": "airgap.mirror/prune-plan/v1", "registry": "m", "fingerprint": "f",
                               "manifests": [{"repository": "app"}]}))
    with pytest.raises(A.PruneError, match=r"manifests\[0\] needs a repository and a digest"):
        A.load(str(bad))
