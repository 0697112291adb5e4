import base64
import json
import os
import stat

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._engine import auth as A
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import AuthError


def b64(text):
    return base64.b64encode(text.encode()).decode()


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def test_lookup_precedence_and_scoping(tmp_path):
    explicit = write(tmp_path / "a.json", {"auths": {
        "quay.io": {"auth": b64("reg:1")},
        "quay.io/org/app": {"auth": b64("repo:2")},
        "https://index.docker.io/v1/": {"auth": b64("hub:3")},
    }})
    env_file = write(tmp_path / "env.json", {"auths": {"ghcr.io": {"username": "u", "password": "p:with:colons"}}})
    store = A.CredentialStore(auth_file=explicit, env={"HOME": str(tmp_path), "REGISTRY_AUTH_FILE": env_file})
    assert store.lookup("quay.io", "org/app").username == "repo"
    assert store.lookup("quay.io", "org/other").username == "reg"
    assert store.lookup("docker.io", "library/nginx").username == "hub"
    assert store.lookup("ghcr.io").password == "p:with:colons"
    assert store.lookup("example.com") is None


def test_explicit_credentials_win(tmp_path):
    path = write(tmp_path / "a.json", {"auths": {"m:5000": {"auth": b64("file:x")}}})
    store = A.CredentialStore(explicit={"m:5000": A.Credentials("cli", "y")}, auth_file=path,
                              env={"HOME": str(tmp_path)})
    assert store.lookup("m:5000").username == "cli"


def test_default_files_order(tmp_path):
    env = {"HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/0", "REGISTRY_AUTH_FILE": "/x.json", "DOCKER_CONFIG": "/d"}
    assert A.default_auth_files(env) == ["/x.json", "/run/user/0/containers/auth.json",
                                         "/h/.config/containers/auth.json", "/d/config.json"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"auths": {"q.io": {"auth": b64("nocolon")}}}), "not base64 of user:password"),
])
def test_bad_auth_files_name_the_file_not_the_secret(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(AuthError) as info:
        A.CredentialStore(auth_file=str(path), env={"HOME": str(tmp_path)}).lookup("q.io")
    assert message in str(info.value) and str(path) in str(info.value)
    assert "nocolon" not in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(AuthError, match="does not exist"):
        A.CredentialStore(auth_file=str(tmp_path / "nope.json"), env={"HOME": str(tmp_path)})


def test_credential_helper(tmp_path):
    helper = tmp_path / "docker-credential-fake"
    helper.write_text("#!/bin/sh\nread server\necho '{\"Username\":\"helped\",\"Secret\":\"s3\"}'\n")
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    path = write(tmp_path / "c.json", {"credHelpers": {"reg.example": "fake"}})
    old = os.environ["PATH"]
    os.environ["PATH"] = "%s:%s" % (tmp_path, old)
    try:
        creds = A.CredentialStore(auth_file=path, env={"HOME": str(tmp_path)}).lookup("reg.example")
    finally:
        os.environ["PATH"] = old
    assert (creds.username, creds.password) == ("helped", "s3")


def test_parse_challenge():
    scheme, params = A.parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "registry.example",
                      "scope": "repository:a/b:pull,push"}
    assert A.parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_bearer_tokens_cached_per_scope_and_invalidated():
    calls = []

    def fetch(realm, query, basic, form):
        calls.append((realm, tuple(query), basic))
        return {"token": "t%d" % len(calls), "expires_in": 300}

    store = A.CredentialStore(explicit={"r.example": A.Credentials("u", "p")}, use_default_files=False)
    auth = A.Authenticator("r.example", store, fetch)
    auth.note_challenge('Bearer realm="https://r.example/token",service="svc"')
    pull = (A.scope_for("a/b", ["pull"]),)
    assert auth.header(pull) == "Bearer t1"
    assert auth.header(pull) == "Bearer t1"
    assert calls[0][1] == (("service", "svc"), ("scope", "repository:a/b:pull"))
    assert calls[0][2] == "Basic " + b64("u:p")
    assert auth.header((A.scope_for("c/d", ["pull", "push"]),)) == "Bearer t2"
    auth.invalidate(pull)
    assert auth.header(pull) == "Bearer t3"


