"""Unit tests of _charts: the config and manifest of a chart, its reference, the index selection
and the images listed from values.yaml."""

from __future__ import annotations

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._charts import model, repoindex
from ansible_collections.airgap.mirror.plugins.module_utils._charts.model import ChartError
from ansible_collections.airgap.mirror.plugins.module_utils._charts.values import chart_images

from support.chart_repo import build_chart

D = "sha256:" + "a" * 64


def test_config_is_chart_yaml_as_json_in_helm_field_order():
    meta = {"version": "1.0.0", "name": "demo", "appVersion": 2.5, "apiVersion": "v2", "unknown": "x",
            "maintainers": [{"url": "u", "name": "me"}], "annotations": {"b": "2", "a": 1}, "deprecated": False,
            "keywords": []}
    config = json.loads(model.config_bytes(meta))
    assert list(config) == ["name", "version", "maintainers", "apiVersion", "appVersion", "annotations"]
    assert config["appVersion"] == "2.5" and config["maintainers"] == [{"name": "me", "url": "u"}]
    assert list(config["annotations"]) == ["a", "b"] and config["annotations"]["a"] == "1"


def test_manifest_is_deterministic_and_carries_the_provenance():
    package = build_chart("demo", "1.0.0", {"image": {"repository": "nginx", "tag": "1"}})
    assert package == build_chart("demo", "1.0.0", {"image": {"repository": "nginx", "tag": "1"}})
    chart = model.read_package(package, "demo", b"prov")
    data, blobs = model.manifest_bytes(chart)
    assert data == model.manifest_bytes(model.read_package(package, "demo", b"prov"))[0]
    body = json.loads(data)
    assert body["config"]["mediaType"] == model.CONFIG_TYPE
    assert [d["mediaType"] for d in body["layers"]] == [model.CONTENT_TYPE, model.PROVENANCE_TYPE]
    assert body["annotations"]["org.opencontainers.image.version"] == "1.0.0"
    assert len(blobs) == 3
    bare = json.loads(model.manifest_bytes(model.read_package(package, "demo"))[0])
    assert [d["mediaType"] for d in bare["layers"]] == [model.CONTENT_TYPE]


@pytest.mark.parametrize("data, message", [
    (b"not a tarball", "not a gzip-compressed tar chart package"),
    (build_chart("demo", "1.0.0", {})[:40], "not a gzip-compressed tar chart package"),
])
def test_bad_packages_are_named(data, message):
    with pytest.raises(ChartError, match="^pkg.tgz: " + message):
        model.read_package(data, "pkg.tgz")


def test_reference_and_tag():
    assert model.repository_for("https://Charts.Example.com:8443/Stable/", "nginx") == \
        "charts.example.com:8443/stable/nginx"
    assert model.repository_for("https://helm.elastic.co/index.yaml", "eck-operator") == "helm.elastic.co/eck-operator"
    assert model.chart_tag("1.2.3+build.4") == "1.2.3_build.4"
    with pytest.raises(ChartError, match="give an http"):
        model.repository_for("oci://x/y", "a")
    with pytest.raises(ChartError, match="lower-case"):
        model.repository_for("https://x", "Bad_Name")


ENTRIES = {"demo": [{"version": v, "digest": "a" * 64, "urls": ["demo-%s.tgz" % v]}
                    for v in ("1.0.0", "1.1.0", "2.0.0-rc.1", "0.9.0")],
           "nodigest": [{"version": "1.0.0", "urls": ["x.tgz"]}]}


def test_index_selection():
    url = "https://charts.example.com/stable/index.yaml"
    assert [e.version for e in repoindex.select(ENTRIES, "demo", None, url)] == ["1.1.0"]
    assert [e.version for e in repoindex.select(ENTRIES, "demo", "^1.0.0", url)] == ["1.0.0", "1.1.0"]
    exact = repoindex.select(ENTRIES, "demo", "2.0.0-rc.1", url)[0]
    assert exact.url == "https://charts.example.com/stable/demo-2.0.0-rc.1.tgz" and exact.digest == D
    with pytest.raises(ChartError, match="no sha256 digest in the index"):
        repoindex.select(ENTRIES, "nodigest", None, url)
    with pytest.raises(ChartError, match="index.yaml line 3: not YAML"):
        repoindex.parse_index(b"entries:\n  a: [\n", url)
    with pytest.raises(ChartError, match="not a chart repository index"):
        repoindex.parse_index(b"- a\n", url)


def test_images_from_values_common_patterns():
    values = {
        "global": {"imageRegistry": "mirror.example.com"},
        "image": {"repository": "org/app", "tag": "", "pullPolicy": "IfNotPresent"},
        "db": {"image": {"registry": "quay.io", "repository": "org/db", "tag": "15", "digest": D}},
        "workers": [{"initImage": "busybox:1.36"}],
        "images": {"image": {"api": {"repository": "org/api", "tag": 3}}},
        "proxy": {"image": {"name": "envoy"}},
        "job": {"image": ""},
        "other": {"image": "{{ .Values.x }}"},
        "again": {"image": {"repository": "org/app"}},
    }
    images, unresolved = chart_images(values, "2.0.1")
    assert [(i["path"], i["image"], i["tag_from"]) for i in images] == [
        ("image", "mirror.example.com/org/app:2.0.1", "appVersion"),
        ("db.image", "mirror.example.com/org/db:15@" + D, "digest"),
        ("workers[0].initImage", "busybox:1.36", "reference"),
        ("images.image.api", "mirror.example.com/org/api:3", "tag"),
    ]
    assert [u["path"] for u in unresolved] == ["proxy.image", "job.image", "other.image"]
    assert "no repository" in unresolved[0]["reason"] and "template" in unresolved[2]["reason"]
    plain, _none = chart_images({"db": {"image": {"registry": "quay.io", "repository": "org/db", "tag": "15"}}}, None)
    assert plain[0]["image"] == "quay.io/org/db:15"
    _none, missing = chart_images({"image": {"repository": "a/b"}}, None)
    assert missing == [{"path": "image", "reason": "no tag, no digest and no appVersion in Chart.yaml to default to"}]
