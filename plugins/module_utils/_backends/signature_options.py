# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The signature options of ``airgap.mirror.image_mirror``: ``signature_policy`` (a
containers-policy.json(5) file), ``registries_d`` (a containers-registries.d(5) directory) and
``lookaside_dir``, as the engine's :class:`~.._engine.signatures.Trust`. The files are read before
anything is resolved, so a policy the collection cannot enforce fails the task at once."""

from __future__ import annotations

import os
from typing import Any

from .._common.errors import UserError
from .._engine.signatures import Trust
from .._trust.policy import load_policy
from .._trust.registriesd import load_registries_d
from .._trust.verify import default_fetch


def trust_of(params: dict[str, Any]) -> Trust | None:
    """The Trust the parameters ask for (None without ``signature_policy``). Raises UserError."""
    path = params.get("signature_policy")
    if not path:
        for option in ("registries_d", "lookaside_dir"):
            if params.get(option):
                raise UserError("%s needs signature_policy: signatures are read and written only for images "
                                "that are verified" % option)
        return None
    registries_d = params.get("registries_d")
    if registries_d and not os.path.isdir(registries_d):
        raise UserError("registries_d: %s is not a directory" % registries_d)
    lookaside = params.get("lookaside_dir")
    if lookaside and os.path.exists(lookaside) and not os.path.isdir(lookaside):
        raise UserError("lookaside_dir: %s exists and is not a directory" % lookaside)
    return Trust(load_policy(path), load_registries_d(registries_d or None), default_fetch,
                 os.path.abspath(lookaside) if lookaside else None)
