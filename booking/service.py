"""Book, change, cancel, confirm: each a unit of work in one transaction.

The order inside each is fixed so concurrent units never deadlock: patient
row, appointment row, slot rows, then the audit log's tail. Slots are claimed
with a compare-and-swap update (``... WHERE status = 'free'``) that behaves
the same on SQLite and PostgreSQL, and a partial unique index on live
appointments per slot backs it up: the database, not the application, is what
makes a double booking impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit, events, queries, rules
from booking.audit import Actor
from booking.models import (
    Appointment,
    AppointmentType,
    BookingEvent,
    Patient,
    Slot,
)
from booking.reasons import Reason, Warning
from booking.statuses import ActorKind, AppointmentStatus, SlotStatus, Source
from core.db import Database, utcnow

log = structlog.get_logger(__name__)

HOLD_TIME = timedelta(minutes=10)
#: Booking event kinds: a slot became free again; a cancellation came inside
#: ``rules.LATE_CANCELLATION_WINDOW`` (for the clinic's refill work).
SLOT_FREED = "slot_freed"
LATE_CANCELLATION = "late_cancellation"
SOURCE_OF = {
    ActorKind.PATIENT: Source.SELF,
    ActorKind.GUARDIAN: Source.GUARDIAN,
    ActorKind.STAFF: Source.STAFF,
    ActorKind.SUPPORT: Source.STAFF,
    ActorKind.RECORD_SYSTEM: Source.RECORD_SYSTEM,
    ActorKind.SYSTEM: Source.RECORD_SYSTEM,
}
PURPOSE_OF = {
    ActorKind.PATIENT: "self_service",
    ActorKind.GUARDIAN: "guardian_for_child",
    ActorKind.STAFF: "reception",
    ActorKind.SUPPORT: "support",
    ActorKind.RECORD_SYSTEM: "record_system_sync",
    ActorKind.SYSTEM: "system",
}


class BookingRefused(Exception):
    """The request is not allowed or no longer possible; nothing was changed."""

    def __init__(self, reason: Reason, **params: int) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class Outcome:
    appointment: Appointment
    warnings: tuple[Warning, ...] = ()
    replayed: bool = False  # the same request was already done (idempotency key)


def _raise_unless(decision: rules.Decision) -> None:
    if not decision:
        assert decision.reason is not None
        raise BookingRefused(decision.reason, **decision.params)


def _is_free(now: datetime, hold_key: str | None = None) -> ColumnElement[bool]:
    """SQL condition: the slot may be claimed now (free, or held by us, or an
    expired hold)."""
    held_claimable = and_(Slot.status == SlotStatus.HELD, Slot.held_until < now)
    if hold_key is not None:
        held_claimable = or_(held_claimable,
                             and_(Slot.status == SlotStatus.HELD, Slot.hold_key == hold_key))
    return or_(Slot.status == SlotStatus.FREE, held_claimable)


async def _claim_slot(session: AsyncSession, slot_id: int, now: datetime,
                      hold_key: str | None) -> bool:
    result = await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, _is_free(now, hold_key))
        .values(status=SlotStatus.BOOKED, hold_key=None, held_until=None,
                version=Slot.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def _free_slot(session: AsyncSession, slot_id: int, appointment_id: int,
                     now: datetime) -> None:
    await session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.status == SlotStatus.BOOKED)
        .values(status=SlotStatus.FREE, version=Slot.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.add(BookingEvent(kind="slot_freed", slot_id=slot_id,
                             appointment_id=appointment_id, occurred_at=now))


async def _load_slot(session: AsyncSession, slot_id: int) -> Slot:
    slot = await queries.slot(session, slot_id)
    if slot is None:
        raise BookingRefused(Reason.UNKNOWN_SLOT)
    return slot


async def _lock_patient(session: AsyncSession, patient_id: int) -> Patient:
    patient = (
        await session.execute(select(Patient).where(Patient.id == patient_id).with_for_update())
    ).scalar_one_or_none()
    if patient is None:
        raise BookingRefused(Reason.UNKNOWN_PATIENT)
    return patient


async def _lock_appointment(session: AsyncSession, appointment_id: int) -> Appointment:
    appointment = (
        await session.execute(
            select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        )
    ).scalar_one_or_none()
    if appointment is None:
        raise BookingRefused(Reason.UNKNOWN_APPOINTMENT)
    return appointment


async def _replay(db: Database, key: str | None, patient_id: int | None = None
                  ) -> Outcome | None:
    async with db.read() as session:
        existing = await queries.by_idempotency_key(session, key)
    if existing is None:
        return None
    if patient_id is not None and existing.patient_id != patient_id:
        raise BookingRefused(Reason.SLOT_TAKEN)
    return Outcome(existing, replayed=True)


async def book(db: Database, actor: Actor, *, patient_id: int, slot_id: int,
               appointment_type_id: int, idempotency_key: str | None = None,
               clinic_id: int | None = None, hold_key: str | None = None,
               clinic_issued: bool = False, external_ref: str | None = None,
               now: datetime | None = None) -> Outcome:
    """Book ``slot_id`` for ``patient_id``. Repeating the call with the same
    ``idempotency_key`` returns the first result and books nothing more."""
    now = now or utcnow()
    replay = await _replay(db, idempotency_key, patient_id)
    if replay:
        return replay
    try:
        async with db.write() as session:
            patient = await _lock_patient(session, patient_id)
            slot = await _load_slot(session, slot_id)
            if clinic_id is not None and slot.clinic_id != clinic_id:
                raise BookingRefused(Reason.WRONG_CLINIC)
            appointment_type = await session.get(AppointmentType, appointment_type_id)
            if appointment_type is None:
                raise BookingRefused(Reason.UNKNOWN_TYPE)
            _raise_unless(rules.may_book(
                actor, patient, appointment_type, slot, await queries.slot_type_ids(session, slot),
                now, await queries.upcoming(session, patient_id, now), hold_key=hold_key))
            if not await _claim_slot(session, slot.id, now, hold_key):
                raise BookingRefused(Reason.SLOT_TAKEN)
            appointment = _appointment_in(
                slot, patient, appointment_type, actor, now, clinic_issued=clinic_issued,
                idempotency_key=idempotency_key, external_ref=external_ref)
            session.add(appointment)
            await session.flush()
            appointment.chain_id = appointment.id
            await events.listener().on_booked(session, appointment, now=now)
            await audit.record(
                session, actor, "appointment.book", purpose=PURPOSE_OF[actor.kind],
                subject_patient_id=patient.id, on_behalf_of_id=_behalf(actor, patient.id),
                detail={"appointment_id": appointment.id, "slot_id": slot.id}, now=now)
    except BookingRefused as refused:
        if refused.reason is Reason.SLOT_TAKEN:
            replay = await _replay(db, idempotency_key, patient_id)
            if replay:
                return replay
        raise
    except IntegrityError:
        # A concurrent request with the same key, or the live-slot index.
        replay = await _replay(db, idempotency_key, patient_id)
        if replay:
            return replay
        raise BookingRefused(Reason.SLOT_TAKEN) from None
    log.info("appointment_booked", appointment_id=appointment.id, slot_id=slot_id,
             actor_kind=actor.kind.value)
    return Outcome(appointment)


def _appointment_in(slot: Slot, patient: Patient, appointment_type: AppointmentType,
                    actor: Actor, now: datetime, **fields: Any) -> Appointment:
    """A new booked appointment of ``patient`` in ``slot``, made by ``actor``."""
    return Appointment(
        patient_id=patient.id, clinic_id=slot.clinic_id, chair_id=slot.chair_id,
        slot_id=slot.id, appointment_type_id=appointment_type.id, starts_at=slot.starts_at,
        ends_at=slot.starts_at + timedelta(minutes=appointment_type.duration_minutes),
        status=AppointmentStatus.BOOKED, source=SOURCE_OF[actor.kind],
        created_by_kind=actor.kind.value, created_by=actor.id,
        on_behalf_of_id=_behalf(actor, patient.id), created_at=now, updated_at=now, **fields)


def _behalf(actor: Actor, patient_id: int) -> int | None:
    return patient_id if actor.patient_id != patient_id else None


async def change(db: Database, actor: Actor, *, appointment_id: int, new_slot_id: int,
                 idempotency_key: str | None = None, hold_key: str | None = None,
                 now: datetime | None = None) -> Outcome:
    """Move an appointment to another slot. The new slot is claimed before the
    old one is released, in one transaction: if the new time is gone, the
    patient keeps the old one."""
    now = now or utcnow()
    replay = await _replay(db, idempotency_key)
    if replay:
        return replay
    try:
        async with db.write() as session:
            old = await _lock_appointment(session, appointment_id)
            patient = await _lock_patient(session, old.patient_id)
            appointment_type = await session.get(AppointmentType, old.appointment_type_id)
            assert appointment_type is not None
            decision = rules.may_change(actor, old, appointment_type, patient, now)
            _raise_unless(decision)
            if new_slot_id == old.slot_id:
                raise BookingRefused(Reason.SAME_SLOT)
            slot = await _load_slot(session, new_slot_id)
            if slot.clinic_id != old.clinic_id and rules.is_self_service(actor):
                # Changing clinic is a new booking; keep change within the clinic.
                raise BookingRefused(Reason.WRONG_CLINIC)
            _raise_unless(rules.may_book(
                actor, patient, appointment_type, slot, await queries.slot_type_ids(session, slot),
                now, await queries.upcoming(session, patient.id, now), hold_key=hold_key,
                ignore_appointment_id=old.id))
            if not await _claim_slot(session, slot.id, now, hold_key):
                raise BookingRefused(Reason.SLOT_TAKEN)
            old.status = AppointmentStatus.CANCELLED
            old.cancelled_at = now
            old.cancelled_by = actor.id
            old.cancellation_reason = "changed"
            old.updated_at = now
            await session.flush()
            new = _appointment_in(
                slot, patient, appointment_type, actor, now,
                version=old.version + 1, replaces_id=old.id, chain_id=old.chain_id or old.id,
                self_reschedules=old.self_reschedules + (1 if rules.is_self_service(actor)
                                                          else 0),
                clinic_issued=old.clinic_issued, idempotency_key=idempotency_key)
            session.add(new)
            await session.flush()
            await _free_slot(session, old.slot_id, old.id, now)
            await events.listener().on_changed(session, old, new, now=now)
            await audit.record(
                session, actor, "appointment.change", purpose=PURPOSE_OF[actor.kind],
                subject_patient_id=patient.id, on_behalf_of_id=_behalf(actor, patient.id),
                detail={"appointment_id": new.id, "replaces_id": old.id, "slot_id": slot.id},
                now=now)
    except IntegrityError:
        replay = await _replay(db, idempotency_key)
        if replay:
            return replay
        raise BookingRefused(Reason.SLOT_TAKEN) from None
    log.info("appointment_changed", appointment_id=new.id, replaces_id=old.id,
             actor_kind=actor.kind.value)
    return Outcome(new, decision.warnings)


async def cancel(db: Database, actor: Actor, *, appointment_id: int, reason: str = "",
                 now: datetime | None = None) -> Outcome:
    """Cancel; the slot is free again at once and a ``slot_freed`` event is
    written for whoever is waiting for an earlier time. A patient may cancel
    until the appointment starts (``rules.may_cancel``); a late one also
    writes a ``late_cancellation`` event and says so in the audit entry."""
    now = now or utcnow()
    async with db.write() as session:
        appointment = await _lock_appointment(session, appointment_id)
        appointment_type = await session.get(AppointmentType, appointment.appointment_type_id)
        patient = await session.get(Patient, appointment.patient_id)
        assert appointment_type is not None and patient is not None
        decision = rules.may_cancel(actor, appointment, appointment_type, patient, now)
        _raise_unless(decision)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancelled_at = now
        appointment.cancelled_by = actor.id
        appointment.cancellation_reason = reason[:200] or None
        appointment.updated_at = now
        appointment.version += 1
        await session.flush()
        await _free_slot(session, appointment.slot_id, appointment.id, now)
        late = rules.is_late_cancellation(appointment, now)
        if late:
            session.add(BookingEvent(kind=LATE_CANCELLATION, slot_id=appointment.slot_id,
                                     appointment_id=appointment.id, occurred_at=now))
        await events.listener().on_cancelled(session, appointment, now=now)
        await audit.record(
            session, actor, "appointment.cancel", purpose=PURPOSE_OF[actor.kind],
            subject_patient_id=patient.id, on_behalf_of_id=_behalf(actor, patient.id),
            detail={"appointment_id": appointment.id, "late": late,
                    "fee_warned": bool(decision.warnings)}, now=now)
    log.info("appointment_cancelled", appointment_id=appointment_id,
             actor_kind=actor.kind.value)
    return Outcome(appointment, decision.warnings)


async def confirm(db: Database, actor: Actor, *, appointment_id: int,
                  now: datetime | None = None) -> Outcome:
    """The patient says "yes, I'm coming"."""
    now = now or utcnow()
    async with db.write() as session:
        appointment = await _lock_appointment(session, appointment_id)
        _raise_unless(rules.may_confirm(actor, appointment, now))
        appointment.status = AppointmentStatus.CONFIRMED
        appointment.confirmed_at = now
        appointment.updated_at = now
        await audit.record(
            session, actor, "appointment.confirm", purpose=PURPOSE_OF[actor.kind],
            subject_patient_id=appointment.patient_id,
            on_behalf_of_id=_behalf(actor, appointment.patient_id),
            detail={"appointment_id": appointment.id}, now=now)
    return Outcome(appointment)


async def record_attendance(db: Database, actor: Actor, *, appointment_id: int,
                            attended: bool, now: datetime | None = None) -> Outcome:
    """Mark completed or no-show (ikke møtt). Never triggers a sanction by
    itself: repeated no-shows of children are a signal for the clinic."""
    now = now or utcnow()
    async with db.write() as session:
        appointment = await _lock_appointment(session, appointment_id)
        _raise_unless(rules.may_record_attendance(actor, appointment, now))
        appointment.status = (AppointmentStatus.COMPLETED if attended
                              else AppointmentStatus.NO_SHOW)
        appointment.updated_at = now
        await audit.record(
            session, actor, "appointment.completed" if attended else "appointment.no_show",
            purpose=PURPOSE_OF[actor.kind], subject_patient_id=appointment.patient_id,
            detail={"appointment_id": appointment.id}, now=now)
    return Outcome(appointment)


async def hold(db: Database, *, slot_id: int, hold_key: str, now: datetime | None = None,
               duration: timedelta = HOLD_TIME) -> bool:
    """Keep a released slot for ``duration`` while someone completes a booking
    or change. True if this key holds it now."""
    now = now or utcnow()
    async with db.write() as session:
        result = await session.execute(
            update(Slot)
            .where(Slot.id == slot_id, Slot.released.is_(True), Slot.starts_at > now,
                   _is_free(now, hold_key))
            .values(status=SlotStatus.HELD, hold_key=hold_key, held_until=now + duration)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release_hold(db: Database, *, slot_id: int, hold_key: str) -> None:
    async with db.write() as session:
        await session.execute(
            update(Slot)
            .where(Slot.id == slot_id, Slot.status == SlotStatus.HELD, Slot.hold_key == hold_key)
            .values(status=SlotStatus.FREE, hold_key=None, held_until=None)
            .execution_options(synchronize_session=False)
        )
