"""Fault matrix case 4: the Bearer token expiring mid-run, on registries in distribution's token
mode (``auth: token:``) with the test bed's token server; and that server's own sanity check with
skopeo and raw requests (per-repository scopes, expiry, refusals).
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request

import pytest

from support import skopeo as skopeo_cli
from support.skopeo import SkopeoError

from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import Credentials, CredentialStore

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
                # the same request again; a refused upload starts a new session (another URL)
                key = e.path.split("/uploads/")[0] if "/uploads/" in e.path else e.path
                retry = next((x for x in log[i + 1:] if x.method == e.method and x.path.startswith(key)), None)
                assert retry is not None and retry.status not in (None, 401, 403), (e, retry)
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
