"""Names, paths and checksum files of stored files (no I/O)."""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._artifacts import checksums as C
from ansible_collections.airgap.mirror.plugins.module_utils._artifacts import model as M
from ansible_collections.airgap.mirror.plugins.module_utils._backends import artifact_mirror as B

TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
URL = "https://artifacts.elastic.co/downloads/beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz"


def test_reference_keeps_a_valid_name_and_cleans_others():
    assert M.reference_for("artifacts.elastic.co", M.url_path(URL)) == (
        "artifacts.elastic.co/files/downloads/beats/elastic-agent:elastic-agent-9.1.0-linux-x86_64.tar.gz")
    odd = M.reference_for("127.0.0.1:8443", "Top Dir/a+b.tgz")
    repo, tag = odd.rsplit(":", 1)
    assert repo.startswith("127.0.0.1:8443/files/top-dir-") and TAG.match(tag) and tag.startswith("a_b.tgz-")
    assert M.tag_for("a+b.tgz") != M.tag_for("a~b.tgz")
    long = M.tag_for("x" * 300 + ".tar.gz")
    assert TAG.match(long) and len(long) == 128
    assert TAG.match(M.tag_for(".hidden")) and TAG.match(M.tag_for("-dash"))


@pytest.mark.parametrize("path", ["/abs", "a/../b", "a//b", "./a", "", "a/."])
def test_bad_paths_are_refused(path):
    with pytest.raises(M.ArtifactError, match="path"):
        M.check_path(path, "files[0].path")


@pytest.mark.parametrize("url,reason", [("ftp://h/a", "not an https"), ("https://u:p@h/a", "credentials"),
                                        ("https://h/a?x=1", "query"), ("", "non-empty")])
def test_bad_urls_are_refused(url, reason):
    with pytest.raises(M.ArtifactError, match=reason) as err:
        M.check_url(url, "files[3]")
    assert "files[3]" in str(err.value) and "u:p" not in str(err.value)


def test_manifest_is_deterministic_and_typed():
    spec = M.FileSpec(URL, C.parse_source("sha512", URL, "x"), URL + ".asc", M.url_path(URL))
    args = (spec, "sha256:" + "a" * 64, 10, ("sha512", "b" * 128), b"sum\n", b"sig", "FPR")
    data = M.artifact_manifest(*args)
    assert data == M.artifact_manifest(*args)
    body = json.loads(data)
    assert M.is_file_artifact(body) and body["config"]["size"] == 2
    assert [layer["annotations"][M.TITLE] for layer in body["layers"]] == [
        spec.name, spec.name + ".sha512", spec.name + ".asc"]
    assert body["annotations"][M.PATH_NOTE] == "downloads/beats/elastic-agent/" + spec.name


def test_checksum_sources():
    assert C.parse_source("sha256", URL, "f").url == URL + ".sha256"
    pinned = C.parse_source("sha256:" + "A" * 64, URL, "f")
    assert pinned.kind == "pinned" and pinned.value == "a" * 64
    assert C.parse_source("list:https://h/SHA256SUMS", URL, "f").kind == "list"
    with pytest.raises(M.ArtifactError, match="64 hex digits"):
        C.parse_source("sha256:abc", URL, "files[1]")
    with pytest.raises(M.ArtifactError, match="not one of"):
        C.parse_source("md5", URL, "files[1]")  # md5 only pinned, never a checksum file
    md5 = C.parse_source("md5:" + "B" * 32, URL, "f")  # the form Elastic's GeoIP overview publishes
    assert (md5.kind, md5.algorithm, md5.value) == ("pinned", "md5", "b" * 32)
    with pytest.raises(M.ArtifactError, match="a md5 checksum has 32 hex digits, not 3"):
        C.parse_source("md5:abc", URL, "files[1]")


def test_checksum_files_gnu_bsd_bare_and_lists():
    name = URL.rsplit("/", 1)[1]
    side = C.Checksum("file", "sha512", URL + ".sha512")
    assert C.expected(("%s  %s\n" % ("c" * 128, name)).encode(), side, URL) == ("sha512", "c" * 128)
    assert C.expected(("c" * 128 + "\n").encode(), side, URL) == ("sha512", "c" * 128)
    with pytest.raises(M.ArtifactError, match="names other.tgz"):
        C.expected(("%s  other.tgz\n" % ("c" * 128)).encode(), side, URL)
    with pytest.raises(M.ArtifactError, match="not a sha512 digest"):
        C.expected(("%s  %s\n" % ("c" * 64, name)).encode(), side, URL)
    listing = C.Checksum("list", None, "https://artifacts.elastic.co/downloads/SHA256SUMS")
    text = "%s *beats/elastic-agent/%s\nSHA512 (x.tgz) = %s\n# comment\n" % ("d" * 64, name, "e" * 128)
    assert C.expected(text.encode(), listing, URL) == ("sha256", "d" * 64)
    with pytest.raises(M.ArtifactError, match="no line for"):
        C.expected(b"%s  other\n" % (b"f" * 64), listing, URL)
    with pytest.raises(M.ArtifactError, match="line 1: not a checksum line"):
        C.expected(b"hello world\n", listing, URL)


def test_file_specs_from_parameters():
    params = {"files": [URL, {"url": "https://h/t/tool.tgz", "signature": False, "path": "tools/tool.tgz",
                              "checksum": "list:https://h/t/SUMS"}],
              "checksum": "sha512", "signature_keys": ["/k.asc"]}
    agent, tool = B.file_specs(params)
    assert agent.signature_url == URL + ".asc" and agent.checksum.url == URL + ".sha512"
    assert tool.signature_url is None and tool.path == "tools/tool.tgz" and tool.checksum.kind == "list"
    with pytest.raises(M.ArtifactError, match="would share"):
        B.file_specs({"files": [URL, {"url": "https://other/x", "path": M.url_path(URL)}], "checksum": "sha512"})
    with pytest.raises(M.ArtifactError, match="needs signature_keys"):
        B.file_specs({"files": [{"url": URL, "signature": True}], "checksum": "sha512"})
    with pytest.raises(M.ArtifactError, match=r"files\[0\]: unknown keys sha"):
        B.file_specs({"files": [{"url": URL, "sha": 1}], "checksum": "sha512"})
