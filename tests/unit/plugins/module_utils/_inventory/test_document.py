"""The inventory file: atomic, idempotent (the time alone is no change), signed and checked with real GnuPG keys."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.signing import load_signing_key, load_trusted_keys
from ansible_collections.airgap.mirror.plugins.module_utils._inventory import document as D
from ansible_collections.airgap.mirror.plugins.module_utils._inventory.model import InventoryError

from support.gpg import make_key

from .test_model import d, sample


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("gpg")
    alice, mallory = make_key(base, "alice", passphrase="inventory pass"), make_key(base, "mallory")
    for key in (alice, mallory):
        (base / ("%s.pub" % key.name)).write_bytes(key.public)
        (base / ("%s.key" % key.name)).write_bytes(key.secret)
    yield base, alice, mallory
    alice.stop_agent()
    mallory.stop_agent()


def test_write_is_idempotent_and_the_time_alone_is_no_change(tmp_path):
    path = str(tmp_path / "inv.json")
    checked = D.write(path, sample(), check_mode=True)
    assert checked["changed"] and checked["status"] == "would_write" and not os.path.exists(path)
    first = D.write(path, sample())
    assert first["changed"] and first["status"] == "written" and first["signature"] is None
    data = open(path, "rb").read()
    assert json.loads(data)["read_at"] == "2026-12-06T03:00:00Z" and oct(os.stat(path).st_mode & 0o777) == "0o644"
    later = D.write(path, sample("2026-12-24T00:00:00Z"))
    assert not later["changed"] and later["status"] == "present" and later["read_at"] == "2026-12-06T03:00:00Z"
    assert open(path, "rb").read() == data and later["sha256"] == first["sha256"]
    changed = sample("2026-12-24T00:00:00Z")
    del changed.repositories["org/app"].missing_blobs[d(12)]
    result = D.write(path, changed)
    assert result["changed"] and result["read_at"] == "2026-12-24T00:00:00Z"
    assert "org/app: missing blob %s" % d(12) in result["diff"]["before"]
    assert "missing blob" not in result["diff"]["after"].split("org/tool", maxsplit=1)[0]
    other_scope = sample("2026-12-25T00:00:00Z")
    other_scope.scope = {"kind": "repositories", "repositories": None}
    assert D.write(path, other_scope)["changed"]


def test_signed_written_once_checked_and_refused_when_changed_or_by_another_key(keys, tmp_path):
    base, alice, mallory = keys
    path = str(tmp_path / "inv.json")
    key = load_signing_key(str(base / "alice.key"), "inventory pass")
    assert D.write(path, sample(), key, check_mode=True)["signature"]["status"] == "would_write"
    assert not os.path.exists(path + ".asc")
    written = D.write(path, sample(), key)
    assert written["signature"]["status"] == "written" and written["signature"]["fingerprint"] == alice.fingerprint
    again = D.write(path, sample("2027-01-01T00:00:00Z"), key)
    assert not again["changed"] and again["signature"]["status"] == "present"
    inv, info = D.load(path, load_trusted_keys([str(base / "alice.pub")]))
    assert info["signature"]["verified"] and info["signature"]["fingerprint"] == alice.fingerprint
    assert inv.state_digest() == sample().state_digest()
    with pytest.raises(InventoryError, match="is refused: untrusted key: .*verify_keys trusts %s" % mallory.fingerprint):
        D.load(path, load_trusted_keys([str(base / "mallory.pub")]))
    doc = json.loads(open(path).read())
    doc["read_at"] = "2099-01-01T00:00:00Z"  # the state digest still matches: only the signature tells
    open(path, "w").write(json.dumps(doc))
    with pytest.raises(InventoryError, match="is refused: bad signature: it was changed after it was signed"):
        D.load(path, load_trusted_keys([str(base / "alice.pub")]))
    os.unlink(path + ".asc")
    with pytest.raises(InventoryError, match="is refused: unsigned: it has no signature inv.json.asc"):
        D.load(path, load_trusted_keys([str(base / "alice.pub")]))
    assert D.load(path)[1]["signature"] == {"present": False, "file": path + ".asc", "verified": False,
                                            "fingerprint": None}


def test_bad_files_are_named(tmp_path):
    with pytest.raises(InventoryError, match="inventory .*missing.json does not exist"):
        D.load(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InventoryError, match="bad.json is not JSON"):
        D.load(str(tmp_path / "bad.json"))
    assert D.load_if_exists(str(tmp_path / "bad.json")) is None
    with pytest.raises(InventoryError, match="cannot sign the inventory .* with the signing_key"):
        junk = type("K", (), {"secret": b"junk", "passphrase": None, "path": "/k"})()
        D.write(str(tmp_path / "x.json"), sample(), junk)
    assert not (tmp_path / "x.json").exists()  # refused before anything is written
