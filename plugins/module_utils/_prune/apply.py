# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The plan file, and applying it: exactly the planned DELETEs, refused when the mirror changed.

A plan is applied only to the state it was made from: the mirror is read again (same scope) and
its state fingerprint must equal the plan's. A push, a delete or a moved tag since planning
changes the fingerprint and the plan is refused -- except when every planned manifest is already
gone (the plan was applied): then nothing is done and nothing changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from .._common.errors import UserError
from .._common.fileio import atomic_write, read_bytes
from .._oci.errors import RegistryError
from .plan import FORMAT


class PruneError(UserError, ValueError):
    """A plan that cannot be applied; the message says why and what to do."""


class Deleter(Protocol):
    def delete_manifest(self, repo: str, digest: str, image: str | None = None) -> bool: ...


class StateView(Protocol):
    """What apply reads of the mirror now: repositories -> tags, manifests."""

    registry: str
    repositories: dict[str, Any]


def dumps(document: dict[str, Any]) -> bytes:
    """The plan file's bytes: stable JSON (same plan, same bytes)."""
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def write(path: str, document: dict[str, Any], check_mode: bool) -> bool:
    """Write the plan file atomically when its content changes; True when it (would) change."""
    data = dumps(document)
    if read_bytes(path) == data:
        return False
    if not check_mode:
        atomic_write(path, data, 0o644)
    return True


def load(path: str) -> dict[str, Any]:
    """A plan file, checked for its format and fields."""
    raw = read_bytes(path)
    if raw is None:
        raise PruneError("no plan file at %s: make one with state=plan first" % path)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise PruneError("the plan file %s is not JSON: %s" % (path, exc)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PruneError("%s is not a prune plan (format %s expected)" % (path, FORMAT))
    for key, kind in (("registry", str), ("fingerprint", str), ("manifests", list)):
        if not isinstance(doc.get(key), kind):
            raise PruneError("the plan file %s has no valid %r" % (path, key))
    for index, item in enumerate(doc["manifests"]):
        if not isinstance(item, dict) or not isinstance(item.get("repository"), str) \
                or not isinstance(item.get("digest"), str):
            raise PruneError("the plan file %s: manifests[%d] needs a repository and a digest" % (path, index))
    return doc


@dataclass
class Outcome:
    """What apply did (or would do, in check mode)."""

    deleted: list[dict[str, Any]] = field(default_factory=list)
    already_applied: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.deleted)


def _present(state: StateView, item: dict[str, Any]) -> bool:
    repo = state.repositories.get(item["repository"])
    return repo is not None and item["digest"] in repo.manifests


def check_current(doc: dict[str, Any], state: StateView, fingerprint: str, path: str) -> bool:
    """True when *doc* may be applied to *state*; False when it was applied already. Raises
    when the mirror changed since the plan was made."""
    if doc["registry"] != state.registry:
        raise PruneError("the plan %s was made for %s, not %s" % (path, doc["registry"], state.registry))
    if fingerprint == doc["fingerprint"]:
        return True
    if not any(_present(state, item) for item in doc["manifests"]):
        return False
    raise PruneError(
        "the plan %s is older than the mirror's current state: the mirror %s changed since it was made "
        "(state %s when planned, %s now; something was pushed, deleted or retagged). Nothing was deleted; "
        "make a new plan (state=plan) and apply that." % (path, state.registry, doc["fingerprint"], fingerprint))


def apply(doc: dict[str, Any], state: StateView, fingerprint: str, client: Deleter, check_mode: bool,
          path: str = "plan") -> Outcome:
    """Delete exactly the manifests of *doc*, in its order (their tags go with them)."""
    out = Outcome()
    if not check_current(doc, state, fingerprint, path):
        out.already_applied = True
        return out
    for item in doc["manifests"]:
        if check_mode:
            out.deleted.append(item)
            continue
        try:
            gone = client.delete_manifest(item["repository"], item["digest"])
        except RegistryError as exc:
            hint = ""
            if exc.status == 405:
                hint = (" -- the registry does not allow deletes; for docker-registry set "
                        "storage.delete.enabled: true (REGISTRY_STORAGE_DELETE_ENABLED=true) and restart it")
            raise PruneError("deleting %s@%s failed after %d of %d deletions: %s%s"
                             % (item["repository"], item["digest"], len(out.deleted), len(doc["manifests"]),
                                exc, hint)) from None
        if gone:
            out.deleted.append(item)
    return out
