"""The periodic jobs: what keeps the outbox moving when a message is lost.

Nothing is deferred in the queue: the database says when a row is due.
:func:`enqueue_due` queues rows whose time has come (and receipts not yet
applied), :func:`sweep_stuck_created` queues again rows that were queued but
never picked up, :func:`timeout_in_flight` ends rows with no final word in
72 hours, and :func:`purge_after_retention` removes message bodies and phone
numbers after the retention period.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update

from booking import audit
from notifications.models import (
    InboundSms,
    Notification,
    NotificationReceipt,
    SmsReplyChoice,
)
from notifications.runtime import Runtime, runtime_of
from notifications.statuses import FINAL, NotificationStatus, Reason
from notifications.transitions import move

log = structlog.get_logger(__name__)
S = NotificationStatus


def _waiting_and_free(now: datetime) -> ColumnElement[bool]:
    return and_(Notification.status == S.CREATED, Notification.send_after <= now,
                or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now))


async def _queue_rows(runtime: Runtime, condition: ColumnElement[bool], now: datetime, *,
                      by_id: bool = False) -> tuple[int, int]:
    """Queue up to one batch of rows matching ``condition``; (count, highest id)."""
    assert runtime.queue is not None, "a runtime that enqueues needs a queue"
    order = Notification.id if by_id else Notification.send_after
    async with runtime.db.read() as session:
        items = [(nid, attempts) for nid, attempts in await session.execute(
            select(Notification.id, Notification.attempts).where(condition)
            .order_by(order).limit(runtime.config.batch))]
    if not items:
        return 0, 0
    await runtime.queue.enqueue_deliveries(items)
    async with runtime.db.write() as session:
        await session.execute(
            update(Notification).where(Notification.id.in_([i for i, _ in items]))
            .values(queued_at=now).execution_options(synchronize_session=False))
    return len(items), max(i for i, _ in items)


#: How old an unhandled reply is before ``enqueue_due`` queues it itself.
REPLY_GRACE = timedelta(seconds=2)
#: At most this many batches per run of ``enqueue_due`` (a reminder wave).
MAX_BATCHES_PER_RUN = 20
#: Periodic jobs that work through many rows stop after this many seconds and
#: go on at their next run, so every job's arq timeout stays short: a killed
#: worker's in-progress keys live as long as the longest job timeout, and
#: until then the rows it held cannot be queued again under the same job id.
PERIODIC_BUDGET_SECONDS = 40.0


def _within_budget(started: float) -> bool:
    return time.monotonic() - started < PERIODIC_BUDGET_SECONDS


async def enqueue_due(ctx: dict[str, Any]) -> int:
    """Cron (every few seconds): queue rows whose time has come and that were
    not queued since, and receipts not yet applied."""
    runtime = runtime_of(ctx)
    now = runtime.clock()
    not_queued_since_due = or_(Notification.queued_at.is_(None),
                               Notification.queued_at < Notification.send_after)
    total = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        count, _ = await _queue_rows(runtime, and_(_waiting_and_free(now), not_queued_since_due),
                                     now)
        total += count
        if count < runtime.config.batch:
            break
    async with runtime.db.read() as session:
        receipts = list((await session.execute(
            select(NotificationReceipt.id).where(NotificationReceipt.applied_at.is_(None))
            .order_by(NotificationReceipt.id).limit(runtime.config.batch))).scalars())
        # Texts people sent us that no job has taken yet (the webhook's own
        # nudge was lost); a few seconds old, so the nudge usually wins.
        replies = list((await session.execute(
            select(InboundSms.id).where(InboundSms.handled_at.is_(None),
                                        InboundSms.received_at <= now - REPLY_GRACE)
            .order_by(InboundSms.id).limit(runtime.config.batch))).scalars())
    if receipts:
        assert runtime.queue is not None
        await runtime.queue.enqueue_receipts(receipts)
    if replies:
        assert runtime.queue is not None
        await runtime.queue.enqueue_replies(replies)
    return total


async def sweep_stuck_created(ctx: dict[str, Any]) -> int:
    """Cron: queue again rows that were queued but never picked up (a lost
    Redis message, a killed worker): a delay, never a loss."""
    runtime = runtime_of(ctx)
    now = runtime.clock()
    stale = now - runtime.config.stuck_after
    total, last = 0, 0
    started = time.monotonic()
    while _within_budget(started):
        count, last = await _queue_rows(runtime, and_(
            _waiting_and_free(now), Notification.send_after <= stale, Notification.id > last,
            or_(Notification.queued_at.is_(None), Notification.queued_at <= stale)), now,
            by_id=True)
        total += count
        if count < runtime.config.batch:
            break
    if total:
        log.warning("notifications_swept", count=total)
    return total


async def queue_all_due(runtime: Runtime) -> int:
    """Queue every due row whatever its ``queued_at`` (the in-process runner
    at start: what it had queued before a restart is gone)."""
    now = runtime.clock()
    total, last = 0, 0
    while True:
        count, last = await _queue_rows(
            runtime, and_(_waiting_and_free(now), Notification.id > last), now, by_id=True)
        total += count
        if count < runtime.config.batch:
            return total


async def timeout_in_flight(ctx: dict[str, Any]) -> int:
    """Cron: no final word within the delivery window (72 h, as Notify):
    with the provider → temporary-failure; never handed over → technical-failure."""
    runtime = runtime_of(ctx)
    now = runtime.clock()
    cutoff = now - runtime.config.in_flight_timeout
    total = 0
    async with runtime.db.write() as session:
        rows = list((await session.execute(
            select(Notification).where(or_(
                and_(Notification.status.in_([S.SENDING, S.PENDING]),
                     func.coalesce(Notification.handed_over_at, Notification.status_at)
                     <= cutoff),
                and_(Notification.status == S.CREATED, Notification.send_after <= cutoff,
                     or_(Notification.claimed_until.is_(None),
                         Notification.claimed_until <= now))))
            .limit(runtime.config.batch).with_for_update(skip_locked=True))).scalars())
        for row in rows:
            new = S.TECHNICAL_FAILURE if row.status == S.CREATED else S.TEMPORARY_FAILURE
            if move(session, row, new, now, "timeout", Reason.TIMEOUT):
                row.claim_token = None
                row.claimed_until = None
                total += 1
    if total:
        log.warning("notifications_timed_out", count=total)
    return total


async def purge_after_retention(ctx: dict[str, Any]) -> int:
    """Cron (nightly): remove message bodies and phone numbers of final rows
    older than the retention period; the rows stay for statistics."""
    runtime = runtime_of(ctx)
    now = runtime.clock()
    cutoff = now - runtime.config.retention
    purged = 0
    started = time.monotonic()
    while _within_budget(started):
        async with runtime.db.write() as session:
            ids = list((await session.execute(
                select(Notification.id).where(
                    Notification.status.in_([s.value for s in FINAL]),
                    Notification.status_at <= cutoff, Notification.purged_at.is_(None))
                .limit(runtime.config.batch))).scalars())
            if ids:
                await session.execute(
                    update(Notification).where(Notification.id.in_(ids))
                    .values(body=None, to_e164=None, purged_at=now)
                    .execution_options(synchronize_session=False))
            inbound = await session.execute(
                update(InboundSms)
                .where(InboundSms.received_at <= cutoff, InboundSms.purged_at.is_(None))
                .values(body=None, from_e164=None, purged_at=now)
                .execution_options(synchronize_session=False))
            # The numbered lists' numbers go with them (a reply reads a list
            # for a week at most: ``reply_actions.CHOICES_VALID``).
            await session.execute(delete(SmsReplyChoice)
                                  .where(SmsReplyChoice.created_at <= cutoff)
                                  .execution_options(synchronize_session=False))
        purged += len(ids) + int(inbound.rowcount or 0)  # type: ignore[attr-defined]
        if len(ids) < runtime.config.batch:
            break
    if purged:
        log.info("notifications_purged", count=purged)
    return purged


async def seal_audit(ctx: dict[str, Any]) -> int:
    """Cron (every few seconds): seal the heads of the audit chains that grew
    since the last seal (``booking.audit.seal``). Returns how many."""
    runtime = runtime_of(ctx)
    async with runtime.db.write() as session:
        sealed = await audit.seal(session, runtime.clock())
    return len(sealed.heads) if sealed is not None else 0
