"""The end of the booking wizard: ``GET /bestill/bekreft`` shows what is about
to be booked while it is held, ``POST /bestill/bekreft`` books it (once,
however often it is sent), and ``GET /timer/{id}/kvittering`` is the receipt."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from booking import holds, queries, rules, service
from booking.holds import NotHeld
from booking.models import Slot
from booking.reasons import Reason
from booking.reference import reference
from booking.representation import Access
from booking.statuses import ACTIVE
from core import tokens
from core.db import Database, utcnow
from web import i18n, phone
from web.acting import refresh_guardians
from web.views.booking import inputs
from web.views.booking.inputs import BadInput
from web.views.booking.pages import (
    BOOK,
    FORM_CHANGED,
    HOLD_EXPIRED,
    Wizard,
    base,
    hold_keys,
    page,
    to_receipt,
)
from web.views.booking.wizard import Step, refused_time, walk, when_page
from web.views.clinics import phone_link
from web.views.patient.loading import acting_for_appointment
from web.views.patient.presenting import fee_text, guardians_notified
from web.views.profile import oslo_today, register_view, sms_number


async def _summary_page(request: Request, step: Step, slot: Slot, key: str) -> Response:
    assert step.who and step.wizard and step.search
    assert slot.held_until is not None
    kind = step.search.kind
    wizard = step.wizard
    db: Database = request.app.state.db
    rule = rules.fee_rule(kind, step.who.subject.birth_date, slot.starts_at, utcnow())
    return page(request, "booking/confirm.html", {
        **base(step.who, step.wizard), "search": step.search,
        "kind_name": kind.name(i18n.get_locale()),
        # "Change" per row: back to that step, with the later choices kept
        # where they still fit.
        "change_for": BOOK if len(step.who.people) > 1 else None,
        "change_kind": Wizard(wizard.for_value).url(),
        "change_clinic": Wizard(wizard.for_value, wizard.type_id).url(),
        "fee_rule": fee_text(rule, slot.starts_at, booking=True),
        "guardians_told": await guardians_notified(db, step.who),
        "starts_at": slot.starts_at, "held_until": slot.held_until,
        "ends_at": slot.starts_at + timedelta(minutes=kind.duration_minutes),
        "hidden": {"for": step.wizard.for_value, "type": kind.id,
                   "clinic": step.search.clinic.slug, "slot": slot.id, "hold": key,
                   "key": inputs.new_key()},
        "back": step.wizard.day_url(rules.local_date(slot.starts_at)),
    })


async def summary(request: Request) -> Response:
    """``GET /bestill/bekreft``: what is about to be booked, while it is held."""
    i18n.activate(request)
    query = inputs.checked_query(request)
    step = await walk(request, query, require_all=True)
    if step.page is not None:
        return step.page
    assert step.who and step.wizard and step.search
    db: Database = request.app.state.db
    slot_id = inputs.id_of(query, "slot")
    if slot_id is None:
        raise BadInput()
    key = hold_keys(request, step.who).for_slot(slot_id)
    slot = await holds.held_by(db, slot_id, key)
    if slot is not None and slot.clinic_id == step.search.clinic.id:
        return await _summary_page(request, step, slot, key)
    booked = await queries.read(db, queries.active_in_slot, step.who.subject.id, slot_id)
    if booked is not None:  # back to a summary whose booking is done
        return to_receipt(booked)
    found = await queries.read(db, queries.slot, slot_id)
    starts_at = found.starts_at if found is not None else None
    if found is not None and found.clinic_id == step.search.clinic.id and holds.ran_out(
            found, key):
        return await when_page(request, step, rules.local_date(found.starts_at),
                               problem=i18n.gettext(HOLD_EXPIRED))
    return await refused_time(request, step, NotHeld(Reason.SLOT_TAKEN, {}, starts_at),
                              slot_id)


async def confirm(request: Request) -> Response:
    """``POST /bestill/bekreft``: book the held time, once."""
    i18n.activate(request)
    form = await inputs.checked_form(request)
    step = await walk(request, form, require_all=True)
    if step.page is not None:
        return step.page
    assert step.who and step.wizard and step.search
    db: Database = request.app.state.db
    slot_id = inputs.id_of(form, "slot")
    given_hold = inputs.value(form, "hold")
    idempotency_key = inputs.form_key(form)
    if slot_id is None or given_hold is None:
        raise BadInput()
    key = hold_keys(request, step.who).for_slot(slot_id)
    if not tokens.same(given_hold.encode(), key.encode()):
        return await when_page(request, step, None, problem=i18n.gettext(FORM_CHANGED),
                               status_code=400)
    await refresh_guardians(request, step.who.subject.id)
    try:
        outcome = await service.book(
            db, step.who.actor, patient_id=step.who.subject.id, slot_id=slot_id,
            appointment_type_id=step.search.kind.id, idempotency_key=idempotency_key,
            clinic_id=step.search.clinic.id, hold_key=key)
    except service.BookingRefused as refused:
        if refused.reason is Reason.SLOT_TAKEN:
            booked = await queries.read(db, queries.active_in_slot, step.who.subject.id,
                                        slot_id)
            if booked is not None:
                return to_receipt(booked)
        found = await queries.read(db, queries.slot, slot_id)
        starts_at = found.starts_at if found and found.clinic_id == step.search.clinic.id \
            else None
        return await refused_time(request, step, NotHeld(refused.reason, refused.params,
                                                         starts_at), slot_id)
    return to_receipt(outcome.appointment.id)


async def receipt(request: Request) -> Response:
    """``GET /timer/{id}/kvittering``: what was booked and what happens next."""
    who, appointment = await acting_for_appointment(request)
    i18n.activate(request)
    await who.audit_view(request, detail={"page": "receipt", "appointment_id": appointment.id})
    kind = appointment.appointment_type
    db: Database = request.app.state.db
    me = who.me
    sms_to, _source = sms_number(me.mobile, await register_view(request, me), oslo_today())
    return page(request, "booking/receipt.html", {
        "acting": who, "appointment": appointment, "clinic": appointment.clinic,
        "phone": phone_link(appointment.clinic.phone),
        "kind_name": kind.name(i18n.get_locale()) if who.access is Access.FULL else None,
        "changed": appointment.replaces_id is not None,
        "active": appointment.status in ACTIVE,
        "cutoff_hours": kind.change_cutoff_hours,
        "fee_rule": fee_text(rules.fee_rule(kind, who.subject.birth_date,
                                            appointment.starts_at, utcnow()),
                             appointment.starts_at, booking=True),
        "reference": reference(appointment.id),
        "sms_to": phone.display(sms_to) if sms_to else None,
        "guardians_told": await guardians_notified(db, who),
        "book_again": BOOK,
    })
