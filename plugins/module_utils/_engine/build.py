# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, first step: turn the requested images into jobs - where each comes from and where it
goes - before anything is resolved. Bad references and destination collisions fail here."""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._mirrormap.model import check_layout_path
from .._mirrormap.naming import Mapping, digest_tag
from .._oci import platforms as _platforms
from .._oci import reference as _ref
from .._oci.errors import InvalidReference, LayoutError, OCIError
from .job import ImageJob
from .repos import DirExportImage, LayoutRepo, RegistryRepo
from .request import Naming
from .selection import expand_selections
from .sources import SourceMirrors, source_repo

if TYPE_CHECKING:  # imported where used: a registry-to-registry run loads neither
    from .dirtree import DirTree
    from .layout import Layout


def parse_location(text: str) -> tuple[str, str]:
    """'oci:PATH' -> ('oci', PATH); 'dir:PATH' -> ('dir', PATH); anything else is a registry."""
    if isinstance(text, str):
        for kind in ("oci", "dir"):
            if text.startswith(kind + ":"):
                path = text[len(kind) + 1:]
                if path.startswith("//"):
                    path = path[2:]
                if not path:
                    raise ValueError("%r names no path" % text)
                return kind, path
    return "registry", text


def timestamp_tag(index: int, now: datetime.datetime | None = None) -> str:
    """The seed's ``mirror-<yymmddHHMMSS>-<n>`` tag (not idempotent: new tags every run)."""
    now = now or datetime.datetime.now()
    return "mirror-%s-%d" % (now.strftime("%y%m%d%H%M%S"), index)


def build_jobs(images: Iterable[Any], dest: str, pool: Any, src: str | None = None, naming: Naming = Naming(),
               warnings: list[str] | None = None,
               sources: SourceMirrors | None = None,
               platforms: Iterable[str] = ()) -> tuple[list[ImageJob], list[ImageJob]]:
    """Make jobs from the requested images.

    *images*: strings (source references; with *src*: ref names of the layout, relative paths of a
    dir: tree or the full source references of its exports (see dirtree.py), or ``"all"``) or dicts
    ``{"src": ..., "dest": ...}`` with an explicit destination reference (a registry reference with
    tag, or a ref name for a layout destination), or ``{"src": REPOSITORY, "tags": SELECTOR}``: the
    repository's tags that SELECTOR selects, listed now (selection.py).
    Returns ``(jobs, errors)``; *errors* are jobs that failed already (bad references, collisions).
    *naming* says how registry destinations are named. *pool* is the ClientPool of the run.
    Warnings about the input (a dir: tree that ``naming.src_registry`` may mislabel) are appended
    to *warnings* when given. *sources*: pull-through rules for registry sources (sources.py).
    *platforms*: ``os/arch[/variant]`` to copy of each image (empty: all); a dict entry's
    ``platforms`` key overrides it for that image (``[]``: all).
    """
    wanted = _platforms.parse_filter(platforms)
    dest_kind, dest_path = parse_location(dest)
    if dest_kind == "oci":
        check_layout_path(dest_path)  # the mirror map records oci:PATH:REF
    layout_dest = _layout(dest_path, create=True) if dest_kind == "oci" else None
    if dest_kind == "dir":
        raise ValueError("dest cannot be a dir: export; write an OCI layout (oci:PATH) instead")
    mapping = Mapping(dest_path, naming.mapping, dict(naming.overrides)) if dest_kind == "registry" else None

    src_kind, src_path = parse_location(src) if src else (None, "")
    src_layout = _layout(src_path) if src_kind == "oci" else None
    dir_tree = _dir_tree(src_path, naming.src_registry) if src_kind == "dir" else None
    dir_exports = dir_tree.exports if dir_tree is not None else None
    if src_kind == "registry":
        raise ValueError("src must be oci:PATH or dir:PATH (leave it out to read from registries)")

    selected, unselected = expand_selections(images, pool, src_layout, dir_exports is not None)
    expanded = _expand(selected, src_layout, dir_exports)
    jobs: list[ImageJob] = []
    failed: list[ImageJob] = []
    for entry, error in unselected:
        failed.append(_failed_job(entry, error))
        failed[-1].selection = entry  # the map keeps what earlier runs recorded of it
    seen: set[tuple[str, str | None]] = set()
    dest_owner: dict[str | None, ImageJob] = {}
    # one timestamp for the whole run, as the seed's script
    ctx = _Context(pool, mapping, layout_dest, src_layout, dir_tree, naming.tag_style, datetime.datetime.now(),
                   sources)
    for n, item in enumerate(expanded, start=1):
        explicit_dest = None
        job_platforms = wanted
        if isinstance(item, dict):
            unknown = set(item) - {"src", "dest", "platforms"}
            if unknown or "src" not in item:
                failed.append(_failed_job(str(item), "an image entry needs 'src' (and optionally 'dest' and "
                                          "'platforms'), got %s"
                                          % ", ".join(sorted(item))))
                continue
            name, explicit_dest = item["src"], item.get("dest")
            if "platforms" in item:
                try:
                    job_platforms = _platforms.parse_filter(item["platforms"], "platforms of %s" % item["src"])
                except ValueError as exc:
                    failed.append(_failed_job(item["src"], exc))
                    continue
        else:
            name = item
        if not isinstance(name, str):
            failed.append(_failed_job(repr(name), "an image must be a reference string"))
            continue
        try:
            job = _make_job(ctx, name.strip(), explicit_dest, n)
        except (OCIError, ValueError) as exc:
            failed.append(_failed_job(name, exc))
            continue
        job.platform_filter = job_platforms
        key = (job.source, job.destination)
        if key in seen:
            continue
        seen.add(key)
        owner = dest_owner.get(job.destination)
        if owner is not None:
            msg = "%s and %s would both be written to %s" % (owner.source, job.source, job.destination)
            failed.append(_failed_job(job.source, msg))
            if owner in jobs:
                jobs.remove(owner)
                failed.append(_failed_job(owner.source, msg))
            continue
        dest_owner[job.destination] = job
        jobs.append(job)
    if dir_tree is not None and warnings is not None:
        warnings.extend(dir_tree.warnings())
    return jobs, failed


