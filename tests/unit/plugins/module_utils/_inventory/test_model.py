"""The inventory model: the state fingerprint, the document format, closures."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._inventory.model import (
    FORMAT, ImageRecord, Inventory, InventoryError, ManifestRecord, MirrorState, Repository)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def d(n):
    return "sha256:%064x" % n


def sample(read_at="2026-12-06T03:00:00Z"):
    inv = Inventory("mirror.example:5000", read_at, {"kind": "mirror_map", "images": 2}, blobs_checked=True)
    repo = inv.repository("org/app")
    repo.manifests[d(1)] = ManifestRecord(d(1), OCI_INDEX, 300, children=(d(2), d(3)))
    repo.manifests[d(2)] = ManifestRecord(d(2), OCI_MANIFEST, 400, blobs=((d(10), 50), (d(11), 5000)))
    repo.manifests[d(3)] = ManifestRecord(d(3), OCI_MANIFEST, 410, blobs=((d(12), 60), (d(11), 5000)))
    repo.tags["1.0"] = d(1)
    repo.missing_blobs[d(12)] = 60
    other = inv.repository("org/tool")
    other.missing_manifests.add(d(20))
    inv.images = [ImageRecord("quay.io/org/app:1.0", "org/app", "1.0", d(1), True, False),
                  ImageRecord("quay.io/org/tool:2", "org/tool", "2", d(20), False, False)]
    return inv


def test_state_digest_ignores_when_and_what_from_but_not_the_state():
    one, two = sample(), sample("2027-01-01T00:00:00Z")
    two.scope["path"] = "/elsewhere/map.yml"
    two.requests = 99
    assert one.state_digest() == two.state_digest()
    assert one.state_digest().startswith("sha256:") and len(one.state_digest()) == 71
    two.repositories["org/app"].tags["1.1"] = d(1)
    assert one.state_digest() != two.state_digest()
    three = sample()
    del three.repositories["org/app"].missing_blobs[d(12)]
    assert three.state_digest() != one.state_digest()


def test_state_digest_does_not_depend_on_insertion_order():
    one = sample()
    two = sample()
    repo = two.repositories["org/app"]
    repo.manifests = dict(reversed(list(repo.manifests.items())))
    two.images.reverse()
    two.repositories = dict(reversed(list(two.repositories.items())))
    assert one.state_digest() == two.state_digest()


def test_closure_blobs_and_holds():
    repo = sample().repositories["org/app"]
    present, absent = repo.closure(d(1))
    assert present == {d(1): 300, d(2): 400, d(3): 410, d(10): 50, d(11): 5000}
    assert absent == {d(12)}
    assert repo.referenced_blobs() == {d(10): 50, d(11): 5000, d(12): 60}
    assert repo.blobs() == {d(10): 50, d(11): 5000}
    assert repo.holds() == {d(1): 300, d(2): 400, d(3): 410, d(10): 50, d(11): 5000}
    assert Repository("x").closure(d(5)) == ({}, {d(5)})


def test_totals_missing_and_sources():
    inv = sample()
    assert inv.totals() == {"repositories": 2, "tags": 1, "manifests": 3, "blobs": 2, "missing_manifests": 1,
                            "missing_blobs": 1, "images": 2, "images_incomplete": 2}
    assert inv.missing() == {"org/app": {"manifests": [], "blobs": [d(12)]},
                             "org/tool": {"manifests": [d(20)], "blobs": []}}
    assert inv.source_repositories() == {"quay.io/org/app": "org/app", "quay.io/org/tool": "org/tool"}
    assert MirrorState is Inventory


def test_document_round_trip_through_json():
    inv = sample()
    doc = json.loads(json.dumps(inv.to_dict()))
    assert doc["format"] == FORMAT and doc["state_digest"] == inv.state_digest()
    assert doc["read_at"] == "2026-12-06T03:00:00Z"
    back = Inventory.from_dict(doc, "inv.json")
    assert back.state() == inv.state()
    assert back.read_at == inv.read_at and back.scope == inv.scope and back.blobs_checked


def test_a_changed_document_is_refused_naming_the_file():
    doc = sample().to_dict()
    changed = copy.deepcopy(doc)
    changed["repositories"]["org/app"]["missing_blobs"] = []
    with pytest.raises(InventoryError, match=r"inv\.json: its state_digest .* does not match"):
        Inventory.from_dict(changed, "inv.json")


@pytest.mark.parametrize("mutate, message", [
    (lambda doc: doc.update(format="other"), "is not an inventory"),
    (lambda doc: doc.update(repositories=[]), "repositories must be a mapping"),
    (lambda doc: doc["repositories"]["org/app"]["manifests"][d(2)].update(size=-1), "size -1"),
    (lambda doc: doc["repositories"]["org/app"]["tags"].update({"x": "nodigest"}), "'nodigest' is not a digest"),
    (lambda doc: doc["repositories"]["org/app"]["manifests"][d(2)].pop("media_type"), "missing or wrong field"),
    (lambda doc: doc.update(read_at=""), "registry and read_at are required"),
    (lambda doc: doc["images"][0].pop("present"), "image: missing or wrong field"),
])
def test_bad_documents_are_refused(mutate, message):
    doc = sample().to_dict()
    mutate(doc)
    with pytest.raises(InventoryError, match=message):
        Inventory.from_dict(doc, "inv.json")
