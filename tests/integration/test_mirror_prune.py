"""airgap.mirror.mirror_prune on a real docker-registry (deletes enabled), through ansible-playbook.

Two MicroShift release files: the newer one drops three images (one a two-platform index) and
shares the other three (one a two-platform index; three images of both live in one repository,
as MicroShift's ``ocp-v4.0-art-dev`` does); a kept and a dropped image of that repository carry a
cosign signature. Both are mirrored with image_mirror. A prune keeping
the newer release deletes exactly the three dropped images (and the dropped index's children),
the registry's ``garbage-collect`` then frees exactly the bytes the plan announced (the blob files
on disk are counted before and after), every kept image still reads with skopeo, a plan made
before a new push is refused, and check mode deletes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cosign import make_key, make_payload, push_signatures, read_signatures, signature_manifest, signature_tag
from support.images import OCILayout, add_large_layer, add_layer, build_image, build_index, seed_registry

pytestmark = pytest.mark.integration

MIRROR = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror the release
      airgap.mirror.image_mirror:
        images: "{{ query('airgap.mirror.image_list', release, format='microshift') }}"
        dest: "{{ dest }}/mirror"
        insecure_registries: "{{ insecure }}"
        mirror_map: "{{ map_path }}"
"""

PRUNE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Prune
      airgap.mirror.mirror_prune:
        registry: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
        state: "{{ prune_state }}"
        plan_file: "{{ plan_file }}"
        mirror_map: "{{ maps }}"
        keep:
          microshift_release: ["{{ release }}"]
"""


def build(layout: OCILayout):
    """The images of both releases: name -> (source repository, Image)."""
    base = add_large_layer(layout, 300_000, seed=1)          # in every image
    shared = add_layer(layout, {"etc/shared": "kept and dropped\n"})  # pod (kept) and old-b (dropped)

    def image(name, *layers, platform="linux/amd64", ref=True):
        return build_image(layout, name if ref else None, layers=[base, *layers], platform=platform)

    def index(name, seed):
        return build_index(layout, name, [image(name, add_large_layer(layout, 100_000, seed=seed + i), platform=p,
                                                ref=False)
                                          for i, p in enumerate(("linux/amd64", "linux/arm64"))])

    return {
        # kept: in both releases
        "pod": ("ms/art-dev", image("pod", shared)),
        "router": ("ms/router", index("router", 10)),
        "dns": ("ms/dns", image("dns", {"etc/dns": "dns\n"})),
        # dropped by the newer release
        "cli": ("ms/art-dev", index("cli", 20)),
        "old-a": ("ms/art-dev", image("old-a", add_large_layer(layout, 150_000, seed=30))),
        "old-b": ("ms/old-b", image("old-b", shared, add_large_layer(layout, 120_000, seed=31))),
        # new in the newer release
        "new": ("ms/new", image("new", {"etc/new": "new\n"})),
    }


ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"
OLD = ("pod", "router", "dns", "cli", "old-a", "old-b")
NEW = ("pod", "router", "dns", "new")
DROPPED = ("cli", "old-a", "old-b")


def release(path: Path, src, images, names) -> Path:
    refs = {name: "%s/%s@%s" % (src.host, images[name][0], images[name][1].digest) for name in names}
    path.write_text(json.dumps({"release": {"base": path.stem}, "images": refs}, indent=2))
    return path


def blob_files(registry) -> dict[str, int]:
    """digest -> size of every blob file in the registry's storage (what garbage collection frees)."""
    root = Path(registry.storage) / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return {"sha256:" + data.parent.name: data.stat().st_size for data in root.glob("*/*/data")}


def run(ansible_run, play, extra, check=False):
    res = ansible_run.playbook(play, extra_vars=extra, check=check, diff=True)
    record = res.one("Prune") if "Prune" in play else res.one("Mirror the release")
    return res, record


