# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the airgap.mirror.elasticsearch_geoip role: Elasticsearch's GeoIP databases mirrored
as files and served from a custom endpoint (``ingest.geoip.downloader.endpoint``).

``elasticsearch_geoip_files``: a GeoIP database overview (the JSON list Elastic's endpoint
``https://geoip.elastic.co/v1/database`` answers, or the ``overview.json`` the ``elasticsearch-geoip``
tool writes) -> ``files`` entries of airgap.mirror.artifact_mirror (each database with its pinned
``md5`` from the overview). ``elasticsearch_geoip_overview``: the databases a web server serves
(name and md5) -> the ``overview.json`` of a custom endpoint, with URLs relative to it.
``elasticsearch_geoip_eck_nodesets``: the endpoint -> the ``spec.nodeSets[].config`` of an ECK
Elasticsearch resource.
Documentation: a YAML file per filter next to this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported

SETTING = "ingest.geoip.downloader.endpoint"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.tgz$")
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_NODESET = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _entries(overview: Any) -> list[Mapping[str, Any]]:
    if isinstance(overview, (str, bytes)):
        try:
            overview = json.loads(overview)
        except ValueError as exc:
            raise UserError("the GeoIP overview is not JSON: %s" % exc) from None
    if not isinstance(overview, Sequence) or isinstance(overview, (str, bytes)):
        raise UserError("the GeoIP overview must be a JSON list of databases, not %r" % (overview,))
    for i, entry in enumerate(overview):
        where = "GeoIP overview entry %d" % (i + 1)
        if not isinstance(entry, Mapping):
            raise UserError("%s is not an object: %r" % (where, entry))
        if not _NAME.match(str(entry.get("name", ""))):
            raise UserError("%s: name must be a file name ending in .tgz, not %r" % (where, entry.get("name")))
        if not _MD5.match(str(entry.get("md5_hash", ""))):
            raise UserError("%s (%s): md5_hash must be 32 hex digits, not %r"
                            % (where, entry["name"], entry.get("md5_hash")))
    names = [str(entry["name"]) for entry in overview]
    if len(set(names)) != len(names):
        raise UserError("the GeoIP overview names a database twice: %s" % sorted(n for n in names if names.count(n) > 1))
    return list(overview)


@reported
def elasticsearch_geoip_files(overview: Any, base_url: str = "", path: str = "geoip") -> list[dict[str, Any]]:
    """The airgap.mirror.artifact_mirror ``files`` entries of the databases of *overview*: the
    entry's ``url`` (made absolute against *base_url*, the overview's URL, when relative), its
    ``md5_hash`` as a pinned ``md5:HEX`` checksum (the only checksum the overview publishes), no
    signature (none is published), exported as ``<path>/<name>``."""
    path = str(path).strip("/")
    if not path or ".." in path.split("/"):
        raise UserError("path must be a relative directory without '..', not %r" % (path,))
    files = []
    for entry in _entries(overview):
        url = str(entry.get("url") or entry["name"])
        if "://" not in url:
            if not base_url.startswith(("https://", "http://")):
                raise UserError("%s has the relative URL %r: give base_url, the overview's URL" % (entry["name"], url))
            url = base_url.rsplit("/", 1)[0] + "/" + url.lstrip("/")
        files.append({"url": url, "checksum": "md5:" + str(entry["md5_hash"]).lower(), "signature": False,
                      "path": "%s/%s" % (path, entry["name"])})
    return files


@reported
def elasticsearch_geoip_overview(databases: Any, updated: Any = None) -> list[dict[str, Any]]:
    """The ``overview.json`` of a custom endpoint serving *databases* (``[{name, md5}]``, or the
    results of ``ansible.builtin.stat`` with ``checksum_algorithm: md5``): ``name``, ``md5_hash``,
    ``url`` (the name: relative to the endpoint, as the ``elasticsearch-geoip`` tool writes it),
    ``provider`` ``maxmind`` and ``updated`` (milliseconds; *updated*, or the file's mtime), sorted by
    name."""
    if not isinstance(databases, Sequence) or isinstance(databases, (str, bytes)):
        raise UserError("expected a list of databases ({name, md5} or stat results), not %r" % (databases,))
    out = []
    for item in databases:
        stat = item.get("stat", item) if isinstance(item, Mapping) else None
        if not isinstance(stat, Mapping):
            raise UserError("a database must be {name, md5} or a stat result, not %r" % (item,))
        name = str(stat.get("name") or str(stat.get("path", "")).rsplit("/", 1)[-1])
        md5 = str(stat.get("md5") or stat.get("checksum") or "")
        if not _NAME.match(name) or not _MD5.match(md5):
            raise UserError("database %r: a .tgz file name and an md5 (stat with checksum_algorithm md5) are "
                            "needed, got md5 %r" % (name, md5))
        stamp = updated if updated not in (None, "") else stat.get("mtime", 0)
        try:
            millis = int(float(stamp) * (1 if updated not in (None, "") else 1000))
        except (TypeError, ValueError):
            raise UserError("updated must be a number of milliseconds, not %r" % (stamp,)) from None
        out.append({"name": name, "md5_hash": md5.lower(), "url": name, "provider": "maxmind", "updated": millis})
    _entries(out)  # the same checks as an overview read from elsewhere (names twice, ...)
    return sorted(out, key=lambda e: str(e["name"]))


@reported
def elasticsearch_geoip_eck_nodesets(endpoint: str, nodesets: Any) -> list[dict[str, Any]]:
    """``spec.nodeSets`` entries ``{name, config: {ingest.geoip.downloader.endpoint: endpoint}}``
    for each name in *nodesets* (the node sets that run ingest pipelines)."""
    _check_endpoint(endpoint)
    if isinstance(nodesets, str) or not isinstance(nodesets, Sequence) or not nodesets:
        raise UserError("nodesets must be a non-empty list of node set names, not %r" % (nodesets,))
    for name in nodesets:
        if not isinstance(name, str) or not _NODESET.match(name):
            raise UserError("node set name %r is not a DNS-1123 label" % (name,))
    if len(set(nodesets)) != len(nodesets):
        raise UserError("a node set is named twice: %r" % (list(nodesets),))
    return [{"name": name, "config": {SETTING: endpoint}} for name in nodesets]


def _check_endpoint(endpoint: Any) -> None:
    if not isinstance(endpoint, str) or not re.match(r"^https?://[^/\s]+/\S*$", endpoint):
        raise UserError("%s must be an http(s) URL of the overview, e.g. https://files.corp.net/geoip/overview.json, "
                        "not %r" % (SETTING, endpoint))


@reported
def elasticsearch_geoip_settings(endpoint: str) -> list[dict[str, Any]]:
    """The elasticsearch.yml edits (``[{key, value, state}]``) that point the node at *endpoint*."""
    _check_endpoint(endpoint)
    return [{"key": SETTING, "value": endpoint, "state": "present"}]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "elasticsearch_geoip_files": elasticsearch_geoip_files,
            "elasticsearch_geoip_overview": elasticsearch_geoip_overview,
            "elasticsearch_geoip_eck_nodesets": elasticsearch_geoip_eck_nodesets,
            "elasticsearch_geoip_settings": elasticsearch_geoip_settings,
        }
