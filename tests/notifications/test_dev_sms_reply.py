"""``/dev/sms`` replies to a message as its phone would: the form posts to
``/dev/sms/reply``, which posts the text to the real inbound webhook with the
parameters and signature Twilio would send; the job then answers it."""

from __future__ import annotations

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Route

from core.settings import Settings
from notifications import jobs
from notifications.dev_outbox import dev_sms, dev_sms_reply, outbox_page
from notifications.models import InboundSms
from notifications.webhooks import twilio_inbound
from tests.apps import client_for
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    PUBLIC_URL,
    Clock,
    MemorySms,
    RecordingQueue,
    book_adult,
    helsenorge_went,
    make_runtime,
    rows,
    world_with_phones,
)


def dev_app(db, **settings) -> Starlette:
    app = Starlette(routes=[
        Route("/dev/sms", dev_sms),
        Route("/dev/sms/reply", dev_sms_reply, methods=["POST"]),
        Route("/webhooks/twilio/inbound", twilio_inbound, methods=["POST"]),
    ])
    app.state.settings = Settings(public_url=PUBLIC_URL, **settings)
    app.state.db = db
    app.state.notification_queue = RecordingQueue()
    return app


async def test_a_reply_from_the_dev_page_goes_through_the_webhook_and_is_answered(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    await helsenorge_went(db, EARLY)
    sms = MemorySms()
    runtime = make_runtime(db, sms, Clock(EARLY))
    [confirmation] = await rows(db, appointment_id=booked.id, purpose="confirmation")
    await jobs.deliver(runtime, confirmation.id)
    page = await outbox_page(db)
    assert 'action="/dev/sms/reply"' in page and f'name="n" value="{confirmation.id}"' in page
    app = dev_app(db)  # no TWILIO_AUTH_TOKEN: the development key signs
    async with client_for(app, PUBLIC_URL) as client:
        response = await client.post("/dev/sms/reply",
                                     data={"n": str(confirmation.id), "body": "JA"})
    assert response.status_code == 303
    async with db.read() as session:
        [stored] = (await session.execute(select(InboundSms))).scalars().all()
    assert (stored.from_e164, stored.body) == (ADULT_MOBILE, "JA")
    assert app.state.notification_queue.replies == [stored.id]
    assert await jobs.handle_reply({"runtime": runtime}, stored.id) == "confirmed"
    [answer] = await rows(db, purpose="reply")
    await jobs.deliver(runtime, answer.id)
    page = await outbox_page(db)
    assert "Takk! Bekreftet" in page and 'data-outcome="confirmed"' in page


async def test_the_dev_reply_is_refused_outside_development_and_without_a_message(db):
    app = dev_app(db, env="production")
    async with client_for(app, PUBLIC_URL) as client:
        assert (await client.post("/dev/sms/reply", data={"n": "1", "body": "JA"})
                ).status_code == 404
    app = dev_app(db)
    async with client_for(app, PUBLIC_URL) as client:
        assert (await client.post("/dev/sms/reply", data={"n": "x"})).status_code == 400
        assert (await client.post("/dev/sms/reply", data={"n": "999", "body": "JA"})
                ).status_code == 303
    async with db.read() as session:
        assert (await session.execute(select(InboundSms))).scalars().all() == []


async def test_the_development_key_is_not_accepted_in_production(db):
    from notifications.webhooks import DEV_AUTH_TOKEN, inbound_auth_token

    assert inbound_auth_token(Settings()) == DEV_AUTH_TOKEN
    assert inbound_auth_token(Settings(twilio_auth_token="real")) == "real"
    assert inbound_auth_token(Settings(env="production", secret_key="x" * 40)) == ""


async def test_the_whole_app_serves_the_dev_reply(db):
    from tests.apps import SAME_ORIGIN, make_app

    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    await helsenorge_went(db, EARLY)
    runtime = make_runtime(db, MemorySms(), Clock(EARLY))
    [confirmation] = await rows(db, appointment_id=booked.id, purpose="confirmation")
    await jobs.deliver(runtime, confirmation.id)
    app = make_app(db)
    async with client_for(app, app.state.settings.public_url) as client:
        response = await client.post("/dev/sms/reply", headers=SAME_ORIGIN,
                                     data={"n": str(confirmation.id), "body": "Avbestill"})
    assert response.status_code == 303
    async with db.read() as session:
        [stored] = (await session.execute(select(InboundSms))).scalars().all()
    assert await jobs.handle_reply({"runtime": runtime}, stored.id) == "cancelled"
