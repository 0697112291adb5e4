# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan: turn the requested images into jobs and resolve every one of them into digests, the
manifest tree and the blob graph, before a single byte is copied.

The plan gives check mode (what would be copied, how many bytes), diff (destination digests before
and after), the free-space preflight, cheap no-op re-runs and the mirror map.

A re-run is cheap: with the previous mirror map as lockfile, an image whose source digest is known
(pinned by digest, or one HEAD for a tag) and whose destination already holds that digest costs one
HEAD on the destination and nothing else.
"""

from __future__ import annotations

import datetime
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from .._oci import manifest as _manifest
from .._oci import reference as _ref
from .auth import Credentials
from .._oci.errors import InvalidReference, LayoutError, ManifestError, NotFound, OCIError
from .dirtree import DirTree
from .layout import DirExport, Layout, find_dir_exports
from .._mirrormap.naming import Mapping, digest_tag
from .pool import ClientPool  # noqa: F401  # re-exported: importers of plan.ClientPool keep working
from .repos import DirExportImage, LayoutRepo, RegistryRepo, attachment_tags, is_digest, referrers_tag

TAG_STYLES = ("deterministic", "timestamp", "none")


class ImageJob:
    """One image to copy (or an artifact attached to one) and, after resolution, its plan."""

    def __init__(self, source, src, src_ident, dest, dest_ident, src_ref=None, expect_digest=None, parent=None):
        self.source = source
        self.src = src
        self.src_ident = src_ident
        self.dest = dest
        self.dest_ident = dest_ident
        self.src_ref = src_ref
        self.expect_digest = expect_digest
        self.parent = parent
        self.referrer = None  # (subject digest, descriptor) for a referrer found with the referrers API
        self.root = None
        self.manifests = []  # children before parents, root last
        self.blobs = {}
        self.digest = None
        self.media_type = None
        self.platforms = []
        self.size = 0
        self.before = None
        self.status = "pending"  # present | copy | copied | failed
        self.error = None
        self.attachments = []
        self.attachment_tags = []
        self.from_lock = False
        self.missing = []  # digests a deep check (verify) found missing at the destination
        self.bytes = 0
        self.blob_counts = {"copied": 0, "mounted": 0, "skipped": 0}
        self.started = None
        self.finished = None

    @property
    def attachment_name(self):
        """How the mirror map names an attachment: its tag, or its digest for a referrer."""
        if self.referrer is not None:
            return self.referrer[1]["digest"]
        return str(self.dest_ident).rsplit(":", 1)[-1]

    @property
    def destination(self):
        return self.dest.describe(self.dest_ident) if self.dest is not None else None

    def fail(self, error):
        err = error if isinstance(error, OCIError) else OCIError(str(error))
        self.error = err.copy_for(self.source)
        self.status = "failed"

    def __repr__(self):
        return "ImageJob(%s -> %s, %s)" % (self.source, self.destination, self.status)


def parse_location(text):
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


def timestamp_tag(index, now=None):
    """The seed's ``mirror-<yymmddHHMMSS>-<n>`` tag (not idempotent: new tags every run)."""
    now = now or datetime.datetime.now()
    return "mirror-%s-%d" % (now.strftime("%y%m%d%H%M%S"), index)


