"""ESS Helm values from the mirror map, against the real matrix-stack values.yaml (and its schema)."""

import gzip
import json
import os

import pytest
import yaml

from ansible_collections.airgap.mirror.plugins.module_utils._products import ess_helm as H
from support import mirror_maps

CHART = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "products", "ess-helm")
MIRROR = "mirror.example.com:8443"

# What the chart at 83c79817 (26.8.2-dev) deploys, read here only to check the walker's answer.
EXPECTED = {
    "matrixTools": "ghcr.io/element-hq/ess-helm/matrix-tools:0.8.1",
    "matrixRTC": "oci.element.io/lk-jwt-service:0.6.0",
    "matrixRTC.sfu": "docker.io/livekit/livekit-server:v1.13.5",
    "elementAdmin": "oci.element.io/element-admin:0.1.12",
    "elementWeb": "oci.element.io/element-web:v1.12.26",
    "haproxy": "docker.io/library/haproxy:3.2-alpine",
    "hookshot": "ghcr.io/matrix-org/matrix-hookshot:7.4.4",
    "matrixAuthenticationService": "ghcr.io/element-hq/matrix-authentication-service:1.23.0",
    "matrixAuthenticationService.syn2mas": "ghcr.io/element-hq/matrix-authentication-service:1.23.0-debug",
    "postgres.postgresExporter": "docker.io/prometheuscommunity/postgres-exporter:v0.18.1",
    "postgres": "docker.io/library/postgres:17-alpine",
    "redis": "docker.io/library/redis:7.4-alpine",
    "redis.redisExporter": "ghcr.io/oliver006/redis_exporter:v1.84.0",
    "synapse": "oci.element.io/synapse:v1.159.0",
}
DISABLED = {"hookshot", "matrixAuthenticationService.syn2mas"}


def chart_values():
    with open(os.path.join(CHART, "matrix-stack-values.yaml"), encoding="utf-8") as handle:
        return handle.read()


def schema():
    with gzip.open(os.path.join(CHART, "matrix-stack-values.schema.json.gz"), "rt", encoding="utf-8") as handle:
        return json.load(handle)


def mirror_map(sources, **kwargs):
    return mirror_maps.mirror_map(sources, dest=MIRROR + "/ess", mode="keep", **kwargs)


def test_components_are_read_from_the_chart_values():
    found = H.components(chart_values())
    assert {c.name: str(c.source) for c in found} == EXPECTED
    assert {c.name for c in found if not c.enabled} == DISABLED
    # the top-level image (global pullSecrets) is no component
    assert "image" not in {c.name for c in found}


def test_site_values_decide_what_is_enabled_and_what_is_pulled():
    site = {"hookshot": {"enabled": True}, "matrixRTC": {"enabled": False},
            "haproxy": {"image": {"tag": "3.3-alpine"}}}
    found = {c.name: c for c in H.components(chart_values(), site)}
    assert found["hookshot"].enabled and not found["matrixRTC"].enabled and not found["matrixRTC.sfu"].enabled
    assert str(found["haproxy"].source) == "docker.io/library/haproxy:3.3-alpine"


def test_values_point_every_component_at_the_mirror_by_digest():
    report = H.build_values(chart_values(), mirror_map(list(EXPECTED.values())), pull_secret="ess-mirror-pull")
    values = report["values"]
    assert report["missing"] == [] and report["skipped"] == [] and report["warnings"] == []
    assert sorted(report["components"]) == sorted(EXPECTED) and report["registries"] == [MIRROR]
    assert values["matrixRTC"]["sfu"]["image"] == {
        "registry": MIRROR, "repository": "ess/livekit/livekit-server", "tag": "v1.13.5",
        "digest": "sha256:%064x" % 3, "pullSecrets": [{"name": "ess-mirror-pull"}]}
    assert values["postgres"]["image"]["repository"] == "ess/library/postgres"
    syn2mas = values["matrixAuthenticationService"]["syn2mas"]["image"]
    assert syn2mas["tag"] == "1.23.0-debug" and syn2mas["digest"] == "sha256:%064x" % 9
    assert report["matches"]["synapse"] == {"source": EXPECTED["synapse"], "matched_by": "tag",
                                            "destination": MIRROR + "/ess/synapse:v1.159.0"}
    # only image settings: nothing else of the chart is touched
    assert all(set(node) <= {"image", "sfu", "syn2mas", "postgresExporter", "redisExporter"}
               for node in values.values())


