"""Arrival and attendance: the reception desk marks a patient arrived, the
appointment completed or a no-show (*ikke møtt*), and takes a mark back the
same Oslo day; the patient (or a guardian who may act for them) checks in
on the day: *Jeg er her*.

Each function is one step inside the caller's open transaction (``db.write()``),
so a web request and a job handling an SMS reply (``HER``) call the same
code: lock the appointment row, ask :mod:`booking.rules`, change it, write
the audit entry. A refusal raises :class:`~booking.service.BookingRefused`
before anything changes. Marking what is already marked changes nothing and
writes nothing (a second tap, a repeated form).

Attendance never triggers a sanction by itself (GDPR art. 22): repeated
no-shows are a signal for the clinic, nothing more.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit, rules
from booking.audit import Actor
from booking.models import Appointment
from booking.reasons import Reason
from booking.service import PURPOSE_OF, BookingRefused
from booking.statuses import AppointmentStatus, Mark

log = structlog.get_logger(__name__)

#: Audit actions, one per mark, and the two ways back.
ACTIONS: Final[dict[Mark, str]] = {
    Mark.ARRIVED: "appointment.arrived",
    Mark.COMPLETED: "appointment.completed",
    Mark.NO_SHOW: "appointment.no_show",
}
CHECK_IN_ACTION: Final = "appointment.check_in"
UNDO_ACTION: Final = "appointment.attendance_undone"
_STATUS_OF: Final[dict[Mark, AppointmentStatus]] = {
    Mark.COMPLETED: AppointmentStatus.COMPLETED,
    Mark.NO_SHOW: AppointmentStatus.NO_SHOW,
}


async def _locked(session: AsyncSession, appointment_id: int) -> Appointment:
    appointment = (await session.execute(
        select(Appointment).where(Appointment.id == appointment_id).with_for_update()
    )).scalar_one_or_none()
    if appointment is None:
        raise BookingRefused(Reason.UNKNOWN_APPOINTMENT)
    return appointment


def _raise_unless(decision: rules.Decision) -> None:
    if not decision:
        assert decision.reason is not None
        raise BookingRefused(decision.reason, **decision.params)


def _already(appointment: Appointment, mark: Mark) -> bool:
    if mark is Mark.ARRIVED:
        return appointment.arrived_at is not None
    return appointment.status == _STATUS_OF[mark]


def _behalf(actor: Actor, patient_id: int) -> int | None:
    return patient_id if actor.patient_id != patient_id else None


async def mark(session: AsyncSession, actor: Actor, appointment_id: int, what: Mark,
               now: datetime) -> Appointment:
    """Mark the patient arrived, or the appointment completed or a no-show."""
    appointment = await _locked(session, appointment_id)
    if _already(appointment, what) and actor.kind in rules.CLINIC_SIDE and rules.may_act_for(
            actor, appointment.patient_id, appointment.clinic_id):
        return appointment
    _raise_unless(rules.may_mark(actor, appointment, what, now))
    if what is Mark.ARRIVED:
        appointment.arrived_at = now
        appointment.arrived_by = actor.id
    else:
        appointment.status = _STATUS_OF[what]
        appointment.attendance_at = now
    appointment.updated_at = now
    await audit.record(session, actor, ACTIONS[what], purpose=PURPOSE_OF[actor.kind],
                       subject_patient_id=appointment.patient_id,
                       detail={"appointment_id": appointment.id}, now=now)
    log.info("attendance_marked", appointment_id=appointment.id, mark=what.value,
             actor_kind=actor.kind.value)
    return appointment


async def undo(session: AsyncSession, actor: Actor, appointment_id: int, now: datetime
               ) -> Appointment:
    """Take back the latest mark, on the Oslo day it was made: completed or
    no-show returns to the active status it came from; else an arrival is
    forgotten."""
    appointment = await _locked(session, appointment_id)
    _raise_unless(rules.may_undo(actor, appointment, now))
    before = appointment.status
    if AppointmentStatus(appointment.status) in (AppointmentStatus.COMPLETED,
                                                 AppointmentStatus.NO_SHOW):
        appointment.status = rules.undo_target(appointment)
        appointment.attendance_at = None
        undone = before
    else:
        appointment.arrived_at = None
        appointment.arrived_by = None
        undone = Mark.ARRIVED.value
    appointment.updated_at = now
    await audit.record(session, actor, UNDO_ACTION, purpose=PURPOSE_OF[actor.kind],
                       subject_patient_id=appointment.patient_id,
                       detail={"appointment_id": appointment.id, "undone": undone}, now=now)
    log.info("attendance_undone", appointment_id=appointment.id, undone=undone,
             actor_kind=actor.kind.value)
    return appointment


async def check_in(session: AsyncSession, appointment_id: int, actor: Actor, now: datetime
                   ) -> Appointment:
    """*Jeg er her*: the patient (or a guardian acting for them, as
    :mod:`booking.representation` decided for ``actor``) has come; the desk
    sees them arrived. The web's button and an SMS reply ``HER`` both call
    this. Checking in twice changes nothing."""
    appointment = await _locked(session, appointment_id)
    if appointment.arrived_at is not None and rules.is_self_service(actor) and rules.may_act_for(
            actor, appointment.patient_id, appointment.clinic_id):
        return appointment
    _raise_unless(rules.may_check_in(actor, appointment, now))
    appointment.arrived_at = now
    appointment.arrived_by = actor.id
    appointment.updated_at = now
    await audit.record(session, actor, CHECK_IN_ACTION, purpose=PURPOSE_OF[actor.kind],
                       subject_patient_id=appointment.patient_id,
                       on_behalf_of_id=_behalf(actor, appointment.patient_id),
                       detail={"appointment_id": appointment.id}, now=now)
    log.info("checked_in", appointment_id=appointment.id, actor_kind=actor.kind.value)
    return appointment
