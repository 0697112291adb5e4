"""Signatures and attached artifacts travel with their image (cosign tag scheme and the OCI
referrers tag schema), through a registry and through a layout."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, Sharding, State
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.shard import Shard

from support import images as I

pytestmark = pytest.mark.integration

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_blob(reg, repo, data):
    status, headers, _body = reg.request("POST", "/v2/%s/blobs/uploads/" % repo)
    assert status == 202
    location = headers["Location"]
    sep = "&" if "?" in location else "?"
    status, _headers, body = reg.request("PUT", "%s%sdigest=%s" % (location, sep, _digest(data)), data=data,
                                         headers={"Content-Type": "application/octet-stream"})
    assert status == 201, body
    return {"mediaType": "application/octet-stream", "digest": _digest(data), "size": len(data)}


def push_manifest(reg, repo, ref, body, media_type=OCI_MANIFEST):
    data = json.dumps(body).encode()
    status, _headers, text = reg.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), data=data,
                                         headers={"Content-Type": media_type})
    assert status == 201, text
    return {"mediaType": media_type, "digest": _digest(data), "size": len(data)}


def artifact(reg, repo, payload, media_type, subject=None, artifact_type=None):
    config = push_blob(reg, repo, b"{}")
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    layer = push_blob(reg, repo, payload)
    layer["mediaType"] = media_type
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
    if subject:
        body["subject"] = subject
    if artifact_type:
        body["artifactType"] = artifact_type
    return body


@pytest.fixture
def signed(registry_factory, tmp_path):
    """An index with a cosign signature, an attestation, an SBOM and a referrers-schema index."""
    src = registry_factory()
    layout = I.OCILayout(tmp_path / "l")
    image = I.build_index(layout, "signed")
    ref = I.seed_registry(image, src, "signed/app", "1.0")
    repo = "signed/app"
    tag = "sha256-" + image.digest[7:]
    subject = {"mediaType": OCI_INDEX, "digest": image.digest, "size": image.size}
    sig = push_manifest(src, repo, tag + ".sig", artifact(
        src, repo, b'{"critical":{"image":{"docker-manifest-digest":"%s"}}}' % image.digest.encode(),
        "application/vnd.dev.cosign.simplesigning.v1+json"))
    att = push_manifest(src, repo, tag + ".att",
                        artifact(src, repo, b'{"payloadType":"x"}', "application/vnd.dsse.envelope.v1+json"))
    sbom = push_manifest(src, repo, tag + ".sbom",
                         artifact(src, repo, b'{"spdxVersion":"SPDX-2.3"}', "text/spdx+json"))
    # an OCI 1.1 referrer, pushed by digest, listed in the fallback referrers index tag
    body = artifact(src, repo, b"provenance", "application/vnd.in-toto+json", subject=subject,
                    artifact_type="application/vnd.in-toto+json")
    data = json.dumps(body).encode()
    referrer = push_manifest(src, repo, _digest(data), body)
    referrers_index = push_manifest(src, repo, tag, {
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [dict(referrer, artifactType="application/vnd.in-toto+json")]}, OCI_INDEX)
    # an unrelated signature-looking tag for another digest must not travel
    push_manifest(src, repo, "sha256-" + "0" * 64 + ".sig", artifact(src, repo, b"other",
                                                                     "application/vnd.dev.cosign.simplesigning.v1+json"))
    return src, ref, image, {tag + ".sig": sig, tag + ".att": att, tag + ".sbom": sbom, tag: referrers_index,
                             "referrer": referrer}


def pool(*regs):
    return ClientPool(credentials=CredentialStore(use_default_files=False), insecure_registries=[r.host for r in regs])


def _assert_attached_after_subject(dest, skopeo, attached):
    """Every attached tag is in dest/signed/app with its source digest, and was pushed after the
    image it is attached to (no tag ever points at a subject that is not there)."""
    tags = skopeo.list_tags("docker://%s/signed/app" % dest.host, registry=dest)
    assert tags == sorted(["1.0"] + [t for t in attached if t != "referrer"])
    log = dest.requests()
    put_root = next(i for i, r in enumerate(log) if r.method == "PUT" and r.path.endswith("/signed/app/manifests/1.0"))
    for tag, desc in attached.items():
        if tag == "referrer":
            continue
        assert skopeo.digest_of("docker://%s/signed/app:%s" % (dest.host, tag), registry=dest) == desc["digest"]
        put_att = next(i for i, r in enumerate(log) if r.method == "PUT" and r.path.endswith("/manifests/" + tag))
        assert put_att > put_root


def test_attachments_follow_the_image(signed, registry_factory, skopeo):
    src, ref, image, attached = signed
    dest = registry_factory()
    report = mirror(MirrorRequest([ref], dest.host), pool=pool(src, dest))
    assert not report["failed"], report["failed"]
    _assert_attached_after_subject(dest, skopeo, attached)
    # the referrer listed by the referrers index came along by digest
    raw = skopeo.inspect_raw("docker://%s/signed/app@%s" % (dest.host, attached["referrer"]["digest"]),
                             registry=dest)
    assert _digest(raw) == attached["referrer"]["digest"]
    entry = report["mirror_map"][0]
    assert sorted(entry["attachments"]) == sorted(t for t in attached if t != "referrer")


def test_attachments_through_a_layout_and_can_be_turned_off(signed, registry_factory, tmp_path, skopeo):
    src, ref, image, attached = signed
    out = tmp_path / "layout"
    report = mirror(MirrorRequest([ref], "oci:%s" % out), pool=pool(src))
    assert not report["failed"], report["failed"]
    dest = registry_factory()
    back = mirror(MirrorRequest(["all"], dest.host, src="oci:%s" % out), pool=pool(dest))
    assert not back["failed"], back["failed"]
    # 'all' takes the images; their attachments come with them, not as images of their own
    assert back["totals"]["images"] == 1 and back["totals"]["attachments"] == 4
    tags = skopeo.list_tags("docker://%s/signed/app" % dest.host, registry=dest)
    assert sorted(tags) == sorted(["1.0"] + [t for t in attached if t != "referrer"])
    bare = registry_factory()
    off = mirror(MirrorRequest([ref], bare.host, attachments=False), pool=pool(src, bare))
    assert not off["failed"]
    assert skopeo.list_tags("docker://%s/signed/app" % bare.host, registry=bare) == ["1.0"]


class ReferrersAPIProxy:
    """A registry that implements the OCI referrers API, made of a real docker-registry and this
    small proxy: ``GET /v2/<repo>/referrers/<digest>`` is answered from the registry's own
    referrers tag-schema index (``sha256-<hex>``, an empty index when absent), and those tags are
    hidden from ``tags/list`` so that the API is the only way to find the referrers. Everything
    else is forwarded unchanged. distribution 2.8 has no referrers API and none that has one can be
    installed here; this is the honest stand-in for one, storage and all else being real."""

    def __init__(self, registry):
        import http.client
        import http.server
        import re
        import threading

        backend = registry

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                match = re.match(r"^/v2/(.+)/referrers/(sha256:[0-9a-f]{64})", self.path)
                if method == "GET" and match:
                    repo, digest = match.groups()
                    path = "/v2/%s/manifests/sha256-%s" % (repo, digest[7:])
                    status, _headers, data = backend.request("GET", path, headers={"Accept": OCI_INDEX})
                    if status != 200:
                        data = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
                    return self._reply(200, {"Content-Type": OCI_INDEX}, data, method)
                conn = http.client.HTTPConnection(backend.host.split(":")[0], int(backend.host.split(":")[1]))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(method, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                hop_by_hop = ("transfer-encoding", "connection", "content-length")
                out = {k: v for k, v in resp.getheaders() if k.lower() not in hop_by_hop}
                if method == "GET" and self.path.split("?")[0].endswith("/tags/list") and resp.status == 200:
                    listing = json.loads(data)
                    listing["tags"] = [t for t in listing.get("tags") or []
                                       if not re.fullmatch(r"sha256-[0-9a-f]{64}", t)]
                    data = json.dumps(listing).encode()
                if "Location" in out and out["Location"].startswith(backend.url):
                    out["Location"] = out["Location"][len(backend.url):]
                conn.close()
                return self._reply(resp.status, out, data, method)

            def _reply(self, status, headers, data, method):
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(data)

            def do_GET(self):
                self._forward("GET")

            def do_HEAD(self):
                self._forward("HEAD")

            def do_PUT(self):
                self._forward("PUT")

            def do_POST(self):
                self._forward("POST")

            def do_PATCH(self):
                self._forward("PATCH")

            def do_DELETE(self):
                self._forward("DELETE")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_referrers_api_source_to_registry_without_it(signed, registry_factory, tmp_path, skopeo):
    src, ref, image, attached = signed
    proxy = ReferrersAPIProxy(src)
    try:
        via_api = ref.replace(src.host, proxy.host)

        class P:
            host = proxy.host
        dest = registry_factory()
        report = mirror(MirrorRequest([via_api], dest.host), pool=pool(P, dest))
        assert not report["failed"], report["failed"]
        referrer = attached["referrer"]["digest"]
        names = report["mirror_map"][0]["attachments"]
        assert referrer in names, names
        # the referrer came by digest, and the destination (no API) lists it in the fallback index
        raw = skopeo.inspect_raw("docker://%s/signed/app@%s" % (dest.host, referrer), registry=dest)
        assert _digest(raw) == referrer
        tag = "sha256-" + image.digest[7:]
        index = json.loads(skopeo.inspect_raw("docker://%s/signed/app:%s" % (dest.host, tag), registry=dest))
        assert [m["digest"] for m in index["manifests"]] == [referrer]
        assert index["manifests"][0]["artifactType"] == "application/vnd.in-toto+json"
        # a re-run with the mirror map changes nothing and pushes nothing
        mark = dest.mark()
        again = mirror(MirrorRequest([via_api], dest.host, state=State(lock=report["map"])), pool=pool(P, dest))
        assert not again["changed"], again["images"]
        assert dest.count(("PUT", "POST", "PATCH"), since=mark) == 0
        # through a layout: the fallback index is recorded there and travels on
        out = tmp_path / "layout"
        disk = mirror(MirrorRequest([via_api], "oci:%s" % out), pool=pool(P))
        assert not disk["failed"], disk["failed"]
        final = registry_factory()
        back = mirror(MirrorRequest(["all"], final.host, src="oci:%s" % out), pool=pool(final))
        assert not back["failed"], back["failed"]
        index = json.loads(skopeo.inspect_raw("docker://%s/signed/app:%s" % (final.host, tag), registry=final))
        assert referrer in [m["digest"] for m in index["manifests"]]
    finally:
        proxy.close()


def test_attachments_travel_with_their_image_across_shards(signed, registry_factory, tmp_path, skopeo):
    """Sharded: an image's attached artifacts belong to the worker that pushes the image, and are
    never pushed before it (a lone worker leaves none behind); the final verify run completes the
    set with every attachment."""
    src, ref, image, attached = signed
    layout = I.OCILayout(tmp_path / "plain")
    plain = I.push_http(I.build_image(layout, "plain", layers=[{"plain": "x" * 5000}]), src, "plain/app", "1.0")
    dest = registry_factory()
    refs = [ref, plain]  # the signed image is worker 0's, the plain one worker 1's
    lone = mirror(MirrorRequest(refs, dest.host, sharding=Sharding(Shard(1, 2), wait=0.2)), pool=pool(src, dest))
    assert not lone["failed"], lone["failed"]
    statuses = {i["source"]: i["status"] for i in lone["images"] + lone["attachments"]}
    assert statuses[ref] == "other_shard"
    assert {statuses[a["source"]] for a in lone["attachments"]} == {"other_shard"}
    assert dest.count("PUT", r"/v2/signed/app/manifests/") == 0  # no attachment without its image

    worker0 = mirror(MirrorRequest(refs, dest.host, sharding=Sharding(Shard(0, 2), wait=30)), pool=pool(src, dest))
    assert not worker0["failed"], worker0["failed"]
    assert {a["status"] for a in worker0["attachments"]} == {"copied"}
    final = mirror(MirrorRequest(refs, dest.host, verify=True), pool=pool(src, dest))
    assert not final["failed"], final["failed"]
    _assert_attached_after_subject(dest, skopeo, attached)
    entry = next(e for e in final["mirror_map"] if e["source"] == ref)
    assert sorted(entry["attachments"]) == sorted(t for t in attached if t != "referrer")


def test_a_source_without_the_referrers_api_is_asked_once_per_run(registry_factory, tmp_path, skopeo):
    """Twelve images in twelve repositories, none with a referrers tag, resolved side by side: the
    source is asked for the referrers API once per run, and the other images wait for its answer
    (404: distribution 2.8 has none) instead of each sending a request it refuses. The source's
    answers to that request are held back half a second (a proxy in front of the real registry),
    so every image reaches that point while the first one is still in flight."""
    from support.faultproxy import FaultProxy

    src = registry_factory()
    layout = I.OCILayout(tmp_path / "l")
    refs = []
    for n in range(12):
        image = I.build_image(layout, "app%d" % n, layers=[{"app": "image %d\n" % n}])
        refs.append((I.push_http(image, src, "many/app%d" % n, "1.0"), image.digest))
    dest = registry_factory()
    with FaultProxy(src).start() as proxy:
        slow = proxy.add_rule("GET", r"/referrers/", delay=0.5, times=None)
        images = [ref.replace(src.host, proxy.host) for ref, _digest in refs]

        class P:
            host = proxy.host
        report = mirror(MirrorRequest(images, dest.host), pool=pool(P, dest))
        assert not report["failed"], report["failed"]
        assert slow.hits == 1 and [e.status for e in proxy.exchanges("GET", r"/referrers/")] == [404]
        for ref, digest in refs:
            assert skopeo.digest_of("docker://" + ref.replace(src.host, dest.host), registry=dest) == digest
        # a re-run with the mirror map asks again (the registry may have changed), once
        mark = proxy.mark()
        again = mirror(MirrorRequest(images, dest.host, state=State(lock=report["map"])), pool=pool(P, dest))
        assert not again["changed"] and not again["failed"], again["images"]
        assert len(proxy.exchanges("GET", r"/referrers/", since=mark)) == 1
