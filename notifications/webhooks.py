"""Twilio's webhooks: thin (verify, record, answer; the work is done in a job).

* ``POST /webhooks/twilio/status?n=<notification id>``: a status callback.
  ``X-Twilio-Signature`` is checked against the *public* URL Twilio called
  (``PUBLIC_URL`` + path + query; behind a TLS-terminating proxy the app's
  own view of the URL differs). Forged or unsigned: 403 and nothing changes.
  The receipt is stored as it came and applied by the ``apply_receipt`` job,
  whose status guard ignores duplicates and out-of-order receipts.
* ``POST /webhooks/twilio/inbound``: a text message to our number. Stored
  once per ``MessageSid`` (a retried webhook is stored once and queued
  once); STOP or STOPP (or Twilio's own ``OptOutType=STOP``) marks the
  number opted out at once, START lifts that. Nothing else is an opt-out:
  "CANCEL" or "AVBESTILL" is about an appointment. The ``handle_reply``
  job (``notifications.reply_actions``) then understands the text, acts on
  it as the person who owns the number, and answers through the outbox;
  the job carries the stored row's id only.

Both answer 200 quickly with an empty TwiML response once stored: Twilio
retries otherwise. Phone numbers and bodies are never logged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from core.db import utcnow
from core.settings import Settings
from notifications.channels.twilio_sms import (
    InvalidCallback,
    parse_status_callback,
    verify_twilio_signature,
)
from notifications.models import InboundSms, NotificationReceipt
from notifications.recipients import block_number, normalise_mobile, unblock_number
from notifications.statuses import BlockReason

log = structlog.get_logger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
#: The words we take as an opt-out ourselves: STOP and the Norwegian STOPP.
#: Not Twilio's other defaults (CANCEL, END, QUIT, ...) nor AVBESTILL: a
#: patient who texts "CANCEL" means the appointment, and must not silently
#: lose every reminder while it stays booked. Where Twilio's own opt-out
#: handling has blocked a number it says so (``OptOutType``), and that is
#: honoured (Twilio will refuse to send to it anyway).
STOP_WORDS = frozenset({"STOP", "STOPP"})
START_WORDS = frozenset({"START", "UNSTOP"})
REPLY_WORDS = frozenset({"JA", "NEI"})
_NUDGE_TIMEOUT = 1.0
INBOUND_PATH = "/webhooks/twilio/inbound"
#: The key webhooks are checked with in development when no
#: ``TWILIO_AUTH_TOKEN`` is set (the ``/dev/sms`` page signs its replies
#: with it); never outside development.
DEV_AUTH_TOKEN = "tanntid-dev-twilio-token"  # noqa: S105 (development only)


def inbound_auth_token(settings: Settings) -> str:
    """``TWILIO_AUTH_TOKEN``; in development without one, :data:`DEV_AUTH_TOKEN`."""
    if settings.twilio_auth_token:
        return settings.twilio_auth_token
    return DEV_AUTH_TOKEN if settings.dev_tools and not settings.is_production else ""


def public_url_of(request: Request) -> str:
    """The URL as Twilio called it: ``PUBLIC_URL`` + path + query."""
    settings: Settings = request.app.state.settings
    base = settings.public_url.rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


async def _verified_form(request: Request) -> FormData | None:
    form = await request.form()
    settings: Settings = request.app.state.settings
    token = inbound_auth_token(settings)
    params = {key: value for key, value in form.multi_items()}
    ok = verify_twilio_signature(
        token, public_url_of(request), params, request.headers.get("X-Twilio-Signature"),
        signature_settings=request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    if not ok:
        log.warning("twilio_webhook_refused", path=request.url.path)
        return None
    return form


def _forbidden() -> Response:
    return PlainTextResponse("Forbidden", status_code=403)


def _twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


async def _nudge(request: Request, receipt_id: int) -> None:
    """Tell the job queue now (the cron finds it anyway if this fails)."""
    queue: Any = getattr(request.app.state, "notification_queue", None)
    if queue is None:
        return
    try:
        await asyncio.wait_for(queue.enqueue_receipts([receipt_id]), _NUDGE_TIMEOUT)
    except Exception as exc:
        log.warning("receipt_nudge_failed", receipt_id=receipt_id, error=type(exc).__name__)


async def _nudge_reply(request: Request, inbound_id: int) -> None:
    """Queue the reply's job now (``enqueue_due`` finds it anyway if this fails)."""
    queue: Any = getattr(request.app.state, "notification_queue", None)
    if queue is None or not hasattr(queue, "enqueue_replies"):
        return
    try:
        await asyncio.wait_for(queue.enqueue_replies([inbound_id]), _NUDGE_TIMEOUT)
    except Exception as exc:
        log.warning("reply_nudge_failed", inbound_id=inbound_id, error=type(exc).__name__)


