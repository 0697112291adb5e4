"""Unit tests of tag selection at plan time (_engine/selection.py) with an OCI layout source;
registries are in tests/integration/test_tag_selection.py."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs
from ansible_collections.airgap.mirror.plugins.module_utils._engine.registry import next_link
from ansible_collections.airgap.mirror.plugins.module_utils._engine.selection import expand_selections
from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M

from .conftest import image

REPO = "quay.io/org/app"


@pytest.fixture
def layout(tmp_path):
    lay = Layout(str(tmp_path / "src"), create=True)
    data = image(lay, "amd64")
    desc = M.Descriptor(M.OCI_MANIFEST, M.compute_digest(data), len(data))
    lay.set_refs([("%s:%s" % (REPO, tag), desc) for tag in ("1.0.0", "v1.1.0", "1.2.0-rc1", "latest")]
                 + [("quay.io/org/app-other:1.0.0", desc), ("v9", desc), ("%s@%s" % (REPO, desc.digest), desc)])
    return lay


@pytest.fixture
def pool():
    p = ClientPool()
    yield p
    p.close()


def test_layout_tags_selected(layout, pool):
    images, failures = expand_selections([{"src": REPO, "tags": {"semver": ">=1.0.0"}}, "x.io/a:1"], pool, layout)
    assert failures == []
    assert images == [REPO + ":1.0.0", REPO + ":v1.1.0", "x.io/a:1"]
    images, failures = expand_selections([{"src": REPO, "tags": {}}], pool, layout)
    assert images == [REPO + ":1.0.0", REPO + ":v1.1.0", REPO + ":1.2.0-rc1", REPO + ":latest"]


def test_other_keys_and_dest_travel_with_each_tag(layout, pool):
    images, failures = expand_selections([{"src": REPO, "tags": {"include": "latest|1.0.0"},
                                           "dest": "m:5000/mine/app", "platforms": ["linux/amd64"]}], pool, layout)
    assert failures == []
    assert images == [{"src": REPO + ":1.0.0", "dest": "m:5000/mine/app:1.0.0", "platforms": ["linux/amd64"]},
                      {"src": REPO + ":latest", "dest": "m:5000/mine/app:latest", "platforms": ["linux/amd64"]}]


def test_failures_name_the_entry(layout, pool):
    images, failures = expand_selections([
        {"src": REPO, "tags": {"include": "2.*"}},
        {"src": "quay.io/org/none", "tags": {}},
        {"src": REPO, "tags": {"newest": -1}},
        {"src": REPO, "tags": {}, "dest": "m:5000/x:1"},
    ], pool, layout)
    assert images == []
    messages = [str(error) for _entry, error in failures]
    assert [entry for entry, _error in failures] == [REPO, "quay.io/org/none", REPO, REPO]
    assert messages[0] == ("quay.io/org/app: tags (include '2.*') selects no tag: the repository has 4 tags in "
                           "the layout %s" % layout.path)
    assert "the repository has no tags (or does not exist)" in messages[1]
    assert "tags.newest must be a positive whole number, got -1" in messages[2]
    assert "dest of an entry with tags must be a repository without tag or digest" in messages[3]
    _images, failures = expand_selections([{"src": REPO, "tags": {}}], pool, None, dir_source=True)
    assert "cannot be selected from a dir: tree" in str(failures[0][1])


def test_build_jobs_makes_one_job_per_tag(layout, pool, tmp_path):
    jobs, failed = build_jobs([{"src": REPO, "tags": {"semver": "1.x"}}, {"src": REPO, "tags": {"include": "9"}}],
                              "oci:" + str(tmp_path / "dest"), pool, src="oci:" + layout.path)
    assert [j.source for j in jobs] == [REPO + ":1.0.0", REPO + ":v1.1.0"]
    assert [f.source for f in failed] == [REPO] and "selects no tag" in str(failed[0].error)


@pytest.mark.parametrize("header, expected", [
    ('</v2/app/tags/list?n=10&last=b>; rel="next"', "/v2/app/tags/list?n=10&last=b"),
    ('<https://r.io/v2/app/tags/list?last=b&n=10>;rel=next', "https://r.io/v2/app/tags/list?last=b&n=10"),
    ('<https://r.io/docs>; rel="help", </v2/a/tags/list?last=c>; rel="next"', "/v2/a/tags/list?last=c"),
    ('</v2/a/tags/list?last=c>; rel="prev"', None),
    (None, None),
])
def test_next_link(header, expected):
    assert next_link(header) == expected


def test_a_failed_selection_keeps_the_map_entries_of_its_repository(layout, pool, tmp_path):
    from ansible_collections.airgap.mirror.plugins.module_utils._engine.report import map_entries
    from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import (
        Entry, MirrorMap, RegistryDestination)
    from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

    digest = "sha256:" + "2" * 64

    def entry(src):
        ref = R.parse(src)
        return Entry(ref, digest, M.OCI_MANIFEST, RegistryDestination(R.parse("m:5000/" + ref.repository + ":" +
                                                                              ref.tag)), (), 1)

    previous = MirrorMap([entry(REPO + ":1.0.0"), entry(REPO + ":0.9.0"), entry("quay.io/org/other:1")])
    jobs, failed = build_jobs([{"src": REPO, "tags": {"include": "nothing"}}], "m:5000", pool,
                              src="oci:" + layout.path)
    assert jobs == [] and failed[0].selection == REPO
    _ordered, mirror_map, kept = map_entries(jobs, previous, rejected=failed)
    assert kept == 2
    assert sorted(str(e.source) for e in mirror_map) == [REPO + ":0.9.0", REPO + ":1.0.0"]
