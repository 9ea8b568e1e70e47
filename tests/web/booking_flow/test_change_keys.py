"""A change form's idempotency key is scoped to whoever made it: another
patient's key neither answers with their receipt nor leaves a time held."""

from __future__ import annotations

import httpx

from booking import service
from booking.audit import Actor
from booking.models import Appointment, Slot
from booking.statuses import AppointmentStatus, SlotStatus
from tests.web.booking_flow.world import World, get, hidden_fields, log_in, soup_of, times


async def test_another_patients_key_is_refused_and_holds_nothing(
        client: httpx.AsyncClient, world: World) -> None:
    stranger = Actor.patient(world.stranger.id)
    theirs = (await service.book(world.db, stranger, patient_id=world.stranger.id,
                                 slot_id=world.slots[1].id,
                                 appointment_type_id=world.exam.id)).appointment
    key = "s" * 32
    moved = (await service.change(world.db, stranger, appointment_id=theirs.id,
                                  new_slot_id=world.slots[4].id, idempotency_key=key)
             ).appointment
    ola = world.children["Ola"]
    mine = (await service.book(world.db, Actor.guardian(world.guardian.id, {ola.id}),
                               patient_id=ola.id, slot_id=world.slots[0].id,
                               appointment_type_id=world.child_exam.id)).appointment
    await log_in(client)
    page = soup_of(await get(client, f"/timer/{mine.id}/endre"))
    data = {**hidden_fields(page, "form.time-form"), "slot": times(page)["15:00"],
            "key": key}

    response = await client.post(f"/timer/{mine.id}/endre", data=data)

    assert response.status_code == 400
    assert f"/timer/{moved.id}/" not in response.headers.get("location", "")
    async with world.db.read() as s:
        assert (await s.get(Appointment, mine.id)).status == AppointmentStatus.BOOKED
        slot = await s.get(Slot, world.slots[2].id)
        assert slot is not None and slot.status == SlotStatus.FREE and slot.hold_key is None