def test_values_validate_against_the_chart_schema():
    jsonschema = pytest.importorskip("jsonschema")
    report = H.build_values(chart_values(), mirror_map(list(EXPECTED.values())), pull_secret="ess-mirror-pull")
    validator = jsonschema.Draft202012Validator(schema())
    # what helm validates: the chart's values with ours merged in; ours alone must pass too
    merged = H.merge(yaml.safe_load(chart_values()), report["values"])
    assert [e.message for e in validator.iter_errors(merged)] == []
    assert [e.message for e in validator.iter_errors(report["values"])] == []
    # and the schema is not a rubber stamp: the removed top-level imagePullSecrets is refused
    assert list(validator.iter_errors(dict(report["values"], imagePullSecrets=[{"name": "x"}])))


def test_a_digest_only_mirror_drops_the_chart_tag():
    text = mirror_maps.dumps([mirror_maps.entry(EXPECTED["synapse"], "sha256:" + "ab" * 32,
                                                MIRROR + "/ess/synapse@sha256:" + "ab" * 32)])
    report = H.build_values(chart_values(), text, include=["synapse"])
    assert report["values"] == {"synapse": {"image": {
        "registry": MIRROR, "repository": "ess/synapse", "tag": None, "digest": "sha256:" + "ab" * 32,
        "pullSecrets": []}}}
    merged = H.merge(yaml.safe_load(chart_values()), report["values"])
    assert "tag" not in merged["synapse"]["image"]
    jsonschema = pytest.importorskip("jsonschema")
    assert not list(jsonschema.Draft202012Validator(schema()).iter_errors(merged))


def test_missing_components_are_named_and_fatal_by_default():
    sources = [v for k, v in EXPECTED.items() if k not in ("synapse", "redis.redisExporter")]
    with pytest.raises(H.ESSHelmError, match=r"2 component\(s\) of values.yaml are not in the mirror map: "
                                             r"redis.redisExporter, synapse \(a new chart version"):
        H.build_values(chart_values(), mirror_map(sources))
    report = H.build_values(chart_values(), mirror_map(sources), on_missing="warn")
    assert report["missing"] == ["redis.redisExporter", "synapse"]
    assert "redis.redisExporter, synapse" in report["warnings"][0] and "synapse" not in report["values"]


def test_disabled_components_not_in_the_map_are_skipped_not_missing():
    sources = [v for k, v in EXPECTED.items() if k not in DISABLED]
    report = H.build_values(chart_values(), mirror_map(sources))
    assert report["missing"] == [] and report["skipped"] == ["hookshot", "matrixAuthenticationService.syn2mas"]
    with pytest.raises(H.ESSHelmError, match=r"not in the mirror map: hookshot \("):
        H.build_values(chart_values(), mirror_map(sources), site_values="hookshot: {enabled: true}\n")


def test_a_new_chart_version_that_adds_a_component_is_detected():
    newer = yaml.safe_load(chart_values())
    clamav = {"image": {"registry": "ghcr.io", "repository": "element-hq/clamav", "tag": "1.4", "pullSecrets": []}}
    newer["synapse"]["antivirus"] = clamav
    # under a worker the chart leaves disabled: deployed only when the site enables that worker
    newer["synapse"]["workers"]["media-repository"]["scanner"] = clamav
    newer["matrixBridge"] = {"image": {"repository": "element-hq/bridge", "tag": "0.1"}}
    text = yaml.safe_dump(newer, sort_keys=False)
    names = [c.name for c in H.components(text)]
    assert {"synapse.antivirus", "synapse.workers.media-repository.scanner", "matrixBridge"} <= set(names)
    with pytest.raises(H.ESSHelmError) as err:
        H.build_values(text, mirror_map(list(EXPECTED.values())), origin="matrix-stack 27.1.0 values.yaml")
    assert str(err.value).startswith("2 component(s) of matrix-stack 27.1.0 values.yaml are not in the mirror "
                                     "map: synapse.antivirus, matrixBridge")
    report = H.build_values(text, mirror_map(list(EXPECTED.values())), on_missing="warn")
    assert report["skipped"] == ["synapse.workers.media-repository.scanner"]
    assert report["missing"] == ["synapse.antivirus", "matrixBridge"]
    # a registry-less image is Docker Hub's, as the chart's comments say
    assert str({c.name: c for c in H.components(text)}["matrixBridge"].source) == "docker.io/element-hq/bridge:0.1"


