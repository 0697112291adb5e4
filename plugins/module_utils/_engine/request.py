# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""What to mirror, and how: the one typed request the engine's :func:`~.run.mirror` takes.

``airgap.mirror.image_mirror`` builds it from its options (``_backends/image_mirror.py``); the
demo, the benchmark and the tests build it directly. Every value has the module's default.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._mirrormap.model import MirrorMap
from .._oci.platforms import parse_filter
from .sources import SourceMirrors

if TYPE_CHECKING:  # imported by the runs that use them (run.py), not by every task
    from .shard import Shard
    from .signatures import Trust

TAG_STYLES = ("deterministic", "timestamp", "none")

#: the most small copy tasks in flight at once (see Limits.small_requests)
SMALL_REQUESTS_MAX = 32
#: the most look-ups in flight at once (see Limits.lookups); each registry's connection pool
#: (ClientOptions.max_connections: image_mirror sets twice concurrency, at least 16 and at least
#: this many) bounds them per registry too
LOOKUPS_MAX = 64
MAPPING_MODES = ("keep", "scoped", "flatten")


@dataclasses.dataclass(frozen=True)
class Naming:
    """How destination references are named (registry destinations)."""

    mapping: str = "keep"
    overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    tag_style: str = "deterministic"
    #: the registry of the images of a ``dir:`` tree whose exports do not name one
    src_registry: str | None = None

    def __post_init__(self) -> None:
        if self.tag_style not in TAG_STYLES:
            raise ValueError("tag style %r is not one of %s" % (self.tag_style, ", ".join(TAG_STYLES)))


@dataclasses.dataclass(frozen=True)
class Limits:
    """How much to do at once, and what to check first."""

    concurrency: int = 8
    #: refuse to copy into a layout whose file system cannot hold it (see copy.preflight_space)
    space_check: bool = True
    #: where the destination registry keeps its storage on this host (see mirrorspace.py; None: not checked)
    mirror_storage_path: str | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")

    @property
    def small_requests(self) -> int:
        """Copy tasks in flight at once for small blobs, mounts and manifests, whose time is a
        round trip more than their bytes: four times *concurrency* (at most
        :data:`SMALL_REQUESTS_MAX`, never fewer than *concurrency*); transfers of blobs over
        ``copy.SMALL_BLOB`` keep *concurrency*."""
        return max(self.concurrency, min(4 * self.concurrency, SMALL_REQUESTS_MAX))

    @property
    def lookups(self) -> int:
        """Requests in flight while resolving and checking (manifests, tag lists, HEADs), which
        carry no bytes to speak of and wait a round trip each: eight times *concurrency* (at most
        :data:`LOOKUPS_MAX`, never fewer than *concurrency*). Across a 150 ms link the 150-image
        catalog's look-ups took 2.6-2.9 s with 64 instead of 3.0-3.5 s with 32 (``bench/ab.py``);
        its copy, bound by the link's bandwidth, gained nothing from more small tasks at once."""
        return max(self.concurrency, min(8 * self.concurrency, LOOKUPS_MAX))


@dataclasses.dataclass(frozen=True)
class State:
    """What earlier runs left: the mirror map, and where upload sessions are kept to resume.

    *lock*: the map read as lockfile (an image whose source digest it records and the destination
    holds costs one request). *previous*: the map as it was before this run; a failed image keeps
    its entry from it. *state_dir*: where interrupted uploads are recorded (None: not recorded).
    *prune_map*: the map after the run holds only the images of this request (False: entries of
    other images stay; see ``_mirrormap/io.merge``). *immutable_tags*: regular expressions (full
    match) of source tags the user declares never move: an image with such a tag that the lockfile
    records and the destination holds is taken from the lockfile without asking the source at all
    (neither its digest nor new attachments).
    """

    lock: MirrorMap | None = None
    previous: MirrorMap | None = None
    state_dir: str | None = None
    prune_map: bool = True
    immutable_tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "immutable_tags", tuple(self.immutable_tags or ()))
        self.immutable_patterns()

    def immutable_patterns(self) -> tuple[re.Pattern[str], ...]:
        """*immutable_tags* compiled; a bad expression is a ValueError naming it."""
        out = []
        for text in self.immutable_tags:
            try:
                out.append(re.compile(text))
            except re.error as exc:
                raise ValueError("immutable_tags: %r is not a regular expression: %s" % (text, exc)) from None
        return tuple(out)


@dataclasses.dataclass(frozen=True)
class Sharding:
    """This worker's share of a set mirrored by several (see shard.py)."""

    shard: Shard | None = None
    #: seconds to wait for a blob another worker uploads
    wait: float = 60.0

    def __post_init__(self) -> None:
        if self.wait < 0:
            raise ValueError("shard_wait must not be negative")

    @property
    def active(self) -> Shard | None:
        """The shard, when the set is split at all (a count of 1 is an ordinary run)."""
        return self.shard if self.shard is not None and self.shard.count > 1 else None


@dataclasses.dataclass(frozen=True)
class MirrorRequest:
    """Mirror *images* to *dest*.

    *images*: source references (with *src*: ref names of the layout, paths or references of a
    ``dir:`` tree, or ``"all"``), or ``{"src": ..., "dest": ...}`` dicts (see build.build_jobs).
    *dest*: a registry (``host[:port][/namespace]``) or ``oci:PATH``. *src*: ``oci:PATH`` or
    ``dir:PATH`` (None: registries). *verify*: resolve every image fully (no lockfile) and check
    each blob and manifest at the destination; whatever is missing is copied. *attachments*: copy
    signatures, attestations and referrers with their images. *source_mirrors*: pull-through
    sources (see sources.py; None: every image is fetched from the registry its reference names).
    *platforms*: copy only these platforms of each image (a filtered index gets a digest of its
    own; see platforms.py). *trust*: the signature policy every image must satisfy before anything
    of it is written (see signatures.py).
    """

    images: tuple[Any, ...]
    dest: str
    src: str | None = None
    naming: Naming = Naming()
    limits: Limits = Limits()
    state: State = State()
    sharding: Sharding = Sharding()
    verify: bool = False
    attachments: bool = True
    check_mode: bool = False
    source_mirrors: SourceMirrors | None = None
    #: ``os/arch[/variant]`` to copy of each image (empty: every platform); see platforms.py
    platforms: tuple[str, ...] = ()
    #: verify signatures before copying (``signature_policy``; None: nothing is verified); see signatures.py
    trust: Trust | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.images, tuple):
            object.__setattr__(self, "images", tuple(self.images or ()))
        if not isinstance(self.platforms, tuple):
            object.__setattr__(self, "platforms", tuple(self.platforms or ()))
        parse_filter(self.platforms)  # ValueError naming the bad value

    @property
    def lock(self) -> MirrorMap | None:
        """The lockfile, if this run may use one: every worker of a sharded run must see the same,
        full plan, and verify trusts nothing."""
        if self.verify or self.sharding.active is not None:
            return None
        return self.state.lock
