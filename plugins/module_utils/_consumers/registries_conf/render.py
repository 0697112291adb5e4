# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The text of a drop-in: our header, then the ``[[registry]]`` tables (code, not a template)."""

from __future__ import annotations

from ..._common.toml.emit import dumps
from .model import HEADER, MARKER, Labeled


def render(entries: Labeled) -> str:
    """The drop-in text for ``[(label, table)]``: header, then the ``[[registry]]`` tables."""
    return HEADER + "\n" + dumps({"registry": [table for _label, table in entries]})


def is_ours(text: str) -> bool:
    """True when *text* carries the header this module writes."""
    return text.lstrip("\ufeff").startswith("# " + MARKER)