def _layout(path: str, create: bool = False) -> Layout:
    """The OCI layout at *path* (imported here: a registry-to-registry run never loads it)."""
    from .layout import Layout
    return Layout(path, create=create)


def _dir_tree(path: str, src_registry: str | None) -> DirTree:
    """The skopeo ``dir:`` tree at *path*: its exports, and the registry its images came from."""
    from .direxport import find_dir_exports
    from .dirtree import DirTree
    return DirTree(path, find_dir_exports(path), src_registry)


def _expand(images: Iterable[Any], src_layout: Layout | None, dir_exports: dict[str, str] | None) -> list[Any]:
    """The requested images, with ``"all"`` replaced by every image of the source."""
    expanded: list[Any] = []
    for item in images or ():
        if item != "all":
            expanded.append(item)
        elif src_layout is not None:
            # attached artifacts (signature tags, referrers indexes) travel with their subject
            expanded.extend(name for name, _d in src_layout.entries() if name and not _is_attachment_name(name))
        elif dir_exports is not None:
            expanded.extend(sorted(dir_exports))
        else:
            raise ValueError("'all' needs src (an OCI layout or a dir: tree to take every image from)")
    return expanded


_ATTACHMENT_TAG = re.compile(r"^(sha256|sha512)-[0-9a-f]+(\.sig|\.att|\.sbom|\.gpgsig)?$")


def _is_attachment_name(name: str) -> bool:
    tag = name.rsplit(":", 1)[-1] if "/" in name and ":" in name.rsplit("/", 1)[-1] else None
    return bool(tag and _ATTACHMENT_TAG.match(tag))


def _failed_job(name: Any, error: Exception | str) -> ImageJob:
    job = ImageJob(str(name), None, None, None, None)
    job.fail(error if isinstance(error, OCIError) else OCIError(str(error)))
    return job


@dataclasses.dataclass(frozen=True)
class _Context:
    """What every job of one build_jobs call is made with."""

    pool: Any
    mapping: Mapping | None
    layout_dest: Layout | None
    src_layout: Layout | None
    dir_tree: DirTree | None
    tag_style: str
    now: datetime.datetime
    sources: SourceMirrors | None = None


