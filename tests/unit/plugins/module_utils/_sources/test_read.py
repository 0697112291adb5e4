"""Unit tests of the image-list readers (plugins/module_utils/_sources.py)."""

import base64
import json
import os

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._sources import read as S
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "sources")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def slurp(name, source=None):
    """What ansible.builtin.slurp returns for a file."""
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        content = base64.b64encode(handle.read()).decode("ascii")
    return {"content": content, "encoding": "base64", "source": source or "/usr/share/microshift/release/" + name}


def jq_images(name):
    """The seed's `jq -r '.images | .[]'`, computed with the json module."""
    return list(json.loads(fixture(name))["images"].values())


# ------------------------------------------------------------------------------------- MicroShift


def test_microshift_release_is_jq_images():
    refs = S.read_microshift_release(fixture("release-x86_64.json"), "release-x86_64.json")
    assert refs == jq_images("release-x86_64.json")
    assert len(refs) == 16


def test_microshift_release_from_slurp_names_arch_and_file():
    records = S.microshift_release_records(slurp("release-x86_64.json"))
    assert [r["name"] for r in records] == list(json.loads(fixture("release-x86_64.json"))["images"])
    assert {r["arch"] for r in records} == {"x86_64"}
    assert {r["file"] for r in records} == {"/usr/share/microshift/release/release-x86_64.json"}
    assert records[4] == {
        "name": "openssl",
        "source": "registry.access.redhat.com/ubi8/openssl@sha256:"
                  "9e743d947be073808f7f1750a791a3dbd81e694e37161e8c6c6057c2c342d671",
        "arch": "x86_64",
        "file": "/usr/share/microshift/release/release-x86_64.json",
    }


def test_microshift_several_architectures_merge_dedupe_in_order():
    x86 = jq_images("release-x86_64.json")
    arm = jq_images("release-aarch64.json")
    expected = list(dict.fromkeys(x86 + arm))
    assert len(expected) == len(x86) + len(arm) - 2  # openssl and topolvm_csi are shared
    refs = S.read_microshift_release([slurp("release-x86_64.json"), slurp("release-aarch64.json")])
    assert refs == expected
    # the registered result of a slurp loop works the same, skipped items are ignored
    loop = {"changed": False, "msg": "All items completed",
            "results": [slurp("release-x86_64.json"), {"skipped": True}, slurp("release-aarch64.json")]}
    assert S.read_microshift_release(loop) == expected
    arches = [r["arch"] for r in S.microshift_release_records(loop)]
    assert arches.count("aarch64") == len(arm) and arches.count("x86_64") == len(x86)


def test_microshift_parsed_data_and_extra():
    data = json.loads(fixture("release-x86_64.json"))
    refs = S.read_microshift_release(data, extra="nginx\n# comment\nquay.io/org/app:1\n" + jq_images("release-x86_64.json")[0])
    assert refs == jq_images("release-x86_64.json") + ["docker.io/library/nginx:latest", "quay.io/org/app:1"]


def test_microshift_not_json_names_file_line_column():
    with pytest.raises(S.SourceError) as err:
        S.read_microshift_release(slurp("release-malformed.json"))
    text = str(err.value)
    assert text.startswith("/usr/share/microshift/release/release-malformed.json:7:5: not valid JSON")
    assert "Expecting ',' delimiter" in text
    assert err.value.line == 7 and err.value.column == 5
    assert isinstance(err.value, OCIError)


def test_microshift_invalid_reference_names_file_key_line():
    with pytest.raises(S.SourceError) as err:
        S.read_microshift_release(fixture("release-bad-ref.json"), "release-bad-ref.json")
    assert str(err.value).startswith("release-bad-ref.json:7: images.coredns: invalid image reference")
    assert "sha256 digest must have 64 hex digits, got 14" in str(err.value)


