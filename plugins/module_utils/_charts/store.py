# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Charts of a classic HTTP chart repository into an OCI layout: the index read, each selected
package fetched (through the engine's HTTP client, ``Transport.fetch``), verified against the
index's ``digest``, its ``.prov`` fetched when the repository has one, and stored as an OCI chart
(:mod:`.model`) under ``HOST/PATH/NAME:VERSION``. A chart already in the layout with the same
package digest is not fetched again."""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlsplit

from .._engine.layout import Layout
from .._oci import manifest as _manifest
from .._oci.errors import OCIError
from .model import CONTENT_TYPE, PROVENANCE_TYPE, Chart, ChartError, chart_tag, manifest_bytes, read_package, \
    repository_for
from .repoindex import Entry, index_url, parse_index, select
from .values import chart_images

#: the largest index.yaml and chart package read
MAX_INDEX = 64 * 1024 * 1024
MAX_PACKAGE = 64 * 1024 * 1024
PRESENT = "present"
ADDED = "added"
WOULD_ADD = "would_add"


@dataclasses.dataclass
class Result:
    """One chart version: its reference in the layout, the manifest digest, what happened, and
    the images its default values name (and what could not be derived)."""

    ref: str
    name: str
    version: str
    url: str
    status: str
    digest: str
    before: str | None
    provenance: bool
    images: list[dict[str, Any]]
    unresolved: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fetch(client: Any, url: str, what: str, limit: int, missing_ok: bool = False) -> bytes | None:
    """The body at *url* (at most *limit* bytes); None for a 404 when *missing_ok*."""
    try:
        return client.fetch_small(url, what, limit, missing_ok=missing_ok)
    except OCIError as exc:
        raise ChartError(exc.message) from None


def mirror_repository(pool: Any, layout: Layout, repo_url: str, wanted: list[tuple[str, str | None]],
                      check_mode: bool) -> list[Result]:
    """Every chart version *wanted* (``(name, version or range or None)``) of the repository at
    *repo_url*, stored in *layout* unless *check_mode*."""
    url = index_url(repo_url)
    client = pool.get(urlsplit(url).netloc.rsplit("@", 1)[-1])
    entries = parse_index(fetch(client, url, "chart repository index", MAX_INDEX) or b"", url)
    results = []
    for name, version in wanted:
        for entry in select(entries, name, version, url):
            results.append(_one(pool, layout, repo_url, entry, check_mode))
    return results


def _one(pool: Any, layout: Layout, repo_url: str, entry: Entry, check_mode: bool) -> Result:
    ref = "%s:%s" % (repository_for(repo_url, entry.name), chart_tag(entry.version))
    current = layout.find(ref)
    chart = _stored(layout, current.digest, entry) if current is not None else None
    before = current.digest if current is not None else None
    if chart is not None and before is not None:
        return _result(ref, entry, PRESENT, before, before, chart)
    client = pool.get(urlsplit(entry.url).netloc.rsplit("@", 1)[-1])
    package = fetch(client, entry.url, "chart package", MAX_PACKAGE) or b""
    got = _manifest.compute_digest(package)
    if got != entry.digest:
        raise ChartError("chart %s (%s): the package has digest %s, the index says %s"
                         % (entry.label, entry.url, got, entry.digest))
    prov = fetch(client, entry.url + ".prov", "chart provenance", MAX_PACKAGE, missing_ok=True)
    chart = read_package(package, "chart %s (%s)" % (entry.label, entry.url), prov)
    if chart.name != entry.name or chart.version != entry.version:
        raise ChartError("chart %s (%s): the package says it is %s %s"
                         % (entry.label, entry.url, chart.name, chart.version))
    data, blobs = manifest_bytes(chart)
    digest = _manifest.compute_digest(data)
    if before == digest:
        return _result(ref, entry, PRESENT, before, digest, chart)
    if check_mode:
        return _result(ref, entry, WOULD_ADD, before, digest, chart)
    for blob_digest, blob in blobs.items():
        layout.put_bytes(blob_digest, blob, image=ref)
    layout.put_bytes(digest, data, image=ref)
    layout.set_refs([(ref, _manifest.Descriptor(_manifest.OCI_MANIFEST, digest, len(data)))])
    return _result(ref, entry, ADDED, before, digest, chart)


def _stored(layout: Layout, digest: str, entry: Entry) -> Chart | None:
    """The chart stored under *digest* when it holds the package the index names, complete."""
    try:
        body = json.loads(layout.read_blob(digest))
        layers = body.get("layers") or []
        content = [d for d in layers if d.get("mediaType") == CONTENT_TYPE]
        if len(content) != 1 or content[0].get("digest") != entry.digest:
            return None
        if not all(layout.has_blob(d["digest"], d.get("size")) for d in layers + [body["config"]]):
            return None
        prov = [d for d in layers if d.get("mediaType") == PROVENANCE_TYPE]
        provenance = layout.read_blob(prov[0]["digest"], MAX_PACKAGE) if prov else None
        return read_package(layout.read_blob(entry.digest, MAX_PACKAGE), entry.label, provenance)
    except (OCIError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _result(ref: str, entry: Entry, status: str, before: str | None, digest: str, chart: Chart) -> Result:
    app_version = chart.metadata.get("appVersion")
    images, unresolved = chart_images(chart.values, str(app_version) if app_version is not None else None)
    return Result(ref, entry.name, entry.version, entry.url, status, digest, before, chart.provenance is not None,
                  images, unresolved)
