"""A number check's code goes through the outbox like every other text: the
same worker delivers it, it counts against the texts-per-number cap, it
shows on ``/dev/sms``, and the outbox keeps its words with the code masked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from booking.models import Patient
from notifications import jobs, number_check
from notifications.dev_outbox import outbox_page
from notifications.models import Notification
from notifications.service import ResendRefused, resend
from notifications.statuses import Purpose, Reason
from notifications.templates import link_key
from tests.notifications.helpers import (
    ADULT_MOBILE,
    STAFF,
    book_adult,
    helsenorge_went,
    make_runtime,
    row,
    rows,
    world_with_phones,
)

NEW = "+4798765432"
KEY = number_check.check_key(link_key("test-secret"))


async def start(db, patient_id, e164, now):
    async with db.write() as session:
        started = await number_check.start(session, patient_id, e164, now)
    assert started.outcome == "sent" and started.check is not None
    return started.check


async def test_the_code_goes_through_the_outbox_in_the_persons_language(db, sms, clock):
    world = await world_with_phones(db)
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == world.adult.id)
                              .values(preferred_language="nn"))
    check = await start(db, world.adult.id, NEW, clock.now)
    code = number_check.code_for(KEY, check.nonce)
    runtime = make_runtime(db, sms, clock)
    assert await jobs.deliver(runtime, check.notification_id) == "accepted"
    [handed] = sms.messages
    assert handed.to_e164 == NEW
    assert handed.body == f"Tanntid: koden din er {code}. Han gjeld i 10 minutt."
    assert world.adult.given_name not in handed.body
    kept = await row(db, check.notification_id)
    assert kept.purpose == Purpose.NUMBER_CHECK and kept.appointment_id is None
    assert code not in (kept.body or "") and kept.body == handed.body.replace(code, "\u2022" * 6)
    assert (kept.language, kept.template_id) == ("nn", "number_check.self")
    # The number the person's texts use is still the old one.
    async with db.read() as session:
        patient = await session.get(Patient, world.adult.id)
        assert patient is not None and patient.mobile == ADULT_MOBILE

    # /dev/sms shows the message as the phone got it (with the service's key only).
    assert code in await outbox_page(db, code_key=KEY, now=clock.now)
    assert code not in await outbox_page(db, now=clock.now)


async def test_the_code_counts_against_the_texts_per_number_cap(db, sms, clock):
    world = await world_with_phones(db)
    runtime = make_runtime(db, sms, clock, daily_cap=1)
    check = await start(db, world.adult.id, ADULT_MOBILE, clock.now)
    assert await jobs.deliver(runtime, check.notification_id) == "accepted"
    booked = (await book_adult(db, world, slot=0, now=clock.advance(minutes=1))).appointment
    await helsenorge_went(db, clock.now)
    [confirmation] = await rows(db, appointment_id=booked.id, purpose=Purpose.CONFIRMATION)
    await jobs.deliver(runtime, confirmation.id)
    capped = await row(db, confirmation.id)
    assert (capped.status, capped.reason) == ("cancelled", Reason.DAILY_CAP)
    # And a code to a capped number is not sent either.
    again = await start(db, world.adult.id, ADULT_MOBILE, clock.advance(minutes=1))
    await jobs.deliver(runtime, again.notification_id)
    assert (await row(db, again.notification_id)).reason == Reason.DAILY_CAP
    assert len(sms.messages) == 1


async def test_a_code_goes_at_night_and_lapses_with_the_check(db, sms, clock):
    world = await world_with_phones(db)
    night = clock.now.replace(hour=22, minute=30)  # 23:30 in Oslo: outside sending hours
    check = await start(db, world.adult.id, NEW, night)
    runtime = make_runtime(db, sms, clock)
    clock.now = night
    assert await jobs.deliver(runtime, check.notification_id) == "accepted"
    late = await start(db, world.other_adult.id, NEW, night)
    clock.now = night + number_check.VALID_FOR + timedelta(seconds=1)
    await jobs.deliver(runtime, late.notification_id)
    assert (await row(db, late.notification_id)).reason == Reason.EXPIRED
    assert len(sms.messages) == 1


async def test_support_cannot_resend_a_code(db, sms, clock):
    world = await world_with_phones(db)
    check = await start(db, world.adult.id, NEW, clock.now)
    runtime = make_runtime(db, sms, clock)
    assert await jobs.deliver(runtime, check.notification_id) == "accepted"
    async with db.write() as session:  # as if its receipt said delivered
        await session.execute(update(Notification).where(
            Notification.id == check.notification_id).values(status="delivered"))
    with pytest.raises(ResendRefused, match="number_check"):
        await resend(db, check.notification_id, reason="lost", actor=STAFF,
                     now=clock.advance(minutes=1))