def test_invalidate_keeps_a_token_fetched_since_and_fresh_bypasses_the_cache():
    calls = []

    def fetch(realm, query, basic, form):
        calls.append(query)
        return {"token": "t%d" % len(calls), "expires_in": 300}

    auth = A.Authenticator("r.example", None, fetch)
    auth.note_challenge('Bearer realm="https://r.example/token"')
    pull = (A.scope_for("a/b", ["pull"]),)
    refused = auth.header(pull)
    assert refused == "Bearer t1"
    auth.invalidate(pull, refused)  # thread A: its t1 was refused
    assert auth.header(pull) == "Bearer t2"  # A fetches t2
    auth.invalidate(pull, refused)  # thread B, also refused with t1, keeps A's t2
    assert auth.header(pull) == "Bearer t2" and len(calls) == 2
    assert auth.header(pull, fresh=True) == "Bearer t3"  # not from the cache, and cached
    assert auth.header(pull) == "Bearer t3" and len(calls) == 3
    auth.invalidate(pull)  # without the refused value: always
    assert auth.header(pull) == "Bearer t4"


def test_credentials_repr_hides_secret():
    assert "hunter2" not in repr(A.Credentials("u", "hunter2"))


def _bearer(calls, refuse=lambda scopes: False):
    """An Authenticator of a Bearer registry whose token service hands out t1, t2, ... (counting
    refusals), records the scopes of each request in *calls*, and refuses those *refuse* says."""

    def fetch(realm, query, basic, form):
        scopes = tuple(v for k, v in query if k == "scope")
        calls.append(scopes)
        if refuse(scopes):
            raise A.AuthError("the token service refused the credentials for r.example")
        return {"token": "t%d" % len(calls), "expires_in": 300}

    auth = A.Authenticator("r.example", None, fetch)
    auth.note_challenge('Bearer realm="https://r.example/token",service="svc"')
    return auth


def test_a_repository_the_run_pushes_to_gets_one_token_for_checks_and_pushes():
    calls = []
    auth = _bearer(calls)
    auth.expect("mirror/app", ["pull", "push"])
    assert auth.header((A.scope_for("mirror/app", ["pull"]),)) == "Bearer t1"  # a check, before any push
    assert auth.header((A.scope_for("mirror/app", ["pull", "push"]),)) == "Bearer t1"
    assert auth.header((A.scope_for("src/app", ["pull"]),)) == "Bearer t2"  # not announced: as asked
    mount = (A.scope_for("mirror/app", ["pull", "push"]), A.scope_for("mirror/base", ["pull"]))
    assert auth.header(mount) == "Bearer t3"
    assert calls == [("repository:mirror/app:pull,push",), ("repository:src/app:pull",),
                     ("repository:mirror/app:pull,push", "repository:mirror/base:pull")]


def test_a_token_service_refusing_the_wider_scope_gets_what_each_request_needs():
    calls = []
    auth = _bearer(calls, refuse=lambda scopes: any(s.endswith(",push") for s in scopes))
    auth.expect("mirror/app", ["pull", "push"])
    auth.expect("mirror/other", ["pull", "push"])
    assert auth.header((A.scope_for("mirror/app", ["pull"]),)) == "Bearer t2"
    assert auth.header((A.scope_for("mirror/other", ["pull"]),)) == "Bearer t3"  # no longer widened
    assert calls == [("repository:mirror/app:pull,push",), ("repository:mirror/app:pull",),
                     ("repository:mirror/other:pull",)]
    with pytest.raises(A.AuthError, match="refused"):  # a push itself is refused as before
        auth.header((A.scope_for("mirror/app", ["pull", "push"]),))


def test_invalidating_a_refused_token_that_served_a_narrower_request():
    calls = []
    auth = _bearer(calls)
    push, pull = (A.scope_for("a/b", ["pull", "push"]),), (A.scope_for("a/b", ["pull"]),)
    assert auth.header(push) == "Bearer t1"
    used = auth.header(pull)
    assert used == "Bearer t1"
    auth.invalidate(pull, used)
    assert auth.header(push) == "Bearer t2"  # t1 is gone for the push too
    assert auth.header(pull) == "Bearer t2"
    assert len(calls) == 2
