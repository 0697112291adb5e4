"""Tag selection against a real docker-registry: a repository with 40 tags (versions with and
without ``v``, pre-releases, ``latest``, ``8.16.1-amd64``-style suffixes), listed page by page,
each selector resolving to the exact expected set; through ansible-playbook in check mode and for
real (one map entry per tag, a re-run changes nothing); and a skopeo sync file giving the same
set, compared with what skopeo sync itself copies."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import ClientOptions
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs
from support.faultproxy import FaultProxy
from support.images import OCILayout, build_image, push_http

pytestmark = pytest.mark.integration

REPO = "tagsel/app"
RELEASES = ["7.17.25", "7.17.26", "8.15.0", "8.15.1", "8.15.2", "8.16.0", "8.16.1", "8.16.2", "8.16.3", "8.16.10",
            "8.17.0", "8.17.1", "9.0.0"]
V_RELEASES = ["v8.15.0", "v8.16.0", "v8.16.1", "v8.16.2", "v8.17.0", "v9.0.0"]
PRE = ["8.16.0-rc1", "8.16.0-rc2", "8.16.1-amd64", "8.16.1-arm64", "8.16.1-ubi", "8.16.2-ubi9", "8.17.0-rc1",
       "9.0.0-beta1"]
OTHER = ["latest", "edge", "nightly", "stable", "8", "8.16", "8.17", "v1", "1.0", "8.16.1.1", "release-8.16.1",
         "8.16.1_hotfix", "sha256-not-a-digest"]
TAGS = RELEASES + V_RELEASES + PRE + OTHER
PAGE = 7

# each selector and the exact tags it must select (written out, not computed by the code under test)
CASES = [
    ({"semver": ">=8.16.0 <8.17.0"},
     {"8.16.0", "8.16.1", "8.16.2", "8.16.3", "8.16.10", "v8.16.0", "v8.16.1", "v8.16.2"}),
    ({"semver": ">= 8.16.0, < 8.17.0"},
     {"8.16.0", "8.16.1", "8.16.2", "8.16.3", "8.16.10", "v8.16.0", "v8.16.1", "v8.16.2"}),
    ({"semver": ">=8.16.0-rc1 <8.17.0"},
     {"8.16.0-rc1", "8.16.0-rc2", "8.16.0", "8.16.1", "8.16.2", "8.16.3", "8.16.10", "v8.16.0", "v8.16.1",
      "v8.16.2"}),
    ({"semver": "7.x || >=9.0.0"}, {"7.17.25", "7.17.26", "9.0.0", "v9.0.0"}),
    ({"semver": "~8.15"}, {"8.15.0", "8.15.1", "8.15.2", "v8.15.0"}),
    ({"include": r"8\.16\.\d+"}, {"8.16.0", "8.16.1", "8.16.2", "8.16.3", "8.16.10"}),
    ({"include": [r"8\.16\.1-.*", "latest"]}, {"8.16.1-amd64", "8.16.1-arm64", "8.16.1-ubi", "latest"}),
    ({"include": "v.*", "exclude": ["v9.*", "v1"]}, {"v8.15.0", "v8.16.0", "v8.16.1", "v8.16.2", "v8.17.0"}),
    ({"exclude": r".*\d.*"}, {"latest", "edge", "nightly", "stable"}),
    ({"semver": "*", "newest": 3}, {"8.17.1", "9.0.0", "v9.0.0"}),
    ({"newest": 4}, {"8.17.1", "9.0.0-beta1", "9.0.0", "v9.0.0"}),
    ({"semver": ">=8.16.0 <8.17.0", "exclude": "v.*", "newest": 2}, {"8.16.3", "8.16.10"}),
    ({}, set(TAGS)),
]


@pytest.fixture(scope="module")
def source(plain_registry, tmp_path_factory):
    """``(proxy, registry, image)``: the session's plain registry with one small image under the 40
    tags of REPO, behind a proxy that pages its tag list.

    docker-registry 2.8 answers ``/tags/list`` whole (it ignores ``n``; distribution 3, Docker Hub,
    Quay and GHCR page it), so the proxy serves the registry's own list in pages of PAGE tags,
    sorted, with ``Link: <...>; rel="next"`` headers as distribution 3 writes them (relative on
    odd pages, absolute on even ones). Everything else goes to the registry."""
    layout = OCILayout(tmp_path_factory.mktemp("tagsel") / "oci")
    image = build_image(layout, "tagsel", layers=[{"etc/tagsel": "one image, many tags\n"}])
    push_http(image, plain_registry, REPO, TAGS[0])
    manifest = (Path(layout.blob_path(image.digest))).read_bytes()
    for tag in TAGS[1:]:
        status, _headers, body = plain_registry.request("PUT", "/v2/%s/manifests/%s" % (REPO, tag), data=manifest,
                                                        headers={"Content-Type": image.media_type})
        assert status == 201, body
    status, _headers, body = plain_registry.get("/v2/%s/tags/list" % REPO)
    listed = sorted(json.loads(body)["tags"])
    assert status == 200 and listed == sorted(TAGS)
    proxy = FaultProxy(plain_registry).start()
    path = "/v2/%s/tags/list" % REPO
    pages = [listed[i:i + PAGE] for i in range(0, len(listed), PAGE)]
    for number, page in enumerate(pages):
        match = r"^%s\?n=\d+$" % re.escape(path) if number == 0 else \
            r"^%s\?(?:.*&)?last=%s(?:&|$)" % (re.escape(path), re.escape(pages[number - 1][-1]))
        headers = {}
        if number + 1 < len(pages):
            target = "%s?last=%s&n=%d" % (path, page[-1], PAGE)
            if number % 2:
                target = "http://%s%s" % (proxy.host, target)
            headers["Link"] = '<%s>; rel="next"' % target
        proxy.add_rule("GET", match, times=None, status=200, headers=headers,
                       body=json.dumps({"name": REPO, "tags": page}).encode())
    yield proxy, plain_registry, image
    proxy.stop()


def selected(jobs, host):
    prefix = "%s/%s:" % (host, REPO)
    assert all(j.source.startswith(prefix) for j in jobs)
    return [j.source[len(prefix):] for j in jobs]


def test_forty_tags_over_several_pages(source):
    proxy, _registry, _image = source
    assert len(TAGS) == 40 and len(set(TAGS)) == 40
    with urllib.request.urlopen("%s/v2/%s/tags/list?n=%d" % (proxy.url, REPO, PAGE)) as resp:
        assert len(json.loads(resp.read())["tags"]) == PAGE and 'rel="next"' in resp.headers["Link"]


@pytest.mark.parametrize("selector, expected", CASES, ids=[str(c[0]) for c in CASES])
def test_each_selector_selects_exactly(source, selector, expected):
    proxy, _registry, _image = source
    mark = proxy.mark()
    pool = ClientPool(ClientOptions.build(insecure_registries=[proxy.host], tag_page_size=PAGE))
    try:
        jobs, failed = build_jobs([{"src": "%s/%s" % (proxy.host, REPO), "tags": selector}], "m.example:5000",
                                  pool)
    finally:
        pool.close()
    assert failed == []
    tags = selected(jobs, proxy.host)
    assert set(tags) == expected and len(tags) == len(expected)
    pages = proxy.exchanges("GET", r"/tags/list", since=mark)
    assert len(pages) == -(-len(TAGS) // PAGE)  # every page once, following Link
    assert pages[0].path.endswith("?n=%d" % PAGE) and all(p.status == 200 for p in pages)


def test_a_selection_of_nothing_names_the_selector_and_the_tag_count(source):
    proxy, _registry, _image = source
    pool = ClientPool(ClientOptions.build(insecure_registries=[proxy.host], tag_page_size=PAGE))
    try:
        jobs, failed = build_jobs([{"src": "%s/%s" % (proxy.host, REPO), "tags": {"semver": ">=10"}},
                                   {"src": "%s/tagsel/none" % proxy.host, "tags": {}}], "m.example:5000", pool)
    finally:
        pool.close()
    assert jobs == []
    assert str(failed[0].error) == ("%s/%s: tags (semver '>=10') selects no tag: the repository has 40 tags in "
                                    "the registry" % (proxy.host, REPO))
    assert "has no tags (or does not exist)" in str(failed[1].error)


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror the selection
      airgap.mirror.image_mirror:
        images: "{{ images }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
        mirror_map: "{{ map_path }}"
"""

