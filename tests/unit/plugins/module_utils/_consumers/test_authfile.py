import base64
import json
import os

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import authfile as A

SECRET = "s3cr3t:with:colons-\u00e9"


def _b64(user, password):
    return base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


PULL_SECRET = {
    "auths": {
        "cloud.openshift.com": {"auth": _b64("a", "b"), "email": "someone@example.com"},
        "quay.io": {"auth": _b64("c", "d"), "email": "someone@example.com"},
    },
    "credHelpers": {"gcr.io": "gcloud"},
    "HttpHeaders": {"User-Agent": "x"},
}


def _raw(doc, compact=False):
    return A.dumps(doc, compact=compact).encode()


@pytest.mark.parametrize("registry, key", [
    ("microshift_quay:8443", None),  # seed 003 2.3.1 uses this name; '_' is not valid in a host
    ("mirror.example.com:8443", "mirror.example.com:8443"),
    ("mirror.example.com:8443/", "mirror.example.com:8443"),
    ("mirror.example.com/org/repo", "mirror.example.com/org/repo"),
    ("localhost:5000", "localhost:5000"),
    ("[::1]:5000", "[::1]:5000"),
])
def test_validate_registry(registry, key):
    if key is None:
        with pytest.raises(A.AuthFileError, match="microshift_quay"):
            A.validate_registry(registry)
    else:
        assert A.validate_registry(registry) == key


@pytest.mark.parametrize("bad, reason", [
    ("https://mirror.example.com", "without a scheme"),
    ("", "non-empty"),
    ("mirror.example.com/Org", "namespace"),
    ("mirror.example.com/org/app:1.0", "tag"),
    ("mirror.example.com/org/app@sha256:" + "a" * 64, "digest"),
])
def test_validate_registry_rejects(bad, reason):
    with pytest.raises(A.AuthFileError, match=reason):
        A.validate_registry(bad)


def test_encode_auth_round_trip_and_rejects():
    value = A.encode_auth("microshift", SECRET)
    assert base64.b64decode(value).decode() == "microshift:" + SECRET
    with pytest.raises(A.AuthFileError, match="':'"):
        A.encode_auth("a:b", "x")
    with pytest.raises(A.AuthFileError, match="password"):
        A.encode_auth("a", "")
    with pytest.raises(A.AuthFileError, match="username"):
        A.encode_auth("", "x")


def test_add_entry_keeps_everything_else():
    raw = _raw(PULL_SECRET)
    change = A.plan("/p", raw, 0o600, "mirror.local:8443", "present", "microshift", SECRET, "m@example.com")
    assert change.changed and change.content_changed and not change.mode_changed
    new = json.loads(change.data)
    assert new["auths"]["mirror.local:8443"] == {"auth": _b64("microshift", SECRET), "email": "m@example.com"}
    for key in ("cloud.openshift.com", "quay.io"):
        assert new["auths"][key] == PULL_SECRET["auths"][key]
    assert new["credHelpers"] == PULL_SECRET["credHelpers"]
    assert new["HttpHeaders"] == PULL_SECRET["HttpHeaders"]
    assert list(new["auths"]) == ["cloud.openshift.com", "quay.io", "mirror.local:8443"]
    assert change.registries == ["cloud.openshift.com", "quay.io", "mirror.local:8443"]


def test_equal_content_is_not_rewritten_even_if_formatted_differently():
    doc = json.loads(json.dumps(PULL_SECRET))
    doc["auths"]["mirror.local:8443"] = {"auth": _b64("u", "p")}
    raw = json.dumps(doc, indent=7).encode()  # someone else's formatting
    change = A.plan("/p", raw, 0o600, "mirror.local:8443", "present", "u", "p")
    assert not change.changed
    assert change.data is None


def test_wrong_mode_alone_is_a_change():
    doc = {"auths": {"mirror.local:8443": {"auth": _b64("u", "p")}}}
    change = A.plan("/p", _raw(doc), 0o644, "mirror.local:8443", "present", "u", "p")
    assert change.changed and change.mode_changed and not change.content_changed
    assert change.before["mode"] == "0644" and change.after["mode"] == "0600"


def test_entry_is_replaced_as_a_whole():
    doc = {"auths": {"r.example.com": {"auth": _b64("u", "old"), "identitytoken": "tok", "email": "e@x"}}}
    change = A.plan("/p", _raw(doc), 0o600, "r.example.com", "present", "u", "new")
    assert json.loads(change.data)["auths"]["r.example.com"] == {"auth": _b64("u", "new")}


