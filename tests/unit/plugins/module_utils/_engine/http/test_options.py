import dataclasses

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import ClientOptions, Shared, Stats
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.tls import CERTS_DIRS


def test_build_normalises_registries_and_keeps_defaults():
    options = ClientOptions.build(insecure_registries=["Index.Docker.io", "Mirror:5000"], certs_dirs=None,
                                  retries=2, chunked_threshold=1024)
    assert options.insecure("docker.io") and options.insecure("mirror:5000") and not options.insecure("quay.io")
    assert options.certs_dirs == CERTS_DIRS
    assert (options.retries, options.chunked_threshold, options.timeout) == (2, 1024, 60.0)
    assert ClientOptions.build(certs_dirs=["/x"]).certs_dirs == ("/x",)


def test_options_are_a_frozen_value():
    options = ClientOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.timeout = 1  # type: ignore[misc]
    assert options == ClientOptions.build()
    with pytest.raises(TypeError):
        ClientOptions.build(no_such_setting=1)


def test_shared_state_counts():
    shared = Shared()
    shared.stats.add(requests=2, bytes_down=10)
    assert shared.stats.as_dict() == {"requests": 2, "retries": 0, "bytes_downloaded": 10, "bytes_uploaded": 0}
    assert not shared.cancel.is_set() and shared.deadline.remaining() is None
    assert isinstance(Shared().stats, Stats) and Shared().stats is not shared.stats


def test_requests_are_counted_per_registry_too():
    stats = Stats()
    for registry in ("quay.io", "mirror:5000", "quay.io"):
        stats.request(registry)
    assert stats.by_registry() == {"mirror:5000": 1, "quay.io": 2}
    assert stats.as_dict()["requests"] == 3
