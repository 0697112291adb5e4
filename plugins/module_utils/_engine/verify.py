# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, optional third step: check that the destination really holds every blob and manifest of
the images it claims to hold (``verify=true``, the final run after sharded workers)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .._oci.errors import OCIError
from .job import ImageJob, Status, iter_jobs


def verify(jobs: list[ImageJob], concurrency: int = 8) -> list[ImageJob]:
    """Deep check of every resolved image the destination claims to hold: each blob and each
    manifest of it, by HEAD, in its destination repository. An image missing anything is planned
    for copy again (its missing digests in ``job.missing``), so the copy completes it."""
    todo = [j for j in iter_jobs(jobs)
            if j.status == Status.PRESENT and j.root is not None and j.dest.kind == "registry"]

    def check(job: ImageJob) -> None:
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
            job.status = Status.COPY

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(check, todo))
    return jobs