def test_absent_removes_exactly_that_entry():
    change = A.plan("/p", _raw(PULL_SECRET), 0o600, "quay.io", "absent")
    new = json.loads(change.data)
    assert list(new["auths"]) == ["cloud.openshift.com"]
    assert new["credHelpers"] == PULL_SECRET["credHelpers"]
    again = A.plan("/p", change.data, 0o600, "quay.io", "absent")
    assert not again.changed


@pytest.mark.parametrize("raw, removed", [
    (_raw({"auths": {"mirror.local:8443": {"auth": _b64("u", "p")}}}), True),  # only our entry
    (b'{"auths": {}}\n', True),                                              # already empty
    (b"", True),                                                              # empty file
    (_raw({"auths": {"mirror.local:8443": {"auth": _b64("u", "p")}, "quay.io": {"auth": "x"}}}), False),
    (_raw({"auths": {"mirror.local:8443": {"auth": _b64("u", "p")}}, "credHelpers": {}}), False),
])
def test_absent_remove_if_empty_deletes_only_a_file_with_nothing_else(raw, removed):
    change = A.plan("/p", raw, 0o600, "mirror.local:8443", "absent", remove_if_empty=True)
    assert change.remove_file is removed
    if removed:
        assert change.changed and change.data is None and change.after == {}
        assert change.before["mode"] == "0600"
    else:
        assert change.changed and "mirror.local:8443" not in json.loads(change.data)["auths"]
    # without the option the file is only rewritten (or left alone when already without the entry)
    plain = A.plan("/p", raw, 0o600, "mirror.local:8443", "absent")
    assert not plain.remove_file


def test_remove_if_empty_never_applies_to_present_or_missing_files():
    present = A.plan("/p", b'{"auths": {}}', 0o600, "mirror.local:8443", "present", "u", "p", remove_if_empty=True)
    assert not present.remove_file and json.loads(present.data)["auths"]["mirror.local:8443"]
    missing = A.plan("/p", None, None, "mirror.local:8443", "absent", remove_if_empty=True)
    assert not missing.remove_file and not missing.changed
    assert A.is_empty({}) and A.is_empty({"auths": {}}) and not A.is_empty({"auths": {}, "credsStore": "x"})


def test_absent_on_missing_file_changes_nothing():
    change = A.plan("/p", None, None, "quay.io", "absent")
    assert not change.changed and change.data is None
    assert change.before == {} and change.after == {}


def test_absent_does_not_fix_mode_of_untouched_file():
    change = A.plan("/p", _raw(PULL_SECRET), 0o644, "nothere.example.com", "absent")
    assert not change.changed


def test_new_file_and_empty_file():
    change = A.plan("/p", None, None, "mirror.local:8443", "present", "u", "p")
    assert change.changed and json.loads(change.data) == {"auths": {"mirror.local:8443": {"auth": _b64("u", "p")}}}
    assert change.before == {}
    empty = A.plan("/p", b"  \n", 0o600, "mirror.local:8443", "present", "u", "p")
    assert json.loads(empty.data) == json.loads(change.data)


def test_compact_file_stays_compact():
    raw = _raw(PULL_SECRET, compact=True)
    assert raw.count(b"\n") == 1
    change = A.plan("/p", raw, 0o600, "mirror.local:8443", "present", "u", "p")
    assert change.data.count(b"\n") == 1
    indented = A.plan("/p", _raw(PULL_SECRET), 0o600, "mirror.local:8443", "present", "u", "p")
    assert indented.data.count(b"\n") > 5


@pytest.mark.parametrize("raw, where", [
    (b'{"auths": {"a": {"auth": "x"}},\n  oops}', "line 2 column 3"),
    (b'{"auths": ', "line 1 column 11"),
    (b"[1, 2]", "top level"),
    (b'{"auths": []}', "'auths' must be a JSON object"),
    (b"\xff\xfe{}", "UTF-8"),
])
def test_invalid_files_are_errors_naming_file_and_position(raw, where):
    with pytest.raises(A.AuthFileError) as info:
        A.plan("/etc/crio/openshift-pull-secret", raw, 0o600, "m.example.com", "present", "u", "p")
    assert str(info.value).startswith("/etc/crio/openshift-pull-secret: ")
    assert where in str(info.value)
    assert "not changing it" in str(info.value)


