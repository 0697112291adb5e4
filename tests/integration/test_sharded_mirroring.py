"""Sharded mirroring and verify, with the engine, against real registries.

Three workers copy one image set into one registry at the same time; the registry's access log is
the judge of "each blob uploaded once", skopeo the judge of the digests. A worker that runs alone
leaves the images it cannot finish for the final verify run, which completes them; verify finds and
repairs a blob removed from a repository behind the registry's back.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, Sharding
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.shard import Shard

from support import images as I

pytestmark = pytest.mark.integration

KiB = 1024


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Ten images (four two-platform indexes, six single manifests) sharing a base and a runtime
    layer, with own layers of very different sizes, pushed to a plain source registry."""
    from support.registry import Registry
    layout = I.OCILayout(tmp_path_factory.mktemp("shard-release") / "oci")
    base = I.add_large_layer(layout, 900 * KiB, seed=1, name="base.bin")
    runtime = I.add_large_layer(layout, 500 * KiB, seed=2, name="runtime.bin")
    images = {}
    for n in range(4):
        members = [I.build_image(layout, None, platform=platform, layers=[
            base, runtime, I.add_large_layer(layout, (40 + 150 * n + 7 * k) * KiB, seed=100 + 10 * n + k)])
            for k, platform in enumerate(("linux/amd64", "linux/arm64"))]
        images["release/multi-%d" % n] = I.build_index(layout, "multi-%d" % n, members=members)
    for n in range(6):
        images["release/single-%d" % n] = I.build_image(layout, "single-%d" % n, layers=[
            base, I.add_large_layer(layout, (20 + 90 * n) * KiB, seed=200 + n)])
    reg = Registry(tmp_path_factory.mktemp("shard-src"))
    reg.start()
    refs = [I.push_http(image, reg, repo, "v1") for repo, image in images.items()]
    unique = {}
    for image in images.values():
        unique.update(_layers_and_configs(image))
    yield reg, images, refs, unique
    reg.stop()


def _layers_and_configs(image):
    """digest -> size of the blobs (configs and layers, not manifests) of *image*."""
    manifests = {m.digest for m in image.manifests()}
    return {d: n for d, n in image.blobs().items() if d not in manifests}


def _pool(*registries):
    return ClientPool(credentials=CredentialStore(use_default_files=False),
                      insecure_registries=[r.host for r in registries])


def _uploaded_digests(registry, since=0):
    """Digests of every completed blob upload (the PUT that closes an upload session)."""
    found = []
    for req in registry.filter("PUT", r"/blobs/uploads/", since=since):
        digest = parse_qs(urlsplit(req.path).query).get("digest")
        if req.status == 201 and digest:
            found.append(digest[0])
    return found


def _home_reasked(registry):
    """The mounting POSTs that asked a blob's home repository (where it was uploaded) about the
    blob again -- and found it (201) -- after the upload."""
    homes = {}
    for req in registry.filter("PUT", r"/blobs/uploads/"):
        digest = parse_qs(urlsplit(req.path).query).get("digest")
        if req.status == 201 and digest:
            homes[digest[0]] = req.path[len("/v2/"):].split("/blobs/", 1)[0]
    found = []
    for req in registry.filter("POST", r"/blobs/uploads/\?mount=", status=201):
        query = parse_qs(urlsplit(req.path).query)
        home = homes.get(query["mount"][0])
        if home is not None and query.get("from") == [home] and req.path.startswith("/v2/%s/blobs/" % home):
            found.append(req.path)
    return found


