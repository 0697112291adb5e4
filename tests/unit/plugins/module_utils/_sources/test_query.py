"""Unit tests of JMESPath queries over any document (_sources/query.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._sources.query import query_images
from ansible_collections.airgap.mirror.plugins.module_utils._sources.documents import SourceError
from support.sources import fixture, jq_images


def test_query_images():
    text = fixture("vendor.json")
    assert query_images(text, "components[].image", "vendor.json") == [
        "quay.io/example/api:2.1",
        "quay.io/example/ui@sha256:3348784c07bb974ea43317de115b9e274029e5f77e61a100a5ad066b6492c060",
        "docker.io/library/postgres:16",
    ]
    assert query_images(text, "images.*") == ["quay.io/example/api:2.1"]
    # works on YAML text, parsed data and the MicroShift file alike
    assert query_images(json.loads(fixture("release-x86_64.json")), "values(images)") == jq_images("release-x86_64.json")
    assert query_images("images:\n  - nginx\n", "images") == ["docker.io/library/nginx:latest"]


@pytest.mark.parametrize("query, message", [
    ("images", "vendor.json: query 'images' gives a map, not a list of strings; select its values, e.g. 'images.*'"),
    ("product", "query 'product' gives a string, not a list of strings"),
    ("nothing.here", "query 'nothing.here' matched nothing"),
    ("components", "vendor.json: components[0]: query result item is a map, expected an image reference string"),
    ("components[?", "invalid JMESPath query 'components[?'"),
    ("", "query must be a non-empty JMESPath expression"),
])
def test_query_errors(query, message):
    with pytest.raises(SourceError) as err:
        query_images(fixture("vendor.json"), query, "vendor.json")
    assert message in str(err.value)


def test_query_reports_json_error_for_broken_json():
    with pytest.raises(SourceError) as err:
        query_images('{"images": [1,]}', "images", "v.json")
    assert str(err.value).startswith("v.json:1:15: not valid JSON")
