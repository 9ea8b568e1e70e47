"""``GET /staff/klinikk`` (the staff member's clinics) and
``GET /staff/klinikk/{slug}/dag?dato=YYYY-MM-DD`` (one clinic's day: chairs
as columns, time down the side, today's arrivals).

Blocks show only what the desk needs (time, kind, first name, age group);
opening one (:mod:`.attendance`) shows the rest and is audited. Reading the
day itself is audited once per view, without patients (no one's data is
shown beyond a first name).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import audit
from booking.day import load_day
from booking.models import Clinic
from booking.rules import local_date
from core.db import utcnow
from web import i18n
from web.templating import render
from web.views.clinic import words
from web.views.clinic.scope import AUDIT_PURPOSE, BASE, at_clinic, db_of, reception

DAY_VIEW_ACTION: Final = "clinic.day.view"
DATE_PARAM: Final = "dato"
NO_STORE: Final = {"Cache-Control": "no-store"}
_EARLIEST, _LATEST = date(2000, 1, 1), date(2100, 12, 31)


def parse_day(text: str | None) -> date | None:
    """``YYYY-MM-DD`` within reason; None for anything else."""
    if text is None or len(text) != 10:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if _EARLIEST <= day <= _LATEST else None


def day_path(slug: str, day: date) -> str:
    return f"{BASE}/{slug}/dag?{DATE_PARAM}={day.isoformat()}"


async def home(request: Request) -> Response:
    """The clinics this staff member acts for; straight to the day of the only one."""
    staff = await reception(request)
    async with db_of(request).read() as session:
        clinics = list((await session.execute(
            select(Clinic).where(Clinic.id.in_(sorted(staff.actor.clinic_ids)))
            .order_by(Clinic.name))).scalars())
    today = local_date(utcnow())
    if len(clinics) == 1:
        return RedirectResponse(day_path(clinics[0].slug, today), 303)
    return render(request, "clinic/home.html", {
        "clinics": [(c, day_path(c.slug, today)) for c in clinics],
    }, headers=NO_STORE)


async def day_page(request: Request) -> Response:
    here = await at_clinic(request)
    now = utcnow()
    today = local_date(now)
    raw = request.query_params.get(DATE_PARAM)
    day = parse_day(raw) if raw is not None else today
    error = None
    if day is None:
        error, day = i18n.gettext("Write the date as year-month-day, e.g. 2026-03-29."), today
    async with db_of(request).write() as session:
        grid = await load_day(session, here.clinic, day)
        await audit.record(session, here.staff.actor, DAY_VIEW_ACTION, purpose=AUDIT_PURPOSE,
                           detail={"clinic_id": here.clinic.id, "day": day.isoformat()},
                           now=now)
    i18n.activate(request)
    context: dict[str, Any] = {
        "at": here, "grid": grid, "day": day, "today": today, "error": error,
        "is_today": day == today,
        "paths": {
            "previous": day_path(here.clinic.slug, day - timedelta(days=1)),
            "next": day_path(here.clinic.slug, day + timedelta(days=1)),
            "today": day_path(here.clinic.slug, today),
            "day": f"{here.base}/dag", "find": f"{here.base}/finn",
            "appointment": f"{here.base}/time",
        },
        "age_words": words.AGE_GROUP_TEXT, "attendance_words": words.ATTENDANCE_TEXT,
        "attendance_colors": words.ATTENDANCE_COLOR,
    }
    return render(request, "clinic/day.html", context, headers=NO_STORE,
                  status_code=400 if error else 200)
