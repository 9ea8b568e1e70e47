"""From booking to "delivered" through the real Twilio channel, the fake
Twilio on loopback and our own signed status webhook: each notification
reaches the provider exactly once, also when the provider fails calls."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import uvicorn
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.routing import Route

from booking import service
from booking.audit import Actor
from booking.models import County
from core.loopback import QuickStopServer, serving
from core.settings import Settings
from notifications.channels.twilio_sms import TwilioSmsChannel
from notifications.fakes.twilio import FakeTwilio
from notifications.models import NotificationReceipt
from notifications.runner import InProcessRunner
from notifications.webhooks import twilio_inbound, twilio_status
from tests.notifications.helpers import Clock, make_runtime, row, rows, world_with_phones

#: A weekday noon in the past: the fake stamps messages with the real time,
#: and reconciling looks for messages created after our attempt began.
PAST = datetime(2026, 1, 14, 11, 0, tzinfo=UTC)


@asynccontextmanager
async def webhook_server(db, auth_token: str) -> AsyncIterator[Starlette]:
    """Our webhooks on a loopback port, in this test's event loop (so they can
    use its database engine)."""
    app = Starlette(routes=[
        Route("/webhooks/twilio/status", twilio_status, methods=["POST"]),
        Route("/webhooks/twilio/inbound", twilio_inbound, methods=["POST"]),
    ])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app.state.settings = Settings(
        public_url=f"http://127.0.0.1:{sock.getsockname()[1]}", twilio_auth_token=auth_token)
    app.state.db = db
    server = QuickStopServer(uvicorn.Config(app, log_config=None, log_level="warning",
                                            access_log=False,
                                            lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "the webhook server did not start"
        yield app
    finally:
        server.should_exit = True
        await task
        sock.close()


async def book_both(db):
    world = await world_with_phones(db)
    async with db.write() as session:  # any hour may send in this county (the real clock)
        await session.execute(update(County).values(
            quiet_hours={"send_from": "00:00", "send_until": "23:59"}))
    staff = Actor.staff("s1", {world.clinic.id})
    ids = []
    for patient, slot in ((world.adult, 0), (world.other_adult, 1)):
        appointment = (await service.book(db, staff, patient_id=patient.id,
                                          slot_id=world.slots[slot].id,
                                          appointment_type_id=world.exam.id,
                                          now=PAST)).appointment
        ids.append((await rows(db, appointment_id=appointment.id))[0].id)
    return ids


@pytest.mark.parametrize("faults", [None, "fail", "fail_after_create", "callbacks"])
async def test_each_notification_is_delivered_exactly_once(db, faults):
    fake = FakeTwilio(seed=7)
    if faults == "fail":
        fake.fail(0.5, (500, 429, 503))
    elif faults == "fail_after_create":
        fake.fail(0.5, (500, 502), create_before_error=True)
    elif faults == "callbacks":
        fake.duplicate_callbacks = True
        fake.reorder_callbacks = True
    confirmations = await book_both(db)
    with serving(fake.app, name="fake-twilio") as twilio_url:
        async with webhook_server(db, fake.auth_token) as app:
            channel = TwilioSmsChannel(
                account_sid=fake.account_sid, auth_token=fake.auth_token,
                public_url=app.state.settings.public_url, from_number="+4759440000",
                api_url=twilio_url, timeout=5.0)
            clock = Clock(PAST)
            runner = InProcessRunner(make_runtime(db, channel, clock))
            app.state.notification_queue = runner
            try:
                for _ in range(40):
                    await runner.run_once()
                    await fake.settle()
                    await runner.run_once()  # apply the receipts
                    statuses = [(await row(db, nid)).status for nid in confirmations]
                    if statuses == ["delivered", "delivered"]:
                        break
                    clock.advance(minutes=5)  # past any retry or reconcile delay
            finally:
                await channel.aclose()
    assert statuses == ["delivered", "delivered"]
    assert fake.deliveries() == {nid: 1 for nid in confirmations}
    if faults in ("fail", "fail_after_create"):
        assert sum(fake.injected_errors.values()) > 0
    async with db.read() as session:
        outcomes = list((await session.execute(
            select(NotificationReceipt.outcome))).scalars())
    assert outcomes.count("applied") >= 2 and None not in outcomes
    assert all(callback.answer == 200 for callback in fake.callbacks)
