"""Pull-through sources: images served by ONE real registry under proxy-style paths (as an
Artifactory, Nexus or Quay proxy-cache serves quay.io, docker.io and registry.redhat.io), requested
by their real names and mirrored to a second real registry. skopeo is the independent judge."""

from __future__ import annotations

import hashlib
import tomllib

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._backends.source_mirrors import rules_of_text
from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, State
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._engine.sources import SourceMirrors
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io

from support import images as I
from support.faultproxy import FaultProxy

pytestmark = pytest.mark.integration

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror through the proxy
      airgap.mirror.image_mirror:
        images: "{{ images }}"
        dest: "{{ dest }}"
        source_mirrors: "{{ source_mirrors }}"
        insecure_registries: "{{ insecure }}"
        mirror_map: "{{ map_path }}"
    - name: Render the drop-in as registry_mirror_host does
      airgap.mirror.registries_conf:
        path: "{{ dropin }}"
        pairs: "{{ lookup('ansible.builtin.file', map_path) | airgap.mirror.registries_conf_pairs }}"
        mirror_insecure: true
        create_dirs: true
      when: not ansible_check_mode
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """``(registry, images)``: one registry holding the images under proxy-style paths."""
    from support.registry import Registry
    layout = I.OCILayout(tmp_path_factory.mktemp("pull-through") / "oci")
    images = {
        "app": I.build_index(layout, "app", platforms=("linux/amd64", "linux/arm64")),
        "nginx": I.build_image(layout, "nginx", layers=[{"usr/share/nginx/html/index.html": "hello\n"}]),
        "ubi": I.build_image(layout, "ubi", layers=[{"etc/redhat-release": "ubi 9\n"}]),
        "other": I.build_image(layout, "other", layers=[{"other": "not the app\n"}]),
        "upstream": I.build_image(layout, "upstream", layers=[{"up": "from the source itself\n"}]),
    }
    reg = Registry(tmp_path_factory.mktemp("proxy-registry"))
    reg.start()
    I.seed_registry(images["app"], reg, "quay-remote/org/app", "1.0")
    I.seed_registry(images["nginx"], reg, "dockerhub/library/nginx", "1.27")
    I.seed_registry(images["ubi"], reg, "rh/ubi9/ubi", "9.4")
    I.seed_registry(images["other"], reg, "quay-remote/org/tool", "2.0")  # not the image asked for below
    I.seed_registry(images["upstream"], reg, "upstream/team/svc", "3")
    # a cosign-style signature of the app, next to it in the proxy repository
    sig_tag = images["app"].digest.replace(":", "-") + ".sig"
    I.seed_registry(I.build_image(layout, "sig", layers=[{"sig": "signature\n"}]), reg, "quay-remote/org/app", sig_tag)
    yield reg, images
    reg.stop()


def pool_for(*registries):
    return ClientPool(credentials=CredentialStore(explicit={}, use_default_files=False),
                      insecure_registries=[r.host for r in registries])


