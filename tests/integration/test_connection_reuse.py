"""Registry-to-registry copies keep their connections: a blob download that fed an upload is read
to the end of its response, so its connection goes back to the pool instead of being dropped."""

from __future__ import annotations

import collections
import socket

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import Limits, MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror

from support import images as I

pytestmark = pytest.mark.integration

LAYERS = 30
CONCURRENCY = 4


def test_blob_downloads_reuse_their_connections(tmp_path, registry_factory, monkeypatch):
    layout = I.OCILayout(tmp_path / "oci")
    image = I.build_image(layout, "many", layers=[{"f%d" % i: "layer %d\n" % i * 500} for i in range(LAYERS)])
    src, dest = registry_factory(), registry_factory()
    ref = I.seed_registry(image, src, "many/app", "v1")
    opened: collections.Counter[int] = collections.Counter()
    connect = socket.create_connection

    def counting(address, *args, **kwargs):
        opened[address[1]] += 1
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    pool = ClientPool(credentials=CredentialStore(use_default_files=False), insecure_registries=[src.host, dest.host])
    try:
        report = mirror(MirrorRequest([ref], dest.host + "/m", limits=Limits(concurrency=CONCURRENCY)), pool=pool)
    finally:
        pool.close()
    assert not report["failed"], report["failed"]
    assert report["images"][0]["digest"] == image.digest
    # the insecure probe, then one connection per worker at most (it was one per blob: LAYERS + 1);
    # these small blobs run on the light workers (small_requests, copy.SMALL_BLOB)
    workers = Limits(concurrency=CONCURRENCY).small_requests
    assert workers + 1 < LAYERS + 1
    assert opened[int(src.host.rsplit(":", 1)[1])] <= workers + 1, opened
