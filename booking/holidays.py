"""Norwegian public holidays (offentlige høytidsdager and 1 and 17 May).

The dates come from the ``holidays`` package, whose maintainers keep the
rules current; we do not compute Easter ourselves. The Easter-based days
(Skjærtorsdag, Langfredag, 1. and 2. påskedag, Kristi himmelfartsdag,
1. and 2. pinsedag) move each year; the others are fixed.

In Norwegian law every Sunday is a helligdag, and ``holidays.Norway`` can list
them all (``include_sundays=True``; older releases did so by default). A
clinic's weekly schedule already says whether it works on Sundays, so we ask
explicitly for the named holidays only. A named holiday that falls on a
Sunday (Easter Sunday, Whit Sunday, 17 May in some years) is still listed.

Holidays are national: no county or municipality has extra public holidays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from types import MappingProxyType

import holidays

__all__ = ["is_public_holiday", "public_holidays"]


# Per process, correct by design: the holidays of a year are a pure function
# of the year (and the installed library); no process can disagree.
@lru_cache(maxsize=64)
def _holidays_of(year: int) -> Mapping[date, str]:
    calendar = holidays.country_holidays("NO", years=year, include_sundays=False,
                                         language="no")
    return MappingProxyType(dict(sorted(calendar.items())))


def public_holidays(year: int) -> dict[date, str]:
    """The public holidays of ``year``, in date order, with their Norwegian
    names (e.g. ``date(2026, 4, 6): "Andre påskedag"``)."""
    return dict(_holidays_of(year))


def is_public_holiday(day: date) -> bool:
    """Whether ``day`` is a public holiday, when clinics are closed."""
    return day in _holidays_of(day.year)
