"""Provider receipts and Twilio's webhooks: the final status is never
overwritten; duplicates and out-of-order receipts change nothing; a forged
callback is refused and changes nothing."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from core.settings import Settings
from notifications import jobs
from notifications.models import InboundSms, NotificationReceipt, SmsNumberBlock
from notifications.webhooks import keyword_of, twilio_inbound, twilio_status
from tests.apps import client_for
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    PUBLIC_URL,
    Clock,
    MemorySms,
    RecordingQueue,
    book_adult,
    make_runtime,
    row,
    rows,
    world_with_phones,
)

AUTH_TOKEN = "twilio-test-token"


async def sent_confirmation(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    sms = MemorySms()
    runtime = make_runtime(db, sms, Clock(EARLY))
    assert await jobs.deliver(runtime, confirmation.id) == "accepted"
    return runtime, await row(db, confirmation.id)


async def receive(db, notification_id, status, error_code=None, ref=None, provider="twilio"):
    async with db.write() as session:
        receipt = NotificationReceipt(provider=provider, notification_id=notification_id,
                                      provider_ref=ref, provider_status=status,
                                      error_code=error_code, received_at=EARLY)
        session.add(receipt)
        await session.flush()
        receipt_id = receipt.id
    return await jobs.apply_receipt(_ctx(db), receipt_id)


def _ctx(db):
    return {"runtime": make_runtime(db, MemorySms(), Clock(EARLY))}


async def test_receipts_in_order_end_delivered(db):
    _, note = await sent_confirmation(db)
    outcomes = [await receive(db, note.id, s, ref=note.provider_ref)
                for s in ("queued", "sent", "delivered")]
    assert outcomes == ["ignored", "applied", "applied"]  # queued = sending: no change
    assert (await row(db, note.id)).status == "delivered"


@pytest.mark.parametrize("order", [
    ("delivered", "sent", "sent", "delivered", "queued"),
    ("sent", "delivered", "delivered", "undelivered"),
    ("delivered", "failed"),
])
async def test_duplicates_and_late_receipts_never_overwrite_delivered(db, order):
    _, note = await sent_confirmation(db)
    for status in order:
        await receive(db, note.id, status, error_code=30003 if status == "undelivered" else None)
    after = await row(db, note.id)
    assert after.status == "delivered"
    async with db.read() as session:
        outcomes = list((await session.execute(
            select(NotificationReceipt.outcome).order_by(NotificationReceipt.id))).scalars())
    assert outcomes.count("applied") == (1 if order[0] == "delivered" else 2)


async def test_a_failure_is_final_too(db):
    _, note = await sent_confirmation(db)
    assert await receive(db, note.id, "undelivered", 30003) == "applied"
    assert await receive(db, note.id, "delivered") == "ignored"
    after = await row(db, note.id)
    assert (after.status, after.error_code, after.reason) == (
        "temporary-failure", 30003, "Handset unreachable (off or out of coverage)")


async def test_a_landline_marks_the_number(db):
    _, note = await sent_confirmation(db)
    assert await receive(db, note.id, "undelivered", 30006) == "applied"
    assert (await row(db, note.id)).status == "permanent-failure"
    async with db.read() as session:
        block = await session.get(SmsNumberBlock, ADULT_MOBILE)
    assert block is not None and block.reason == "permanent_failure"


async def test_a_receipt_may_overtake_our_own_record(db):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world)).appointment
    note = (await rows(db, appointment_id=appointment.id))[0]

    class CallbackFirst(MemorySms):
        async def send(self, **kw):
            result = await super().send(**kw)
            await receive(db, kw["notification_id"], "delivered", ref=result.provider_ref)
            return result

    runtime = make_runtime(db, CallbackFirst(), Clock(EARLY))
    assert await jobs.deliver(runtime, note.id) == "accepted"
    after = await row(db, note.id)
    assert (after.status, after.in_doubt, after.claim_token) == ("delivered", False, None)


async def test_a_receipt_for_nobody_is_kept_and_marked_unknown(db):
    await world_with_phones(db)
    assert await receive(db, 999_999, "delivered", ref="SMnobody") == "unknown"


async def test_a_status_we_do_not_know_changes_nothing(db):
    _, note = await sent_confirmation(db)
    assert await receive(db, note.id, "teleported") == "ignored"
    assert (await row(db, note.id)).status == "sending"


async def test_the_receipt_is_applied_once(db):
    _, note = await sent_confirmation(db)
    async with db.write() as session:
        receipt = NotificationReceipt(provider="twilio", notification_id=note.id,
                                      provider_status="delivered", received_at=EARLY)
        session.add(receipt)
    ctx = _ctx(db)
    assert await jobs.apply_receipt(ctx, receipt.id) == "applied"
    assert await jobs.apply_receipt(ctx, receipt.id) == "done"


# --- the webhooks ------------------------------------------------------------

def webhook_app(db) -> Starlette:
    app = Starlette(routes=[
        Route("/webhooks/twilio/status", twilio_status, methods=["POST"]),
        Route("/webhooks/twilio/inbound", twilio_inbound, methods=["POST"]),
    ])
    app.state.settings = Settings(public_url=PUBLIC_URL, twilio_auth_token=AUTH_TOKEN)
    app.state.db = db
    app.state.notification_queue = RecordingQueue()
    return app


def signed(path: str, params: dict[str, str], token: str = AUTH_TOKEN,
           base: str = PUBLIC_URL) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(base + path, params)}


async def post(app, path, params, headers):
    async with client_for(app, "http://internal:8000") as client:
        return await client.post(path, data=params, headers=headers)


async def receipt_count(db) -> int:
    async with db.read() as session:
        return int((await session.execute(
            select(func.count()).select_from(NotificationReceipt))).scalar_one())


async def test_a_signed_status_callback_is_recorded_and_queued(db):
    _, note = await sent_confirmation(db)
    app = webhook_app(db)
    path = f"/webhooks/twilio/status?{urlencode({'n': note.id})}"
    params = {"MessageSid": note.provider_ref, "MessageStatus": "delivered",
              "AccountSid": "AC1", "To": ADULT_MOBILE, "ApiVersion": "2010-04-01"}
    response = await post(app, path, params, signed(path, params))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response></Response>" in response.text
    async with db.read() as session:
        receipt = (await session.execute(select(NotificationReceipt))).scalar_one()
    assert (receipt.notification_id, receipt.provider_ref, receipt.provider_status,
            receipt.applied_at) == (note.id, note.provider_ref, "delivered", None)
    assert app.state.notification_queue.receipts == [receipt.id]
    assert await jobs.apply_receipt(_ctx(db), receipt.id) == "applied"
    assert (await row(db, note.id)).status == "delivered"


@pytest.mark.parametrize("headers", [
    {},  # unsigned
    {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},  # forged
    "wrong-token",
    "wrong-url",
])
async def test_a_forged_or_unsigned_callback_is_refused_and_changes_nothing(db, headers):
    _, note = await sent_confirmation(db)
    app = webhook_app(db)
    path = f"/webhooks/twilio/status?n={note.id}"
    params = {"MessageSid": note.provider_ref, "MessageStatus": "undelivered",
              "ErrorCode": "30006"}
    if headers == "wrong-token":
        headers = signed(path, params, token="someone-else")
    elif headers == "wrong-url":  # signed for the address the app sees, not the public one
        headers = signed(path, params, base="http://internal:8000")
    response = await post(app, path, params, headers)
    assert response.status_code == 403
    assert await receipt_count(db) == 0
    assert app.state.notification_queue.receipts == []
    assert (await row(db, note.id)).status == "sending"


async def test_a_tampered_parameter_is_refused(db):
    _, note = await sent_confirmation(db)
    app = webhook_app(db)
    path = f"/webhooks/twilio/status?n={note.id}"
    params = {"MessageSid": note.provider_ref, "MessageStatus": "delivered"}
    headers = signed(path, params)
    response = await post(app, path, {**params, "MessageStatus": "undelivered"}, headers)
    assert response.status_code == 403
    assert await receipt_count(db) == 0


async def test_a_callback_without_our_id_is_a_bad_request(db):
    app = webhook_app(db)
    path = "/webhooks/twilio/status"
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    response = await post(app, path, params, signed(path, params))
    assert response.status_code == 400
    assert await receipt_count(db) == 0


async def inbound(app, sid, body, sender=ADULT_MOBILE, **extra):
    path = "/webhooks/twilio/inbound"
    params = {"MessageSid": sid, "From": sender, "To": "+4759440000", "Body": body, **extra}
    return await post(app, path, params, signed(path, params))


async def test_stop_marks_the_number_and_start_lifts_it(db):
    app = webhook_app(db)
    response = await inbound(app, "SMin1", "Stopp")
    assert response.status_code == 200 and "<Response></Response>" in response.text
    async with db.read() as session:
        block = await session.get(SmsNumberBlock, ADULT_MOBILE)
    assert block is not None and block.reason == "opted_out"
    await inbound(app, "SMin1", "Stopp")  # Twilio retried: stored once
    await inbound(app, "SMin2", "START")
    async with db.read() as session:
        assert await session.get(SmsNumberBlock, ADULT_MOBILE) is None
        stored = list((await session.execute(
            select(InboundSms.provider_ref, InboundSms.keyword, InboundSms.from_e164)
            .order_by(InboundSms.id))).all())
    assert stored == [("SMin1", "STOP", ADULT_MOBILE), ("SMin2", "START", ADULT_MOBILE)]


@pytest.mark.parametrize("body", ["CANCEL", "Avbestill", "avbestill timen min"])
async def test_a_cancellation_reply_is_stored_but_never_an_opt_out(db, body):
    app = webhook_app(db)
    response = await inbound(app, "SMcancel", body)
    assert response.status_code == 200
    async with db.read() as session:
        assert await session.get(SmsNumberBlock, ADULT_MOBILE) is None
        stored = (await session.execute(select(InboundSms.keyword))).scalars().all()
    assert stored == [None]


async def test_twilios_own_opt_out_is_honoured(db):
    app = webhook_app(db)
    await inbound(app, "SMtw", "CANCEL", OptOutType="STOP")
    async with db.read() as session:
        block = await session.get(SmsNumberBlock, ADULT_MOBILE)
    assert block is not None and block.reason == "opted_out"


async def test_an_unsigned_inbound_message_is_refused(db):
    app = webhook_app(db)
    response = await post(app, "/webhooks/twilio/inbound",
                          {"MessageSid": "SMx", "From": ADULT_MOBILE, "Body": "STOP"}, {})
    assert response.status_code == 403
    async with db.read() as session:
        assert await session.get(SmsNumberBlock, ADULT_MOBILE) is None


@pytest.mark.parametrize(("body", "opt_out_type", "keyword"), [
    ("stop", None, "STOP"), (" Stopp. ", None, "STOP"), ("JA", None, "JA"),
    ("nei takk", None, "NEI"), ("Hei, kan jeg flytte timen?", None, None),
    ("Avslutt", "STOP", "STOP"), ("unstop", None, "START"),
    # A reply that looks like a cancellation is about the appointment, never
    # an opt-out (only STOP/STOPP, and Twilio's own OptOutType).
    ("CANCEL", None, None), ("cancel please", None, None), ("AVBESTILL", None, None),
    ("Avbestill timen", None, None), ("END", None, None), ("QUIT", None, None),
    ("UNSUBSCRIBE", None, None),
])
def test_keywords(body, opt_out_type, keyword):
    assert keyword_of(body, opt_out_type) == keyword
