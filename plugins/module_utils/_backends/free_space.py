# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The Ansible edge of ``airgap.mirror.free_space``: argument spec, and the check of
:func:`.._common.space.check_fits` on the host the task runs on (standard library only, so that it
runs on a mirror host without the engine's dependencies)."""

from __future__ import annotations

import os
import socket
from typing import Any

from .._common.sizes import parse_size
from .._common.space import NotEnoughSpace, check_fits, free_bytes


def module_kwargs() -> dict[str, Any]:
    """The keyword arguments of the module's AnsibleModule."""
    return dict(
        argument_spec=dict(
            path=dict(type="path", required=True),
            bytes=dict(type="raw", default=0),
        ),
        supports_check_mode=True,
    )


def run(params: dict[str, Any]) -> dict[str, Any]:
    """``{changed, host, path, free, needed, margin, fits}``; raises ValueError on bad input and
    :class:`NotEnoughSpace` (with that result, ``fits`` false) when the bytes do not fit."""
    path = params["path"]
    if not os.path.isabs(path):
        raise ValueError("path: %r is not an absolute path" % path)
    needed = parse_size(params["bytes"], "bytes", minimum=0)
    host = socket.gethostname()
    free = free_bytes(path)
    base = {"changed": False, "host": host, "path": path}
    try:
        return dict(base, **check_fits(needed, free, "%s:%s" % (host, path)))
    except NotEnoughSpace as exc:
        exc.result.update(base)
        raise
