"""airgap.mirror.signature_policy run as Ansible runs it (argument spec, check mode, diff, errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGxxx\n-----END PGP PUBLIC KEY BLOCK-----\n"


def run_module(tmp_path, check=False, diff=True, **args):
    base = dict(policy=str(tmp_path / "policy.json"), registries_d=str(tmp_path / "registries.d/am.yaml"),
                keys_dir=str(tmp_path / "keys"), record=str(tmp_path / "state/rec.json"))
    payload = {"ANSIBLE_MODULE_ARGS": dict(base, _ansible_check_mode=check, _ansible_diff=diff, **args)}
    argsfile = tmp_path / "args.json"
    argsfile.write_text(json.dumps(payload))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.airgap.mirror.plugins.modules.signature_policy",
                           str(argsfile)], capture_output=True, text=True, env=env, check=False)
    return json.loads(proc.stdout)


def test_module_present_check_then_real_then_absent(tmp_path):
    (tmp_path / "policy.json").write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
    sigs = [{"scope": "quay.io/vendor", "kind": "gpg", "keys": [{"name": "v.gpg", "content": KEY}]}]
    pairs = [{"source": "quay.io/vendor", "mirror": "mirror.test:5000/vendor"}]
    check = run_module(tmp_path, check=True, signatures=sigs, pairs=pairs, lookaside="file:///srv/sig")
    assert check["changed"] and not (tmp_path / "keys").exists(), check
    assert check["scopes"] == ["mirror.test:5000/vendor", "quay.io/vendor"]
    assert [d["after_header"] for d in check["diff"]][1:] == [
        str(tmp_path / "policy.json"), str(tmp_path / "keys/v.gpg"), str(tmp_path / "registries.d/am.yaml")]
    real = run_module(tmp_path, signatures=sigs, pairs=pairs, lookaside="file:///srv/sig")
    assert real["changed"] and (tmp_path / "keys/v.gpg").read_text() == KEY
    assert not run_module(tmp_path, diff=False, signatures=sigs, pairs=pairs, lookaside="file:///srv/sig")["changed"]
    gone = run_module(tmp_path, state="absent")
    assert gone["changed"] and not (tmp_path / "keys").exists()
    assert (tmp_path / "policy.json").read_text() == '{"default": [{"type": "insecureAcceptAnything"}]}\n'


def test_module_errors_name_the_problem(tmp_path):
    one = [{"scope": "quay.io", "kind": "gpg", "keys": [{"name": "k", "content": KEY}]}]
    res = run_module(tmp_path, signatures=one)
    assert res["failed"] and "GPG signatures need a lookaside URL" in res["msg"]
    res = run_module(tmp_path, lookaside="file:///x",
                     signatures=[{"scope": "quay.io", "kind": "gpg", "keys": [{"name": "k", "content": KEY}]}])
    assert res["failed"] and "does not exist: a policy needs a default" in res["msg"]
    res = run_module(tmp_path, signatures=[{"scope": "quay.io", "kind": "x509", "keys": []}])
    assert res["failed"] and "kind" in res["msg"]
