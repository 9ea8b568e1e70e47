"""``GET /timer`` (the subject's appointments, upcoming and past) and
``GET /timer/{appointment_id}`` (one appointment: where, how to get there,
add to calendar, and what can be done)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from booking.directions import directions_to
from booking.models import Appointment
from booking.statuses import AppointmentStatus
from core.db import Database, utcnow
from core.settings import Settings
from web import i18n
from web.acting import Acting, acting
from web.htmx import page_or_fragment
from web.templating import render
from web.views.calendar import calendar_link
from web.views.patient.loading import acting_for_appointment
from web.views.patient.presenting import (
    Notice,
    guardians_notified,
    past_of,
    present,
    replacement_of,
    upcoming_of,
)
from web.views.patient.waitlist import waitlist_context, waitlist_notice
from web.views.previsit_link import previsit_link

NO_STORE = {"Cache-Control": "no-store"}
#: Query flags set by the redirect after a POST (post-redirect-get); shown
#: only when the appointment is in the state they announce.
CONFIRMED_FLAG = "bekreftet"
CANCELLED_FLAG = "avbestilt"
CHECKED_IN_FLAG = "her"


def confirmed_notice() -> Notice:
    return Notice("success", i18n.gettext(
        "Thank you. The clinic can see that you are coming."))


def checked_in_notice() -> Notice:
    return Notice("success", i18n.gettext(
        "Thank you. The reception desk can see that you have arrived."))


def cancelled_notice() -> Notice:
    return Notice("success", i18n.gettext(
        "The appointment is cancelled. The time is free for someone else."))


async def list_page(request: Request) -> Response:
    who = await acting(request)
    i18n.activate(request)
    db: Database = request.app.state.db
    now = utcnow()
    subject = who.subject
    upcoming = await upcoming_of(db, [subject.id], now)
    past = await past_of(db, subject.id, now)
    items = [present(a, subject, who.actor, who.access, now, me_id=who.me.id)
             for a in upcoming]
    earlier = [present(a, subject, who.actor, who.access, now, me_id=who.me.id) for a in past]
    await who.audit_view(request, detail={"page": "appointments"})
    return render(request, "patient/appointments.html", {
        "acting": who, "switch_path": "/timer", "items": items, "earlier": earlier,
        "book_href": who.link("/bestill"),
    }, headers=NO_STORE)


async def render_appointment(request: Request, who: Acting, appointment: Appointment, *,
                             notice: Notice | None = None, status_code: int = 200,
                             audit: bool = True) -> Response:
    """The appointment page, or only its status block for an htmx request
    that targets it."""
    i18n.activate(request)
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    now = utcnow()
    item = present(appointment, who.subject, who.actor, who.access, now,
                   me_id=who.me.id).with_notice(notice)
    context: dict[str, Any] = {
        "acting": who, "switch_path": "/timer", "item": item,
        "list_href": who.link("/timer"), "directions": None, "calendar_url": None,
        "replacement_id": await replacement_of(db, appointment),
        "book_href": who.link("/bestill"),
        "guardians_told": await guardians_notified(db, who),
        "previsit": await previsit_link(request, who, appointment),
    }
    context["waitlist"] = None
    if item.upcoming and item.can_change:
        context["waitlist"] = await waitlist_context(db, who, appointment)
    if item.upcoming:
        context["directions"] = directions_to(appointment.clinic)
        context["calendar_url"] = calendar_link(request, appointment, settings.secret_key, now,
                                                holder_id=who.me.id, named=who.for_child)
    if audit:
        await who.audit_view(request, detail={"page": "appointment",
                                              "appointment_id": appointment.id})
    response = page_or_fragment(request, "patient/appointment.html", context,
                                fragments={item.status_id: "status"},
                                status_code=status_code)
    response.headers.update(NO_STORE)
    return response


async def detail(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    i18n.activate(request)
    notice = None
    flags = request.query_params
    if flags.get(CONFIRMED_FLAG) and appointment.status == AppointmentStatus.CONFIRMED:
        notice = confirmed_notice()
    elif flags.get(CANCELLED_FLAG) and appointment.status == AppointmentStatus.CANCELLED:
        notice = cancelled_notice()
    elif flags.get(CHECKED_IN_FLAG) and appointment.arrived_at is not None:
        notice = checked_in_notice()
    else:
        notice = waitlist_notice(request)
    return await render_appointment(request, who, appointment, notice=notice)
