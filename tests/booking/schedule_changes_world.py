"""A world for schedule-change tests: one clinic, one chair with a Monday
block of 08:00-12:00 in 30-minute slots for twelve weeks, and patients to
book; with the calls that book, preview and save a change in it."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import func, select

from booking import schedule, schedule_changes, service
from booking.audit import Actor
from booking.models import Slot
from booking.schedule_changes import Block, Change
from booking.statuses import SlotStatus
from core.db import Database
from core.locale import OSLO
from tests import factories as f

#: A Wednesday morning in Oslo.
NOW = datetime(2026, 11, 18, 9, 15, tzinfo=OSLO)
TODAY = NOW.date()
MONDAY = date(2026, 11, 23)
ADMIN = Actor.staff("clinic-admin", set())


class World:
    clinic_id: int
    county_id: int
    chair_id: int
    template_id: int
    type_id: int
    patients: list[int]


async def make_world(db: Database, patients: int = 1) -> World:
    w = World()
    async with db.write() as s:
        county = await f.county(s)
        clinic = await f.clinic(s, county)
        chair = await f.chair(s, clinic)
        kind = await f.appointment_type(s, county.id)
        template = await f.template(s, chair, [kind], weekday=0, starts_at=time(8),
                                    ends_at=time(12), slot_minutes=30)
        w.clinic_id, w.county_id, w.chair_id = clinic.id, county.id, chair.id
        w.template_id, w.type_id = template.id, kind.id
        w.patients = [(await f.patient(s, birth_date=date(1970 + i % 30, 1 + i % 12, 1))).id
                      for i in range(patients)]
    await schedule.generate_slots(db, start=TODAY, weeks=12, clinic_ids=[w.clinic_id], now=NOW)
    return w


async def slot_at(db: Database, w: World, when: datetime) -> Slot:
    async with db.read() as s:
        return (await s.execute(select(Slot).where(
            Slot.chair_id == w.chair_id, Slot.starts_at == when))).scalar_one()


async def book(db: Database, w: World, when: datetime, patient: int = 0) -> int:
    slot = await slot_at(db, w, when)
    out = await service.book(db, Actor.patient(w.patients[patient]),
                             patient_id=w.patients[patient], slot_id=slot.id,
                             appointment_type_id=w.type_id, now=NOW)
    return out.appointment.id


def block(w: World, **kw: object) -> Block:
    values: dict[str, object] = dict(weekday=0, starts_at=time(8), ends_at=time(10),
                                     slot_minutes=30, valid_from=date(2020, 1, 1),
                                     valid_to=None, released=True, type_ids=(w.type_id,))
    values.update(kw)
    return Block(**values)  # type: ignore[arg-type]


def shrink(w: World) -> Change:
    return Change("edit", w.chair_id, w.template_id, block(w))


async def free_slots(db: Database, w: World) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(Slot).where(
            Slot.chair_id == w.chair_id, Slot.status == SlotStatus.FREE)) or 0)


async def preview(db: Database, w: World, change: Change) -> schedule_changes.Preview:
    return await schedule_changes.preview(db, clinic_id=w.clinic_id, county_id=w.county_id,
                                          change=change, now=NOW)


async def apply(db: Database, w: World, change: Change, fingerprint: str
                ) -> schedule_changes.Plan:
    return await schedule_changes.apply(db, ADMIN, clinic_id=w.clinic_id,
                                        county_id=w.county_id, change=change,
                                        fingerprint=fingerprint, now=NOW)
