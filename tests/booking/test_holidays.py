"""Norwegian public holidays, from the ``holidays`` package."""

from __future__ import annotations

from datetime import date, timedelta

from booking.holidays import is_public_holiday, public_holidays


def test_the_holidays_of_2026_by_name() -> None:
    assert public_holidays(2026) == {
        date(2026, 1, 1): "Første nyttårsdag",
        date(2026, 4, 2): "Skjærtorsdag",
        date(2026, 4, 3): "Langfredag",
        date(2026, 4, 5): "Første påskedag",
        date(2026, 4, 6): "Andre påskedag",
        date(2026, 5, 1): "Arbeidernes dag",
        date(2026, 5, 14): "Kristi himmelfartsdag",
        date(2026, 5, 17): "Grunnlovsdag",
        date(2026, 5, 24): "Første pinsedag",
        date(2026, 5, 25): "Andre pinsedag",
        date(2026, 12, 25): "Første juledag",
        date(2026, 12, 26): "Andre juledag",
    }


def test_easter_based_days_move_with_easter() -> None:
    # Easter Sunday 2027 is 28 March.
    for day in (date(2027, 3, 25), date(2027, 3, 26), date(2027, 3, 29),
                date(2027, 5, 6), date(2027, 5, 17)):
        assert is_public_holiday(day), day
    assert not is_public_holiday(date(2027, 4, 6))  # 2. påskedag in 2026, not 2027


def test_ordinary_sundays_and_weekdays_are_not_holidays() -> None:
    assert not is_public_holiday(date(2026, 3, 1))  # a Sunday
    assert not is_public_holiday(date(2026, 3, 2))  # a Monday
    assert not is_public_holiday(date(2026, 12, 24))  # julaften is not a public holiday
    sundays = [date(2026, 1, 4) + timedelta(weeks=n) for n in range(52)]
    assert sum(is_public_holiday(day) for day in sundays) == 3  # påske, pinse, 17. mai


def test_the_returned_mapping_is_a_copy() -> None:
    public_holidays(2026).clear()
    assert is_public_holiday(date(2026, 12, 25))
    assert len(public_holidays(2026)) == 12
