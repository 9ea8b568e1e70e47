"""The one "now" of a test run.

Every test runs with the clock moved (time-machine, ticking) to
:func:`suite_now`, so that no test passes or fails by the hour, the weekday or
the date it happens to run on. ``TANNTID_TEST_NOW`` moves that moment:

* an ISO 8601 time, with an offset or as Oslo wall-clock time
  (``2026-12-31T23:30``), or
* one of the names in :data:`MOMENTS` (``sunday-evening``, ``sunday-midnight``,
  ``spring-forward``, ``fall-back``, ``new-years-eve``, ``new-years-night``).

Tests that run the service in another process (the CLI, ``tanntid serve``,
the real worker) cannot share a moved clock: they are marked ``real_clock``
and run on the machine's clock, computing what they expect from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine

OSLO = ZoneInfo("Europe/Oslo")
ENV = "TANNTID_TEST_NOW"

#: Moments that have broken clock-dependent code before, by name.
MOMENTS: dict[str, str] = {
    # An ordinary weekday morning: the default.
    "weekday-morning": "2026-11-18T09:15:00+01:00",
    # Sunday evening: tomorrow is a working day, today's times are gone.
    "sunday-evening": "2026-12-06T20:40:00+01:00",
    # 01:30 on the night the clocks go from 02:00 to 03:00 (a 23-hour day).
    "spring-forward": "2026-03-29T01:30:00+01:00",
    # 02:30 the first time, on the night 03:00 goes back to 02:00 (25 hours).
    "fall-back": "2026-10-25T02:30:00+02:00",
    # Half an hour before the year (and the week number) changes.
    "new-years-eve": "2026-12-31T23:30:00+01:00",
    # Half an hour into the new year in Oslo, still the old year in UTC.
    "new-years-night": "2027-01-01T00:30:00+01:00",
    # Five minutes before Monday, at the end of the 23-hour Sunday: "today"
    # has almost nothing left, "in a quarter of an hour" is tomorrow.
    "sunday-midnight": "2026-03-29T23:55:00+02:00",
}
DEFAULT = "weekday-morning"


def parse_moment(text: str) -> datetime:
    """A name from :data:`MOMENTS` or an ISO 8601 time (naive: Oslo time),
    as an aware UTC datetime."""
    value = datetime.fromisoformat(MOMENTS.get(text.strip(), text.strip()))
    if value.tzinfo is None:
        value = value.replace(tzinfo=OSLO)
    return value.astimezone(UTC)


def suite_now() -> datetime:
    """The moment every test starts at (UTC)."""
    return parse_moment(os.environ.get(ENV) or DEFAULT)


def suite_today() -> date:
    """Today in Oslo at :func:`suite_now` (for values computed at import,
    before any test has moved the clock)."""
    return suite_now().astimezone(OSLO).date()


def _oslo_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=OSLO).astimezone(UTC)


def later_today(now: datetime, at_most: timedelta) -> datetime:
    """A moment after ``now``, at most ``at_most`` later and still on its
    Oslo day (for "an appointment later today" at any hour, 23:55 too)."""
    midnight = _oslo_midnight(now.astimezone(OSLO).date() + timedelta(days=1))
    return now + min(at_most, (midnight - now) / 2)


def earlier_today(now: datetime, at_most: timedelta) -> datetime:
    """A moment before ``now``, at most ``at_most`` earlier and still on its
    Oslo day (for "an appointment that started a while ago" at 00:05 too)."""
    midnight = _oslo_midnight(now.astimezone(OSLO).date())
    return now - min(at_most, (now - midnight) / 2)


@contextmanager
def frozen_clock(at: datetime | None = None) -> Iterator[time_machine.Traveller]:
    """The clock moved to ``at`` (default :func:`suite_now`), ticking on from
    there; inside, ``datetime.now()``, ``date.today()`` and ``time.time()``
    all agree with it (``time.monotonic()`` is left alone)."""
    with time_machine.travel(at or suite_now(), tick=True) as traveller:
        yield traveller
