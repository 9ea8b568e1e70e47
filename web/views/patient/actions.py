"""Confirming and cancelling: ``POST /timer/{id}/bekreft``, and
``GET``/``POST /timer/{id}/avbestill`` (a confirmation step first).

Each POST authorises (``acting_for_appointment``), calls one service
function with the acting actor, and redirects (303) to the appointment page
with a flag that shows what happened. An htmx confirm gets only the status
block instead. When the service refuses (already cancelled, cut-off passed
since the page was loaded), nothing has changed: the page (or block) is
shown again with the reason in plain words and status 409.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import attendance, rules, service
from booking.models import Appointment
from booking.reasons import Warning
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus
from core.db import Database, utcnow
from web import i18n
from web.acting import Acting, refresh_guardians
from web.htmx import is_htmx
from web.templating import render
from web.views.patient.appointments import (
    CANCELLED_FLAG,
    CHECKED_IN_FLAG,
    CONFIRMED_FLAG,
    NO_STORE,
    confirmed_notice,
    render_appointment,
)
from web.views.patient.loading import acting_for_appointment
from web.views.patient.presenting import (
    CHANGED,
    Notice,
    Refusal,
    fee_text,
    load_appointment,
    present,
    refusal,
    replacement_of,
)

CONFLICT = 409
#: The hidden field that says the fee warning was on the page the user confirmed.
FEE_SEEN = "fee_warning_shown"


def refused_notice(refused: BookingRefused, appointment: Appointment) -> Notice:
    return Notice("danger", i18n.gettext("Nothing was changed."),
                  refusal(refused.reason, refused.params, appointment.clinic))


async def _reloaded(request: Request, appointment_id: int) -> Appointment:
    db: Database = request.app.state.db
    fresh = await load_appointment(db, appointment_id)
    assert fresh is not None  # appointments are never deleted
    return fresh


async def confirm(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    db: Database = request.app.state.db
    try:
        await service.confirm(db, who.actor, appointment_id=appointment.id)
    except BookingRefused as refused:
        i18n.activate(request)
        return await render_appointment(
            request, who, await _reloaded(request, appointment.id),
            notice=refused_notice(refused, appointment), status_code=CONFLICT)
    if is_htmx(request):
        i18n.activate(request)
        return await render_appointment(request, who, await _reloaded(request, appointment.id),
                                        notice=confirmed_notice(), audit=False)
    return RedirectResponse(f"/timer/{appointment.id}?{CONFIRMED_FLAG}=1", status_code=303)


async def _cancel_page(request: Request, who: Acting, appointment: Appointment, *,
                 refused: Refusal | None = None, status_code: int = 200) -> Response:
    now = utcnow()
    decision = rules.may_cancel(who.actor, appointment, appointment.appointment_type,
                                who.subject, now)
    item = present(appointment, who.subject, who.actor, who.access, now, me_id=who.me.id)
    ended = item.moved or item.cancelled  # e.g. the back button after it was done
    if not decision and refused is None and decision.reason is not None and not ended:
        refused = refusal(decision.reason, dict(decision.params), appointment.clinic)
    fee_now = Warning.LATE_CANCELLATION_FEE in decision.warnings
    rule = rules.fee_rule(appointment.appointment_type, who.subject.birth_date,
                          appointment.starts_at, now)
    context: dict[str, Any] = {
        "acting": who, "switch_path": "/timer", "item": item,
        "allowed": bool(decision), "refused": refused,
        "fee_warning": fee_text(rule, appointment.starts_at) if fee_now else None,
        "fee_rule": None if fee_now else fee_text(rule, appointment.starts_at),
        "fee_field": FEE_SEEN,
        "replacement_id": await replacement_of(request.app.state.db, appointment),
        "book_href": who.link("/bestill"),
    }
    return render(request, "patient/cancel.html", context, status_code=status_code,
                  headers=NO_STORE)


async def cancel_page(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    i18n.activate(request)
    await who.audit_view(request, detail={"page": "cancel", "appointment_id": appointment.id})
    return await _cancel_page(request, who, appointment)


async def cancel(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    form = await request.form()
    i18n.activate(request)
    if (appointment.status == AppointmentStatus.CANCELLED
            and appointment.cancellation_reason != CHANGED):
        # Sent again (back button, double tap): it is done; show the result.
        return RedirectResponse(f"/timer/{appointment.id}?{CANCELLED_FLAG}=1", status_code=303)
    decision = rules.may_cancel(who.actor, appointment, appointment.appointment_type,
                                who.subject, utcnow())
    if Warning.LATE_CANCELLATION_FEE in decision.warnings and form.get(FEE_SEEN) != "1":
        # The fee applies now but the page the user confirmed did not say so
        # (it was loaded earlier): tell them first, change nothing.
        return await _cancel_page(request, who, appointment, status_code=CONFLICT)
    db: Database = request.app.state.db
    await refresh_guardians(request, appointment.patient_id)
    try:
        await service.cancel(db, who.actor, appointment_id=appointment.id)
    except BookingRefused as refused:
        fresh = await _reloaded(request, appointment.id)
        return await _cancel_page(request, who, fresh, status_code=CONFLICT,
                            refused=refusal(refused.reason, refused.params, fresh.clinic))
    return RedirectResponse(f"/timer/{appointment.id}?{CANCELLED_FLAG}=1", status_code=303)


async def check_in(request: Request) -> Response:
    """``POST /timer/{id}/her``: "Jeg er her" on the day of the appointment."""
    who, appointment = await acting_for_appointment(request)
    db: Database = request.app.state.db
    try:
        async with db.write() as session:
            await attendance.check_in(session, appointment.id, who.actor, utcnow())
    except BookingRefused as refused:
        i18n.activate(request)
        return await render_appointment(
            request, who, await _reloaded(request, appointment.id),
            notice=refused_notice(refused, appointment), status_code=CONFLICT)
    return RedirectResponse(f"/timer/{appointment.id}?{CHECKED_IN_FLAG}=1", status_code=303)
