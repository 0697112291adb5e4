"""airgap.mirror.registry_auth through real ``ansible-playbook`` runs, checked with skopeo.

The registry is a real docker-registry with TLS and htpasswd (bcrypt). skopeo, which uses the
containers/image library as CRI-O does, reads the credentials file the module wrote with
``--authfile``. A wrong or missing entry has to fail, so the test shows that skopeo really uses
the file. The file starts as a pull secret as the Red Hat console hands it out: one line, with
other registries in it.
"""

import base64
import json
import os
import secrets

import pytest

from support.images import seed_registry

pytestmark = pytest.mark.integration

PLAY = """
- name: Credentials file
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Manage the entry
      airgap.mirror.registry_auth: "{{ args }}"
"""

CONSOLE_PULL_SECRET = {
    "auths": {
        "cloud.openshift.com": {"auth": base64.b64encode(b"ocm:token-a").decode(), "email": "ops@example.com"},
        "quay.io": {"auth": base64.b64encode(b"quay:token-b").decode(), "email": "ops@example.com"},
        "registry.redhat.io": {"auth": base64.b64encode(b"rh:token-c").decode(), "email": "ops@example.com"},
    },
    "HttpHeaders": {"X-Airgap-Test": "kept"},
}


def run(ansible_run, args, check=False, diff=True, verbosity=0):
    res = ansible_run.playbook(PLAY, extra_vars={"args": args}, check=check, diff=diff, verbosity=verbosity)
    return res, res.one("Manage the entry")


def inspect(skopeo, registry, ref, authfile):
    """skopeo inspect --raw with the registry's CA and ONLY the given auth file; (ok, stderr)."""
    proc = skopeo.run(["inspect", "--raw", "--cert-dir", str(registry.cert_dir()), "--authfile", str(authfile),
                       "docker://%s/%s" % (registry.host, ref)], check=False, timeout=120)
    return proc.returncode == 0, proc.stderr


def assert_no_secret(res, *secrets_):
    everything = res.stdout + res.stderr + json.dumps(res.results)
    for secret in secrets_:
        assert secret not in everything, "a credential appeared in the output of %s" % res.cmd


@pytest.fixture
def mirror(registry_factory, sample_layout):
    password = "pa:ss w0rd-" + secrets.token_urlsafe(9)  # a ':' and a space: encoded, never split
    registry = registry_factory(tls=True, auth=True, username="microshift", password=password)
    seed_registry(sample_layout["app-1.0"], registry, "test/app", "1.0")
    return registry


