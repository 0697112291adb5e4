# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""The report fields every bundle action shares: timing and the diff's summary lines."""

from __future__ import annotations

import time
from typing import Any


def timing(started: float, moved: int) -> dict[str, Any]:
    """``seconds`` since *started* (``time.monotonic()``) and the rate of *moved* bytes."""
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 3),
            "bytes_per_second": int(moved / seconds) if moved and seconds > 0 else 0}


def summary_lines(doc: dict[str, Any] | None) -> str:
    """A bundle manifest as diff lines: its images and parts."""
    if doc is None:
        return ""
    lines = ["image %s %s" % (i["ref_name"], i["digest"]) for i in doc.get("images", [])]
    lines += ["part %s %d %s" % (p["name"], p["size"], p.get("sha256") or "(to be written)")
              for p in doc.get("parts", [])]
    return "".join(line + "\n" for line in lines)
