# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The error of every bundle operation, and the small helpers its messages share."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from .._oci.errors import OCIError

#: progress(event, details): "preflight", "part_written", "blob_packed", "part_checked", "part_read", ...
Progress = Callable[[str, dict], None]


class BundleError(OCIError):
    """A bundle that cannot be packed, verified or unpacked. ``part`` and ``member`` name the part
    file and the tar member when known; ``problems`` lists per-part findings."""

    def __init__(self, message: str, image: object = None, part: str | None = None, member: str | None = None,
                 problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, image=image)
        self.part = part
        self.member = member
        self.problems = list(problems or [])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = super().to_dict()
        out.update(part=self.part, member=self.member, problems=self.problems)
        return out


def os_error(exc: OSError, what: str) -> str:
    """A message for *exc* raised while doing *what*; a full disk says so."""
    if exc.errno == errno.ENOSPC:
        return "no space left on device while %s" % what
    return "%s failed: %s" % (what, exc.strerror or exc)


def problem(part: str, kind: str, message: str) -> dict[str, str]:
    """One finding about one part (or extra file) of a bundle."""
    return {"part": part, "problem": kind, "message": "%s: %s" % (part, message)}
