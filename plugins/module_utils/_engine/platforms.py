# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, with a platforms filter: the image a job copies is its source filtered to the wanted
platforms (``_oci/platforms.select``). The mirror then serves a filtered index with a digest of
its own; the job keeps the source's digest in ``source_digest`` (the mirror map's ``source_digest``).

A re-run with the mirror map as lockfile is exact: the source's index is fetched (one GET instead
of a HEAD) and filtered again; the image is present when that gives the digest the entry records
and the destination serves. A changed filter gives another digest, so the image is copied again.
"""

from __future__ import annotations

from .._mirrormap.model import Entry
from .._oci import graph as _graph
from .._oci import manifest as _manifest
from .._oci import platforms as _platforms
from .._oci.errors import DigestMismatch, ManifestError, NotFound
from .job import ImageJob

#: a config larger than this is not an image config worth reading for its platform
MAX_CONFIG_BYTES = 4 * 1024 * 1024

_Fetched = tuple[bytes, "str | None"]


class ManifestCache:
    """Child manifests of one job's source, fetched once (and the filter's rewritten indexes)."""

    def __init__(self, job: ImageJob) -> None:
        self.job = job
        self.fetched: dict[str, _Fetched] = {}

    def add(self, man: _manifest.Manifest) -> None:
        self.fetched[man.digest] = (man.data, man.media_type)

    def fetch(self, desc: _manifest.Descriptor, where: str) -> _Fetched:
        found = self.fetched.get(desc.digest)
        if found is None:
            found = self.fetched[desc.digest] = self.job.src.fetch_manifest(desc.digest, image=self.job.source)
        return found

    def fetch_or_none(self, desc: _manifest.Descriptor, where: str) -> _Fetched | None:
        try:
            return self.fetch(desc, where)
        except NotFound:
            return None

    def config_platform(self, man: _manifest.Manifest) -> _platforms.Platform | None:
        return _platforms.config_platform_of(man, self._read_config)

    def _read_config(self, desc: _manifest.Descriptor) -> bytes:
        if desc.size > MAX_CONFIG_BYTES:
            return b"{}"
        data = b"".join(self.job.src.open_blob(desc, 0, image=self.job.source))
        _manifest.verify_digest(data, desc.digest, "config %s" % desc.digest, image=self.job.source)
        return data


def recorded_source_digest(job: ImageJob) -> str | None:
    """For a layout source: the source digest its index.json records for a filtered image."""
    recorded = getattr(job.src, "recorded_source_digest", None)
    return recorded(job.src_ident) if recorded is not None and job.src_ident else None


def expected_digest(job: ImageJob) -> str | None:
    """What the source's top manifest must hash to: the pinned digest, except for a layout holding
    that image filtered (its ref name pins the source's digest; the layout's own is checked)."""
    if job.expect_digest is not None and recorded_source_digest(job) == job.expect_digest:
        found = job.src.resolve(job.src_ident, image=job.source)
        return found[0] if found else None
    return job.expect_digest


def select(job: ImageJob, root: _manifest.Manifest, cache: ManifestCache, where: str) -> _manifest.Manifest:
    """The root the job copies: *root* filtered to the job's platforms (root itself without a
    filter). Sets ``source_digest``, ``filtered_platforms`` and ``bytes_filtered_out`` on the job.
    Raises :class:`~.._oci.platforms.NoMatchingPlatform` (an image without a wanted platform)."""
    recorded = recorded_source_digest(job)
    if recorded is not None and recorded != root.digest:
        job.source_digest = recorded  # filtered on its way into the layout it is read from
    if not job.platform_filter:
        return root
    # the whole image first, to tell what the filter saves (its manifests are fetched once)
    full = _graph.walk(root, cache.fetch_or_none, where)
    for man in full.manifests:
        cache.add(man)
    sel = _platforms.select(root, job.platform_filter, cache.fetch, cache.config_platform, where, image=job.source)
    for man in sel.rewritten.values():
        cache.add(man)
    job.filtered_platforms = list(sel.kept)
    if sel.filtered:
        job.source_digest = job.source_digest or root.digest
        kept = _graph.walk(sel.root, cache.fetch, where)
        job.bytes_filtered_out = max(0, full.size - kept.size)
    return sel.root


def lock_digest(job: ImageJob, entry: Entry) -> str | None:
    """With a filter: the digest the filtered source has now, when the source is still the image
    *entry* was made from (else None: resolve it in full)."""
    try:
        data, ctype = job.src.fetch_manifest(job.src_ident, image=job.source)
        root = _manifest.parse(data, ctype, expected_digest=expected_digest(job), where="manifest of %s" % job.source)
    except (NotFound, ManifestError, DigestMismatch):
        return None
    if root.digest not in (entry.upstream_digest, entry.digest):
        return None
    cache = ManifestCache(job)
    sel = _platforms.select(root, job.platform_filter, cache.fetch, cache.config_platform,
                            "manifest of %s" % job.source, image=job.source)
    job.filtered_platforms = list(sel.kept)
    job.source_digest = recorded_source_digest(job) or (root.digest if sel.filtered else None)
    return sel.root.digest
