"""Staff book, change and cancel on a patient's behalf.

The same units of work as the patient's own (:mod:`booking.service`) and the
same rules (:mod:`booking.rules`), with the differences the clinic needs:

* The patient's online limits do not bind staff (minimum notice, booking
  horizon, change cut-off, the number of self-service changes, kinds that are
  not self-bookable, slots that are not released); :func:`booking.rules.may_book`
  and :func:`~booking.rules.may_change` already decide that by the actor's
  kind. Staff give a reason every time instead: it is kept on the appointment
  (``staff_note``, or ``cancellation_reason``) and the audit entry names the
  limits that would have stopped the patient (``overrides``, reason codes).
* Staff act only for their own clinics (``Actor.clinic_ids``; county-wide
  roles carry every clinic of their county): :func:`booking.rules.may_act_for`.
* A clinic-issued appointment (*innkalling*, :func:`issue`) may lie outside
  the slots: at any start on a chair, as long as the type's duration. It is
  refused when it overlaps another appointment of the chair (or a time
  someone is booking this minute) unless staff overbook on purpose with a
  reason; the appointment is then marked ``overbooked``. Free slots it covers
  are closed (``blocked``), so no one books over it online.
* For a child, the guardians are asked for afresh first (a
  :class:`~booking.relations.GuardiansSource`: the population register in
  production), so a guardian who never logged in is known locally and gets
  the notices the representation rules allow.

Every refusal is a :class:`~booking.service.BookingRefused` with a reason
code and nothing changed; an attempt on another clinic's data is refused the
same way and audited (:data:`OUT_OF_SCOPE`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from booking import audit, events, rules, search, service
from booking.audit import Actor
from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Patient,
    ScheduleException,
    Slot,
)
from booking.reasons import Reason
from booking.relations import GuardiansSource, refresh_child_guardians
from booking.service import BookingRefused, Outcome
from booking.statuses import ACTIVE, ActorKind, SlotStatus
from core.db import Database, utcnow

log = structlog.get_logger(__name__)

#: The longest reason kept (the columns' length).
MAX_REASON = 200
#: Audit action of an attempt on a patient or appointment outside the staff
#: member's clinics (nothing is shown or changed).
OUT_OF_SCOPE = "staff.out_of_scope"
ISSUE = "appointment.issue"
#: Refusals that mean "not your clinic".
_SCOPE_REASONS = frozenset({Reason.NOT_ALLOWED_FOR_ACTOR, Reason.WRONG_CLINIC})


def required_reason(text: str | None, missing: Reason = Reason.REASON_REQUIRED) -> str:
    """The reason as kept: control characters as spaces, trimmed, at most
    :data:`MAX_REASON` characters; refused when empty."""
    printable = "".join(c if c.isprintable() else " " for c in (text or ""))
    cleaned = " ".join(printable.split())[:MAX_REASON]
    if not cleaned:
        raise BookingRefused(missing)
    return cleaned


def _staff_only(actor: Actor) -> None:
    if actor.kind is not ActorKind.STAFF:
        raise BookingRefused(Reason.NOT_ALLOWED_FOR_ACTOR)


async def record_out_of_scope(db: Database, actor: Actor, action: str, *,
                              now: datetime | None = None, **ids: int | None) -> None:
    """Audit an attempt on data outside the actor's clinics (internal ids only;
    in the actor's own chain, so the patient's chain records no access)."""
    async with db.write() as session:
        await audit.record(session, actor, OUT_OF_SCOPE, purpose="reception",
                           detail={"attempted": action, **{k: v for k, v in ids.items()
                                                           if v is not None}},
                           now=now or utcnow())
    log.warning("staff.out_of_scope", action=action, actor_kind=actor.kind.value)


async def refresh_guardians(db: Database, guardians: GuardiansSource | None, patient_id: int,
                            now: datetime) -> None:
    """:func:`booking.relations.refresh_child_guardians` (kept here by name for callers)."""
    await refresh_child_guardians(db, guardians, patient_id, now)


def _codes(*decisions: rules.Decision) -> list[str]:
    return [d.reason.value for d in decisions if not d and d.reason is not None]


async def _book_overrides(db: Database, patient_id: int, slot_id: int,
                          appointment_type_id: int, now: datetime,
                          ignore_appointment_id: int | None = None) -> list[str]:
    """What would have stopped the patient booking this slot themselves."""
    async with db.read() as session:
        patient = await session.get(Patient, patient_id)
        if patient is None:
            return []
        try:
            loaded = await service._load_booking(session, slot_id, appointment_type_id,
                                                 patient_id, now)
        except BookingRefused:
            return []
        return _codes(rules.may_book(
            Actor.patient(patient_id), patient, loaded.appointment_type, loaded.slot,
            loaded.slot_type_ids, now, loaded.upcoming,
            ignore_appointment_id=ignore_appointment_id))


async def _scoped(db: Database, actor: Actor, action: str, refused: BookingRefused,
                  now: datetime, **ids: int | None) -> BookingRefused:
    if refused.reason in _SCOPE_REASONS:
        await record_out_of_scope(db, actor, action, now=now, **ids)
    return refused


async def book_for(db: Database, actor: Actor, *, patient_id: int, slot_id: int,
                   appointment_type_id: int, reason: str,
                   idempotency_key: str | None = None, clinic_id: int | None = None,
                   clinic_issued: bool = False, guardians: GuardiansSource | None = None,
                   now: datetime | None = None) -> Outcome:
    """Book any slot of the actor's clinics (released or not) for the patient."""
    now = now or utcnow()
    _staff_only(actor)
    note = required_reason(reason)
    await refresh_guardians(db, guardians, patient_id, now)
    overrides = await _book_overrides(db, patient_id, slot_id, appointment_type_id, now)
    try:
        return await service.book(
            db, actor, patient_id=patient_id, slot_id=slot_id,
            appointment_type_id=appointment_type_id, idempotency_key=idempotency_key,
            clinic_id=clinic_id, clinic_issued=clinic_issued, staff_note=note,
            audit_detail={"overrides": overrides, "reason_given": True}, now=now)
    except BookingRefused as refused:
        raise await _scoped(db, actor, "appointment.book", refused, now,
                            patient_id=patient_id, slot_id=slot_id) from None


