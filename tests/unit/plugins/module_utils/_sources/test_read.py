"""Unit tests of the dispatcher by format name (_sources/read.py)."""

from __future__ import annotations


import pytest

from ansible_collections.airgap.mirror.plugins.module_utils._sources.read import read_source
from ansible_collections.airgap.mirror.plugins.module_utils._sources.documents import SourceError
from support.sources import fixture


def test_read_source_dispatch_and_records_restriction():
    assert read_source("list", "nginx\n") == ["docker.io/library/nginx:latest"]
    assert read_source("query", fixture("vendor.json"), query="images.*") == ["quay.io/example/api:2.1"]
    assert len(read_source("ess", fixture("ess-images_digests.yml"), records=True)) == 6
    with pytest.raises(SourceError, match="records are available for the microshift and ess formats only"):
        read_source("list", "nginx", records=True)
    with pytest.raises(SourceError, match="unknown format 'xml'"):
        read_source("xml", "")
