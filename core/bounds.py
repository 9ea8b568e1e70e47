"""The ranges integers from outside (addresses, forms, provider callbacks,
link tokens) must fall in before they reach the database, whose columns are
64-bit (ids) or 32-bit (codes, counts): a bigger value is not a row that
does not exist but an error in the driver (``OverflowError``), so each is
checked where it is read."""

from __future__ import annotations

from typing import Final

#: The largest id a ``BIGINT`` column holds (``core.db.BigId``).
MAX_ID: Final = 2**63 - 1
#: The largest value of a 32-bit ``INTEGER`` column.
MAX_INT32: Final = 2**31 - 1


def is_id(value: int) -> bool:
    """Could ``value`` be a row id (1 … 2**63 − 1)?"""
    return 1 <= value <= MAX_ID


def whole_number(text: object, *, low: int = 0, high: int = MAX_INT32) -> int | None:
    """``text`` as a whole number of plain ASCII digits (no sign, spaces,
    underscores or other scripts' digits) within ``low`` … ``high``; None
    for anything else."""
    if not isinstance(text, str) or not 0 < len(text) <= len(str(high)) or not (
            text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None
