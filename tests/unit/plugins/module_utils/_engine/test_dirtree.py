"""dir: trees: which source each export is recorded under (issue 12, D9).

The seed's download loop (003 section 2.4) writes ``<IMAGE_LOCAL_DIR>/<reference without its
registry>``; the tree made here from the MicroShift release fixture is exactly that.
"""

import json
from pathlib import Path

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import LayoutError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import Naming
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool, build_jobs

RELEASE = Path(__file__).parents[3] / "fixtures" / "sources" / "release-x86_64.json"
RELEASE_IMAGES = sorted(json.loads(RELEASE.read_text())["images"].values())


@pytest.fixture
def pool():
    p = ClientPool()
    yield p
    p.close()


def seed_tree(root: Path, refs) -> Path:
    """The seed's loop: ``mkdir -p ${IMAGE_LOCAL_DIR}/$(echo $src | cut -d/ -f2-)``, then an export."""
    for ref in refs:
        export = root / ref.split("/", 1)[1]
        export.mkdir(parents=True)
        (export / "manifest.json").write_text('{"schemaVersion": 2}')
    return root


def test_release_references_find_their_exports_and_keep_their_registry(pool, tmp_path):
    tree = seed_tree(tmp_path / "microshift-containers", RELEASE_IMAGES)
    warnings = []
    jobs, failed = build_jobs(RELEASE_IMAGES, "mirror.example.com:8443", pool, src="dir:%s" % tree,
                              warnings=warnings)
    assert not failed and not warnings
    assert len(jobs) == 16
    assert sorted(j.source for j in jobs) == RELEASE_IMAGES
    registries = {}
    for job in jobs:
        registries[job.src_ref.registry] = registries.get(job.src_ref.registry, 0) + 1
        # the export of exactly this reference; its manifest must have the reference's digest
        assert job.src.export.path == str(tree / job.source.split("/", 1)[1])
        assert job.expect_digest == job.src_ref.digest
        assert job.destination.startswith("mirror.example.com:8443/" + job.src_ref.repository + ":mirror-sha256-")
    assert registries == {"quay.io": 10, "registry.redhat.io": 5, "registry.access.redhat.com": 1}


def test_src_registry_on_a_mixed_tree_warns(pool, tmp_path):
    """The module's old example: every image recorded as quay.io/..., 6 of 16 wrongly. Not silent now."""
    tree = seed_tree(tmp_path / "microshift-containers", RELEASE_IMAGES)
    warnings = []
    jobs, failed = build_jobs(["all"], "mirror.example.com:8443", pool, src="dir:%s" % tree,
                              naming=Naming(src_registry="quay.io"), warnings=warnings)
    assert not failed and {j.src_ref.registry for j in jobs} == {"quay.io"}
    assert len(warnings) == 1
    assert warnings[0].startswith("src_registry=quay.io records every dir: export of %s as quay.io/...; its "
                                  "top-level directories (lvms4, openshift-release-dev, openshift4, ubi8) may come "
                                  "from different registries" % tree)
    assert "Give the images as their full source references instead (the release file's list)" in warnings[0]
    # one top-level directory: nothing to warn about
    one = seed_tree(tmp_path / "one", [r for r in RELEASE_IMAGES if "/openshift-release-dev/" in r])
    warnings = []
    jobs, failed = build_jobs(["all"], "m:5000", pool, src="dir:%s" % one, naming=Naming(src_registry="quay.io"),
                              warnings=warnings)
    assert len(jobs) == 10 and not failed and warnings == []


