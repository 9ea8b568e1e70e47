"""Languages: which one a request gets, its translations, and dates and
times written the way a reader of that language expects, in Europe/Oslo.

The locale of the current request lives in a ``ContextVar`` (set by
``activate``), so ``gettext`` and friends, in Python and in templates, need no
request argument. The catalogs, and the fallback of Nynorsk and Northern
Sami to Bokmål, come from :mod:`core.i18n`.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any, Final

from babel.dates import format_datetime, get_day_names
from starlette.requests import Request

from booking.reasons import REASON_TEXT, WARNING_TEXT
from core.i18n import translations
from core.locale import DEFAULT_LANGUAGE, LANGUAGES, OSLO

LOCALES: Final = LANGUAGES
DEFAULT_LOCALE: Final = DEFAULT_LANGUAGE
#: Each language named in itself, for the language switcher (never translated).
AUTONYMS: Final[Mapping[str, str]] = {
    "nb": "Bokmål",
    "nn": "Nynorsk",
    "en": "English",
    "se": "Davvisámegiella",
}
COOKIE: Final = "lang"

#: Accept-Language tags (primary subtag, lower case) mapped to our locales.
_TAG_TO_LOCALE: Final[Mapping[str, str]] = {
    "nb": "nb", "no": "nb", "nn": "nn", "en": "en", "se": "se", "sme": "se",
}

_current: ContextVar[str] = ContextVar("tanntid_locale", default=DEFAULT_LOCALE)


# --- which language ---------------------------------------------------------

def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The user's explicit choice (cookie), else the browser's preference,
    else Bokmål. (ID-porten's ``locale`` claim and KRR come later.)"""
    if cookie in LOCALES:
        return cookie
    for tag in _accepted_tags(accept_language or ""):
        primary = tag.split("-", 1)[0]
        if primary in _TAG_TO_LOCALE:
            return _TAG_TO_LOCALE[primary]
    return DEFAULT_LOCALE


def _accepted_tags(header: str) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (RFC 9110 §12.5.4)."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        tag = tag.strip().lower().replace("_", "-")
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def activate(request: Request) -> str:
    """Decide the request's language once, remember it on the request and make
    it current for gettext. Idempotent."""
    locale = getattr(request.state, "locale", None)
    if locale not in LOCALES:
        locale = negotiate(request.cookies.get(COOKIE), request.headers.get("accept-language"))
        request.state.locale = locale
    _current.set(locale)
    return locale


def get_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> None:
    """For code outside a request (jobs, tests)."""
    if locale not in LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    _current.set(locale)


# --- translations -----------------------------------------------------------

def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).npgettext(context, singular, plural, n)


def translate(text: str, params: Mapping[str, Any] | None = None) -> str:
    """A text marked with ``N_`` elsewhere (``booking.reasons``,
    ``booking.representation``), translated now, parameters filled in."""
    translated = gettext(text)
    return translated % dict(params) if params else translated


def translate_reason(reason_code: str, params: Mapping[str, Any] | None = None) -> str:
    """The text for a ``booking.reasons`` code (a refusal or a warning) in the
    current language, with its parameters (``%(hours)s``) filled in."""
    text = REASON_TEXT.get(reason_code) or WARNING_TEXT.get(reason_code)
    if text is None:
        raise KeyError(f"no text for reason {reason_code!r}")
    return translate(text, params)


# --- dates and times (always shown in Europe/Oslo) -------------------------

#: Explicit patterns: the CLDR defaults differ in shape between our locales
#: (Northern Sami's are year-first). "tirsdag 14. mai kl. 09:30".
_DAY_PATTERN: Final[Mapping[str, str]] = {
    "nb": "EEEE d. MMMM", "nn": "EEEE d. MMMM", "en": "EEEE d MMMM", "se": "EEEE d. MMMM",
}
_DAY_YEAR_PATTERN: Final[Mapping[str, str]] = {
    "nb": "EEEE d. MMMM y", "nn": "EEEE d. MMMM y", "en": "EEEE d MMMM y",
    "se": "EEEE d. MMMM y",
}
#: How "at 09:30" is written after a date ("dii." = diibmu, o'clock, in Sami).
_AT_TIME: Final[Mapping[str, str]] = {
    "nb": "'kl.' HH:mm", "nn": "'kl.' HH:mm", "en": "'at' HH:mm", "se": "'dii.' HH:mm",
}


def _oslo(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times are stored and passed as aware UTC")
    return moment.astimezone(OSLO)


def format_when(moment: datetime, locale: str | None = None, *,
                today: date | None = None) -> str:
    """Weekday, date and clock time in Oslo: "tirsdag 14. mai kl. 09:30".
    The year is added when it is not the current one."""
    locale = locale or get_locale()
    local = _oslo(moment)
    this_year = (today or datetime.now(OSLO).date()).year
    day = (_DAY_PATTERN if local.year == this_year else _DAY_YEAR_PATTERN)[locale]
    return format_datetime(local, f"{day} {_AT_TIME[locale]}", locale=locale)


def format_day(moment: datetime, locale: str | None = None, *,
               today: date | None = None) -> str:
    """Weekday and date in Oslo: "tirsdag 14. mai"."""
    locale = locale or get_locale()
    local = _oslo(moment)
    this_year = (today or datetime.now(OSLO).date()).year
    day = (_DAY_PATTERN if local.year == this_year else _DAY_YEAR_PATTERN)[locale]
    return format_datetime(local, day, locale=locale)


def format_weekday_short(moment: datetime, locale: str | None = None) -> str:
    """The abbreviated weekday in Oslo, for the picker's week strip: "man."."""
    return format_datetime(_oslo(moment), "EEE", locale=locale or get_locale())


def format_clock(moment: datetime) -> str:
    """Clock time in Oslo, 24-hour: "09:30" (the same in all four languages)."""
    return _oslo(moment).strftime("%H:%M")


def weekday_names(locale: str | None = None) -> list[str]:
    """Monday first, capitalised for use as labels: ["Mandag", "Tirsdag", …]."""
    names = get_day_names("wide", context="format", locale=locale or get_locale())
    return [names[day][:1].upper() + names[day][1:] for day in range(7)]
