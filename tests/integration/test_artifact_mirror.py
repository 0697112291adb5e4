"""airgap.mirror.artifact_mirror with real parts: a loopback HTTPS artifact site (tests/support/
artifact_site.py, the test CA), checksum files made by ``sha512sum``/``sha256sum``, detached
signatures made by ``gpg`` with throw-away keys, Debian's ``docker-registry``, and every task run
through ``ansible-playbook``. The exported tree is checked by ``sha512sum -c`` and ``gpgv``."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid

import pytest
import yaml

from support.artifact_site import ArtifactSite
from support.connect_proxy import ConnectProxy
from support.gpg import gpg, make_key

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
AGENT = "downloads/beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz"
BIG = "downloads/big/big-20m.bin"


def _sum(path, algorithm="sha512"):
    out = subprocess.run(["%ssum" % algorithm, path.name], cwd=path.parent, capture_output=True, check=True)
    return out.stdout


def _sign(key, path):
    gpg(key.home, "--armor", "--detach-sign", "--output", str(path) + ".asc", str(path))


@pytest.fixture(scope="module")
def site(tmp_path_factory, pki):
    """The artifact site's tree and the keys: ``good`` signs, ``other`` is not trusted."""
    base = tmp_path_factory.mktemp("artifact-site")
    root = base / "www"
    good, other = make_key(base, "release"), make_key(base, "mallory")

    def put(rel, size, checksum=True, signer=good):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        if checksum:
            (root / (rel + ".sha512")).write_bytes(_sum(path))
        if signer is not None:
            _sign(signer, path)
        return path

    put(AGENT, 300 * 1024)
    put("downloads/wrong/wrong.bin", 1000)
    wrong = _sum(root / AGENT).replace(os.path.basename(AGENT).encode(), b"wrong.bin")
    (root / "downloads/wrong/wrong.bin.sha512").write_bytes(wrong)
    put("downloads/badsig/badsig.bin", 2000, signer=other)
    put("downloads/nosum/nosum.bin", 3000, checksum=False)
    put(BIG, 20 * MiB)
    tool = put("tools/tool-1.0.tgz", 5000, checksum=False, signer=None)
    (root / "tools/SHA256SUMS").write_bytes(b"0" * 64 + b"  other.tgz\n" + _sum(tool, "sha256"))
    for key in (good, other):
        key.stop_agent()
    (base / "release.asc").write_bytes(good.public)
    with ArtifactSite(root, pki=pki) as server:
        yield {"server": server, "root": root, "key": str(base / "release.asc"), "ca": str(pki.ca_cert)}


def run_task(ansible_run, tmp_path, args, check=False, diff=False, env=None):
    play = [{"hosts": "localhost", "gather_facts": False,
             "tasks": [{"name": "Files", "airgap.mirror.artifact_mirror": args, "ignore_errors": True}]}]
    path = tmp_path / ("play-%s.yml" % uuid.uuid4().hex[:8])
    path.write_text(yaml.safe_dump(play))
    res = ansible_run.playbook(path, check=check, diff=diff, env=env)
    return res.one("Files")


def by_url(record, site, rel):
    return next(f for f in record["result"]["files"] if f["url"] == site["server"].url(rel))


def index_refs(layout):
    with open(os.path.join(layout, "index.json")) as handle:
        return {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in json.load(handle)["manifests"]}


