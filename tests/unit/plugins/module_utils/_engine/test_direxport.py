import hashlib

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import LayoutError, NotFound
from ansible_collections.airgap.mirror.plugins.module_utils._engine.direxport import DirExport, find_dir_exports


def d(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_dir_export_reader(tmp_path):
    root = tmp_path / "tree" / "org" / "app@sha256:abc"
    root.mkdir(parents=True)
    top = b'{"schemaVersion": 2}'
    (root / "manifest.json").write_bytes(top)
    (root / "version").write_text("Directory Transport Version: 1.1\n")
    blob = b"blobdata"
    (root / d(blob)[7:]).write_bytes(blob)
    exp = DirExport(str(root))
    assert exp.read_manifest(d(top), d(top)) == top
    assert b"".join(exp.open_blob(d(blob))) == blob
    assert b"".join(exp.open_blob(d(blob), offset=4)) == b"data"
    assert exp.has_blob(d(blob)) and not exp.has_blob(d(b"other"))
    with pytest.raises(NotFound, match="is not in the dir: export"):
        exp.open_blob(d(b"other"))
    with pytest.raises(NotFound, match="manifest"):
        exp.read_manifest(d(b"child"), d(top))
    assert list(find_dir_exports(str(tmp_path / "tree"))) == ["org/app@sha256:abc"]
    (root / "version").write_text("Directory Transport Version: 9\n")
    with pytest.raises(LayoutError, match="version"):
        DirExport(str(root))


def test_not_an_export(tmp_path):
    with pytest.raises(LayoutError, match="no manifest.json"):
        DirExport(str(tmp_path))