def test_error_messages_never_hold_file_content():
    raw = b'{"auths": {"a": {"auth": "' + _b64("u", SECRET).encode() + b'"}} trailing'
    with pytest.raises(A.AuthFileError) as info:
        A.plan("/p", raw, 0o600, "m.example.com", "present", "u", "p")
    assert _b64("u", SECRET) not in str(info.value)


def test_views_never_hold_secrets_and_mark_changed_auth():
    raw = _raw(PULL_SECRET)
    change = A.plan("/p", raw, 0o600, "quay.io", "present", "c", SECRET, "someone@example.com")
    text = json.dumps([change.before, change.after])
    for secret in (SECRET, _b64("c", SECRET), _b64("c", "d"), _b64("a", "b")):
        assert secret not in text
    assert change.before["auths"]["quay.io"] == {"auth": A.REDACTED, "email": "someone@example.com"}
    assert change.after["auths"]["quay.io"] == {"auth": A.REDACTED_CHANGED, "email": "someone@example.com"}
    assert change.after["auths"]["cloud.openshift.com"]["auth"] == A.REDACTED
    assert change.after["credHelpers"] == "<not shown, unchanged>"
    # a changed email with the same password: the auth is not marked changed
    change = A.plan("/p", raw, 0o600, "quay.io", "present", "c", "d", "new@example.com")
    assert change.changed
    assert change.after["auths"]["quay.io"] == {"auth": A.REDACTED, "email": "new@example.com"}


def test_credential_helper_warnings():
    change = A.plan("/p", _raw({"auths": {}, "credHelpers": {"gcr.io": "gcloud"}, "credsStore": "desktop"}),
                    0o600, "gcr.io/project", "present", "u", "p")
    assert any("credHelpers" in w and "gcr.io" in w for w in change.warnings)
    assert any("credsStore" in w for w in change.warnings)
    assert all(SECRET not in w for w in change.warnings)


# ------------------------------------------------------------------ run: the module's file transaction


def _params(path, **kw):
    base = dict(path=str(path), registry="mirror.example.com:8443", username="u", password=SECRET, email=None,
                state="present", remove_if_empty=False, create_dirs=False)
    base.update(kw)
    return base


def _run(params, check_mode=False):
    warnings = []
    result = A.run(params, check_mode, True, warnings.append, {"changed": False})
    return result, warnings


def test_run_writes_a_secret_file_0600_in_new_directories(tmp_path):
    path = tmp_path / "containers" / "auth.json"
    with pytest.raises(UserError, match="set create_dirs=true"):
        _run(_params(path))
    result, _warnings = _run(_params(path, create_dirs=True), check_mode=True)
    assert result["changed"] and not path.parent.exists()
    result, _warnings = _run(_params(path, create_dirs=True))
    assert result["created_dirs"] == [str(path.parent)] and result["registries"] == ["mirror.example.com:8443"]
    assert os.stat(path).st_mode & 0o7777 == A.FILE_MODE and os.stat(path.parent).st_mode & 0o7777 == A.DIR_MODE
    assert json.loads(path.read_text())["auths"]["mirror.example.com:8443"]["auth"] == _b64("u", SECRET)
    assert SECRET not in json.dumps(result) and _b64("u", SECRET) not in json.dumps(result)
    assert result["diff"]["before_header"] == str(path) == result["diff"]["after_header"]
    os.chmod(path, 0o644)
    result, _warnings = _run(_params(path))
    assert result["changed"] and os.stat(path).st_mode & 0o7777 == 0o600
    assert not _run(_params(path))[0]["changed"]


def test_run_absent_with_remove_if_empty_deletes_the_file(tmp_path):
    path = tmp_path / "auth.json"
    _run(_params(path))
    result, _warnings = _run(_params(path, state="absent", remove_if_empty=True), check_mode=True)
    assert result["changed"] and result["removed"] and path.exists()
    result, _warnings = _run(_params(path, state="absent", remove_if_empty=True))
    assert result["removed"] and not path.exists()


def test_run_warns_about_a_credential_helper(tmp_path):
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"credHelpers": {"mirror.example.com:8443": "pass"}}))
    _result, warnings = _run(_params(path))
    assert len(warnings) == 1 and "credHelpers names a helper" in warnings[0]
