"""Unit tests of MicroShift release files (_sources/microshift.py) and of how documents are
given (_sources/documents.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._sources.microshift import (
    read_microshift_release, microshift_release_records,
)
from ansible_collections.airgap.mirror.plugins.module_utils._sources.documents import SourceError
from ansible_collections.airgap.mirror.plugins.module_utils._oci.errors import OCIError
from support.sources import fixture, slurp, jq_images


def test_microshift_release_is_jq_images():
    refs = read_microshift_release(fixture("release-x86_64.json"), "release-x86_64.json")
    assert refs == jq_images("release-x86_64.json")
    assert len(refs) == 16


def test_microshift_release_from_slurp_names_arch_and_file():
    records = microshift_release_records(slurp("release-x86_64.json"))
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
    refs = read_microshift_release([slurp("release-x86_64.json"), slurp("release-aarch64.json")])
    assert refs == expected
    # the registered result of a slurp loop works the same, skipped items are ignored
    loop = {"changed": False, "msg": "All items completed",
            "results": [slurp("release-x86_64.json"), {"skipped": True}, slurp("release-aarch64.json")]}
    assert read_microshift_release(loop) == expected
    arches = [r["arch"] for r in microshift_release_records(loop)]
    assert arches.count("aarch64") == len(arm) and arches.count("x86_64") == len(x86)


def test_microshift_parsed_data_and_extra():
    data = json.loads(fixture("release-x86_64.json"))
    refs = read_microshift_release(data, extra="nginx\n# comment\nquay.io/org/app:1\n" + jq_images("release-x86_64.json")[0])
    assert refs == jq_images("release-x86_64.json") + ["docker.io/library/nginx:latest", "quay.io/org/app:1"]


def test_microshift_not_json_names_file_line_column():
    with pytest.raises(SourceError) as err:
        read_microshift_release(slurp("release-malformed.json"))
    text = str(err.value)
    assert text.startswith("/usr/share/microshift/release/release-malformed.json:7:5: not valid JSON")
    assert "Expecting ',' delimiter" in text
    assert err.value.line == 7 and err.value.column == 5
    assert isinstance(err.value, OCIError)


def test_microshift_invalid_reference_names_file_key_line():
    with pytest.raises(SourceError) as err:
        read_microshift_release(fixture("release-bad-ref.json"), "release-bad-ref.json")
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
    with pytest.raises(SourceError) as err:
        read_microshift_release(text, "release.json")
    assert message in str(err.value)


def test_slurp_result_with_bad_base64():
    with pytest.raises(SourceError, match="r.json: slurp content is not valid base64"):
        read_microshift_release({"content": "%%%", "encoding": "base64", "source": "r.json"})
