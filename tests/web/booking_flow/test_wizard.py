"""The booking wizard over HTTP, logged in through the local test ID-porten:
who → what → where → when → confirm → receipt."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from sqlalchemy import select

from booking import picker as picking
from booking import service
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, Slot
from booking.statuses import ActorKind, AppointmentStatus, SlotStatus
from tests.web.booking_flow.world import (
    OTHER_PID,
    World,
    choices,
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


def _open_day(world: World, day: date, step: int) -> date:
    """The nearest day after (step 1) or before (step -1) ``day`` the home
    clinic is open."""
    day += timedelta(days=step)
    while not picking.is_open(world.home, day):
        day += timedelta(days=step)
    return day


async def test_login_is_required(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/bestill")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?next=/bestill")


async def test_guardian_books_three_children_for_the_same_afternoon(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    who = soup_of(await get(client, "/bestill"))
    assert text(who, "h1") == "Who is the appointment for?"
    assert list(choices(who)) == ["Me", "Nora", "Emma", "Ola"]  # oldest child first
    assert text(who, "#unavailable-heading") == "Children you cannot book for here"

    booked = {}
    for name, clock in (("Ola", "14:00"), ("Emma", "14:30"), ("Nora", "15:00")):
        picker = await pick(client, name, "Child check-up", "Grünerløkka tannklinikk")
        assert text(picker, ".booking-step__for") == f"Booking for {name}"
        summary = await hold(client, picker, clock)
        page = soup_of(await get(client, summary))
        assert text(page, "h1") == "Check and confirm"
        assert name in text(page, "#summary")
        appointment_id, _ = await confirm(client, summary)
        receipt = soup_of(await get(client, f"/timer/{appointment_id}/kvittering"))
        assert text(receipt, "#receipt-status h1") == "The time is booked"
        assert f"For {name}" in text(receipt, "#receipt")
        booked[name] = appointment_id

    async with world.db.read() as s:
        rows = {a.id: a for a in (await s.execute(select(Appointment))).scalars()}
    assert set(rows) == set(booked.values())
    for name, (hour, minute) in (("Ola", (14, 0)), ("Emma", (14, 30)), ("Nora", (15, 0))):
        appointment = rows[booked[name]]
        assert appointment.patient_id == world.children[name].id
        assert appointment.starts_at == world.at(hour, minute)
        assert appointment.clinic_id == world.home.id
        assert appointment.appointment_type_id == world.child_exam.id
        assert appointment.status == AppointmentStatus.BOOKED
        assert appointment.created_by_kind == ActorKind.GUARDIAN
        assert appointment.created_by == f"patient:{world.guardian.id}"


async def test_a_receipt_says_what_happens_next(client: httpx.AsyncClient, world: World
                                                ) -> None:
    await log_in(client)
    picker = await pick(client, "Me", "Check-up", "Grünerløkka tannklinikk")
    appointment_id, _ = await confirm(client, await hold(client, picker, "15:30"))
    receipt = soup_of(await get(client, f"/timer/{appointment_id}/kvittering"))
    assert text(receipt, "#receipt time") == i18n.format_when(world.at(15, 30), "en")
    assert "Grünerløkka tannklinikk" in text(receipt, "#receipt")
    assert "Check-up" in text(receipt, "#receipt")
    steps = [li.get_text(" ", strip=True) for li in receipt.select("#next-heading + ul li")]
    # No mobile number on file: no reminder is promised (the receipt says why).
    assert "until 24 hours before" in steps[0] and "cancel here until it starts" in steps[0]
    assert "may charge a fee" in steps[1]  # an adult, and the kind has a late fee
    links = [a["href"] for a in receipt.select("a.choice-list__link")]
    assert links == [f"/timer/{appointment_id}", "/bestill"]
    assert (await client.get(f"/timer/{appointment_id}")).status_code == 200


async def test_a_patient_without_children_skips_the_who_step(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client, OTHER_PID)
    what = soup_of(await get(client, "/bestill"))
    assert text(what, "h1") == "What kind of appointment?"
    assert text(what, ".booking-step") == "Step 1 of 4"
    assert list(choices(what)) == ["Check-up"]


async def test_kinds_of_appointment_follow_the_age_rules(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    who = choices(soup_of(await get(client, "/bestill")))
    kinds = {name: list(choices(soup_of(await get(client, who[name]))))
             for name in ("Me", "Ola", "Nora")}
    # Not the acute kind (not bookable online) for anyone.
    assert kinds == {"Me": ["Check-up"], "Ola": ["Child check-up"],
                     "Nora": ["Child check-up", "Braces check"]}
    # Asking for a kind by its id in the address does not get around it.
    refused = soup_of(await get(
        client, f"/bestill?for={world.children['Ola'].id}&type={world.braces.id}"))
    assert text(refused, "h1") == "What kind of appointment?"
    assert text(refused, "#problem") == "This kind of appointment is not offered at this age."
    acute = soup_of(await get(client, f"/bestill?for=me&type={world.acute.id}"))
    assert text(acute, "#problem") == (
        "This kind of appointment cannot be booked online. Please call the clinic.")


async def test_clinics_in_the_municipality_come_first_then_the_county_then_any(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    url = f"/bestill?for={world.children['Ola'].id}&type={world.child_exam.id}"
    where = soup_of(await get(client, url))
    assert text(where, "#local-heading") == "In your municipality, Oslo"
    sections = [[a.select(".choice-list__title")[0].get_text(strip=True)
                 for a in section.select("a.choice-list__link")]
                for section in where.select("section.page-section")[:2]]
    assert sections == [["Grünerløkka tannklinikk"], ["Asker tannklinikk"]]
    assert text(where, "#county-heading") == "Elsewhere in Oslo"
    # Any clinic can be found, in another county too.
    found = soup_of(await get(client, url + "&sok=Åsane"))
    assert text(found, "#found-heading") == "1 clinic found"
    far = choices(found)["Åsane tannklinikk"]
    # The far county defines the same kind itself: the address is moved to its id.
    response = await client.get(far)
    assert response.status_code == 303
    assert f"type={world.far_child_exam.id}" in response.headers["location"]
    assert "clinic=asane" in response.headers["location"]


async def test_the_first_day_shown_is_the_first_with_free_times(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    day = i18n.format_day(world.at(12), "en")
    assert text(picker, "#day-heading") == f"{day}, 4 free times"
    assert text(picker, "#day-status") == f"{day}, 4 free times"
    # One choice per time, though two chairs are free at 14:00.
    assert list(times(picker)) == ["14:00", "14:30", "15:00", "15:30"]
    assert picker.select_one("#first-free") is None  # this is the first free day
    # The radios are inside a real form that posts to the hold step.
    form = picker.select_one("form.time-form")
    assert form is not None and form["method"] == "post" and form["action"] == "/bestill/velg"


async def test_day_navigation_without_javascript(client: httpx.AsyncClient, world: World
                                                 ) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    next_day = picker.select_one("a#next-day")
    assert next_day is not None
    assert next_day["data-hx-target"] == "#day" and next_day["data-hx-push-url"] == "true"
    # The next day the clinic is open (weekends and public holidays skipped).
    following = _open_day(world, world.day, +1)
    assert f"day={following.isoformat()}" in str(next_day["href"])
    assert " ".join(next_day.get_text(" ").split()) == (
        "Next day " + i18n.format_day(world.at(12, day=following), "en"))

    empty = soup_of(await get(client, str(next_day["href"])))
    day = i18n.format_day(world.at(12, day=following), "en")
    assert text(empty, "#day-heading") == f"{day}, 0 free times"
    assert times(empty) == {}
    assert "no free times" in text(empty, ".no-times")
    # From an empty day: to the next day that has times, and back to the first.
    later = empty.select_one("a#next-free")
    assert later is not None
    assert f"day={(world.day + timedelta(days=2)).isoformat()}" in str(later["href"])
    assert empty.select_one("form.time-form button[type=submit]") is None  # nothing to continue
    two_days = soup_of(await get(client, str(later["href"])))
    assert list(times(two_days)) == ["10:00"]
    first = two_days.select_one("a#first-free")
    assert first is not None
    back = soup_of(await get(client, str(first["href"])))
    assert list(times(back)) == ["14:00", "14:30", "15:00", "15:30"]
    previous = back.select_one("a#previous-day")
    assert previous is not None
    assert f"day={_open_day(world, world.day, -1).isoformat()}" in str(previous["href"])


async def test_day_navigation_with_htmx_swaps_only_the_day(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    href = str(picker.select_one("a#next-day")["href"])  # type: ignore[index]
    swap = await client.get(href, headers={"HX-Request": "true", "HX-Target": "day"})
    assert swap.status_code == 200
    assert "HX-Request" in swap.headers["vary"]
    assert swap.headers["cache-control"] == "no-store"
    fragment = soup_of(swap)
    assert fragment.select_one("html") is None and fragment.select_one("h1") is None
    day = i18n.format_day(world.at(12, day=_open_day(world, world.day, +1)), "en")
    assert text(fragment, "#day-heading") == f"{day}, 0 free times"
    # The week strip is swapped with the day (the new day marked), and an
    # empty day has no button to continue with.
    assert fragment.select_one("nav.week-strip a[aria-current=date]") is not None
    assert fragment.select_one("button[type=submit]") is None
    # The live region outside the block is updated out of band.
    status = fragment.select_one("#day-status")
    assert status is not None and status["data-hx-swap-oob"] == "innerHTML"
    assert status.get_text(strip=True) == f"{day}, 0 free times"
    # A history restore, or a plain load of the same address, gets the whole page.
    restore = await client.get(href, headers={"HX-Request": "true", "HX-Target": "day",
                                              "HX-History-Restore-Request": "true"})
    assert soup_of(restore).select_one("h1") is not None
    plain = await client.get(href)
    assert soup_of(plain).select_one("h1") is not None
    assert "HX-Request" in plain.headers["vary"]


async def test_an_unrepresentable_child_is_a_404_and_audited(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    response = await client.get(f"/bestill?for={world.of_age.id}")
    assert response.status_code == 404
    stranger = await client.get(f"/bestill?for={world.stranger.id}&type={world.exam.id}")
    assert stranger.status_code == 404
    async with world.db.read() as s:
        refused = (await s.execute(select(AuditEntry.subject_patient_id).where(
            AuditEntry.action == "access.refused"))).scalars().all()
    assert len(refused) == 2 and set(refused) == {world.of_age.id, world.stranger.id}


async def test_times_that_overlap_the_childs_own_appointment_are_not_offered(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    nora = world.children["Nora"]
    await service.book(world.db, Actor.guardian(world.guardian.id, {nora.id}),
                       patient_id=nora.id, slot_id=world.slots[0].id,
                       appointment_type_id=world.child_exam.id)
    picker = await pick(client, "Nora", "Braces check", "Grünerløkka tannklinikk")
    # The other chair is free at 14:00, but Nora is at the clinic then.
    assert list(times(picker)) == ["14:30", "15:00", "15:30"]
    day = i18n.format_day(world.at(12), "en")
    assert text(picker, "#day-heading") == f"{day}, 3 free times"
    # Her brother is offered 14:00 on the same page.
    ola = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    assert list(times(ola)) == ["14:00", "14:30", "15:00", "15:30"]
    # Choosing it anyway (an old page) says why, and holds nothing.
    data = {**hidden_fields(picker, "form.time-form"), "slot": str(world.slots[4].id)}
    response = await client.post("/bestill/velg", data=data)
    assert response.status_code == 409
    assert text(soup_of(response), "#problem") == (
        "There is already another appointment at that time.")
    async with world.db.read() as s:
        slot = await s.get(Slot, world.slots[4].id)
        assert slot is not None and slot.status == SlotStatus.FREE


async def test_the_week_strip_counts_free_times_per_open_day(
        client: httpx.AsyncClient, world: World) -> None:
    await log_in(client)
    picker = await pick(client, "Ola", "Child check-up", "Grünerløkka tannklinikk")
    strip = picker.select("nav.week-strip a")
    days = [date.fromisoformat(str(a["href"]).rsplit("day=", 1)[1]) for a in strip]
    # The open days of the week (closed days left out unless they have times).
    assert all(picking.is_open(world.home, day) or day == world.day + timedelta(days=2)
               for day in days)
    assert world.day in days
    current = picker.select("nav.week-strip a[aria-current=date]")
    assert len(current) == 1 and str(current[0]["href"]).endswith(world.day.isoformat())
    assert current[0].select_one(".week-strip__count").get_text() == "4"  # type: ignore[union-attr]
    assert "4 free times" in current[0].get_text()
    for link in strip:  # each day swaps in place with htmx, and is a real link without
        assert link["data-hx-get"] == link["href"] and link["data-hx-target"] == "#day"
    # A day with times has the jump to the next free time, and a Continue button.
    later = picker.select_one("nav.day-nav a#next-free")
    assert later is not None
    assert str(later["href"]).endswith((world.day + timedelta(days=2)).isoformat())
    assert picker.select_one("#day button[type=submit]") is not None