@pytest.mark.parametrize("text, message", [
    ('{"release": {}}', "no 'images' key: not a MicroShift release-<arch>.json file (top-level keys: release)"),
    ('{}', "no 'images' key"),
    ('{\n  "images": ["quay.io/a/b:1"]\n}', "release.json:2: 'images' is a list, expected a map"),
    ('["quay.io/a/b:1"]', "top level is a list, expected a JSON object"),
    ('{"images": {"cli": 5}}', "images.cli: expected an image reference string, got a number (5)"),
    ('{\n "images": {\n  "a": "quay.io/a/b:1",\n  "a": "quay.io/a/b:2"\n }\n}', "release.json:4: duplicate key 'a'"),
    ("", "not valid JSON: Expecting value"),
])
def test_microshift_errors(text, message):
    with pytest.raises(S.SourceError) as err:
        S.read_microshift_release(text, "release.json")
    assert message in str(err.value)


def test_slurp_result_with_bad_base64():
    with pytest.raises(S.SourceError, match="r.json: slurp content is not valid base64"):
        S.read_microshift_release({"content": "%%%", "encoding": "base64", "source": "r.json"})


# -------------------------------------------------------------------------------------------- ESS


def test_ess_fixture_records_and_dedupe():
    data = yaml.safe_load(fixture("ess-images_digests.yml"))["images_digests"]
    expected_records = []
    for component, containers in data.items():
        for container, e in containers.items():
            source = "%s/%s:%s@%s" % (e["image_repository_server"], e["image_repository_path"],
                                      e["image_tag"], e["image_digest"])
            expected_records.append((component, container, source))
    records = S.ess_image_records(fixture("ess-images_digests.yml"), "images_digests.yml")
    assert [(r["component"], r["container"], r["source"]) for r in records] == expected_records
    assert len(records) == 6
    refs = S.read_ess_images(fixture("ess-images_digests.yml"))
    assert refs == list(dict.fromkeys(source for _c, _n, source in expected_records))
    assert len(refs) == 3
    haproxy = records[1]
    assert haproxy == {
        "component": "adminbot", "container": "haproxy",
        "source": "docker.io/library/haproxy:2.8-alpine@sha256:"
                  "75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6",
        "server": "docker.io", "path": "library/haproxy", "tag": "2.8-alpine",
        "digest": "sha256:75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6",
    }


def test_ess_entry_without_digest_or_tag():
    records = {(r["component"], r["container"]): r
               for r in S.ess_image_records(fixture("ess-images_digests-mixed.yml"), "mixed.yml")}
    synapse = records[("synapse", "synapse")]
    assert synapse["source"] == "ghcr.io/element-hq/synapse:v1.120.0"
    assert synapse["digest"] is None
    haproxy = records[("synapse", "haproxy")]
    assert haproxy["source"] == ("docker.io/library/haproxy@sha256:"
                                 "75fc37d6372cc22410bdd6ad0191a8dfeababef2a7d8d585694f21b73c2bb3d6")
    assert haproxy["tag"] is None
    # unquoted 1.10 stays "1.10" when the text is read here, and an empty digest is no digest
    assert records[("element_web", "element_web")]["source"] == "docker.io/element-hq/element-web:1.10"


def test_ess_parsed_yaml_float_tag_is_refused():
    data = yaml.safe_load(fixture("ess-images_digests-mixed.yml"))
    assert data["images_digests"]["element_web"]["element_web"]["image_tag"] == 1.1  # what from_yaml does
    with pytest.raises(S.SourceError) as err:
        S.read_ess_images(data, "mixed.yml")
    assert "element_web/element_web: image_tag was read as the number 1.1" in str(err.value)


def test_ess_entry_without_server_is_an_error_naming_component_container():
    with pytest.raises(S.SourceError) as err:
        S.read_ess_images(fixture("ess-images_digests-no-server.yml"), "images_digests.yml")
    assert str(err.value) == ("images_digests.yml:8: adminbot/pipe: no image_repository_server: "
                              "cannot tell where the image lives")


