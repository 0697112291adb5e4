"""Exporting stored files from an OCI layout: the tree, idempotence, and hostile annotations."""

from __future__ import annotations

import json

from ansible_collections.airgap.mirror.plugins.module_utils._artifacts import export as E
from ansible_collections.airgap.mirror.plugins.module_utils._artifacts import model as M
from ansible_collections.airgap.mirror.plugins.module_utils._artifacts.checksums import checksum_line, parse_source
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import Layout
from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as _manifest

URL = "https://site.test/downloads/tool/tool-1.0.tgz"


def store(layout, data, path=None, title=None):
    """Store *data* as a file artifact by hand, with a *path* or layer *title* that may be hostile."""
    spec = M.FileSpec(URL, parse_source("sha256", URL, "f"), None, path or M.url_path(URL))
    digest = _manifest.compute_digest(data)
    value = digest.split(":", 1)[1]
    line = checksum_line(value, spec.name)
    body = json.loads(M.artifact_manifest(spec, digest, len(data), ("sha256", value), line, None, None))
    if title:
        body["layers"][0]["annotations"][M.TITLE] = title
    raw = json.dumps(body).encode()
    for blob in (data, line, M.EMPTY, raw):
        layout.put_bytes(_manifest.compute_digest(blob), blob)
    man = _manifest.compute_digest(raw)
    layout.set_refs([(spec.ref, _manifest.Descriptor(_manifest.OCI_MANIFEST, man, len(raw),
                                                     artifact_type=M.FILE_TYPE))])
    return spec


def test_export_writes_the_tree_once(tmp_path):
    layout = Layout(tmp_path / "layout", create=True)
    store(layout, b"payload")
    tree = tmp_path / "www"
    check = E.export(E.layout_items(layout), str(tree), check_mode=True)
    assert check[0].status == E.WOULD_WRITE and not tree.exists()
    first = E.export(E.layout_items(layout), str(tree), check_mode=False)
    assert first[0].status == E.WRITTEN
    assert (tree / "downloads/tool/tool-1.0.tgz").read_bytes() == b"payload"
    assert (tree / "downloads/tool/tool-1.0.tgz.sha256").read_text().endswith("  tool-1.0.tgz\n")
    assert E.export(E.layout_items(layout), str(tree), check_mode=False)[0].status == E.UNCHANGED
    (tree / "downloads/tool/tool-1.0.tgz").write_bytes(b"tampered")
    again = E.export(E.layout_items(layout), str(tree), check_mode=False)[0]
    assert again.status == E.WRITTEN and again.changed_files == ["downloads/tool/tool-1.0.tgz"]
    assert (tree / "downloads/tool/tool-1.0.tgz").read_bytes() == b"payload"


def test_hostile_annotations_are_refused(tmp_path):
    layout = Layout(tmp_path / "layout", create=True)
    body = json.loads(layout.read_blob(layout.find(store(layout, b"x").ref).digest))
    body["annotations"][M.PATH_NOTE] = "../../etc/evil"
    raw = json.dumps(body).encode()
    layout.put_bytes(_manifest.compute_digest(raw), raw)
    layout.set_refs([("evil", _manifest.Descriptor(_manifest.OCI_MANIFEST, _manifest.compute_digest(raw), len(raw),
                                                   artifact_type=M.FILE_TYPE))])
    bad_title = Layout(tmp_path / "layout2", create=True)
    store(bad_title, b"y", title="../escape")
    results = E.export(E.layout_items(layout, ["evil"]) + E.layout_items(bad_title), str(tmp_path / "www"), False)
    assert [r.status for r in results] == [E.FAILED, E.FAILED]
    assert "must be relative" in results[0].error and "not a plain file name" in results[1].error
    assert not (tmp_path / "etc").exists() and not (tmp_path / "escape").exists()


def test_an_image_is_not_exported(tmp_path):
    layout = Layout(tmp_path / "layout", create=True)
    raw = json.dumps({"schemaVersion": 2, "mediaType": _manifest.OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": _manifest.compute_digest(b"{}"),
        "size": 2}, "layers": []}).encode()
    layout.put_bytes(_manifest.compute_digest(raw), raw)
    layout.set_refs([("quay.io/org/app:1", _manifest.Descriptor(_manifest.OCI_MANIFEST, _manifest.compute_digest(raw),
                                                                len(raw)))])
    assert E.layout_items(layout) == []
    result = E.export(E.layout_items(layout, ["quay.io/org/app:1"]), str(tmp_path / "www"), False)[0]
    assert result.status == E.FAILED and "is not a file stored by" in result.error