async def change_for(db: Database, actor: Actor, *, appointment_id: int, new_slot_id: int,
                     reason: str, idempotency_key: str | None = None,
                     guardians: GuardiansSource | None = None,
                     now: datetime | None = None) -> Outcome:
    """Move the appointment to any slot of the actor's clinics; the change
    cut-off and the limit on self-service changes do not apply."""
    now = now or utcnow()
    _staff_only(actor)
    note = required_reason(reason)
    async with db.read() as session:
        found = (await session.execute(
            select(Appointment, AppointmentType, Patient)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Appointment.id == appointment_id))).one_or_none()
    overrides: list[str] = []
    if found is not None:
        old, kind, patient = found
        await refresh_guardians(db, guardians, patient.id, now)
        overrides = _codes(rules.may_change(Actor.patient(patient.id), old, kind, patient, now))
        overrides += await _book_overrides(db, patient.id, new_slot_id, kind.id, now,
                                           ignore_appointment_id=old.id)
    try:
        outcome = await service.change(
            db, actor, appointment_id=appointment_id, new_slot_id=new_slot_id,
            idempotency_key=idempotency_key, staff_note=note,
            audit_detail={"overrides": sorted(set(overrides)), "reason_given": True}, now=now)
    except BookingRefused as refused:
        raise await _scoped(db, actor, "appointment.change", refused, now,
                            appointment_id=appointment_id, slot_id=new_slot_id) from None
    if found is not None and not outcome.replayed:
        await reopen_covered(db, found[0], now)
    return outcome


async def cancel_for(db: Database, actor: Actor, *, appointment_id: int, reason: str,
                     guardians: GuardiansSource | None = None,
                     now: datetime | None = None) -> Outcome:
    """Cancel with the reason staff give (kept as the cancellation reason)."""
    now = now or utcnow()
    _staff_only(actor)
    note = required_reason(reason)
    async with db.read() as session:
        patient_id = (await session.execute(
            select(Appointment.patient_id).where(Appointment.id == appointment_id)
        )).scalar_one_or_none()
    if patient_id is not None:
        await refresh_guardians(db, guardians, patient_id, now)
    try:
        outcome = await service.cancel(db, actor, appointment_id=appointment_id, reason=note,
                                       audit_detail={"reason_given": True, "by_staff": True},
                                       now=now)
    except BookingRefused as refused:
        raise await _scoped(db, actor, "appointment.cancel", refused, now,
                            appointment_id=appointment_id) from None
    await reopen_covered(db, outcome.appointment, now)
    return outcome


