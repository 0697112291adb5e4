"""Unit tests of the Elastic artifact catalog (_products/elastic_artifacts.py) and its filter.

Names are cross-checked against public sources (docs/elastic-artifacts.md): the Fleet air-gapped
guide's curl list (elastic/docs-content reference/fleet/air-gapped.md, "Host your own artifact
registry for binary downloads") for each Linux tarball, elastic/ingest-docs d02f5cf for the Windows
zip (``elastic-agent-8.12.1-windows-x86_64.zip`` answers 200, ``windows_x86_64`` 404), the same
guide's DEB/RPM name rules, and Elastic Security's offline-endpoint script for the manifest.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter.elastic_artifacts import FilterModule
from ansible_collections.airgap.mirror.plugins.module_utils._products.eck.images import ECKError
from ansible_collections.airgap.mirror.plugins.module_utils._products.elastic_artifacts import (
    COMPONENTS, ELASTIC_KEY_FINGERPRINT, elastic_artifact_files, platform_key,
)

A = "https://artifacts.elastic.co/downloads/"
SHA = "sha256:" + "ab" * 32

# One name per kind, as the Fleet air-gapped guide's curl list spells it (with {{stack-version}} = 9.1.0).
DOCUMENTED_LINUX = [
    "apm-server/apm-server-9.1.0-linux-x86_64.tar.gz",
    "beats/auditbeat/auditbeat-9.1.0-linux-x86_64.tar.gz",
    "beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz",
    "beats/filebeat/filebeat-9.1.0-linux-x86_64.tar.gz",
    "beats/heartbeat/heartbeat-9.1.0-linux-x86_64.tar.gz",
    "beats/metricbeat/metricbeat-9.1.0-linux-x86_64.tar.gz",
    "beats/osquerybeat/osquerybeat-9.1.0-linux-x86_64.tar.gz",
    "beats/packetbeat/packetbeat-9.1.0-linux-x86_64.tar.gz",
    "cloudbeat/cloudbeat-9.1.0-linux-x86_64.tar.gz",
    "endpoint-dev/endpoint-security-9.1.0-linux-x86_64.tar.gz",
    "fleet-server/fleet-server-9.1.0-linux-x86_64.tar.gz",
    "prodfiler/pf-host-agent-9.1.0-linux-x86_64.tar.gz",
    "prodfiler/pf-elastic-collector-9.1.0-linux-x86_64.tar.gz",
    "prodfiler/pf-elastic-symbolizer-9.1.0-linux-x86_64.tar.gz",
]


def urls(files):
    return [f["url"] for f in files]


def test_default_is_the_documented_linux_list_with_elastic_paths():
    files = elastic_artifact_files("9.1.0", ["linux/amd64"])
    assert sorted(urls(files)) == sorted(A + rel for rel in DOCUMENTED_LINUX)
    for f in files:
        assert f["path"] == "downloads/" + f["url"][len(A):]
        assert set(f) == {"url", "path"}  # .sha512 and (with signature_keys) .asc by artifact_mirror's defaults


@pytest.mark.parametrize("spelling", ["linux/amd64", "linux/x86_64", "linux-x86_64", "linux_x86_64", "LINUX-AMD64",
                                      "linux/x64", " linux-amd64 "])
def test_linux_x86_64_spellings(spelling):
    assert platform_key(spelling) == ("linux", "x86_64")
    assert urls(elastic_artifact_files("9.1.0", [spelling], include=["elastic_agent"])) == [
        A + "beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz"]


@pytest.mark.parametrize("spelling,suffix", [
    ("linux/arm64", "linux-arm64.tar.gz"), ("linux-aarch64", "linux-arm64.tar.gz"),
    ("darwin/amd64", "darwin-x86_64.tar.gz"), ("darwin-x86_64", "darwin-x86_64.tar.gz"),
    ("darwin/arm64", "darwin-aarch64.tar.gz"), ("darwin-aarch64", "darwin-aarch64.tar.gz"),
    ("macos/arm64", "darwin-aarch64.tar.gz"),
    ("windows/amd64", "windows-x86_64.zip"), ("windows-x86_64", "windows-x86_64.zip"),
    ("windows_x86_64", "windows-x86_64.zip"),
    ("deb/amd64", "amd64.deb"), ("deb-x86_64", "amd64.deb"), ("deb/arm64", "arm64.deb"), ("deb_aarch64", "arm64.deb"),
    ("rpm/amd64", "x86_64.rpm"), ("rpm-x86_64", "x86_64.rpm"), ("rpm/arm64", "aarch64.rpm"),
    ("rpm-aarch64", "aarch64.rpm"),
])
def test_every_platform_spelling(spelling, suffix):
    files = elastic_artifact_files("8.12.1", [spelling], include=["elastic_agent"])
    assert urls(files) == [A + "beats/elastic-agent/elastic-agent-8.12.1-" + suffix]


def test_windows_zip_as_published():
    # elastic/ingest-docs d02f5cf: ...-windows-x86_64.zip is 200, ...-windows_x86_64.zip is 404
    files = elastic_artifact_files("8.12.1", ["windows/amd64"], include=["elastic_agent", "fleet_server"])
    assert urls(files) == [A + "beats/elastic-agent/elastic-agent-8.12.1-windows-x86_64.zip",
                           A + "fleet-server/fleet-server-8.12.1-windows-x86_64.zip"]


def test_linux_only_components_are_left_out_elsewhere():
    files = elastic_artifact_files("9.1.0", ["windows/amd64", "darwin/arm64", "linux/arm64"],
                                   include=["cloudbeat", "profiling"])
    assert all("linux-arm64" in u for u in urls(files)) and len(files) == 4


@pytest.mark.parametrize("bad", ["windows/arm64", "linux/386", "linux", "solaris/amd64", "linux/amd64/v2", "", None, 7])
def test_bad_platforms_refused(bad):
    with pytest.raises(ECKError, match="platform"):
        elastic_artifact_files("9.1.0", [bad])


@pytest.mark.parametrize("version,message", [
    ("10.0.0", "not known to this catalog"), ("7.17.25", "not known to this catalog"),
    ("9.1.0-SNAPSHOT", "pre-release"), ("9.1", "not a version"), ("9.1.0+build", "not a version"),
    ("latest", "not a version"),
])
def test_unknown_versions_refused(version, message):
    with pytest.raises(ECKError, match=message):
        elastic_artifact_files(version, ["linux/amd64"])


def test_profiling_is_known_from_9_only():
    assert not any("prodfiler" in u for u in urls(elastic_artifact_files("8.17.0", ["linux/amd64"])))
    with pytest.raises(ECKError, match="component pf_host_agent is in this catalog from stack 9.0.0 on, not 8.17.0"):
        elastic_artifact_files("8.17.0", ["linux/amd64"], include=["pf_host_agent"])
    assert elastic_artifact_files("8.17.0", ["linux/amd64"], include=["profiling"]) == []


def test_endpoint_manifest_needs_a_pinned_checksum():
    assert not any("manifest" in u for u in urls(elastic_artifact_files("9.1.0", ["linux/amd64"])))
    with pytest.raises(ECKError, match="endpoint_manifest needs endpoint_manifest_checksum"):
        elastic_artifact_files("9.1.0", ["linux/amd64"], include=["endpoint_manifest"])
    files = elastic_artifact_files("9.1.0", ["linux/amd64"], include=["endpoint_manifest"],
                                   endpoint_manifest_checksum=SHA)
    assert files == [{"url": "https://artifacts.security.elastic.co/downloads/endpoint/manifest/artifacts-9.1.0.zip",
                      "path": "downloads/endpoint/manifest/artifacts-9.1.0.zip", "checksum": SHA,
                      "signature": False}]
    with pytest.raises(ECKError, match="endpoint_manifest_checksum"):
        elastic_artifact_files("9.1.0", ["linux/amd64"], endpoint_manifest_checksum="sha256:12")


def test_include_exclude_groups_and_unknown_names():
    names = urls(elastic_artifact_files("9.1.0", "linux/amd64", include="elastic_agent,beats", exclude=["heartbeat"]))
    assert [u.rsplit("/", 1)[1].split("-9.1.0")[0] for u in names] == [
        "elastic-agent", "auditbeat", "filebeat", "metricbeat", "osquerybeat", "packetbeat"]
    with pytest.raises(ECKError, match="include: unknown component 'kibana'"):
        elastic_artifact_files("9.1.0", ["linux/amd64"], include=["kibana"])
    assert set(COMPONENTS) >= {"elastic_agent", "endpoint_security", "fleet_server", "endpoint_manifest"}


def test_base_url_changes_the_source_not_the_path():
    files = elastic_artifact_files("9.1.0", ["linux/amd64"], include=["elastic_agent", "endpoint_manifest"],
                                   base_url="https://127.0.0.1:8443/mirror", endpoint_base_url="https://127.0.0.1:8443",
                                   endpoint_manifest_checksum=SHA)
    assert [(f["url"], f["path"]) for f in files] == [
        ("https://127.0.0.1:8443/mirror/beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz",
         "downloads/beats/elastic-agent/elastic-agent-9.1.0-linux-x86_64.tar.gz"),
        ("https://127.0.0.1:8443/endpoint/manifest/artifacts-9.1.0.zip",
         "downloads/endpoint/manifest/artifacts-9.1.0.zip")]
    with pytest.raises(ECKError, match="base_url"):
        elastic_artifact_files("9.1.0", ["linux/amd64"], base_url="ftp://x/")


def test_platform_duplicates_give_one_file():
    assert len(elastic_artifact_files("9.1.0", ["linux/amd64", "linux-x86_64"], include=["elastic_agent"])) == 1


def test_filter_default_platform_and_error_name():
    fn = FilterModule().filters()["elastic_artifacts"]
    assert urls(fn("9.0.0", include=["elastic_agent"])) == [
        A + "beats/elastic-agent/elastic-agent-9.0.0-linux-x86_64.tar.gz"]
    with pytest.raises(AnsibleFilterError, match="airgap.mirror.elastic_artifacts: stack version 11.0.0"):
        fn("11.0.0")


def test_elastic_key_fingerprint():
    assert ELASTIC_KEY_FINGERPRINT == "4609 5ACC 8548 582C 1A26 99A9 D27D 666C D88E 42B4".replace(" ", "")
