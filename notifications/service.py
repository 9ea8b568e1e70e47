"""Support's operations on the outbox: resend, and the pipeline's numbers.

``resend`` never touches the original: it writes a new notification linked
to it (``resend_of_id``, ``resend_no``), to the person's current number or a
corrected one, with the reason, and an audit entry (ids only; the reason stays
on the notification row, where retention applies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, Clinic, County
from core.db import Database, utcnow
from notifications.models import Notification, NotificationEvent
from notifications.outbox import dispatch_after_commit
from notifications.recipients import normalise_mobile
from notifications.schedule import SendingWindow
from notifications.statuses import (
    IN_FLIGHT,
    WAITING,
    Channel,
    NotificationStatus,
)

log = structlog.get_logger(__name__)


class ResendRefused(Exception):
    """Why a resend is not possible; nothing was written."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def resend(db: Database, notification_id: int, *, reason: str, actor: Actor,
                 to: str | None = None, now: datetime | None = None,
                 expected_resends: int | None = None) -> Notification:
    """A new notification like ``notification_id``, now. Refused while the
    original is still waiting or with the provider (it may yet arrive), when
    the appointment has started, for an unusable corrected number, without a
    reason. With ``expected_resends`` (how many resends of it the caller saw),
    refused when that has changed meanwhile: a form submitted twice sends once."""
    async with db.write() as session:
        copy = await resend_in(session, notification_id, reason=reason, actor=actor, to=to,
                               now=now, expected_resends=expected_resends)
    log.info("notification_resend", notification_id=notification_id,
             new_notification_id=copy.id, actor_kind=actor.kind.value)
    return copy


async def resend_in(session: AsyncSession, notification_id: int, *, reason: str,
                    actor: Actor, to: str | None = None, now: datetime | None = None,
                    expected_resends: int | None = None,
                    audit_detail: dict[str, Any] | None = None) -> Notification:
    """:func:`resend` in the caller's transaction (a bulk resend records its
    link to the copy in the same one); ``audit_detail`` is added to the audit
    entry's detail. The copy is dispatched after the commit."""
    now = now or utcnow()
    reason = reason.strip()
    if not reason:
        raise ResendRefused("reason_required")
    corrected = None
    if to is not None:
        corrected = normalise_mobile(to)
        if corrected is None:
            raise ResendRefused("not_a_mobile_number")
    # Locked, so two submits of the same resend serialise here and the
    # second one sees the first one's copy.
    original = await session.get(Notification, notification_id, with_for_update=True)
    if original is None:
        raise ResendRefused("unknown_notification")
    if original.status in WAITING or original.status in IN_FLIGHT:
        raise ResendRefused("still_in_flight")
    if expected_resends is not None and expected_resends != (await session.execute(
            select(func.count()).select_from(Notification)
            .where(Notification.resend_of_id == original.id))).scalar_one():
        raise ResendRefused("already_resent")
    if original.channel != Channel.SMS:
        raise ResendRefused("not_an_sms")
    if original.appointment_id is None:  # a number check: the person asks for a new code
        raise ResendRefused("number_check")
    appointment = await session.get(Appointment, original.appointment_id)
    assert appointment is not None
    if appointment.starts_at <= now:
        raise ResendRefused("appointment_started")
    quiet_hours = (await session.execute(
        select(County.quiet_hours).join(Clinic, Clinic.county_id == County.id)
        .where(Clinic.id == appointment.clinic_id))).scalar_one()
    resend_no = int((await session.execute(
        select(func.max(Notification.resend_no)).where(
            Notification.appointment_id == original.appointment_id,
            Notification.purpose == original.purpose,
            Notification.appointment_version == original.appointment_version,
            Notification.offset_minutes == original.offset_minutes,
            Notification.channel == original.channel,
            Notification.recipient_id == original.recipient_id))).scalar_one() or 0) + 1
    copy = Notification(
        appointment_id=original.appointment_id,
        appointment_version=original.appointment_version, patient_id=original.patient_id,
        purpose=original.purpose, offset_minutes=original.offset_minutes,
        channel=original.channel, recipient_id=original.recipient_id,
        recipient_role=original.recipient_role, resend_no=resend_no,
        resend_of_id=original.id, resend_reason=reason[:200],
        status=NotificationStatus.CREATED, created_at=now, status_at=now, due_at=now,
        send_after=SendingWindow.from_county(quiet_hours).next_open(now),
        expires_at=appointment.starts_at, to_e164=corrected,
    )
    session.add(copy)
    await session.flush()
    session.add(NotificationEvent(notification_id=copy.id, occurred_at=now,
                                  from_status=None, to_status=NotificationStatus.CREATED,
                                  source="support", reason="resend"))
    await audit.record(
        session, actor, "notification.resend", purpose="support",
        subject_patient_id=original.patient_id,
        detail={"notification_id": original.id, "new_notification_id": copy.id,
                "corrected_number": corrected is not None, **(audit_detail or {})}, now=now)
    if copy.send_after <= now:
        dispatch_after_commit(session, [copy.id])
    return copy


@dataclass(frozen=True)
class Stats:
    by_status: dict[str, dict[str, int]]  # channel -> status -> count
    due_now: int
    oldest_due_seconds: float
    in_doubt: int
    last_24h: dict[str, int]  # status reached in the last 24 h -> count

    def lines(self) -> list[str]:
        out = []
        for channel, counts in sorted(self.by_status.items()):
            total = sum(counts.values())
            parts = ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
            out.append(f"{channel}: {total} ({parts})")
        out.append(f"due now: {self.due_now} (oldest {self.oldest_due_seconds:.0f} s)")
        out.append(f"in doubt (being reconciled): {self.in_doubt}")
        parts = ", ".join(f"{s} {n}" for s, n in sorted(self.last_24h.items())) or "none"
        out.append(f"last 24 h: {parts}")
        return out


async def stats(db: Database, now: datetime | None = None) -> Stats:
    now = now or utcnow()
    async with db.read() as session:
        by_status: dict[str, dict[str, int]] = {}
        for channel, status, count in await session.execute(
                select(Notification.channel, Notification.status, func.count())
                .group_by(Notification.channel, Notification.status)):
            by_status.setdefault(channel, {})[status] = int(count)
        due, oldest = (await session.execute(
            select(func.count(), func.min(Notification.send_after))
            .where(Notification.status == NotificationStatus.CREATED,
                   Notification.send_after <= now))).one()
        in_doubt = int((await session.execute(
            select(func.count()).select_from(Notification)
            .where(Notification.in_doubt.is_(True),
                   Notification.status == NotificationStatus.CREATED))).scalar_one())
        last_24h = {
            status: int(count) for status, count in await session.execute(
                select(Notification.status, func.count())
                .where(Notification.status_at >= now - timedelta(days=1))
                .group_by(Notification.status))
        }
    oldest_seconds = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return Stats(by_status, int(due), oldest_seconds, in_doubt, last_24h)