def test_module_mirrors_real_names_and_the_dropin_names_the_real_sources(proxy, registry_factory, ansible_run,
                                                                         skopeo, tmp_path):
    reg, images = proxy
    dest = registry_factory()
    map_path = tmp_path / "mirror-map.yml"
    dropin = tmp_path / "registries.conf.d" / "999-mirror.conf"
    ubi = "registry.redhat.io/ubi9/ubi:9.4@" + images["ubi"].digest
    extra = {
        "images": ["quay.io/org/app:1.0", "nginx:1.27", ubi],
        "dest": dest.host + "/mirror",
        "source_mirrors": {"quay.io": reg.host + "/quay-remote", "docker.io": reg.host + "/dockerhub",
                           "registry.redhat.io/ubi9": reg.host + "/rh/ubi9"},
        "insecure": [reg.host, dest.host], "map_path": str(map_path), "dropin": str(dropin)}

    # check mode names the proxy used for each image
    res = ansible_run.playbook(PLAY, extra_vars=extra, check=True)
    assert res.rc == 0, res.output
    checked = {i["source"]: i for i in res.one("Mirror through the proxy")["result"]["images"]}
    assert checked["quay.io/org/app:1.0"]["status"] == "would_copy"
    assert checked["quay.io/org/app:1.0"]["source_via"] == reg.host + "/quay-remote/org/app"

    res = ansible_run.playbook(PLAY, extra_vars=extra)
    assert res.rc == 0, res.output
    result = res.one("Mirror through the proxy")["result"]
    by_source = {i["source"]: i for i in result["images"]}
    assert set(by_source) == {"quay.io/org/app:1.0", "docker.io/library/nginx:1.27", ubi}
    assert by_source["docker.io/library/nginx:1.27"]["source_via"] == reg.host + "/dockerhub/library/nginx"
    assert by_source[ubi]["source_via"] == reg.host + "/rh/ubi9/ubi"
    # the bytes came from the proxy alone (no request to quay.io & co)
    assert set(result["requests"]) == {reg.host, dest.host}
    # the destination is named by the real source, not by the proxy path
    for name, path, tag in (("app", "org/app", "1.0"), ("nginx", "library/nginx", "1.27"),
                            ("ubi", "ubi9/ubi", "9.4")):
        assert skopeo.digest_of("docker://%s/mirror/%s:%s" % (dest.host, path, tag), registry=dest) == \
            images[name].digest
    entries = {e["source"]: e for e in yaml.safe_load(map_path.read_text())["images"]}
    assert entries["quay.io/org/app:1.0"]["source_via"] == reg.host + "/quay-remote/org/app"
    assert entries["quay.io/org/app:1.0"]["destination"] == dest.host + "/mirror/org/app:1.0"
    assert entries[ubi]["digest"] == images["ubi"].digest

    # the drop-in names the real sources as prefixes and the mirror as location
    conf = tomllib.loads(dropin.read_text())
    pairs = {r["prefix"]: [m["location"] for m in r.get("mirror", [])] for r in conf["registry"]}
    for source in ("quay.io", "docker.io", "registry.redhat.io"):
        assert pairs[source] == [dest.host + "/mirror"], conf
    assert not any(reg.host in prefix for prefix in pairs)
    # and skopeo, configured by it alone, reads quay.io/org/app by digest from the mirror
    raw = skopeo.inspect_raw("docker://quay.io/org/app@" + images["app"].digest, registries_conf=dropin)
    assert hashlib.sha256(raw).hexdigest() == images["app"].digest.split(":", 1)[1]

    # a re-run with the map as lockfile: nothing changes, source_via is kept
    text = map_path.read_text()
    res = ansible_run.playbook(PLAY, extra_vars=extra)
    assert res.rc == 0, res.output
    assert not res.one("Mirror through the proxy")["changed"]
    assert map_path.read_text() == text


def test_registries_conf_file_tries_mirrors_in_order(proxy, registry_factory, tmp_path):
    reg, images = proxy
    dest = registry_factory()
    rules, insecure = rules_of_text("""
[[registry]]
prefix = "quay.io/org"
[[registry.mirror]]
location = "%(proxy)s/empty-remote"
insecure = true
[[registry.mirror]]
location = "%(proxy)s/quay-remote/org"
insecure = true

[[registry]]
prefix = "%(proxy)s/upstream"
[[registry.mirror]]
location = "%(proxy)s/nothing-here"
""" % {"proxy": reg.host}, "sources.conf")
    assert insecure == [reg.host]
    request = MirrorRequest(["quay.io/org/app:1.0"], dest.host + "/mirror", source_mirrors=SourceMirrors(rules))
    report = mirror(request, pool=pool_for(reg, dest))
    assert not report["failed"], report["failed"]
    assert report["images"][0]["source_via"] == reg.host + "/quay-remote/org/app"
    assert report["mirror_map"][0]["source"] == "quay.io/org/app:1.0"
    assert report["mirror_map"][0]["destination"] == dest.host + "/mirror/org/app:1.0"
    # the signature travels with its image, named by the real source too
    sig_tag = images["app"].digest.replace(":", "-") + ".sig"
    assert [(a["source"], a["destination"], a["status"]) for a in report["attachments"]] == [
        ("quay.io/org/app:" + sig_tag, dest.host + "/mirror/org/app:" + sig_tag, "copied")]
    assert report["attachments"][0]["source_via"] == reg.host + "/quay-remote/org/app"
    # the first mirror was asked and did not have it
    assert reg.filter(("GET", "HEAD"), r"/v2/empty-remote/app/manifests/")
    # a re-run with the mirror map as lockfile asks in the same order, the manifest first (a tag
    # list asked first would settle on empty-remote: a repository it lacks lists no tags)
    again = mirror(MirrorRequest(["quay.io/org/app:1.0"], dest.host + "/mirror", source_mirrors=SourceMirrors(rules),
                                 state=State(lock=report["map"])), pool=pool_for(reg, dest))
    assert not again["failed"] and not again["changed"], again["failed"]
    assert [i["status"] for i in again["images"]] == ["present"]
    assert again["images"][0]["source_via"] == reg.host + "/quay-remote/org/app"

    # no fallback: a source its mirrors do not have fails, naming the image and where it looked
    upstream = reg.host + "/upstream/team/svc:3"
    report = mirror(MirrorRequest([upstream], dest.host + "/m2", source_mirrors=SourceMirrors(rules)),
                    pool=pool_for(reg, dest))
    error = report["failed"][0]["error"]
    assert error.startswith(upstream) and "nothing-here/team/svc" in error, error
    # with the fallback allowed, the source itself; no source_via then
    report = mirror(MirrorRequest([upstream], dest.host + "/m2",
                                  source_mirrors=SourceMirrors(rules, fallback=True)), pool=pool_for(reg, dest))
    assert not report["failed"], report["failed"]
    assert "source_via" not in report["images"][0] and "source_via" not in report["mirror_map"][0]
    assert report["images"][0]["digest"] == images["upstream"].digest


