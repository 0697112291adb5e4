import json
import os
import shutil
import subprocess

import pytest

from support.gpg import gpg, make_key

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._trust import openpgp as O

DATA = b'{"parts": ["sha256:0123"]}\n'


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    return {
        "alice": make_key(base, "alice"),
        "bob": make_key(base, "bob", passphrase="correct horse battery"),
    }


def _reason(call, *args, **kwargs):
    with pytest.raises(O.OpenPGPError) as info:
        call(*args, **kwargs)
    assert info.value.reason in O.REASONS
    assert isinstance(info.value, UserError)
    return info.value.reason


def test_key_fingerprints_armored_binary_and_malformed(keys):
    alice, bob = keys["alice"], keys["bob"]
    binary = gpg(alice.home, "--export", alice.fingerprint).stdout
    assert O.key_fingerprints([alice.public, bob.public]) == [alice.fingerprint, bob.fingerprint]
    assert O.key_fingerprints([binary]) == [alice.fingerprint]
    assert alice.fingerprint == alice.fingerprint.upper() and len(alice.fingerprint) == 40
    assert _reason(O.key_fingerprints, [b"not a key"]) == "malformed key"
    assert _reason(O.key_fingerprints, [b""]) == "malformed key"


def test_sign_and_verify_detached_bytes_and_file(keys, tmp_path):
    alice = keys["alice"]
    sig = O.sign_detached(alice.secret, DATA)
    assert sig.startswith(b"-----BEGIN PGP SIGNATURE-----")
    assert O.verify_detached([alice.public], sig, DATA) == alice.fingerprint
    path = tmp_path / "manifest.json"
    path.write_bytes(DATA)
    assert O.verify_detached([keys["bob"].public, alice.public], sig, str(path)) == alice.fingerprint
    # an independent client accepts it
    (tmp_path / "manifest.json.asc").write_bytes(sig)
    assert gpg(alice.home, "--verify", str(tmp_path / "manifest.json.asc"), str(path), check=False).returncode == 0
    alice.stop_agent()


def test_signature_from_gpg_itself_verifies(keys, tmp_path):
    alice = keys["alice"]
    path = tmp_path / "data"
    path.write_bytes(DATA)
    gpg(alice.home, "--detach-sign", "--output", str(tmp_path / "data.sig"), str(path))
    alice.stop_agent()
    assert O.verify_detached([alice.public], (tmp_path / "data.sig").read_bytes(), DATA) == alice.fingerprint


def test_detached_refusals(keys):
    alice, bob = keys["alice"], keys["bob"]
    sig = O.sign_detached(alice.secret, DATA)
    assert _reason(O.verify_detached, [bob.public], sig, DATA) == "untrusted key"
    assert _reason(O.verify_detached, [alice.public], sig, DATA + b" ") == "bad signature"
    assert _reason(O.verify_detached, [alice.public], b"", DATA) == "unsigned"
    assert _reason(O.verify_detached, [alice.public], b"-----BEGIN PGP SIGNATURE-----\n\nxx\n", DATA) \
        == "malformed signature"
    assert _reason(O.verify_detached, [alice.public], b"\x89\x01garbage", DATA) == "malformed signature"
    assert _reason(O.verify_detached, [b"junk"], sig, DATA) == "malformed key"


def test_untrusted_message_names_the_signer_not_the_key_material(keys):
    alice, bob = keys["alice"], keys["bob"]
    with pytest.raises(O.OpenPGPError) as info:
        O.verify_detached([bob.public], O.sign_detached(alice.secret, DATA), DATA)
    assert alice.fingerprint[-16:] in str(info.value)
    assert "PGP" not in str(info.value)


def test_signed_message_is_not_a_detached_signature(keys, tmp_path):
    """A signed message of other data given as the "detached signature" must not pass."""
    alice = keys["alice"]
    message = gpg(alice.home, "--sign", "--output", "-", stdin=b"other data").stdout
    alice.stop_agent()
    assert _reason(O.verify_detached, [alice.public], message, DATA) in ("malformed signature", "bad signature")


