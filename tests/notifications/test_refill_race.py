"""Fifty accepts for one offered slot (issue 15, "Proof"): the real worker
process (``python -m web.cli worker``) with PostgreSQL, a private Redis and
the fake Twilio on loopback makes and sends the offers; then 50 patients
accept at once, half by the web page (``POST /ledig/{token}``, in-process)
and half by SMS code (``notifications.refill.accept_by_code``). Exactly one
wins, 49 are refused politely; the slot and the appointments are
consistent; every message reaches the provider once (49 "taken" notices,
one change notice)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from booking import service, waitlist
from booking.audit import Actor
from booking.models import Appointment, Slot
from booking.refill_models import RefillOffer
from booking.statuses import AppointmentStatus, OfferStatus, SlotStatus
from booking.waitlist import Wishes
from core.db import Database, utcnow
from core.loopback import serving
from notifications import outbox
from notifications.fakes.twilio import FakeTwilio
from notifications.refill import accept_by_code
from notifications.refill_texts import offer_key, sign_offer
from notifications.statuses import Purpose
from notifications.templates import link_key
from tests import factories as f
from tests.apps import SAME_ORIGIN, client_for, make_app
from tests.booking.booking_world import assert_consistent, make_world
from tests.logcheck import keep_output
from tests.notifications import real_worker
from tests.notifications.helpers import rows
from tests.notifications.reliability_helpers import (
    WorkerProcess,
    open_all_day,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow,
              pytest.mark.real_clock]
SECRET = "reliability-test-secret"  # the worker's (worker_env)
PEOPLE = 50
SLACK = 2

redis = real_worker.redis  # a private Redis the test may stop


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, Database]]:
    async with real_worker.own_database(pool_size=30) as found:
        yield found


@pytest.fixture
def fake() -> Iterator[tuple[FakeTwilio, str]]:
    twilio = FakeTwilio(seed=15)
    twilio.callbacks_enabled = False
    with serving(twilio.app, name="fake-twilio-refill") as url:
        yield twilio, url


def mobile(i: int) -> str:
    """A mobile number of its own (as the reliability tests' bookings use)."""
    return f"+479900{i:04d}"


def _start() -> datetime:
    """Three days ahead at 08:00 UTC (inside any sending window then)."""
    day = (utcnow() + timedelta(days=3)).date()
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


async def test_fifty_accepts_one_winner(database, redis, fake):
    url, db = database
    twilio, twilio_url = fake
    world = await make_world(db, slot_count=PEOPLE + 1, start=_start())
    await open_all_day(db)
    now = utcnow()
    async with db.write() as session:
        people = [await f.patient(session, birth_date=date(1950 + i % 40, 1 + i % 12, 1 + i % 28),
                                  given_name=f"P{i}", mobile=mobile(i))
                  for i in range(PEOPLE + 1)]
    first = await service.book(db, Actor.patient(people[0].id), patient_id=people[0].id,
                               slot_id=world.slots[0].id, appointment_type_id=world.exam.id,
                               now=now)
    waiting: dict[int, int] = {}
    for i, person in enumerate(people[1:], start=1):
        booked = await service.book(db, Actor.patient(person.id), patient_id=person.id,
                                    slot_id=world.slots[i].id,
                                    appointment_type_id=world.exam.id, now=now)
        await waitlist.add(db, Actor.patient(person.id), appointment_id=booked.appointment.id,
                           wishes=Wishes(frozenset({world.clinic.id})), now=now)
        waiting[person.id] = booked.appointment.id
    env = worker_env(url, redis.url, account_sid=twilio.account_sid,
                     auth_token=twilio.auth_token, twilio_url=twilio_url)
    worker = WorkerProcess({**env, "REFILL_WAVE_SIZE": str(PEOPLE)}, name="worker-refill")
    app = make_app(db, secret_key=SECRET, redis_url=redis.url)
    try:
        worker.start()
        await service.cancel(db, Actor.patient(people[0].id), appointment_id=first.appointment.id,
                             now=utcnow())

        async def offered() -> list[RefillOffer]:
            async with db.read() as session:
                return list((await session.execute(
                    select(RefillOffer).where(RefillOffer.slot_id == world.slots[0].id)
                    .order_by(RefillOffer.id))).scalars())

        async def offers_sent() -> bool:
            found = await offered()
            if len(found) < PEOPLE:
                return False
            sent = [r for o in found for r in await rows(db, purpose=Purpose.REFILL_OFFER,
                                                         offset_minutes=o.id)]
            return len(sent) == PEOPLE and all(r.handed_over_at for r in sent)

        assert await wait_for(offers_sent, 60 * SLACK, every=0.5), "offers not all sent"
        offers = await offered()
        key = offer_key(link_key(SECRET))
        number_of = {p.id: mobile(i) for i, p in enumerate(people)}

        async def by_web(offer: RefillOffer) -> str:
            async with client_for(app) as client:
                token = sign_offer(key, offer.id, offer.patient_id)
                page = await client.get(f"/ledig/{token}")
                assert page.status_code == 200
                answer = await client.post(f"/ledig/{token}", headers=SAME_ORIGIN)
                return {303: "accepted", 409: "ended"}.get(answer.status_code,
                                                          str(answer.status_code))

        async def by_sms(offer: RefillOffer) -> str:
            reply = await accept_by_code(db, number_of[offer.patient_id],
                                         f"JA {offer.code}", utcnow())
            return reply.outcome

        results = await asyncio.gather(*[
            (by_web if i % 2 else by_sms)(offer) for i, offer in enumerate(offers)])
        assert Counter(results) == {"accepted": 1, "ended": PEOPLE - 1}, Counter(results)
        winner = offers[results.index("accepted")]

        async def all_told() -> bool:
            taken = [r for o in offers for r in await rows(db, purpose=Purpose.REFILL_TAKEN,
                                                         offset_minutes=o.id)]
            changed = await rows(db, purpose=Purpose.CHANGE)
            return (len(taken) == PEOPLE - 1 and all(r.handed_over_at for r in taken)
                    and len(changed) == 1 and bool(changed[0].handed_over_at))

        # The winner was sent the offer moments ago, so their change notice
        # waits out the burst window (outbox.BURST_WINDOW) before it goes.
        assert await wait_for(all_told, outbox.BURST_WINDOW.total_seconds() + 60 * SLACK,
                              every=0.5), "taken notices not all sent"
        await asyncio.sleep(3)  # another enqueue_due and refill pass: nothing goes twice
    finally:
        worker.stop()
        keep_output("worker-refill", worker.output)
    # Exactly one winner; the others keep their time.
    async with db.read() as session:
        states = {o.id: o.status for o in (await session.execute(
            select(RefillOffer).where(RefillOffer.slot_id == world.slots[0].id))).scalars()}
        slot = await session.get(Slot, world.slots[0].id)
        live = (await session.execute(select(Appointment).where(
            Appointment.slot_id == world.slots[0].id,
            Appointment.status != AppointmentStatus.CANCELLED))).scalars().all()
        kept = {a.id: a.status for a in (await session.execute(select(Appointment).where(
            Appointment.id.in_(list(waiting.values()))))).scalars()}
    assert Counter(states.values()) == {OfferStatus.ACCEPTED: 1, OfferStatus.TAKEN: PEOPLE - 1}
    assert slot is not None and slot.status == SlotStatus.BOOKED
    assert [a.patient_id for a in live] == [winner.patient_id]
    assert kept[waiting[winner.patient_id]] == AppointmentStatus.CANCELLED
    assert sum(1 for s in kept.values() if s == AppointmentStatus.BOOKED) == PEOPLE - 1
    await assert_consistent(db)
    # Every message reached the provider once.
    deliveries = twilio.deliveries()
    assert deliveries and set(deliveries.values()) == {1}
    about_slot = {o.id for o in offers}
    offer_rows = [r for r in await rows(db, purpose=Purpose.REFILL_OFFER)
                  if r.offset_minutes in about_slot]
    taken_rows = [r for r in await rows(db, purpose=Purpose.REFILL_TAKEN)
                  if r.offset_minutes in about_slot]
    assert Counter(r.recipient_id for r in offer_rows) == {p: 1 for p in waiting}
    assert Counter(r.recipient_id for r in taken_rows) == {
        p: 1 for p in waiting if p != winner.patient_id}
    assert all(deliveries[r.id] == 1 for r in offer_rows + taken_rows)