def build_jobs(images, dest, pool, src=None, mapping_mode="keep", overrides=None, tag_style="deterministic",
               src_registry=None, warnings: list[str] | None = None):
    """Make jobs from the requested images.

    *images*: strings (source references; with *src*: ref names of the layout, relative paths of a
    dir: tree or the full source references of its exports (see dirtree.py), or ``"all"``) or dicts
    ``{"src": ..., "dest": ...}`` with an explicit destination reference (a registry reference with
    tag, or a ref name for a layout destination).
    Returns ``(jobs, errors)``; *errors* are jobs that failed already (bad references, collisions).
    Warnings about the input (a dir: tree that *src_registry* may mislabel) are appended to
    *warnings* when given.
    """
    if tag_style not in TAG_STYLES:
        raise ValueError("tag style %r is not one of %s" % (tag_style, ", ".join(TAG_STYLES)))
    dest_kind, dest_path = parse_location(dest)
    layout_dest = Layout(dest_path, create=True) if dest_kind == "oci" else None
    if dest_kind == "dir":
        raise ValueError("dest cannot be a dir: export; write an OCI layout (oci:PATH) instead")
    mapping = Mapping(dest_path, mapping_mode, overrides) if dest_kind == "registry" else None

    src_kind, src_path = parse_location(src) if src else (None, None)
    src_layout = Layout(src_path) if src_kind == "oci" else None
    dir_exports = find_dir_exports(src_path) if src_kind == "dir" else None
    dir_tree = DirTree(src_path, dir_exports, src_registry) if dir_exports is not None else None
    if src_kind == "registry":
        raise ValueError("src must be oci:PATH or dir:PATH (leave it out to read from registries)")

    expanded = []
    for item in images or ():
        if item == "all":
            if src_layout is not None:
                # attached artifacts (signature tags, referrers indexes) travel with their subject
                expanded.extend(name for name, _d in src_layout.entries() if name and not _is_attachment_name(name))
            elif dir_exports is not None:
                expanded.extend(sorted(dir_exports))
            else:
                raise ValueError("'all' needs src (an OCI layout or a dir: tree to take every image from)")
        else:
            expanded.append(item)

    jobs, failed, seen, dest_owner = [], [], set(), {}
    now = datetime.datetime.now()  # one timestamp for the whole run, as the seed's script
    for n, item in enumerate(expanded, start=1):
        explicit_dest = None
        if isinstance(item, dict):
            unknown = set(item) - {"src", "dest"}
            if unknown or "src" not in item:
                failed.append(_failed_job(str(item), "an image entry needs 'src' (and optionally 'dest'), got %s"
                                          % ", ".join(sorted(item))))
                continue
            name, explicit_dest = item["src"], item.get("dest")
        else:
            name = item
        if not isinstance(name, str):
            failed.append(_failed_job(repr(name), "an image must be a reference string"))
            continue
        try:
            job = _make_job(name.strip(), explicit_dest, n, pool, mapping, layout_dest, src_layout, dir_tree,
                            tag_style, now)
        except (OCIError, ValueError) as exc:
            failed.append(_failed_job(name, exc))
            continue
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


_ATTACHMENT_TAG = re.compile(r"^(sha256|sha512)-[0-9a-f]+(\.sig|\.att|\.sbom)?$")


def _is_attachment_name(name):
    tag = name.rsplit(":", 1)[-1] if "/" in name and ":" in name.rsplit("/", 1)[-1] else None
    return bool(tag and _ATTACHMENT_TAG.match(tag))


def _failed_job(name, error):
    job = ImageJob(str(name), None, None, None, None)
    job.fail(error if isinstance(error, OCIError) else OCIError(str(error)))
    return job


def _make_job(name, explicit_dest, index, pool, mapping, layout_dest, src_layout, dir_tree, tag_style, now):
    src_ref = None
    if src_layout is not None:
        if src_layout.find(name) is None:
            raise LayoutError("%s is not recorded in the layout %s (index.json has no ref name %r)"
                              % (name, src_layout.path, name))
        # a ref name is a source reference only in full normalized form (as this module writes
        # them); other tools record short names such as "v1" or "latest"
        try:
            src_ref = _ref.parse(name)
        except InvalidReference:
            src_ref = None
        if src_ref is not None and str(src_ref) != name:
            src_ref = None
        src = LayoutRepo(src_layout, src_ref.name if src_ref else None)
        src_ident = name
        source = name
        expect = src_ref.digest if src_ref else None
    elif dir_tree is not None:
        rel, src_ref = dir_tree.find(name, explicit_dest)
        src = DirExportImage(DirExport(dir_tree.exports[rel]))
        src_ident = None
        source = str(src_ref) if src_ref else rel
        expect = src_ref.digest if src_ref else None
    else:
        src_ref = _ref.parse(name)
        src = RegistryRepo(pool.get(src_ref.registry), src_ref.repository)
        src_ident = src_ref.identifier
        if src_ident is None:
            src_ref = src_ref.with_tag("latest")
            src_ident = "latest"
        source = str(src_ref)
        expect = src_ref.digest

    if layout_dest is not None:
        if explicit_dest:
            ref_name = explicit_dest
        elif src_ref is not None:
            ref_name = str(src_ref)
        else:
            raise ValueError("%s is not a full image reference: give it an explicit dest ref name" % name)
        dest_repo = LayoutRepo(layout_dest, _ref.parse(ref_name).name if _parses(ref_name) else None)
        return ImageJob(source, src, src_ident, dest_repo, ref_name, src_ref=src_ref, expect_digest=expect)

    if explicit_dest:
        dest_ref = _ref.parse(explicit_dest)
        if dest_ref.tag is None and dest_ref.digest is None:
            dest_ref = mapping_tag(dest_ref, src_ref, expect, tag_style, index, now)
    else:
        if src_ref is None:
            raise ValueError("%s is not a full image reference: give it an explicit dest" % name)
        dest_ref = mapping.map(src_ref.without_digest() if src_ref.tag else src_ref,
                               tag_style="deterministic" if tag_style == "deterministic" else "none")
        if tag_style == "timestamp" and src_ref.tag is None:
            # the seed's scheme, only for digest-only sources (a tagged source keeps its tag)
            dest_ref = dest_ref.with_tag(timestamp_tag(index, now))
    dest_repo = RegistryRepo(pool.get(dest_ref.registry), dest_ref.repository)
    dest_ident = dest_ref.tag or dest_ref.digest or expect
    if dest_ident is None:
        raise ValueError("%s: no tag for the destination (use tag_style deterministic, or a tagged source)" % name)
    return ImageJob(source, src, src_ident, dest_repo, dest_ident, src_ref=src_ref, expect_digest=expect)


