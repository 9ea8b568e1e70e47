"""Call tasks (*ringeoppgaver*): an appointment still not confirmed shortly
before it starts, for a patient who missed an appointment in the last year,
gets one task for its clinic to call the patient (``notifications.escalation``
creates them). Staff of the clinic see the waiting tasks on the call-back
list (``web.views.callbacks``) and mark them done; every step is audited.

Whom to call follows the representation rules on the day of the call
(:func:`who_to_call`): about a child under 12, each guardian who may act for
the child; from 12, those guardians and the young person themself; from 16,
only the patient.

The system only asks and informs: a task decides nothing about the patient
(no penalty, no cancellation); the staff who call decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Final

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, Guardianship, Patient
from booking.representation import (
    OF_AGE_IN_HEALTH_MATTERS,
    SELF_LOGIN_FROM_AGE,
    PersonFacts,
    guardian_access,
)
from booking.rules import age_on
from core.db import Base, BigId, Database, UTCDateTime, check_constraint
from core.locale import OSLO

CREATED_ACTION: Final = "call_task.created"
DONE_ACTION: Final = "call_task.done"
LIST_ACTION: Final = "call_task.list_view"
REFUSED_ACTION: Final = "call_task.staff_refused"
PURPOSE: Final = "call_task"


class CallTaskStatus(StrEnum):
    WAITING = "waiting"
    DONE = "done"  # final


class CallTask(Base):
    __tablename__ = "call_tasks"
    __table_args__ = (
        CheckConstraint(check_constraint("status", CallTaskStatus), name="status"),
        Index("ix_call_tasks_clinic_status", "clinic_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: One task per appointment, ever (the database keeps it so).
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    status: Mapped[str] = mapped_column(String(10), default=CallTaskStatus.WAITING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    done_by: Mapped[str | None] = mapped_column(String(64), default=None)  # staff actor id
    done_by_name: Mapped[str | None] = mapped_column(String(200), default=None)


async def create(session: AsyncSession, actor: Actor, appointment: Appointment,
                 now: datetime) -> CallTask | None:
    """A waiting task for ``appointment``'s clinic, audited; None (nothing
    changed) if the appointment has had one already."""
    exists = (await session.execute(select(CallTask.id).where(
        CallTask.appointment_id == appointment.id))).scalar()
    if exists is not None:
        return None
    row = CallTask(appointment_id=appointment.id, patient_id=appointment.patient_id,
                   clinic_id=appointment.clinic_id, status=CallTaskStatus.WAITING,
                   created_at=now)
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:  # another pass made it first
        return None
    await audit.record(session, actor, CREATED_ACTION, purpose=PURPOSE,
                       subject_patient_id=appointment.patient_id,
                       detail={"call_task_id": row.id, "appointment_id": appointment.id},
                       now=now)
    return row


class CalleeRole(StrEnum):
    SELF = "self"  # the patient (or young person) themself
    GUARDIAN = "guardian"  # a guardian (foresatt) who may act for the child


@dataclass(frozen=True)
class Callee:
    """Someone to call about a task's appointment, with their own mobile
    number on record (None if there is none)."""

    patient_id: int
    name: str
    role: CalleeRole
    phone: str | None


def _callee(person: Patient, role: CalleeRole) -> Callee:
    return Callee(person.id, f"{person.given_name} {person.family_name}", role, person.mobile)


def who_to_call(patient: Patient, guardians: Sequence[Patient], today: date) -> list[Callee]:
    """Whom the clinic calls about ``patient``'s appointment on ``today``
    (Europe/Oslo), by the representation rules: from 16 the patient only;
    under 16 each of ``guardians`` (those with parental responsibility) who
    may act for the child today, and from 12 the young person too (they get
    their own notices). A child nobody may act for today is listed
    themself, so the task still names someone (the clinic's manual route)."""
    age = age_on(patient.birth_date, today)
    if age >= OF_AGE_IN_HEALTH_MATTERS:
        return [_callee(patient, CalleeRole.SELF)]
    child = PersonFacts.from_patient(patient)
    facts = [PersonFacts.from_patient(g) for g in guardians]
    acting = [_callee(g, CalleeRole.GUARDIAN)
              for g, fact in zip(guardians, facts, strict=True)
              if guardian_access(guardian=fact, child=child, today=today,
                                 other_guardians=[f for f in facts if f is not fact])]
    if age >= SELF_LOGIN_FROM_AGE or not acting:
        acting.insert(0, _callee(patient, CalleeRole.SELF))
    return acting


@dataclass(frozen=True)
class TaskLine:
    id: int
    patient_id: int
    patient_name: str
    birth_date: date
    starts_at: datetime
    #: Whom to call, with their numbers (:func:`who_to_call`, today's rules).
    callees: tuple[Callee, ...]
    status: str
    done_at: datetime | None
    done_by_name: str | None


async def clinic_list(db: Database, actor: Actor, clinic_id: int, now: datetime
                      ) -> list[TaskLine]:
    """The clinic's waiting tasks and those done since the start of today
    (Oslo); the view is audited once per patient listed."""
    today = now.astimezone(OSLO).date()
    start_of_day = datetime.combine(today, time(0), tzinfo=OSLO)
    async with db.write() as session:
        rows = (await session.execute(
            select(CallTask, Patient, Appointment.starts_at)
            .join(Patient, Patient.id == CallTask.patient_id)
            .join(Appointment, Appointment.id == CallTask.appointment_id)
            .where(CallTask.clinic_id == clinic_id,
                   (CallTask.status == CallTaskStatus.WAITING)
                   | ((CallTask.status == CallTaskStatus.DONE)
                      & (CallTask.done_at >= start_of_day)))
            .order_by(Appointment.starts_at, CallTask.id))).all()
        minors = sorted({p.id for _, p, _ in rows
                         if age_on(p.birth_date, today) < OF_AGE_IN_HEALTH_MATTERS})
        guardians: dict[int, list[Patient]] = {}
        if minors:
            for child_id, guardian in (await session.execute(
                    select(Guardianship.child_id, Patient)
                    .join(Patient, Patient.id == Guardianship.guardian_id)
                    .where(Guardianship.child_id.in_(minors))
                    .order_by(Patient.id))).all():
                guardians.setdefault(child_id, []).append(guardian)
        lines = [TaskLine(t.id, p.id, f"{p.given_name} {p.family_name}", p.birth_date,
                          starts_at, tuple(who_to_call(p, guardians.get(p.id, []), today)),
                          t.status, t.done_at, t.done_by_name)
                 for t, p, starts_at in rows]
        # Each patient listed, and each guardian whose number is shown.
        for patient_id in sorted({line.patient_id for line in lines}
                                 | {c.patient_id for line in lines for c in line.callees}):
            await audit.record(session, actor, LIST_ACTION, purpose=PURPOSE,
                               subject_patient_id=patient_id,
                               detail={"clinic_id": clinic_id}, now=now)
    return lines


async def mark_done(db: Database, actor: Actor, staff_name: str, clinic_id: int,
                    task_id: int, now: datetime) -> bool:
    """Mark a waiting task of ``clinic_id`` done (who, when), audited. False
    (and an audit entry) when there is no such task at that clinic; marking a
    done task again changes nothing and returns True."""
    async with db.write() as session:
        row = await session.get(CallTask, task_id)
        if row is None or row.clinic_id != clinic_id or clinic_id not in actor.clinic_ids:
            await audit.record(session, actor, REFUSED_ACTION, purpose=PURPOSE,
                               subject_patient_id=row.patient_id if row else None,
                               detail={"call_task_id": task_id, "clinic_id": clinic_id},
                               now=now)
            return False
        changed = (await session.execute(
            update(CallTask)
            .where(CallTask.id == task_id, CallTask.status == CallTaskStatus.WAITING)
            .values(status=CallTaskStatus.DONE, done_at=now, done_by=actor.id,
                    done_by_name=staff_name[:200])
            .execution_options(synchronize_session=False))).rowcount  # type: ignore[attr-defined]
        if changed:
            await audit.record(session, actor, DONE_ACTION, purpose=PURPOSE,
                               subject_patient_id=row.patient_id,
                               detail={"call_task_id": task_id}, now=now)
    return True
