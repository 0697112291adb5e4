"""Filters of plugins/filter/package_registry.py: the inputs of the package_registry role."""

from __future__ import annotations

import json

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import package_registry as F

SOURCE = "docker.elastic.co/package-registry/distribution:production"
D1 = "sha256:" + "11" * 32
D2 = "sha256:" + "22" * 32
MT = "application/vnd.oci.image.manifest.v1+json"


def entry(source, digest, destination):
    return {"source": source, "source_tag": None, "digest": digest, "media_type": MT, "platforms": [], "size": 1,
            "destination": destination, "attachments": []}


def doc(*entries):
    return {"format": "airgap.mirror/v1", "images": list(entries)}


DEST = "10.88.0.1:5000/mirror/package-registry/distribution:production"


def test_finds_the_entry_by_source_or_source_with_digest_and_pulls_by_digest():
    text = yaml.safe_dump(doc(entry(SOURCE + "@" + D1, D1, DEST), entry(SOURCE.replace("production", "staging"), D2,
                                                                        DEST.replace("production", "staging"))))
    found = F.package_registry_image(text, SOURCE, origin="/m/map.yml")
    assert found == {"problem": None, "image": f"10.88.0.1:5000/mirror/package-registry/distribution@{D1}",
                     "mirror": "10.88.0.1:5000", "source": SOURCE + "@" + D1, "digest": D1, "destination": DEST}
    renamed = F.package_registry_image(doc(entry(SOURCE, D1, DEST)), SOURCE, "mirror.example.com:8443")
    assert renamed["image"] == f"mirror.example.com:8443/mirror/package-registry/distribution@{D1}"
    assert renamed["mirror"] == "mirror.example.com:8443" and renamed["source"] == SOURCE


@pytest.mark.parametrize("mirror_map, message", [
    ("[]", "/m/map.yml is not an airgap.mirror/v1 mirror map (a mapping with an images list)"),
    ({"format": "airgap.mirror/v2", "images": []}, "is not an airgap.mirror/v1 mirror map"),
    (": : :", "is not an airgap.mirror/v1 mirror map"),
    (doc({"source": SOURCE}), "/m/map.yml: images[0] (%s): missing digest, media_type, destination" % SOURCE),
    (doc(entry(SOURCE.replace("production", "staging"), D1, DEST)),
     SOURCE + " is not in the mirror map /m/map.yml; mirror it first "
     "(the airgap.mirror.elastic_images filter lists it)"),
    (doc(entry(SOURCE + "@" + D1, D1, DEST), entry(SOURCE + "@" + D2, D2, DEST)),
     f"{SOURCE} has several digests in /m/map.yml: {SOURCE}@{D1}, {SOURCE}@{D2}"),
    (doc(entry(SOURCE, D1, "oci:/srv/layout:epr")),
     SOURCE + " was mirrored to an OCI layout (oci:/srv/layout:epr), not to a registry; push it with "
     "airgap.mirror.disk_to_mirror"),
])
def test_problems_are_named(mirror_map, message):
    assert message in F.package_registry_image(mirror_map, SOURCE, origin="/m/map.yml")["problem"]


def test_a_bad_source_is_an_error():
    with pytest.raises(AnsibleFilterError, match="^package_registry_image: .*Upper"):
        F.package_registry_image(doc(), "docker.elastic.co/Upper:x")


def test_podman_args():
    image = F.package_registry_image(doc(entry(SOURCE, D1, DEST)), SOURCE)
    assert F.package_registry_podman_args(image, "epr", 8080) == [
        "--name", "epr", "--publish", "8080:8080", "--stop-timeout", "10",
        "--label", "airgap.mirror.package-registry.source=" + SOURCE,
        "--label", "airgap.mirror.package-registry.digest=" + D1, image["image"]]
    args = F.package_registry_podman_args(image, "epr", "9000", bind_address="127.0.0.1", stop_timeout=3,
                                          env={"A": "b c", "N": 5, "T": True}, auth_file="/etc/a.json")
    assert args[3] == "127.0.0.1:9000:8080" and args[5] == "3"
    assert args[10:] == ["--env", "A=b c", "--env", "N=5", "--env", "T=True", "--authfile", "/etc/a.json",
                         image["image"]]
    with pytest.raises(AnsibleFilterError, match="package_registry_podman_args: expected the result"):
        F.package_registry_podman_args({"problem": "x"}, "epr", 8080)


