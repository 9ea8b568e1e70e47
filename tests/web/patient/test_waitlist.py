"""The waitlist on the appointment page and Min side, and the offer page an
SMS link leads to: who may ask, bad input, the representation rules on the
day a link is followed, and taking the time."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from booking import refill
from booking.models import Appointment, Clinic, Slot
from booking.refill_models import RefillOffer, RefillRound, WaitlistEntry
from booking.statuses import AppointmentStatus, SlotStatus, WaitlistStatus
from core.db import utcnow
from notifications.refill_texts import offer_key, sign_offer
from notifications.schedule import SendingWindow
from notifications.templates import link_key
from tests import factories
from tests.apps import BASE_URL, SECRET_KEY
from tests.pages import html, text_of
from tests.web.auth.helpers import browser
from tests.web.patient.world import World, audit_entries, hours_from_now

ALWAYS = SendingWindow.from_county({"send_from": "00:00", "send_until": "23:59"})
WISHES = {"clinic": [], "weekday": [], "earliest": "", "latest": "", "notice": "24"}


async def entries(app) -> list[WaitlistEntry]:
    async with app.state.db.read() as session:
        return list((await session.execute(select(WaitlistEntry).order_by(WaitlistEntry.id)))
                    .scalars())


def wishes(world: World, **changes) -> dict:
    return {**WISHES, "clinic": [str(world.clinic.id)], **changes}


async def test_a_patient_asks_for_an_earlier_time_and_withdraws(app, world: World,
                                                                logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    page = html(await client.get(f"/timer/{appointment_id}"))
    assert text_of(page, "#waitlist-heading") == "Want an earlier time?"
    answer = await client.post(f"/timer/{appointment_id}/venteliste",
                               data=wishes(world, weekday=["0", "2"], earliest="09:00"))
    assert answer.status_code == 303
    shown = html(await client.get(answer.headers["location"]))
    assert "You are on the waitlist" in text_of(shown, ".notice, .ds-alert")
    [entry] = await entries(app)
    assert entry.weekdays == [0, 2] and entry.earliest_time.hour == 9
    assert entry.clinic_ids == [world.clinic.id] and entry.notice_hours == 24
    home = html(await client.get("/min-side"))
    assert "Waiting for a time earlier than" in text_of(home, ".waiting-list")
    withdrawn = await client.post(f"/timer/{appointment_id}/venteliste/trekk")
    assert withdrawn.status_code == 303
    [entry] = await entries(app)
    assert entry.status == WaitlistStatus.WITHDRAWN
    actions = [e.action for e in await audit_entries(app, subject=world.adult.id)]
    assert "waitlist.add" in actions and "waitlist.withdraw" in actions


async def test_bad_wishes_say_why_and_change_nothing(app, world: World, logged_in) -> None:
    client = await logged_in(world.adult)
    appointment_id = world.appointments["adult"]
    for bad in (wishes(world, weekday=["9"]), wishes(world, clinic=["x"]),
                wishes(world, notice="5"), wishes(world, earliest="25:00"),
                wishes(world, earliest="15:00", latest="09:00"), {**WISHES, "clinic": []}):
        answer = await client.post(f"/timer/{appointment_id}/venteliste", data=bad)
        assert answer.status_code == 400, bad
        assert "Nothing was changed." in answer.text
    assert await entries(app) == []


async def test_someone_elses_appointment_is_not_found(app, world: World, logged_in) -> None:
    client = await logged_in(world.stranger)
    answer = await client.post(f"/timer/{world.appointments['adult']}/venteliste",
                               data=wishes(world))
    assert answer.status_code == 404
    assert await entries(app) == []


async def _free_slot_and_offer(app, world: World, child_key: str, patient_id: int
                               ) -> RefillOffer:
    """A released slot of the child kind tomorrow+1, freed, and a round that
    offers it to the one waiting."""
    db = app.state.db
    async with db.write() as session:
        clinic = await session.get(Clinic, world.clinic.id)
        chair = await factories.chair(session, clinic)
        template = await factories.template(session, chair, [world.child_type])
        slot = await factories.slot(session, chair, hours_from_now(48), template)
        session.add(RefillRound(slot_id=slot.id, status="open", wave=0,
                                       next_at=utcnow(), started_at=utcnow()))
    async with db.write() as session:
        [done] = await refill.tick(session, utcnow(), refill.RefillPolicy(), lambda _: ALWAYS)
    [offer] = done.offers
    assert offer.patient_id == patient_id
    assert offer.appointment_id == world.appointments[child_key]
    return offer


async def test_a_guardian_takes_an_offered_time_for_a_child(app, world: World, logged_in,
                                                            anonymous) -> None:
    guardian = await logged_in(world.guardian)
    appointment_id = world.appointments["child11"]
    answer = await guardian.post(f"/timer/{appointment_id}/venteliste?for={world.child11.id}",
                                 data=wishes(world))
    assert answer.status_code == 303
    offer = await _free_slot_and_offer(app, world, "child11", world.child11.id)
    home = html(await guardian.get("/min-side"))
    link = home.select_one(".refill-offer a")
    assert link is not None and link["href"].startswith("http://127.0.0.1:8000/ledig/")
    token = sign_offer(offer_key(link_key(SECRET_KEY)), offer.id, world.guardian.id)
    page = await anonymous.get(f"/ledig/{token}")
    assert page.status_code == 200
    assert text_of(html(page), "h1") == "An earlier time for Emma"
    assert [e.action for e in await audit_entries(app, action="refill.offer_view")]
    taken = await anonymous.post(f"/ledig/{token}")
    assert taken.status_code == 303
    done = html(await anonymous.get(taken.headers["location"]))
    assert "The time is yours" in text_of(done, ".ds-alert")
    async with app.state.db.read() as session:
        old = await session.get(Appointment, appointment_id)
        moved = (await session.execute(select(Appointment).where(
            Appointment.replaces_id == appointment_id))).scalar_one()
        slot = await session.get(Slot, offer.slot_id)
    assert old.status == AppointmentStatus.CANCELLED and moved.slot_id == offer.slot_id
    assert slot.status == SlotStatus.BOOKED
    # Sent again (a double tap): nothing more happens; the time is still theirs.
    again = await anonymous.post(f"/ledig/{token}")
    assert again.status_code == 303
    async with app.state.db.read() as session:
        assert len((await session.execute(select(Appointment).where(
            Appointment.replaces_id == appointment_id))).scalars().all()) == 1


async def test_a_link_dies_with_the_guardians_access(app, world: World) -> None:
    """Sara is 16: a guardian's link to her offer does not open, hers does."""
    async with app.state.db.write() as session:
        session.add(WaitlistEntry(
            patient_id=world.child16.id, appointment_id=world.appointments["child16"],
            appointment_type_id=world.child_type.id, clinic_ids=[world.clinic.id],
            weekdays=[], notice_hours=24, status="waiting", created_at=utcnow(),
            created_by_kind="patient", created_by=f"patient:{world.child16.id}"))
    offer = await _free_slot_and_offer(app, world, "child16", world.child16.id)
    key = offer_key(link_key(SECRET_KEY))
    async with browser(BASE_URL, httpx.ASGITransport(app=app)) as client:
        assert (await client.get(f"/ledig/{sign_offer(key, offer.id, world.guardian.id)}")
                ).status_code == 404
        assert (await client.get(f"/ledig/{sign_offer(key, offer.id, world.child16.id)}")
                ).status_code == 200
        assert (await client.get(f"/ledig/{sign_offer(key, offer.id, world.child16.id)}x")
                ).status_code == 404
        assert (await client.get("/ledig/AAAA")).status_code == 404
    assert offer.expires_at > utcnow() + timedelta(minutes=29)


