# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""What a prune needs to know of the mirror: per repository, tags -> digest and the manifests
(children, blobs, subject), and the state fingerprint. It is a view of the inventory
(``_inventory``), which reads the registry; :mod:`.plan` works on this view only, so its rules
are tested without a registry."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    """One manifest in one repository."""

    digest: str
    media_type: str
    size: int
    #: index children (manifest digests)
    children: tuple[str, ...] = ()
    #: config and layers: (digest, size)
    blobs: tuple[tuple[str, int], ...] = ()
    #: the OCI ``subject`` (a referrer's image), if any
    subject: str | None = None


@dataclass
class Repo:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, Node] = field(default_factory=dict)


@dataclass
class MirrorState:
    registry: str
    repositories: dict[str, Repo] = field(default_factory=dict)
    fingerprint: str = ""
