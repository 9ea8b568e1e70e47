"""Translations, fallbacks, and dates and times in Europe/Oslo."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from booking.reasons import Reason, Warning
from web import i18n

TODAY = date(2030, 5, 1)


@pytest.fixture(autouse=True)
def bokmal() -> Iterator[None]:
    yield
    i18n.set_locale(i18n.DEFAULT_LOCALE)


@pytest.mark.parametrize(("locale", "expected"), [
    ("nb", "tirsdag 14. mai kl. 09:30"),
    ("nn", "tysdag 14. mai kl. 09:30"),
    ("en", "Tuesday 14 May at 09:30"),
    ("se", "maŋŋebárga 14. miessemánnu dii. 09:30"),
])
def test_when_is_weekday_day_month_and_oslo_time(locale: str, expected: str) -> None:
    assert i18n.format_when(datetime(2030, 5, 14, 7, 30, tzinfo=UTC), locale,
                            today=TODAY) == expected


def test_year_is_shown_only_when_not_this_year() -> None:
    moment = datetime(2031, 1, 6, 8, 0, tzinfo=UTC)  # winter time: UTC+1
    assert i18n.format_when(moment, "nb", today=TODAY) == "mandag 6. januar 2031 kl. 09:00"
    assert i18n.format_day(moment, "en", today=TODAY) == "Monday 6 January 2031"


def test_daylight_saving_days_use_the_local_clock() -> None:
    # 2030-03-31: clocks go from 02:00 to 03:00; 2030-10-27: from 03:00 back to 02:00.
    assert i18n.format_clock(datetime(2030, 3, 31, 0, 59, tzinfo=UTC)) == "01:59"
    assert i18n.format_clock(datetime(2030, 3, 31, 1, 0, tzinfo=UTC)) == "03:00"
    assert i18n.format_clock(datetime(2030, 10, 27, 0, 30, tzinfo=UTC)) == "02:30"
    assert i18n.format_clock(datetime(2030, 10, 27, 1, 30, tzinfo=UTC)) == "02:30"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        i18n.format_when(datetime(2030, 5, 14, 9, 30), "nb")


def test_weekday_names_start_on_monday() -> None:
    assert i18n.weekday_names("nb")[:3] == ["Mandag", "Tirsdag", "Onsdag"]
    assert i18n.weekday_names("nn")[0] == "Måndag"
    assert i18n.weekday_names("se")[0] == "Vuossárga"


def test_translate_reason_fills_in_parameters_in_the_current_language() -> None:
    i18n.set_locale("nb")
    assert i18n.translate_reason(Reason.CUTOFF_PASSED, {"hours": 24}) == (
        "Det er mindre enn 24 timer igjen, så timen kan ikke lenger endres på nett. "
        "Ring klinikken for å endre den.")
    i18n.set_locale("en")
    assert i18n.translate_reason(Reason.SLOT_TOO_FAR_AHEAD, {"days": 90}) == (
        "That time is too far ahead. You can book up to 90 days ahead.")
    i18n.set_locale("nn")
    assert i18n.translate_reason(Warning.LATE_CANCELLATION_FEE).startswith(
        "Det er mindre enn 24 timar att.")
    with pytest.raises(KeyError):
        i18n.translate_reason("no_such_reason")


def test_sami_falls_back_to_bokmal_for_untranslated_texts() -> None:
    i18n.set_locale("se")
    assert i18n.gettext("Opening hours") == "Rabasáiggit"
    # A text the Sami catalog lacks is looked up in the Bokmål one next.
    catalog = i18n.translations("se")
    fallback = catalog._fallback  # type: ignore[attr-defined]
    assert fallback is not None
    assert fallback.gettext("Opening hours") == i18n.translations("nb").gettext("Opening hours")
    assert i18n.translate_reason(Reason.SAME_SLOT) != "That is the time you already have."


def test_plural_forms_follow_each_language() -> None:
    i18n.set_locale("nb")
    assert i18n.ngettext("%(num)d clinic found", "%(num)d clinics found", 1) == (
        "Fant %(num)d klinikk")
    assert i18n.ngettext("%(num)d clinic found", "%(num)d clinics found", 2) == (
        "Fant %(num)d klinikker")
    # Northern Sami has three forms; index 1 is for exactly two.
    catalog = i18n.translations("se")
    assert catalog.plural(1) == 0 and catalog.plural(2) == 1 and catalog.plural(5) == 2  # type: ignore[attr-defined]