def test_include_exclude_and_pinned_digests():
    report = H.build_values(chart_values(), mirror_map([EXPECTED["haproxy"], EXPECTED["redis"]]),
                            include=["haproxy", "redis*"], exclude=["redis.*"])
    assert report["components"] == ["haproxy", "redis"]
    pinned = {"haproxy": {"image": {"digest": "sha256:" + "cd" * 32}}}
    with pytest.raises(H.ESSHelmError, match="haproxy: the values pin sha256:cdcd.* the mirror holds "
                                             "docker.io/library/haproxy:3.2-alpine with digest sha256:0+1"):
        H.build_values(chart_values(), mirror_map([EXPECTED["haproxy"]]), include=["haproxy"], site_values=pinned)
    good = H.build_values(chart_values(), mirror_map([EXPECTED["haproxy"]], digests={EXPECTED["haproxy"]:
                                                                                     "sha256:" + "cd" * 32}),
                          include=["haproxy"], site_values=pinned)
    assert good["matches"]["haproxy"]["matched_by"] == "digest"


@pytest.mark.parametrize("values, message", [
    ("[1, 2]", "values.yaml: expected a mapping of chart values, not list"),
    ("a: [", "values.yaml: not valid YAML"),
    ("synapse: {enabled: true}", "no component image found"),
    ("synapse: {image: {repository: synapse, tag: 1.10}}", r"synapse: image.tag is 1.1, not a string"),
    ("synapse: {image: {repository: synapse}}", "synapse: image needs a repository and a tag or a digest"),
    ("synapse: {image: {repository: 'Bad Repo', tag: x}}", "values.yaml: synapse: "),
])
def test_bad_values_are_named(values, message):
    with pytest.raises(H.ESSHelmError, match=message):
        H.build_values(values, mirror_map([]))


def test_bad_options_and_layout_destinations():
    with pytest.raises(H.ESSHelmError, match="on_missing must be one of fail, warn"):
        H.build_values(chart_values(), mirror_map([]), on_missing="ignore")
    text = mirror_maps.dumps([mirror_maps.entry(EXPECTED["synapse"], "sha256:" + "ab" * 32, "oci:/srv/ess:synapse")])
    with pytest.raises(H.ESSHelmError, match="synapse: .* is mirrored to an OCI layout"):
        H.build_values(chart_values(), text, include=["synapse"])


def test_dump_is_stable_block_yaml_with_a_header():
    values = {"synapse": {"image": {"registry": MIRROR, "tag": None}}}
    text = H.dump_values(values, header="made by airgap.mirror\n\nfrom map.yml")
    assert text == ("# made by airgap.mirror\n#\n# from map.yml\nsynapse:\n  image:\n"
                    "    registry: %s\n    tag: null\n" % MIRROR)
    assert H.dump_values({}) == "{}\n"

    class Tagged(str):  # what Ansible hands a filter: a str subclass safe_dump cannot represent
        pass

    assert H.dump_values({"haproxy": {"image": {"pullSecrets": [{"name": Tagged("pull")}]}}}) == (
        "haproxy:\n  image:\n    pullSecrets:\n    - name: pull\n")


def test_a_filtered_image_pinned_by_its_source_digest_gets_the_mirror_digest():
    source_digest = "sha256:" + "cd" * 32
    pinned = {"haproxy": {"image": {"digest": source_digest}}}
    text = mirror_maps.filtered(mirror_map([EXPECTED["haproxy"]], digests={EXPECTED["haproxy"]: source_digest}))
    report = H.build_values(chart_values(), text, include=["haproxy"], site_values=pinned)
    assert report["values"]["haproxy"]["image"]["digest"] == mirror_maps.filtered_digest(source_digest)
    assert report["matches"]["haproxy"]["matched_by"] == "digest"
