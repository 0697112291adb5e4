"""Resolving, first run and re-run with the mirror map as lockfile: which look-ups an image costs,
and that they do not wait for one another. Real registries behind fault proxies (which record when
each request arrived and when its answer left), skopeo as the judge of what the mirror serves."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, State
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror

from support import images as I
from support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

#: seconds every look-up's answer is held back
HELD = 0.4


def _one(exchanges: list) -> object:
    assert len(exchanges) == 1, [(e.method, e.path) for e in exchanges]
    return exchanges[0]


def _side_by_side(look_ups: list) -> None:
    """Each of *look_ups* arrived before any of them was answered (one after another, the last
    would arrive after the first was answered)."""
    assert max(e.started for e in look_ups) < min(e.ended for e in look_ups), \
        [(e.method, e.path, e.started, e.ended) for e in look_ups]


def test_an_images_look_ups_go_out_side_by_side(tmp_path, registry_factory, skopeo):
    """The source's manifest (HEAD on a re-run with the lockfile), its repository's tag list (where
    signatures show) and the mirror's HEAD of one image do not depend on one another: each is sent
    before any of the others is answered, so an image costs one round trip to each registry, not
    three in a row. An image that resolves costs no extra request: one whose tag moved is resolved
    in full with the mirror's answer already in hand."""
    src, dest = registry_factory(), registry_factory()
    layout = I.OCILayout(tmp_path / "oci")
    images = {n: I.build_image(layout, None, layers=[{"f": "image %d\n" % n}]) for n in range(3)}
    for n, image in images.items():
        I.push_http(image, src, "org/app%d" % n, "1.0")
    with FaultProxy(src).start() as sp, FaultProxy(dest).start() as dp:
        refs = ["%s/org/app%d:1.0" % (sp.host, n) for n in images]

        def run(lock: object = None) -> dict:
            pool = ClientPool(credentials=CredentialStore(use_default_files=False),
                              insecure_registries=[sp.host, dp.host])
            try:
                return mirror(MirrorRequest(refs, dp.host, state=State(lock=lock, previous=lock)), pool=pool)
            finally:
                pool.close()

        for proxy, method, path in ((sp, "HEAD", r"/manifests/"), (sp, "GET", r"/manifests/"),
                                    (sp, "GET", r"/tags/list"), (dp, "HEAD", r"/manifests/")):
            proxy.add_rule(method, path, delay=HELD, times=None)
        first = run()
        assert first["failed"] == [] and [i["status"] for i in first["images"]] == ["copied"] * 3
        for n in images:
            _side_by_side([_one(sp.exchanges("GET", r"/org/app%d/manifests/1.0$" % n)),
                           _one(sp.exchanges("GET", r"/org/app%d/tags/list" % n)),
                           _one(dp.exchanges("HEAD", r"/org/app%d/manifests/1.0$" % n))])

        ms, md = sp.mark(), dp.mark()
        again = run(first["map"])
        assert again["failed"] == [] and not again["changed"]
        assert [i["status"] for i in again["images"]] == ["present"] * 3
        for n in images:
            _side_by_side([_one(sp.exchanges("HEAD", r"/org/app%d/manifests/1.0$" % n, since=ms)),
                           _one(sp.exchanges("GET", r"/org/app%d/tags/list" % n, since=ms)),
                           _one(dp.exchanges("HEAD", r"/org/app%d/manifests/1.0$" % n, since=md))])

        # app0:1.0 moves upstream: resolved in full (its manifest fetched), copied, and the mirror's
        # HEAD sent beside the source's is the only one it costs
        moved = I.build_image(layout, None, layers=[{"f": "moved\n"}])
        I.push_http(moved, src, "org/app0", "1.0")
        ms, md = sp.mark(), dp.mark()
        third = run(again["map"])
        assert [i["status"] for i in third["images"]] == ["copied", "present", "present"], third["images"]
        assert len(dp.exchanges("HEAD", r"/org/app0/manifests/1.0$", since=md)) == 1
        assert len(sp.exchanges("GET", r"/org/app0/tags/list", since=ms)) == 1
        assert len(sp.exchanges("GET", r"/org/app0/manifests/", since=ms)) == 1
    assert skopeo.digest_of("docker://%s/org/app0:1.0" % dest.host, registry=dest) == moved.digest
    for n in (1, 2):
        assert skopeo.digest_of("docker://%s/org/app%d:1.0" % (dest.host, n), registry=dest) == images[n].digest
