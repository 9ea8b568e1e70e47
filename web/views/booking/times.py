"""The slot picker as the booking and change pages show it: one day of the
times :mod:`booking.picker` offers, links to other days, and when a chosen
time could not be held, why and the nearest free times instead."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from booking import picker, rules
from booking.holds import NotHeld
from booking.reasons import Reason
from booking.search import FreeSlot
from core.db import Database
from web import i18n
from web.htmx import page_or_fragment
from web.views.booking.pages import NO_STORE

#: The element the day links target, and the block that fills it. The
#: submit button is inside it: a day with no times has none to submit.
DAY_FRAGMENTS: Final = {"day": "day"}


def noon(day: date) -> datetime:
    """A moment inside ``day`` for the date filters of the templates."""
    return datetime.combine(day, time(12), tzinfo=i18n.OSLO)


@dataclass(frozen=True)
class DayLink:
    href: str
    day: datetime


@dataclass(frozen=True)
class StripLink:
    """One day of the week strip: a link to it, with its number of free times."""

    href: str
    day: datetime
    free: int
    current: bool
    #: "3 free times" in words, for the link's accessible name.
    count: str


@dataclass(frozen=True)
class Picker:
    """One day of free times and the ways to other days."""

    day: datetime
    iso_day: str
    times: list[FreeSlot]
    summary: str
    previous: DayLink | None
    next: DayLink | None
    first_free: DayLink | None
    #: When this day has no free times: the next day that has.
    next_free: DayLink | None
    age_refused: str | None
    week: list[StripLink]
    previous_week: DayLink | None
    next_week: DayLink | None


async def day_picker(db: Database, search: picker.Search, href: Callable[[date], str],
                     wanted: date | None) -> Picker:
    """The day ``wanted`` (or the first with free times); ``href`` is the
    address of a day."""
    shown = await picker.day(db, search, wanted)

    def link(day: date | None) -> DayLink | None:
        return DayLink(href(day), noon(day)) if day is not None else None

    count = len(shown.times)
    summary = i18n.ngettext("%(day)s, %(num)d free time", "%(day)s, %(num)d free times",
                            count) % {"day": i18n.format_day(noon(shown.day)), "num": count}
    return Picker(
        day=noon(shown.day), iso_day=shown.day.isoformat(), times=shown.times,
        summary=summary, previous=link(shown.previous), next=link(shown.next),
        first_free=link(shown.first_free), next_free=link(shown.next_free),
        age_refused=i18n.translate_reason(shown.refusal) if shown.refusal else None,
        week=[StripLink(href(d.day), noon(d.day), d.free, d.day == shown.day,
                        i18n.ngettext("%(num)d free time", "%(num)d free times", d.free)
                        % {"num": d.free})
              for d in shown.week],
        previous_week=link(shown.previous_week), next_week=link(shown.next_week),
    )


def picker_page(request: Request, context: dict[str, Any], status_code: int = 200
                ) -> Response:
    """The picker page, or only its day block for htmx."""
    response = page_or_fragment(request, "booking/when.html", context,
                                fragments=DAY_FRAGMENTS, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


@dataclass(frozen=True)
class Explained:
    """A refused time as the picker shows it: why, which day, what instead."""

    text: str
    day: date | None
    near: list[FreeSlot]


async def explain(db: Database, search: picker.Search, refusal: NotHeld, slot_id: int
                  ) -> Explained:
    """The reason in words, the day of the time asked for, and when it was
    taken, the nearest free times."""
    near: list[FreeSlot] = []
    day = None
    if refusal.starts_at is not None:
        day = rules.local_date(refusal.starts_at)
        if refusal.reason is Reason.SLOT_TAKEN:
            near = await picker.nearest(db, search, refusal.starts_at, slot_id)
    return Explained(i18n.translate_reason(refusal.reason, refusal.params), day, near)