def test_verify_attached(keys):
    alice, bob = keys["alice"], keys["bob"]
    payload = b'{"critical": {"type": "atomic container signature"}}'
    message = gpg(alice.home, "--sign", "--output", "-", stdin=payload).stdout
    alice.stop_agent()
    assert O.verify_attached([alice.public], message) == (alice.fingerprint, payload)
    assert _reason(O.verify_attached, [bob.public], message) == "untrusted key"
    assert _reason(O.verify_attached, [alice.public], b"") == "unsigned"
    assert _reason(O.verify_attached, [alice.public], b"plain text, not signed") == "malformed signature"
    tampered = bytearray(message)
    index = bytes(message).find(b"atomic")
    if index >= 0:  # uncompressed literal: flip a payload byte
        tampered[index] ^= 0x20
        reason = _reason(O.verify_attached, [alice.public], bytes(tampered))
        assert reason in ("bad signature", "malformed signature")
    detached = O.sign_detached(alice.secret, payload)
    assert _reason(O.verify_attached, [alice.public], detached) == "malformed signature"


def test_public_key_of_a_secret_key(keys):
    for key in keys.values():
        public = O.public_key(key.secret)
        assert b"PRIVATE" not in public and public.startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
        assert O.key_fingerprints([public]) == [key.fingerprint]
    assert _reason(O.public_key, keys["alice"].public) == "malformed key"


def test_passphrase_protected_key(keys):
    bob = keys["bob"]
    sig = O.sign_detached(bob.secret, DATA, passphrase="correct horse battery")
    assert O.verify_detached([bob.public], sig, DATA) == bob.fingerprint
    for wrong in (None, "wrong"):
        with pytest.raises(O.OpenPGPError) as info:
            O.sign_detached(bob.secret, DATA, passphrase=wrong)
        assert info.value.reason == "malformed key"
        assert "correct horse" not in str(info.value)
    assert _reason(O.sign_detached, bob.public, DATA) == "malformed key"
    assert _reason(O.sign_detached, b"junk", DATA) == "malformed key"


def test_passphrase_never_in_argv_or_environment(keys, monkeypatch):
    bob = keys["bob"]
    seen = []
    real_run = subprocess.run

    def recording_run(cmd, *args, **kwargs):
        seen.append((list(cmd), dict(kwargs.get("env") or {})))
        check = kwargs.pop("check", False)
        return real_run(cmd, *args, check=check, **kwargs)

    monkeypatch.setattr(O.subprocess, "run", recording_run)
    secret = bob.passphrase
    monkeypatch.setenv("GNUPGHOME", "/nonexistent/user/home")
    assert O.sign_detached(bob.secret, DATA, passphrase=secret).startswith(b"-----BEGIN PGP SIGNATURE")
    assert seen
    sign = [cmd for cmd, _env in seen if "--detach-sign" in cmd]
    assert sign and "--passphrase-fd" in sign[0] and "--batch" in sign[0]
    for cmd, env in seen:
        assert not any(secret in arg for arg in cmd)
        assert not any(secret in value for value in env.values())
        assert env["GNUPGHOME"] != "/nonexistent/user/home"
        assert "--homedir" in cmd or cmd[0] == "gpgconf"
    assert O.sign_command("/h", 5, "/o", "/d").count("--passphrase-fd") == 1


def test_temporary_homes_are_private_and_removed(keys, monkeypatch, tmp_path):
    homes = []
    real_mkdtemp = O.tempfile.mkdtemp

    def recording_mkdtemp(*args, **kwargs):
        path = real_mkdtemp(*args, dir=str(tmp_path), **kwargs)
        assert os.stat(path).st_mode & 0o777 == 0o700
        homes.append(path)
        return path

    monkeypatch.setattr(O.tempfile, "mkdtemp", recording_mkdtemp)
    alice = keys["alice"]
    sig = O.sign_detached(alice.secret, DATA)
    O.verify_detached([alice.public], sig, DATA)
    with pytest.raises(O.OpenPGPError):
        O.verify_detached([keys["bob"].public], sig, DATA)
    assert len(homes) == 3
    assert not any(os.path.exists(h) for h in homes)


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
def test_verify_attached_reads_what_skopeo_sign_by_writes(keys, tmp_path):
    """skopeo's simple signing (what --sign-by writes into a lookaside store), made by skopeo itself."""
    alice = keys["alice"]
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}')
    out = tmp_path / "signature-1"
    subprocess.run(["skopeo", "standalone-sign", str(manifest), "example.com/org/app:1", alice.fingerprint,
                    "-o", str(out)], env=alice.env(), check=True, capture_output=True, timeout=120)
    alice.stop_agent()
    fingerprint, payload = O.verify_attached([alice.public], out.read_bytes())
    assert fingerprint == alice.fingerprint
    body = json.loads(payload)
    assert body["critical"]["type"] == "atomic container signature"
    assert body["critical"]["identity"]["docker-reference"] == "example.com/org/app:1"
    assert _reason(O.verify_attached, [keys["bob"].public], out.read_bytes()) == "untrusted key"
