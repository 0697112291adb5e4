# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The Elastic artifact catalog: which files of the Elastic Artifact Registry an air-gapped Fleet
site needs for a stack version and platforms, as ``artifact_mirror`` ``files`` entries.

Documented (Fleet "Air-gapped environments", section "Host your own artifact registry for binary
downloads", https://www.elastic.co/docs/reference/fleet/air-gapped#host-artifact-registry): the
files under ``https://artifacts.elastic.co/downloads/`` with a ``.sha512`` and a ``.asc`` each,
``<artifact_type>/<artifact_name>-<version>-<os>-<arch>.tar.gz`` - apm-server, beats/auditbeat,
beats/elastic-agent, beats/filebeat, beats/heartbeat, beats/metricbeat, beats/osquerybeat,
beats/packetbeat, cloudbeat, endpoint-dev/endpoint-security, fleet-server and prodfiler/pf-host-agent,
pf-elastic-collector, pf-elastic-symbolizer; ``arm64`` for ``x86_64``; DEB ``-amd64.deb`` /
``-arm64.deb``, RPM ``-x86_64.rpm`` / ``-aarch64.rpm``. Windows is ``-windows-x86_64.zip``
(elastic/ingest-docs d02f5cf: ``elastic-agent-8.12.1-windows-x86_64.zip`` answers 200).

The Endpoint global artifacts manifest is
``https://artifacts.security.elastic.co/downloads/endpoint/manifest/artifacts-<version>.zip``
(Elastic Security "Configure offline endpoints and air-gapped environments"). No checksum file
next to it is documented and it changes as Elastic updates the artifacts, so it is listed only
with a checksum the caller pins.

What is inferred, not documented: which components exist for macOS and Windows (the profiling
agents and cloudbeat are taken as Linux only), and the version ranges below. Versions outside
them are refused, never guessed.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .._common.version import Version
from .eck.images import ECKError
from .elastic_catalog import _version

ARTIFACTS_BASE = "https://artifacts.elastic.co/downloads/"
ENDPOINT_BASE = "https://artifacts.security.elastic.co/downloads/"
ELASTIC_KEY_URL = "https://artifacts.elastic.co/GPG-KEY-elasticsearch"
ELASTIC_KEY_FINGERPRINT = "46095ACC8548582C1A2699A9D27D666CD88E42B4"
LOWEST = Version("8.0.0")
NEXT_UNKNOWN_MAJOR = 10


@dataclasses.dataclass(frozen=True)
class _Artifact:
    name: str          # component name of the catalog
    directory: str     # <artifact_type> under downloads/
    file: str          # <artifact_name>
    low: Version
    linux_only: bool = False


_ARTIFACTS = (
    _Artifact("elastic_agent", "beats/elastic-agent", "elastic-agent", LOWEST),
    _Artifact("fleet_server", "fleet-server", "fleet-server", LOWEST),
    _Artifact("apm_server", "apm-server", "apm-server", LOWEST),
    _Artifact("auditbeat", "beats/auditbeat", "auditbeat", LOWEST),
    _Artifact("filebeat", "beats/filebeat", "filebeat", LOWEST),
    _Artifact("heartbeat", "beats/heartbeat", "heartbeat", LOWEST),
    _Artifact("metricbeat", "beats/metricbeat", "metricbeat", LOWEST),
    _Artifact("osquerybeat", "beats/osquerybeat", "osquerybeat", LOWEST),
    _Artifact("packetbeat", "beats/packetbeat", "packetbeat", LOWEST),
    _Artifact("cloudbeat", "cloudbeat", "cloudbeat", LOWEST, linux_only=True),
    _Artifact("endpoint_security", "endpoint-dev", "endpoint-security", LOWEST),
    _Artifact("pf_host_agent", "prodfiler", "pf-host-agent", Version("9.0.0"), linux_only=True),
    _Artifact("pf_elastic_collector", "prodfiler", "pf-elastic-collector", Version("9.0.0"), linux_only=True),
    _Artifact("pf_elastic_symbolizer", "prodfiler", "pf-elastic-symbolizer", Version("9.0.0"), linux_only=True),
)
_BY_NAME = {a.name: a for a in _ARTIFACTS}
COMPONENTS = tuple(a.name for a in _ARTIFACTS) + ("endpoint_manifest",)
GROUPS = {
    "beats": ("auditbeat", "filebeat", "heartbeat", "metricbeat", "osquerybeat", "packetbeat"),
    "profiling": ("pf_host_agent", "pf_elastic_collector", "pf_elastic_symbolizer"),
}

# (package format, os, arch): every spelling accepted -> the canonical key
_OS = {"linux": "linux", "darwin": "darwin", "macos": "darwin", "windows": "windows",
       "deb": "deb", "rpm": "rpm"}
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "x64": "x86_64",
         "arm64": "arm64", "aarch64": "arm64"}
# canonical (os, arch) -> the suffix after "<name>-<version>-"
_SUFFIX = {
    ("linux", "x86_64"): "linux-x86_64.tar.gz",
    ("linux", "arm64"): "linux-arm64.tar.gz",
    ("darwin", "x86_64"): "darwin-x86_64.tar.gz",
    ("darwin", "arm64"): "darwin-aarch64.tar.gz",
    ("windows", "x86_64"): "windows-x86_64.zip",
    ("deb", "x86_64"): "amd64.deb",
    ("deb", "arm64"): "arm64.deb",
    ("rpm", "x86_64"): "x86_64.rpm",
    ("rpm", "arm64"): "aarch64.rpm",
}
_PLATFORM = re.compile(r"^(%s)[/_-](%s)$" % ("|".join(_OS), "|".join(_ARCH)))
_PINNED = re.compile(r"^(sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128})$")