def test_good_and_bad_files_in_one_task(site, tmp_path, ansible_run):
    """A good file, a list-checksum file, and each failure: wrong checksum, bad signature, missing
    checksum file, 404. The good ones are stored, the task fails listing each failure; a re-run
    downloads nothing."""
    server = site["server"]
    layout = tmp_path / "layout"
    args = {"dest": "oci:%s" % layout, "ca_path": site["ca"], "signature_keys": [site["key"]],
            "files": [server.url(AGENT), server.url("downloads/wrong/wrong.bin"),
                      server.url("downloads/badsig/badsig.bin"), server.url("downloads/nosum/nosum.bin"),
                      server.url("downloads/missing/missing.bin"),
                      {"url": server.url("tools/tool-1.0.tgz"), "signature": False,
                       "checksum": "list:" + server.url("tools/SHA256SUMS")}]}
    check = run_task(ansible_run, tmp_path, args, check=True)
    assert by_url(check, site, AGENT)["status"] == "would_download"
    assert not layout.exists() or not (layout / "index.json").exists()

    rec = run_task(ansible_run, tmp_path, args, diff=True)
    res = rec["result"]
    assert rec["failed"] and rec["changed"]
    agent = by_url(rec, site, AGENT)
    assert agent["status"] == "downloaded" and agent["signer"] and agent["checksum"].startswith("sha512:")
    assert by_url(rec, site, "tools/tool-1.0.tgz")["status"] == "downloaded"
    errors = {rel: by_url(rec, site, rel)["error"] for rel in (
        "downloads/wrong/wrong.bin", "downloads/badsig/badsig.bin", "downloads/nosum/nosum.bin",
        "downloads/missing/missing.bin")}
    assert "checksum mismatch" in errors["downloads/wrong/wrong.bin"]
    assert "signature" in errors["downloads/badsig/badsig.bin"] and "not a trusted key" in errors[
        "downloads/badsig/badsig.bin"]
    assert "checksum file %s" % server.url("downloads/nosum/nosum.bin.sha512") in errors["downloads/nosum/nosum.bin"]
    assert "404" in errors["downloads/nosum/nosum.bin"] and "404" in errors["downloads/missing/missing.bin"]
    assert "4 of 6 files failed" in res["msg"]
    for error in errors.values():
        assert error in res["msg"]
    refs = index_refs(layout)
    assert sorted(refs) == sorted(res["refs"]) and len(refs) == 2
    entry = refs[agent["ref"]]
    assert entry["artifactType"] == "application/vnd.io.github.airgap-mirror.file.v1"
    assert agent["ref"] == "%s/files/downloads/beats/elastic-agent:elastic-agent-9.1.0-linux-x86_64.tar.gz" % server.host
    assert agent["ref"] in rec["result"]["diff"]["after"]
    assert not (layout / ".airgap-state" / "files").exists() or not os.listdir(layout / ".airgap-state" / "files")
    # nothing unverified in the blobs
    stored = {p.name for p in (layout / "blobs" / "sha256").iterdir()}
    for rel in ("downloads/wrong/wrong.bin", "downloads/badsig/badsig.bin"):
        digest = subprocess.run(["sha256sum", str(site["root"] / rel)], capture_output=True, text=True,
                                check=True).stdout.split()[0]
        assert digest not in stored

    mark = len(server.log)
    good_args = dict(args, files=[args["files"][0], args["files"][-1]])
    again = run_task(ansible_run, tmp_path, good_args)
    assert not again["failed"] and not again["changed"], again
    assert {f["status"] for f in again["result"]["files"]} == {"present"}
    fetched = [e[1] for e in server.log[mark:]]
    assert "/" + AGENT not in fetched and "/" + AGENT + ".asc" not in fetched and "/tools/tool-1.0.tgz" not in fetched
    assert again["result"]["bytes_downloaded"] == 0


