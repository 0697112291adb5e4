# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""eck-diagnostics in an air gap: the ``--diagnostic-image`` from the mirror map."""

from __future__ import annotations

from typing import Any

from ..._mirrormap import io as _mmio
from ..._oci import reference as _ref
from .images import DEFAULT_REGISTRY, DIAGNOSTICS_IMAGE, ECKError, check_source_registry


def diagnostic_image(mirror_map: Any, version: str | None = None, repository: str | None = None,
                     source_registry: str = DEFAULT_REGISTRY) -> str:
    """The ``--diagnostic-image`` for eck-diagnostics: the mirror location of the support
    diagnostics image (the one tagged *version*, or the only one mirrored), mirrored from
    *repository* (default ``<source_registry>/eck-dev/support-diagnostics``)."""
    entries = _mmio.coerce(mirror_map)
    if not repository:
        repository = "%s/%s" % (check_source_registry(source_registry), DIAGNOSTICS_IMAGE)
    wanted = _ref.parse(repository).name
    found = []
    for entry in entries.by_source_name(wanted):
        src = entry.source
        if version is None or src.tag == str(version):
            dest = entry.registry_destination
            if dest is None:
                raise ECKError("%s is mirrored to an OCI layout (%s), not a registry" % (src, entry.destination))
            found.append((src, dest.ref))
    if not found:
        raise ECKError("%s%s is not in the mirror map; run eck-diagnostics once without arguments to "
                       "see which image it uses, and mirror it" % (wanted, ":%s" % version if version else ""))
    if len({str(d) for _s, d in found}) > 1:
        raise ECKError("several %s images are mirrored (%s); give the version"
                       % (wanted, ", ".join(sorted(str(s) for s, _d in found))))
    return str(found[0][1].without_digest())
