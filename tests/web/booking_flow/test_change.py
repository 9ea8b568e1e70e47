"""Changing a time: ``GET``/``POST /timer/{id}/endre``. The old time is let go
only once the new one is held; if the new one is gone, nothing is lost."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from booking import service
from booking.audit import Actor
from booking.models import Appointment, Slot
from booking.statuses import AppointmentStatus, SlotStatus
from core.db import utcnow
from tests import factories as f
from tests.web.booking_flow.world import (
    World,
    get,
    hidden_fields,
    log_in,
    soup_of,
    text,
    times,
)
from web import i18n

TAKEN = "Someone else has just booked that time. Please choose another."


async def _book_for_ola(world: World, slot: Slot | None = None) -> Appointment:
    ola = world.children["Ola"]
    outcome = await service.book(
        world.db, Actor.guardian(world.guardian.id, {ola.id}), patient_id=ola.id,
        slot_id=(slot or world.slots[0]).id, appointment_type_id=world.child_exam.id)
    return outcome.appointment


async def _rows(world: World) -> dict[int, Appointment]:
    async with world.db.read() as s:
        return {a.id: a for a in (await s.execute(select(Appointment))).scalars()}


async def _slot_status(world: World, slot: Slot) -> str:
    async with world.db.read() as s:
        row = await s.get(Slot, slot.id)
        assert row is not None
        return row.status


async def test_the_change_page_offers_times_at_the_same_clinic(
        client: httpx.AsyncClient, world: World) -> None:
    old = await _book_for_ola(world)
    await log_in(client)
    page = soup_of(await get(client, f"/timer/{old.id}/endre"))
    assert text(page, "h1") == "Change the time"
    assert text(page, ".booking-facts time") == i18n.format_when(world.at(14, 0), "en")
    assert "Grünerløkka tannklinikk" in text(page, ".booking-facts")
    # Ola's own 14:00 is booked; the other chair's 14:00 is free.
    assert list(times(page)) == ["14:00", "14:30", "15:00", "15:30"]
    assert times(page)["14:00"] == str(world.slots[4].id)
    form = page.select_one("form.time-form")
    assert form is not None and form["action"] == f"/timer/{old.id}/endre"
    # Days are links of the change page itself.
    assert str(page.select_one("a#next-day")["href"]).startswith(  # type: ignore[index]
        f"/timer/{old.id}/endre?day=")


async def test_a_taken_new_time_keeps_the_old_one(client: httpx.AsyncClient, world: World
                                                  ) -> None:
    old = await _book_for_ola(world)
    await log_in(client)
    page = soup_of(await get(client, f"/timer/{old.id}/endre"))
    data = {**hidden_fields(page, "form.time-form"), "slot": times(page)["15:00"]}
    # Someone else books 15:00 while the page is open.
    await service.book(world.db, Actor.patient(world.stranger.id),
                       patient_id=world.stranger.id, slot_id=world.slots[2].id,
                       appointment_type_id=world.exam.id)

    response = await client.post(f"/timer/{old.id}/endre", data=data)
    assert response.status_code == 409
    refused = soup_of(response)
    assert text(refused, "#problem") == TAKEN
    nearest = [label.get_text(" ", strip=True) for label in refused.select("#nearest label")]
    assert nearest[:3] == [i18n.format_when(world.at(h, m), "en")
                           for h, m in ((14, 0), (14, 30), (15, 30))]
    rows = await _rows(world)
    assert rows[old.id].status == AppointmentStatus.BOOKED
    assert rows[old.id].starts_at == world.at(14, 0)
    assert len([a for a in rows.values() if a.patient_id == old.patient_id]) == 1
    assert await _slot_status(world, world.slots[0]) == SlotStatus.BOOKED

    # Choosing one of the nearest times then works; the same form key is kept.
    retry = {**hidden_fields(refused, "form.time-form"), "slot": str(world.slots[3].id)}
    assert retry["key"] == data["key"]
    moved = await client.post(f"/timer/{old.id}/endre", data=retry)
    assert moved.status_code == 303
    new_id = int(moved.headers["location"].split("/")[2])
    receipt = soup_of(await get(client, moved.headers["location"]))
    assert text(receipt, "#receipt-status h1") == "The time is changed"
    assert text(receipt, "#receipt time") == i18n.format_when(world.at(15, 30), "en")
    rows = await _rows(world)
    assert rows[old.id].status == AppointmentStatus.CANCELLED
    assert rows[new_id].replaces_id == old.id
    assert rows[new_id].starts_at == world.at(15, 30)
    assert await _slot_status(world, world.slots[0]) == SlotStatus.FREE

    # The same form sent again changes nothing more.
    again = await client.post(f"/timer/{old.id}/endre", data=retry)
    assert again.status_code == 303 and again.headers["location"] == moved.headers["location"]
    assert len(await _rows(world)) == 3  # Ola's old and new, and the other patient's


async def test_a_slot_of_another_clinic_is_refused(client: httpx.AsyncClient, world: World
                                                   ) -> None:
    old = await _book_for_ola(world)
    await log_in(client)
    page = soup_of(await get(client, f"/timer/{old.id}/endre"))
    data = {**hidden_fields(page, "form.time-form"), "slot": str(world.neighbour_slot.id)}
    response = await client.post(f"/timer/{old.id}/endre", data=data)
    assert response.status_code == 409
    assert text(soup_of(response), "#problem") == (
        "That time belongs to another clinic. Please choose again.")
    assert (await _rows(world))[old.id].status == AppointmentStatus.BOOKED
    assert await _slot_status(world, world.neighbour_slot) == SlotStatus.FREE


async def test_after_the_cutoff_the_page_says_call_the_clinic(
        client: httpx.AsyncClient, world: World) -> None:
    async with world.db.write() as s:
        soon = await f.slot(s, world.chairs[0], utcnow() + timedelta(hours=5), world.template)
    old = await _book_for_ola(world, soon)
    await log_in(client)
    page = soup_of(await get(client, f"/timer/{old.id}/endre"))
    assert text(page, "#refusal p:first-child") == (
        "Less than 24 hours are left, so the time can no longer be changed online. "
        "To change it, call the clinic.")
    call = page.select_one("#refusal a")
    assert call is not None and call["href"] == "tel:+4722000000"
    assert page.select_one("form.time-form") is None
    response = await client.post(f"/timer/{old.id}/endre",
                                 data={"slot": str(world.slots[1].id), "key": "k" * 32})
    assert response.status_code == 409
    assert text(soup_of(response), "#problem") == "Nothing was changed."
    assert (await _rows(world))[old.id].slot_id == soon.id


async def test_someone_elses_appointment_is_a_404(client: httpx.AsyncClient, world: World
                                                  ) -> None:
    theirs = await service.book(world.db, Actor.patient(world.stranger.id),
                                patient_id=world.stranger.id, slot_id=world.slots[1].id,
                                appointment_type_id=world.exam.id)
    appointment_id = theirs.appointment.id
    await log_in(client)
    assert (await client.get(f"/timer/{appointment_id}/endre")).status_code == 404
    assert (await client.get(f"/timer/{appointment_id}/kvittering")).status_code == 404
    posted = await client.post(f"/timer/{appointment_id}/endre",
                               data={"slot": str(world.slots[2].id), "key": "k" * 32})
    assert posted.status_code == 404
    assert (await client.get("/timer/99999999/endre")).status_code == 404
    assert (await client.get("/timer/1e3/endre")).status_code == 404
    assert (await _rows(world))[appointment_id].slot_id == world.slots[1].id
    assert await _slot_status(world, world.slots[2]) == SlotStatus.FREE
