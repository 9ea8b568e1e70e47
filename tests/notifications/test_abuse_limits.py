"""Texts to one number are capped per day (``SMS_PER_NUMBER_PER_DAY``), and a
burst of bookings and cancellations ends in one text about how things stand:
the caps show on ``/dev/sms`` and in the metrics."""

from __future__ import annotations

from datetime import timedelta

from booking import service
from booking.audit import Actor
from notifications import jobs, outbox
from notifications.dev_outbox import outbox_page
from notifications.metrics import render_metrics
from notifications.statuses import Purpose, Reason
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    book_adult,
    helsenorge_went,
    make_runtime,
    row,
    rows,
    world_with_phones,
)


async def test_texts_to_one_number_are_capped_per_day(db, sms, clock):
    world = await world_with_phones(db)
    runtime = make_runtime(db, sms, clock, daily_cap=2)
    me = Actor.patient(world.adult.id)
    first = (await book_adult(db, world, slot=0, now=clock.now)).appointment
    await helsenorge_went(db, clock.now)
    [confirmation] = await rows(db, appointment_id=first.id, purpose=Purpose.CONFIRMATION)
    assert await jobs.deliver(runtime, confirmation.id) == "accepted"
    await service.cancel(db, me, appointment_id=first.id, now=clock.advance(minutes=5))
    await helsenorge_went(db, clock.now)
    [cancellation] = await rows(db, appointment_id=first.id, purpose=Purpose.CANCELLATION)
    assert await jobs.deliver(runtime, cancellation.id) == "accepted"
    second = (await book_adult(db, world, slot=2, now=clock.advance(minutes=5))).appointment
    await helsenorge_went(db, clock.now)
    [third] = await rows(db, appointment_id=second.id, purpose=Purpose.CONFIRMATION)
    await jobs.deliver(runtime, third.id)
    assert sms.calls == 2 and {m.to_e164 for m in sms.messages} == {ADULT_MOBILE}
    capped = await row(db, third.id)
    assert (capped.status, capped.reason) == ("cancelled", Reason.DAILY_CAP)

    text = (await render_metrics(db, daily_cap=2)).decode()
    assert 'tanntid_sms_capped_total{channel="sms"}' in text
    assert 'tanntid_notifications_cancelled_by_reason{reason="daily_cap"} 1.0' in text
    assert "tanntid_sms_per_number_per_day 2.0" in text
    page = await outbox_page(db, daily_cap=2)
    assert "At most 2 text messages go to one number in 24 hours" in page
    assert "1 were not sent because of it" in page

    # A day later the number may be texted again.
    clock.advance(hours=24)
    await service.cancel(db, me, appointment_id=second.id, now=clock.now)
    await helsenorge_went(db, clock.now)
    later = (await book_adult(db, world, slot=4, now=clock.advance(minutes=5))).appointment
    await helsenorge_went(db, clock.now)
    [confirmation] = await rows(db, appointment_id=later.id, purpose=Purpose.CONFIRMATION)
    assert await jobs.deliver(runtime, confirmation.id) == "accepted"


async def test_a_burst_of_bookings_and_cancellations_is_one_text(db, sms, clock):
    world = await world_with_phones(db)
    runtime = make_runtime(db, sms, clock)
    me = Actor.patient(world.adult.id)
    first = (await book_adult(db, world, slot=0, now=clock.now)).appointment
    await helsenorge_went(db, clock.now)
    [confirmation] = await rows(db, appointment_id=first.id, purpose=Purpose.CONFIRMATION)
    assert await jobs.deliver(runtime, confirmation.id) == "accepted"
    await service.cancel(db, me, appointment_id=first.id, now=clock.advance(seconds=5))
    for slot in (1, 2, 3):
        booked = (await book_adult(db, world, slot=slot, now=clock.advance(seconds=5))
                  ).appointment
        await service.cancel(db, me, appointment_id=booked.id, now=clock.advance(seconds=5))
    await helsenorge_went(db, clock.now)

    waiting = [n for n in await rows(db) if n.status == "created"
               and n.purpose != Purpose.REMINDER]
    # Only the cancellation of the first, which was told, is left to go; it waits out
    # the burst. Each later booking's confirmation was superseded before it went.
    assert [(n.appointment_id, n.purpose, n.reason) for n in waiting] == [
        (first.id, Purpose.CANCELLATION, Reason.BURST)]
    assert waiting[0].send_after > clock.now
    later = [n for n in await rows(db) if n.appointment_id != first.id
             and n.purpose == Purpose.CONFIRMATION]
    assert {(n.status, n.reason) for n in later} == {("cancelled", Reason.SUPERSEDED)}
    clock.advance(seconds=outbox.BURST_WINDOW.total_seconds())
    for note in later + waiting:
        await jobs.deliver(runtime, note.id)
    assert sms.calls == 2  # "booked", then "cancelled": not eight texts
    assert (await row(db, waiting[0].id)).status == "sending"
    assert clock.now - EARLY < timedelta(minutes=5)