async def twilio_status(request: Request) -> Response:
    form = await _verified_form(request)
    if form is None:
        return _forbidden()
    try:
        notification_id, receipt = parse_status_callback(form, request.url.query)
    except InvalidCallback as exc:
        log.warning("twilio_status_invalid", reason=str(exc))
        return PlainTextResponse("Bad Request", status_code=400)
    async with request.app.state.db.write() as session:
        row = NotificationReceipt(
            provider="twilio", notification_id=notification_id,
            provider_ref=receipt.provider_ref[:64], provider_status=receipt.twilio_status[:32],
            error_code=receipt.error_code, received_at=utcnow())
        session.add(row)
        await session.flush()
        receipt_id = row.id
    log.info("twilio_status_received", notification_id=notification_id, receipt_id=receipt_id,
             provider_status=receipt.twilio_status, error_code=receipt.error_code)
    await _nudge(request, receipt_id)
    return _twiml()


def keyword_of(body: str, opt_out_type: str | None = None) -> str | None:
    """STOP, START, JA or NEI, from Twilio's ``OptOutType`` or the first word."""
    if opt_out_type:
        kind = opt_out_type.strip().upper()
        if kind in ("STOP", "START"):
            return kind
    words = body.strip().upper().split()
    first = words[0].strip(".!,") if words else ""
    if first in STOP_WORDS:
        return "STOP"
    if first in START_WORDS:
        return "START"
    if first in REPLY_WORDS:
        return first
    return None


async def twilio_inbound(request: Request) -> Response:
    form = await _verified_form(request)
    if form is None:
        return _forbidden()
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    if not sid:
        return PlainTextResponse("Bad Request", status_code=400)
    body = str(form.get("Body") or "")
    sender = normalise_mobile(str(form.get("From") or "")) or str(form.get("From") or "")[:20]
    keyword = keyword_of(body, str(form.get("OptOutType") or "") or None)
    now = utcnow()
    try:
        async with request.app.state.db.write() as session:
            seen = (await session.execute(
                select(InboundSms.id).where(InboundSms.provider_ref == sid[:64])
            )).scalar_one_or_none()
            if seen is not None:
                return _twiml()  # Twilio retried: stored (and queued) already
            row = InboundSms(provider_ref=sid[:64], from_e164=sender or None,
                             to_number=str(form.get("To") or "")[:20] or None, body=body,
                             keyword=keyword, received_at=now)
            session.add(row)
            if sender and keyword == "STOP":
                await block_number(session, sender, BlockReason.OPTED_OUT, now)
            elif sender and keyword == "START":
                await unblock_number(session, sender, BlockReason.OPTED_OUT)
            await session.flush()
            inbound_id = row.id
    except IntegrityError:
        return _twiml()  # the same message stored by a concurrent retry
    log.info("twilio_inbound_received", keyword=keyword, inbound_id=inbound_id)
    await _nudge_reply(request, inbound_id)
    return _twiml()