def test_pull_secret_entry_is_accepted_by_skopeo(ansible_run, skopeo, mirror, tmp_path):
    path = tmp_path / "pull-secret.json"
    path.write_text(json.dumps(CONSOLE_PULL_SECRET, separators=(",", ":")) + "\n")
    os.chmod(path, 0o644)
    original = path.read_bytes()
    encoded = base64.b64encode(("microshift:" + mirror.password).encode()).decode()
    args = {"path": str(path), "registry": mirror.host, "username": "microshift",
            "password": mirror.password, "email": "microshift@example.com"}

    ok, err = inspect(skopeo, mirror, "test/app:1.0", path)
    assert not ok and ("unauthorized" in err or "authentication required" in err), err

    res, rec = run(ansible_run, args, check=True)
    assert res.rc == 0, res.output
    assert rec["changed"] and path.read_bytes() == original
    diff = rec["result"]["diff"]
    assert diff["after"]["auths"][mirror.host] == {"auth": "<redacted, changed>", "email": "microshift@example.com"}
    assert mirror.host not in diff["before"]["auths"]
    assert diff["before"]["mode"] == "0644" and diff["after"]["mode"] == "0600"
    assert_no_secret(res, mirror.password, encoded)

    res, rec = run(ansible_run, args, verbosity=3)
    assert res.rc == 0, res.output
    assert rec["changed"]
    assert rec["result"]["registries"] == ["cloud.openshift.com", "quay.io", "registry.redhat.io", mirror.host]
    assert rec["result"]["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert_no_secret(res, mirror.password, encoded)
    st = path.stat()
    assert st.st_mode & 0o7777 == 0o600
    written = path.read_text()
    assert written.count("\n") == 1, "a one-line pull secret stays on one line"
    doc = json.loads(written)
    assert doc["auths"][mirror.host] == {"auth": encoded, "email": "microshift@example.com"}
    for key, entry in CONSOLE_PULL_SECRET["auths"].items():
        assert doc["auths"][key] == entry
    assert doc["HttpHeaders"] == CONSOLE_PULL_SECRET["HttpHeaders"]

    ok, err = inspect(skopeo, mirror, "test/app:1.0", path)
    assert ok, err

    for check in (True, False):
        res, rec = run(ansible_run, args, check=check)
        assert res.rc == 0 and not rec["changed"], res.output
    assert path.stat().st_ino == st.st_ino and path.stat().st_mtime_ns == st.st_mtime_ns

    # skopeo really reads this entry: a wrong password in it fails
    res, rec = run(ansible_run, dict(args, password="not-the-password"))
    assert rec["changed"] and rec["result"]["diff"]["after"]["auths"][mirror.host]["auth"] == "<redacted, changed>"
    ok, err = inspect(skopeo, mirror, "test/app:1.0", path)
    assert not ok, "skopeo pulled with a wrong password in the auth file"
    res, rec = run(ansible_run, args)
    assert rec["changed"] and inspect(skopeo, mirror, "test/app:1.0", path)[0]

    res, rec = run(ansible_run, {"path": str(path), "registry": mirror.host, "state": "absent"})
    assert res.rc == 0 and rec["changed"], res.output
    doc = json.loads(path.read_text())
    assert doc == CONSOLE_PULL_SECRET
    ok, err = inspect(skopeo, mirror, "test/app:1.0", path)
    assert not ok
    res, rec = run(ansible_run, {"path": str(path), "registry": mirror.host, "state": "absent"})
    assert not rec["changed"]


def test_namespace_scoped_entry(ansible_run, skopeo, mirror, sample_layout, tmp_path):
    """containers auth.json keys may be host/namespace: skopeo uses them for that namespace only."""
    path = tmp_path / "auth.json"
    args = {"path": str(path), "registry": mirror.host + "/test", "username": "microshift",
            "password": mirror.password}
    res, rec = run(ansible_run, args)
    assert res.rc == 0 and rec["changed"], res.output
    assert list(json.loads(path.read_text())["auths"]) == [mirror.host + "/test"]
    ok, err = inspect(skopeo, mirror, "test/app:1.0", path)
    assert ok, err
    seed_registry(sample_layout["app-1.1"], mirror, "other/app", "1.0")
    ok, err = inspect(skopeo, mirror, "other/app:1.0", path)
    assert not ok and ("unauthorized" in err or "authentication required" in err), err


def test_no_log_does_not_mangle_unrelated_output(ansible_run, tmp_path):
    """Ansible replaces every occurrence of a no_log value in a result; the module must not let
    that turn the path or the registry name into ********."""
    password = "secret"
    path = tmp_path / "pull-secret.json"
    args = {"path": str(path), "registry": "secret.example.com:8443", "username": "u", "password": password}
    res, rec = run(ansible_run, args)
    assert res.rc == 0, res.output
    result = rec["result"]
    assert result["path"] == str(path)
    assert result["registry"] == "secret.example.com:8443"
    assert result["registries"] == ["secret.example.com:8443"]
    assert result["invocation"]["module_args"]["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert "secret.example.com:8443" in json.dumps(result["diff"]["after"])
    assert base64.b64encode(b"u:secret").decode() not in res.stdout + json.dumps(res.results)

    # errors too: the message names the file as it is
    path.write_text('{"auths": {\n  "a": {"auth": "x"},\n  oops\n}\n')
    res, rec = run(ansible_run, args)
    assert rec["failed"]
    msg = rec["result"]["msg"]
    assert msg.startswith(str(path) + ": not valid JSON at line 3 column 3"), msg


def test_invalid_json_is_an_error_and_the_file_is_untouched(ansible_run, tmp_path):
    path = tmp_path / "config.json"
    text = '{\n  "auths": {\n    "quay.io": {"auth": "eDp5"},\n  }\n}\n'  # trailing comma
    path.write_text(text)
    res, rec = run(ansible_run, {"path": str(path), "registry": "m.example.com", "username": "u", "password": "p4ss"})
    assert res.rc != 0 and rec["failed"]
    msg = rec["result"]["msg"]
    assert str(path) in msg and "line 4 column 3" in msg and "not changing it" in msg, msg
    assert path.read_text() == text


def test_missing_directory_and_create_dirs(ansible_run, tmp_path):
    path = tmp_path / "home" / ".config" / "containers" / "auth.json"
    args = {"path": str(path), "registry": "m.example.com:8443", "username": "u", "password": "p4ss"}
    res, rec = run(ansible_run, args)
    assert rec["failed"] and "does not exist (set create_dirs=true" in rec["result"]["msg"]
    res, rec = run(ansible_run, dict(args, create_dirs=True), check=True)
    assert rec["changed"] and not (tmp_path / "home").exists()
    assert rec["result"]["created_dirs"] == [str(tmp_path / "home"), str(tmp_path / "home" / ".config"),
                                             str(path.parent)]
    res, rec = run(ansible_run, dict(args, create_dirs=True))
    assert res.rc == 0 and rec["changed"], res.output
    assert path.stat().st_mode & 0o7777 == 0o600
    assert path.parent.stat().st_mode & 0o7777 == 0o700


def test_credhelpers_warning(ansible_run, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {}, "credHelpers": {"m.example.com": "secretservice"}}))
    res, rec = run(ansible_run, {"path": str(path), "registry": "m.example.com", "username": "u", "password": "p4ss"})
    assert res.rc == 0, res.output
    assert any("credHelpers names a helper for m.example.com" in w for w in rec["warnings"]), rec["warnings"]
    assert json.loads(path.read_text())["credHelpers"] == {"m.example.com": "secretservice"}
