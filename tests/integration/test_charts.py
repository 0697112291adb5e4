"""Helm charts cross with the images: an OCI chart pushed with the oras SDK to a real registry
(docker-registry 2.8) and copied unchanged by image_mirror's engine into a layout and a registry,
and a chart of a loopback classic chart repository stored as an OCI chart by chart_mirror and pushed
to a registry; both read back from the mirror with oras (no Helm binary is packaged here) and
checked against Helm's media types, the manifest bytes with skopeo."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import oras.client
import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._backends import chart_mirror as B
from ansible_collections.airgap.mirror.plugins.module_utils._charts.model import ChartError
from ansible_collections.airgap.mirror.plugins.module_utils._engine.auth import CredentialStore
from ansible_collections.airgap.mirror.plugins.module_utils._engine.plan import ClientPool
from ansible_collections.airgap.mirror.plugins.module_utils._engine.request import MirrorRequest
from ansible_collections.airgap.mirror.plugins.module_utils._engine.run import mirror

from support.chart_repo import ChartRepo, build_chart

pytestmark = pytest.mark.integration

# Helm's documented values (helm/helm internal/experimental/registry/constants.go, pkg/registry)
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CONTENT = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_PROV = "application/vnd.cncf.helm.chart.provenance.v1.prov"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TITLE = "org.opencontainers.image.title"
PROV = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: demo\n...\nfiles:\n  demo-1.2.3.tgz: sha256:x\n"
VALUES = {"global": {"imageRegistry": ""},
          "image": {"registry": "docker.io", "repository": "library/nginx", "tag": ""},
          "metrics": {"image": {"repository": "quay.io/prometheus/node-exporter", "tag": "v1.8.2"}},
          "sidecar": {"image": "{{ .Values.global.sidecar }}"}}


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _pool(*hosts):
    return ClientPool(credentials=CredentialStore(use_default_files=False), insecure_registries=list(hosts))


def _oras_push(target, tmp_path, package, version, prov):
    """Push an OCI chart with the oras SDK as ``helm push`` lays it out: Helm's config media type
    (the config is chart.Metadata as Go's encoding/json writes it), the package and the provenance
    file as layers of Helm's media types. Returns the manifest digest the registry answered."""
    src = tmp_path / "oras-push"
    src.mkdir()
    tgz = src / ("demo-%s.tgz" % version)
    tgz.write_bytes(package)
    sig = src / ("demo-%s.tgz.prov" % version)
    sig.write_bytes(prov)
    config = src / "config.json"
    config.write_text(json.dumps({"name": "demo", "version": version, "description": "test chart demo",
                                  "apiVersion": "v2", "appVersion": "1.0.0", "type": "application"},
                                 separators=(",", ":")))
    response = oras.client.OrasClient(insecure=True).push(
        target, files=["%s:%s" % (tgz, HELM_CONTENT), "%s:%s" % (sig, HELM_PROV)],
        manifest_config="%s:%s" % (config, HELM_CONFIG),
        manifest_annotations={TITLE: "demo", "org.opencontainers.image.version": version},
        disable_path_validation=True, quiet=True)
    assert response.status_code == 201, response.text
    return response.headers["Docker-Content-Digest"]


def _oras_read_back(target, out):
    """Read *target* back with the oras SDK: (manifest, {layer media type: (file, bytes)}, config
    bytes). ``pull`` writes each layer into *out* under its title annotation (the digest without one)."""
    client = oras.client.OrasClient(insecure=True)
    manifest = client.get_manifest(target)
    files = client.pull(target=target, outdir=str(out))
    assert len(files) == len(manifest["layers"]), files
    pulled = [(Path(f), Path(f).read_bytes()) for f in files]
    for desc, (_path, data) in zip(manifest["layers"], pulled):
        assert _sha(data) == desc["digest"] and len(data) == desc["size"]
    layers = {desc["mediaType"]: item for desc, item in zip(manifest["layers"], pulled)}
    blob = client.get_blob(client.get_container(target), manifest["config"]["digest"])
    assert blob.status_code == 200 and _sha(blob.content) == manifest["config"]["digest"]
    return manifest, layers, blob.content


def _assert_helm_media_types(body, provenance):
    assert body["mediaType"] == OCI_MANIFEST
    assert body["config"]["mediaType"] == HELM_CONFIG
    types = [d["mediaType"] for d in body["layers"]]
    assert types == ([HELM_CONTENT, HELM_PROV] if provenance else [HELM_CONTENT])


def test_oci_chart_is_copied_unchanged_with_its_provenance(registry_factory, skopeo, tmp_path):
    src = registry_factory()
    package = build_chart("demo", "1.2.3+build.1", VALUES)
    ref = "%s/charts/demo:1.2.3_build.1" % src.host
    pushed = _oras_push(ref, tmp_path, package, "1.2.3+build.1", PROV)
    source_manifest = oras.client.OrasClient(insecure=True).get_manifest(ref)
    _assert_helm_media_types(source_manifest, provenance=True)
    dest = registry_factory()
    report = mirror(MirrorRequest([ref], dest.host), pool=_pool(src.host, dest.host))
    assert not report["failed"], [f.get("error") for f in report["failed"]]
    target = "%s/%s" % (dest.host, report["mirror_map"][0]["destination"].split("/", 1)[1])
    assert target == "%s/charts/demo:1.2.3_build.1" % dest.host
    # the manifest bytes are the ones oras pushed (skopeo reads them raw; oras parses them)
    raw = skopeo.inspect_raw("docker://%s" % target, registry=dest)
    assert _sha(raw) == pushed
    manifest, layers, config = _oras_read_back(target, tmp_path / "back-registry")
    assert manifest == source_manifest == json.loads(raw)
    _assert_helm_media_types(manifest, provenance=True)
    tgz_path, tgz = layers[HELM_CONTENT]
    assert tgz == package and tgz_path.name == "demo-1.2.3+build.1.tgz"
    prov_path, prov = layers[HELM_PROV]
    assert prov == PROV and prov_path.name == "demo-1.2.3+build.1.tgz.prov"
    assert config == (tmp_path / "oras-push" / "config.json").read_bytes()
    config = json.loads(config)
    assert config["name"] == "demo" and config["version"] == "1.2.3+build.1" and config["appVersion"] == "1.0.0"
    # and into a layout, the same bytes
    layout = tmp_path / "layout"
    into = mirror(MirrorRequest([ref], "oci:%s" % layout), pool=_pool(src.host))
    assert not into["failed"], [f.get("error") for f in into["failed"]]
    assert (layout / "blobs" / "sha256" / pushed[7:]).read_bytes() == raw
    assert (layout / "blobs" / "sha256" / _sha(package)[7:]).read_bytes() == package


@pytest.fixture
def chart_repo(tmp_path):
    repo = ChartRepo(tmp_path / "site")
    yield repo
    repo.stop()


def _params(repo, layout, charts, **extra):
    spec = B.argument_spec()["argument_spec"]
    params = {k: v.get("default") for k, v in spec.items()}
    params.update(repository=repo.url, charts=charts, dest="oci:%s" % layout, insecure_registries=[repo.host])
    params.update(extra)
    return params


def test_repository_chart_becomes_an_oci_chart_in_the_mirror(chart_repo, registry_factory, skopeo, tmp_path):
    package = build_chart("demo", "1.2.3", VALUES)
    chart_repo.add("demo", "1.2.3", package, prov=PROV)
    chart_repo.add("demo", "1.3.0", build_chart("demo", "1.3.0", VALUES))
    chart_repo.add("demo", "2.0.0-rc.1", build_chart("demo", "2.0.0-rc.1", VALUES))
    layout = tmp_path / "layout"
    # check mode: reports, downloads to verify, writes nothing
    dry = B.run(_params(chart_repo, layout, [{"name": "demo", "version": "1.2.3"}]), check_mode=True)
    assert dry["changed"] and dry["charts"][0]["status"] == "would_add"
    assert not layout.exists()
    first = B.run(_params(chart_repo, layout, [{"name": "demo", "version": "1.2.3"}]), check_mode=False)
    assert first["changed"] and first["charts"][0]["status"] == "added"
    assert first["charts"][0]["digest"] == dry["charts"][0]["digest"]
    ref = first["refs"][0]
    assert ref == "%s/charts/demo:1.2.3" % chart_repo.host
    assert first["images"] == ["docker.io/library/nginx:1.0.0", "quay.io/prometheus/node-exporter:v1.8.2"]
    assert first["charts"][0]["images"][0]["tag_from"] == "appVersion"
    assert first["unresolved"] == [{"chart": ref, "path": "sidecar.image", "reason": first["unresolved"][0]["reason"]}]
    assert "template" in first["unresolved"][0]["reason"]
    # idempotent: only the index is read again
    chart_repo.requests.clear()
    again = B.run(_params(chart_repo, layout, [{"name": "demo", "version": "1.2.3"}]), check_mode=False)
    assert not again["changed"] and again["charts"][0]["status"] == "present"
    assert chart_repo.requests == ["/charts/index.yaml"]
    # deterministic: a fresh layout gets the same manifest digest
    other = B.run(_params(chart_repo, tmp_path / "other", ["demo"]), check_mode=False)
    assert other["charts"][0]["version"] == "1.3.0"  # newest release, not the pre-release
    same = B.run(_params(chart_repo, tmp_path / "other", [{"name": "demo", "version": "1.2.3"}]), check_mode=False)
    assert same["charts"][0]["digest"] == first["charts"][0]["digest"]
    # pushed to a registry by image_mirror's engine, read back by oras
    dest = registry_factory()
    report = mirror(MirrorRequest([ref], dest.host, src="oci:%s" % layout), pool=_pool(dest.host))
    assert not report["failed"], [f.get("error") for f in report["failed"]]
    target = "%s/%s" % (dest.host, report["mirror_map"][0]["destination"].split("/", 1)[1])
    assert target == "%s/charts/demo:1.2.3" % dest.host
    raw = skopeo.inspect_raw("docker://%s" % target, registry=dest)
    assert _sha(raw) == first["charts"][0]["digest"]
    manifest, layers, config = _oras_read_back(target, tmp_path / "back-repo")
    assert manifest == json.loads(raw)
    _assert_helm_media_types(manifest, provenance=True)
    served = chart_repo.root / "charts" / "packages" / "demo-1.2.3.tgz"
    assert layers[HELM_CONTENT][1] == served.read_bytes() == package  # the repository's package, byte for byte
    assert layers[HELM_PROV][1] == (served.parent / "demo-1.2.3.tgz.prov").read_bytes() == PROV
    config = json.loads(config)
    assert list(config)[:2] == ["name", "version"] and config["apiVersion"] == "v2"
    assert manifest["annotations"][TITLE] == "demo" and manifest["annotations"]["org.opencontainers.image.version"] == "1.2.3"


def test_range_selection_and_a_package_that_does_not_match_its_index_digest(chart_repo, tmp_path):
    chart_repo.add("demo", "1.2.3", build_chart("demo", "1.2.3", VALUES))
    chart_repo.add("demo", "1.3.0", build_chart("demo", "1.3.0", VALUES))
    chart_repo.add("bad", "0.1.0", build_chart("bad", "0.1.0", {}), digest="0" * 64)
    layout = tmp_path / "layout"
    ranged = B.run(_params(chart_repo, layout, [{"name": "demo", "version": ">=1.0.0 <2.0.0"}]), check_mode=False)
    assert [c["version"] for c in ranged["charts"]] == ["1.2.3", "1.3.0"]
    with pytest.raises(ChartError, match=r"bad 0\.1\.0 .*has digest sha256:[0-9a-f]{64}, the index says sha256:0{64}"):
        B.run(_params(chart_repo, layout, ["bad"]), check_mode=False)
    with pytest.raises(ChartError, match=r"index\.yaml: chart 'demo' has no version >=3\.0\.0"):
        B.run(_params(chart_repo, layout, [{"name": "demo", "version": ">=3.0.0"}]), check_mode=False)
    with pytest.raises(ChartError, match=r"index\.yaml: the index has no chart 'nope'"):
        B.run(_params(chart_repo, layout, ["nope"]), check_mode=False)


PLAY = """
- name: Charts across the gap
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/airgap.mirror.registry:
      insecure_registries: "{{ insecure }}"
  tasks:
    - name: Store the charts
      airgap.mirror.chart_mirror:
        repository: "{{ repo }}"
        charts: [{name: demo, version: 1.2.3}]
        dest: "oci:{{ layout }}"
      register: charts
    - name: Push the layout
      airgap.mirror.image_mirror:
        src: "oci:{{ layout }}"
        images: "{{ charts.refs }}"
        dest: "{{ dest }}"
      when: not ansible_check_mode
"""


def test_chart_mirror_module_in_a_playbook(chart_repo, registry_factory, skopeo, ansible_run, tmp_path):
    package = build_chart("demo", "1.2.3", VALUES)
    chart_repo.add("demo", "1.2.3", package)
    dest = registry_factory()
    layout = tmp_path / "layout"
    extra = {"repo": chart_repo.url, "layout": str(layout), "dest": dest.host,
             "insecure": [chart_repo.host, dest.host]}
    res = ansible_run.playbook(PLAY, extra_vars=extra, check=True, diff=True)
    assert res.rc == 0, res.output
    dry = res.one("Store the charts")
    assert dry["changed"] and not layout.exists()
    assert "(absent)" in dry["result"]["diff"]["before"]
    res = ansible_run.playbook(PLAY, extra_vars=extra)
    assert res.rc == 0, res.output
    stored = res.one("Store the charts")["result"]
    assert stored["changed"] and stored["images"][0] == "docker.io/library/nginx:1.0.0"
    raw = skopeo.inspect_raw("docker://%s/charts/demo:1.2.3" % dest.host, registry=dest)
    assert _sha(raw) == stored["charts"][0]["digest"]
    _assert_helm_media_types(json.loads(raw), provenance=False)
    res = ansible_run.playbook(PLAY, extra_vars=extra)
    assert res.rc == 0 and not res.one("Store the charts")["changed"]
    bad = ansible_run.playbook(PLAY, extra_vars=dict(extra, layout=str(tmp_path / "x"), repo=chart_repo.url + "/nope"))
    assert bad.rc != 0
    assert "chart repository index %s/nope/index.yaml: HTTP 404" % chart_repo.url in bad.one("Store the charts")["result"]["msg"]


def test_https_chart_repository_needs_its_ca(pki, tmp_path):
    pair = pki.server_cert()
    repo = ChartRepo(tmp_path / "site", tls=(pair.cert, pair.key))
    try:
        package = build_chart("demo", "1.2.3", VALUES)
        repo.add("demo", "1.2.3", package)
        layout = tmp_path / "layout"
        params = _params(repo, layout, ["demo"], insecure_registries=[])
        with pytest.raises(ChartError, match=r"chart repository index https://127\.0\.0\.1:\d+/charts/index\.yaml: .*(certificate|TLS)"):
            B.run(params, check_mode=False)
        stored = B.run(dict(params, ca_path=str(pki.ca_cert)), check_mode=False)
        assert stored["charts"][0]["status"] == "added"
        assert (layout / "blobs" / "sha256" / _sha(package)[7:]).read_bytes() == package
    finally:
        repo.stop()
