"""The Elastic artifact catalog through artifact_mirror, against a loopback HTTPS stand-in of
artifacts.elastic.co (tests/support/artifact_site.py, the test CA) laid out as Elastic's download
tree, with ``.sha512`` files made by ``sha512sum`` and ``.asc`` signatures made by ``gpg`` with a
throw-away key; the playbook ``playbooks/elastic_artifacts.yml`` runs through ``ansible-playbook``,
the layout is exported and the tree compared with Elastic's paths, ``sha512sum -c`` and ``gpgv``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._products.elastic_artifacts import elastic_artifact_files
from support.artifact_site import ArtifactSite
from support.gpg import gpg, make_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VERSION = "9.1.0"
PLATFORMS = ["linux/amd64", "windows/amd64"]


def _manifest_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"manifest_version": "1.0.0", "artifacts": {}}))
    return buf.getvalue()


@pytest.fixture(scope="module")
def elastic_site(tmp_path_factory, pki):
    """A stand-in of artifacts.elastic.co: every file the catalog lists for VERSION and PLATFORMS
    (small random bodies) with ``.sha512`` and ``.asc``, and the Endpoint manifest (no checksum file,
    as published)."""
    base = tmp_path_factory.mktemp("elastic-site")
    root = base / "www"
    key = make_key(base, "elastic-standin")
    try:
        for entry in elastic_artifact_files(VERSION, PLATFORMS):
            path = root / entry["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(4096))
            out = subprocess.run(["sha512sum", path.name], cwd=path.parent, capture_output=True, check=True)
            (path.parent / (path.name + ".sha512")).write_bytes(out.stdout)
            gpg(key.home, "--armor", "--detach-sign", "--output", str(path) + ".asc", str(path))
    finally:
        key.stop_agent()
    manifest = root / ("downloads/endpoint/manifest/artifacts-%s.zip" % VERSION)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_bytes(_manifest_zip())
    (base / "key.asc").write_bytes(key.public)
    with ArtifactSite(root, pki=pki) as server:
        yield {"server": server, "root": root, "key": str(base / "key.asc"), "fingerprint": key.fingerprint,
               "ca": str(pki.ca_cert), "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest()}


def _tree(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def test_catalog_through_artifact_mirror_and_export(elastic_site, tmp_path, ansible_run):
    site = elastic_site["server"]
    layout = tmp_path / "layout"
    extra = {"elastic_artifacts_version": VERSION, "elastic_artifacts_platforms": PLATFORMS,
             "elastic_artifacts_layout": str(layout), "elastic_artifacts_signature_key": elastic_site["key"],
             "elastic_artifacts_fingerprint": elastic_site["fingerprint"],
             "elastic_artifacts_base_url": site.url("downloads/"), "elastic_artifacts_endpoint_base_url": site.url("downloads/"),
             "elastic_artifacts_endpoint_manifest_checksum": "sha256:" + elastic_site["manifest_sha256"],
             "elastic_artifacts_ca_path": elastic_site["ca"]}
    res = ansible_run.playbook(ROOT / "playbooks/elastic_artifacts.yml", extra_vars=extra)
    stored = res.one("Download, verify and store the files")["result"]
    expected = elastic_artifact_files(VERSION, PLATFORMS, endpoint_manifest_checksum="sha256:" + "0" * 64)
    assert len(expected) == 14 + 10 + 1  # linux: 14 components; windows: 10 (no cloudbeat, no profiling); manifest
    assert [f["path"] for f in stored["files"]] == [e["path"] for e in expected]
    assert {f["status"] for f in stored["files"]} == {"downloaded"}
    manifest = "downloads/endpoint/manifest/artifacts-%s.zip" % VERSION
    assert {f["signer"] for f in stored["files"] if f["path"] != manifest} == {elastic_site["fingerprint"]}
    assert not next(f for f in stored["files"] if f["path"] == manifest).get("signer")
    assert res.one("Check that every signature is by the expected key")["status"] == "ok"

    # a second run downloads nothing
    again = ansible_run.playbook(ROOT / "playbooks/elastic_artifacts.yml", extra_vars=extra)
    rerun = again.one("Download, verify and store the files")
    assert rerun["changed"] is False and {f["status"] for f in rerun["result"]["files"]} == {"present"}

    # with the default fingerprint (Elastic's key) the stand-in's signatures are refused by the playbook
    wrong = ansible_run.playbook(ROOT / "playbooks/elastic_artifacts.yml",
                                 extra_vars={k: v for k, v in extra.items() if k != "elastic_artifacts_fingerprint"})
    assert wrong.rc != 0
    assert "signed by another key than 46095ACC8548582C1A2699A9D27D666CD88E42B4" in wrong.output

    # export the layout: Elastic's download tree
    out = tmp_path / "www"
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Export", "airgap.mirror.artifact_mirror": {"state": "exported", "src": "oci:%s" % layout,
                                                            "dest": "dir:%s" % out}}]}]
    (tmp_path / "export.yml").write_text(yaml.safe_dump(play))
    ansible_run.playbook(tmp_path / "export.yml")
    want = set()
    for entry in expected:
        if entry["path"].endswith("artifacts-%s.zip" % VERSION):
            want |= {entry["path"], entry["path"] + ".sha256"}
        else:
            want |= {entry["path"], entry["path"] + ".sha512", entry["path"] + ".asc"}
    assert _tree(out) == want
    assert "downloads/beats/elastic-agent/elastic-agent-9.1.0-windows-x86_64.zip" in want
    assert "downloads/endpoint-dev/endpoint-security-9.1.0-linux-x86_64.tar.gz.asc" in want
    keyring = tmp_path / "keyring.gpg"
    subprocess.run(["gpg", "--dearmor", "--output", str(keyring), elastic_site["key"]], check=True,
                   env={**os.environ, "GNUPGHOME": str(tmp_path)})
    for rel in sorted(want):
        path = out / rel
        if not rel.endswith(".sha256"):  # the pinned checksum is stored as a one-line sha256sum file
            assert path.read_bytes() == (elastic_site["root"] / rel).read_bytes()
        if rel.endswith(".sha512"):
            subprocess.run(["sha512sum", "-c", "--strict", path.name], cwd=path.parent, check=True, capture_output=True)
        elif rel.endswith(".sha256"):
            subprocess.run(["sha256sum", "-c", "--strict", path.name], cwd=path.parent, check=True, capture_output=True)
        elif rel.endswith(".asc"):
            subprocess.run(["gpgv", "--keyring", str(keyring), str(path), str(path)[:-4]], check=True,
                           capture_output=True)
