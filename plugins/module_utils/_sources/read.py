# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Image-list readers: turn the files vendors ship into normalized image references.

No Ansible imports: the filter and lookup plugins are thin wrappers around these functions.
Every reader returns normalized reference strings (:func:`_oci.reference.parse`), deduplicated,
in a stable order (the order of the input); readers that know the identity of an entry can also
return records (``records=True``), one per entry, not deduplicated.

One module per input format; this one dispatches by format name (the lookup plugin). How
documents are given (text, slurp results, parsed data) and the errors are in :mod:`.documents`.
The Elastic Stack image catalog is product knowledge: ``_products.elastic_catalog``.
"""

from __future__ import annotations

from typing import Any

from .documents import DEFAULT_TAG, SourceError
from .ess_images import ess_image_records, read_ess_images
from .microshift import microshift_release_records, read_microshift_release
from .plain_list import read_image_list
from .query import query_images
from .skopeo_sync import read_skopeo_sync

FORMATS = ("microshift", "ess", "skopeo_sync", "list", "query")


def read_source(fmt: str, value: Any, name: str | None = None, query: str | None = None, records: bool = False,
                default_tag: str | None = DEFAULT_TAG) -> list[Any]:
    """Read one document of format *fmt* (one of :data:`FORMATS`)."""
    if fmt == "microshift":
        return microshift_release_records(value, name) if records else read_microshift_release(value, name)
    if fmt == "ess":
        return ess_image_records(value, name) if records else read_ess_images(value, name)
    if records:
        raise SourceError("records are available for the microshift and ess formats only, not %r" % fmt, name)
    if fmt == "skopeo_sync":
        return read_skopeo_sync(value, name)
    if fmt == "list":
        return read_image_list(value, name, default_tag=default_tag)
    if fmt == "query":
        return query_images(value, query, name, default_tag=default_tag)
    raise SourceError("unknown format %r (known: %s)" % (fmt, ", ".join(FORMATS)), name)
