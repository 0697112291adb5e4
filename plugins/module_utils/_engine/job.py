# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""An image job: one image to copy (or an artifact attached to one), its plan once resolved, and
its :class:`Status` as it moves through planning and copying."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from typing import Any

from .._mirrormap.model import Destination, LayoutDestination, RegistryDestination, Verified
from .._oci import manifest as _manifest
from .._oci import reference as _ref
from .._oci.errors import OCIError
from .._oci.platforms import Platform
from .repos import is_digest


class Status(str, enum.Enum):
    """Where an image stands. The values are the ``status`` strings of the module's RETURN."""

    PENDING = "pending"          # not resolved yet
    PRESENT = "present"          # complete in the destination
    COPY = "copy"                # to be copied
    COPIED = "copied"            # copied by this run
    WOULD_COPY = "would_copy"    # to be copied, in check mode (reports only)
    FAILED = "failed"
    DEFERRED = "deferred"        # left to the final run of a sharded mirroring
    OTHER_SHARD = "other_shard"  # another worker copies it

    def __str__(self) -> str:
        return self.value


#: An image that is in the destination once the run is over.
IN_PLACE = (Status.PRESENT, Status.COPIED)


class ImageJob:
    """One image to copy (or an artifact attached to one) and, after resolution, its plan.

    *src* and *dest* are repos of repos.py (``RegistryRepo``, ``LayoutRepo``, ``DirExportImage``).
    """

    def __init__(self, source: str, src: Any, src_ident: str | None, dest: Any, dest_ident: str | None,
                 src_ref: _ref.Reference | None = None, expect_digest: str | None = None,
                 parent: ImageJob | None = None) -> None:
        self.source = source
        self.src = src
        self.src_ident = src_ident
        self.dest = dest
        self.dest_ident = dest_ident
        self.src_ref = src_ref
        self.expect_digest = expect_digest
        self.parent = parent
        # (subject digest, descriptor) for a referrer found with the referrers API
        self.referrer: tuple[str, dict[str, Any]] | None = None
        self.root: _manifest.Manifest | None = None
        self.manifests: list[_manifest.Manifest] = []  # children before parents, root last
        self.blobs: dict[str, _manifest.Descriptor] = {}
        self.digest: str | None = None
        self.media_type: str | None = None
        self.platforms: list[str] = []
        self.size = 0
        self.before: str | None = None
        self.status = Status.PENDING
        self.error: OCIError | None = None
        self.attachments: list[ImageJob] = []
        self.attachment_tags: list[str] = []
        self.from_lock = False
        #: False when the image was taken from the lockfile without asking the source (immutable tags)
        self.source_checked = True
        self.locked_via: str | None = None  # source_via of the lockfile entry of an image found present
        self.missing: list[str] = []  # digests a deep check (verify) found missing at the destination
        self.selection: str | None = None  # the repository of a tag selection that failed (selection.py)
        self.bytes = 0
        self.blob_counts = {"copied": 0, "mounted": 0, "skipped": 0}
        self.started: float | None = None
        self.finished: float | None = None
        #: the platforms to copy (empty: all); see platforms.py
        self.platform_filter: tuple[Platform, ...] = ()
        #: with a filter that left something out: the source's digest (``digest`` is the mirror's)
        self.source_digest: str | None = None
        self.filtered_platforms: list[str] = []
        self.bytes_filtered_out = 0
        #: how the image was verified (signatures.py), or what the lockfile entry it was found by records
        self.verified: Verified | None = None
        #: the GPG signatures an attachment carries (the artifact signatures.py makes)
        self.gpg_signatures: list[bytes] = []

    @property
    def attachment_name(self) -> str:
        """How the mirror map names an attachment: its tag, or its digest for a referrer."""
        if self.referrer is not None:
            return str(self.referrer[1]["digest"])
        return str(self.dest_ident).rsplit(":", 1)[-1]

    @property
    def source_via(self) -> str | None:
        """The pull-through repository the image was fetched from (None: from its own registry).
        An image the lockfile found in place keeps what its entry records."""
        if self.from_lock:
            return self.locked_via
        via = getattr(self.src, "via", None)
        return via if isinstance(via, str) else None

    @property
    def destination(self) -> str | None:
        return self.dest.describe(self.dest_ident) if self.dest is not None else None

    @property
    def target(self) -> Destination | None:
        """The destination as the mirror map records it (None for a job that failed early)."""
        if self.dest is None or self.dest_ident is None:
            return None
        if self.dest.kind == "layout":
            return LayoutDestination(self.dest.layout.path, self.dest.ref_name(self.dest_ident))
        ident = self.dest_ident
        digest = ident if is_digest(ident) else None
        return RegistryDestination(_ref.Reference(self.dest.client.registry, self.dest.repository,
                                                  None if digest else ident, digest))

    def fail(self, error: OCIError | Exception | str) -> None:
        err = error if isinstance(error, OCIError) else OCIError(str(error))
        self.error = err.copy_for(self.source)
        self.status = Status.FAILED

    def __repr__(self) -> str:
        return "ImageJob(%s -> %s, %s)" % (self.source, self.destination, self.status.value)


def iter_jobs(jobs: Iterable[ImageJob]) -> Iterator[ImageJob]:
    """Every job and, after each, its attachments."""
    for job in jobs:
        yield job
        yield from job.attachments


def unique_blobs(jobs: Iterable[ImageJob],
                 statuses: tuple[Status, ...] = (Status.COPY,)) -> dict[tuple[Any, str], _manifest.Descriptor]:
    """{(blob scope, digest): Descriptor} of the jobs (and attachments) in *statuses*."""
    out: dict[tuple[Any, str], _manifest.Descriptor] = {}
    for job in iter_jobs(jobs):
        if job.status in statuses:
            for desc in job.blobs.values():
                out.setdefault((job.dest.blob_scope, desc.digest), desc)
    return out
