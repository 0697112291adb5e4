import hashlib
import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._oci import manifest as M
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import DigestMismatch, LayoutError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.layout import REF_NAME, Layout


def d(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def chunks(data, offset=0, size=7):
    for i in range(offset, len(data), size):
        yield data[i:i + size]


def test_create_on_first_write_and_reopen(tmp_path):
    layout = Layout(tmp_path / "l", create=True)
    assert not (tmp_path / "l").exists(), "planning (and check mode) must not create the layout"
    assert layout.entries() == [] and not layout.has_blob(d(b"x"))
    layout.put_bytes(d(b"x"), b"x")
    assert json.loads((tmp_path / "l" / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((tmp_path / "l" / "index.json").read_text())["manifests"] == []
    Layout(tmp_path / "l")
    with pytest.raises(LayoutError, match="not an OCI image layout"):
        Layout(tmp_path / "nothing")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "somefile").write_text("x")
    with pytest.raises(LayoutError, match="exists and is not an OCI image layout"):
        Layout(tmp_path / "busy", create=True)


def test_write_blob_verifies_and_is_atomic(tmp_path):
    layout = Layout(tmp_path / "l", create=True)
    data = os.urandom(1000)
    assert layout.write_blob(d(data), len(data), lambda off: chunks(data, off)) == 1000
    assert (tmp_path / "l" / "blobs" / "sha256" / d(data)[7:]).read_bytes() == data
    assert layout.write_blob(d(data), len(data), lambda off: chunks(data, off)) == 0
    bad = bytearray(data)
    bad[10] ^= 1
    with pytest.raises(DigestMismatch, match="does not match its digest"):
        layout.write_blob(d(b"x" * 1000), 1000, lambda off: chunks(bytes(bad), off))
    assert not layout.has_blob(d(b"x" * 1000))
    assert not os.path.exists(layout.partial_path(d(b"x" * 1000)))


def test_partial_blob_resumes_from_offset(tmp_path):
    layout = Layout(tmp_path / "l", create=True)
    data = os.urandom(5000)
    digest = d(data)
    os.makedirs(os.path.dirname(layout.partial_path(digest)))
    with open(layout.partial_path(digest), "wb") as handle:
        handle.write(data[:3000])
    offsets = []

    def opener(offset):
        offsets.append(offset)
        return chunks(data, offset)

    assert layout.write_blob(digest, len(data), opener) == 2000
    assert offsets == [3000]
    layout.cleanup_state()
    assert not os.path.exists(layout.state_dir())


def test_short_source_is_an_error(tmp_path):
    layout = Layout(tmp_path / "l", create=True)
    data = b"abcdef"
    with pytest.raises(DigestMismatch, match="got 3 bytes"):
        layout.write_blob(d(data), 6, lambda off: chunks(data[:3], off))


def test_index_refs_replace_in_place(tmp_path):
    layout = Layout(tmp_path / "l", create=True)
    a = M.Descriptor(M.OCI_MANIFEST, d(b"a"), 1)
    b = M.Descriptor(M.OCI_INDEX, d(b"b"), 2)
    assert layout.set_refs([("quay.io/x/a:1", a), ("quay.io/x/b:1", b)])
    assert not layout.set_refs([("quay.io/x/a:1", a)])
    assert layout.set_refs([("quay.io/x/a:1", b)])
    entries = layout.entries()
    assert [(n, e.digest) for n, e in entries] == [("quay.io/x/a:1", b.digest), ("quay.io/x/b:1", b.digest)]
    raw = json.loads((tmp_path / "l" / "index.json").read_text())
    assert raw["manifests"][1]["annotations"] == {REF_NAME: "quay.io/x/b:1"}
    assert layout.find("quay.io/x/b:1").digest == b.digest
    assert layout.remove_refs(["quay.io/x/a:1"]) and layout.find("quay.io/x/a:1") is None


def test_concurrent_writers_of_one_blob(tmp_path):
    import threading
    layout = Layout(tmp_path / "l", create=True)
    data = os.urandom(200000)
    digest = d(data)
    results, errors = [], []

    def slow(offset):
        yield from chunks(data, offset, 997)

    def writer():
        try:
            results.append(layout.write_blob(digest, len(data), slow))
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == [0, 0, 0, len(data)]  # one wrote it, the others found it stored
    assert (tmp_path / "l" / "blobs" / "sha256" / digest[7:]).read_bytes() == data
    layout.cleanup_state()
    assert not os.path.exists(layout.state_dir())