def platform_key(value: Any) -> tuple[str, str]:
    """``(os, arch)`` of a platform spelled ``linux/amd64``, ``linux-x86_64``, ``windows_x86_64``,
    ``darwin-aarch64``, ``deb/amd64``, ``rpm-aarch64`` ..."""
    text = value.strip().lower() if isinstance(value, str) else ""
    match = _PLATFORM.match(text)
    if match is None:
        raise ECKError("platform %r is not one of %s (os/arch, os-arch or os_arch; deb and rpm as os for packages)"
                       % (value, ", ".join("%s/%s" % k for k in _SUFFIX)))
    os_name, arch = _OS[match.group(1)], _ARCH[match.group(2)]
    if (os_name, arch) not in _SUFFIX:
        raise ECKError("platform %r: Elastic publishes no %s %s artifacts" % (value, os_name, arch))
    return os_name, arch


def _stack(version: Any) -> Version:
    ver = _version(version, "stack version")
    if ver.prerelease:
        raise ECKError("stack version %s is a pre-release; its files are not under artifacts.elastic.co/downloads"
                       % ver)
    if ver < LOWEST or ver.major >= NEXT_UNKNOWN_MAJOR:
        raise ECKError("stack version %s is not known to this catalog (it knows %s to %d.x); file names are not "
                       "guessed - list the files for artifact_mirror yourself" % (ver, LOWEST, NEXT_UNKNOWN_MAJOR - 1))
    return ver


def _selected(version: Version, include: Any, exclude: Any, manifest_checksum: str | None) -> list[str]:
    def expand(names: Any, option: str) -> list[tuple[str, bool]]:
        if isinstance(names, str):
            names = [n for n in names.split(",") if n.strip()]
        out: list[tuple[str, bool]] = []
        for raw in names or ():
            item = str(raw).strip()
            if item in GROUPS:
                out.extend((m, False) for m in GROUPS[item])
            elif item in COMPONENTS:
                out.append((item, True))
            else:
                raise ECKError("%s: unknown component %r (known: %s; groups: %s)"
                               % (option, item, ", ".join(COMPONENTS), ", ".join(sorted(GROUPS))))
        return out

    def reason(name: str) -> str | None:
        if name == "endpoint_manifest":
            return None if manifest_checksum else "needs endpoint_manifest_checksum (no checksum file is published)"
        low = _BY_NAME[name].low
        return None if version >= low else "is in this catalog from stack %s on, not %s" % (low, version)

    excluded = {name for name, _explicit in expand(exclude, "exclude")}
    if include is None:
        chosen = [c for c in COMPONENTS if reason(c) is None]
    else:
        wanted = set()
        for name, explicit in expand(include, "include"):
            why = reason(name)
            if why is None:
                wanted.add(name)
            elif explicit:
                raise ECKError("component %s %s" % (name, why))
        chosen = [c for c in COMPONENTS if c in wanted]
    return [c for c in chosen if c not in excluded]


def _base(value: Any, option: str) -> str:
    text = str(value or "").strip()
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", text):
        raise ECKError("%s %r is not an http(s) URL" % (option, value))
    return text if text.endswith("/") else text + "/"


def elastic_artifact_files(stack_version: Any, platforms: Any, include: Any = None, exclude: Any = None,
                           base_url: Any = ARTIFACTS_BASE, endpoint_base_url: Any = ENDPOINT_BASE,
                           endpoint_manifest_checksum: Any = None) -> list[dict[str, Any]]:
    """The ``files`` of ``artifact_mirror`` for *stack_version* on *platforms*: one entry per file,
    ``{url, path}`` (checksum ``URL.sha512``; ``URL.asc`` verified when ``signature_keys`` is given),
    and for the Endpoint manifest ``{url, path, checksum, signature: false}``.

    ``path`` is always Elastic's (``downloads/<artifact_type>/<file>``), so the export tree has
    the layout of artifacts.elastic.co even when *base_url* names another server."""
    version = _stack(stack_version)
    if isinstance(platforms, str):
        platforms = [p for p in platforms.split(",") if p.strip()]
    if not isinstance(platforms, (list, tuple)) or not platforms:
        raise ECKError("platforms: give at least one platform, for instance linux/amd64")
    keys = list(dict.fromkeys(platform_key(p) for p in platforms))
    pinned = None
    if endpoint_manifest_checksum not in (None, ""):
        pinned = str(endpoint_manifest_checksum).strip()
        if not _PINNED.match(pinned):
            raise ECKError("endpoint_manifest_checksum %r is not sha256:HEX or sha512:HEX" % endpoint_manifest_checksum)
    base = _base(base_url, "base_url")
    files: list[dict[str, Any]] = []
    for name in _selected(version, include, exclude, pinned):
        if name == "endpoint_manifest":
            rel = "endpoint/manifest/artifacts-%s.zip" % version
            files.append({"url": _base(endpoint_base_url, "endpoint_base_url") + rel, "path": "downloads/" + rel,
                          "checksum": pinned, "signature": False})
            continue
        art = _BY_NAME[name]
        for os_name, arch in keys:
            if art.linux_only and os_name not in ("linux", "deb", "rpm"):
                continue
            rel = "%s/%s-%s-%s" % (art.directory, art.file, version, _SUFFIX[(os_name, arch)])
            files.append({"url": base + rel, "path": "downloads/" + rel})
    return files
