"""``GET /min-side``: the page after login. First one short, date-sorted list
of the next appointments of the user and of each child they may act for
today (name first, state, one action; the details one tap away), then per
person the way to book and to all their appointments.

``POST /min-side/bekreft-alle``: "confirm all" when several of the family's
appointments wait for an answer to the clinic's notice (innkalling). Each is
confirmed on its own through ``booking.service.confirm`` (authorised and
audited per appointment); the page then says how many were confirmed and
how many could not be (those stay in the list, still waiting)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import callbacks, service
from booking.reasons import Reason
from booking.service import BookingRefused
from core.db import Database, utcnow
from web import i18n
from web.acting import PersonChoice, acting, parse_id, refuse
from web.templating import render
from web.views.patient.presenting import (
    AppointmentView,
    Notice,
    load_appointment,
    present,
    upcoming_of,
)
from web.views.patient.waitlist import min_side_context, min_side_found
from web.views.profile import RegisterView, oslo_today, register_view, sms_number

#: Appointments shown per person; the list page has the rest.
NEXT_PER_PERSON = 3
BOOKING_PATH = "/bestill"
PATH: Final = "/min-side"
CONFIRM_ALL_PATH: Final = "/min-side/bekreft-alle"
#: The form field of each appointment "confirm all" covers.
APPOINTMENT_FIELD: Final = "appointment"
#: At most this many in one "confirm all" (a family's, with room to spare).
CONFIRM_ALL_LIMIT: Final = 50
CONFIRMED_FLAG: Final = "bekreftet"
FAILED_FLAG: Final = "ikke-bekreftet"


@dataclass(frozen=True)
class PersonSection:
    person: PersonChoice
    count: int
    more: int

    @property
    def book_href(self) -> str:
        return self.person.href(BOOKING_PATH)

    @property
    def list_href(self) -> str:
        return self.person.href("/timer")


@dataclass(frozen=True)
class NextRow:
    """One line of the list: whose, when, state, one action."""

    person: PersonChoice
    item: AppointmentView


@dataclass(frozen=True)
class UnavailableChild:
    given_name: str
    reason: str


def _count(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 3 else 0


def confirm_all_notice(confirmed: int, failed: int) -> Notice | None:
    """What "confirm all" did, from the redirect's flags."""
    parts = []
    if confirmed:
        parts.append(i18n.ngettext("%(num)d appointment is confirmed.",
                                   "%(num)d appointments are confirmed.",
                                   confirmed) % {"num": confirmed})
    if failed:
        parts.append(i18n.ngettext(
            "%(num)d appointment could not be confirmed. It is still marked in the list.",
            "%(num)d appointments could not be confirmed. They are still marked in the list.",
            failed) % {"num": failed})
    if not parts:
        return None
    return Notice("warning" if failed else "success", " ".join(parts))


async def home(request: Request) -> Response:
    who = await acting(request)
    i18n.activate(request)
    db: Database = request.app.state.db
    now = utcnow()
    found = await min_side_found(db, who, now)
    upcoming = (await upcoming_of(db, [p.patient_id for p in who.people], now)
                if found.upcoming else [])
    sections = []
    rows: list[NextRow] = []
    awaiting: list[int] = []
    for person in who.people:
        mine = [a for a in upcoming if a.patient_id == person.patient_id]
        items = [present(a, who.patients[person.patient_id], who.actor_for(person.patient_id),
                         person.access, now, me_id=who.me.id) for a in mine]
        awaiting.extend(item.id for item in items if item.can_confirm)
        rows.extend(NextRow(person, item) for item in items[:NEXT_PER_PERSON])
        sections.append(PersonSection(person, len(mine), max(0, len(mine) - NEXT_PER_PERSON)))
    rows.sort(key=lambda row: (row.item.starts_at, row.item.id))
    unavailable = [UnavailableChild(child.given_name, i18n.translate(child.reason_text))
                   for child in who.unavailable]
    await who.audit_view(request, [p.patient_id for p in who.people if not p.is_me],
                         detail={"page": "home"})
    # The person's own number wins; KRR (cached) is asked only without one.
    me = who.me
    register = (RegisterView("not_configured") if me.mobile
                else await register_view(request, me))
    sms_to, _source = sms_number(me.mobile, register, oslo_today())
    return render(request, "patient/home.html", {
        **await min_side_context(request, who, found, now),
        "acting": who, "sections": sections, "rows": rows, "unavailable": unavailable,
        "sms_to": sms_to,
        "callback_status": callbacks.STATUS_TEXT, "callback_reason": callbacks.REASON_TEXT,
        "awaiting": awaiting if len(awaiting) > 1 else [],
        "confirm_all_path": CONFIRM_ALL_PATH, "appointment_field": APPOINTMENT_FIELD,
        "notice": confirm_all_notice(_count(request, CONFIRMED_FLAG),
                                     _count(request, FAILED_FLAG)),
    }, headers={"Cache-Control": "no-store"})


async def confirm_all(request: Request) -> Response:
    """Confirm each appointment named in the form that the user may act for;
    an id that is no appointment of the family counts as not confirmed (and
    an attempt on a stranger's is audited in that person's log)."""
    who = await acting(request)
    form = await request.form()
    raw = [value for value in form.getlist(APPOINTMENT_FIELD) if isinstance(value, str)]
    ids = [parse_id(value) for value in raw]
    if not ids or len(ids) > CONFIRM_ALL_LIMIT or None in ids:
        raise HTTPException(400)
    db: Database = request.app.state.db
    family = {p.patient_id for p in who.people}
    confirmed = failed = 0
    for appointment_id in dict.fromkeys(i for i in ids if i is not None):
        appointment = await load_appointment(db, appointment_id)
        if appointment is None or appointment.patient_id not in family:
            if appointment is not None:
                await refuse(request, who.me.id, appointment.patient_id,
                             represents=who.guardian_actor.represents,
                             detail={"appointment_id": appointment_id})
            failed += 1
            continue
        try:
            await service.confirm(db, who.actor_for(appointment.patient_id),
                                  appointment_id=appointment_id)
        except BookingRefused as refused:
            if refused.reason is Reason.ALREADY_CONFIRMED:
                confirmed += 1  # someone else answered first: it is confirmed
            else:
                failed += 1
        else:
            confirmed += 1
    return RedirectResponse(
        f"{PATH}?{CONFIRMED_FLAG}={confirmed}&{FAILED_FLAG}={failed}", status_code=303)
