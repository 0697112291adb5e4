from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import ClientOptions
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.retry import Deadline
from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool


def test_pool_builds_one_client_per_registry_from_its_options():
    store = CredentialStore(use_default_files=False)
    deadline = Deadline(100)
    pool = ClientPool(ClientOptions.build(credentials=store, insecure_registries=["mirror:5000"], retries=3,
                                          upload_chunk_size=4096), deadline=deadline)
    try:
        mirror, quay = pool.get("mirror:5000"), pool.get("quay.io")
        assert pool.get("mirror:5000") is mirror
        assert mirror.insecure and not quay.insecure
        assert mirror.retry is quay.retry and mirror.retry.attempts == 3
        assert mirror.stats is quay.stats is pool.stats
        assert mirror.deadline is deadline is pool.deadline and mirror.cancel is pool.cancel
        assert mirror.upload_chunk_size == 4096 and mirror.auth.store is store
    finally:
        pool.close()


def test_pool_takes_keyword_settings():
    pool = ClientPool(insecure_registries=["Mirror:5000"], retries=2, timeout=5, certs_dirs=None,
                      chunked_threshold=1 << 20)
    try:
        assert pool.options.insecure("mirror:5000") and pool.options.timeout == 5
        assert pool.get("mirror:5000").chunked_threshold == 1 << 20 and pool.shared.retry.attempts == 2
        assert isinstance(pool.options.credentials, CredentialStore)
    finally:
        pool.close()
