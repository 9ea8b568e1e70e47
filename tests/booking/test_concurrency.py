"""Many people at once: never two appointments in one slot, and a change
racing a cancellation always ends in a consistent state."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from booking import service
from booking.audit import Actor
from booking.models import Appointment, Slot
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus, SlotStatus
from core.db import Database
from tests import factories as f
from tests.booking.booking_world import NOW, assert_consistent, make_world


async def many_patients(db: Database, n: int) -> list[int]:
    async with db.write() as s:
        return [(await f.patient(s, birth_date=date(1970 + i % 30, 1 + i % 12, 1 + i % 28))).id
                for i in range(n)]


async def attempt(db, patient_id, slot_id, type_id, key):
    try:
        out = await service.book(db, Actor.patient(patient_id), patient_id=patient_id,
                                 slot_id=slot_id, appointment_type_id=type_id,
                                 idempotency_key=key, now=NOW)
        return out.appointment.id
    except BookingRefused as refused:
        return refused.reason


async def test_hundred_people_one_slot_postgres(pg_db):
    w = await make_world(pg_db, slot_count=1)
    patients = await many_patients(pg_db, 100)
    results = await asyncio.gather(*[
        attempt(pg_db, p, w.slots[0].id, w.exam.id, f"key-{p}") for p in patients])
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1
    assert all(r == service.Reason.SLOT_TAKEN for r in results if not isinstance(r, int))
    async with pg_db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Appointment))).scalar_one() == 1
    await assert_consistent(pg_db)


async def test_double_submit_books_once_postgres(pg_db):
    w = await make_world(pg_db, slot_count=1)
    results = await asyncio.gather(*[
        attempt(pg_db, w.adult.id, w.slots[0].id, w.exam.id, "same-form") for _ in range(30)])
    assert len(set(results)) == 1 and isinstance(results[0], int)
    await assert_consistent(pg_db)


async def test_one_patient_racing_for_many_slots_gets_one_postgres(pg_db):
    """Two tabs, two slots, same type: the patient row lock makes the
    duplicate-type rule hold under concurrency."""
    w = await make_world(pg_db, slot_count=10)
    results = await asyncio.gather(*[
        attempt(pg_db, w.adult.id, slot.id, w.exam.id, f"tab-{i}")
        for i, slot in enumerate(w.slots)])
    assert len([r for r in results if isinstance(r, int)]) == 1
    await assert_consistent(pg_db)


async def test_change_racing_cancel_postgres(pg_db):
    w = await make_world(pg_db, slot_count=40)
    patients = await many_patients(pg_db, 20)
    outcomes = {"changed": 0, "cancelled": 0}
    for i, patient_id in enumerate(patients):
        booked = await attempt(pg_db, patient_id, w.slots[2 * i].id, w.exam.id, f"b-{i}")
        actor = Actor.patient(patient_id)
        changed, cancelled = await asyncio.gather(
            service.change(pg_db, actor, appointment_id=booked,
                           new_slot_id=w.slots[2 * i + 1].id, now=NOW),
            service.cancel(pg_db, actor, appointment_id=booked, now=NOW),
            return_exceptions=True,
        )
        assert isinstance(changed, BookingRefused) or isinstance(cancelled, BookingRefused)
        async with pg_db.read() as s:
            old = await s.get(Appointment, booked)
            assert old.status == AppointmentStatus.CANCELLED
            new_slot = await s.get(Slot, w.slots[2 * i + 1].id)
            old_slot = await s.get(Slot, w.slots[2 * i].id)
        assert old_slot.status == SlotStatus.FREE
        if isinstance(changed, BookingRefused):
            outcomes["cancelled"] += 1
            assert new_slot.status == SlotStatus.FREE
        else:
            # The change won; the cancellation then found the old one gone.
            outcomes["changed"] += 1
            assert new_slot.status == SlotStatus.BOOKED
            assert changed.appointment.replaces_id == booked
    assert sum(outcomes.values()) == 20
    await assert_consistent(pg_db)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_concurrent_attempts_sqlite(db):
    """SQLite has one writer at a time; concurrent requests queue on it and
    still only one gets the slot."""
    w = await make_world(db, slot_count=1)
    patients = await many_patients(db, 20)
    results = await asyncio.gather(*[
        attempt(db, p, w.slots[0].id, w.exam.id, f"key-{p}") for p in patients])
    assert len([r for r in results if isinstance(r, int)]) == 1
    await assert_consistent(db)
