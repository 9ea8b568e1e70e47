"""Finding a clinic, and a clinic's own page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import phonenumbers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from booking import directory
from booking.models import Clinic
from booking.rules import local_date
from booking.search import FREE_TIMES_SECONDS, cached_next_free_times_by_kind, free_times_version
from core.bounds import whole_number
from web import i18n
from web.htmx import page_or_fragment, targeted_block
from web.templating import page_cache, render

#: The search form's results element (``id``) and the block that fills it.
SEARCH_FRAGMENTS = {"results": "results"}
#: How many next free times the clinic's page shows for each kind.
NEXT_TIMES = 3
#: The booking flow (web.views.booking.pages.BOOK; not imported, since the
#: booking pages import this module for phone links).
BOOK = "/bestill"


def _county_id(value: str | None) -> int | None:
    return whole_number(value, low=1) if value else None


async def search(request: Request) -> Response:
    db = request.app.state.db
    params = request.query_params
    county_id = _county_id(params.get("fylke"))
    municipality = params.get("kommune", "").strip()[:100]
    name = params.get("navn", "").strip()[:100]
    context: dict[str, Any] = {
        "county_id": county_id,
        "municipality": municipality,
        "name": name,
        "result": await directory.search_clinics(
            db, county_id=county_id, municipality=municipality, name=name),
    }
    if targeted_block(request, SEARCH_FRAGMENTS) is None:
        # The form's choices are only needed for a whole page.
        context["counties"] = await directory.counties(db)
        context["municipalities"] = await directory.municipality_names(db)
    return page_or_fragment(request, "clinics/search.html", context,
                            fragments=SEARCH_FRAGMENTS)


@dataclass(frozen=True)
class OpeningDay:
    weekday: str
    opens: str | None
    closes: str | None


def opening_days(clinic: Clinic) -> list[OpeningDay]:
    """Monday to Sunday; a day missing from ``opening_hours`` is closed."""
    names = i18n.weekday_names()
    days = []
    for day in range(7):
        hours = (clinic.opening_hours or {}).get(str(day))
        if hours and len(hours) == 2:
            days.append(OpeningDay(names[day], hours[0], hours[1]))
        else:
            days.append(OpeningDay(names[day], None, None))
    return days


@dataclass(frozen=True)
class Phone:
    href: str  # tel:+4722000000
    display: str  # 22 00 00 00


@lru_cache(maxsize=4096)
def phone_link(number: str) -> Phone:
    """The number as a ``tel:`` link and as it is written in Norway; kept per
    process (a pure function of the number, and each appointment on the
    patient pages asks for its clinic's)."""
    try:
        parsed = phonenumbers.parse(number, "NO")
    except phonenumbers.NumberParseException:
        return Phone("tel:" + "".join(ch for ch in number if ch.isdigit() or ch == "+"), number)
    fmt = (phonenumbers.PhoneNumberFormat.NATIONAL if parsed.country_code == 47
           else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return Phone("tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
                 phonenumbers.format_number(parsed, fmt))


def map_url(latitude: float, longitude: float) -> str:
    lat, lon = f"{latitude:.6f}", f"{longitude:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"


async def detail(request: Request) -> Response:
    """A clinic's public page: the same for every anonymous reader in a
    language, so it is kept rendered as long as its free times are
    (:data:`booking.search.FREE_TIMES_SECONDS`), and dropped at once when this
    process books, changes or cancels at the clinic."""
    slug = request.path_params["slug"]

    async def produce() -> tuple[Response, tuple[int, int]]:
        clinic = await directory.clinic_by_slug(request.app.state.db, slug)
        if clinic is None:
            raise HTTPException(status_code=404)
        version = free_times_version(clinic.id)
        return await _detail(request, clinic), (clinic.id, version)

    def fresh(tag: tuple[int, int]) -> bool:
        return free_times_version(tag[0]) == tag[1]

    return await page_cache(request).page(request, ("clinic", slug), seconds=FREE_TIMES_SECONDS,
                                          produce=produce, fresh=fresh)


async def _detail(request: Request, clinic: Clinic) -> Response:
    db = request.app.state.db
    i18n.activate(request)  # weekday names below are in the reader's language
    return render(request, "clinics/detail.html", {
        "clinic": clinic,
        "phone": phone_link(clinic.phone),
        "map_url": map_url(clinic.latitude, clinic.longitude),
        "opening_days": opening_days(clinic),
        "next_times": [
            (found.kind.name(i18n.get_locale()),
             [(starts, free, book_url(clinic, found.kind.id, starts)) for starts, free
              in found.times])
            for found in await cached_next_free_times_by_kind(db, clinic_id=clinic.id,
                                                              per_kind=NEXT_TIMES)],
        "book_here": book_url(clinic),
    })


def book_url(clinic: Clinic, type_id: int | None = None, starts: datetime | None = None
             ) -> str:
    """Into the booking flow at this clinic (through login when needed, which
    comes back to this address): for a kind and the day of a time, when given."""

    query: dict[str, str | int] = {}
    if type_id is not None:
        query["type"] = type_id
    query["clinic"] = clinic.slug
    if starts is not None:
        query["day"] = local_date(starts).isoformat()
    return f"{BOOK}?{urlencode(query)}"
