# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Plan, before the jobs: replace every image entry that selects tags (``{src: REPOSITORY, tags:
SELECTOR}``, see ``_oci/tagselect.py``) by one ordinary ``REPOSITORY:TAG`` entry per selected tag.

The tags are listed from the source: a registry's paginated ``/v2/<name>/tags/list`` (through the
run's client, with its authentication and retries), or the ref names ``REPOSITORY:TAG`` of an OCI
layout source. A selection that selects no tag is an error of its entry (it names the selector
and how many tags the repository has): a list that silently shrinks to nothing is worse.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._oci import reference as _ref
from .._oci.errors import InvalidReference, OCIError
from .._oci.tagselect import TagSelector, TagSelectorError, selection_of
from .http.options import DEFAULT_TAG_PAGE

if TYPE_CHECKING:  # a registry-to-registry run does not load the layout code
    from .layout import Layout


def expand_selections(images: Iterable[Any], pool: Any, src_layout: Layout | None = None,
                      dir_source: bool = False) -> tuple[list[Any], list[tuple[str, OCIError]]]:
    """``(images, failures)``: *images* with every tag selection replaced by its tags (in the
    selector's order), and ``(entry, error)`` for each selection that failed."""
    out: list[Any] = []
    failures: list[tuple[str, OCIError]] = []
    for item in images or ():
        try:
            selection = selection_of(item)
        except TagSelectorError as exc:
            failures.append((str(exc.image), exc))
            continue
        if selection is None:
            out.append(item)
            continue
        repo, selector = selection
        try:
            if dir_source:
                raise TagSelectorError("tags cannot be selected from a dir: tree: name its images", repo)
            out.extend(_entries(item, repo, _select(repo, selector, pool, src_layout)))
        except OCIError as exc:
            failures.append((repo, exc.for_image(repo)))
    return out, failures


def list_tags(repo: str, pool: Any, src_layout: Layout | None = None) -> list[str]:
    """The tags of *repo* (a normalized ``registry/repository``) at the source."""
    if src_layout is not None:
        prefix = repo + ":"
        return [name[len(prefix):] for name, _desc in src_layout.entries()
                if name and name.startswith(prefix) and "@" not in name and "/" not in name[len(prefix):]]
    ref = _ref.parse(repo)
    options = getattr(pool, "options", None)
    page = getattr(options, "tag_page_size", DEFAULT_TAG_PAGE)
    return list(pool.get(ref.registry).list_tags(ref.repository, image=repo, page_size=page))


def _select(repo: str, selector: TagSelector, pool: Any, src_layout: Layout | None) -> list[str]:
    tags = list_tags(repo, pool, src_layout)
    chosen = selector.select(tags)
    if not chosen:
        where = "the layout %s" % src_layout.path if src_layout is not None else "the registry"
        have = ("has %d tag%s" % (len(tags), "" if len(tags) == 1 else "s")) if tags \
            else "has no tags (or does not exist)"
        raise TagSelectorError("tags (%s) selects no tag: the repository %s in %s"
                               % (selector.describe(), have, where), repo)
    return chosen


def _entries(item: dict[str, Any], repo: str, tags: list[str]) -> list[Any]:
    """One entry per tag; the entry's other keys (an explicit dest repository: with the tag) kept."""
    rest = {k: v for k, v in item.items() if k not in ("src", "tags", "dest")}
    dest = item.get("dest")
    if dest is not None:
        try:
            dest_ref = _ref.parse(dest)
        except (InvalidReference, TypeError):
            dest_ref = None
        if dest_ref is None or dest_ref.identifier is not None:
            raise TagSelectorError("dest of an entry with tags must be a repository without tag or digest "
                                   "(each selected tag keeps its name), got %r" % (dest,), repo)
    out: list[Any] = []
    for tag in tags:
        if dest is None and not rest:
            out.append("%s:%s" % (repo, tag))
            continue
        entry = dict(rest, src="%s:%s" % (repo, tag))
        if dest is not None:
            entry["dest"] = "%s:%s" % (dest.strip(), tag)
        out.append(entry)
    return out
