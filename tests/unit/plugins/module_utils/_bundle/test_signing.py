"""Signed bundles: the manifest's detached OpenPGP signature, checked before anything is written."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._bundle.errors import BundleError
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.signing import (
    load_signing_key, load_trusted_keys)
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.unpack import unpack
from ansible_collections.airgap.mirror.plugins.module_utils._bundle.verify import verify
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap import io as mapio
from ansible_collections.airgap.mirror.plugins.module_utils._mirrormap.model import Verified

from support import images as I
from support.gpg import gpg, make_key, stop_agent

from .helpers import map_entry, pack

SIG = "images.bundle.json.asc"
MANIFEST = "images.bundle.json"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("gpg")
    alice, mallory = make_key(base, "alice"), make_key(base, "mallory", passphrase="open sesame")
    files = {}
    for key in (alice, mallory):
        for kind in ("public", "secret"):
            path = base / ("%s.%s.asc" % (key.name, kind))
            path.write_bytes(getattr(key, kind))
            files[key.name, kind] = str(path)
    return alice, mallory, files


@pytest.fixture
def signed(keys, tmp_path):
    """A one-image layout whose map records a gpg verification, packed and signed by alice."""
    alice, _mallory, files = keys
    layout = I.OCILayout(tmp_path / "l")
    img = I.build_image(layout, "quay.io/org/app:1.0", layers=[{"a": "1"}, {"b": "2"}])
    entry = dataclasses.replace(map_entry("quay.io/org/app:1.0", img, "oci:%s:quay.io/org/app:1.0" % layout.path),
                                verified=Verified("gpg", (alice.fingerprint,)))
    (tmp_path / "map.yml").write_text(mapio.dumps([entry]))
    report = pack(tmp_path / "l", tmp_path / "b", mirror_map=str(tmp_path / "map.yml"), part_size="1K",
                  signing_key=load_signing_key(files["alice", "secret"]))
    return tmp_path / "b", report


def trusted(keys, *names):
    return load_trusted_keys([keys[2][name, "public"] for name in names])


def nothing_written(tmp_path, map_text):
    assert not (tmp_path / "out").exists()
    assert (tmp_path / "out-map.yml").read_text() == map_text


def refuse(keys, tmp_path, bundle, reason, *names, check_mode=False):
    """Unpack (and verify) refuse *bundle* for *reason*; nothing is written."""
    map_text = mapio.dumps([])
    (tmp_path / "out-map.yml").write_text(map_text)
    with pytest.raises(BundleError) as info:
        unpack(str(bundle), str(tmp_path / "out"), mirror_map=str(tmp_path / "out-map.yml"),
               trusted=trusted(keys, *(names or ("alice",))), check_mode=check_mode)
    nothing_written(tmp_path, map_text)
    with pytest.raises(BundleError) as again:
        verify(str(bundle), trusted=trusted(keys, *(names or ("alice",))))
    for exc in (info.value, again.value):
        assert "the bundle images in %s is refused: %s" % (bundle, reason) in str(exc)
        assert "PRIVATE KEY" not in str(exc) and "open sesame" not in str(exc)
    return str(info.value)


def test_pack_signs_the_manifest_in_a_format_gpg_verify_accepts(keys, signed, tmp_path):
    alice = keys[0]
    bundle, report = signed
    assert report["signature"] == {"file": str(bundle / SIG), "fingerprint": alice.fingerprint,
                                   "status": "written", "present": True}
    assert (bundle / SIG).read_bytes().startswith(b"-----BEGIN PGP SIGNATURE-----")
    home = tmp_path / "independent"
    home.mkdir(mode=0o700)
    try:
        gpg(home, "--import", keys[2]["alice", "public"])
        ok = gpg(home, "--status-fd", "1", "--verify", str(bundle / SIG), str(bundle / MANIFEST))
        assert ("[GNUPG:] VALIDSIG %s" % alice.fingerprint).encode() in ok.stdout
        (bundle / MANIFEST).write_bytes((bundle / MANIFEST).read_bytes().replace(b'"images"', b'"images" '))
        assert gpg(home, "--verify", str(bundle / SIG), str(bundle / MANIFEST), check=False).returncode != 0
    finally:
        stop_agent(home)


def test_repack_is_idempotent_and_keeps_a_valid_signature(keys, signed, tmp_path):
    bundle, _report = signed
    before = (bundle / SIG).read_bytes()
    again = pack(tmp_path / "l", bundle, mirror_map=str(tmp_path / "map.yml"), part_size="1K",
                 signing_key=load_signing_key(keys[2]["alice", "secret"]))
    assert not again["changed"] and again["signature"]["status"] == "present"
    unsigned = pack(tmp_path / "l", bundle, mirror_map=str(tmp_path / "map.yml"), part_size="1K")
    assert not unsigned["changed"] and unsigned["signature"] == {"present": True, "file": str(bundle / SIG)}
    assert (bundle / SIG).read_bytes() == before
    # another key's signature is replaced; check mode says so and writes nothing
    mallory = load_signing_key(keys[2]["mallory", "secret"], "open sesame")
    check = pack(tmp_path / "l", bundle, mirror_map=str(tmp_path / "map.yml"), part_size="1K", signing_key=mallory,
                 check_mode=True)
    assert check["changed"] and check["signature"]["status"] == "would_write"
    assert check["signature"]["fingerprint"] == keys[1].fingerprint and (bundle / SIG).read_bytes() == before
    other = pack(tmp_path / "l", bundle, mirror_map=str(tmp_path / "map.yml"), part_size="1K", signing_key=mallory)
    assert other["changed"] and other["status"] == "present" and other["signature"]["status"] == "written"
    assert verify(str(bundle), trusted=trusted(keys, "mallory"))["signature"]["fingerprint"] == keys[1].fingerprint


def test_new_content_without_a_key_drops_the_stale_signature(signed, tmp_path):
    bundle, _report = signed
    report = pack(tmp_path / "l", bundle, mirror_map=str(tmp_path / "map.yml"), part_size="2K")
    assert report["status"] == "written" and report["signature"]["present"] is False
    assert not (bundle / SIG).exists()


def test_a_wrong_passphrase_names_the_key_file_not_the_secret(keys, signed, tmp_path):
    bundle, _report = signed
    with pytest.raises(BundleError) as info:
        pack(tmp_path / "l", bundle, mirror_map=str(tmp_path / "map.yml"), part_size="1K",
             signing_key=load_signing_key(keys[2]["mallory", "secret"], "wrong"))
    message = str(info.value)
    assert keys[2]["mallory", "secret"] in message and "malformed key" in message
    assert "wrong" not in message.replace("wrong passphrase", "") and "PRIVATE" not in message
    with pytest.raises(BundleError, match="verify_keys file .* holds no OpenPGP public key"):
        load_trusted_keys([str(tmp_path / "map.yml")])


def test_verify_and_unpack_with_the_right_key(keys, signed, tmp_path):
    alice = keys[0]
    bundle, _report = signed
    report = verify(str(bundle), trusted=trusted(keys, "mallory", "alice"))
    assert report["valid"] and report["signature"] == {"present": True, "file": str(bundle / SIG),
                                                       "verified": True, "fingerprint": alice.fingerprint}
    plain = verify(str(bundle))
    assert plain["signature"] == {"present": True, "file": str(bundle / SIG), "verified": False,
                                  "fingerprint": None}
    check = unpack(str(bundle), str(tmp_path / "out"), trusted=trusted(keys, "alice"), check_mode=True,
                   mirror_map=str(tmp_path / "out-map.yml"))
    assert check["status"] == "would_unpack" and check["signature"]["verified"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "out-map.yml").exists()
    done = unpack(str(bundle), str(tmp_path / "out"), trusted=trusted(keys, "alice"),
                  mirror_map=str(tmp_path / "out-map.yml"))
    assert done["status"] == "unpacked" and done["signature"]["fingerprint"] == alice.fingerprint
    assert done["images"][0]["verified"] == {"kind": "gpg", "keys": [alice.fingerprint]}
    # what was verified at mirror time travels in the manifest and lands in the map on this side
    doc = json.loads((bundle / MANIFEST).read_text())
    assert doc["images"][0]["verified"] == {"kind": "gpg", "keys": [alice.fingerprint]}
    assert doc["mirror_map"][0]["verified"] == {"kind": "gpg", "keys": [alice.fingerprint]}
    entry = mapio.load(str(tmp_path / "out-map.yml")).entries[0]
    assert entry.verified == Verified("gpg", (alice.fingerprint,))


def test_without_verify_keys_an_unsigned_bundle_unpacks_as_before(signed, tmp_path):
    bundle, _report = signed
    os.unlink(bundle / SIG)
    assert verify(str(bundle))["signature"]["present"] is False
    assert unpack(str(bundle), str(tmp_path / "out"))["signature"]["present"] is False


@pytest.mark.parametrize("check_mode", [False, True])
def test_unsigned_bundle_is_refused(keys, signed, tmp_path, check_mode):
    bundle, _report = signed
    os.unlink(bundle / SIG)
    message = refuse(keys, tmp_path, bundle, "unsigned", check_mode=check_mode)
    assert "no signature %s" % SIG in message


@pytest.mark.parametrize("check_mode", [False, True])
def test_bundle_signed_by_another_key_is_refused(keys, signed, tmp_path, check_mode):
    bundle, _report = signed
    message = refuse(keys, tmp_path, bundle, "untrusted key", "mallory", check_mode=check_mode)
    assert keys[0].fingerprint[-16:] in message and keys[1].fingerprint in message


def _forge(bundle):
    """Change a part and the manifest with it (re-checksummed), as someone with the media could."""
    part = sorted(p for p in os.listdir(bundle) if ".tar." in p)[0]
    data = bytearray((bundle / part).read_bytes())
    data[600] ^= 0xFF
    (bundle / part).write_bytes(bytes(data))
    doc = json.loads((bundle / MANIFEST).read_text())
    for entry in doc["parts"]:
        if entry["name"] == part:
            entry["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    (bundle / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n")
    return part


@pytest.mark.parametrize("check_mode", [False, True])
def test_forged_manifest_is_refused(keys, signed, tmp_path, check_mode):
    bundle, _report = signed
    _forge(bundle)
    assert verify(str(bundle))["valid"]  # without keys the checksums agree: only the signature tells
    message = refuse(keys, tmp_path, bundle, "bad signature", check_mode=check_mode)
    assert "%s does not match its signature %s" % (MANIFEST, SIG) in message


@pytest.mark.parametrize("check_mode", [False, True])
def test_changed_part_is_refused_before_anything_is_written(keys, signed, tmp_path, check_mode):
    bundle, _report = signed
    part = sorted(p for p in os.listdir(bundle) if ".tar." in p)[-1]  # the last part: index.json
    data = bytearray((bundle / part).read_bytes())
    data[10] ^= 0xFF
    (bundle / part).write_bytes(bytes(data))
    map_text = mapio.dumps([])
    (tmp_path / "out-map.yml").write_text(map_text)
    with pytest.raises(BundleError) as info:
        unpack(str(bundle), str(tmp_path / "out"), mirror_map=str(tmp_path / "out-map.yml"),
               trusted=trusted(keys, "alice"), check_mode=check_mode)
    assert "the bundle images in %s is refused: its parts do not match its signed manifest" % bundle in str(info.value)
    assert "%s: corrupted" % part in str(info.value) and info.value.part == part
    nothing_written(tmp_path, map_text)


def test_malformed_signature_is_refused(keys, signed, tmp_path):
    bundle, _report = signed
    (bundle / SIG).write_bytes(b"-----BEGIN PGP SIGNATURE-----\n\nnot base64 at all\n-----END PGP SIGNATURE-----\n")
    refuse(keys, tmp_path, bundle, "malformed signature")


def test_key_files_that_cannot_be_used_are_named(keys, tmp_path):
    with pytest.raises(BundleError, match="^cannot read the verify_keys file %s: No such file" % (tmp_path / "nope")):
        load_trusted_keys([str(tmp_path / "nope")])
    with pytest.raises(BundleError, match="^verify_keys is empty"):
        load_trusted_keys([])
    with pytest.raises(BundleError, match="^cannot read the signing_key %s" % (tmp_path / "nope")):
        load_signing_key(str(tmp_path / "nope"))
    both = load_trusted_keys([keys[2]["alice", "public"], keys[2]["mallory", "public"]])
    assert both.fingerprints == (keys[0].fingerprint, keys[1].fingerprint)
    secret = load_signing_key(keys[2]["mallory", "secret"], "open sesame")
    assert "open sesame" not in repr(secret) and "PRIVATE" not in repr(secret)