async def reopen_covered(db: Database, appointment: Appointment, now: datetime) -> int:
    """After an innkalling outside the slots is cancelled or moved: open
    again the slots of its chair it closed (:func:`issue`), unless a closure
    or another active appointment of the chair still covers them. Returns how
    many were opened. Only for an appointment in a slot of its own (no
    template)."""
    async with db.write() as session:
        own = await session.get(Slot, appointment.slot_id)
        if own is None or own.template_id is not None:
            return 0
        chair = await _lock_chair(session, appointment.chair_id)
        covered = list((await session.execute(
            select(Slot).where(Slot.chair_id == chair.id, Slot.id != own.id,
                               Slot.status == SlotStatus.BLOCKED,
                               Slot.starts_at < appointment.ends_at,
                               Slot.ends_at > appointment.starts_at)
            .order_by(Slot.id).with_for_update(key_share=True))).scalars())
        opened = 0
        for slot in covered:
            if slot.ends_at <= now or await _closed(session, chair, slot.starts_at, slot.ends_at):
                continue
            busy = (await session.execute(select(Appointment.id).where(
                Appointment.chair_id == chair.id,
                Appointment.status.in_([s.value for s in ACTIVE]),
                Appointment.starts_at < slot.ends_at, Appointment.ends_at > slot.starts_at)
                .limit(1))).first()
            if busy is None:
                slot.status = SlotStatus.FREE
                slot.version += 1
                opened += 1
    if opened:
        search.forget_free_times(appointment.clinic_id)
    return opened


# --- Clinic-issued appointments (innkalling) at any time ----------------------


def _claimable(slot: Slot, now: datetime) -> bool:
    return slot.status == SlotStatus.FREE or (
        slot.status == SlotStatus.HELD and (slot.held_until is None or slot.held_until < now))


async def _lock_chair(session: AsyncSession, chair_id: int) -> Chair:
    chair = (await session.execute(
        select(Chair).options(joinedload(Chair.clinic)).where(Chair.id == chair_id)
        .with_for_update(of=Chair, key_share=True))).scalar_one_or_none()
    if chair is None or not chair.active:
        raise BookingRefused(Reason.UNKNOWN_CHAIR)
    return chair


async def _closed(session: AsyncSession, chair: Chair, starts_at: datetime,
                  ends_at: datetime) -> bool:
    return (await session.execute(
        select(ScheduleException.id).where(
            ScheduleException.clinic_id == chair.clinic_id,
            or_(ScheduleException.chair_id.is_(None), ScheduleException.chair_id == chair.id),
            ScheduleException.starts_at < ends_at, ScheduleException.ends_at > starts_at)
        .limit(1))).first() is not None


