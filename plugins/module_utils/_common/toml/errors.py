# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The error of the TOML helpers: invalid text, or text outside the supported subset."""

from __future__ import annotations

from ..errors import UserError


class TOMLError(UserError, ValueError):
    """Text that the builtin TOML parser cannot read (invalid, or outside the supported subset)."""

    def __init__(self, message: str, text: str | None = None, pos: int | None = None) -> None:
        if text is not None and pos is not None:
            line = text.count("\n", 0, pos) + 1
            col = pos - (text.rfind("\n", 0, pos) + 1) + 1
            message = "%s (at line %d, column %d)" % (message, line, col)
        super().__init__(message)