def _run_workers(refs, src, dest, count, wait=30.0):
    reports = [None] * count
    errors = []

    def work(index):
        try:
            reports[index] = mirror(MirrorRequest(refs, dest.host, sharding=Sharding(Shard(index, count), wait=wait)),
                                    pool=_pool(src, dest))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append((index, exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return reports


def test_three_workers_upload_each_blob_once_balanced_by_bytes(release, registry_factory, skopeo):
    src, images, refs, unique = release
    dest = registry_factory()
    reports = _run_workers(refs, src, dest, 3)

    # every worker computed the same split, and it is balanced by bytes
    splits = [r["totals"]["shard"]["bytes_per_shard"] for r in reports]
    assert splits[0] == splits[1] == splits[2]
    assert sum(splits[0]) == sum(unique.values())
    assert max(splits[0]) - min(splits[0]) <= max(unique.values())
    for index, report in enumerate(reports):
        totals = report["totals"]
        assert report["failed"] == [] and totals["deferred"] == 0, report["failed"]
        assert totals["shard"]["index"] == index
        # each worker sent exactly its share of the blob bytes (and manifests), nothing more
        assert sum(i["bytes"] for i in report["images"]) == totals["shard"]["assigned_bytes"]
        assert totals["bytes_transferred"] - totals["shard"]["assigned_bytes"] < 8 * KiB
        assert totals["blobs_copied"] == totals["shard"]["assigned_blobs"]
        assert totals["copied"] == totals["shard"]["assigned_images"]
        assert totals["copied"] + totals["other_shard"] == len(refs)

    # the registry saw each unique blob uploaded exactly once, across the three workers
    uploads = _uploaded_digests(dest)
    assert sorted(uploads) == sorted(unique), "uploads per digest: %r" % {
        d: uploads.count(d) for d in set(uploads) if uploads.count(d) != 1}
    # a blob's home repository, once the blob is there, is never asked about it again: asking
    # re-links it, and distribution 2.8 then answered another worker's mount from that repository
    # with 202 now and then (the bytes went twice)
    assert _home_reasked(dest) == []
    # every image was pushed by exactly one worker
    copied = [i["source"] for r in reports for i in r["images"] if i["status"] == "copied"]
    assert sorted(copied) == sorted(refs)

    # the final run: verifies everything, moves no byte, writes the whole mirror map
    mark = dest.mark()
    final = mirror(MirrorRequest(refs, dest.host, verify=True), pool=_pool(src, dest))
    assert final["failed"] == [] and not final["changed"], [
        (i["source"], i["status"], i.get("missing")) for i in final["images"] if i["status"] != "present"]
    assert final["totals"]["present"] == len(refs)
    assert final["totals"]["bytes_transferred"] == 0 and final["totals"]["blobs_copied"] == 0
    assert dest.count(("POST", "PUT", "PATCH"), since=mark) == 0
    # verify asked the destination about every blob of every image
    heads = dest.filter("HEAD", r"/blobs/sha256:", since=mark)
    assert {r.path.rsplit("/", 1)[1] for r in heads} == set(unique)
    assert len(final["mirror_map"]) == len(refs)
    for repo, image in images.items():
        assert skopeo.digest_of("docker://%s/%s:v1" % (dest.host, repo), tls_verify=False) == image.digest


def test_lone_worker_defers_then_final_run_completes(release, registry_factory, skopeo):
    src, images, refs, unique = release
    dest = registry_factory()
    alone = mirror(MirrorRequest(refs, dest.host, sharding=Sharding(Shard(0, 2), wait=0.3)), pool=_pool(src, dest))
    totals = alone["totals"]
    assert alone["failed"] == []  # deferring is not failing
    assert totals["deferred"] > 0
    assert totals["copied"] + totals["deferred"] == totals["shard"]["assigned_images"]
    assert sum(i["bytes"] for i in alone["images"]) == totals["shard"]["assigned_bytes"]
    deferred = [i for i in alone["images"] if i["status"] == "deferred"]
    assert all("left for the final run" in i["error"] and "shard 1 of 2" in i["error"] for i in deferred)
    # no tag points at something missing: a deferred image has no tag in the destination
    for item in deferred:
        repo, tag = item["destination"].split("/", 1)[1].rsplit(":", 1)
        assert dest.request("HEAD", "/v2/%s/manifests/%s" % (repo, tag))[0] == 404
    # and every image the lone worker did push is complete (skopeo reads all its blobs)
    for item in alone["images"]:
        if item["status"] == "copied":
            assert skopeo.digest_of("docker://" + item["destination"], tls_verify=False) == item["digest"]

    first_uploads = _uploaded_digests(dest)
    final = mirror(MirrorRequest(refs, dest.host, verify=True), pool=_pool(src, dest))
    assert final["failed"] == [], [i["error"] for i in final["failed"]]
    assert final["totals"]["copied"] + final["totals"]["present"] == len(refs)
    # the final run uploaded only what the missing worker would have: no blob twice
    uploads = _uploaded_digests(dest)
    assert sorted(uploads) == sorted(unique)
    assert final["totals"]["blobs_copied"] == len(unique) - len(first_uploads)
    for repo, image in images.items():
        assert skopeo.digest_of("docker://%s/%s:v1" % (dest.host, repo), tls_verify=False) == image.digest


def test_verify_finds_and_repairs_a_blob_missing_from_a_repository(release, registry_factory, skopeo, tmp_path):
    src, images, refs, _unique = release
    dest = registry_factory()
    assert mirror(MirrorRequest(refs, dest.host), pool=_pool(src, dest))["failed"] == []
    victim = images["release/single-3"]
    layer = victim.layers[-1].digest  # the image's own layer
    status = dest.request("DELETE", "/v2/release/single-3/blobs/%s" % layer)[0]
    assert status == 202
    assert dest.request("HEAD", "/v2/release/single-3/blobs/%s" % layer)[0] == 404

    # an ordinary re-run trusts the manifest: it does not notice
    again = mirror(MirrorRequest(refs, dest.host), pool=_pool(src, dest))
    assert not again["changed"] and again["totals"]["present"] == len(refs)

    # verify in check mode reports exactly the missing blob, and changes nothing
    check = mirror(MirrorRequest(refs, dest.host, verify=True, check_mode=True), pool=_pool(src, dest))
    flagged = [i for i in check["images"] if i["status"] == "would_copy"]
    assert [(i["source"], i["missing"]) for i in flagged] == [(src.host + "/release/single-3:v1", [layer])]
    assert check["totals"]["bytes_to_copy"] == victim.blobs()[layer]
    assert dest.request("HEAD", "/v2/release/single-3/blobs/%s" % layer)[0] == 404

    fixed = mirror(MirrorRequest(refs, dest.host, verify=True), pool=_pool(src, dest))
    assert fixed["changed"] and fixed["totals"]["repaired"] == 1 and fixed["failed"] == []
    assert dest.request("HEAD", "/v2/release/single-3/blobs/%s" % layer)[0] == 200
    # skopeo reads every blob of the repaired image
    skopeo.copy("docker://%s/release/single-3:v1" % dest.host, "dir:%s" % (tmp_path / "out"),
                src_tls_verify=False)
    assert (tmp_path / "out" / layer.split(":", 1)[1]).stat().st_size == victim.blobs()[layer]


def test_sharded_run_refuses_a_layout_destination(release, tmp_path):
    src, _images, refs, _unique = release
    with pytest.raises(OCIError, match=r"sharded run needs a registry destination"):
        mirror(MirrorRequest(refs[:2], "oci:%s" % (tmp_path / "layout"), sharding=Sharding(Shard(1, 2))),
               pool=_pool(src))


def test_second_image_mounts_shared_blobs_from_a_present_first_image(release, registry_factory):
    """Adding an image to a mirrored set uploads only its own blobs: the shared ones are mounted
    from the repository of the image already there (their home), not sent again."""
    src, images, refs, unique = release
    dest = registry_factory()
    first = [r for r in refs if "/single-0:" in r]
    assert mirror(MirrorRequest(first, dest.host), pool=_pool(src, dest))["failed"] == []
    mark = dest.mark()
    second = mirror(MirrorRequest([r for r in refs if re.search(r"/single-[01]:", r)], dest.host),
                    pool=_pool(src, dest))
    assert second["failed"] == [] and second["totals"]["copied"] == 1
    single1 = images["release/single-1"]
    base = single1.layers[0].digest
    assert base not in _uploaded_digests(dest, since=mark)
    assert second["totals"]["blobs_mounted"] == 1
    assert sorted(_uploaded_digests(dest, since=mark)) == sorted(
        d for d in _layers_and_configs(single1) if d != base)


def test_three_worker_hosts_then_one_final_run_through_the_playbook(release, registry_factory, ansible_run,
                                                                    tmp_path, skopeo):
    """airgap.mirror.mirror_sharded over an inventory of three worker hosts (three module
    processes at once) into a TLS + htpasswd mirror, then the final verify run writing the one
    mirror map; a re-run of the whole playbook changes nothing."""
    src, images, refs, unique = release
    dest = registry_factory(tls=True, auth=True)
    inventory = tmp_path / "workers.ini"
    inventory.write_text(
        "[mirror_workers]\n" + "".join(
            'worker-%d ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"\n' % n
            for n in range(3))
        + '[final]\nlocalhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"\n')
    mirror_map = tmp_path / "mirror-map.yml"
    extra = {
        "airgap_mirror_hosts": "final",
        "mirror_images_images": refs,
        "mirror_images_registry": dest.host,
        "mirror_images_dest_username": dest.username,
        "mirror_images_dest_password": dest.password,
        "mirror_images_ca_path": str(dest.ca_path),
        "mirror_images_insecure_registries": [src.host],
        "mirror_images_mirror_map": str(mirror_map),
        "mirror_images_shard_wait": 60,
    }
    # check mode: every worker plans its share (together, every image and every unique byte once);
    # nothing is written to the mirror, no mirror map
    check = ansible_run.playbook("airgap.mirror.mirror_sharded", inventory=inventory, extra_vars=extra, check=True)
    assert check.rc == 0, check.output
    planned = [r["result"]["totals"] for r in check.task("airgap.mirror.mirror_images : Mirror the images to %s"
                                                         % dest.host) if r["host"].startswith("worker-")]
    assert len(planned) == 3 and all(r["changed"] for r in check.task(
        "airgap.mirror.mirror_images : Mirror the images to %s" % dest.host))
    assert sum(t["would_copy"] for t in planned) == len(refs)
    assert sum(t["bytes_to_copy"] for t in planned) == sum(unique.values())
    assert dest.count(("POST", "PUT", "PATCH", "DELETE")) == 0 and not mirror_map.exists()

    res = ansible_run.playbook("airgap.mirror.mirror_sharded", inventory=inventory, extra_vars=extra)
    assert res.rc == 0, res.output
    workers = {r["host"]: r["result"] for r in res.task("airgap.mirror.mirror_images : Mirror the images to %s" % dest.host)
               if r["host"].startswith("worker-")}
    assert sorted(workers) == ["worker-0", "worker-1", "worker-2"], res.output
    shares = [workers["worker-%d" % n]["totals"]["shard"] for n in range(3)]
    assert [s["index"] for s in shares] == [0, 1, 2] and {s["count"] for s in shares} == {3}
    assert all(w["totals"]["deferred"] == 0 and w["failed_images"] == [] for w in workers.values())
    assert "mirror_map_path" not in workers["worker-0"]  # only the final run writes it
    assert dest.password not in res.stdout + res.stderr
    # each unique blob uploaded once, across the three processes
    assert sorted(_uploaded_digests(dest)) == sorted(unique)

    final = res.one("airgap.mirror.mirror_images : Mirror the images to %s" % dest.host, "localhost")["result"]
    assert final["totals"]["present"] == len(refs) and final["totals"]["blobs_copied"] == 0
    written = __import__("yaml").safe_load(mirror_map.read_text())["images"]
    assert sorted(e["source"] for e in written) == sorted(refs)
    for repo, image in images.items():
        assert skopeo.digest_of("docker://%s/%s:v1" % (dest.host, repo), registry=dest) == image.digest

    mark = dest.mark()
    again = ansible_run.playbook("airgap.mirror.mirror_sharded", inventory=inventory, extra_vars=extra)
    assert again.rc == 0 and not again.changed, [r["task"] + "@" + r["host"] for r in again.changed]
    assert dest.count(("POST", "PUT", "PATCH"), since=mark) == 0


def test_sharded_module_refuses_a_mirror_map_and_a_missing_index(release, registry_factory, ansible_run, tmp_path):
    src, _images, refs, _unique = release
    dest = registry_factory()
    play = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Sharded with a mirror map
      airgap.mirror.image_mirror:
        images: {refs}
        dest: {dest}
        insecure_registries: [{src}, {dest}]
        shard_index: 0
        shard_count: 2
        mirror_map: {map}
      ignore_errors: true
      register: with_map
    - name: Sharded without an index
      airgap.mirror.image_mirror:
        images: {refs}
        dest: {dest}
        insecure_registries: [{src}, {dest}]
        shard_count: 2
      ignore_errors: true
    - name: Index out of range
      airgap.mirror.image_mirror:
        images: {refs}
        dest: {dest}
        insecure_registries: [{src}, {dest}]
        shard_index: 2
        shard_count: 2
      ignore_errors: true
""".format(refs=refs[:2], dest=dest.host, src=src.host, map=tmp_path / "map.yml")
    res = ansible_run.playbook(play)
    assert res.rc == 0, res.output
    assert "does not write mirror_map" in res.one("Sharded with a mirror map")["result"]["msg"]
    assert "shard_index is required when shard_count is 2" in res.one("Sharded without an index")["result"]["msg"]
    assert "between 0 and shard_count - 1 (1), got 2" in res.one("Index out of range")["result"]["msg"]
    assert not (tmp_path / "map.yml").exists()
    assert dest.count(("POST", "PUT", "PATCH")) == 0
