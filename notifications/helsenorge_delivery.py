"""Handing one ``helsenorge`` row over: a PUT of the appointment as it now
stands, called by ``jobs.deliver`` for rows of that channel.

1. End the row if the appointment changed or was cancelled since it was
   written (the newer row carries the latest state), or if it expired (the
   appointment is over).
2. Wait while another row of the same chain is being handed over: versions
   reach Helsenorge in the order they were made.
3. Build the notice (``helsenorge_sync.notice_for``).
4. Claim the row (compare-and-swap on status, attempt count, lease and the
   appointment still being as the row knew it), PUT, and record the answer:
   accepted → ``delivered`` (Helsenorge's answer is final; there are no
   receipts); network trouble, 401/403, 429 and 5xx → another attempt after
   ``channels.base.retry_delay``; any other refusal → ``technical-failure``
   with the reason. A PUT is idempotent, so an attempt in doubt is simply
   made again: there is nothing to reconcile.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, or_, select, update

from booking.models import Appointment
from core.db import Database
from notifications import helsenorge_first, metrics
from notifications.channels.base import SendOutcome, retry_delay
from notifications.channels.helsenorge import SyncResult
from notifications.helsenorge_sync import notice_for
from notifications.models import Notification
from notifications.runtime import Runtime
from notifications.statuses import Channel, NotificationStatus, Purpose, Reason
from notifications.transitions import (
    Snapshot,
    claimable,
    end,
    locked,
    move,
    superseded,
    wait,
)

log = structlog.get_logger(__name__)
S = NotificationStatus


async def deliver_to_helsenorge(runtime: Runtime, snapshot: Snapshot, now: datetime) -> str:
    """PUT the appointment of one due, unclaimed ``helsenorge`` row; returns
    what happened (as ``jobs.deliver`` does). A ``reminder`` row (the
    patient chose Helsenorge for their reminders) carries the reminder tag;
    once it has its answer, the SMS reminder waiting for it is woken
    (``notifications.helsenorge_first``)."""
    said = await _deliver(runtime, snapshot, now)
    if snapshot.row.purpose == Purpose.REMINDER:
        await helsenorge_first.wake(runtime, snapshot.row, runtime.clock())
    return said


async def _deliver(runtime: Runtime, snapshot: Snapshot, now: datetime) -> str:
    row, appointment = snapshot.row, snapshot.appointment
    if appointment is None or superseded(row, appointment):
        return await end(runtime.db, row, S.CANCELLED, Reason.SUPERSEDED, now, None)
    if now >= row.expires_at:
        return await end(runtime.db, row, S.TECHNICAL_FAILURE, Reason.EXPIRED, now, None)
    sync = runtime.helsenorge
    if sync is None:
        return await end(runtime.db, row, S.CANCELLED, Reason.NO_CHANNEL, now, None)
    busy_until = await _chain_in_flight_until(runtime.db, row, appointment, now)
    if busy_until is not None:
        return await wait(runtime.db, row, busy_until, Reason.AFTER_EARLIER, now, None)
    notice = await notice_for(runtime.db, sync, appointment,
                              reminder=row.purpose == Purpose.REMINDER)
    if isinstance(notice, str):
        return await end(runtime.db, row, S.TECHNICAL_FAILURE, notice, now, None)
    token = await _claim(runtime, row, appointment, now)
    if token is None:
        return "claimed"
    try:
        result = await sync.channel.put_appointment(notice)
    except Exception as exc:  # a channel must not raise; a PUT may simply be made again
        log.error("helsenorge_channel_raised", notification_id=row.id,
                  error=type(exc).__name__)
        result = SyncResult(SendOutcome.RETRY, reason=f"channel raised {type(exc).__name__}")
    return await _record(runtime, row.id, token, result)


async def _chain_in_flight_until(db: Database, row: Notification, appointment: Appointment,
                                 now: datetime) -> datetime | None:
    """Until when another row of the appointment's chain is being handed over."""
    chain = appointment.chain_id or appointment.id
    async with db.read() as session:
        until: datetime | None = (await session.execute(
            select(func.max(Notification.claimed_until))
            .join(Appointment, Appointment.id == Notification.appointment_id)
            .where(or_(Appointment.chain_id == chain, Appointment.id == appointment.id),
                   Notification.channel == Channel.HELSENORGE, Notification.id != row.id,
                   Notification.status == S.CREATED, Notification.claimed_until > now)
        )).scalar_one_or_none()
    return until


async def _claim(runtime: Runtime, row: Notification, appointment: Appointment,
                 now: datetime) -> str | None:
    """Take the row for one PUT (``transitions.claimable``)."""
    token = secrets.token_hex(16)
    lease = runtime.config.lease
    async with runtime.db.write() as session:
        result = await session.execute(
            update(Notification)
            .where(claimable(row, appointment, now))
            # If this worker dies, the row is due again when the lease ends.
            .values(claim_token=token, claimed_until=now + lease, send_after=now + lease,
                    attempts=Notification.attempts + 1, attempted_at=now, reason=None)
            .execution_options(synchronize_session=False))
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def _record(runtime: Runtime, notification_id: int, token: str, result: SyncResult
                  ) -> str:
    """Write what Helsenorge answered to the PUT made under lease ``token``."""
    now = runtime.clock()
    outcome = result.outcome
    accepted = outcome is SendOutcome.ACCEPTED
    metrics.count_outcome(Channel.HELSENORGE, outcome.value,
                          None if accepted else result.http_status)
    async with runtime.db.write() as session:
        row = await locked(session, notification_id)
        if row is None:
            return "missing"
        ours = row.claim_token == token
        if ours:
            row.claim_token = None
            row.claimed_until = None
        if accepted:
            if row.handed_over_at is None:
                row.handed_over_at = now
                metrics.observe_handover(row.channel, row.due_at, now)
            move(session, row, S.DELIVERED, now, "job")
            said = "accepted"
        elif not ours or row.status != S.CREATED:
            said = "lease_lost"
        elif outcome is SendOutcome.FAILED:
            move(session, row, S.TECHNICAL_FAILURE, now, "job",
                 result.reason or Reason.PROVIDER_REJECTED, result.http_status)
            said = "failed"
        else:  # RETRY (a channel never says UNKNOWN: a PUT may be made again)
            row.error_code = result.http_status
            delay = timedelta(seconds=retry_delay(row.attempts, retry_after=result.retry_after))
            if row.attempts >= runtime.config.max_attempts:
                move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.RETRIES_EXHAUSTED,
                     result.http_status)
                said = "failed"
            elif now + delay >= row.expires_at:
                move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.EXPIRED,
                     result.http_status)
                said = "failed"
            else:
                row.send_after = now + delay
                row.reason = Reason.PROVIDER_BUSY
                said = "retry"
    log.info("helsenorge_synced", notification_id=notification_id, outcome=said,
             http_status=result.http_status)
    return said