def mapping_tag(dest_ref, src_ref, expect, tag_style, index, now=None):
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


def _parses(text):
    try:
        _ref.parse(text)
        return True
    except InvalidReference:
        return False


# ------------------------------------------------------------------------------------ resolve

class _TagCache:
    """Tag lists of source repositories, fetched once per repository."""

    def __init__(self):
        self._lock = threading.Lock()
        self._events = {}
        self._values = {}

    def get(self, src, image):
        key = src.key
        with self._lock:
            event = self._events.get(key)
            owner = event is None
            if owner:
                event = self._events[key] = threading.Event()
        if owner:
            try:
                self._values[key] = src.list_tags(image=image)
            except OCIError as exc:
                self._values[key] = exc
            finally:
                event.set()
        event.wait()
        value = self._values[key]
        if isinstance(value, OCIError):
            raise value.copy_for(image)
        return value


def resolve(jobs, concurrency=8, lock_entries=None, attachments=True):
    """Resolve every job (concurrently). Failures are recorded on the job, never raised."""
    lock = {}
    for entry in lock_entries or ():
        lock[(entry["source"], entry["destination"])] = entry
    tags = _TagCache()
    todo = [j for j in jobs if j.status == "pending"]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(lambda job: _resolve_job(job, lock, tags, attachments), todo))
    pending = [a for job in todo for a in job.attachments if a.status == "pending"]
    if pending:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            list(pool.map(lambda att: _resolve_job(att, {}, tags, False), pending))
    return jobs


def _resolve_job(job, lock, tags, attachments):
    try:
        if not _from_lock(job, lock, tags, attachments):
            _resolve_full(job)
            if attachments and job.src.kind in ("registry", "layout"):
                _find_attachments(job, tags)
    except OCIError as exc:
        job.fail(exc)
    except Exception as exc:  # a bug must not take the other images down: report it on the image
        job.fail(OCIError("internal error while resolving: %s: %s" % (type(exc).__name__, exc)))


def _from_lock(job, lock, tags, attachments):
    entry = lock.get((job.source, job.destination))
    if entry is None:
        return False
    digest = job.expect_digest
    if digest is None:
        found = job.src.resolve(job.src_ident, image=job.source)
        digest = found[0] if found else None
    if digest != entry["digest"]:
        return False
    if job.dest.current_digest(job.dest_ident, image=job.source) != digest:
        return False
    if attachments and job.src.kind == "registry":
        wanted = attachment_tags(tags.get(job.src, job.source), [digest])
        if referrers_tag(digest) not in wanted:
            wanted += [d.get("digest") for d in job.src.referrers(digest, image=job.source) or ()]
        if not set(wanted) <= set(entry.get("attachments") or ()):
            return False
    job.digest = digest
    job.before = digest
    job.media_type = entry["media_type"]
    job.platforms = list(entry.get("platforms") or ())
    job.size = int(entry.get("size") or 0)
    job.attachment_tags = list(entry.get("attachments") or ())
    job.status = "present"
    job.from_lock = True
    return True


def _resolve_full(job):
    image = job.source
    data, ctype = job.src.fetch_manifest(job.src_ident, image=image)
    root = _manifest.parse(data, ctype, expected_digest=job.expect_digest,
                           where="manifest of %s" % job.src.describe(job.src_ident))
    ordered, blobs, platforms = [], {}, []
    _walk(job, root, ordered, blobs, platforms, depth=0, where="manifest of %s" % image)
    job.root = root
    job.manifests = ordered
    job.blobs = blobs
    job.digest = root.digest
    job.media_type = root.media_type
    job.platforms = platforms
    job.size = sum(m.size for m in ordered) + sum(d.size for d in blobs.values())
    job.before = job.dest.current_digest(job.dest_ident, image=image)
    complete = job.before == root.digest
    if complete and job.dest.kind == "layout":
        complete = all(job.dest.layout.has_blob(d.digest, d.size) for d in blobs.values()) and \
            all(job.dest.layout.has_blob(m.digest, m.size) for m in ordered)
    job.status = "present" if complete else "copy"


