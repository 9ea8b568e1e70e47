"""Delivering refill: the job that moves freed time on, its messages, and
accepting an offer by SMS code.

:func:`run` (a cron job every few seconds, and a pass of the in-process
runner) calls :func:`booking.refill.tick`'s parts each in a transaction of
their own: start rounds for newly freed slots, then move each due round on
(:func:`booking.refill.advance`) and write, in the same transaction, one
``refill_offer`` outbox row per offer and recipient (the patient, or the
guardians the representation rules name today: ``recipients.recipients_for``).
Offers are made only inside the county's sending hours
(``schedule.SendingWindow``); a round freed at night waits for the window to
open. Then every offer closed as *taken* gets a polite ``refill_taken``
notice (once: ``told_at``), within sending hours; an offer whose text had
not gone yet is simply not sent.

The outbox row's ``offset_minutes`` carries the offer's id, so the one row
per (appointment, purpose, version, offset, channel, recipient) constraint
makes every message go once, however often the job runs.

:func:`accept_by_code` is what an SMS reply "JA 4821" comes to: the number it
came from and the code pick the offer (the code is only good with the number
the offer went to); the person who owns that number acts, a guardian only if
the representation rules allow it on the day of the reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking import refill
from booking.audit import Actor
from booking.link_access import may_follow
from booking.models import Appointment, Clinic, County, Patient
from booking.reasons import Reason as BookingReason
from booking.refill_models import RefillOffer
from booking.relations import LocalRelations, RelationsSource
from booking.rules import local_date
from booking.service import BookingRefused
from booking.statuses import OfferStatus
from booking.waitlist import end_stale
from core.db import Database
from notifications.models import Notification, NotificationEvent
from notifications.outbox import dispatch_after_commit
from notifications.recipients import Role, recipients_for
from notifications.runtime import Runtime, runtime_of
from notifications.schedule import SendingWindow, notice_timing
from notifications.statuses import Channel, NotificationStatus, Purpose, Reason

log = structlog.get_logger(__name__)
S = NotificationStatus
_DIGITS = re.compile(r"\d{4}")


async def run(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """One pass: new rounds, due rounds moved on, taken notices. Returns counts."""
    now = now or runtime.clock()
    policy = runtime.config.refill
    counts = {"rounds": 0, "offers": 0, "expired": 0, "taken_notices": 0}
    async with runtime.db.write() as session:
        await end_stale(session, now)
        counts["rounds"] = len(await refill.start_rounds(session, now, policy))
        due = await refill.due_rounds(session, now)
    for round_id in due:
        async with runtime.db.write() as session:
            done = await refill.advance(session, round_id, now, policy,
                                        SendingWindow.from_county)
            await write_offer_notices(session, done.offers, now)
        counts["offers"] += len(done.offers)
        counts["expired"] += len(done.expired)
    async with runtime.db.write() as session:
        counts["taken_notices"] = await write_taken_notices(session, now)
    if any(counts.values()):
        log.info("refill_pass", **counts)
    return counts


async def refill_job(ctx: dict[str, Any]) -> int:
    """arq cron job: :func:`run`; returns how many offers and notices it wrote."""
    counts = await run(runtime_of(ctx))
    return counts["offers"] + counts["taken_notices"]


async def _window(session: AsyncSession, clinic_id: int) -> SendingWindow:
    quiet_hours = (await session.execute(
        select(County.quiet_hours).join(Clinic, Clinic.county_id == County.id)
        .where(Clinic.id == clinic_id))).scalar_one_or_none()
    return SendingWindow.from_county(quiet_hours)


async def write_offer_notices(session: AsyncSession, offers: Sequence[RefillOffer],
                              now: datetime) -> list[Notification]:
    """One ``refill_offer`` row per offer and recipient, due now (the wave was
    made inside sending hours) and pointless once the offer has expired."""
    rows: list[Notification] = []
    for offer in offers:
        appointment = await session.get(Appointment, offer.appointment_id)
        patient = await session.get(Patient, offer.patient_id)
        assert appointment is not None and patient is not None
        for recipient in await recipients_for(session, patient, local_date(now)):
            rows.append(Notification(
                appointment_id=appointment.id, appointment_version=appointment.version,
                patient_id=patient.id, purpose=Purpose.REFILL_OFFER, offset_minutes=offer.id,
                channel=Channel.SMS, recipient_id=recipient.patient_id,
                recipient_role=recipient.role, status=S.CREATED, created_at=now,
                status_at=now, due_at=now, send_after=now, expires_at=offer.expires_at))
    session.add_all(rows)
    await session.flush()
    dispatch_after_commit(session, [row.id for row in rows])
    return rows


async def write_taken_notices(session: AsyncSession, now: datetime, limit: int = 500) -> int:
    """Tell each patient whose offer was taken by someone else, once. An
    offer text that has not gone yet is cancelled instead (nothing to take
    back). Sent within the sending hours of the patient's own clinic."""
    offers = list((await session.execute(
        select(RefillOffer).where(RefillOffer.status == OfferStatus.TAKEN,
                                  RefillOffer.told_at.is_(None))
        .order_by(RefillOffer.id).limit(limit).with_for_update(skip_locked=True))).scalars())
    written: list[Notification] = []
    for offer in offers:
        offer.told_at = now
        sent = list((await session.execute(
            select(Notification).where(Notification.purpose == Purpose.REFILL_OFFER,
                                       Notification.offset_minutes == offer.id,
                                       Notification.appointment_id == offer.appointment_id)
        )).scalars())
        unsent = [row for row in sent if row.status == S.CREATED and not row.in_doubt
                  and (row.claimed_until is None or row.claimed_until < now)]
        await _cancel(session, unsent, now)
        told = [row for row in sent if row not in unsent]
        appointment = await session.get(Appointment, offer.appointment_id)
        if not told or appointment is None:
            continue
        window = await _window(session, appointment.clinic_id)
        timing = notice_timing(now, appointment.starts_at, window)
        for row in told:
            written.append(Notification(
                appointment_id=appointment.id, appointment_version=appointment.version,
                patient_id=offer.patient_id, purpose=Purpose.REFILL_TAKEN,
                offset_minutes=offer.id, channel=Channel.SMS, recipient_id=row.recipient_id,
                recipient_role=row.recipient_role, status=S.CREATED, created_at=now,
                status_at=now, due_at=timing.due_at, send_after=timing.send_after,
                expires_at=timing.expires_at))
    session.add_all(written)
    await session.flush()
    dispatch_after_commit(session, [row.id for row in written if row.send_after <= now])
    return len(written)


