"""A small world for booking tests: one clinic, two chairs, a template, slots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from booking import audit
from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Clinic,
    Patient,
    ScheduleTemplate,
    Slot,
)
from booking.statuses import AppointmentStatus, SlotStatus
from core.db import Database
from tests import factories as f

NOW = f.at(2030, 3, 1, 9)  # a Friday morning; slots lie the next week


@dataclass
class World:
    clinic: Clinic
    other_clinic: Clinic
    chair: Chair
    chair2: Chair
    exam: AppointmentType
    acute: AppointmentType
    child_exam: AppointmentType
    template: ScheduleTemplate
    adult: Patient
    child: Patient
    other_adult: Patient
    slots: list[Slot]
    other_slot: Slot

    def slot_at(self, index: int) -> Slot:
        return self.slots[index]


async def make_world(db: Database, *, slot_count: int = 8, start: datetime | None = None
                     ) -> World:
    start = start or NOW + timedelta(days=3)
    async with db.write() as s:
        county = await f.county(s)
        clinic = await f.clinic(s, county)
        other_clinic = await f.clinic(s, county)
        chair = await f.chair(s, clinic)
        chair2 = await f.chair(s, clinic)
        other_chair = await f.chair(s, other_clinic)
        exam = await f.appointment_type(s, county.id, code="adult-exam", min_age=18,
                                        duration_minutes=30)
        acute = await f.appointment_type(s, county.id, code="acute", self_bookable=False,
                                         min_notice_hours=0)
        child_exam = await f.appointment_type(s, county.id, code="child-exam", min_age=3,
                                              max_age=18, late_cancellation_fee=False)
        template = await f.template(s, chair, [exam, acute, child_exam])
        other_template = await f.template(s, other_chair, [exam])
        adult = await f.patient(s, birth_date=date(1980, 5, 17))
        child = await f.patient(s, birth_date=date(2020, 6, 1), given_name="Ola")
        other_adult = await f.patient(s, birth_date=date(1975, 1, 2), given_name="Per")
        slots = [
            await f.slot(s, chair, start + timedelta(minutes=30 * i), template)
            for i in range(slot_count)
        ]
        other_slot = await f.slot(s, other_chair, start, other_template)
    return World(clinic, other_clinic, chair, chair2, exam, acute, child_exam, template,
                 adult, child, other_adult, slots, other_slot)


async def slot_status(db, slot_id: int) -> str:
    async with db.read() as s:
        return (await s.execute(select(Slot.status).where(Slot.id == slot_id))).scalar_one()


async def assert_consistent(db: Database) -> None:
    """Every booked slot has exactly one live appointment and vice versa."""
    async with db.read() as s:
        live = (await s.execute(
            select(Appointment.slot_id, func.count()).where(
                Appointment.status != AppointmentStatus.CANCELLED)
            .group_by(Appointment.slot_id))).all()
        booked = set((await s.execute(
            select(Slot.id).where(Slot.status == SlotStatus.BOOKED))).scalars())
        assert (await audit.verify(s)).intact
    assert all(n == 1 for _, n in live)
    assert {slot_id for slot_id, _ in live} == booked
