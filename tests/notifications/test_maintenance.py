"""The periodic jobs: queue what is due, sweep what got stuck, time out what
never got an answer, and forget bodies and numbers after the retention period."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from booking import audit
from notifications import jobs, sweeps
from notifications.models import InboundSms, Notification, NotificationReceipt
from notifications.statuses import Reason
from tests.notifications.helpers import (
    EARLY,
    Clock,
    MemorySms,
    book_adult,
    helsenorge_went,
    make_runtime,
    row,
    rows,
    world_with_phones,
)


async def setup(db, **config):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    await helsenorge_went(db, EARLY)  # these tests are about the SMS rows
    notes = await rows(db, appointment_id=appointment.id)
    clock = Clock(EARLY)
    sms = MemorySms()
    runtime = make_runtime(db, sms, clock, **config)
    return runtime, clock, sms, notes


async def test_enqueue_due_queues_each_due_row_once(db):
    runtime, clock, _, notes = await setup(db)
    ctx = {"runtime": runtime}
    assert await sweeps.enqueue_due(ctx) == 1
    assert await sweeps.enqueue_due(ctx) == 0  # queued since it became due
    assert runtime.queue.deliveries == [(notes[0].id, 0)]
    clock.now = notes[1].send_after
    assert await sweeps.enqueue_due(ctx) == 1
    assert runtime.queue.deliveries[-1] == (notes[1].id, 0)


async def test_a_retried_row_is_queued_again_under_a_new_job_id(db):
    runtime, clock, sms, notes = await setup(db)
    ctx = {"runtime": runtime}
    await sweeps.enqueue_due(ctx)
    sms.will("retry")
    await jobs.deliver(runtime, notes[0].id)
    assert await sweeps.enqueue_due(ctx) == 0  # not before its new time
    clock.advance(seconds=30)
    assert await sweeps.enqueue_due(ctx) == 1
    assert runtime.queue.deliveries == [(notes[0].id, 0), (notes[0].id, 1)]


async def test_enqueue_due_also_queues_unapplied_receipts(db):
    runtime, _, _, notes = await setup(db)
    async with db.write() as session:
        session.add(NotificationReceipt(provider="twilio", notification_id=notes[0].id,
                                        provider_status="sent", received_at=EARLY))
    await sweeps.enqueue_due({"runtime": runtime})
    assert len(runtime.queue.receipts) == 1


async def test_the_sweeper_requeues_rows_stuck_in_created(db):
    runtime, clock, _, notes = await setup(db)
    ctx = {"runtime": runtime}
    await sweeps.enqueue_due(ctx)  # ... and the Redis message is lost
    clock.advance(minutes=9)
    assert await sweeps.sweep_stuck_created(ctx) == 0
    clock.advance(minutes=1)
    assert await sweeps.sweep_stuck_created(ctx) == 1
    assert runtime.queue.deliveries == [(notes[0].id, 0), (notes[0].id, 0)]
    assert await sweeps.sweep_stuck_created(ctx) == 0  # queued again just now
    assert await jobs.deliver(runtime, notes[0].id) == "accepted"
    clock.advance(minutes=30)
    assert await sweeps.sweep_stuck_created(ctx) == 0


async def test_no_answer_for_72_hours_is_a_temporary_failure(db):
    runtime, clock, _, notes = await setup(db)
    ctx = {"runtime": runtime}
    await jobs.deliver(runtime, notes[0].id)
    clock.advance(hours=71, minutes=59)
    assert await sweeps.timeout_in_flight(ctx) == 0
    clock.advance(minutes=1)
    assert await sweeps.timeout_in_flight(ctx) == 1
    after = await row(db, notes[0].id)
    assert (after.status, after.reason) == ("temporary-failure", Reason.TIMEOUT)


async def test_never_handed_over_in_72_hours_is_a_technical_failure(db):
    runtime, clock, _, notes = await setup(db)
    async with db.write() as session:  # keep it from expiring first
        await session.execute(update(Notification).where(Notification.id == notes[0].id)
                              .values(expires_at=EARLY + timedelta(days=30)))
    clock.advance(hours=72)
    assert await sweeps.timeout_in_flight({"runtime": runtime}) == 1
    after = await row(db, notes[0].id)
    assert (after.status, after.reason) == ("technical-failure", Reason.TIMEOUT)
    # the reminders were not due that long ago
    assert [(await row(db, n.id)).status for n in notes[1:]] == ["created", "created"]


async def test_retention_removes_bodies_and_numbers_and_keeps_counts(db):
    runtime, clock, _, notes = await setup(db, retention=timedelta(days=7))
    ctx = {"runtime": runtime}
    await jobs.deliver(runtime, notes[0].id)
    async with db.write() as session:
        session.add(InboundSms(provider_ref="SMin", from_e164="+4791234567", body="STOP",
                               keyword="STOP", received_at=EARLY))
        await session.execute(update(Notification).where(Notification.id == notes[0].id)
                              .values(status="delivered", status_at=EARLY))
    clock.advance(days=6)
    assert await sweeps.purge_after_retention(ctx) == 0
    clock.advance(days=1)
    assert await sweeps.purge_after_retention(ctx) == 3  # and the Helsenorge row
    purged = await row(db, notes[0].id)
    assert (purged.body, purged.to_e164, purged.purged_at, purged.status, purged.purpose) == (
        None, None, clock.now, "delivered", "confirmation")
    async with db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Notification))
                ).scalar_one() == 4  # three SMS rows and the Helsenorge row
        inbound = (await session.execute(select(InboundSms))).scalar_one()
    assert (inbound.body, inbound.from_e164, inbound.keyword) == (None, None, "STOP")
    # waiting rows are never purged
    assert (await row(db, notes[1].id)).purged_at is None
    assert await sweeps.purge_after_retention(ctx) == 0


async def test_the_seal_job_seals_the_audit_chains_that_grew(db):
    runtime, _, _, _ = await setup(db)
    ctx = {"runtime": runtime}
    assert await sweeps.seal_audit(ctx) >= 1  # the booking's patient's chain, at least
    assert await sweeps.seal_audit(ctx) == 0  # nothing new since
    async with db.read() as session:
        report = await audit.verify(session)
    assert report.intact and report.seals == 1
