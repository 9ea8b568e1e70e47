"""A booking world with people waiting for an earlier time, for refill tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from booking import service, waitlist
from booking.audit import Actor
from booking.models import Patient
from booking.refill import RefillPolicy
from booking.waitlist import Wishes
from core.db import Database
from notifications.schedule import SendingWindow
from tests import factories as f
from tests.booking.booking_world import NOW, World, make_world

POLICY = RefillPolicy(offer_minutes=30, wave_size=1, min_lead_hours=24)
WINDOW_FROM = SendingWindow.from_county


@dataclass
class Waiting:
    world: World
    #: (patient, appointment id) in the order they asked, from slot 4 on.
    waiting: list[tuple[Patient, int]]
    #: The appointment in slot 0 that is cancelled to free it.
    first_id: int


async def adults(db: Database, n: int, **kw: object) -> list[Patient]:
    async with db.write() as s:
        return [await f.patient(s, birth_date=date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
                                given_name=f"P{i}", **kw) for i in range(n)]


async def waiting_world(db: Database, n: int = 2, *, start: datetime | None = None,
                        now: datetime = NOW, slot_count: int | None = None,
                        ask_at: datetime | None = None) -> Waiting:
    """Slot 0 booked by someone who will cancel; ``n`` adults booked in
    slots 4, 5, … and waiting (in that order) for an earlier time."""
    world = await make_world(db, slot_count=slot_count or n + 5, start=start)
    people = await adults(db, n + 1)
    first = await service.book(db, Actor.patient(people[0].id), patient_id=people[0].id,
                               slot_id=world.slots[0].id, appointment_type_id=world.exam.id,
                               now=now)
    waiting: list[tuple[Patient, int]] = []
    for i, person in enumerate(people[1:]):
        booked = await service.book(db, Actor.patient(person.id), patient_id=person.id,
                                    slot_id=world.slots[4 + i].id,
                                    appointment_type_id=world.exam.id, now=now)
        await waitlist.add(db, Actor.patient(person.id), appointment_id=booked.appointment.id,
                           wishes=Wishes(frozenset({world.clinic.id})),
                           now=(ask_at or now) + timedelta(seconds=i))
        waiting.append((person, booked.appointment.id))
    return Waiting(world, waiting, first.appointment.id)


async def cancel_first(db: Database, w: Waiting, now: datetime) -> None:
    patient_id = await _patient_of(db, w.first_id)
    await service.cancel(db, Actor.patient(patient_id), appointment_id=w.first_id, now=now)


async def _patient_of(db: Database, appointment_id: int) -> int:
    from booking.models import Appointment

    async with db.read() as s:
        found = await s.get(Appointment, appointment_id)
        assert found is not None
        return found.patient_id
