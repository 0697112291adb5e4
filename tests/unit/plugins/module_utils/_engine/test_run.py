"""The engine end to end without a registry: from one OCI layout into another."""

from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest, State
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mirrormap_io
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import LayoutDestination

REF = "quay.io/org/app:1"  # the image of the source fixture (conftest.py)

OTHER = "quay.io/org/gone:1"


def test_copy_then_nothing_to_do(source, tmp_path):
    path, digest = source
    dest = "oci:%s" % (tmp_path / "out")
    check = mirror(MirrorRequest([REF], dest, src="oci:%s" % path, check_mode=True, attachments=False))
    assert [i["status"] for i in check["images"]] == ["would_copy"] and check["changed"]
    assert check["totals"]["would_copy"] == 1 and check["totals"]["bytes_to_copy"] is not None
    assert not (tmp_path / "out").exists(), "check mode writes nothing"
    assert check["diff"] == {"before": {"%s:%s" % (dest, REF): None}, "after": {"%s:%s" % (dest, REF): digest}}

    first = mirror(MirrorRequest([REF], dest, src="oci:%s" % path, attachments=False))
    assert [i["status"] for i in first["images"]] == ["copied"] and first["failed"] == []
    assert first["totals"]["copied"] == 1 and first["totals"]["manifests_pushed"] == 3
    assert Layout(str(tmp_path / "out")).find(REF).digest == digest
    (entry,) = first["map"]
    assert entry.destination == LayoutDestination(str(tmp_path / "out"), REF) and entry.digest == digest
    assert first["mirror_map"] == [entry.to_dict()]

    again = mirror(MirrorRequest([REF], dest, src="oci:%s" % path, attachments=False,
                                 state=State(lock=first["map"], previous=first["map"])))
    assert [i["status"] for i in again["images"]] == ["present"] and not again["changed"]
    assert again["map"] == first["map"]


def test_a_failed_image_keeps_its_earlier_entry(source, tmp_path):
    path, digest = source
    dest = "oci:%s" % (tmp_path / "out")
    kept = {"source": OTHER, "digest": digest, "media_type": "application/vnd.oci.image.index.v1+json",
            "destination": "%s:%s" % (dest, OTHER)}
    stale = dict(kept, source="quay.io/org/stale:1", destination="%s:quay.io/org/stale:1" % dest)
    previous = mirrormap_io.coerce([kept, stale])
    # OTHER is recorded in the source layout, but its index is gone: it fails while resolving
    Layout(str(path)).set_refs([(OTHER, M.Descriptor(M.OCI_INDEX, "sha256:" + "0" * 64, 10))])
    report = mirror(MirrorRequest([REF, OTHER], dest, src="oci:%s" % path, attachments=False,
                                  state=State(previous=previous)))
    statuses = {i["source"]: i["status"] for i in report["images"]}
    assert statuses == {REF: "copied", OTHER: "failed"}
    assert "blob is missing" in report["failed"][0]["error"]
    # the failed image keeps its entry; an entry of an image no longer requested is dropped
    assert [e["source"] for e in report["mirror_map"]] == [REF, OTHER]
    assert report["totals"]["kept_in_map"] == 1
    assert [str(e.source) for e in report["map"]] == [REF, OTHER]


def test_without_pruning_the_entries_of_other_images_stay(source, tmp_path):
    path, digest = source
    dest = "oci:%s" % (tmp_path / "out")
    other = {"source": "quay.io/org/elsewhere:1", "digest": digest,
             "media_type": "application/vnd.oci.image.index.v1+json",
             "destination": "%s:quay.io/org/elsewhere:1" % dest}
    stale_ref = {"source": REF, "digest": "sha256:" + "9" * 64, "media_type": other["media_type"],
                 "destination": "mirror:5000/org/app:1"}
    previous = mirrormap_io.coerce([other, stale_ref])
    report = mirror(MirrorRequest([REF], dest, src="oci:%s" % path, attachments=False,
                                  state=State(previous=previous, prune_map=False)))
    # REF's new entry replaces its old one (another destination); the other image's entry stays
    assert [(str(e.source), e.digest) for e in report["map"]] == [(REF, digest), ("quay.io/org/elsewhere:1", digest)]
    assert [e["source"] for e in report["mirror_map"]] == [REF]  # what this run returns: its own images
    pruned = mirror(MirrorRequest([REF], dest, src="oci:%s" % path, attachments=False,
                                  state=State(previous=previous)))
    assert [str(e.source) for e in pruned["map"]] == [REF]