def test_killed_download_resumes(site, tmp_path, ansible_run):
    """The site drops the 20 MiB download after 6 MiB; with retries 1 the run fails and keeps the
    partial file; the next run continues it with Range and the checksum verifies the whole."""
    server = site["server"]
    layout = tmp_path / "layout"
    args = {"dest": "oci:%s" % layout, "ca_path": site["ca"], "signature_keys": [site["key"]],
            "files": [server.url(BIG)], "retries": 1}
    server.cut_once(BIG, after=6 * MiB)
    first = run_task(ansible_run, tmp_path, args)
    assert first["failed"] and "the next run continues it" in first["result"]["msg"], first
    parts = list((layout / ".airgap-state" / "files").glob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size >= 6 * MiB - 512 * 1024
    kept = parts[0].stat().st_size
    assert not (layout / "index.json").exists() or not index_refs(layout)

    mark = len(server.log)
    second = run_task(ansible_run, tmp_path, args)
    assert not second["failed"] and second["changed"], second
    info = second["result"]["files"][0]
    assert info["status"] == "downloaded" and info["resumed_from"] == kept
    assert info["fetched"] == 20 * MiB - kept and info["size"] == 20 * MiB
    body_gets = server.gets(BIG)[-1:]
    assert [e for e in server.log[mark:] if e[1] == "/" + BIG] == body_gets
    assert body_gets[0][2] == "bytes=%d-" % kept and body_gets[0][3] == 206
    assert not list((layout / ".airgap-state").glob("files/*.part"))


def test_broken_body_is_continued_in_the_same_run(site, tmp_path, ansible_run):
    """With the default retries, a connection dropped after 3 MiB is continued by the same run with
    a Range request: one task, one 200 and one 206, 20 MiB fetched in all."""
    server = site["server"]
    mark = len(server.log)
    server.cut_once(BIG, after=3 * MiB)
    rec = run_task(ansible_run, tmp_path, {"dest": "oci:%s" % (tmp_path / "layout"), "ca_path": site["ca"],
                                           "checksum": "sha512", "files": [server.url(BIG)]})
    assert not rec["failed"] and rec["changed"], rec
    info = rec["result"]["files"][0]
    assert info["status"] == "downloaded" and info["fetched"] == 20 * MiB and info["resumed_from"] == 0
    gets = [e for e in server.log[mark:] if e[1] == "/" + BIG]
    assert [e[3] for e in gets] == [200, 206] and gets[1][2].startswith("bytes=")
    assert int(gets[1][2][len("bytes="):-1]) >= 3 * MiB - 512 * 1024


def test_round_trip_bundle_registry_export(site, tmp_path, ansible_run, plain_registry, skopeo):
    """layout -> transfer_bundle pack/verify/unpack -> image_mirror into a real registry ->
    export to a directory -> sha512sum -c and gpgv pass on the tree; a re-export changes nothing."""
    server = site["server"]
    connected, airgapped = tmp_path / "connected", tmp_path / "airgapped"
    fetched = run_task(ansible_run, tmp_path, {
        "dest": "oci:%s" % connected, "ca_path": site["ca"], "signature_keys": [site["key"]],
        "files": [server.url(AGENT), server.url(BIG)]})
    assert not fetched["failed"], fetched
    refs = fetched["result"]["refs"]

    bundle_dir = tmp_path / "media"
    for action, extra in (("pack", {"layout": str(connected), "images": refs}), ("verify", {}),
                          ("unpack", {"layout": str(airgapped)})):
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Bundle", "airgap.mirror.transfer_bundle": dict({"action": action, "bundle": str(bundle_dir),
                                                                     "name": "files"}, **extra)}]}]
        res = ansible_run.playbook(yaml.safe_dump(play) + "\n")
        assert res.rc == 0, res.output
    assert sorted(index_refs(airgapped)) == sorted(refs)

    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Push", "airgap.mirror.image_mirror": {
            "src": "oci:%s" % airgapped, "images": refs, "dest": plain_registry.host,
            "insecure_registries": [plain_registry.host], "mirror_map": str(tmp_path / "map.yml")}}]}]
    res = ansible_run.playbook(yaml.safe_dump(play) + "\n")
    assert res.rc == 0, res.output
    pushed = res.one("Push")["result"]["images"]
    assert {i["status"] for i in pushed} == {"copied"}

    # the registry keeps the manifest byte for byte: skopeo reads it back with the layout's digest
    agent_ref = next(r for r in refs if r.endswith("x86_64.tar.gz"))
    in_registry = "%s/%s" % (plain_registry.host, agent_ref.split("/", 1)[1])
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", "docker://" + in_registry],
                         capture_output=True, check=True).stdout
    body = json.loads(raw)
    assert body["artifactType"] == "application/vnd.io.github.airgap-mirror.file.v1"
    assert body["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == index_refs(airgapped)[agent_ref]["digest"]

    tree = tmp_path / "www"
    export = {"state": "exported", "src": plain_registry.host, "dest": "dir:%s" % tree,
              "insecure_registries": [plain_registry.host], "mirror_map": str(tmp_path / "map.yml")}
    check = run_task(ansible_run, tmp_path, export, check=True, diff=True)
    assert check["changed"] and not tree.exists(), check
    assert AGENT + ".sha512" in check["result"]["diff"]["after"]
    done = run_task(ansible_run, tmp_path, export)
    assert done["changed"] and not done["failed"], done
    ring = tmp_path / "ring.gpg"
    subprocess.run(["gpg", "--batch", "--yes", "--dearmor", "--output", str(ring), site["key"]], check=True,
                   capture_output=True)
    for rel in (AGENT, BIG):
        folder, name = (tree / rel).parent, (tree / rel).name
        subprocess.run(["sha512sum", "-c", name + ".sha512"], cwd=folder, check=True, capture_output=True)
        subprocess.run(["gpgv", "--keyring", str(ring), name + ".asc", name], cwd=folder, check=True,
                       capture_output=True)
        assert (tree / rel).read_bytes() == (site["root"] / rel).read_bytes()
        assert (tree / (rel + ".asc")).read_bytes() == (site["root"] / (rel + ".asc")).read_bytes()
    again = run_task(ansible_run, tmp_path, export)
    assert not again["changed"] and {f["status"] for f in again["result"]["files"]} == {"unchanged"}

    one = tmp_path / "www-one"
    named = "files/downloads/beats/elastic-agent:" + os.path.basename(AGENT)
    single = run_task(ansible_run, tmp_path, {"state": "exported", "src": plain_registry.host, "files": [named],
                                              "dest": "dir:%s" % one, "insecure_registries": [plain_registry.host]})
    assert single["changed"] and not single["failed"], single
    assert sorted(single["result"]["files"][0]["files"]) == sorted(AGENT + s for s in ("", ".sha512", ".asc"))
    assert sorted(p.name for p in (one / AGENT).parent.iterdir()) == sorted(
        os.path.basename(AGENT) + s for s in ("", ".sha512", ".asc"))

    from_layout = tmp_path / "www2"
    local = run_task(ansible_run, tmp_path, {"state": "exported", "src": "oci:%s" % airgapped,
                                             "dest": "dir:%s" % from_layout})
    assert local["changed"] and not local["failed"], local
    subprocess.run(["sha512sum", "-c", os.path.basename(AGENT) + ".sha512"], cwd=(from_layout / AGENT).parent,
                   check=True, capture_output=True)


def test_client_certificate_for_the_site(tmp_path, pki, ansible_run):
    """A site that requires a client certificate: refused without client_cert/client_key (the
    error names the checksum file's URL), served with them."""
    root = tmp_path / "www"
    path = root / "secure" / "data.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(4096))
    (root / "secure" / "data.bin.sha256").write_bytes(_sum(path, "sha256"))
    client = pki.client_cert("artifact-robot")
    with ArtifactSite(root, pki=pki, client_certs=True) as server:
        args = {"dest": "oci:%s" % (tmp_path / "layout"), "ca_path": str(pki.ca_cert), "checksum": "sha256",
                "files": [server.url("secure/data.bin")], "retries": 1}
        refused = run_task(ansible_run, tmp_path, args)
        assert refused["failed"] and server.url("secure/data.bin.sha256") in refused["result"]["msg"], refused
        served = run_task(ansible_run, tmp_path, dict(args, client_cert=str(client.cert), client_key=str(client.key)))
        assert not served["failed"] and served["result"]["files"][0]["status"] == "downloaded", served
        assert served["result"]["files"][0]["checksum"].startswith("sha256:")


def test_proxy_from_the_environment(site, tmp_path, ansible_run):
    """HTTPS_PROXY in the environment of the task: the checksum file and the file go through the
    proxy's CONNECT tunnel to the site (TLS end to end, the test CA still verified)."""
    server = site["server"]
    with ConnectProxy() as proxy:
        env = {"HTTPS_PROXY": proxy.url, "https_proxy": proxy.url, "NO_PROXY": "", "no_proxy": ""}
        rec = run_task(ansible_run, tmp_path, {"dest": "oci:%s" % (tmp_path / "layout"), "ca_path": site["ca"],
                                               "files": [server.url(AGENT)]}, env=env)
    assert not rec["failed"] and rec["result"]["files"][0]["status"] == "downloaded", rec
    assert proxy.tunnels and set(proxy.tunnels) == {server.host}
