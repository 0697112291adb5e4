from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import ClientOptions, Shared
from ansible_collections.airgap.mirror.plugins.module_utils._engine.registry import RegistryClient


def test_client_takes_its_settings_from_options():
    options = ClientOptions.build(insecure_registries=["mirror:5000"], chunk_size=10, chunked_threshold=20,
                                  upload_chunk_size=30, probe_max=40, retries=7)
    with RegistryClient("mirror:5000", options) as client:
        assert client.insecure and client.endpoint == "mirror:5000"
        assert (client.chunk_size, client.chunked_threshold, client.upload_chunk_size, client.probe_max) == \
            (10, 20, 30, 40)
        assert client.retry.attempts == 7 and client.referrers_api is None and client.mount_probe


def test_clients_share_what_they_are_given():
    shared = Shared()
    with RegistryClient("docker.io", shared=shared) as one, RegistryClient("quay.io", shared=shared) as two:
        assert one.stats is two.stats is shared.stats and one.cancel is shared.cancel
        assert one.endpoint == "registry-1.docker.io" and not one.insecure
