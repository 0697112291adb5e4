"""A registry spoken to over verified https needs no answer to GET /v2/ before its first requests:
the scheme is known. So the /v2/ check goes out beside them, in the background, and only a request
refused (404, 501...) waits for it: that is where "this host serves no registry API" must be told
apart from "this image is not there". On a link of 150 ms this saves about four round trips per registry
(bench/lookup_protocols.py, README "Performance").

The check is held here by a Transport whose ``_ping_over`` waits for the test: that is the seam, the
registries and the web server are real."""

from __future__ import annotations

import threading

import pytest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore, Credentials
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.limits import RegistryLimits
from ansible_collections.airgap.mirror.plugins.module_utils._engine.http.options import ClientOptions
from ansible_collections.airgap.mirror.plugins.module_utils._engine.registry import RegistryClient
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import NotFound, RegistryError

from support.artifact_site import ArtifactSite

pytestmark = pytest.mark.integration

WAIT = 20.0  # seconds a request may take; a request that waits for the held check never ends by itself


class HeldPing(RegistryClient):
    """A registry client whose GET /v2/ is sent only once the test releases it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.release = threading.Event()
        self.pings = 0

    def _ping_over(self, scheme):
        self.pings += 1
        assert self.release.wait(60), "the test never released the ping"
        return super()._ping_over(scheme)


def in_thread(call):
    """Run *call* in a thread; (thread, box) with box["result"] or box["error"] once it ends."""
    box: dict = {}

    def run() -> None:
        try:
            box["result"] = call()
        except Exception as exc:  # pylint: disable=broad-except  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_requests_to_an_https_registry_do_not_wait_for_the_v2_check(registry_factory, pki):
    registry = registry_factory(tls=True)
    client = HeldPing(registry.host, ClientOptions.build(ca_path=str(pki.ca_cert)))
    try:
        assert client.base == "https://%s" % registry.host
        catalog = client._send_with_retries("GET", client.base + "/v2/_catalog", scopes=())
        assert catalog.status_code == 200  # answered while the check is still held
        catalog.close()

        # a refusal is where the check matters: a 404 waits for it
        thread, box = in_thread(lambda: client.head_manifest("not/there", "1.0"))
        thread.join(1.0)
        assert thread.is_alive() and not box
        client.release.set()
        thread.join(WAIT)
        assert not thread.is_alive() and box == {"result": None}  # a registry: the image is just absent
        assert client.pings == 1
    finally:
        client.release.set()
        client.close()


def test_a_refusal_frees_its_connection_for_the_check_it_waits_for(registry_factory, pki):
    # one connection to the registry (registry_limits): a streamed refusal holds it until it is
    # read, and the /v2/ check beside it needs it; read first, or the two wait for each other
    registry = registry_factory(tls=True)
    limits = RegistryLimits.parse({registry.host: {"connections": 1}})
    client = HeldPing(registry.host, ClientOptions.build(ca_path=str(pki.ca_cert), registry_limits=limits))
    try:
        thread, box = in_thread(lambda: client.get_manifest("not/there", "1.0"))
        thread.join(1.0)  # the refusal came, with the check still held: it waits for the check
        assert thread.is_alive() and not box
        client.release.set()  # the check now needs the one connection
        thread.join(WAIT)
        assert not thread.is_alive(), "the refused request and the /v2/ check waited for each other"
        assert isinstance(box.get("error"), NotFound), box
        assert "MANIFEST_UNKNOWN" in str(box["error"]) or "NAME_UNKNOWN" in str(box["error"])  # the body was kept
    finally:
        client.release.set()
        client.close()


def test_an_https_host_that_serves_no_registry_api_is_named_as_such(tmp_path, pki):
    # a web server that answers GET /v2/ with 404 and HEAD with 501 (http.server's "unsupported method")
    (tmp_path / "site").mkdir()
    with ArtifactSite(tmp_path / "site", pki=pki) as site:
        image = "%s/org/app:1.0" % site.host
        client = RegistryClient(site.host, ClientOptions.build(ca_path=str(pki.ca_cert)))
        try:
            with pytest.raises(RegistryError, match=r"does not serve the registry API at /v2/") as caught:
                client.head_manifest("org/app", "1.0", image=image)
        finally:
            client.close()
    assert caught.value.status == 404 and caught.value.image == image


def test_basic_auth_over_https_without_waiting_for_the_v2_check(tls_registry, pki):
    # the first request meets the 401 challenge itself, and is sent again with the credentials
    store = CredentialStore(explicit={tls_registry.host: Credentials(tls_registry.username, tls_registry.password)},
                            use_default_files=False)
    client = HeldPing(tls_registry.host, ClientOptions.build(ca_path=str(pki.ca_cert), credentials=store))
    try:
        catalog = client._send_with_retries("GET", client.base + "/v2/_catalog", scopes=("registry:catalog:*",))
        assert catalog.status_code == 200, catalog.status_code
        catalog.close()
        assert client.auth.scheme == "basic"
    finally:
        client.release.set()
        client.close()