async def issue(db: Database, actor: Actor, *, patient_id: int, chair_id: int,
                starts_at: datetime, appointment_type_id: int, reason: str,
                overbook: bool = False, overbook_reason: str | None = None,
                idempotency_key: str | None = None, guardians: GuardiansSource | None = None,
                now: datetime | None = None) -> Outcome:
    """A clinic-issued appointment (innkalling) on ``chair_id`` from
    ``starts_at`` for the type's duration, whether or not a slot starts then.

    Refused when the chair has another active appointment in that time, or
    someone holds a slot of it while booking, unless ``overbook`` with an
    ``overbook_reason``; always refused in a closure, in the past, for a kind
    of another county or outside its ages, and over the patient's own other
    appointments. Locks the patient, the chair, then the chair's slots in the
    time, so two of these never overlap and a patient's self-booking of a
    covered slot either wins first (and this is refused) or finds it closed."""
    now = now or utcnow()
    _staff_only(actor)
    note = required_reason(reason)
    extra = (required_reason(overbook_reason, Reason.OVERBOOK_REASON_REQUIRED)
             if overbook else None)
    await refresh_guardians(db, guardians, patient_id, now)
    replay = await service._replay(db, idempotency_key, patient_id, actor=actor)
    if replay:
        return replay
    try:
        async with db.write() as session:
            patient = await service._lock_patient(session, patient_id)
            chair = await _lock_chair(session, chair_id)
            who = rules.may_act_for(actor, patient.id, chair.clinic_id)
            if not who:
                raise BookingRefused(Reason.NOT_ALLOWED_FOR_ACTOR)
            kind = await session.get(AppointmentType, appointment_type_id)
            if kind is None:
                raise BookingRefused(Reason.UNKNOWN_TYPE)
            clinic_county = chair.clinic.county_id
            if kind.county_id != clinic_county:
                raise BookingRefused(Reason.TYPE_NOT_IN_SLOT)
            if starts_at <= now:
                raise BookingRefused(Reason.SLOT_IN_PAST)
            ends_at = starts_at + timedelta(minutes=kind.duration_minutes)
            if not rules.fits_age(kind, patient.birth_date, rules.local_date(starts_at)):
                raise BookingRefused(Reason.AGE_NOT_ALLOWED)
            mine = (await session.execute(select(Appointment).where(
                Appointment.patient_id == patient.id,
                Appointment.status.in_([s.value for s in ACTIVE]),
                Appointment.starts_at < ends_at, Appointment.ends_at > starts_at))).scalars()
            if any(True for _ in mine):
                raise BookingRefused(Reason.OVERLAPS_OTHER)
            if await _closed(session, chair, starts_at, ends_at):
                raise BookingRefused(Reason.SLOT_CLOSED)
            covered = list((await session.execute(
                select(Slot).where(Slot.chair_id == chair.id, Slot.starts_at < ends_at,
                                   Slot.ends_at > starts_at)
                .order_by(Slot.id).with_for_update(key_share=True))).scalars())
            busy = (await session.execute(select(Appointment.id).where(
                Appointment.chair_id == chair.id,
                Appointment.status.in_([s.value for s in ACTIVE]),
                Appointment.starts_at < ends_at, Appointment.ends_at > starts_at)
                .limit(1))).first() is not None
            held = any(s.status == SlotStatus.HELD and not _claimable(s, now) for s in covered)
            conflict = busy or held
            if conflict and not overbook:
                raise BookingRefused(Reason.CHAIR_BUSY)
            slot = next((s for s in covered if s.starts_at == starts_at), None)
            if slot is None:
                slot = Slot(clinic_id=chair.clinic_id, chair_id=chair.id, template_id=None,
                            starts_at=starts_at, ends_at=ends_at, status=SlotStatus.FREE,
                            released=False, version=0)
                session.add(slot)
                await session.flush()
            elif slot.status == SlotStatus.BLOCKED:
                # Closed for an earlier innkalling that is gone (closures were
                # checked above): this one may have it.
                slot.status = SlotStatus.FREE
                await session.flush()
            elif not _claimable(slot, now):
                raise BookingRefused(Reason.START_TAKEN)
            overbooked = bool(conflict)
            appointment = await service._claim_and_insert(session, service._appointment_values(
                slot, patient, kind, actor, now, clinic_issued=True,
                idempotency_key=idempotency_key, staff_note=note, overbooked=overbooked,
                overbook_reason=extra if overbooked else None), now, None)
            if appointment is None:
                raise BookingRefused(Reason.SLOT_TAKEN)
            closing = [s.id for s in covered if s.id != slot.id and _claimable(s, now)]
            if closing:
                await session.execute(
                    update(Slot).where(Slot.id.in_(closing), or_(
                        Slot.status == SlotStatus.FREE,
                        and_(Slot.status == SlotStatus.HELD, Slot.held_until < now)))
                    .values(status=SlotStatus.BLOCKED, hold_key=None, hold_owner=None,
                            held_until=None, version=Slot.version + 1)
                    .execution_options(synchronize_session=False))
            await events.listener().on_booked(session, appointment, now=now)
            detail: dict[str, Any] = {
                "appointment_id": appointment.id, "slot_id": slot.id, "chair_id": chair.id,
                "overbooked": overbooked, "closed_slots": len(closing), "reason_given": True}
            await audit.record(session, actor, ISSUE, purpose=service.PURPOSE_OF[actor.kind],
                               subject_patient_id=patient.id, on_behalf_of_id=patient.id,
                               detail=detail, now=now)
    except IntegrityError:
        replay = await service._replay(db, idempotency_key, patient_id, actor=actor)
        if replay:
            return replay
        raise BookingRefused(Reason.START_TAKEN) from None
    except BookingRefused as refused:
        replay = await service._replay(db, idempotency_key, patient_id, actor=actor)
        if replay:
            return replay
        raise await _scoped(db, actor, ISSUE, refused, now, patient_id=patient_id,
                            chair_id=chair_id) from None
    search.forget_free_times(appointment.clinic_id)
    log.info("appointment_issued", appointment_id=appointment.id, overbooked=overbooked)
    return Outcome(appointment)
