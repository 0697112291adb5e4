# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""A classic Helm chart repository's ``index.yaml`` (https://helm.sh/docs/topics/chart_repository/):
``entries: {NAME: [{version, digest, urls, ...}]}``. Versions are chosen by an exact version or a
semver range (``_common/semver_range``); the package URL is resolved against the index URL; the
``digest`` (sha256 of the ``.tgz``) is what the package is verified against."""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import urljoin

from .._common.semver_range import RangeError, parse_range
from .._common.version import Version
from .model import ChartError

_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One chart version of the index: where its package is and the digest it must have."""

    name: str
    version: str
    url: str
    digest: str

    @property
    def label(self) -> str:
        return "%s %s" % (self.name, self.version)


def index_url(repo_url: str) -> str:
    """The ``index.yaml`` of the repository at *repo_url* (the URL may already name it)."""
    return repo_url if repo_url.endswith("/index.yaml") else repo_url.rstrip("/") + "/index.yaml"


def parse_index(text: bytes, url: str) -> dict[str, list[dict[str, Any]]]:
    """The ``entries`` of an index; an error names *url* (and the line when it is not YAML)."""
    import yaml

    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = " line %d" % (mark.line + 1) if mark is not None else ""
        raise ChartError("%s%s: not YAML: %s" % (url, line, getattr(exc, "problem", exc))) from None
    if not isinstance(body, dict) or not isinstance(body.get("entries"), dict):
        raise ChartError("%s: not a chart repository index (no entries mapping)" % url)
    return body["entries"]


def select(entries: dict[str, list[dict[str, Any]]], name: str, version: str | None, url: str) -> list[Entry]:
    """The versions of chart *name* that *version* selects: an exact version, a semver range
    (``>=1.2 <2``, ``^1.2``), or ``None`` for the newest release. None found is an error."""
    versions = entries.get(name)
    if not isinstance(versions, list) or not versions:
        raise ChartError("%s: the index has no chart %r" % (url, name))
    items = [v for v in versions if isinstance(v, dict) and v.get("version") is not None]
    exact = [v for v in items if version is not None and str(v["version"]) == version]
    if exact:
        chosen = exact[:1]
    else:
        chosen = _by_range(items, name, version, url)
    return [_entry(item, name, url) for item in chosen]


def _by_range(items: list[dict[str, Any]], name: str, version: str | None, url: str) -> list[dict[str, Any]]:
    parsed = [(Version.parse(str(v["version"]), allow_v=True), v) for v in items]
    known = [(p, v) for p, v in parsed if p is not None]
    if version is None:
        releases = sorted((pv for pv in known if not pv[0].is_prerelease), key=lambda pv: pv[0])
        if not releases:
            raise ChartError("%s: chart %r has no release version" % (url, name))
        return [releases[-1][1]]
    try:
        wanted = parse_range(version, "chart %s version" % name)
    except RangeError as exc:
        raise ChartError("%s: %s" % (url, exc)) from None
    chosen = [v for p, v in sorted(known, key=lambda pv: pv[0]) if wanted.contains(p)]
    if not chosen:
        raise ChartError("%s: chart %r has no version %s (the index has %s)"
                         % (url, name, version, ", ".join(sorted(str(v["version"]) for v in items)[:20])))
    return chosen


def _entry(item: dict[str, Any], name: str, url: str) -> Entry:
    label = "%s: chart %s %s" % (url, name, item.get("version"))
    urls = item.get("urls")
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
        raise ChartError("%s has no package URL" % label)
    match = _SHA256.match(str(item.get("digest") or ""))
    if not match:
        raise ChartError("%s has no sha256 digest in the index: it cannot be verified" % label)
    return Entry(name, str(item["version"]), urljoin(url, urls[0]), "sha256:" + match.group(1))