def test_digest_checked_against_the_requested_reference(proxy, registry_factory):
    reg, images = proxy
    dest = registry_factory()
    # another image under the requested path and tag: the original digest is not served there
    wanted = "quay.io/org/tool:2.0@" + images["app"].digest
    sources = SourceMirrors.from_dict({"quay.io": reg.host + "/quay-remote"})
    report = mirror(MirrorRequest([wanted], dest.host + "/mirror", source_mirrors=sources), pool=pool_for(reg, dest))
    error = report["failed"][0]["error"]
    assert error.startswith(wanted) and "pull-through source %s/quay-remote/org/tool" % reg.host in error, error
    assert dest.count(("PUT", "POST", "PATCH")) == 0

    # a proxy that serves other bytes for the requested digest
    with FaultProxy(reg) as faulty:
        faulty.add_rule("GET", r"/manifests/" + images["app"].digest, corrupt_at=-1, times=None)
        sources = SourceMirrors.from_dict({"quay.io": faulty.host + "/quay-remote"})
        wanted = "quay.io/org/app@" + images["app"].digest
        report = mirror(MirrorRequest([wanted], dest.host + "/mirror", source_mirrors=sources),
                        pool=pool_for(reg, dest, faulty))
    error = report["failed"][0]["error"]
    assert report["failed"][0]["error_type"] == "DigestMismatch"
    assert error.startswith(wanted) and "does not match its digest" in error, error
    assert "pull-through source %s/quay-remote/org/app" % faulty.host in error
    assert dest.count(("PUT", "POST", "PATCH")) == 0


def test_without_source_mirrors_the_reference_names_the_registry(proxy, registry_factory):
    reg, images = proxy
    dest = registry_factory()
    ref = reg.host + "/quay-remote/org/app:1.0"
    report = mirror(MirrorRequest([ref], dest.host + "/mirror"), pool=pool_for(reg, dest))
    assert not report["failed"], report["failed"]
    assert "source_via" not in report["images"][0]
    assert report["mirror_map"][0]["destination"] == dest.host + "/mirror/quay-remote/org/app:1.0"
    assert "source_via" not in mirrormap_io.dumps(report["map"])  # a map without it writes as before


ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: airgap.mirror.mirror_images
"""


def test_mirror_images_role_passes_the_pull_through_sources(proxy, registry_factory, ansible_run, tmp_path):
    reg, images = proxy
    dest = registry_factory()
    map_path = tmp_path / "role-map.yml"
    res = ansible_run.playbook(ROLE_PLAY, extra_vars={
        "mirror_images_images": ["docker.io/library/nginx:1.27"],
        "mirror_images_registry": dest.host + "/mirror",
        "mirror_images_insecure_registries": [reg.host, dest.host],
        "mirror_images_mirror_map": str(map_path),
        "mirror_images_source_mirrors": {"docker.io": reg.host + "/dockerhub"}})
    assert res.rc == 0, res.output
    entry = yaml.safe_load(map_path.read_text())["images"][0]
    assert entry["source"] == "docker.io/library/nginx:1.27"
    assert entry["source_via"] == reg.host + "/dockerhub/library/nginx"
    assert entry["destination"] == dest.host + "/mirror/library/nginx:1.27"
    assert entry["digest"] == images["nginx"].digest