def _walk(job, man, ordered, blobs, platforms, depth, where):
    if depth > 4:
        raise ManifestError("%s: indexes nested deeper than 4 levels" % where)
    if man.is_index:
        for desc in man.children:
            child_where = _manifest.child_where(where, desc)
            if desc.media_type not in _manifest.MANIFEST_TYPES:
                raise ManifestError("%s has an unknown media type %r" % (child_where, desc.media_type))
            try:
                data, ctype = job.src.fetch_manifest(desc.digest, image=job.source)
            except NotFound as exc:
                raise ManifestError("%s: the index lists %s, which the source does not have (%s)" % (
                    where, desc.digest, exc.message), image=job.source) from None
            child = _manifest.parse(data, ctype or desc.media_type, expected_digest=desc.digest, where=child_where)
            if child.size != desc.size:
                raise ManifestError("%s: the index says %d bytes, the manifest has %d"
                                    % (child_where, desc.size, child.size))
            if desc.platform_string and not child.is_index and desc.platform_string not in platforms:
                platforms.append(desc.platform_string)
            _walk(job, child, ordered, blobs, platforms, depth + 1, child_where)
    else:
        for desc in man.blobs:
            blobs.setdefault(desc.digest, desc)
    if all(m.digest != man.digest for m in ordered):
        ordered.append(man)


def _find_attachments(job, tags):
    digests = [m.digest for m in job.manifests]
    found = attachment_tags(tags.get(job.src, job.source), digests)
    for tag in found:
        if job.src.kind == "registry":
            src_ident = tag
            source = "%s:%s" % (job.src.describe(), tag)
        else:
            src_ident = "%s:%s" % (job.src.name, tag)
            source = src_ident
        if job.dest.kind == "registry":
            dest_ident = tag
        else:
            base = job.src_ref.name if job.src_ref else job.dest.name
            dest_ident = "%s:%s" % (base, tag)
        att = ImageJob(source, job.src, src_ident, job.dest, dest_ident, parent=job)
        job.attachments.append(att)
    job.attachment_tags = list(found)
    if job.src.kind != "registry":
        return
    # OCI referrers API: referrers pushed by digest that no tag lists. A subject whose referrers
    # tag-schema index is already copied above needs no API call.
    seen = set()
    for digest in digests:
        if referrers_tag(digest) in found:
            continue
        descriptors = job.src.referrers(digest, image=job.source)
        if descriptors is None:
            break  # the source has no referrers API
        for desc in descriptors:
            ref_digest = desc.get("digest")
            if not ref_digest or ref_digest in seen:
                continue
            seen.add(ref_digest)
            att = ImageJob("%s@%s" % (job.src.describe(), ref_digest), job.src, ref_digest, job.dest, ref_digest,
                           parent=job)
            att.referrer = (digest, desc)
            job.attachments.append(att)
            job.attachment_tags.append(ref_digest)


def verify(jobs, concurrency=8):
    """Deep check of every resolved image the destination claims to hold: each blob and each
    manifest of it, by HEAD, in its destination repository. An image missing anything is planned
    for copy again (its missing digests in ``job.missing``), so the copy completes it."""
    todo = [j for j in iter_jobs(jobs) if j.status == "present" and j.root is not None and j.dest.kind == "registry"]

    def check(job):
        missing = []
        try:
            for desc in job.blobs.values():
                if not job.dest.has_blob(desc, image=job.source):
                    missing.append(desc.digest)
            for man in job.manifests:
                if man is not job.root and job.dest.current_digest(man.digest, image=job.source) != man.digest:
                    missing.append(man.digest)
        except OCIError as exc:
            job.fail(exc)
            return
        if missing:
            job.missing = missing
            job.status = "copy"

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(check, todo))
    return jobs


def unique_blobs(jobs, statuses=("copy",)):
    """{(blob scope, digest): Descriptor} of the jobs (and attachments) in *statuses*."""
    out = {}
    for job in iter_jobs(jobs):
        if job.status in statuses:
            for desc in job.blobs.values():
                out.setdefault((job.dest.blob_scope, desc.digest), desc)
    return out


def iter_jobs(jobs):
    for job in jobs:
        yield job
        yield from job.attachments


def explicit_credentials(pairs):
    """{registry: Credentials} from ``[(registry, username, password)]`` leaving out empty ones."""
    out = {}
    for registry, username, password in pairs:
        if registry and (username or password):
            out[_ref.normalize_registry(registry)] = Credentials(username, password)
    return out


__all__ = ["ImageJob", "ClientPool", "build_jobs", "resolve", "verify", "unique_blobs", "iter_jobs", "parse_location",
           "explicit_credentials", "is_digest"]
