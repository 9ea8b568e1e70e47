"""booking.attendance: the desk's marks, their same-day undo, and check-in
("Jeg er her") by the patient or a guardian, on the appointment's Oslo day only."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from booking import attendance, service
from booking.audit import Actor
from booking.models import Appointment, AuditEntry
from booking.reasons import Reason
from booking.rules import local_date
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus, Mark
from core.db import Database
from tests.booking.booking_world import NOW, make_world


async def _booked(db: Database):
    w = await make_world(db)
    outcome = await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                                 slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    return w, outcome.appointment


async def _mark(db: Database, actor: Actor, appointment_id: int, what: Mark, now: datetime
                ) -> Appointment:
    async with db.write() as session:
        return await attendance.mark(session, actor, appointment_id, what, now)


async def _undo(db: Database, actor: Actor, appointment_id: int, now: datetime) -> Appointment:
    async with db.write() as session:
        return await attendance.undo(session, actor, appointment_id, now)


async def _check_in(db: Database, actor: Actor, appointment_id: int, now: datetime
                    ) -> Appointment:
    async with db.write() as session:
        return await attendance.check_in(session, appointment_id, actor, now)


async def _actions(db: Database) -> list[str]:
    async with db.read() as session:
        return list((await session.execute(
            select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


async def test_no_show_is_undone_the_same_oslo_day_only(db):
    w, booked = await _booked(db)
    staff = Actor.staff("s1", {w.clinic.id})
    marked_at = booked.ends_at + timedelta(minutes=5)
    done = await _mark(db, staff, booked.id, Mark.NO_SHOW, marked_at)
    assert done.status == AppointmentStatus.NO_SHOW and done.attendance_at == marked_at
    next_day = datetime.combine(local_date(marked_at) + timedelta(days=1),
                                datetime.min.time(), tzinfo=marked_at.tzinfo)
    with pytest.raises(BookingRefused) as late:
        await _undo(db, staff, booked.id, next_day + timedelta(hours=1))
    assert late.value.reason is Reason.UNDO_TOO_LATE
    undone = await _undo(db, staff, booked.id, marked_at + timedelta(hours=1))
    assert undone.status == AppointmentStatus.BOOKED and undone.attendance_at is None
    assert (await _actions(db))[-2:] == ["appointment.no_show", "appointment.attendance_undone"]


async def test_undo_returns_a_confirmed_appointment_to_confirmed(db):
    w, booked = await _booked(db)
    await service.confirm(db, Actor.patient(w.adult.id), appointment_id=booked.id, now=NOW)
    staff = Actor.staff("s1", {w.clinic.id})
    await _mark(db, staff, booked.id, Mark.COMPLETED, booked.ends_at)
    undone = await _undo(db, staff, booked.id, booked.ends_at + timedelta(minutes=1))
    assert undone.status == AppointmentStatus.CONFIRMED


async def test_only_the_clinics_own_staff_mark(db):
    w, booked = await _booked(db)
    for actor in (Actor.staff("other", {w.other_clinic.id}), Actor.patient(w.adult.id)):
        with pytest.raises(BookingRefused) as refused:
            await _mark(db, actor, booked.id, Mark.ARRIVED, booked.starts_at)
        assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    with pytest.raises(BookingRefused) as unknown:
        await _mark(db, Actor.staff("s1", {w.clinic.id}), 10**9, Mark.ARRIVED, booked.starts_at)
    assert unknown.value.reason is Reason.UNKNOWN_APPOINTMENT


async def test_a_cancelled_appointment_gets_no_mark(db):
    w, booked = await _booked(db)
    await service.cancel(db, Actor.patient(w.adult.id), appointment_id=booked.id, now=NOW)
    with pytest.raises(BookingRefused) as refused:
        await _mark(db, Actor.staff("s1", {w.clinic.id}), booked.id, Mark.COMPLETED,
                    booked.ends_at)
    assert refused.value.reason is Reason.NOT_ACTIVE


async def test_check_in_by_the_patient_on_the_day(db):
    w, booked = await _booked(db)
    patient = Actor.patient(w.adult.id)
    with pytest.raises(BookingRefused) as early:
        await _check_in(db, patient, booked.id, booked.starts_at - timedelta(days=1))
    assert early.value.reason is Reason.NOT_TODAY
    with pytest.raises(BookingRefused) as over:
        await _check_in(db, patient, booked.id, booked.ends_at)
    assert over.value.reason is Reason.ALREADY_ENDED
    arrived_at = booked.starts_at - timedelta(minutes=10)
    done = await _check_in(db, patient, booked.id, arrived_at)
    assert done.arrived_at == arrived_at and done.arrived_by == patient.id
    again = await _check_in(db, patient, booked.id, arrived_at + timedelta(minutes=1))
    assert again.arrived_at == arrived_at
    assert (await _actions(db)).count("appointment.check_in") == 1


async def test_check_in_by_a_guardian_who_may_act_and_nobody_else(db):
    w, _ = await _booked(db)
    guardian = Actor.guardian(w.other_adult.id, {w.child.id})
    outcome = await service.book(db, guardian, patient_id=w.child.id, slot_id=w.slots[2].id,
                                 appointment_type_id=w.child_exam.id, now=NOW)
    child_appointment = outcome.appointment
    at = child_appointment.starts_at - timedelta(minutes=5)
    for stranger in (Actor.patient(w.other_adult.id), Actor.guardian(w.adult.id, set()),
                     Actor.staff("s1", {w.clinic.id})):
        with pytest.raises(BookingRefused) as refused:
            await _check_in(db, stranger, child_appointment.id, at)
        assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    done = await _check_in(db, guardian, child_appointment.id, at)
    assert done.arrived_by == guardian.id
    async with db.read() as session:
        entry = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "appointment.check_in"))).scalar_one()
    assert entry.subject_patient_id == w.child.id and entry.on_behalf_of_id == w.child.id


async def test_a_checked_in_patient_is_arrived_at_the_desk_and_no_no_show(db):
    w, booked = await _booked(db)
    await _check_in(db, Actor.patient(w.adult.id), booked.id, booked.starts_at)
    staff = Actor.staff("s1", {w.clinic.id})
    with pytest.raises(BookingRefused) as refused:
        await _mark(db, staff, booked.id, Mark.NO_SHOW, booked.ends_at)
    assert refused.value.reason is Reason.ALREADY_ARRIVED
    undone = await _undo(db, staff, booked.id, booked.starts_at + timedelta(minutes=1))
    assert undone.arrived_at is None and undone.arrived_by is None