def _make_job(ctx: _Context, name: str, explicit_dest: str | None, index: int) -> ImageJob:
    job = _source_job(ctx, name, explicit_dest)
    src_ref, expect = job.src_ref, job.expect_digest
    if ctx.layout_dest is not None:
        if explicit_dest:
            ref_name = explicit_dest
        elif src_ref is not None:
            ref_name = str(src_ref)
        else:
            raise ValueError("%s is not a full image reference: give it an explicit dest ref name" % name)
        job.dest = LayoutRepo(ctx.layout_dest, _ref.parse(ref_name).name if _parses(ref_name) else None)
        job.dest_ident = ref_name
        return job

    if explicit_dest:
        dest_ref = _ref.parse(explicit_dest)
        if dest_ref.tag is None and dest_ref.digest is None:
            dest_ref = mapping_tag(dest_ref, src_ref, expect, ctx.tag_style, index, ctx.now)
    else:
        if src_ref is None or ctx.mapping is None:
            raise ValueError("%s is not a full image reference: give it an explicit dest" % name)
        dest_ref = ctx.mapping.map(src_ref.without_digest() if src_ref.tag else src_ref,
                                   tag_style="deterministic" if ctx.tag_style == "deterministic" else "none")
        if ctx.tag_style == "timestamp" and src_ref.tag is None:
            # the seed's scheme, only for digest-only sources (a tagged source keeps its tag)
            dest_ref = dest_ref.with_tag(timestamp_tag(index, ctx.now))
    job.dest = RegistryRepo(ctx.pool.get(dest_ref.registry), dest_ref.repository)
    job.dest_ident = dest_ref.tag or dest_ref.digest or expect
    if job.dest_ident is None:
        raise ValueError("%s: no tag for the destination (use tag_style deterministic, or a tagged source)" % name)
    return job


def _source_job(ctx: _Context, name: str, explicit_dest: str | None) -> ImageJob:
    """A job with its source side only: from the source layout, dir: tree, or registry."""
    src_ref: _ref.Reference | None
    if ctx.src_layout is not None:
        if ctx.src_layout.find(name) is None:
            raise LayoutError("%s is not recorded in the layout %s (index.json has no ref name %r)"
                              % (name, ctx.src_layout.path, name))
        # a ref name is a source reference only in full normalized form (as this module writes
        # them); other tools record short names such as "v1" or "latest"
        try:
            src_ref = _ref.parse(name)
        except InvalidReference:
            src_ref = None
        if src_ref is not None and str(src_ref) != name:
            src_ref = None
        src = LayoutRepo(ctx.src_layout, src_ref.name if src_ref else None)
        return ImageJob(name, src, name, None, None, src_ref=src_ref,
                        expect_digest=src_ref.digest if src_ref else None)
    if ctx.dir_tree is not None:
        rel, src_ref = ctx.dir_tree.find(name, explicit_dest)
        from .direxport import DirExport
        export = DirExportImage(DirExport(ctx.dir_tree.exports[rel]))
        return ImageJob(str(src_ref) if src_ref else rel, export, None, None, None, src_ref=src_ref,
                        expect_digest=src_ref.digest if src_ref else None)
    src_ref = _ref.parse(name)
    src_ident = src_ref.identifier
    if src_ident is None:
        src_ref = src_ref.with_tag("latest")
        src_ident = "latest"
    repo = source_repo(ctx.pool, src_ref, ctx.sources)
    return ImageJob(str(src_ref), repo, src_ident, None, None, src_ref=src_ref, expect_digest=src_ref.digest)


def mapping_tag(dest_ref: _ref.Reference, src_ref: _ref.Reference | None, expect: str | None, tag_style: str,
                index: int, now: datetime.datetime | None = None) -> _ref.Reference:
    """Tag for an explicit destination given without one."""
    if src_ref is not None and src_ref.tag and tag_style != "timestamp":
        return dest_ref.with_tag(src_ref.tag)
    if tag_style == "timestamp":
        return dest_ref.with_tag(timestamp_tag(index, now))
    if expect and tag_style == "deterministic":
        return dest_ref.with_tag(digest_tag(expect))
    if expect:
        return dest_ref.with_digest(expect)
    return dest_ref.with_tag("latest")


def _parses(text: str) -> bool:
    try:
        _ref.parse(text)
        return True
    except InvalidReference:
        return False
