"""Due times and quiet hours in Oslo time, on both DST days of 2026
(29 March: 02:00 → 03:00; 25 October: 03:00 → 02:00)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from notifications.schedule import (
    SendingWindow,
    notice_timing,
    reminder_due,
    reminder_timings,
    validity_seconds,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


WINDOW = SendingWindow()  # 08:00–21:00 Oslo


def test_window_opens_at_eight_oslo_time_on_the_spring_forward_day():
    # 08:00 CEST is 06:00 UTC (the day before it was 07:00 UTC).
    assert not WINDOW.is_open(utc(2026, 3, 29, 5, 59))
    assert WINDOW.is_open(utc(2026, 3, 29, 6, 0))
    assert WINDOW.next_open(utc(2026, 3, 28, 20, 30)) == utc(2026, 3, 29, 6, 0)
    assert WINDOW.next_open(utc(2026, 3, 29, 1, 30)) == utc(2026, 3, 29, 6, 0)  # 03:30 CEST
    assert WINDOW.closes_at(utc(2026, 3, 29, 12, 0)) == utc(2026, 3, 29, 19, 0)
    assert WINDOW.is_open(utc(2026, 3, 28, 19, 59))  # 20:59 CET
    assert not WINDOW.is_open(utc(2026, 3, 29, 19, 0))  # 21:00 CEST


def test_window_opens_at_eight_oslo_time_on_the_fall_back_day():
    # 08:00 CET is 07:00 UTC (the day before it was 06:00 UTC).
    assert WINDOW.next_open(utc(2026, 10, 24, 19, 30)) == utc(2026, 10, 25, 7, 0)
    assert not WINDOW.is_open(utc(2026, 10, 25, 6, 30))
    assert WINDOW.is_open(utc(2026, 10, 25, 7, 0))
    assert WINDOW.closes_at(utc(2026, 10, 25, 7, 0)) == utc(2026, 10, 25, 20, 0)
    assert WINDOW.last_close_before(utc(2026, 10, 25, 6, 0)) == utc(2026, 10, 24, 19, 0)


@pytest.mark.parametrize(("starts_at", "offset", "due"), [
    # 1 day before 09:00 CEST on the Monday after spring-forward: 09:00 CEST Sunday (24 h)
    (utc(2026, 3, 30, 7, 0), 1440, utc(2026, 3, 29, 7, 0)),
    # 1 day before 10:00 CEST on the DST Sunday: 10:00 CET Saturday (23 h earlier)
    (utc(2026, 3, 29, 8, 0), 1440, utc(2026, 3, 28, 9, 0)),
    # 3 days before 09:00 CEST Tuesday: 09:00 CET Saturday (71 h earlier)
    (utc(2026, 3, 31, 7, 0), 4320, utc(2026, 3, 28, 8, 0)),
    # 1 day before 09:00 CET on the Monday after fall-back: 09:00 CET Sunday (24 h)
    (utc(2026, 10, 26, 8, 0), 1440, utc(2026, 10, 25, 8, 0)),
    # 1 day before 12:00 CET on the DST Sunday: 12:00 CEST Saturday (25 h earlier)
    (utc(2026, 10, 25, 11, 0), 1440, utc(2026, 10, 24, 10, 0)),
    # hours are elapsed time: 2 h before 04:00 CEST is 01:00 CET
    (utc(2026, 3, 29, 2, 0), 120, utc(2026, 3, 29, 0, 0)),
])
def test_whole_days_before_keep_the_oslo_wall_clock_time(starts_at, offset, due):
    assert reminder_due(starts_at, offset) == due


def test_reminders_around_spring_forward():
    starts_at = utc(2026, 3, 30, 6, 15)  # Monday 08:15 CEST
    timings = reminder_timings(starts_at, (4320, 1440), WINDOW, now=utc(2026, 3, 20, 12))
    assert [(t.offset_minutes, t.due_at, t.send_after, t.expires_at) for t in timings] == [
        (4320, utc(2026, 3, 27, 7, 15), utc(2026, 3, 27, 7, 15), utc(2026, 3, 29, 6, 15)),
        (1440, utc(2026, 3, 29, 6, 15), utc(2026, 3, 29, 6, 15), utc(2026, 3, 30, 4, 15)),
    ]


def test_a_reminder_due_in_the_night_waits_for_the_morning_of_the_fall_back_day():
    starts_at = utc(2026, 10, 26, 6, 30)  # Monday 07:30 CET
    timings = reminder_timings(starts_at, (1440,), WINDOW, now=utc(2026, 10, 20, 12))
    # due 07:30 CET Sunday, before the window: 08:00 CET = 07:00 UTC
    assert [(t.due_at, t.send_after) for t in timings] == [
        (utc(2026, 10, 25, 6, 30), utc(2026, 10, 25, 7, 0))]


def test_a_reminder_that_would_be_too_late_in_the_morning_goes_the_evening_before():
    starts_at = utc(2026, 3, 30, 6, 0)  # Monday 08:00 CEST
    timings = reminder_timings(starts_at, (180,), WINDOW, now=utc(2026, 3, 20, 12))
    # 3 h before is 05:00 CEST; 08:00 would be the start itself: 20:30 CEST Sunday instead
    assert [(t.send_after, t.expires_at) for t in timings] == [
        (utc(2026, 3, 29, 18, 30), utc(2026, 3, 30, 4, 0))]


def test_a_notice_written_at_night_goes_at_eight():
    timing = notice_timing(utc(2026, 10, 24, 21, 0), utc(2026, 10, 27, 9, 0), WINDOW)
    assert timing.due_at == utc(2026, 10, 24, 21, 0)  # 23:00 CEST
    assert timing.send_after == utc(2026, 10, 25, 7, 0)  # 08:00 CET


def test_validity_ends_with_the_window_or_the_expiry():
    far = utc(2026, 12, 1)
    assert validity_seconds(utc(2026, 3, 29, 18, 0), far, WINDOW) == 3600  # 20:00 CEST
    assert validity_seconds(utc(2026, 10, 25, 19, 0), far, WINDOW) == 3600  # 20:00 CET
    assert validity_seconds(utc(2026, 10, 25, 19, 0), utc(2026, 10, 25, 19, 10), WINDOW) == 600
    assert validity_seconds(utc(2026, 10, 25, 20, 0), far, WINDOW) == 0  # 21:00 CET: closed
    assert validity_seconds(utc(2026, 10, 25, 7, 0), far, WINDOW) == 36_000  # the provider's cap


def test_county_window_from_its_settings():
    window = SendingWindow.from_county({"send_from": "09:30", "send_until": "18:00"})
    assert window == SendingWindow(time(9, 30), time(18, 0))
    assert SendingWindow.from_county(None) == SendingWindow(time(8, 0), time(21, 0))
    with pytest.raises(ValueError):
        SendingWindow(time(21, 0), time(8, 0))
