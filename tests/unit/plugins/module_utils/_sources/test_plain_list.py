"""Unit tests of plain image lists (_sources/plain_list.py)."""

from __future__ import annotations


import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._sources.plain_list import read_image_list
from ansible_collections.airgap.mirror.plugins.module_utils._sources.documents import SourceError
from support.sources import fixture


def test_plain_list_text():
    refs = read_image_list(fixture("refs.txt"), "refs.txt")
    assert refs == [
        "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
        "f721414f0bf9f91af79bb0cb2096a2b3a90362f4ecffb6d6a3116305096d375d",
        "docker.io/library/nginx:latest",
        "registry.example.com:8443/app/web:1.2",
    ]


def test_plain_list_keeps_bare_reference_without_default_tag():
    assert read_image_list(["nginx"], default_tag="") == ["docker.io/library/nginx"]


def test_plain_list_yaml_and_python_list():
    assert read_image_list("# images\n- nginx:1.25\n- quay.io/a/b:1\n") == [
        "docker.io/library/nginx:1.25", "quay.io/a/b:1"]
    assert read_image_list('["nginx:1.25"]') == ["docker.io/library/nginx:1.25"]
    assert read_image_list(["nginx:1.25", "docker.io/library/nginx:1.25"]) == ["docker.io/library/nginx:1.25"]


@pytest.mark.parametrize("value, message", [
    ("nginx\n\nquay.io/a/b c\n", "refs.txt:3: invalid image reference 'quay.io/a/b c': contains white space"),
    ("- nginx\n- Nginx\n", "refs.txt:2: [1]: invalid image reference 'Nginx': repository name must be lower-case"),
    ("- nginx\n- {a: b}\n", "refs.txt:2: [1]: expected an image reference string, got a map"),
    (["nginx", None], "refs.txt: [1]: expected an image reference string, got null"),
    ({"a": "b"}, "expected a list of image references or text"),
    ("https://quay.io/a/b:1\n", "refs.txt:1: invalid image reference"),
])
def test_plain_list_errors(value, message):
    with pytest.raises(SourceError) as err:
        read_image_list(value, "refs.txt")
    assert message in str(err.value)


def test_plain_list_takes_helm_oci_chart_references():
    text = "oci://ghcr.io/element-hq/ess-helm/matrix-stack:25.1.0\nnginx:1.25\n"
    assert read_image_list(text, "charts.txt") == ["ghcr.io/element-hq/ess-helm/matrix-stack:25.1.0",
                                                   "docker.io/library/nginx:1.25"]
    with pytest.raises(SourceError, match="no scheme"):
        read_image_list("docker://quay.io/a/b:1\n", "charts.txt")