@pytest.mark.parametrize("text, message", [
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n      image_tag: '1'\n",
     "x.yml:3: a/b: no image_repository_path"),
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n"
     "      image_repository_path: library/x\n",
     "x.yml:3: a/b: neither image_tag nor image_digest"),
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n"
     "      image_repository_path: Library/X\n      image_tag: '1'\n",
     "x.yml:3: a/b: invalid image reference 'docker.io/Library/X:1': repository name must be lower-case"),
    ("images_digests:\n  a:\n    b:\n      image_repository_server: docker.io\n"
     "      image_repository_path: library/x\n      image_digest: sha256:abc\n",
     "a/b: invalid image reference"),
    ("images_digests:\n  a: [1, 2]\n", "x.yml:2: a: expected a map of container to image, got a list"),
    ("images_digests:\n  a:\n    b: docker.io/x\n", "x.yml:3: a/b: expected a map"),
    ("other: 1\n", "x.yml: no 'images_digests' key"),
    ("images_digests: [a]\n", "x.yml:1: 'images_digests' is a list"),
    ("images_digests:\n  a:\n  b: [\n", "x.yml:4:1: not valid YAML"),
    ("images_digests:\n  a: {}\n  a: {}\n", "x.yml:3: duplicate key 'a' (lines 2 and 3)"),
])
def test_ess_errors(text, message):
    with pytest.raises(S.SourceError) as err:
        S.read_ess_images(text, "x.yml")
    assert message in str(err.value)


# ------------------------------------------------------------------------------------ skopeo sync


def test_skopeo_sync_images():
    refs = S.read_skopeo_sync(fixture("skopeo-sync.yml"), "sync.yml")
    assert refs == [
        "registry.example.com/redis:1.0",
        "registry.example.com/redis:2.0",
        "registry.example.com/redis@sha256:0000000000000000000000000000000011111111111111111111111111111111",
        "quay.io/coreos/etcd:latest",
        "docker.io/library/busybox:1.36",
    ]


def test_skopeo_sync_regex_not_supported_and_credentials_never_echoed():
    with pytest.raises(S.SourceError) as err:
        S.read_skopeo_sync(fixture("skopeo-sync-regex.yml"), "sync.yml")
    text = str(err.value)
    assert text.startswith("sync.yml:4: registry.example.com.images-by-tag-regex: images-by-tag-regex is not "
                           "supported: it needs the registry's tag listing")
    assert "secret" not in text and "john" not in text


@pytest.mark.parametrize("text, message", [
    ("r.io:\n  images:\n    busybox: []\n", "sync.yml:3: r.io.images.busybox: an empty tag list means 'all tags'"),
    ("r.io:\n  images-by-semver:\n    busybox: '>= 1.0'\n", "images-by-semver is not supported"),
    ("r.io:\n  imagse:\n    busybox: [a]\n", "sync.yml:2: r.io: unknown key 'imagse'"),
    ("r.io:\n  images:\n    busybox: latest\n", "r.io.images.busybox: expected a list of tags or digests, got a string"),
    ("r.io:\n  images:\n    busybox: ['bad tag']\n", "sync.yml:3: r.io.images.busybox[0]: invalid image reference"),
    ("r.io:\n  images:\n    busybox: [true]\n", "busybox[0]: tag or digest is a boolean"),
    ("- a\n", "top level is a list"),
])
def test_skopeo_sync_errors(text, message):
    with pytest.raises(S.SourceError) as err:
        S.read_skopeo_sync(text, "sync.yml")
    assert message in str(err.value)


# ---------------------------------------------------------------------------------- plain lists


def test_plain_list_text():
    refs = S.read_image_list(fixture("refs.txt"), "refs.txt")
    assert refs == [
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
        "f721414f0bf9f91af79bb0cb2096a2b3a90362f4ecffb6d6a3116305096d375d",
        "docker.io/library/nginx:latest",
        "registry.example.com:8443/app/web:1.2",
    ]


def test_plain_list_keeps_bare_reference_without_default_tag():
    assert S.read_image_list(["nginx"], default_tag="") == ["docker.io/library/nginx"]


