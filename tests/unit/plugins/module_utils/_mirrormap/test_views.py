import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as IO
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import model as MM
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import views as V
from ansible_collections.airgap.mirror.plugins.module_utils._oci import reference as R

D = "sha256:" + "12" * 32
OCI = "application/vnd.oci.image.index.v1+json"


def entry(source, destination):
    return MM.Entry(R.parse(source), D, OCI, MM.parse_destination(destination))


def test_labeled_entries_keep_the_order_of_a_list():
    items = [entry("quay.io/b/b:1", "m.example.com/b/b:1").to_dict(),
             entry("quay.io/a/a:1", "m.example.com/a/a:1").to_dict()]
    labeled = V.labeled_entries(items)
    assert [(label, str(e.source)) for label, e in labeled] == [("images[0]", "quay.io/b/b:1"),
                                                                ("images[1]", "quay.io/a/a:1")]
    # text and documents are numbered in the map's (the file's) order
    text = IO.dumps(MM.MirrorMap(e for _label, e in labeled))
    assert [str(e.source) for _label, e in V.labeled_entries(text)] == ["quay.io/a/a:1", "quay.io/b/b:1"]


def test_labeled_entries_name_the_bad_item():
    with pytest.raises(MM.MirrorMapError, match=r"images\[1\] \(quay.io/x:1\): missing digest"):
        V.labeled_entries([entry("quay.io/a/a:1", "m.example.com/a/a:1").to_dict(), {"source": "quay.io/x:1"}])


def test_source_prefix_pairs_of_a_map():
    mirror_map = MM.MirrorMap([
        entry("quay.io/org/one:1", "m.example.com:5000/ns/org/one:1"),
        entry("quay.io/org/two:1", "m.example.com:5000/ns/org/two:1"),
        entry("ghcr.io/x/y:1", "m.example.com:5000/elsewhere:1"),
        entry("registry.k8s.io/pause:3", "oci:/srv/layout:pause"),
    ])
    assert V.source_prefix_pairs(mirror_map) == [
        ("ghcr.io/x/y", "m.example.com:5000/elsewhere"),
        ("quay.io", "m.example.com:5000/ns"),
    ]


def test_one_source_two_mirrors_is_an_error():
    mirror_map = MM.MirrorMap([entry("quay.io/org/app:1", "a.example.com/org/app:1"),
                               entry("quay.io/org/app:2", "b.example.com/org/app:2")])
    with pytest.raises(MM.MirrorMapError, match="claimed by two mirror locations: a.example.com/org/app"):
        V.source_prefix_pairs(mirror_map)