def test_prune_keeping_the_newer_release(tmp_path, registry_factory, ansible_run, skopeo):
    src = registry_factory()
    dest = registry_factory()  # storage.delete.enabled (the test bed's default)
    images = build(OCILayout(tmp_path / "layout"))
    for name, (repo, img) in images.items():
        seed_registry(img, src, repo)
    old = release(tmp_path / "release-old.json", src, images, OLD)
    new = release(tmp_path / "release-new.json", src, images, NEW)
    insecure = [src.host, dest.host]
    for rel, map_path in ((old, tmp_path / "map-old.yml"), (new, tmp_path / "map-new.yml")):
        res, record = run(ansible_run, MIRROR, {"release": str(rel), "dest": dest.host, "insecure": insecure,
                                                "map_path": str(map_path)})
        assert res.rc == 0 and record["status"] == "ok", res.output
    # cosign signatures next to a kept image and a dropped one, in the repository they share
    key = make_key()
    signatures = {}
    for name in ("pod", "old-a"):
        digest = images[name][1].digest
        payload = make_payload("%s/mirror/ms/art-dev" % dest.host, digest)
        pairs = [(payload, key.sign(payload))]
        manifest, blobs = signature_manifest(pairs)
        sig = push_signatures(dest, "mirror/ms/art-dev", digest, pairs)
        signatures[name] = (sig, pairs, dict({sig: len(manifest)}, **{d: len(b) for d, b in blobs.items()}))

    plan_file = tmp_path / "plan.json"
    extra = {"dest": dest.host, "insecure": [dest.host], "plan_file": str(plan_file), "release": str(new),
             "maps": [str(tmp_path / "map-new.yml"), str(tmp_path / "map-old.yml")]}

    # plan in check mode: reported, not written
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="plan"), check=True)
    assert res.rc == 0, res.output
    assert record["changed"] and not plan_file.exists()

    # plan
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="plan"))
    assert res.rc == 0, res.output
    plan = record["result"]
    dropped = {images[n][1].digest for n in DROPPED}
    dropped_children = {c.digest for c in images["cli"][1].children}
    kept = {m.digest for n in NEW for m in images[n][1].manifests()}
    planned = {(m["repository"], m["digest"]) for m in plan["manifests"]}
    assert planned == {("mirror/" + images[n][0], images[n][1].digest) for n in DROPPED} | \
        {("mirror/ms/art-dev", d) for d in dropped_children} | {("mirror/ms/art-dev", signatures["old-a"][0])}
    assert not (kept | {signatures["pod"][0]}) & {d for _r, d in planned}
    assert plan["manifests"][0]["digest"] == signatures["old-a"][0] and plan["manifests"][0]["kind"] == "signature"
    assert sorted(plan["tags"]) == sorted(
        ["mirror/%s:mirror-%s" % (images[n][0], images[n][1].digest.replace(":", "-")) for n in DROPPED]
        + ["mirror/ms/art-dev:" + signature_tag(images["old-a"][1].digest)])
    # the bytes that go: every blob of the dropped images that no kept image uses (manifests included)
    expected = {}
    for name in DROPPED:
        expected.update(images[name][1].blobs())
    expected.update(signatures["old-a"][2])
    for name in NEW:
        for digest in images[name][1].blobs():
            expected.pop(digest, None)
    for digest in signatures["pod"][2]:
        expected.pop(digest, None)
    assert {b["digest"]: b["size"] for b in json.loads(plan_file.read_text())["blobs_freed"]} == expected
    assert plan["bytes_freed"] == sum(expected.values()) > 370_000

    # the same plan again: the file is unchanged
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="plan"))
    assert res.rc == 0 and not record["changed"], res.output

    # a plan made before a new push is refused, and nothing is deleted
    stale = plan_file.read_text()
    pod = images["pod"][1].digest
    skopeo.copy("docker://%s/mirror/ms/art-dev@%s" % (dest.host, pod), "docker://%s/mirror/ms/art-dev:pushed" % dest.host,
                src_registry=dest, dest_registry=dest)
    mark = dest.mark()
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="apply"))
    assert res.rc != 0 and record["failed"]
    assert "older than the mirror's current state" in record["result"]["msg"]
    assert plan["fingerprint"] in record["result"]["msg"]
    assert dest.count("DELETE", since=mark) == 0

    # plan again, then apply in check mode: lists the plan, deletes nothing
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="plan"))
    assert res.rc == 0 and record["changed"], res.output
    assert json.loads(plan_file.read_text())["manifests"] == json.loads(stale)["manifests"]
    plan = record["result"]
    mark = dest.mark()
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="apply"), check=True)
    assert res.rc == 0 and record["changed"], res.output
    assert record["result"]["deleted"] == plan["manifests"]
    assert dest.count("DELETE", since=mark) == 0
    assert "mirror/ms/old-b@" + images["old-b"][1].digest in record["result"]["diff"]["before"]

    # apply: exactly the plan's DELETEs, in its order; the tags went with their manifests
    on_disk = blob_files(dest)
    mark = dest.mark()
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="apply"))
    assert res.rc == 0 and record["changed"], res.output
    deletes = [r.path for r in dest.filter("DELETE", since=mark)]
    assert deletes == ["/v2/%s/manifests/%s" % (m["repository"], m["digest"]) for m in plan["manifests"]]
    assert skopeo.list_tags("docker://%s/mirror/ms/art-dev" % dest.host, registry=dest) == \
        sorted(["pushed", "mirror-" + pod.replace(":", "-"), signature_tag(pod)])
    assert skopeo.list_tags("docker://%s/mirror/ms/old-b" % dest.host, registry=dest) == []
    for name in DROPPED:
        status, _h, _b = dest.request("HEAD", "/v2/mirror/%s/manifests/%s" % (images[name][0], images[name][1].digest),
                                      headers={"Accept": ACCEPT})
        assert status == 404, name

    # applied again: nothing to do
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="apply"))
    assert res.rc == 0 and not record["changed"] and record["result"]["already_applied"], res.output

    # the registry's garbage collection (registry stopped) frees exactly the planned blobs
    assert set(blob_files(dest)) == set(on_disk)  # deleting manifests frees nothing by itself
    dest.garbage_collect()
    after = blob_files(dest)
    freed = {d: s for d, s in on_disk.items() if d not in after}
    assert freed == expected
    assert sum(freed.values()) == plan["bytes_freed"]

    # every kept image still reads, all platforms, with skopeo
    for name in NEW:
        repo, img = images[name]
        ref = "docker://%s/mirror/%s@%s" % (dest.host, repo, img.digest)
        assert skopeo.digest_of(ref, registry=dest) == img.digest
        skopeo.copy(ref, "dir:%s" % (tmp_path / "out" / name), src_registry=dest)
        assert (tmp_path / "out" / name / "manifest.json").exists()

    assert read_signatures(dest, "mirror/ms/art-dev", pod) == signatures["pod"][1]

    # and a new plan finds nothing more to delete
    res, record = run(ansible_run, PRUNE, dict(extra, prune_state="plan"))
    assert res.rc == 0 and record["result"]["manifests"] == [] and record["result"]["bytes_freed"] == 0