def test_plain_list_yaml_and_python_list():
    assert S.read_image_list("# images\n- nginx:1.25\n- quay.io/a/b:1\n") == [
        "docker.io/library/nginx:1.25", "quay.io/a/b:1"]
    assert S.read_image_list('["nginx:1.25"]') == ["docker.io/library/nginx:1.25"]
    assert S.read_image_list(["nginx:1.25", "docker.io/library/nginx:1.25"]) == ["docker.io/library/nginx:1.25"]


@pytest.mark.parametrize("value, message", [
    ("nginx\n\nquay.io/a/b c\n", "refs.txt:3: invalid image reference 'quay.io/a/b c': contains white space"),
    ("- nginx\n- Nginx\n", "refs.txt:2: [1]: invalid image reference 'Nginx': repository name must be lower-case"),
    ("- nginx\n- {a: b}\n", "refs.txt:2: [1]: expected an image reference string, got a map"),
    (["nginx", None], "refs.txt: [1]: expected an image reference string, got null"),
    ({"a": "b"}, "expected a list of image references or text"),
    ("https://quay.io/a/b:1\n", "refs.txt:1: invalid image reference"),
])
def test_plain_list_errors(value, message):
    with pytest.raises(S.SourceError) as err:
        S.read_image_list(value, "refs.txt")
    assert message in str(err.value)


# -------------------------------------------------------------------------------------- jmespath


def test_query_images():
    text = fixture("vendor.json")
    assert S.query_images(text, "components[].image", "vendor.json") == [
        "quay.io/example/api:2.1",
        "quay.io/example/ui@sha256:3348784c07bb974ea43317de115b9e274029e5f77e61a100a5ad066b6492c060",
        "docker.io/library/postgres:16",
    ]
    assert S.query_images(text, "images.*") == ["quay.io/example/api:2.1"]
    # works on YAML text, parsed data and the MicroShift file alike
    assert S.query_images(json.loads(fixture("release-x86_64.json")), "values(images)") == jq_images("release-x86_64.json")
    assert S.query_images("images:\n  - nginx\n", "images") == ["docker.io/library/nginx:latest"]


@pytest.mark.parametrize("query, message", [
    ("images", "vendor.json: query 'images' gives a map, not a list of strings; select its values, e.g. 'images.*'"),
    ("product", "query 'product' gives a string, not a list of strings"),
    ("nothing.here", "query 'nothing.here' matched nothing"),
    ("components", "vendor.json: components[0]: query result item is a map, expected an image reference string"),
    ("components[?", "invalid JMESPath query 'components[?'"),
    ("", "query must be a non-empty JMESPath expression"),
])
def test_query_errors(query, message):
    with pytest.raises(S.SourceError) as err:
        S.query_images(fixture("vendor.json"), query, "vendor.json")
    assert message in str(err.value)


def test_query_reports_json_error_for_broken_json():
    with pytest.raises(S.SourceError) as err:
        S.query_images('{"images": [1,]}', "images", "v.json")
    assert str(err.value).startswith("v.json:1:15: not valid JSON")


# --------------------------------------------------------------------------------- Elastic / ECK


def elastic(version, **kwargs):
    return {r["component"]: r for r in S.elastic_image_records(version, **kwargs)}


def test_elastic_8_16_with_operator_and_diagnostics():
    refs = S.elastic_images("8.16.1", eck_version="2.16.1", support_diagnostics_version="9.3.1")
    assert refs == [
        "docker.elastic.co/eck/eck-operator:2.16.1",
        "docker.elastic.co/elasticsearch/elasticsearch:8.16.1",
        "docker.elastic.co/kibana/kibana:8.16.1",
        "docker.elastic.co/apm/apm-server:8.16.1",
        "docker.elastic.co/enterprise-search/enterprise-search:8.16.1",
        "docker.elastic.co/beats/elastic-agent:8.16.1",
        "docker.elastic.co/elastic-maps-service/elastic-maps-server:8.16.1",
        "docker.elastic.co/logstash/logstash:8.16.1",
        "docker.elastic.co/beats/filebeat:8.16.1",
        "docker.elastic.co/beats/metricbeat:8.16.1",
        "docker.elastic.co/beats/heartbeat:8.16.1",
        "docker.elastic.co/beats/auditbeat:8.16.1",
        "docker.elastic.co/beats/packetbeat:8.16.1",
        "docker.elastic.co/package-registry/distribution:production",
        "docker.elastic.co/eck-dev/support-diagnostics:9.3.1",
    ]


