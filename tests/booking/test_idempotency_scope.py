"""Idempotency keys answer only for the actor and patient whose request made
them: someone else's key neither replays their outcome nor moves anything."""

from __future__ import annotations

import pytest

from booking import service
from booking.audit import Actor
from booking.models import Appointment
from booking.reasons import Reason
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus, SlotStatus
from tests.booking.booking_world import NOW, make_world, slot_status


async def test_another_patients_change_key_is_refused_and_moves_nothing(db):
    w = await make_world(db)
    adult, other = Actor.patient(w.adult.id), Actor.patient(w.other_adult.id)
    mine = (await service.book(db, adult, patient_id=w.adult.id, slot_id=w.slots[0].id,
                               appointment_type_id=w.exam.id, now=NOW)).appointment
    moved = (await service.change(db, adult, appointment_id=mine.id, new_slot_id=w.slots[1].id,
                                  idempotency_key="change-key-1", now=NOW)).appointment
    theirs = (await service.book(db, other, patient_id=w.other_adult.id, slot_id=w.slots[2].id,
                                 appointment_type_id=w.exam.id, now=NOW)).appointment

    with pytest.raises(BookingRefused) as refused:
        await service.change(db, other, appointment_id=theirs.id, new_slot_id=w.slots[3].id,
                             idempotency_key="change-key-1", now=NOW)
    assert refused.value.reason is Reason.SLOT_TAKEN
    async with db.read() as s:
        assert (await s.get(Appointment, theirs.id)).status == AppointmentStatus.BOOKED
    assert await slot_status(db, w.slots[3].id) == SlotStatus.FREE
    # The key still answers its own request.
    again = await service.change(db, adult, appointment_id=mine.id, new_slot_id=w.slots[1].id,
                                 idempotency_key="change-key-1", now=NOW)
    assert again.replayed and again.appointment.id == moved.id


async def test_a_change_key_answers_only_its_own_actor(db):
    """Staff moving the patient's appointment with the patient's key gets no replay."""
    w = await make_world(db)
    adult = Actor.patient(w.adult.id)
    mine = (await service.book(db, adult, patient_id=w.adult.id, slot_id=w.slots[0].id,
                               appointment_type_id=w.exam.id, now=NOW)).appointment
    await service.change(db, adult, appointment_id=mine.id, new_slot_id=w.slots[1].id,
                         idempotency_key="change-key-2", now=NOW)
    staff = Actor.staff("s1", {w.clinic.id})
    with pytest.raises(BookingRefused):
        await service.change(db, staff, appointment_id=mine.id, new_slot_id=w.slots[3].id,
                             idempotency_key="change-key-2", now=NOW)
