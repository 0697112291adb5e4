"""The test bed itself, proven with real parts: docker-registry, skopeo, openssl, ansible-playbook.

Also records two facts about distribution 2.8 and two about skopeo 1.9 that the engine and the
test bed rely on (a change in either tool makes these tests fail, on purpose).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import ssl
import stat
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

import pytest

from support import images
from support.images import OCILayout, sample_set, seed_registry
from support.registry import Request
from support.skopeo import SkopeoError

pytestmark = pytest.mark.integration

EMPTY_DIGEST = "sha256:" + hashlib.sha256(b"").hexdigest()
LARGE = 200 << 20


def _build_kinds(layout: OCILayout) -> dict[str, images.Image]:
    return {
        "single": images.build_image(layout, "single"),
        "multi-arch": images.build_index(layout, "multi-arch"),
        "nested-index": images.build_nested_index(layout, "nested-index"),
        "docker-single": images.build_image(layout, "docker-single", docker=True),
        "docker-list": images.build_index(layout, "docker-list", docker=True),
        "empty-layer": images.build_empty_layer_image(layout, "empty-layer"),
    }


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> dict[str, images.Image]:
    return _build_kinds(OCILayout(tmp_path_factory.mktemp("kinds") / "oci"))


# -- registries -------------------------------------------------------------------------------------

def test_plain_registry_serves_the_v2_api(plain_registry):
    status, headers, body = plain_registry.get("/v2/")
    assert status == 200, body
    assert headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert plain_registry.url == f"http://{plain_registry.host}"
    assert plain_registry.ca_path is None and plain_registry.cert_dir() is None
    assert plain_registry.host.startswith("127.0.0.1:")


def test_tls_registry_refuses_a_wrong_password_and_accepts_the_right_one(tls_registry):
    assert tls_registry.url.startswith("https://")
    assert tls_registry.get("/v2/", credentials=("", ""))[0] == 401
    assert tls_registry.get("/v2/", credentials=(tls_registry.username, tls_registry.password + "x"))[0] == 401
    assert tls_registry.get("/v2/", credentials=("someone-else", tls_registry.password))[0] == 401
    assert tls_registry.get("/v2/", credentials=(tls_registry.username, tls_registry.password))[0] == 200
    # A client that does not trust the test CA cannot even connect.
    with pytest.raises(urllib.error.URLError) as err:
        urllib.request.urlopen(tls_registry.url + "/v2/", context=ssl.create_default_context(), timeout=5)
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)


@pytest.mark.parametrize(("server_name", "valid"), [("mirror.test", True), ("localhost", True),
                                                    ("other.test", False)])
def test_tls_certificate_names_the_extra_sans(tls_registry, server_name, valid):
    context = ssl.create_default_context(cafile=str(tls_registry.ca_path))
    with socket.create_connection(("127.0.0.1", tls_registry.port), timeout=5) as raw:
        if valid:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
        else:
            with pytest.raises(ssl.SSLCertVerificationError):
                context.wrap_socket(raw, server_hostname=server_name)


def test_auth_file_is_private_and_skopeo_uses_it(tls_registry, sample_layout, skopeo, tmp_path):
    image = sample_layout["app-1.0"]
    seed_registry(image, tls_registry, "testbed/authfile", "1.0")
    path = tls_registry.auth_file(tmp_path / "containers" / "auth.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(json.loads(path.read_text())["auths"]) == [tls_registry.host]
    ref = f"docker://{tls_registry.host}/testbed/authfile:1.0"
    assert skopeo.digest_of(ref, cert_dir=tls_registry.cert_dir(), authfile=path) == image.digest
    with pytest.raises(SkopeoError) as err:
        skopeo.inspect_raw(ref, cert_dir=tls_registry.cert_dir())
    assert "unauthorized" in err.value.stderr.lower() or "401" in err.value.stderr


def test_auth_file_needs_an_auth_registry(plain_registry, tmp_path):
    with pytest.raises(ValueError, match="no auth"):
        plain_registry.auth_file(tmp_path / "auth.json")


def test_restart_keeps_port_and_content(registry_factory, sample_layout, skopeo):
    registry = registry_factory(tls=True, auth=True)
    image = sample_layout["tool-2.0"]
    seed_registry(image, registry, "testbed/restart", "2.0")
    host, pid, mark = registry.host, registry.pid, registry.mark()
    registry.stop()
    with pytest.raises(urllib.error.URLError):
        registry.get("/v2/", timeout=2)
    registry.restart()
    assert (registry.host, registry.running) == (host, True)
    assert registry.pid != pid
    assert skopeo.digest_of(f"docker://{registry.host}/testbed/restart:2.0", registry=registry) == image.digest
    assert registry.mark() > mark  # the access log spans restarts


def test_garbage_collect_removes_blobs_of_deleted_manifests(registry_factory, sample_layout):
    registry = registry_factory()
    image = sample_layout["app-1.1"]
    seed_registry(image, registry, "testbed/gc", "1.1")
    own_layer = image.layers[-1].digest  # the app layer; the base layer is shared with nothing here
    blob = f"/v2/testbed/gc/blobs/{own_layer}"
    assert registry.request("HEAD", blob)[0] == 200
    assert registry.request("DELETE", f"/v2/testbed/gc/manifests/{image.digest}")[0] == 202
    assert registry.request("HEAD", blob)[0] == 200  # deleting a manifest frees nothing by itself
    output = registry.garbage_collect()
    assert own_layer.split(":")[1] in output  # GC names what it deletes
    assert registry.running
    assert registry.request("HEAD", blob)[0] == 404


# -- request accounting -----------------------------------------------------------------------------

def test_request_accounting_counts_real_requests(registry_factory, sample_layout):
    registry = registry_factory()
    image = sample_layout["app-1.0"]
    blobs = len(image.blobs()) - 1  # config + layers, without the manifest

    first = registry.mark()
    seed_registry(image, registry, "testbed/acct", "1.0")
    assert registry.count("PUT", r"^/v2/testbed/acct/blobs/uploads/.*digest=", status=201, since=first) == blobs
    assert registry.count("PUT", r"^/v2/testbed/acct/manifests/1\.0$", status=201, since=first) == 1
    assert len(registry.blob_uploads(since=first)) >= blobs

    second = registry.mark()
    seed_registry(image, registry, "testbed/acct", "1.0")
    assert registry.blob_uploads(since=second) == []  # skopeo found every blob and uploaded none
    assert registry.count("HEAD", r"/blobs/sha256:", status=200, since=second) >= blobs

    third = registry.mark()
    registry.get("/v2/testbed/acct/manifests/missing")
    assert registry.since(third) == [Request("GET", "/v2/testbed/acct/manifests/missing", 404)]


# -- sample images ----------------------------------------------------------------------------------

def test_sample_set_is_deterministic(sample_layout, tmp_path):
    again = sample_set(tmp_path / "again")
    assert again.digests() == sample_layout.digests()
    assert sorted(os.listdir(again.layout.blob_dir)) == sorted(os.listdir(sample_layout.layout.blob_dir))
    assert again.layout.verify() == sample_layout.layout.verify() > 0
    assert set(sample_layout.layout.refs()) == set(sample_layout.images)


def test_sample_set_is_small_multi_arch_and_shares_a_base_layer(sample_layout):
    base = sample_layout["app-1.0"].layers[0].digest
    for ref, image in sample_layout.images.items():
        assert image.total_size < 32 * 1024, ref
        for member in image.manifests():
            if not member.is_index:
                assert member.layers[0].digest == base, (ref, member.platform)
    platforms = {m.platform["architecture"] for m in sample_layout["tool-2.0"].children}
    assert platforms == {"amd64", "arm64"}
    assert sample_layout["web-stable"].media_type == images.DOCKER_LIST
    arm = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    assert sample_layout["web-stable"].children[1].platform == arm


def test_configs_are_real_image_configs(sample_layout, kinds):
    checked = 0
    for image in [*sample_layout.images.values(), *kinds.values()]:
        for member in image.manifests():
            if member.is_index:
                continue
            config = json.loads(member.layout.blob_path(member.config.digest).read_bytes())
            assert (config["os"], config["architecture"]) == (member.platform["os"], member.platform["architecture"])
            assert len(config["rootfs"]["diff_ids"]) == len(member.layers)
            for layer, diff_id in zip(member.layers, config["rootfs"]["diff_ids"]):
                data = member.layout.blob_path(layer.digest).read_bytes()
                if layer.media_type.endswith("gzip"):
                    data = gzip.decompress(data)
                assert diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
                checked += 1
    assert checked > 10


def test_rootfs_image_is_reproducible_and_keeps_links_and_modes(tmp_path, plain_registry, skopeo):
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "bin" / "tool").write_text("#!/bin/sh\necho tool\n")
    os.chmod(rootfs / "bin" / "tool", 0o755)
    os.symlink("tool", rootfs / "bin" / "alias")
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "conf").write_text("x=1\n")
    first = images.build_rootfs_image(OCILayout(tmp_path / "a"), "rootfs", rootfs, cmd=["/bin/tool"])
    os.utime(rootfs / "etc" / "conf", (1, 1))
    second = images.build_rootfs_image(OCILayout(tmp_path / "b"), "rootfs", rootfs, cmd=["/bin/tool"])
    assert first.digest == second.digest

    with tarfile.open(first.layout.blob_path(first.layers[0].digest)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == ["bin", "bin/alias", "bin/tool", "etc", "etc/conf"]
    assert members["bin/alias"].issym() and members["bin/alias"].linkname == "tool"
    assert members["bin/tool"].mode == 0o755 and members["etc/conf"].mtime == 0

    seed_registry(first, plain_registry, "testbed/rootfs", "1")
    assert skopeo.digest_of(f"docker://{plain_registry.host}/testbed/rootfs:1", registry=plain_registry) == first.digest


def test_large_layer_is_streamed_and_deterministic(tmp_path):
    size = 3 * (1 << 20) + 123  # several chunks and a partial tar block
    one = images.add_large_layer(OCILayout(tmp_path / "a"), size, seed=5)
    two = images.add_large_layer(OCILayout(tmp_path / "b"), size, seed=5)
    other = images.add_large_layer(OCILayout(tmp_path / "c"), size, seed=6)
    assert one == two and one.digest != other.digest
    with tarfile.open(tmp_path / "a" / "blobs" / "sha256" / one.digest.split(":")[1]) as tar:
        (member,) = tar.getmembers()
        assert member.size == size
    zipped = images.add_large_layer(OCILayout(tmp_path / "d"), size, seed=5, compress=True)
    assert zipped.diff_id == one.digest and zipped.compressed


# -- skopeo round trips of every kind ---------------------------------------------------------------

@pytest.mark.parametrize("registry_name", ["plain_registry", "tls_registry"])
@pytest.mark.parametrize("kind", ["single", "multi-arch", "nested-index", "docker-single", "docker-list",
                                  "empty-layer"])
def test_every_kind_round_trips_with_the_same_digests(kind, registry_name, request, kinds, skopeo):
    registry = request.getfixturevalue(registry_name)
    image = kinds[kind]
    repository = f"testbed/kinds/{kind}"
    seed_registry(image, registry, repository, "1")
    assert skopeo.inspect_raw(f"docker://{registry.host}/{repository}:1", registry=registry) == \
        image.layout.blob_path(image.digest).read_bytes()
    for member in image.manifests():
        ref = f"docker://{registry.host}/{repository}@{member.digest}"
        assert skopeo.digest_of(ref, registry=registry) == member.digest
    assert skopeo.list_tags(f"docker://{registry.host}/{repository}", registry=registry) == ["1"]


def test_whole_sample_set_seeds_into_the_tls_registry(tls_registry, sample_layout, skopeo):
    pushed = sample_layout.seed(tls_registry, prefix="testbed/demo/")
    assert set(pushed) == set(sample_layout.images)
    for ref, target in pushed.items():
        assert skopeo.digest_of(f"docker://{target}", registry=tls_registry) == sample_layout[ref].digest
    assert skopeo.list_tags(f"docker://{tls_registry.host}/testbed/demo/sample/app", registry=tls_registry) == \
        ["1.0", "1.1"]


@pytest.mark.slow
def test_200_mib_layer_round_trips_and_a_second_copy_uploads_nothing(tmp_path, registry_factory, skopeo):
    registry = registry_factory()
    started = time.monotonic()
    image = images.build_large_image(OCILayout(tmp_path / "oci"), "large", LARGE, seed=1)
    built = time.monotonic() - started
    layer = image.layers[0]
    assert layer.size == LARGE + 512 + 1024  # header + payload (block aligned) + trailer

    mark = registry.mark()
    seed_registry(image, registry, "testbed/large", "1")
    assert skopeo.digest_of(f"docker://{registry.host}/testbed/large:1", registry=registry) == image.digest
    status, headers, body = registry.request("HEAD", f"/v2/testbed/large/blobs/{layer.digest}")
    assert (status, int(headers["Content-Length"]), body) == (200, layer.size, b"")
    assert registry.count("PUT", r"/blobs/uploads/.*digest=", status=201, since=mark) == 2

    again = registry.mark()
    seed_registry(image, registry, "testbed/large", "2")
    assert registry.blob_uploads(since=again) == []
    print(f"200 MiB layer built in {built:.2f}s, test total {time.monotonic() - started:.2f}s")


# -- recorded facts about the real tools ------------------------------------------------------------

def test_distribution_accepts_a_nested_index_and_a_zero_byte_layer(registry_factory, kinds):
    """distribution 2.8 stores an index whose member is an index, and a 0-byte blob."""
    registry = registry_factory()
    nested = kinds["nested-index"]
    images.push_http(nested, registry, "testbed/facts/nested", "1")
    accept = {"Accept": f"{images.OCI_INDEX}, {images.OCI_MANIFEST}"}
    status, headers, body = registry.get("/v2/testbed/facts/nested/manifests/1", headers=accept)
    assert status == 200
    assert headers["Docker-Content-Digest"] == nested.digest
    assert headers["Content-Type"] == images.OCI_INDEX
    assert json.loads(body)["manifests"][0]["mediaType"] == images.OCI_INDEX
    inner = nested.children[0]
    assert registry.get(f"/v2/testbed/facts/nested/manifests/{inner.digest}", headers=accept)[0] == 200

    empty = kinds["empty-layer"]
    seed_registry(empty, registry, "testbed/facts/empty", "1")
    assert empty.layers[-1].digest == EMPTY_DIGEST and empty.layers[-1].size == 0
    status, headers, body = registry.request("HEAD", f"/v2/testbed/facts/empty/blobs/{EMPTY_DIGEST}")
    assert (status, headers["Content-Length"], body) == (200, "0", b"")
    assert registry.get(f"/v2/testbed/facts/empty/blobs/{EMPTY_DIGEST}")[2] == b""


@pytest.mark.parametrize(("kind", "message"), [
    ("nested-index", "Unexpectedly received a manifest list instead of a manifest for a single image"),
    ("docker-single", "no descriptor found for reference"),
])
def test_what_skopeo_1_9_cannot_copy(kind, message, kinds, plain_registry, skopeo):
    """Why seed_registry pushes nested indexes over HTTP and Docker-typed images from dir:."""
    with pytest.raises(SkopeoError) as err:
        skopeo.copy(kinds[kind].oci_ref, f"docker://{plain_registry.host}/testbed/limits/{kind}:1",
                    dest_registry=plain_registry)
    assert message in err.value.stderr


# -- PKI --------------------------------------------------------------------------------------------

def _verify(ca, cert, purpose):
    return subprocess.run(["openssl", "verify", "-CAfile", str(ca), "-purpose", purpose, str(cert)],
                          capture_output=True, text=True, check=False)


def test_pki_issues_cached_server_and_client_certificates(pki):
    server = pki.server_cert(["DNS:localhost", "IP:127.0.0.1", "DNS:pki.test"])
    assert pki.server_cert(["DNS:pki.test", "IP:127.0.0.1", "DNS:localhost"]) == server
    client = pki.client_cert("robot")
    mtime = client.cert.stat().st_mtime_ns
    assert pki.client_cert("robot") == client and client.cert.stat().st_mtime_ns == mtime
    for pair in (server, client):
        assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    assert _verify(pki.ca_cert, server.cert, "sslserver").returncode == 0
    assert _verify(pki.ca_cert, client.cert, "sslclient").returncode == 0
    assert _verify(pki.ca_cert, client.cert, "sslserver").returncode != 0
    sans = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(server.cert)],
                          capture_output=True, text=True, check=True).stdout
    assert "DNS:pki.test" in sans and "IP Address:127.0.0.1" in sans


# -- ansible-playbook -------------------------------------------------------------------------------

def test_ansible_runner_returns_real_module_results(ansible_run, tmp_path):
    target = tmp_path / "written.txt"
    playbook = f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Write a file
      ansible.builtin.copy:
        dest: "{target}"
        content: "{{{{ content }}}}"
        mode: "0644"
    - name: Report the collections path
      ansible.builtin.debug:
        msg: "{{{{ lookup('ansible.builtin.env', 'ANSIBLE_COLLECTIONS_PATH') }}}}"
    - name: Fail on purpose
      ansible.builtin.fail:
        msg: testbed boom
      ignore_errors: true
"""
    check = ansible_run.playbook(playbook, extra_vars={"content": "one\n"}, check=True, diff=True)
    assert check.rc == 0, check.output
    assert check.one("Write a file")["changed"] and not target.exists()
    assert check.one("Write a file")["result"]["diff"][0]["after"] == "one\n"

    first = ansible_run.playbook(playbook, extra_vars={"content": "one\n"})
    assert first.rc == 0, first.output
    assert first.one("Write a file")["changed"] and target.read_text() == "one\n"
    assert first.one("Report the collections path")["result"]["msg"] == os.environ["AIRGAP_COLLECTIONS_PATH"]
    assert [(r["task"], r["result"]["msg"]) for r in first.failed] == [("Fail on purpose", "testbed boom")]

    second = ansible_run.playbook(playbook, extra_vars={"content": "one\n"}, verbosity=1)
    assert second.rc == 0 and second.changed == [], second.output

    ping = ansible_run.adhoc("ansible.builtin.ping")
    assert ping.rc == 0 and ping.one("ansible.builtin.ping")["result"]["ping"] == "pong"
