"""Changing a time: ``GET /timer/{id}/endre`` shows the picker for the same
clinic and kind; ``POST`` holds the new slot and calls ``service.change``,
which releases the old time only once the new one is claimed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import holds, picker, queries, rules, service
from booking.holds import NotHeld
from booking.models import Appointment
from booking.search import FreeSlot
from booking.statuses import AppointmentStatus
from core.db import Database, utcnow
from web import i18n
from web.acting import Acting, refresh_guardians
from web.views.booking import inputs
from web.views.booking.inputs import BadInput
from web.views.booking.pages import (
    CHOOSE_TIME,
    NO_STORE,
    NOTHING_CHANGED,
    Wizard,
    base,
    for_value,
    hold_keys,
    hold_limit,
    to_receipt,
)
from web.views.booking.times import day_picker, explain, picker_page
from web.views.clinics import phone_link
from web.views.patient.loading import acting_for_appointment


@dataclass(frozen=True)
class Change:
    """Who acts for whose appointment, where its new time may be, and whether
    it may be moved at all."""

    who: Acting
    appointment: Appointment
    wizard: Wizard
    search: picker.Search
    decision: rules.Decision

    @property
    def path(self) -> str:
        return f"/timer/{self.appointment.id}/endre"

    def day_url(self, day: date) -> str:
        return f"{self.path}?{urlencode({'day': day.isoformat()})}"


async def _change(request: Request) -> Change:
    """The appointment in the path and who acts for it (404 and audited
    otherwise)."""
    who, appointment = await acting_for_appointment(request)
    i18n.activate(request)
    kind = appointment.appointment_type
    return Change(
        who=who, appointment=appointment,
        wizard=Wizard(for_value(who), kind.id, appointment.clinic.slug),
        search=picker.Search(appointment.clinic, kind, who.subject, who.today,
                             changing=appointment.id),
        decision=rules.may_change(who.actor, appointment, kind, who.subject, utcnow()))


async def _change_page(request: Request, change: Change, day: date | None, *,
                       problem: str | None = None, near: Sequence[FreeSlot] = (),
                       slot_error: bool = False, status_code: int = 200,
                       key: str | None = None) -> Response:
    db: Database = request.app.state.db
    decision = change.decision
    refusal = None
    if not decision and decision.reason is not None:
        refusal = i18n.translate_reason(decision.reason, decision.params)
    return picker_page(request, {
        **base(change.who, change.wizard, problem), "search": change.search,
        "change": change.appointment, "refusal": refusal,
        "phone": phone_link(change.search.clinic.phone),
        "warnings": [i18n.translate_reason(w) for w in decision.warnings],
        "picker": await day_picker(db, change.search, change.day_url, day)
        if decision else None,
        "nearest": list(near), "slot_error": slot_error,
        "action": change.path,
        "hidden": {"key": key or inputs.new_key()},
        "back": f"/timer/{change.appointment.id}",
    }, status_code)


async def change_page(request: Request) -> Response:
    """``GET /timer/{id}/endre``: choose a new time at the same clinic."""
    change = await _change(request)
    if change.appointment.status == AppointmentStatus.CANCELLED:
        # Moved or cancelled already (e.g. the back button after it was
        # done): its page says so, and where the new time is.
        return RedirectResponse(f"/timer/{change.appointment.id}", status_code=303,
                                headers=NO_STORE)
    await change.who.audit_view(request, detail={"page": "change",
                                                 "appointment_id": change.appointment.id})
    return await _change_page(request, change, inputs.day_of(inputs.checked_query(request)))


async def change_submit(request: Request) -> Response:
    """``POST /timer/{id}/endre``: hold the new time, then move the appointment."""
    change = await _change(request)
    who, appointment = change.who, change.appointment
    form = await inputs.checked_form(request)
    db: Database = request.app.state.db
    idempotency_key = inputs.form_key(form)
    slot_id = inputs.id_of(form, "slot")
    done = await queries.read(db, queries.by_idempotency_key, idempotency_key)
    if done is not None:
        if done.patient_id != who.subject.id or done.created_by != who.actor.id:
            raise BadInput()  # someone else's key: only a tampered form sends one
        return to_receipt(done.id)

    async def again(problem: str, status_code: int, day: date | None = None,
                    near: Sequence[FreeSlot] = (), slot_error: bool = False) -> Response:
        return await _change_page(request, change, day, problem=problem, near=near,
                                  slot_error=slot_error, status_code=status_code,
                                  key=idempotency_key)

    if not change.decision:
        return await again(i18n.gettext(NOTHING_CHANGED), 409)
    if slot_id is None:
        return await again(i18n.gettext(CHOOSE_TIME), 400, inputs.day_of(form),
                           slot_error=True)
    held = await holds.hold(db, who.actor, change.search, slot_id, hold_keys(request, who),
                            limit=hold_limit(request))
    if isinstance(held, NotHeld):
        why = await explain(db, change.search, held, slot_id)
        return await again(why.text, 409, why.day, why.near)
    await refresh_guardians(request, appointment.patient_id)
    try:
        outcome = await service.change(db, who.actor, appointment_id=appointment.id,
                                       new_slot_id=held.slot_id,
                                       idempotency_key=idempotency_key, hold_key=held.key)
    except service.BookingRefused as refused:
        await service.release_hold(db, slot_id=held.slot_id, hold_key=held.key)
        found = await queries.read(db, queries.slot, held.slot_id)
        why = await explain(db, change.search, NotHeld(
            refused.reason, refused.params, found.starts_at if found else None), slot_id)
        return await again(why.text, 409, why.day, why.near)
    return to_receipt(outcome.appointment.id)
