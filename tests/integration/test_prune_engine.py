"""The prune engine against real docker-registry instances, without Ansible: a registry that
refuses deletes stops the apply at the first DELETE with a message that says how to allow them,
and a manifest kept in one repository is deleted in another while garbage collection keeps its
blobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._inventory import read as R
from ansible_collections.airgap.mirror.plugins.module_utils._prune import apply as A
from ansible_collections.airgap.mirror.plugins.module_utils._prune.plan import make_plan

from support import images as I

pytestmark = pytest.mark.integration


def blob_files(registry) -> set[str]:
    root = Path(registry.storage) / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return {"sha256:" + data.parent.name for data in root.glob("*/*/data")}


@pytest.fixture
def seeded(sample_layout):
    def seed(reg):
        app = sample_layout.images["app-1.0"]
        db = sample_layout.images["db-15"]
        I.seed_registry(app, reg, "one/app", "1.0")
        I.seed_registry(app, reg, "two/app", "1.0")
        I.seed_registry(db, reg, "two/db", "15")
        return app, db
    return seed


def test_a_registry_that_refuses_deletes_is_named_with_the_setting(registry_factory, seeded, tmp_path):
    reg = registry_factory(delete=False)
    app, _db = seeded(reg)
    pool = ClientPool(insecure_registries=[reg.host])
    try:
        client = pool.get(reg.host)
        state = R.read_repositories(client)
        doc = make_plan(state, {"one/app": {app.digest}}, state.state_digest()).to_dict()
        path = str(tmp_path / "plan.json")
        A.write(path, doc, check_mode=False)
        doc = A.load(path)
        with pytest.raises(A.PruneError) as err:
            A.apply(doc, state, R.read_repositories(client).state_digest(), client, check_mode=False, path=path)
    finally:
        pool.close()
    text = str(err.value)
    assert "after 0 of %d deletions" % len(doc["manifests"]) in text
    assert "storage.delete.enabled: true (REGISTRY_STORAGE_DELETE_ENABLED=true)" in text
    assert reg.count("DELETE") == 1  # refused once, not retried


def test_a_manifest_kept_in_one_repository_goes_in_another_and_its_blobs_stay(registry_factory, seeded, tmp_path):
    reg = registry_factory()
    app, db = seeded(reg)
    pool = ClientPool(insecure_registries=[reg.host])
    try:
        client = pool.get(reg.host)
        state = R.read_repositories(client)
        plan = make_plan(state, {"one/app": {app.digest}}, state.state_digest())
        deleted = {(m.repository, m.digest) for m in plan.deletions}
        assert ("two/app", app.digest) in deleted and ("two/db", db.digest) in deleted
        assert not any(repo == "one/app" for repo, _d in deleted)
        assert set(plan.freed) == set(db.blobs()) - set(app.blobs())
        out = A.apply(plan.to_dict(), state, R.read_repositories(client).state_digest(), client, check_mode=False)
        assert len(out.deleted) == len(plan.deletions)
    finally:
        pool.close()
    before = blob_files(reg)
    reg.garbage_collect()
    assert before - blob_files(reg) == set(plan.freed)
    assert set(app.blobs()) <= blob_files(reg)
