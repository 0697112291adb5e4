"""Fault matrix case 4: the Bearer token expiring mid-run, on registries in distribution's token
mode (``auth: token:``) with the test bed's token server; and that server's own sanity check with
skopeo and raw requests (per-repository scopes, expiry, refusals).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import urllib.request

import pytest

from support import skopeo as skopeo_cli
from support.skopeo import SkopeoError

from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import Credentials, CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.pool import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError

from .harness import MiB, audit_registry, failures, run_engine, seed, verify_registry_image

pytestmark = pytest.mark.integration


def _token(server, user, password, scope):
    req = urllib.request.Request(f"{server.realm}?service={server.service}&scope={scope}")
    if user:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)["token"]


def test_token_server_with_the_real_registry_and_skopeo(token_server, registry_factory, fault_images, tmp_path):
    """The token server is right about what distribution expects: skopeo pushes and pulls with it,
    scopes are enforced per repository, a token dies when its lifetime says, refusals refuse."""
    user, password = next(iter(token_server.users.items()))
    token_server.grant(user, r"granted/.*", "pull,push")
    token_server.grant(user, r"readonly/.*", "pull")
    reg = registry_factory(extra_config=token_server.registry_config())
    creds = f"{user}:{password}"
    image = fault_images["multi"]

    skopeo_cli.copy(image.oci_ref, f"docker://{reg.host}/granted/multi:1", dest_tls_verify=False, dest_creds=creds)
    assert skopeo_cli.digest_of(f"docker://{reg.host}/granted/multi:1", tls_verify=False, creds=creds) == image.digest
    with pytest.raises(SkopeoError, match="(?i)denied|unauthorized|authentication required"):
        skopeo_cli.copy(image.oci_ref, f"docker://{reg.host}/readonly/multi:1", dest_tls_verify=False,
                        dest_creds=creds)
    with pytest.raises(SkopeoError, match="(?i)unauthorized|authentication|denied|401"):
        skopeo_cli.inspect_raw(f"docker://{reg.host}/granted/multi:1", tls_verify=False, creds=f"{user}:wrong")
    with pytest.raises(SkopeoError, match="(?i)unauthorized|authentication|denied|401"):
        skopeo_cli.inspect_raw(f"docker://{reg.host}/granted/multi:1", tls_verify=False)  # anonymous: no access

    token_server.lifetime = 2
    token = _token(token_server, user, password, "repository:granted/multi:pull")
    status, _h, _b = reg.request("GET", "/v2/granted/multi/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    status, headers, _b = reg.request("GET", "/v2/readonly/multi/tags/list",
                                      headers={"Authorization": f"Bearer {token}"})
    assert status == 401 and "insufficient_scope" in headers.get("Www-Authenticate", "")
    time.sleep(3.1)
    status, _h, _b = reg.request("GET", "/v2/granted/multi/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert status == 401  # expired: the same request that worked a moment ago


@pytest.mark.parametrize("advertised", ["stale", "honest"])
def test_token_expiring_mid_run(token_server, registry_factory, proxy_factory, fault_images, tmp_path, recovery,
                                advertised):
    """Tokens live 1 s. "stale": the token service claims 300 s, so the engine keeps using a dead
    token until the registry answers 401 to a request that worked a moment ago. "honest": the
    engine refreshes on its own before expiry. Blob transfers are throttled (1 MiB/s) so the run
    spans several lifetimes, on the source and on the destination."""
    user, password = next(iter(token_server.users.items()))
    src = registry_factory(extra_config=token_server.registry_config())
    dst = registry_factory(extra_config=token_server.registry_config())
    for n in (1, 2, 3):
        skopeo_cli.copy(fault_images[f"app{n}"].oci_ref, f"docker://{src.host}/app/app{n}:1", dest_tls_verify=False,
                        dest_creds=f"{user}:{password}")
    psrc, pdst = proxy_factory(src), proxy_factory(dst)
    psrc.add_rule("GET", r"/blobs/sha256:", throttle=MiB, times=None)
    token_server.lifetime = 1
    token_server.advertised_lifetime = 300 if advertised == "stale" else 1
    issued_before = len(token_server.issued)
    mark_src, mark_dst = src.mark(), dst.mark()
    store = CredentialStore(explicit={psrc.host: Credentials(user, password), pdst.host: Credentials(user, password)},
                            use_default_files=False)
    report, seconds = run_engine([f"{psrc.host}/app/app{n}:1" for n in (1, 2, 3)], pdst.host,
                                 insecure=[psrc.host, pdst.host], credentials=store, concurrency=1)

    assert report["failed"] == [], failures(report)
    assert seconds > 3  # several lifetimes
    issued = token_server.issued[issued_before:]
    assert all(i.status == 200 for i in issued)
    scopes = {tuple(i.requested) for i in issued}
    assert len(issued) > len(scopes)  # some scope needed a second token: the first had expired
    refused = [r for r in src.since(mark_src) + dst.since(mark_dst) if r.status == 401 and r.path != "/v2/"]
    # time to recover from each refusal: until the same request went through with a new token
    gaps = []
    for proxy in (psrc, pdst):
        log = proxy.exchanges()
        for i, e in enumerate(log):
            if e.status == 401 and e.path != "/v2/":
                # the same request, answered, within the two retries the engine allows (the first
                # may carry a token another thread fetched, itself about to die). Transfers run
                # side by side, so uploads are matched by digest (see _same_request). Exchanges
                # without an answer are skipped: the registry refuses a PUT before reading its
                # body, and the proxy, still sending that body, sees the connection drop instead
                key = _same_request(e)
                again = [x for x in log[i + 1:] if x.method == e.method and _same_request(x) == key
                         and x.status is not None][:2]
                retry = next((x for x in again if x.status not in (401, 403)), None)
                assert retry is not None, (e, again)
                gaps.append(retry.ended - e.ended)
    if advertised == "stale":
        assert refused and gaps, "a dead token was never refused: the case did not happen"
    token_server.lifetime = 300  # skopeo (containers/image) keeps a token >= 60 s: verify with long ones
    for n in (1, 2, 3):
        verify_registry_image(_anon_view(dst, token_server, user, password), f"app/app{n}:1",
                              fault_images[f"app{n}"].digest, tmp_path)
    assert audit_registry(_anon_view(dst, token_server, user, password)) == []
    recovery(f"4 Bearer token expiring mid-run ({advertised} expires_in)",
             f"complete; {len(issued)} tokens, {len(refused)} requests refused, re-authenticated",
             max(gaps) if gaps else 0.0)


def _same_request(exchange) -> str:
    """What makes two exchanges the same request for the recovery check: for an upload, its
    repository and the digest it names (a PUT's ``digest``, a session start's ``mount``; a new
    session has another URL), for any other request its path."""
    path, _sep, query = exchange.path.partition("?")
    if "/blobs/uploads/" in path:
        params = dict(urllib.parse.parse_qsl(query))
        return "%s upload %s" % (path.split("/blobs/uploads/")[0], params.get("digest") or params.get("mount", ""))
    return exchange.path


@pytest.mark.parametrize("refusals", [2, 3])
def test_refusal_final_only_with_a_token_fetched_for_the_retry(token_server, registry_factory, proxy_factory,
                                                               refusals):
    """The registry answers 401 to the first *refusals* upload starts, as it does to a token that
    died early. Two refusals: the request is sent a third time with a token fetched for it and
    goes through. Three: the third 401 came to a token fetched a moment before, so it is a
    refusal, reported as such, after exactly three attempts (not a loop)."""
    user, password = next(iter(token_server.users.items()))
    dst = registry_factory(extra_config=token_server.registry_config())
    _status, headers, _body = dst.request("GET", "/v2/", credentials=("", ""))
    challenge = {k.lower(): v for k, v in headers.items()}["www-authenticate"]
    pdst = proxy_factory(dst)
    pdst.add_rule("POST", r"/v2/app/one/blobs/uploads/(\?|$)", times=refusals, status=401,
                  headers={"WWW-Authenticate": challenge})
    store = CredentialStore(explicit={pdst.host: Credentials(user, password)}, use_default_files=False)
    pool = ClientPool(insecure_registries=[pdst.host], credentials=store)
    issued_before = len(token_server.issued)
    mark = pdst.mark()
    try:
        client = pool.get(pdst.host)
        if refusals == 2:
            location = client.start_upload("app/one")
            assert location and "/v2/app/one/blobs/uploads/" in location
        else:
            with pytest.raises(OCIError, match="start upload to app/one: access denied") as caught:
                client.start_upload("app/one", image="img-under-test")
            assert password not in str(caught.value)
    finally:
        pool.close()
    posts = pdst.exchanges("POST", r"/blobs/uploads/", since=mark)
    assert [p.status for p in posts] == [401] * refusals + ([202] if refusals == 2 else [])
    push = [i for i in token_server.issued[issued_before:] if "repository:app/one:pull,push" in i.requested]
    assert len(push) == 3  # the first token, one after each 401: never the same token twice
    assert len({p.request_headers["authorization"] for p in posts}) == 3


def test_push_scope_refused_is_a_clear_error(token_server, registry_factory, fault_images, tmp_path):
    """Per-repository scopes: pull granted everywhere, push only to app/*: the image whose mirror
    repository is not granted fails naming the image and the refusal; the other is mirrored."""
    user, password = next(iter(token_server.users.items()))
    token_server.grant(user, r"app/.*", "pull,push")
    token_server.grant(user, r"other/.*", "pull")
    src = registry_factory()
    dst = registry_factory(extra_config=token_server.registry_config())
    seed(fault_images["app1"], src, "app/app1", "1")
    seed(fault_images["app2"], src, "other/app2", "1")
    store = CredentialStore(explicit={dst.host: Credentials(user, password)}, use_default_files=False)
    report, _s = run_engine([f"{src.host}/app/app1:1", f"{src.host}/other/app2:1"], dst.host,
                            insecure=[src.host, dst.host], credentials=store)
    errors = failures(report)
    bad = f"{src.host}/other/app2:1"
    assert list(errors) == [bad], errors
    assert bad in errors[bad] and ("denied" in errors[bad] or "401" in errors[bad])
    assert password not in errors[bad]
    token = _token(token_server, user, password, "repository:other/app2:pull")
    status, _h, body = dst.request("GET", "/v2/other/app2/tags/list", headers={"Authorization": f"Bearer {token}"})
    assert status == 404  # nothing was pushed for it
    verify_registry_image(_anon_view(dst, token_server, user, password), "app/app1:1", fault_images["app1"].digest,
                          tmp_path)


class _anon_view:
    """A Registry-like view for the harness checks of a token-mode registry: skopeo with the
    user's credentials (``auth``/``username``/``password`` as :mod:`support.skopeo` reads them)."""

    def __init__(self, registry, server, user, password):
        self.host, self.tls, self.auth = registry.host, False, True
        self.username, self.password = user, password
        self._registry, self._server = registry, server

    def request(self, method, path, headers=None, **kw):
        """A raw request with a token for the path's repository (or the catalog)."""
        parts = path.split("/")
        if path.startswith("/v2/_catalog"):
            scope = "registry:catalog:*"
        else:
            marker = next(i for i, p in enumerate(parts) if p in ("manifests", "blobs", "tags"))
            scope = "repository:%s:pull" % "/".join(parts[2:marker])
        token = _token(self._server, self.username, self.password, scope)
        headers = dict(headers or {}, Authorization=f"Bearer {token}")
        return self._registry.request(method, path, headers=headers, credentials=("", ""), **kw)


def test_one_token_per_mirror_repository_for_its_checks_and_pushes(token_server, registry_factory, fault_images,
                                                                   tmp_path):
    """A run pushing to a token-mode registry asks, for each mirror repository, one token with
    ``pull,push`` that serves its checks and its pushes (not one to pull, then one per thread that
    pushes a blob), plus the mounts' tokens; a no-op re-run asks one per repository."""
    user, password = next(iter(token_server.users.items()))
    token_server.grant(user, r"app/.*", "pull,push")
    src = registry_factory()
    dst = registry_factory(extra_config=token_server.registry_config())
    refs = [f"{src.host}/{seed(fault_images[f'app{n}'], src, f'app/app{n}', '1')}" for n in (1, 2, 3)]
    store = CredentialStore(explicit={dst.host: Credentials(user, password)}, use_default_files=False)
    before = len(token_server.issued)
    report, _s = run_engine(refs, dst.host, insecure=[src.host, dst.host], credentials=store, concurrency=4)
    assert report["failed"] == [], failures(report)
    issued = token_server.issued[before:]
    assert all(i.status == 200 for i in issued)
    single = [tuple(i.requested) for i in issued if len(i.requested) == 1]
    assert sorted(single) == [(f"repository:app/app{n}:pull,push",) for n in (1, 2, 3)]
    assert all(any(s.endswith(":pull,push") for s in i.requested) for i in issued)  # mounts name the target
    assert len(issued) <= 2 * 3  # at most one mount token besides, per image
    for n in (1, 2, 3):
        verify_registry_image(_anon_view(dst, token_server, user, password), f"app/app{n}:1",
                              fault_images[f"app{n}"].digest, tmp_path)

    before = len(token_server.issued)
    report, _s = run_engine(refs, dst.host, insecure=[src.host, dst.host], credentials=store, concurrency=4)
    assert report["failed"] == [] and report["totals"]["copied"] == 0, report["totals"]
    assert sorted(tuple(i.requested) for i in token_server.issued[before:]) == sorted(single)


def test_a_token_service_refusing_more_than_granted_still_serves_a_read_only_re_run(
        token_server, registry_factory, fault_images):
    """Some token services refuse a request for actions the user lacks instead of granting what it
    has. A re-run with read-only credentials (nothing to copy) asks for ``pull,push``, is refused
    (once per request already under way), and goes on asking for what each request needs: the run
    succeeds."""
    user, password = next(iter(token_server.users.items()))
    token_server.users["reader"] = "read-" + password
    token_server.grant(user, r"app/.*", "pull,push")
    token_server.grant("reader", r"app/.*", "pull")
    src = registry_factory()
    dst = registry_factory(extra_config=token_server.registry_config())
    refs = [f"{src.host}/{seed(fault_images[f'app{n}'], src, f'app/app{n}', '1')}" for n in (1, 2)]
    writer = CredentialStore(explicit={dst.host: Credentials(user, password)}, use_default_files=False)
    report, _s = run_engine(refs, dst.host, insecure=[src.host, dst.host], credentials=writer)
    assert report["failed"] == [], failures(report)

    token_server.refuse_ungranted = True
    reader = CredentialStore(explicit={dst.host: Credentials("reader", "read-" + password)}, use_default_files=False)
    before = len(token_server.issued)
    report, _s = run_engine(refs, dst.host, insecure=[src.host, dst.host], credentials=reader, concurrency=1)
    assert report["failed"] == [], failures(report)
    assert report["totals"]["present"] == 2 and report["totals"]["copied"] == 0, report["totals"]
    issued = token_server.issued[before:]
    refused = [i.requested for i in issued if i.status == 403]
    assert 1 <= len(refused) <= 2 and all(len(r) == 1 and r[0].endswith(":pull,push") for r in refused), refused
    assert sorted(i.requested for i in issued if i.status == 200) == [["repository:app/app1:pull"],
                                                                      ["repository:app/app2:pull"]]
