"""Filters of plugins/filter/elasticsearch_geoip.py. The overview below is written by hand in the
shape Elastic documents for a custom endpoint (the elasticsearch-geoip tool's overview.json: name,
md5_hash, url, provider, updated); it is not recorded from https://geoip.elastic.co."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.airgap.mirror.plugins.filter import elasticsearch_geoip as F

ENDPOINT = "https://files.corp.net/geoip/overview.json"
OVERVIEW = [
    {"name": "GeoLite2-ASN.tgz", "md5_hash": "A" * 32, "url": "https://storage.example.com/db/GeoLite2-ASN.tgz",
     "provider": "maxmind", "updated": 1733443200000},
    {"name": "GeoLite2-City.tgz", "md5_hash": "b" * 32, "url": "GeoLite2-City.tgz", "provider": "maxmind",
     "updated": 1733443200000},
]


def test_files_from_an_overview():
    files = F.elasticsearch_geoip_files(json.dumps(OVERVIEW), "https://geo.example.com/v1/overview.json")
    assert files == [
        {"url": "https://storage.example.com/db/GeoLite2-ASN.tgz", "checksum": "md5:" + "a" * 32,
         "signature": False, "path": "geoip/GeoLite2-ASN.tgz"},
        {"url": "https://geo.example.com/v1/GeoLite2-City.tgz", "checksum": "md5:" + "b" * 32,
         "signature": False, "path": "geoip/GeoLite2-City.tgz"}]
    assert F.elasticsearch_geoip_files(OVERVIEW[:1], path="/srv/x/")[0]["path"] == "srv/x/GeoLite2-ASN.tgz"


@pytest.mark.parametrize("overview, base, message", [
    ("{", "", "not JSON"),
    ({"name": "x"}, "", "must be a JSON list"),
    ([{"name": "../evil.tgz", "md5_hash": "a" * 32}], "", "entry 1: name must be a file name ending in .tgz"),
    ([{"name": "a.tgz", "md5_hash": "abc"}], "", "entry 1 \\(a.tgz\\): md5_hash must be 32 hex digits"),
    ([{"name": "a.tgz", "md5_hash": "a" * 32}] * 2, "", "names a database twice"),
    ([{"name": "a.tgz", "md5_hash": "a" * 32, "url": "a.tgz"}], "", "relative URL 'a.tgz': give base_url"),
])
def test_files_refusals(overview, base, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F.elasticsearch_geoip_files(overview, base)


def test_overview_from_stat_results_and_pairs():
    stats = [{"item": {}, "stat": {"path": "/srv/www/geoip/GeoLite2-City.tgz", "checksum": "c" * 32, "mtime": 1.5}},
             {"stat": {"path": "/srv/www/geoip/GeoLite2-ASN.tgz", "checksum": "d" * 32, "mtime": 2.0}}]
    assert F.elasticsearch_geoip_overview(stats) == [
        {"name": "GeoLite2-ASN.tgz", "md5_hash": "d" * 32, "url": "GeoLite2-ASN.tgz", "provider": "maxmind",
         "updated": 2000},
        {"name": "GeoLite2-City.tgz", "md5_hash": "c" * 32, "url": "GeoLite2-City.tgz", "provider": "maxmind",
         "updated": 1500}]
    assert F.elasticsearch_geoip_overview([{"name": "x.tgz", "md5": "E" * 32}], updated=7)[0]["updated"] == 7
    with pytest.raises(AnsibleFilterError, match="database 'x.mmdb': a .tgz file name and an md5"):
        F.elasticsearch_geoip_overview([{"name": "x.mmdb", "md5": "e" * 32}])
    with pytest.raises(AnsibleFilterError, match="got md5 ''"):
        F.elasticsearch_geoip_overview([{"stat": {"path": "/a/x.tgz"}}])  # stat without get_checksum


def test_settings_and_eck_nodesets():
    assert F.elasticsearch_geoip_settings(ENDPOINT) == [
        {"key": "ingest.geoip.downloader.endpoint", "value": ENDPOINT, "state": "present"}]
    assert F.elasticsearch_geoip_eck_nodesets(ENDPOINT, ["hot", "ingest"]) == [
        {"name": "hot", "config": {"ingest.geoip.downloader.endpoint": ENDPOINT}},
        {"name": "ingest", "config": {"ingest.geoip.downloader.endpoint": ENDPOINT}}]
    for bad in ("files.corp.net/geoip/overview.json", "https://files.corp.net"):
        with pytest.raises(AnsibleFilterError, match="must be an http\\(s\\) URL of the overview"):
            F.elasticsearch_geoip_settings(bad)
    for nodesets, message in (([], "non-empty list"), ("hot", "non-empty list"), (["Hot"], "not a DNS-1123 label"),
                              (["a", "a"], "named twice")):
        with pytest.raises(AnsibleFilterError, match=message):
            F.elasticsearch_geoip_eck_nodesets(ENDPOINT, nodesets)
