"""Booking from a clinic's page: its "Book here" and its next free times lead
through login straight into the booking flow at that clinic, and the kind
step says when the person has an appointment of a kind already."""

from __future__ import annotations

import httpx

from booking import service
from booking.audit import Actor
from tests.web.auth.helpers import ADULT_PID, headless, path_of, start_login
from tests.web.booking_flow.world import (
    World,
    choices,
    get,
    log_in,
    soup_of,
    text,
    times,
)


async def test_a_time_on_the_clinic_page_comes_back_after_login_at_that_clinic(
        client: httpx.AsyncClient, world: World) -> None:
    target = (f"/bestill?type={world.child_exam.id}&clinic={world.home.slug}"
              f"&day={world.day.isoformat()}")
    response = await client.get(target)
    assert response.status_code == 303
    login_path = path_of(response.headers["location"])
    assert login_path.startswith("/auth/login?next=")
    # Through the login, back to the same address (a local path, checked as always).
    authorize_url, _ = await start_login(client, login_path)
    callback = await headless(client, authorize_url, ADULT_PID)
    back = await client.get(path_of(callback))
    assert back.status_code == 303 and path_of(back.headers["location"]) == target
    # A guardian chooses whom it is for; the kind, clinic and day go along.
    who = soup_of(await get(client, target))
    assert text(who, "h1") == "Who is the appointment for?"
    ola = choices(who)["Ola"]
    assert f"type={world.child_exam.id}" in ola and f"clinic={world.home.slug}" in ola
    assert f"day={world.day.isoformat()}" in ola
    picker = soup_of(await get(client, ola))
    assert text(picker, "h1") == "Choose a time"
    assert world.home.name in text(picker, ".booking-facts")
    assert list(times(picker)) == ["14:00", "14:30", "15:00", "15:30"]


async def test_book_here_keeps_the_clinic_through_the_kind_step(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    who = soup_of(await get(client, f"/bestill?clinic={world.home.slug}"))
    # A logged-in patient's header links the profile (SMS number, language).
    assert who.select_one("header nav a[href='/profil']") is not None
    what = soup_of(await get(client, choices(who)["Ola"]))
    assert text(what, "h1") == "What kind of appointment?"
    kind = choices(what)["Child check-up"]
    assert f"clinic={world.home.slug}" in kind
    # The clinic step is skipped: straight to the times at this clinic.
    picker = soup_of(await get(client, kind))
    assert text(picker, "h1") == "Choose a time"
    assert world.home.name in text(picker, ".booking-facts")


async def test_a_clinic_from_the_address_is_checked_like_any_other(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    missing = soup_of(await get(
        client, f"/bestill?for=me&type={world.exam.id}&clinic=no-such-clinic"))
    assert text(missing, "h1") == "Which clinic?"
    assert text(missing, "#problem") == "We could not find that clinic. Please choose again."
    bad = await client.get("/bestill?for=me&clinic=%2F%2Fevil.example")
    assert bad.status_code == 400


async def test_the_kind_step_says_there_is_an_appointment_of_that_kind_already(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    ola = world.children["Ola"]
    booked = await service.book(world.db, Actor.guardian(world.guardian.id, {ola.id}),
                                patient_id=ola.id, slot_id=world.slots[0].id,
                                appointment_type_id=world.child_exam.id)
    appointment = booked.appointment
    what = soup_of(await get(client, f"/bestill?for={ola.id}"))
    # Not a link onward, but the appointment there is and a link to change it.
    assert "Child check-up" not in choices(what)
    note = what.select_one(f"#booked-{appointment.id}")
    assert note is not None
    assert "Ola already has an appointment of this kind" in note.get_text()
    change = note.select_one("a")
    assert change is not None and change["href"] == f"/timer/{appointment.id}/endre"
    # An address that skips the kind step is told the same there.
    skipped = soup_of(await get(
        client, f"/bestill?for={ola.id}&type={world.child_exam.id}&clinic={world.home.slug}"))
    assert text(skipped, "h1") == "What kind of appointment?"
    assert text(skipped, "#problem") == (
        "There is already an upcoming appointment of this kind. "
        "Change that one instead of booking a new one.")
    # Another child is offered the kind as before.
    emma = soup_of(await get(client, f"/bestill?for={world.children['Emma'].id}"))
    assert "Child check-up" in choices(emma)
