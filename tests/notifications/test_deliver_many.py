"""Delivering a wave of notifications in one job (``jobs.deliver_many``): the
same guards as one at a time, each row handed over at most once."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from booking import service
from booking.audit import Actor
from booking.models import Appointment
from notifications import jobs
from notifications.models import SmsNumberBlock
from notifications.segments import count_segments
from notifications.statuses import Reason
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    OTHER_MOBILE,
    book_adult,
    make_runtime,
    row,
    rows,
    world_with_phones,
)


async def two_bookings(db):
    """The adult's and the other adult's bookings: their SMS rows, in order."""
    world = await world_with_phones(db)
    first = (await book_adult(db, world)).appointment
    second = (await service.book(db, Actor.patient(world.other_adult.id),
                                 patient_id=world.other_adult.id, slot_id=world.slots[1].id,
                                 appointment_type_id=world.exam.id, now=EARLY)).appointment
    return world, first, second, [await rows(db, appointment_id=a.id, channel="sms")
                                  for a in (first, second)]


async def test_a_batch_hands_each_due_row_over_once(db, sms, clock):
    _, _, _, (first, second) = await two_bookings(db)
    runtime = make_runtime(db, sms, clock)
    confirmations = [first[0].id, second[0].id]
    assert await jobs.deliver_many(runtime, confirmations) == {"accepted": 2}
    assert sms.delivered_to() == {first[0].id: 1, second[0].id: 1}
    assert {m.to_e164 for m in sms.messages} == {ADULT_MOBILE, OTHER_MOBILE}
    for notification_id in confirmations:
        after = await row(db, notification_id)
        assert (after.status, after.attempts, after.in_doubt) == ("sending", 1, False)
        assert after.claim_token is None and after.provider_ref is not None
        assert after.body == next(m.body for m in sms.messages
                                  if m.notification_id == notification_id)
        assert after.segments == count_segments(after.body).segments
    assert await jobs.deliver_many(runtime, confirmations) == {"not_waiting": 2}
    assert sms.calls == 2


async def test_concurrent_batches_and_single_jobs_send_each_once(db, sms, clock):
    _, _, _, (first, second) = await two_bookings(db)
    runtime = make_runtime(db, sms, clock)
    ids = [first[0].id, second[0].id]
    await asyncio.gather(*(jobs.deliver_many(runtime, ids) for _ in range(4)),
                         jobs.deliver(runtime, ids[0]), jobs.deliver(runtime, ids[1]))
    assert sms.delivered_to() == {ids[0]: 1, ids[1]: 1}


async def test_a_batch_leaves_alone_what_must_not_go(db, sms, clock):
    _, first_appointment, _, (first, second) = await two_bookings(db)
    async with db.write() as session:
        session.add(SmsNumberBlock(e164=OTHER_MOBILE, reason="opted_out", since=EARLY))
        # A change the outbox did not see: the first booking's rows are about
        # an appointment that is no longer as they knew it.
        await session.execute(update(Appointment).where(Appointment.id == first_appointment.id)
                              .values(version=Appointment.version + 1))
    runtime = make_runtime(db, sms, clock)
    reminder_not_due = second[1].id
    outcomes = await jobs.deliver_many(
        runtime, [first[0].id, second[0].id, reminder_not_due, 987654321])
    assert outcomes == {"cancelled": 2, "not_due": 1, "missing": 1}
    assert sms.calls == 0
    assert (await row(db, first[0].id)).reason == Reason.SUPERSEDED
    assert (await row(db, second[0].id)).reason == Reason.OPTED_OUT
    assert (await row(db, reminder_not_due)).status == "created"


async def test_each_row_of_a_batch_keeps_its_own_outcome(db, sms, clock):
    _, _, _, (first, second) = await two_bookings(db)
    runtime = make_runtime(db, sms, clock)
    # One hand-over is throttled, the other in doubt. The batch hands them over
    # side by side, so which row reaches the provider first is not fixed: the
    # one in doubt is the one the provider took.
    sms.will("retry", "lost")
    outcomes = await jobs.deliver_many(runtime, [first[0].id, second[0].id])
    assert outcomes == {"retry": 1, "in_doubt": 1}
    [taken] = sms.messages
    assert taken.notification_id in {first[0].id, second[0].id}
    throttled_id = second[0].id if taken.notification_id == first[0].id else first[0].id
    throttled, doubtful = await row(db, throttled_id), await row(db, taken.notification_id)
    assert (throttled.status, throttled.reason, throttled.in_doubt) == (
        "created", Reason.PROVIDER_BUSY, False)
    assert (doubtful.status, doubtful.reason, doubtful.in_doubt) == (
        "created", Reason.IN_DOUBT, True)
    # Later: the throttled one is sent, the one in doubt is found at the
    # provider (reconciled through the one-at-a-time path), never sent again.
    clock.advance(minutes=5)
    assert await jobs.deliver_many(runtime, [first[0].id, second[0].id]) == {
        "accepted": 1, "reconciled": 1}
    assert sms.delivered_to() == {first[0].id: 1, second[0].id: 1}
    assert sms.lookups == 1


async def test_a_number_blocked_by_a_failure_in_the_batch_is_marked(db, sms, clock):
    _, _, _, (first, _) = await two_bookings(db)
    runtime = make_runtime(db, sms, clock)
    sms.will("fail")
    assert await jobs.deliver_many(runtime, [first[0].id]) == {"failed": 1}
    async with db.read() as session:
        assert await session.get(SmsNumberBlock, ADULT_MOBILE) is not None
