# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the airgap.mirror.file_server role.

``file_tree``: a directory on the controller -> its absolute path and the digest of its content
(files, directories, bytes), which names the release the role copies to the host.
``file_server_layout``: the role's settings -> the paths, ``nginx.conf``, systemd unit, commands
and health URL of the nginx instance.
Documentation: a YAML file per filter next to this file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.airgap.mirror.plugins.module_utils._common import filetree as _filetree
from ansible_collections.airgap.mirror.plugins.module_utils._common.errors import UserError
from ansible_collections.airgap.mirror.plugins.module_utils._consumers import file_server as _fs
from ansible_collections.airgap.mirror.plugins.plugin_utils._errors import reported


def _directory(path: Any, search: Sequence[str | None] | None, what: str) -> str:
    if not isinstance(path, str) or not path.strip():
        raise UserError("%s: expected a directory on the controller, not %r" % (what, path))
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        tried = [os.path.normpath(path)]
    else:
        tried = [os.path.normpath(os.path.join(d, path)) for d in (search or []) if d]
    for candidate in tried:
        if os.path.isdir(candidate):
            return candidate
    if not tried:
        raise UserError("%s: %s is a relative path and there is no directory to look it up in (give an "
                        "absolute path)" % (what, path))
    raise UserError("%s: %s is not a directory on the controller (tried: %s)" % (what, path, ", ".join(tried)))


@reported(name="")
def file_tree(path: str, search: Sequence[str | None] | None = None, what: str = "file_server_src") -> dict[str, Any]:
    """The directory *path* on the controller: ``{path, digest, release, files, dirs, bytes}``."""
    found = _directory(path, search, what)
    try:
        summary = _filetree.tree_digest(found)
    except _filetree.FileTreeError as exc:
        raise UserError("%s: %s" % (what, exc)) from None
    return {"path": found, **summary.to_dict()}


@reported(name="")
def file_server_layout(values: Mapping[str, Any]) -> dict[str, Any]:
    """The instance the settings *values* (role variables without ``file_server_``) describe."""
    if not isinstance(values, Mapping):
        raise UserError("file_server_layout: expected a mapping of settings, not %r" % (values,))
    return _fs.layout(values)


@reported(name="")
def file_server_release_dir(layout: Mapping[str, Any], release: str) -> str:
    """The host directory of *release* in the instance *layout*."""
    return _fs.release_dir(layout, release)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "file_tree": file_tree,
            "file_server_layout": file_server_layout,
            "file_server_release_dir": file_server_release_dir,
        }
