"""The image engine against real registries, with skopeo as the independent judge.

Sources are seeded with skopeo (never with the engine under test); every destination digest is
read back with skopeo and compared with the source digest.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from urllib.parse import unquote

from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore, Credentials
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, Naming, State
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool

from support import images as I
from support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def pool_for(dest=None, *sources, ca=True):
    creds = {}
    if dest is not None and dest.auth:
        creds[dest.host] = Credentials(dest.username, dest.password)
    return ClientPool(credentials=CredentialStore(explicit=creds, use_default_files=False),
                      ca_path=str(dest.ca_path) if (dest is not None and dest.tls and ca) else None,
                      insecure_registries=[s.host for s in (dest,) + sources if s is not None and not s.tls])


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """One layout with every kind the engine must copy faithfully."""
    layout = I.OCILayout(tmp_path_factory.mktemp("kinds") / "oci")
    base = I.add_layer(layout, {"etc/base": "shared base\n"})
    return layout, {
        "oci-image": I.build_image(layout, "oci-image", layers=[base, {"a": "1"}]),
        "oci-index": I.build_index(layout, "oci-index", base=base),
        "docker-image": I.build_image(layout, "docker-image", docker=True, layers=[base, {"b": "2"}]),
        "docker-list": I.build_index(layout, "docker-list", docker=True, base=base,
                                     platforms=("linux/amd64", "linux/arm64/v8", "linux/ppc64le")),
        "nested-index": I.build_nested_index(layout, "nested-index"),
        "zero-byte-layer": I.build_empty_layer_image(layout, "zero-byte-layer"),
    }


@pytest.fixture(scope="module")
def seeded(kinds, tmp_path_factory):
    """A plain source registry holding every kind, seeded with skopeo (push_http for the nested index)."""
    from support.registry import Registry
    reg = Registry(tmp_path_factory.mktemp("src-registry"))
    reg.start()
    layout, images = kinds
    refs = {name: I.seed_registry(img, reg, "kinds/%s" % name, "v1") for name, img in images.items()}
    yield reg, images, refs
    reg.stop()


def test_registry_to_tls_registry_every_kind(seeded, registry_factory, skopeo):
    src, images, refs = seeded
    dest = registry_factory(tls=True, auth=True)
    report = mirror(MirrorRequest(list(refs.values()), dest.host + "/mirror"), pool=pool_for(dest, src))
    assert not report["failed"], report["failed"]
    assert report["totals"]["copied"] == len(refs)
    by_source = {i["source"]: i for i in report["images"]}
    for name, ref in refs.items():
        result = by_source[ref]
        assert result["digest"] == images[name].digest
        target = "docker://%s/mirror/kinds/%s:v1" % (dest.host, name)
        assert skopeo.digest_of(target, registry=dest) == images[name].digest, name
        # every child of an index (and of a nested index) is there, by digest
        for member in images[name].manifests():
            raw = skopeo.inspect_raw("docker://%s/mirror/kinds/%s@%s" % (dest.host, name, member.digest),
                                     registry=dest)
            assert "sha256:" + hashlib.sha256(raw).hexdigest() == member.digest
    assert by_source[refs["docker-list"]]["platforms"] == ["linux/amd64", "linux/arm64/v8", "linux/ppc64le"]
    assert by_source[refs["nested-index"]]["platforms"] == ["linux/amd64", "linux/arm64", "linux/s390x"]
    # the shared base layer (in 4 repositories) went over the wire once and was mounted into the 3 others
    assert report["totals"]["blobs_mounted"] == 3
    assert len(dest.filter("POST", r"/blobs/uploads/\?.*mount=", status=201)) == 3
    # the 0-byte layer is a real blob in the destination
    empty = images["zero-byte-layer"].layers[1]
    assert empty.size == 0
    status, headers, _body = dest.request("HEAD", "/v2/mirror/kinds/zero-byte-layer/blobs/%s" % empty.digest)
    assert status == 200 and headers.get("Content-Length") == "0"


def test_registry_to_layout_and_skopeo_reads_it(seeded, tmp_path, registry_factory, skopeo):
    src, images, refs = seeded
    out = tmp_path / "layout"
    report = mirror(MirrorRequest(list(refs.values()), "oci:%s" % out), pool=pool_for(None, src))
    assert not report["failed"], report["failed"]
    # one shared blobs/ directory: every unique blob stored once, and nothing else
    stored = sorted(os.listdir(out / "blobs" / "sha256"))
    wanted = set()
    for img in images.values():
        wanted.update(img.blobs())
    assert set("sha256:" + s for s in stored) == wanted
    assert not (out / ".airgap-state").exists(), "resume state must be cleaned up after a complete copy"
    # every blob on disk hashes to its name
    for name in stored:
        data = (out / "blobs" / "sha256" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == name
    index = json.loads((out / "index.json").read_text())
    names = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    assert names == set(refs.values())
    # skopeo reads our layout (OCI media types; skopeo 1.9's oci: transport rejects Docker-typed entries)
    check = registry_factory()
    for name in ("oci-image", "oci-index", "zero-byte-layer"):
        skopeo.copy("oci:%s:%s" % (out, refs[name]), "docker://%s/back/%s:v1" % (check.host, name),
                    dest_registry=check)
        assert skopeo.digest_of("docker://%s/back/%s:v1" % (check.host, name), registry=check) == images[name].digest


def test_layout_to_registry_round_trip(seeded, tmp_path, registry_factory, skopeo):
    src, images, refs = seeded
    out = tmp_path / "layout"
    first = mirror(MirrorRequest(list(refs.values()), "oci:%s" % out), pool=pool_for(None, src))
    assert not first["failed"]
    dest = registry_factory(tls=True, auth=True)
    report = mirror(MirrorRequest(["all"], dest.host, src="oci:%s" % out), pool=pool_for(dest))
    assert not report["failed"], report["failed"]
    for name, ref in refs.items():
        dest_ref = "docker://%s/%s" % (dest.host, ref.split("/", 1)[1])
        assert skopeo.digest_of(dest_ref, registry=dest) == images[name].digest
    # the mirror map records the original source, not the layout
    assert {e["source"] for e in report["mirror_map"]} == set(refs.values())


def test_we_push_skopeo_dir_and_oci_exports(seeded, tmp_path, registry_factory, skopeo):
    src, images, refs = seeded
    tree = tmp_path / "dirtree"
    for name in ("oci-index", "docker-list", "docker-image", "zero-byte-layer"):
        skopeo.copy("docker://" + refs[name], "dir:%s/kinds/%s:v1" % (tree, name), src_registry=src)
    skopeo.copy("docker://" + refs["oci-index"], "oci:%s:v1" % (tmp_path / "skopeo-oci"), src_registry=src)
    dest = registry_factory()
    report = mirror(MirrorRequest(["all"], dest.host + "/fromdir", src="dir:%s" % tree,
                                  naming=Naming(src_registry=src.host)), pool=pool_for(dest))
    assert not report["failed"], [f["error"] for f in report["failed"]]
    assert report["totals"]["copied"] == 4
    for name in ("oci-index", "docker-list", "docker-image", "zero-byte-layer"):
        got = skopeo.digest_of("docker://%s/fromdir/kinds/%s:v1" % (dest.host, name), registry=dest)
        assert got == images[name].digest, name
    report = mirror(MirrorRequest([{"src": "v1", "dest": "%s/fromoci/tool:v1" % dest.host}], dest.host,
                                  src="oci:%s" % (tmp_path / "skopeo-oci")), pool=pool_for(dest))
    assert not report["failed"], [f["error"] for f in report["failed"]]
    assert skopeo.digest_of("docker://%s/fromoci/tool:v1" % dest.host, registry=dest) == images["oci-index"].digest


def test_large_blob_streams_with_bounded_memory(tmp_path, registry_factory, skopeo):
    layout = I.OCILayout(tmp_path / "big")
    image = I.build_large_image(layout, "big", 200 * MiB, seed=7)
    src = registry_factory()
    ref = I.seed_registry(image, src, "big/image", "1")
    dest = registry_factory(tls=True, auth=True)
    pool = pool_for(dest, src)
    report = mirror(MirrorRequest([ref], dest.host), pool=pool)
    assert not report["failed"], report["failed"]
    assert skopeo.digest_of("docker://%s/big/image:1" % dest.host, registry=dest) == image.digest
    # 200 MiB is above the chunked-upload threshold: the blob went up in PATCH chunks, all of them
    # fed by one download from the source
    assert dest.count("PATCH", r"/blobs/uploads/") >= 2
    assert src.count("GET", r"/blobs/" + image.layers[0].digest) == 1
    disk = mirror(MirrorRequest([ref], "oci:%s" % (tmp_path / "out")), pool=pool_for(None, src))
    assert not disk["failed"]
    big = image.layers[0].digest
    assert os.path.getsize(tmp_path / "out" / "blobs" / "sha256" / big[7:]) == image.layers[0].size > 200 * MiB


def test_digest_only_gets_deterministic_tag_and_reruns_add_none(seeded, registry_factory, skopeo):
    src, images, refs = seeded
    pinned = "%s/kinds/oci-index@%s" % (src.host, images["oci-index"].digest)
    dest = registry_factory()
    pool = pool_for(dest, src)
    first = mirror(MirrorRequest([pinned], dest.host), pool=pool)
    assert first["images"][0]["destination"] == "%s/kinds/oci-index:mirror-sha256-%s" % (
        dest.host, images["oci-index"].digest[7:])
    tags = skopeo.list_tags("docker://%s/kinds/oci-index" % dest.host, registry=dest)
    mark = dest.mark()
    again = mirror(MirrorRequest([pinned], dest.host, state=State(lock=first["map"])), pool=pool_for(dest, src))
    assert again["images"][0]["status"] == "present" and not again["changed"]
    assert skopeo.list_tags("docker://%s/kinds/oci-index" % dest.host, registry=dest) == tags
    # with the lockfile, a digest-pinned image costs one HEAD on the destination and nothing on the source
    assert [(r.method, r.status) for r in dest.since(mark) if "/manifests/" in r.path] == [("HEAD", 200)]
    assert dest.count(("PUT", "POST", "PATCH"), since=mark) == 0


def test_continue_and_report(seeded, registry_factory):
    src, images, refs = seeded
    dest = registry_factory()
    missing = "%s/kinds/does-not-exist:v1" % src.host
    bad = "%s/kinds/Bad:v1" % src.host
    report = mirror(MirrorRequest([refs["oci-image"], missing, bad, refs["docker-image"]], dest.host),
                    pool=pool_for(dest, src))
    statuses = {i["source"]: i["status"] for i in report["images"]}
    assert statuses[refs["oci-image"]] == "copied" and statuses[refs["docker-image"]] == "copied"
    failed = {f["source"]: f["error"] for f in report["failed"]}
    assert "not found" in failed[missing] and missing in failed[missing]
    assert "invalid image reference" in failed[bad]
    assert len(report["mirror_map"]) == 2


def test_auth_and_tls_errors_say_what_to_do(seeded, tls_registry):
    src, images, refs = seeded
    wrong = ClientPool(credentials=CredentialStore(explicit={tls_registry.host: Credentials("airgap-test", "wrong")},
                                                   use_default_files=False),
                       ca_path=str(tls_registry.ca_path), insecure_registries=[src.host])
    report = mirror(MirrorRequest([refs["oci-image"]], tls_registry.host + "/denied"), pool=wrong)
    assert report["failed"] and "check the credentials" in report["failed"][0]["error"]
    assert "wrong" not in json.dumps(report, default=str)  # report["map"] is a MirrorMap
    untrusted = ClientPool(credentials=CredentialStore(use_default_files=False), insecure_registries=[src.host])
    report = mirror(MirrorRequest([refs["oci-image"]], tls_registry.host + "/untrusted"), pool=untrusted)
    message = report["failed"][0]["error"]
    assert "TLS verification" in message and "ca_path" in message and "insecure_registries" in message


def test_index_pointing_at_missing_child_is_refused(registry_factory, tmp_path):
    src = registry_factory()
    layout = I.OCILayout(tmp_path / "l")
    child = I.build_image(layout, None)
    index = {"schemaVersion": 2, "mediaType": M.OCI_INDEX,
             "manifests": [dict(child.descriptor.to_json(), digest="sha256:" + "0" * 64)]}
    data = json.dumps(index).encode()
    # distribution 2.8 itself refuses such an index; the engine must refuse it when a source serves one
    status, _headers, _body = src.request("PUT", "/v2/broken/index/manifests/v1", data=data,
                                          headers={"Content-Type": M.OCI_INDEX})
    dest = registry_factory()
    if status == 201:
        report = mirror(MirrorRequest(["%s/broken/index:v1" % src.host], dest.host), pool=pool_for(dest, src))
        assert report["failed"] and "not found" in report["failed"][0]["error"]
        assert dest.count("PUT") == 0
    else:
        assert status in (400, 404)


def _blob_requests(reqs):
    """Blob requests, their paths with the query string decoded."""
    return [r._replace(path=unquote(r.path)) for r in reqs if "/blobs/" in r.path]


def test_a_small_blob_is_asked_about_in_the_request_that_starts_its_upload(seeded, registry_factory, skopeo):
    """No HEAD before a small blob: its upload starts with a POST that mounts it from the
    repository itself (201 when the repository has it: nothing is sent) or from the repository
    it was first copied to; a 202 opens the session its bytes go to."""
    src, images, refs = seeded
    dest = registry_factory()
    mark = dest.mark()
    report = mirror(MirrorRequest([refs["oci-image"], refs["docker-image"]], dest.host), pool=pool_for(dest, src))
    assert not report["failed"], report["failed"]
    reqs = _blob_requests(dest.since(mark))
    assert [r for r in reqs if r.method == "HEAD"] == []
    posts = [r for r in reqs if r.method == "POST"]
    assert posts and all("mount=sha256:" in r.path and "from=" in r.path for r in posts)
    puts = [r for r in reqs if r.method == "PUT"]
    opened = [r for r in posts if r.status == 202]
    totals = report["totals"]
    # every session the POSTs opened received its bytes, one PUT each, and nothing else was sent
    assert len(puts) == len(opened) == totals["blobs_copied"] and all(r.status == 201 for r in puts)
    # the base layer both images share went once and was mounted into the second repository
    assert totals["blobs_mounted"] == len([r for r in posts if r.status == 201]) >= 1
    needed = sum(len(images[n].blobs()) - 1 for n in ("oci-image", "docker-image"))  # all but the manifest
    assert totals["blobs_copied"] + totals["blobs_mounted"] == needed
    for name in ("oci-image", "docker-image"):
        assert skopeo.digest_of("docker://%s/kinds/%s:v1" % (dest.host, name), registry=dest) == images[name].digest

    # a new tag of an image already in the repository: every blob answers 201 from its own repository
    mark = dest.mark()
    again = mirror(MirrorRequest([{"src": refs["oci-image"], "dest": "%s/kinds/oci-image:again" % dest.host}],
                                 dest.host), pool=pool_for(dest, src))
    assert again["images"][0]["status"] == "copied", again["images"]
    reqs = _blob_requests(dest.since(mark))
    assert {(r.method, r.status) for r in reqs} == {("POST", 201)}
    assert all("from=kinds/oci-image" in r.path for r in reqs)
    assert again["totals"]["blobs_skipped"] == len(reqs) > 0 and again["totals"]["blobs_copied"] == 0
    assert again["totals"]["bytes_transferred"] == images["oci-image"].size  # the manifest alone
    assert skopeo.digest_of("docker://%s/kinds/oci-image:again" % dest.host, registry=dest) == \
        images["oci-image"].digest


def test_a_registry_that_refuses_mounting_is_asked_the_plain_way(seeded, registry_factory, skopeo):
    """A registry answering a mounting POST with 405 (no cross-repository mount at all) gets
    HEAD, then a plain POST and PUT: the copy completes, and later blobs skip the probe."""
    src, images, refs = seeded
    dest = registry_factory()
    with FaultProxy(dest).start() as proxy:
        refused = proxy.add_rule("POST", r"mount=", status=405, times=None)
        pool = ClientPool(credentials=CredentialStore(use_default_files=False),
                          insecure_registries=[src.host, proxy.host])
        report = mirror(MirrorRequest([refs["oci-image"], refs["docker-image"]], proxy.host), pool=pool)
        assert not report["failed"], report["failed"]
        assert refused.hits >= 1
        blob_heads = proxy.exchanges("HEAD", r"/blobs/sha256:")
        plain_posts = [e for e in proxy.exchanges("POST", r"/blobs/uploads/") if "mount=" not in e.path]
        assert len(plain_posts) == report["totals"]["blobs_copied"] > 0
        assert len(blob_heads) >= report["totals"]["blobs_copied"]
        assert report["totals"]["blobs_mounted"] == 0
        # after the first refusal, small blobs are not probed again (one refusal per worker race at most)
        assert refused.hits <= 8
    for name in ("oci-image", "docker-image"):
        assert skopeo.digest_of("docker://%s/kinds/%s:v1" % (dest.host, name), registry=dest) == images[name].digest