async def _cancel(session: AsyncSession, rows: Sequence[Notification], now: datetime) -> None:
    if not rows:
        return
    ids = [row.id for row in rows]
    await session.execute(
        update(Notification).where(Notification.id.in_(ids), Notification.status == S.CREATED)
        .values(status=S.CANCELLED, reason=Reason.SUPERSEDED, status_at=now)
        .execution_options(synchronize_session=False))
    session.add_all(NotificationEvent(
        notification_id=nid, occurred_at=now, from_status=S.CREATED, to_status=S.CANCELLED,
        source="outbox", reason=Reason.SUPERSEDED) for nid in ids)


# --- accepting by SMS ---------------------------------------------------------

@dataclass(frozen=True)
class CodeAnswer:
    """What an SMS reply with a code came to."""

    #: accepted: the appointment moved; ended: taken by someone else or
    #: expired (the patient keeps their time); unknown: no offer with that
    #: code went to this number; refused: a rule said no (``reason``).
    outcome: Literal["accepted", "ended", "unknown", "refused"]
    offer_id: int | None = None
    appointment_id: int | None = None
    reason: BookingReason | None = None


def code_in(text: str) -> str | None:
    """The four-digit code in a reply ("JA 4821", "ja4821 takk"), if any."""
    found = _DIGITS.findall(text or "")
    return found[0] if len(found) == 1 else None


async def accept_by_code(db: Database, from_number: str, code: str, now: datetime, *,
                         relations: RelationsSource | None = None) -> CodeAnswer:
    """Accept the offer whose text with ``code`` went to ``from_number``
    (E.164), as the person it went to. Safe to call twice: the second gets
    ``ended`` (the first won)."""
    digits = code_in(code)
    if digits is None:
        return CodeAnswer("unknown")
    async with db.read() as session:
        found = (await session.execute(
            select(RefillOffer, Notification.recipient_id, Notification.recipient_role)
            .join(Notification, Notification.offset_minutes == RefillOffer.id)
            .where(Notification.purpose == Purpose.REFILL_OFFER,
                   Notification.appointment_id == RefillOffer.appointment_id,
                   Notification.to_e164 == from_number,
                   or_(Notification.handed_over_at.is_not(None),
                       Notification.in_doubt.is_(True)),
                   RefillOffer.code == digits)
            .order_by(RefillOffer.offered_at.desc(), RefillOffer.id.desc()).limit(1)
        )).first()
    if found is None:
        log.info("refill_code_unknown")
        return CodeAnswer("unknown")
    offer, recipient_id, role = found
    if offer.status != OfferStatus.OFFERED or offer.expires_at <= now:
        return CodeAnswer("ended", offer.id)
    if role == Role.SELF or recipient_id == offer.patient_id:
        actor = Actor.patient(offer.patient_id)
    else:
        source = relations or LocalRelations(db)
        if not await may_follow(source, recipient_id, offer.patient_id, local_date(now)):
            return CodeAnswer("refused", offer.id, reason=BookingReason.NOT_ALLOWED_FOR_ACTOR)
        actor = Actor.guardian(recipient_id, {offer.patient_id})
    try:
        accepted = await refill.accept(db, actor, offer_id=offer.id, now=now)
    except BookingRefused as refused:
        if refused.reason is BookingReason.OFFER_ENDED:
            return CodeAnswer("ended", offer.id)
        return CodeAnswer("refused", offer.id, reason=refused.reason)
    return CodeAnswer("accepted", offer.id, accepted.appointment.id)
