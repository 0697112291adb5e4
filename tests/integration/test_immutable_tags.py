"""``immutable_tags``: a re-run asks the source nothing about images whose tags the user declares
never move, and the mirror map records; other images are resolved as usual. Real registries, the
source's access log as the witness, skopeo as the judge of what the mirror serves."""

from __future__ import annotations

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, State
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror

from support import images as I

pytestmark = pytest.mark.integration

RELEASE = r"v?\d+\.\d+\.\d+"


def test_immutable_tags_spare_the_source_and_only_those(tmp_path, registry_factory, skopeo):
    src, dest = registry_factory(), registry_factory()
    layout = I.OCILayout(tmp_path / "oci")
    images = {tag: I.build_image(layout, None, layers=[{"f": tag}]) for tag in ("1.0.0", "v1.0.1", "latest")}
    for tag, image in images.items():
        I.push_http(image, src, "org/app", tag)
    refs = ["%s/org/app:%s" % (src.host, tag) for tag in images]

    def run(immutable=(), lock=None, use_lock=True):
        pool = ClientPool(insecure_registries=[src.host, dest.host])
        state = State(lock=lock if use_lock else None, previous=lock, immutable_tags=tuple(immutable))
        return mirror(MirrorRequest(refs, dest.host, state=state), pool=pool)

    first = run()
    assert {i["status"] for i in first["images"]} == {"copied"} and first["failed"] == []

    mark = src.mark()
    again = run([RELEASE], first["map"])
    by_tag = {i["source"].rsplit(":", 1)[1]: i for i in again["images"]}
    assert {t: i["status"] for t, i in by_tag.items()} == {"1.0.0": "present", "v1.0.1": "present", "latest": "present"}
    assert [t for t, i in by_tag.items() if i.get("source_checked") is False] == ["1.0.0", "v1.0.1"]
    assert again["totals"]["source_not_checked"] == 2 and not again["changed"]
    asked = [r.path for r in src.since(mark)]
    assert asked and all("1.0" not in p for p in asked), asked  # only `latest` (and its attachments) was asked
    assert any("/manifests/latest" in p for p in asked), asked
    assert again["map"] == first["map"]

    # the user's declaration is trusted: a release tag moved upstream is not noticed with it...
    moved = I.build_image(layout, None, layers=[{"f": "moved"}])
    I.push_http(moved, src, "org/app", "1.0.0")
    trusted = run([RELEASE], first["map"])
    assert [i["status"] for i in trusted["images"]] == ["present"] * 3
    assert skopeo.digest_of("docker://%s/org/app:1.0.0" % dest.host, registry=dest) == images["1.0.0"].digest
    # ...and is, as always, without it
    checked = run((), first["map"])
    statuses = {i["source"].rsplit(":", 1)[1]: i["status"] for i in checked["images"]}
    assert statuses == {"1.0.0": "copied", "v1.0.1": "present", "latest": "present"}
    assert skopeo.digest_of("docker://%s/org/app:1.0.0" % dest.host, registry=dest) == moved.digest
    assert checked["totals"]["source_not_checked"] == 0


def test_a_bad_pattern_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"immutable_tags: '\(' is not a regular expression"):
        State(immutable_tags=("(",))
