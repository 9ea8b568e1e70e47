"""The waitlist: a patient (or a guardian for a child, or the clinic) asks
for an earlier time for an appointment the patient has.

An entry names the appointment and the patient's wishes: the clinics they
accept (the appointment's own at least), the weekdays and the times of day
they can come (Oslo wall-clock start times), and how much notice they need.
:mod:`booking.refill` offers freed time to entries that fit. One waiting
entry per appointment chain: asking again replaces the wishes.

Who may: the same people who may change the appointment
(:func:`booking.rules.may_act_for`): the patient, a guardian under the
representation rules on the day (the web decides the actor), or staff of
the appointment's clinic (:func:`add_for_patient`, :func:`withdraw_for_patient`,
always with a reason, kept on the entry since the audit log holds ids only).
Who put the patient on is kept (``created_by_kind``): the patient's page says
when the clinic did, and the clinic's list (:func:`waiting_at`) shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit, rules
from booking.audit import Actor
from booking.models import Appointment, AppointmentType, Clinic, Patient
from booking.reasons import Reason
from booking.refill_models import WaitlistEntry
from booking.service import PURPOSE_OF, BookingRefused, _behalf
from booking.staff_booking import required_reason
from booking.statuses import ACTIVE, ActorKind, WaitlistStatus
from core.db import Database, utcnow

#: The notice asked for when a patient says nothing (hours).
DEFAULT_NOTICE_HOURS = 24
#: The most notice one may ask for (a week).
MAX_NOTICE_HOURS = 7 * 24


@dataclass(frozen=True)
class Wishes:
    """What a waiting patient can take. Empty ``weekdays``: any weekday;
    ``earliest``/``latest`` None: any time of day (start times, Oslo)."""

    clinic_ids: frozenset[int]
    weekdays: frozenset[int] = frozenset()
    earliest: time | None = None
    latest: time | None = None
    notice_hours: int = DEFAULT_NOTICE_HOURS

    def check(self) -> Reason | None:
        """Why these wishes cannot be kept (None: they can)."""
        if not self.clinic_ids:
            return Reason.WAITLIST_NO_CLINIC
        if any(day not in range(7) for day in self.weekdays):
            return Reason.WAITLIST_BAD_WISHES
        if (self.earliest is not None and self.latest is not None
                and self.earliest > self.latest):
            return Reason.WAITLIST_BAD_WISHES
        if not 0 <= self.notice_hours <= MAX_NOTICE_HOURS:
            return Reason.WAITLIST_BAD_WISHES
        return None


async def _open_entry(session: AsyncSession, appointment_id: int) -> WaitlistEntry | None:
    return (await session.execute(
        select(WaitlistEntry).where(WaitlistEntry.appointment_id == appointment_id,
                                    WaitlistEntry.status == WaitlistStatus.WAITING)
        .with_for_update())).scalars().first()


async def add(db: Database, actor: Actor, *, appointment_id: int, wishes: Wishes,
              now: datetime | None = None, note: str | None = None) -> WaitlistEntry:
    """Put the appointment's patient on the waitlist with ``wishes`` (or
    replace the wishes of the entry already waiting). Refused with a reason:
    nothing changed. ``note``: the reason staff gave (:func:`add_for_patient`)."""
    now = now or utcnow()
    problem = wishes.check()
    if problem is not None:
        raise BookingRefused(problem)
    async with db.write() as session:
        appointment = (await session.execute(
            select(Appointment).where(Appointment.id == appointment_id).with_for_update()
        )).scalar_one_or_none()
        if appointment is None:
            raise BookingRefused(Reason.UNKNOWN_APPOINTMENT)
        who = rules.may_act_for(actor, appointment.patient_id, appointment.clinic_id)
        if not who:
            raise BookingRefused(Reason.NOT_ALLOWED_FOR_ACTOR)
        if appointment.status not in ACTIVE or appointment.starts_at <= now:
            raise BookingRefused(Reason.NOT_ACTIVE)
        clinics = set(wishes.clinic_ids) | {appointment.clinic_id}
        county_of = dict((await session.execute(
            select(Clinic.id, Clinic.county_id).where(Clinic.id.in_(sorted(clinics))))).all())
        home = county_of.get(appointment.clinic_id)
        if set(county_of) != clinics or any(c != home for c in county_of.values()):
            raise BookingRefused(Reason.WAITLIST_NO_CLINIC)
        entry = await _open_entry(session, appointment.id)
        action = "waitlist.update" if entry is not None else "waitlist.add"
        if entry is None:
            entry = WaitlistEntry(
                patient_id=appointment.patient_id, appointment_id=appointment.id,
                appointment_type_id=appointment.appointment_type_id, created_at=now,
                created_by_kind=actor.kind.value, created_by=actor.id,
                status=WaitlistStatus.WAITING)
            session.add(entry)
        entry.clinic_ids = sorted(clinics)
        entry.weekdays = sorted(wishes.weekdays)
        entry.earliest_time = wishes.earliest
        entry.latest_time = wishes.latest
        entry.notice_hours = wishes.notice_hours
        if note is not None:
            entry.staff_note = note
        await session.flush()
        await audit.record(
            session, actor, action, purpose=PURPOSE_OF[actor.kind],
            subject_patient_id=appointment.patient_id,
            on_behalf_of_id=_behalf(actor, appointment.patient_id),
            detail={"appointment_id": appointment.id, "waitlist_entry_id": entry.id,
                    "clinic_ids": entry.clinic_ids, "weekdays": entry.weekdays,
                    "notice_hours": entry.notice_hours,
                    **({"reason_given": True} if note is not None else {})}, now=now)
    return entry


def _staff_only(staff: Actor) -> None:
    if staff.kind is not ActorKind.STAFF or not staff.clinic_ids:
        raise BookingRefused(Reason.NOT_ALLOWED_FOR_ACTOR)


async def add_for_patient(db: Database, staff: Actor, *, appointment_id: int,
                          wishes: Wishes, reason: str,
                          now: datetime | None = None) -> WaitlistEntry:
    """The clinic puts a patient on the waitlist, or changes the wishes (a
    call, the desk), with a reason (kept as the entry's ``staff_note``). Only
    staff of the appointment's clinic (:func:`booking.rules.may_act_for`);
    audited as reception work."""
    _staff_only(staff)
    note = required_reason(reason)
    return await add(db, staff, appointment_id=appointment_id, wishes=wishes, now=now,
                     note=note)


async def withdraw_for_patient(db: Database, staff: Actor, *, entry_id: int, reason: str,
                               now: datetime | None = None) -> WaitlistEntry:
    """The clinic takes a patient off the waitlist, with a reason (kept as the
    entry's ``closed_note``)."""
    _staff_only(staff)
    note = required_reason(reason)
    return await withdraw(db, staff, entry_id=entry_id, now=now, note=note)


async def withdraw(db: Database, actor: Actor, *, entry_id: int,
                   now: datetime | None = None, note: str | None = None) -> WaitlistEntry:
    """Take an entry off the waitlist; offers already sent stay answerable
    until they expire (the patient asked; a late yes is still a yes)."""
    now = now or utcnow()
    async with db.write() as session:
        entry = (await session.execute(
            select(WaitlistEntry).where(WaitlistEntry.id == entry_id).with_for_update()
        )).scalar_one_or_none()
        if entry is None:
            raise BookingRefused(Reason.UNKNOWN_APPOINTMENT)
        appointment = await session.get(Appointment, entry.appointment_id)
        assert appointment is not None
        if not rules.may_act_for(actor, entry.patient_id, appointment.clinic_id):
            raise BookingRefused(Reason.NOT_ALLOWED_FOR_ACTOR)
        if entry.status != WaitlistStatus.WAITING:
            return entry
        entry.status = WaitlistStatus.WITHDRAWN
        entry.closed_at = now
        entry.closed_note = note
        await audit.record(
            session, actor, "waitlist.withdraw", purpose=PURPOSE_OF[actor.kind],
            subject_patient_id=entry.patient_id,
            on_behalf_of_id=_behalf(actor, entry.patient_id),
            detail={"waitlist_entry_id": entry.id, "appointment_id": entry.appointment_id,
                    **({"reason_given": True} if note is not None else {})},
            now=now)
    return entry


def waiting_of(patient_ids: Sequence[int] | BindParameter[Any]) -> ColumnElement[bool]:
    """The condition of :func:`waiting_for` (also asked as ``EXISTS`` by Min
    side, with an expanding ``bindparam``)."""
    return and_(WaitlistEntry.patient_id.in_(patient_ids),
                WaitlistEntry.status == WaitlistStatus.WAITING)


async def waiting_for(db: Database, patient_ids: Iterable[int]) -> list[WaitlistEntry]:
    """The waiting entries of these patients (Min side, the appointment page)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return []
    async with db.read() as session:
        return list((await session.execute(
            select(WaitlistEntry).where(waiting_of(ids))
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id))).scalars())


async def entry_for_appointment(db: Database, appointment_id: int) -> WaitlistEntry | None:
    async with db.read() as session:
        return (await session.execute(
            select(WaitlistEntry).where(WaitlistEntry.appointment_id == appointment_id,
                                        WaitlistEntry.status == WaitlistStatus.WAITING)
        )).scalars().first()


@dataclass(frozen=True)
class Waiting:
    """One line of a clinic's waitlist (:func:`waiting_at`)."""

    entry: WaitlistEntry
    patient: Patient
    appointment: Appointment
    kind: AppointmentType

    @property
    def added_by_clinic(self) -> bool:
        return self.entry.created_by_kind == ActorKind.STAFF.value


async def waiting_at(db: Database, clinic_id: int, now: datetime | None = None
                     ) -> list[Waiting]:
    """Who waits for an earlier time for an appointment at ``clinic_id``
    (still ahead), the longest waiting first: the clinic's waitlist page."""
    now = now or utcnow()
    async with db.read() as session:
        rows = (await session.execute(
            select(WaitlistEntry, Patient, Appointment, AppointmentType)
            .join(Appointment, Appointment.id == WaitlistEntry.appointment_id)
            .join(Patient, Patient.id == WaitlistEntry.patient_id)
            .join(AppointmentType, AppointmentType.id == WaitlistEntry.appointment_type_id)
            .where(WaitlistEntry.status == WaitlistStatus.WAITING,
                   Appointment.clinic_id == clinic_id,
                   Appointment.status.in_([s.value for s in ACTIVE]),
                   Appointment.starts_at > now)
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id))).all()
    return [Waiting(entry, patient, appointment, kind)
            for entry, patient, appointment, kind in rows]


async def end_stale(session: AsyncSession, now: datetime) -> Sequence[int]:
    """End entries whose appointment is no longer active or has started
    (cancelled, moved by the patient another way, passed)."""
    stale = select(WaitlistEntry.id).join(
        Appointment, Appointment.id == WaitlistEntry.appointment_id).where(
        WaitlistEntry.status == WaitlistStatus.WAITING,
        (Appointment.status.not_in([s.value for s in ACTIVE])) | (Appointment.starts_at <= now))
    ids = list((await session.execute(stale)).scalars())
    if ids:
        await session.execute(
            update(WaitlistEntry).where(WaitlistEntry.id.in_(ids))
            .values(status=WaitlistStatus.ENDED, closed_at=now)
            .execution_options(synchronize_session=False))
    return ids
