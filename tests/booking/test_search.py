"""Free self-bookable time, as patients see it."""

from __future__ import annotations

from datetime import timedelta

from booking import search, service
from booking.audit import Actor
from tests import factories as f
from tests.booking.booking_world import NOW, make_world


async def test_free_slots_earliest_first_and_without_taken_ones(db):
    w = await make_world(db, slot_count=6)
    await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                       slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    assert await service.hold(db, slot_id=w.slots[1].id, hold_key="h", now=NOW)
    found = await search.free_slots(db, clinic_id=w.clinic.id, appointment_type_id=w.exam.id,
                                    now=NOW)
    assert [s.slot_id for s in found] == [s.id for s in w.slots[2:]]
    assert found == sorted(found, key=lambda s: s.starts_at)
    # Holds expire.
    later = NOW + timedelta(minutes=11)
    found_later = await search.free_slots(db, clinic_id=w.clinic.id,
                                          appointment_type_id=w.exam.id, now=later)
    assert w.slots[1].id in [s.slot_id for s in found_later]


async def test_free_slots_respect_type_notice_horizon_and_release(db):
    w = await make_world(db, slot_count=4)
    assert await search.free_slots(db, clinic_id=w.clinic.id, appointment_type_id=w.acute.id,
                                   now=NOW) == []  # not self-bookable
    assert await search.free_slots(db, clinic_id=w.other_clinic.id,
                                   appointment_type_id=w.child_exam.id, now=NOW) == []
    too_close = w.slots[0].starts_at - timedelta(hours=1)
    close = await search.free_slots(db, clinic_id=w.clinic.id, appointment_type_id=w.exam.id,
                                    now=too_close)
    assert w.slots[0].id not in [s.slot_id for s in close]
    far = await search.free_slots(db, clinic_id=w.clinic.id, appointment_type_id=w.exam.id,
                                  now=NOW - timedelta(days=200))
    assert far == []
    async with db.write() as s:
        hidden = await f.slot(s, w.chair2, w.slots[0].starts_at, w.template, released=False)
    found = await search.free_slots(db, clinic_id=w.clinic.id, appointment_type_id=w.exam.id,
                                    now=NOW)
    assert hidden.id not in [s.slot_id for s in found]
    window = await search.free_slots(db, clinic_id=w.clinic.id, appointment_type_id=w.exam.id,
                                     start=w.slots[2].starts_at, end=w.slots[3].starts_at,
                                     now=NOW)
    assert [s.slot_id for s in window] == [w.slots[2].id]


async def test_next_free_times_for_the_clinic_page(db):
    w = await make_world(db, slot_count=3)
    async with db.write() as s:
        await f.slot(s, w.chair2, w.slots[0].starts_at, w.template)
    times = await search.next_free_times(db, clinic_id=w.clinic.id, now=NOW)
    assert times[0] == (w.slots[0].starts_at, 2)
    assert [t for t, _ in times] == [s.starts_at for s in w.slots]


async def test_next_free_times_by_kind_say_what_each_time_is_for(db):
    w = await make_world(db, slot_count=5)
    async with db.write() as s:
        await f.slot(s, w.chair2, w.slots[0].starts_at, w.template)
    found = await search.next_free_times_by_kind(db, clinic_id=w.clinic.id, per_kind=3,
                                                 now=NOW)
    # Only the kinds bookable online (not the acute one), each with its next three times.
    assert [k.kind.id for k in found] == [w.exam.id, w.child_exam.id]
    for kind_times in found:
        assert kind_times.times == [(w.slots[0].starts_at, 2), (w.slots[1].starts_at, 1),
                                    (w.slots[2].starts_at, 1)]
    # The other clinic offers only the adult examination.
    other = await search.next_free_times_by_kind(db, clinic_id=w.other_clinic.id, now=NOW)
    assert [(k.kind.id, k.times) for k in other] == [(w.exam.id, [(w.other_slot.starts_at, 1)])]
