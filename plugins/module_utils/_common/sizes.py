# Copyright: airgap.mirror contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# PRIVATE to the airgap.mirror collection: may change without notice.
"""Sizes in bytes: the one parser of every option that takes a size, and the one way to print one.

A size is a whole number of bytes (``65536``), or a number with a unit:

- ``K``, ``M``, ``G``, ``T``, ``P`` and ``KiB``, ``MiB``, ... are powers of 1024, as in
  ``split -b`` and ``du``: ``4G`` = ``4GiB`` = 4 * 1024**3;
- ``KB``, ``MB``, ``GB``, ``TB``, ``PB`` are powers of 1000, as disk vendors count:
  ``4GB`` = 4 * 1000**3.

Units are case-insensitive, fractions are allowed (``1.5G``), and a trailing ``B`` alone means bytes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(?:([KMGTP])(I?)(B?)|(B?))\s*$", re.IGNORECASE)
_UNITS = "KMGTP"
_HUMAN = (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))

UNITS_HELP = "bytes, or a number with K, M, G, T (powers of 1024; also KiB, MiB...) or KB, MB, GB, TB (powers of 1000)"


def parse_size(value: int | str, what: str = "size", minimum: int = 1) -> int:
    """Bytes from an int or a size text (module docstring); *what* names the option in errors."""
    if isinstance(value, bool):
        raise ValueError("%s: %r is not a size" % (what, value))
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError("%s: %r is not a size (%s; examples: 4G, 700M, 4095MiB, 4GB, 65536)"
                             % (what, value, UNITS_HELP))
        number, unit, binary, decimal_b, _bytes = match.groups()
        try:
            amount = Decimal(number)
        except InvalidOperation:  # pragma: no cover - the pattern lets only numbers through
            raise ValueError("%s: %r is not a size" % (what, value)) from None
        if unit:
            base = 1000 if (decimal_b and not binary) else 1024
            amount *= base ** (_UNITS.index(unit.upper()) + 1)
        size = int(amount)
    if size < minimum:
        raise ValueError("%s must be at least %s (got %r)" % (what, human_size(minimum), value))
    return size


def human_size(size: int) -> str:
    """``1.5 GiB``, ``700.0 MiB``, ``512 bytes``."""
    size = int(size)
    for unit, factor in _HUMAN:
        if size >= factor:
            return "%.1f %s" % (size / float(factor), unit)
    return "1 byte" if size == 1 else "%d bytes" % size
