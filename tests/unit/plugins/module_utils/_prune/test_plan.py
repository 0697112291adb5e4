"""The prune plan's rules on a mirror state written out by hand: kept index children, manifests
shared by a kept and a dropped image, signatures of kept images, and the bytes freed."""

from ansible_collections.airgap.mirror.plugins.module_utils._prune.plan import make_plan, signature_subject
from ansible_collections.airgap.mirror.plugins.module_utils._inventory.model import Inventory, ManifestRecord, Repository

INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE = "application/vnd.oci.image.manifest.v1+json"


def d(char):
    return "sha256:" + char * 64


def image(char, *blobs, subject=None, size=500):
    return ManifestRecord(d(char), IMAGE, size, blobs=tuple(blobs), subject=subject)


def index(char, *children, size=300):
    return ManifestRecord(d(char), INDEX, size, children=tuple(d(c) for c in children))


def state(*repos):
    return Inventory("mirror:5000", "2026-12-06T00:00:00Z", {"kind": "repositories"},
                     repositories={r.name: r for r in repos})


def repo(name, tags, *nodes):
    return Repository(name, {t: d(c) for t, c in tags.items()}, {n.digest: n for n in nodes})


LAYER_SHARED = (d("L"), 1000)
LAYER_OLD = (d("M"), 2000)
LAYER_NEW = (d("N"), 4000)
CONFIG_OLD = (d("C"), 10)
CONFIG_NEW = (d("D"), 20)


def test_dropped_image_goes_with_its_tag_and_frees_only_its_unique_blobs():
    s = state(repo("app", {"1.0": "a", "2.0": "b"},
                   image("a", CONFIG_OLD, LAYER_SHARED, LAYER_OLD),
                   image("b", CONFIG_NEW, LAYER_SHARED, LAYER_NEW)))
    plan = make_plan(s, {"app": {d("b")}}, "fp-1")
    assert [(x.repository, x.digest, x.tags, x.kind) for x in plan.deletions] == [("app", d("a"), ("1.0",), "image")]
    assert plan.tags() == ["app:1.0"]
    # the old layer, the old config and the manifest's own bytes; never the shared layer
    assert plan.freed == {d("M"): 2000, d("C"): 10, d("a"): 500}
    assert plan.bytes_freed == 2510
    assert plan.fingerprint == "fp-1" and plan.absent == []


def test_a_child_of_a_kept_index_is_kept_even_when_untagged_and_a_dropped_index_takes_its_children():
    s = state(repo("multi", {"new": "i", "old": "j"},
                   index("i", "1", "2"), image("1", CONFIG_NEW, LAYER_NEW), image("2", CONFIG_NEW, LAYER_SHARED),
                   index("j", "2", "3"), image("3", CONFIG_OLD, LAYER_OLD)))
    plan = make_plan(s, {"multi": {d("i")}}, "fp-1")
    got = [(x.digest, x.kind) for x in plan.deletions]
    # the old index first, then its child that no kept index holds; child 2 is shared: kept
    assert got == [(d("j"), "image"), (d("3"), "child")]
    assert set(plan.freed) == {d("j"), d("3"), d("C"), d("M")}


def test_a_manifest_kept_in_one_repository_is_deleted_in_another_and_its_blobs_stay():
    shared = image("s", CONFIG_OLD, LAYER_OLD)
    s = state(repo("one", {"v1": "s"}, shared), repo("two", {"v1": "s"}, shared))
    plan = make_plan(s, {"one": {d("s")}}, "fp-1")
    assert [(x.repository, x.digest) for x in plan.deletions] == [("two", d("s"))]
    assert plan.freed == {}  # every blob is still referenced by the kept copy in "one"


def test_signatures_attachments_and_referrers_of_a_kept_image_are_kept_those_of_a_dropped_one_go():
    hexa, hexb = "a" * 64, "b" * 64
    s = state(repo("app", {"keep": "a", "drop": "b",
                           "sha256-%s.sig" % hexa: "s", "sha256-%s.gpgsig" % hexa: "g", "sha256-%s.att" % hexa: "t",
                           "sha256-%s.sig" % hexb: "u"},
                   image("a", CONFIG_NEW, LAYER_NEW), image("b", CONFIG_OLD, LAYER_OLD),
                   image("s", (d("x"), 5)), image("g", (d("y"), 6)), image("t", (d("z"), 7)),
                   image("u", (d("w"), 8)),
                   image("r", (d("v"), 9), subject=d("a")), image("q", (d("p"), 3), subject=d("b"))))
    plan = make_plan(s, {"app": {d("a")}}, "fp-1")
    got = [(x.digest, x.kind, x.tags) for x in plan.deletions]
    assert got == [(d("q"), "signature", ()), (d("u"), "signature", ("sha256-%s.sig" % hexb,)),
                   (d("b"), "image", ("drop",))]
    kept = {d(c) for c in "asgtr"}
    assert not kept & {x.digest for x in plan.deletions}
    assert plan.kept_manifests == 5


def test_a_kept_image_missing_from_the_mirror_is_reported_and_nothing_is_kept_by_it():
    s = state(repo("app", {"1.0": "a"}, image("a", CONFIG_OLD)))
    plan = make_plan(s, {"app": {d("b")}, "gone": {d("c")}}, "fp-1")
    assert plan.absent == ["app@" + d("b"), "gone@" + d("c")]
    assert [x.digest for x in plan.deletions] == [d("a")]


def test_a_kept_image_out_of_a_narrowed_scope_is_not_called_absent():
    s = state(repo("app", {"1.0": "a"}, image("a", CONFIG_OLD)))
    s.scope = {"kind": "repositories", "repositories": ["app"]}
    plan = make_plan(s, {"app": {d("a")}, "other": {d("c")}}, "fp-1")
    assert plan.absent == [] and plan.deletions == []


def test_the_plan_document_is_stable():
    s = state(repo("app", {"1.0": "a"}, image("a", CONFIG_OLD)))
    first, second = make_plan(s, {}, "fp-1").to_dict(), make_plan(s, {}, "fp-1").to_dict()
    assert first == second
    assert first["format"] == "airgap.mirror/prune-plan/v1" and first["fingerprint"] == "fp-1"
    assert first["manifests"] == [{"repository": "app", "digest": d("a"), "media_type": IMAGE, "tags": ["1.0"],
                                   "kind": "image"}]
    assert first["bytes_freed"] == 510


def test_signature_subject():
    assert signature_subject("sha256-" + "a" * 64 + ".sig") == d("a")
    assert signature_subject("sha256-" + "a" * 64) == d("a")
    assert signature_subject("sha256-" + "a" * 64 + ".gpgsig") == d("a")
    assert signature_subject("1.0") is None
    assert signature_subject("sha256-" + "a" * 64 + ".other") is None
