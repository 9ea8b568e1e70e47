"""Development only: the local SMS channel and the ``/dev/sms`` page.

Without Twilio settings (the embedded default), :class:`LocalSmsChannel`
takes every message and reports it delivered; nothing leaves the machine.
``/dev/sms`` shows every SMS as a phone would, newest first, grouped by
number, with its delivery status, whichever channel sent it; and, below,
the messages that never got a number or words (no mobile, reserved in KRR,
a stale number, a blocked one) with the reason; and, at the top, the
messages still waiting, with when they will go and why (the sending hours,
a reminder's time, a busy provider); and the reminders that went to
Helsenorge instead of a text (the patients who chose that,
``notifications.helsenorge_first``). Reasons are in the words support sees
(:mod:`notifications.reason_text`). The page is
mounted only when ``settings.dev_tools`` (never in production) and answers
404 there anyway.

Each message has a form to reply as the phone would (``POST
/dev/sms/reply``): the reply is posted to ``/webhooks/twilio/inbound``
through the whole application, with the parameters and the
``X-Twilio-Signature`` Twilio would send, so it is stored, understood and
answered exactly as a real one. The texts each phone sent are shown in its
thread with what became of them. Without ``TWILIO_AUTH_TOKEN`` the webhook
checks signatures with :data:`notifications.webhooks.DEV_AUTH_TOKEN`
(development only).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import jinja2
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from twilio.request_validator import RequestValidator

from core.db import Database, utcnow
from core.settings import Settings
from notifications.channels.base import SendOutcome, SmsResult
from notifications.models import InboundSms, Notification, NumberCheck
from notifications.number_check import check_key, code_for
from notifications.reason_text import DUE_NOW, SCHEDULED, explain, reason_text, words
from notifications.schedule import OSLO
from notifications.segments import count_segments
from notifications.statuses import (
    FAILED,
    Channel,
    NotificationStatus,
    Purpose,
    Reason,
    describe,
)
from notifications.templates import link_key
from notifications.webhooks import INBOUND_PATH, inbound_auth_token

TEMPLATES = Path(__file__).parent / "templates_html"
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                          autoescape=jinja2.select_autoescape(["html"]),
                          undefined=jinja2.StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True)
PAGE_SIZE = 200


class LocalSmsChannel:
    """An :class:`~notifications.channels.base.SmsChannel` that delivers to
    the ``/dev/sms`` page only."""

    def __init__(self) -> None:
        self.sent: set[int] = set()

    async def send(self, *, notification_id: int, to_e164: str, body: str,
                   validity_seconds: int) -> SmsResult:
        self.sent.add(notification_id)
        return SmsResult(SendOutcome.ACCEPTED, provider_ref=f"local-{notification_id}",
                         status="delivered")

    async def lookup(self, *, notification_id: int, provider_ref: str | None,
                     to_e164: str | None = None, body: str | None = None,
                     sent_after: datetime | None = None) -> SmsResult | None:
        if notification_id not in self.sent:
            return None
        return SmsResult(SendOutcome.ACCEPTED, provider_ref=f"local-{notification_id}",
                         status="delivered")


def _color(status: str) -> str:
    if status == NotificationStatus.DELIVERED:
        return "success"
    if status in FAILED:
        return "danger"
    if status == NotificationStatus.CANCELLED:
        return "neutral"
    return "info"


#: The page is for developers and support, in English.
LANGUAGE = "en"


def _oslo(moment: datetime) -> str:
    return moment.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


def why_waiting(row: Notification, now: datetime) -> str:
    """Why a waiting message has not gone yet, in plain words."""
    if row.reason:
        return reason_text(row.reason, LANGUAGE) or row.reason
    if row.send_after > row.due_at:  # the outbox moved it to the next sending hours
        return reason_text(Reason.QUIET_HOURS, LANGUAGE) or ""
    return words(SCHEDULED if row.send_after > now else DUE_NOW, LANGUAGE)


async def outbox_page(db: Database, *, limit: int = PAGE_SIZE, daily_cap: int = 10,
                      now: datetime | None = None, code_key: bytes | None = None) -> str:
    """The page. With ``code_key`` (``number_check.check_key``), a number
    check's text shows its code as the phone got it (the outbox keeps it masked)."""
    now = now or utcnow()
    async with db.read() as session:
        cancelled: dict[str | None, int] = {
            reason: int(count) for reason, count in (await session.execute(
                select(Notification.reason, func.count())
                .where(Notification.channel == Channel.SMS,
                       Notification.status == NotificationStatus.CANCELLED,
                       Notification.reason.in_([Reason.DAILY_CAP, Reason.SUPERSEDED]))
                .group_by(Notification.reason))).all()}
        rows = list((await session.execute(
            select(Notification).where(Notification.channel == Channel.SMS,
                                       Notification.body.is_not(None))
            .order_by(Notification.id.desc()).limit(limit))).scalars())
        codes = await _codes(session, rows, code_key)
        replies = await _replies(session, [row.to_e164 for row in rows if row.to_e164])
    phones: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
    for row in rows:
        assert row.body is not None
        body = masked_body_with(row.body, codes.get(row.id))
        segments = count_segments(body)
        phones.setdefault(row.to_e164 or "(number removed)", []).append({
            "id": row.id, "body": body, "status": row.status,
            "status_text": describe(row.status, LANGUAGE), "reason": row.reason,
            "explained": explain(row.status, row.reason, LANGUAGE),
            "purpose": row.purpose, "language": row.language, "color": _color(row.status),
            "when": (row.handed_over_at or row.attempted_at or row.created_at)
            .astimezone(OSLO).strftime("%Y-%m-%d %H:%M"),
            "segments": f"{segments.segments} × {segments.encoding}",
            "can_reply": row.to_e164 is not None,
        })
    async with db.read() as session:
        unsent = list((await session.execute(
            select(Notification).where(Notification.channel == Channel.SMS,
                                       Notification.body.is_(None),
                                       Notification.purged_at.is_(None),
                                       Notification.status != NotificationStatus.CREATED)
            .order_by(Notification.id.desc()).limit(limit))).scalars())
        waiting = list((await session.execute(
            select(Notification).where(Notification.channel == Channel.SMS,
                                       Notification.status == NotificationStatus.CREATED)
            .order_by(Notification.send_after, Notification.id).limit(limit))).scalars())
        helsenorge = list((await session.execute(
            select(Notification).where(Notification.channel == Channel.HELSENORGE,
                                       Notification.purpose == Purpose.REMINDER)
            .order_by(Notification.id.desc()).limit(limit))).scalars())
    return _env.get_template("dev_sms.html").render(
        helsenorge_reminders=[
            {"id": row.id, "appointment": row.appointment_id, "recipient": row.recipient_id,
             "status": row.status, "color": _color(row.status),
             "explained": ("Accepted by Helsenorge: it reminds the patient"
                           if row.status == NotificationStatus.DELIVERED
                           else why_waiting(row, now) if row.status == NotificationStatus.CREATED
                           else explain(row.status, row.reason, LANGUAGE)),
             "when": _oslo(row.status_at)} for row in helsenorge],
        daily_cap=daily_cap, capped=cancelled.get(Reason.DAILY_CAP, 0),
        superseded=cancelled.get(Reason.SUPERSEDED, 0),
        waiting=[{"id": row.id, "purpose": row.purpose, "recipient": row.recipient_id,
                  "reason": row.reason or "", "goes_at": _oslo(max(row.send_after, now)),
                  "why": why_waiting(row, now)} for row in waiting],
        phones=[{"number": number, "messages": messages, "replies": replies.get(number, [])}
                for number, messages in phones.items()],
        unsent=[{"id": row.id, "purpose": row.purpose, "status": row.status,
                 "status_text": describe(row.status, LANGUAGE), "reason": row.reason,
                 "explained": explain(row.status, row.reason, LANGUAGE),
                 "recipient": row.recipient_id, "color": _color(row.status),
                 "when": row.status_at.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")}
                for row in unsent])


async def _codes(session: AsyncSession, rows: list[Notification], key: bytes | None
                 ) -> dict[int, str]:
    ids = [row.id for row in rows if row.purpose == Purpose.NUMBER_CHECK]
    if key is None or not ids:
        return {}
    found = await session.execute(select(NumberCheck.notification_id, NumberCheck.nonce)
                                  .where(NumberCheck.notification_id.in_(ids)))
    return {nid: code_for(key, nonce) for nid, nonce in found.all() if nid is not None}


async def _replies(session: AsyncSession, numbers: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The texts each of ``numbers`` sent us, newest first, with what became of them."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not numbers:
        return found
    rows = (await session.execute(
        select(InboundSms).where(InboundSms.from_e164.in_(sorted(set(numbers))))
        .order_by(InboundSms.id.desc()).limit(PAGE_SIZE))).scalars()
    for row in rows:
        assert row.from_e164 is not None
        found.setdefault(row.from_e164, []).append({
            "id": row.id, "body": row.body or "", "intent": row.intent or "",
            "outcome": row.outcome or "waiting", "answer": row.answer_id,
            "when": _oslo(row.received_at)})
    return found


def masked_body_with(body: str, code: str | None) -> str:
    """``body`` with its masked code put back (when known)."""
    return body if code is None else body.replace("\u2022" * len(code), code)


async def dev_sms(request: Request) -> Response:
    """``GET /dev/sms`` (development only)."""
    settings: Settings = request.app.state.settings
    if not settings.dev_tools:
        return Response("Not Found", status_code=404)
    return HTMLResponse(await outbox_page(
        request.app.state.db, daily_cap=settings.sms_per_number_per_day,
        code_key=check_key(link_key(settings.secret_key))))


#: The number Twilio reports as ``To`` for a reply made on this page when
#: ``TWILIO_FROM`` is not set.
DEV_OUR_NUMBER = "+4759440000"


async def dev_sms_reply(request: Request) -> Response:
    """``POST /dev/sms/reply`` (development only): reply to message ``n`` as
    its phone would, through the real inbound webhook, signed as Twilio signs."""
    settings: Settings = request.app.state.settings
    if not settings.dev_tools:
        return Response("Not Found", status_code=404)
    form = await request.form()
    body = str(form.get("body") or "").strip()[:480]
    try:
        notification_id = int(str(form.get("n") or ""))
    except ValueError:
        return Response("Which message? (n)", status_code=400)
    async with request.app.state.db.read() as session:
        row = await session.get(Notification, notification_id)
    if row is None or row.to_e164 is None or not body:
        return RedirectResponse("/dev/sms", status_code=303)
    params = {"MessageSid": f"SMdev{secrets.token_hex(14)}", "AccountSid": "ACdev",
              "From": row.to_e164, "To": settings.twilio_from or DEV_OUR_NUMBER,
              "Body": body, "NumMedia": "0", "ApiVersion": "2010-04-01"}
    url = settings.public_url.rstrip("/") + INBOUND_PATH
    signature = RequestValidator(inbound_auth_token(settings)).compute_signature(url, params)
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
        answer = await client.post(INBOUND_PATH, data=params,
                                   headers={"X-Twilio-Signature": signature})
    if answer.status_code != 200:
        return Response(f"The webhook answered {answer.status_code}", status_code=502)
    return RedirectResponse(f"/dev/sms#sms-{notification_id}", status_code=303)
