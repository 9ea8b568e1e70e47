"""Tampered fields, double submits, times taken meanwhile or already past,
and cross-site posts: a clear message, and nothing changes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from booking import service
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, Slot
from booking.statuses import SlotStatus
from core.db import utcnow
from tests import factories as f
from tests.apps import BASE_URL as BASE
from tests.web.auth.helpers import browser
from tests.web.booking_flow.world import (
    World,
    confirm,
    get,
    hidden_fields,
    hold,
    log_in,
    pick,
    soup_of,
    text,
    times,
)
from web import i18n

TAKEN = "Someone else has just booked that time. Please choose another."
FORM_CHANGED = "This time is no longer kept for you. Please choose a time again."


async def _appointments(world: World) -> list[Appointment]:
    async with world.db.read() as s:
        return list((await s.execute(select(Appointment).order_by(Appointment.id))).scalars())


async def _status(world: World, slot_id: int) -> str:
    async with world.db.read() as s:
        slot = await s.get(Slot, slot_id)
        assert slot is not None
        return slot.status


async def _summary_form(client: httpx.AsyncClient, world: World, clock: str = "14:00"
                        ) -> tuple[str, dict[str, str]]:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    summary = await hold(client, picker, clock)
    page = soup_of(await get(client, summary))
    return summary, hidden_fields(page, "form.confirm-form")


async def test_a_double_submit_books_once(client: httpx.AsyncClient, world: World) -> None:
    summary, data = await _summary_form(client, world)
    first = await client.post("/bestill/bekreft", data=data)
    again = await client.post("/bestill/bekreft", data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    # Back to the summary after booking: the receipt, not a second booking.
    back = await client.get(summary)
    assert back.status_code == 303 and back.headers["location"] == first.headers["location"]
    booked = await _appointments(world)
    assert [(a.patient_id, a.slot_id) for a in booked] == [
        (world.children["Ola"].id, world.slots[0].id)]
    assert booked[0].idempotency_key == data["key"]


async def test_two_submits_at_once_book_once(client: httpx.AsyncClient, world: World) -> None:
    _, data = await _summary_form(client, world)
    answers = await asyncio.gather(*(client.post("/bestill/bekreft", data=data)
                                     for _ in range(3)))
    assert {a.status_code for a in answers} == {303}
    assert len({a.headers["location"] for a in answers}) == 1
    assert len(await _appointments(world)) == 1


async def test_a_time_taken_between_hold_and_confirm(
        client: httpx.AsyncClient, world: World) -> None:
    _, data = await _summary_form(client, world)
    taken = world.slots[0]
    assert data["slot"] == str(taken.id)
    # The hold runs out and another patient books the time.
    async with world.db.write() as s:
        await s.execute(update(Slot).where(Slot.id == taken.id)
                        .values(held_until=utcnow() - timedelta(minutes=1)))
    other = await service.book(world.db, Actor.patient(world.stranger.id),
                               patient_id=world.stranger.id, slot_id=taken.id,
                               appointment_type_id=world.exam.id)

    response = await client.post("/bestill/bekreft", data=data)
    assert response.status_code == 409
    page = soup_of(response)
    assert text(page, "#problem") == TAKEN
    nearest = [label.get_text(" ", strip=True) for label in page.select("#nearest label")]
    expected = [world.at(14, 0), world.at(14, 30), world.at(15, 0), world.at(15, 30),
                world.at(10, 0, world.day + timedelta(days=2))]
    assert nearest == [i18n.format_when(moment, "en") for moment in expected]
    # The other chair's 14:00 is offered: the same time is still possible.
    assert page.select_one(f"#near-{world.slots[4].id}") is not None
    # Nothing changed: the other patient keeps the time, nobody else got one.
    assert [(a.id, a.patient_id) for a in await _appointments(world)] == [
        (other.appointment.id, world.stranger.id)]
    assert await _status(world, world.slots[4].id) == SlotStatus.FREE


async def test_a_time_taken_before_the_hold_offers_the_nearest(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    data = {**hidden_fields(picker, "form.time-form"), "slot": times(picker)["14:30"]}
    await service.book(world.db, Actor.patient(world.stranger.id),
                       patient_id=world.stranger.id, slot_id=world.slots[1].id,
                       appointment_type_id=world.exam.id)
    response = await client.post("/bestill/velg", data=data)
    assert response.status_code == 409
    page = soup_of(response)
    assert text(page, "#problem") == TAKEN
    assert [label.get_text(strip=True) for label in page.select("#nearest label")][:2] == [
        i18n.format_when(world.at(14, 0), "en"), i18n.format_when(world.at(15, 0), "en")]
    assert len(await _appointments(world)) == 1


async def test_at_the_same_time_another_chair_is_held_instead(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    data = {**hidden_fields(picker, "form.time-form"), "slot": times(picker)["14:00"]}
    await service.book(world.db, Actor.patient(world.stranger.id),
                       patient_id=world.stranger.id, slot_id=world.slots[0].id,
                       appointment_type_id=world.exam.id)
    response = await client.post("/bestill/velg", data=data)
    assert response.status_code == 303
    assert f"slot={world.slots[4].id}" in response.headers["location"]
    assert await _status(world, world.slots[4].id) == SlotStatus.HELD


async def test_a_kind_changed_in_the_confirm_form_is_refused(
        client: httpx.AsyncClient, world: World) -> None:
    _, data = await _summary_form(client, world)
    response = await client.post("/bestill/bekreft", data={**data, "type": world.braces.id})
    assert response.status_code == 400
    page = soup_of(response)
    assert text(page, "h1") == "What kind of appointment?"
    assert text(page, "#problem") == "This kind of appointment is not offered at this age."
    acute = await client.post("/bestill/bekreft", data={**data, "type": world.acute.id})
    assert acute.status_code == 400
    assert text(soup_of(acute), "#problem") == (
        "This kind of appointment cannot be booked online. Please call the clinic.")
    assert await _appointments(world) == []


async def test_a_slot_of_another_clinic_is_refused(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    data = {**hidden_fields(picker, "form.time-form"), "slot": world.neighbour_slot.id}
    response = await client.post("/bestill/velg", data=data)
    assert response.status_code == 409
    assert text(soup_of(response), "#problem") == (
        "That time belongs to another clinic. Please choose again.")
    assert await _status(world, world.neighbour_slot.id) == SlotStatus.FREE


async def test_a_slot_changed_in_the_confirm_form_is_refused(
        client: httpx.AsyncClient, world: World) -> None:
    _, data = await _summary_form(client, world)
    for slot in (world.slots[1], world.neighbour_slot):
        response = await client.post("/bestill/bekreft", data={**data, "slot": slot.id})
        assert response.status_code == 400
        assert text(soup_of(response), "#problem") == FORM_CHANGED
        assert await _status(world, slot.id) == SlotStatus.FREE
    assert await _appointments(world) == []


async def test_a_forged_hold_key_is_refused(client: httpx.AsyncClient, world: World) -> None:
    _, data = await _summary_form(client, world)
    forged = "A" * len(data["hold"])
    response = await client.post("/bestill/bekreft", data={**data, "hold": forged})
    assert response.status_code == 400
    assert text(soup_of(response), "#problem") == FORM_CHANGED
    assert await _appointments(world) == []
    # The real hold is untouched.
    assert await _status(world, world.slots[0].id) == SlotStatus.HELD


async def test_a_hold_does_not_carry_over_to_another_login(
        app: Starlette, client: httpx.AsyncClient, world: World) -> None:
    _, data = await _summary_form(client, world)
    async with browser(BASE, httpx.ASGITransport(app=app)) as other:
        other.headers["Accept-Language"] = "en"
        await log_in(other)  # the same person, another session
        response = await other.post("/bestill/bekreft", data=data)
    assert response.status_code == 400
    assert text(soup_of(response), "#problem") == FORM_CHANGED
    assert await _appointments(world) == []


async def test_someone_else_in_the_form_is_a_404(client: httpx.AsyncClient, world: World
                                                 ) -> None:
    _, data = await _summary_form(client, world)
    for person in (world.of_age, world.stranger):
        response = await client.post("/bestill/bekreft", data={**data, "for": person.id})
        assert response.status_code == 404
    assert await _appointments(world) == []
    async with world.db.read() as s:
        refused = (await s.execute(select(AuditEntry.subject_patient_id).where(
            AuditEntry.action == "access.refused"))).scalars().all()
    assert len(refused) == 2 and set(refused) == {world.of_age.id, world.stranger.id}


async def test_a_time_in_the_past_is_refused(client: httpx.AsyncClient, world: World) -> None:
    async with world.db.write() as s:
        past = await f.slot(s, world.chairs[0], utcnow() - timedelta(hours=3), world.template)
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    data = {**hidden_fields(picker, "form.time-form"), "slot": past.id}
    response = await client.post("/bestill/velg", data=data)
    assert response.status_code == 409
    assert text(soup_of(response), "#problem") == (
        "That time has already passed. Please choose another.")
    assert await _status(world, past.id) == SlotStatus.FREE


async def test_no_time_chosen_is_an_error_tied_to_the_field(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    response = await client.post("/bestill/velg", data=hidden_fields(picker, "form.time-form"))
    assert response.status_code == 400
    page = soup_of(response)
    fieldset = page.select_one("#day fieldset")
    assert fieldset is not None and fieldset["aria-describedby"] == "slot-error"
    assert text(page, "#slot-error") == "Choose a time."


@pytest.mark.parametrize("query", [
    {"for": "me", "type": "abc"},
    {"for": "me", "type": "1" * 30},
    {"for": "-1"},
    {"for": "me", "type": "1", "clinic": "x" * 200},
    {"for": "me", "type": "1", "clinic": "../etc"},
    {"for": "me", "type": "1", "clinic": "grunerlokka", "day": "2024-13-45"},
    {"for": "me", "type": "1", "clinic": "grunerlokka", "day": "tomorrow"},
    {"for": "me", "sok": "å" * 500},
])
async def test_malformed_addresses_are_refused(client: httpx.AsyncClient, world: World,
                                               query: dict[str, str]) -> None:
    await log_in(client)
    response = await client.get("/bestill?" + urlencode(query))
    assert response.status_code == 400
    assert text(soup_of(response), "h1") == "We could not handle that request"


async def test_a_day_far_away_shows_the_last_bookable_day(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    query = urlencode({"for": "me", "type": world.exam.id, "clinic": "grunerlokka",
                       "day": "9999-12-31"})
    page = soup_of(await get(client, "/bestill?" + query))
    assert page.select_one("a#next-day") is None
    assert page.select_one("a#previous-day") is not None


async def test_malformed_forms_are_refused(client: httpx.AsyncClient, world: World) -> None:
    _, data = await _summary_form(client, world)
    for bad in ({"slot": "1e3"}, {"key": "short"}, {"slot": "9" * 40}, {"type": ""},
                {"hold": "x" * 500}):
        response = await client.post("/bestill/bekreft", data={**data, **bad})
        assert response.status_code == 400, bad
    big = await client.post("/bestill/bekreft", data={**data, "filler": "x" * 10_000})
    assert big.status_code == 400
    assert await _appointments(world) == []


async def test_a_cross_site_post_is_refused(client: httpx.AsyncClient, world: World) -> None:
    summary, data = await _summary_form(client, world)
    for headers in ({"Origin": "https://evil.example"},
                    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}):
        response = await client.post("/bestill/bekreft", data=data, headers=headers)
        assert response.status_code == 403
        again = await client.post("/bestill/velg", data={**data, "slot": world.slots[1].id},
                                  headers=headers)
        assert again.status_code == 403
    assert await _appointments(world) == []
    assert await _status(world, world.slots[1].id) == SlotStatus.FREE
    async with world.db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Appointment))).scalar() == 0
    # The same form from our own page goes through.
    booked, _ = await confirm(client, summary)
    assert [a.id for a in await _appointments(world)] == [booked]