def test_src_registry_refuses_an_export_under_a_registry_directory(pool, tmp_path):
    ref = "registry.redhat.io/lvms4/topolvm-rhel9@sha256:" + "c" * 64
    tree = tmp_path / "tree"
    for rel in ("openshift-release-dev/app@sha256:" + "a" * 64, ref):
        (tree / rel).mkdir(parents=True)
        (tree / rel / "manifest.json").write_text("{}")
    jobs, failed = build_jobs(["all"], "m:5000", pool, src="dir:%s" % tree, naming=Naming(src_registry="quay.io"))
    assert [j.source for j in jobs] == ["quay.io/openshift-release-dev/app@sha256:" + "a" * 64]
    assert [str(f.error) for f in failed] == [
        "%s: the first directory of this dir: export, registry.redhat.io, is a registry host, so src_registry=quay.io "
        "would record it as quay.io/%s; leave src_registry out for a tree that keeps the registry as first directory, "
        "or give the images as their full source references" % (ref, ref)]
    # without src_registry the registry directory is the source's registry; the other export names none
    jobs, failed = build_jobs(["all"], "m:5000", pool, src="dir:%s" % tree)
    assert [j.source for j in jobs] == [ref]
    assert len(failed) == 1 and str(failed[0].error).startswith(
        "openshift-release-dev/app@sha256:%s: this dir: export does not say which registry it came from" % ("a" * 64))


def test_an_export_path_without_a_registry_is_not_docker_hub(pool, tmp_path):
    """It used to be recorded silently as docker.io/<path>."""
    tree = seed_tree(tmp_path / "tree", ["quay.io/org/app:1.0"])
    jobs, failed = build_jobs(["org/app:1.0"], "m:5000", pool, src="dir:%s" % tree)
    assert jobs == [] and "give the images as their full source references" in str(failed[0].error)
    # an explicit destination needs no source reference (and writes no mirror map entry)
    jobs, failed = build_jobs([{"src": "org/app:1.0", "dest": "m:5000/org/app:1.0"}], "m:5000", pool,
                              src="dir:%s" % tree)
    assert not failed and jobs[0].src_ref is None and jobs[0].source == "org/app:1.0"


def test_references_match_by_path_and_tag_or_digest(pool, tmp_path):
    digest = "sha256:" + "d" * 64
    tree = tmp_path / "tree"
    for rel in ("org/app:1.0", "docker.io/library/nginx:1", "library/busybox@" + digest, "plain/latest:latest"):
        (tree / rel).mkdir(parents=True)
        (tree / rel / "manifest.json").write_text("{}")
    jobs, failed = build_jobs(["quay.io/org/app:1.0", "docker.io/nginx:1", "docker.io/library/busybox@" + digest,
                               "quay.io/plain/latest"], "m:5000", pool, src="dir:%s" % tree)
    assert not failed, [str(f.error) for f in failed]
    assert [(j.source, j.src.export.path) for j in jobs] == [
        ("quay.io/org/app:1.0", str(tree / "org/app:1.0")),
        ("docker.io/library/nginx:1", str(tree / "docker.io/library/nginx:1")),
        ("docker.io/library/busybox@" + digest, str(tree / ("library/busybox@" + digest))),
        ("quay.io/plain/latest:latest", str(tree / "plain/latest:latest")),
    ]
    jobs, failed = build_jobs(["quay.io/org/app:2.0", "quay.io/org/app@" + digest, "org/other:1"], "m:5000", pool,
                              src="dir:%s" % tree)
    assert jobs == []
    assert [str(f.error) for f in failed] == [
        "quay.io/org/app:2.0: no dir: export under %s (looked for org/app:2.0, quay.io/org/app:2.0)" % tree,
        "quay.io/org/app@%s: no dir: export under %s (looked for org/app@%s, quay.io/org/app@%s)"
        % (digest, tree, digest, digest),
        "org/other:1: no dir: export org/other:1 under %s" % tree,
    ]


def test_find_names_the_reference(tmp_path):
    from ansible_collections.airgap.mirror.plugins.module_utils._engine.dirtree import DirTree
    tree = DirTree(str(tmp_path), {"a/b:1": str(tmp_path / "a/b:1")}, src_registry="quay.io")
    assert tree.find("a/b:1")[1].registry == "quay.io"
    assert tree.find("ghcr.io/a/b:1")[1].registry == "ghcr.io", "a full reference wins over src_registry"
    with pytest.raises(LayoutError, match=r"no dir: export under .* \(looked for a/b:2, ghcr.io/a/b:2\)"):
        tree.find("ghcr.io/a/b:2")