SYNC_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Mirror the sync file's selection
      airgap.mirror.image_mirror:
        images: "{{ query('airgap.mirror.image_list', sync_file, format='skopeo_sync') }}"
        dest: "{{ dest }}"
        insecure_registries: "{{ insecure }}"
"""


def test_module_check_mode_run_map_and_rerun(source, registry_factory, ansible_run, skopeo, tmp_path):
    registry, _upstream, image = source  # the module reads the paged tag list through the proxy
    dest = registry_factory()
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    map_path = tmp_path / "mirror-map.yml"
    repo = "%s/%s" % (registry.host, REPO)
    expected = sorted(["8.16.0", "8.16.1", "8.16.2", "8.16.3", "8.16.10", "v8.16.0", "v8.16.1", "v8.16.2",
                       "8.17.1", "9.0.0", "v9.0.0"])
    extra = {"images": [{"src": repo, "tags": {"semver": ">=8.16.0 <8.17.0"}},
                        {"src": repo, "tags": {"semver": "*", "newest": 3}}],
             "dest": dest.host, "insecure": [registry.host, dest.host], "map_path": str(map_path)}

    # check mode: the resolved references, nothing written
    res = ansible_run.playbook(play, extra_vars=extra, check=True)
    assert res.rc == 0, res.output
    result = res.one("Mirror the selection")["result"]
    assert sorted(i["source"] for i in result["images"]) == sorted("%s:%s" % (repo, t) for t in expected)
    assert {i["status"] for i in result["images"]} == {"would_copy"}
    assert not map_path.exists()
    assert dest.get("/v2/%s/tags/list" % REPO)[0] == 404

    # the run: every selected tag at the mirror, one map entry per tag
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc == 0, res.output
    assert res.one("Mirror the selection")["changed"]
    assert skopeo.list_tags("docker://%s/%s" % (dest.host, REPO), registry=dest) == expected
    entries = yaml.safe_load(map_path.read_text())["images"]
    assert sorted(e["source"] for e in entries) == sorted("%s:%s" % (repo, t) for t in expected)
    assert {e["digest"] for e in entries} == {image.digest}
    map_text = map_path.read_text()

    # a re-run that selects the same tags changes nothing
    mark = dest.mark()
    res = ansible_run.playbook(play, extra_vars=extra)
    assert res.rc == 0, res.output
    assert not res.one("Mirror the selection")["changed"]
    assert map_path.read_text() == map_text
    assert dest.count(("PUT", "POST", "PATCH"), since=mark) == 0


def test_skopeo_sync_file_selects_what_skopeo_sync_copies(source, registry_factory, ansible_run, skopeo, tmp_path):
    registry, _upstream, _image = source
    dest = registry_factory()
    regex = r"^8\.16\.1"  # skopeo finds it anywhere: 8.16.1, 8.16.10, 8.16.1-amd64...
    sync = {registry.host: {"images-by-tag-regex": {REPO: regex}}}
    ours = tmp_path / "sync.yml"
    ours.write_text(yaml.safe_dump(sync))
    # skopeo itself needs tls-verify: false for a plain HTTP registry (which our reader refuses)
    theirs = tmp_path / "skopeo-sync.yml"
    theirs.write_text(yaml.safe_dump({registry.host: dict(sync[registry.host], **{"tls-verify": False})}))
    out = tmp_path / "skopeo-out"
    out.mkdir()
    skopeo.run(["sync", "--src", "yaml", "--dest", "dir", str(theirs), str(out)])
    copied = sorted(p.name.split(":", 1)[1] for p in out.iterdir())  # skopeo 1.9 writes app:TAG
    assert copied == sorted(["8.16.1", "8.16.10", "8.16.1-amd64", "8.16.1-arm64", "8.16.1-ubi", "8.16.1.1",
                             "8.16.1_hotfix"])

    play = tmp_path / "sync-play.yml"
    play.write_text(SYNC_PLAY)
    res = ansible_run.playbook(play, extra_vars={"sync_file": str(ours), "dest": dest.host,
                                                 "insecure": [registry.host, dest.host]}, check=True)
    assert res.rc == 0, res.output
    sources = [i["source"] for i in res.one("Mirror the sync file's selection")["result"]["images"]]
    assert sorted(sources) == sorted("%s/%s:%s" % (registry.host, REPO, t) for t in copied)

    # the empty tag list: every tag; images-by-semver: the same set as the selector
    ours.write_text(yaml.safe_dump({registry.host: {"images": {REPO: []}}}))
    res = ansible_run.playbook(play, extra_vars={"sync_file": str(ours), "dest": dest.host,
                                                 "insecure": [registry.host, dest.host]}, check=True)
    assert res.rc == 0, res.output
    assert len(res.one("Mirror the sync file's selection")["result"]["images"]) == 40
    ours.write_text(yaml.safe_dump({registry.host: {"images-by-semver": {REPO: ">= 8.16.0, < 8.17.0"}}}))
    res = ansible_run.playbook(play, extra_vars={"sync_file": str(ours), "dest": dest.host,
                                                 "insecure": [registry.host, dest.host]}, check=True)
    assert res.rc == 0, res.output
    sources = [i["source"] for i in res.one("Mirror the sync file's selection")["result"]["images"]]
    assert sorted(s.rsplit(":", 1)[1] for s in sources) == sorted(CASES[0][1])

    # a transport setting is refused, naming the file, the registry and the key
    ours.write_text(yaml.safe_dump({registry.host: {"images": {REPO: []}, "credentials": {
        "username": "u", "password": "hunter2-secret"}}}))
    res = ansible_run.playbook(play, extra_vars={"sync_file": str(ours), "dest": dest.host,
                                                 "insecure": [registry.host, dest.host]}, check=True)
    assert res.rc != 0
    assert re.search(r"%s:\d+: %s\.credentials: credentials is not taken from an image list"
                     % (re.escape(str(ours)), re.escape(registry.host)), res.output), res.output
    assert "hunter2-secret" not in res.output


ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: The role with a tag selection
      ansible.builtin.include_role:
        name: airgap.mirror.mirror_images
      vars:
        mirror_images_images:
          - "{{ single }}"
          - src: "{{ repo }}"
            tags: {include: '9\\..*'}
        mirror_images_registry: "{{ dest }}"
        mirror_images_insecure_registries: "{{ insecure }}"
"""


def test_the_mirror_images_role_passes_selections_through(source, registry_factory, ansible_run, skopeo, tmp_path):
    """``mirror_images_images`` takes tag selections as well as references (a selection used to be
    turned into its string form by the role's list assembly)."""
    registry, _upstream, _image = source
    dest = registry_factory()
    play = tmp_path / "role.yml"
    play.write_text(ROLE_PLAY)
    repo = "%s/%s" % (registry.host, REPO)
    res = ansible_run.playbook(play, extra_vars={"repo": repo, "single": repo + ":8.16.0", "dest": dest.host,
                                                 "insecure": [registry.host, dest.host]})
    assert res.rc == 0, res.output
    assert skopeo.list_tags("docker://%s/%s" % (dest.host, REPO), registry=dest) == \
        sorted(["8.16.0"] + [t for t in TAGS if re.fullmatch(r"9\..*", t)])