def test_elastic_version_rules():
    v9 = elastic("9.1.0", eck_version="3.3.0")
    assert "enterprise_search" not in v9  # removed in 9.0
    assert v9["elastic_agent"]["repository"] == "elastic-agent/elastic-agent"
    assert v9["package_registry_lite"]["source"] == "docker.elastic.co/package-registry/distribution:lite-9.1.0"
    assert "support_diagnostics" not in v9
    assert "package_registry_lite" not in elastic("9.1.0", eck_version="3.2.0")
    v8 = elastic("8.19.0")
    assert v8["enterprise_search"]["source"] == "docker.elastic.co/enterprise-search/enterprise-search:8.19.0"
    assert v8["elastic_agent"]["repository"] == "beats/elastic-agent"
    assert "eck_operator" not in v8 and "journalbeat" not in v8
    v7 = elastic("7.10.2")
    assert "maps_server" not in v7 and "logstash" not in v7
    assert v7["journalbeat"]["source"] == "docker.elastic.co/beats/journalbeat:7.10.2"
    assert "enterprise_search" not in elastic("7.6.2") and "elastic_agent" not in elastic("7.9.3")
    assert "journalbeat" not in elastic("7.16.0")
    # maps server only as UBI images before 8.16.0
    assert elastic("8.11.4")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi8"
    assert elastic("8.15.3")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi"
    assert elastic("7.17.16")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi"
    assert elastic("7.17.15")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi8"
    assert elastic("8.16.0")["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server"


def test_elastic_ubi_only_registry_and_repository():
    ubi8 = elastic("8.17.0", ubi_only=True, include=["elasticsearch", "package_registry_lite"])
    assert ubi8["elasticsearch"]["source"] == "docker.elastic.co/elasticsearch/elasticsearch-ubi:8.17.0"
    assert ubi8["package_registry_lite"]["source"] == "docker.elastic.co/package-registry/distribution:lite-8.19.8-ubi"
    assert elastic("8.11.0", ubi_only=True)["kibana"]["repository"] == "kibana/kibana-ubi8"
    assert elastic("9.0.0", ubi_only=True)["kibana"]["repository"] == "kibana/kibana"
    assert elastic("9.0.3", ubi_only=True, include=["package_registry_lite"])["package_registry_lite"]["tag"] == "lite-9.1.8-ubi"
    assert elastic("9.2.1", ubi_only=True, include=["package_registry_lite"])["package_registry_lite"]["tag"] == "lite-9.2.2-ubi"
    assert elastic("9.3.0", ubi_only=True, include=["package_registry_lite"])["package_registry_lite"]["tag"] == "lite-9.3.0-ubi"
    mirrored = elastic("8.16.1", registry="mirror.example.com:8443/elastic", container_repository="stack",
                       eck_version="3.0.0")
    assert mirrored["kibana"] == {"component": "kibana", "repository": "stack/kibana", "tag": "8.16.1",
                                  "source": "mirror.example.com:8443/elastic/stack/kibana:8.16.1"}
    assert mirrored["eck_operator"]["source"] == "mirror.example.com:8443/elastic/eck/eck-operator:3.0.0"
    assert mirrored["package_registry"]["repository"] == "package-registry/distribution"


def test_elastic_operator_variants_and_container_suffix():
    # the eck-operator Helm chart: image.repository + "-ubi" (config.ubiOnly) + "-fips" (image.fips)
    assert elastic("9.1.0", eck_version="3.3.0", ubi_only=True, fips=True)["eck_operator"]["source"] == \
        "docker.elastic.co/eck/eck-operator-ubi-fips:3.3.0"
    assert elastic("9.1.0", eck_version="3.3.0", fips=True)["eck_operator"]["repository"] == "eck/eck-operator-fips"
    # --container-suffix: after the name of every stack image, after the old Maps UBI suffix, not on the operator
    suffixed = elastic("8.15.0", eck_version="3.3.0", container_suffix="-custom")
    assert suffixed["kibana"]["repository"] == "kibana/kibana-custom"
    assert suffixed["maps_server"]["repository"] == "elastic-maps-service/elastic-maps-server-ubi-custom"
    assert suffixed["package_registry_lite"]["source"] == \
        "docker.elastic.co/package-registry/distribution-custom:lite-8.15.0"
    assert suffixed["eck_operator"]["repository"] == "eck/eck-operator"
    with pytest.raises(S.SourceError, match="ubi_only and container_suffix cannot be combined"):
        S.elastic_images("8.15.0", ubi_only=True, container_suffix="-x")
    with pytest.raises(S.SourceError, match="container_suffix '/x' may only hold"):
        S.elastic_images("8.15.0", container_suffix="/x")


def test_elastic_include_exclude_groups():
    assert S.elastic_images("8.16.1", include=["beats"]) == [
        "docker.elastic.co/beats/%s:8.16.1" % b for b in ("filebeat", "metricbeat", "heartbeat", "auditbeat", "packetbeat")]
    comps = list(elastic("8.16.1", exclude=["beats", "apm_server", "package_registry"]))
    assert comps == ["elasticsearch", "kibana", "enterprise_search", "elastic_agent", "maps_server", "logstash"]
    assert list(elastic("9.0.0", include="kibana, elasticsearch")) == ["elasticsearch", "kibana"]


@pytest.mark.parametrize("kwargs, message", [
    ({"include": ["enterprise_search"]}, "component enterprise_search was removed in stack 9.0.0, not in 9.0.1"),
    ({"include": ["eck_operator"]}, "component eck_operator needs eck_version"),
    ({"include": ["support_diagnostics"]}, "needs support_diagnostics_version"),
    ({"include": ["kibanna"]}, "include: unknown component 'kibanna'"),
    ({"exclude": ["x"]}, "exclude: unknown component 'x'"),
    ({"eck_version": "3"}, "eck_version '3' is not a version like 8.16.1"),
    ({"include": ["package_registry_lite"], "eck_version": "3.2.1"}, "is deployed by ECK 3.3.0 and later, not by ECK 3.2.1"),
    ({"registry": "https://docker.elastic.co"}, "registry: give the registry as HOST[:PORT][/NAMESPACE]"),
    ({"container_repository": "Bad Repo"}, "container_repository 'Bad Repo' is not a valid repository path"),
    ({"package_registry_tag": "-x"}, "package_registry_tag: tag '-x' must be"),
])
def test_elastic_errors(kwargs, message):
    with pytest.raises(S.SourceError) as err:
        S.elastic_image_records("9.0.1", **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize("version", ["8.16", 8.16, "v8.16.1", "", None])
def test_elastic_bad_stack_version(version):
    with pytest.raises(S.SourceError, match="stack version .* is not a version like 8.16.1"):
        S.elastic_images(version)


def test_elastic_pre_release_and_ranges():
    refs = elastic("9.0.0-rc1")
    assert refs["kibana"]["tag"] == "9.0.0-rc1"
    # a 9.0.0 pre-release is before 9.0.0: Enterprise Search still exists, agent moved already
    assert "enterprise_search" in refs


# ----------------------------------------------------------------------------------- read_source


def test_read_source_dispatch_and_records_restriction():
    assert S.read_source("list", "nginx\n") == ["docker.io/library/nginx:latest"]
    assert S.read_source("query", fixture("vendor.json"), query="images.*") == ["quay.io/example/api:2.1"]
    assert len(S.read_source("ess", fixture("ess-images_digests.yml"), records=True)) == 6
    with pytest.raises(S.SourceError, match="records are available for the microshift and ess formats only"):
        S.read_source("list", "nginx", records=True)
    with pytest.raises(S.SourceError, match="unknown format 'xml'"):
        S.read_source("xml", "")