async def test_the_page_says_when_the_clinic_put_the_patient_on_the_waitlist(
        app, world: World, logged_in) -> None:
    from booking import waitlist
    from booking.audit import Actor
    from booking.waitlist import Wishes

    appointment_id = world.appointments["adult"]
    await waitlist.add_for_patient(app.state.db, Actor.staff("desk", {world.clinic.id}),
                                   appointment_id=appointment_id,
                                   wishes=Wishes(frozenset({world.clinic.id})),
                                   reason="Phoned the clinic")
    client = await logged_in(world.adult)
    page = html(await client.get(f"/timer/{appointment_id}"))
    said = text_of(page, "#waitlist-by-clinic")
    assert said.startswith("The clinic put this appointment on the waitlist on ")
    assert "Phoned the clinic" not in page.get_text()  # the clinic's note is for staff
    log = html(await client.get("/innsyn"))
    assert "Put the appointment on the waitlist for an earlier time" in log.get_text()
    # The patient still changes the wishes and withdraws themself.
    changed = await client.post(f"/timer/{appointment_id}/venteliste",
                                data=wishes(world, notice="72"))
    assert changed.status_code == 303
    [entry] = await entries(app)
    assert (entry.notice_hours, entry.created_by_kind) == (72, "staff")
    assert (await client.post(f"/timer/{appointment_id}/venteliste/trekk")).status_code == 303
    [entry] = await entries(app)
    assert entry.status == WaitlistStatus.WITHDRAWN and entry.closed_note is None
    own = await logged_in(world.adult)
    again = await own.post(f"/timer/{appointment_id}/venteliste", data=wishes(world))
    assert again.status_code == 303
    page = html(await own.get(f"/timer/{appointment_id}"))
    assert page.select("#waitlist-by-clinic") == []
