"""The in-process runner: without Redis, the web process runs the same jobs,
driven by the outbox."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sqlalchemy import update

from core.settings import Settings
from notifications import outbox
from notifications.models import Notification, NotificationReceipt
from notifications.runner import InProcessRunner, notifications_in_web_process
from tests.notifications.helpers import (
    EARLY,
    PUBLIC_URL,
    Clock,
    MemorySms,
    book_adult,
    helsenorge_went,
    make_runtime,
    row,
    rows,
    world_with_phones,
)


async def test_a_booking_wakes_the_runner_and_is_delivered(db):
    world = await world_with_phones(db)
    sms = MemorySms()
    runner = InProcessRunner(make_runtime(db, sms, Clock(EARLY)), poll_interval=30)
    await runner.start()
    try:
        appointment = (await book_adult(db, world)).appointment
        async with asyncio.timeout(10):
            await sms.arrived.wait()
    finally:
        await runner.stop()
    assert outbox.set_dispatcher(None) is None  # the runner put the old one back
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    assert sms.delivered_to() == {confirmation.id: 1}
    assert (await row(db, confirmation.id)).status == "sending"


async def test_one_pass_delivers_what_is_due_and_applies_receipts(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    await helsenorge_went(db, EARLY)  # this test is about the SMS rows
    confirmation, three_days, _ = await rows(db, appointment_id=appointment.id)
    sms = MemorySms()
    clock = Clock(EARLY)
    runner = InProcessRunner(make_runtime(db, sms, clock))
    assert await runner.run_once() == 1
    assert await runner.run_once() == 0  # nothing new
    sent = await row(db, confirmation.id)
    async with db.write() as session:
        session.add(NotificationReceipt(provider="twilio", notification_id=confirmation.id,
                                        provider_ref=sent.provider_ref,
                                        provider_status="delivered", received_at=EARLY))
    await runner.run_once()
    assert (await row(db, confirmation.id)).status == "delivered"
    clock.now = three_days.send_after
    assert await runner.run_once() == 1
    assert sms.delivered_to() == {confirmation.id: 1, three_days.id: 1}


async def test_after_a_restart_the_runner_takes_what_was_queued_before(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    async with db.write() as session:  # queued by a process that then died
        await session.execute(update(Notification).where(Notification.id == confirmation.id)
                              .values(queued_at=EARLY))
    sms = MemorySms()
    runner = InProcessRunner(make_runtime(db, sms, Clock(EARLY)), poll_interval=30)
    await runner.start()
    try:
        async with asyncio.timeout(10):
            await sms.arrived.wait()
    finally:
        await runner.stop()
    assert sms.delivered_to() == {confirmation.id: 1}


async def test_a_failing_job_does_not_stop_the_runner(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    sms = MemorySms()
    sms.will("raise")
    runner = InProcessRunner(make_runtime(db, sms, Clock(EARLY)))
    await runner.run_once()
    assert (await row(db, confirmation.id)).in_doubt is True
    assert await runner.run_once() == 0


async def test_the_web_process_runs_notifications_without_redis(db):
    world = await world_with_phones(db)
    settings = Settings(redis_url=None, public_url=PUBLIC_URL, secret_key="k" * 40,
                        database_url="unused: the app's database is shared").notifications
    app = SimpleNamespace(state=SimpleNamespace(db=db))
    async with notifications_in_web_process(app, settings, clock=Clock(EARLY)):
        runner = app.state.notification_queue
        assert isinstance(runner, InProcessRunner)
        appointment = (await book_adult(db, world)).appointment
        confirmation = (await rows(db, appointment_id=appointment.id))[0]
        for _ in range(200):
            if (await row(db, confirmation.id)).status != "created":
                break
            await asyncio.sleep(0.02)
    after = await row(db, confirmation.id)
    # no Twilio settings: the local channel (the /dev/sms page) took it
    assert (after.status, after.provider_ref) == ("delivered", f"local-{confirmation.id}")
    assert outbox.set_dispatcher(None) is None