def test_systemd_exec_args_quotes_what_systemd_would_read_otherwise():
    assert F.systemd_exec_args(["--name", "epr", "--env", "A=b c", "%h", 'q"\\$x', ""]) == (
        '--name epr --env "A=b c" "%%h" "q\\"\\\\$$x" ""')
    with pytest.raises(AnsibleFilterError, match="expected a list"):
        F.systemd_exec_args("--name epr")


def inspected(labels, running=True):
    return {"rc": 0, "stdout": json.dumps([{"Config": {"Labels": labels}, "State": {"Running": running}}])}


def test_container_action():
    label = "airgap.mirror.package-registry.config"
    assert F.package_registry_container_action({"rc": 125, "stdout": ""}, "h") == "create"
    assert F.package_registry_container_action(inspected(None), "h") == "foreign"
    assert F.package_registry_container_action(inspected({label: "old"}), "h") == "replace"
    assert F.package_registry_container_action(inspected({label: "h"}, running=False), "h") == "start"
    assert F.package_registry_container_action(inspected({label: "h"}), "h") == "none"
    with pytest.raises(AnsibleFilterError, match="^package_registry_container_action: .* did not print JSON"):
        F.package_registry_container_action({"rc": 0, "stdout": "oops"}, "h")
    with pytest.raises(AnsibleFilterError, match="printed no container"):
        F.package_registry_container_action({"rc": 0, "stdout": "[]"}, "h")


def test_source_follows_the_stack_version():
    assert F.package_registry_source("9.3.0") == "docker.elastic.co/package-registry/distribution:9.3.0"
    assert F.package_registry_source("") == "docker.elastic.co/package-registry/distribution:production"
    assert F.package_registry_source("9.3.0", "reg/epr:lite-9.3.0") == "reg/epr:lite-9.3.0"
    with pytest.raises(AnsibleFilterError, match="package_registry_source: stack version '9.3' is not"):
        F.package_registry_source("9.3")


def test_health_url_is_the_readiness_endpoint():
    assert F.package_registry_health_url(8080) == "http://127.0.0.1:8080/health?ready=true"
    assert F.package_registry_health_url("8443", "0.0.0.0", tls=True) == "https://127.0.0.1:8443/health?ready=true"
    assert F.package_registry_health_url(80, "10.1.2.3", ready=False) == "http://10.1.2.3:80/health"
    assert F.package_registry_health_url(80, "fd00::1") == "http://[fd00::1]:80/health?ready=true"


def test_podman_args_with_tls():
    image = F.package_registry_image(doc(entry(SOURCE, D1, DEST)), SOURCE)
    args = F.package_registry_podman_args(image, "epr", 8443, tls_dir="/etc/airgap-mirror/package-registry/tls",
                                          env={"EPR_TLS_MIN_VERSION": "1.2", "EPR_ADDRESS": "0.0.0.0:443"},
                                          tls_id="c1-k1")
    assert args[:4] == ["--name", "epr", "--publish", "8443:443"]
    assert args[10:] == [
        "--volume", "/etc/airgap-mirror/package-registry/tls:/etc/package-registry/tls:ro,z",
        "--label", "airgap.mirror.package-registry.tls=c1-k1",
        "--env", "EPR_ADDRESS=0.0.0.0:443", "--env", "EPR_TLS_CERT=/etc/package-registry/tls/tls.crt",
        "--env", "EPR_TLS_KEY=/etc/package-registry/tls/tls.key", "--env", "EPR_TLS_MIN_VERSION=1.2",
        image["image"]]
