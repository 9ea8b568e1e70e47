"""The job functions: the same coroutines run under arq (``notifications.worker``)
and in-process (``notifications.runner``). Arguments are internal ids only.

Every job is safe to run twice, concurrently, or after a crash (arq runs jobs
at least once): it acts only if the row is still in the state it expects, and
changes rows with compare-and-swap updates under a short lease.

Handing one SMS over (:func:`deliver`):

1. Read the row with its appointment, clinic and county. Do nothing unless it
   is ``created``, due, and nobody holds its lease.
2. If an earlier hand-over is *in doubt* (a crash, a timeout after the request
   left), ask the provider (``SmsChannel.lookup``) first; never resend blindly.
3. Cancel it if the appointment changed or was cancelled since (the version
   and status are re-checked), let it expire if its validity ran out, and
   wait if the county's sending window is closed.
4. Settle number and words (``notifications.recipients``/``templates``).
5. Claim it (``in_doubt`` is set before the call, and ``send_after`` moves to
   the end of the lease, so the row is due again then if this worker dies),
   close the transaction, call the provider, and record what it said.

Receipts (:func:`apply_receipt`) move a row forward only along the allowed
transitions; a final status is never overwritten, and duplicates and
out-of-order receipts are logged and ignored.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import structlog
from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Appointment, Clinic, County, Patient
from booking.rules import local_date
from booking.statuses import ACTIVE, AppointmentStatus
from core.db import Database, utcnow
from notifications import metrics
from notifications.channels.base import SendOutcome, SmsChannel, SmsResult, retry_delay
from notifications.channels.twilio_status import map_message_status
from notifications.models import InboundSms, Notification, NotificationEvent, NotificationReceipt
from notifications.recipients import (
    WAIT_FOR,
    Contact,
    ContactDirectory,
    Role,
    block_number,
    blocks_for,
    check_contact,
)
from notifications.schedule import MIN_VALIDITY, SendingWindow, validity_seconds
from notifications.statuses import (
    FAILED,
    FINAL,
    BlockReason,
    Channel,
    NotificationStatus,
    Purpose,
    Reason,
    ReceiptOutcome,
    may_move,
)
from notifications.templates import (
    Audience,
    MessageContext,
    choose_language,
    first_given_name,
    links_for,
    render,
)

if TYPE_CHECKING:
    from notifications.helsenorge_sync import HelsenorgeSync

log = structlog.get_logger(__name__)
S = NotificationStatus
T = TypeVar("T")

DELIVER = "deliver_notification"
DELIVER_BATCH = "deliver_batch"
#: Rows per :func:`deliver_batch` job.
BATCH_SIZE = 50
APPLY_RECEIPT = "apply_receipt"


def batched(items: Sequence[T]) -> list[list[T]]:
    """``items`` in the slices :func:`deliver_batch` jobs take (:data:`BATCH_SIZE`)."""
    return [list(items[i:i + BATCH_SIZE]) for i in range(0, len(items), BATCH_SIZE)]


@dataclass(frozen=True)
class DeliveryConfig:
    public_url: str
    #: Key for the signed links in messages (``templates.link_key(SECRET_KEY)``).
    link_key: bytes = field(repr=False)
    #: How long a worker holds a row while handing it over (longer than the
    #: channel's request timeout).
    lease: timedelta = timedelta(minutes=2)
    #: After an in-doubt hand-over, ask the provider again after this.
    reconcile_delay: timedelta = timedelta(minutes=1)
    #: A due row not picked up this long after it was queued is queued again.
    stuck_after: timedelta = timedelta(minutes=10)
    #: With the provider and no final receipt after this: temporary failure (Notify: 72 h).
    in_flight_timeout: timedelta = timedelta(hours=72)
    #: Message bodies and phone numbers are removed this long after the final status.
    retention: timedelta = timedelta(days=7)
    max_attempts: int = 20
    batch: int = 1000


class JobQueue(Protocol):
    """Where due work is put: arq (``worker.ArqQueue``) or the in-process runner."""

    async def enqueue_deliveries(self, items: Sequence[tuple[int, int]]) -> int:
        """(notification id, attempts so far) pairs; returns how many were new."""
        ...

    async def enqueue_receipts(self, receipt_ids: Sequence[int]) -> int: ...


@dataclass
class Runtime:
    """What the jobs need; built once per process (``worker.build_runtime``)."""

    db: Database
    sms: SmsChannel
    contacts: ContactDirectory
    config: DeliveryConfig
    queue: JobQueue | None = None
    clock: Callable[[], datetime] = utcnow
    #: Appointments to Helsenorge (``helsenorge_sync``); None: its rows are cancelled.
    helsenorge: HelsenorgeSync | None = None


def runtime_of(ctx: Mapping[str, Any]) -> Runtime:
    runtime = ctx["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


# --- status changes ----------------------------------------------------------

def _move(session: AsyncSession, row: Notification, new: NotificationStatus, now: datetime,
          source: str, reason: str | None = None, error_code: int | None = None) -> bool:
    """Change ``row.status`` if the transition is allowed; log and ignore otherwise."""
    if row.status == new or not may_move(row.status, new):
        if row.status != new:
            log.info("notification_transition_ignored", notification_id=row.id,
                     current=row.status, proposed=new.value, source=source)
        return False
    session.add(NotificationEvent(notification_id=row.id, occurred_at=now,
                                  from_status=row.status, to_status=new, source=source,
                                  reason=reason, error_code=error_code))
    row.status = new
    row.status_at = now
    if reason is not None:
        row.reason = reason[:64]
    if error_code is not None:
        row.error_code = error_code
    if new is not S.CREATED:
        row.in_doubt = False
    return True


async def _locked(session: AsyncSession, notification_id: int) -> Notification | None:
    return (await session.execute(
        select(Notification).where(Notification.id == notification_id).with_for_update()
    )).scalar_one_or_none()


# --- deliver -----------------------------------------------------------------

@dataclass
class Snapshot:
    row: Notification
    appointment: Appointment
    clinic_name: str
    window: SendingWindow
    patient_given_name: str


async def _snapshots(db: Database, notification_ids: Sequence[int]) -> dict[int, Snapshot]:
    """The rows with what a hand-over needs of them, in one query."""
    async with db.read() as session:
        found = (await session.execute(
            select(Notification, Appointment, Clinic.name, County.quiet_hours,
                   Patient.given_name)
            .join(Appointment, Appointment.id == Notification.appointment_id)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .join(County, County.id == Clinic.county_id)
            .join(Patient, Patient.id == Notification.patient_id)
            .where(Notification.id.in_(list(notification_ids))))).all()
    return {row.id: Snapshot(row, appointment, clinic_name,
                             SendingWindow.from_county(quiet_hours), given_name)
            for row, appointment, clinic_name, quiet_hours, given_name in found}


async def _snapshot(db: Database, notification_id: int) -> Snapshot | None:
    return (await _snapshots(db, [notification_id])).get(notification_id)


def superseded(row: Notification, appointment: Appointment) -> bool:
    """Was the appointment changed or cancelled after this notice was written?"""
    if appointment.version != row.appointment_version:
        return True
    if row.purpose == Purpose.CANCELLATION:
        return appointment.status != AppointmentStatus.CANCELLED
    return appointment.status not in ACTIVE


def not_superseded() -> ColumnElement[bool]:
    """:func:`superseded`, negated, as SQL on a ``notifications`` row: its
    appointment is still at the row's version, in a status the row is about."""
    return select(Appointment.id).where(
        Appointment.id == Notification.appointment_id,
        Appointment.version == Notification.appointment_version,
        or_(and_(Notification.purpose == Purpose.CANCELLATION,
                 Appointment.status == AppointmentStatus.CANCELLED),
            and_(Notification.purpose != Purpose.CANCELLATION,
                 Appointment.status.in_(list(ACTIVE))))).exists()


@dataclass(frozen=True)
class Verdict:
    """What to do with a due row before preparing it: send, end it, or wait."""

    action: Literal["send", "end", "wait"]
    status: NotificationStatus | None = None
    reason: Reason | None = None
    until: datetime | None = None


def judge(snapshot: Snapshot, now: datetime) -> Verdict:
    row = snapshot.row
    if superseded(row, snapshot.appointment):
        return Verdict("end", S.CANCELLED, Reason.SUPERSEDED)
    if now + MIN_VALIDITY > row.expires_at:
        return Verdict("end", S.TECHNICAL_FAILURE, Reason.EXPIRED)
    window = snapshot.window
    if validity_seconds(now, row.expires_at, window) < MIN_VALIDITY.total_seconds():
        # Closed, or closing too soon to be worth it: the next opening.
        opening = window.next_open(now if not window.is_open(now) else window.closes_at(now))
        if opening + MIN_VALIDITY > row.expires_at:
            return Verdict("end", S.TECHNICAL_FAILURE, Reason.EXPIRED)
        return Verdict("wait", reason=Reason.QUIET_HOURS, until=opening)
    return Verdict("send")


async def _end(db: Database, row: Notification, status: NotificationStatus, reason: str,
               now: datetime, token: str | None) -> str:
    """End a waiting row without a hand-over (unless someone else holds it):
    ``reason`` is a :class:`Reason` or, for a row that cannot be built, a
    short text saying why."""
    async with db.write() as session:
        current = await _locked(session, row.id)
        if current is None or current.status != S.CREATED:
            return "not_waiting"
        if current.claim_token not in (None, token) and current.claimed_until is not None \
                and current.claimed_until > now:
            return "claimed"
        _move(session, current, status, now, "job", reason)
        current.claim_token = None
        current.claimed_until = None
    log.info("notification_ended", notification_id=row.id, status=status.value,
             reason=str(reason)[:64])
    return status.value


async def _wait(db: Database, row: Notification, until: datetime, reason: Reason,
                now: datetime, token: str | None) -> str:
    async with db.write() as session:
        await session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == S.CREATED,
                   or_(Notification.claim_token.is_(None), Notification.claim_token == token,
                       Notification.claimed_until <= now))
            .values(send_after=until, reason=reason, claim_token=None, claimed_until=None)
            .execution_options(synchronize_session=False))
    return "waiting"


async def _not_sent(db: Database, row: Notification, reason: Reason, now: datetime,
                    token: str | None) -> str:
    """No number to send to now: cancelled, unless the reason passes (the
    contact register did not answer: ``recipients.WAIT_FOR``) and it waits."""
    if reason in WAIT_FOR:
        return await _wait(db, row, now + WAIT_FOR[reason], reason, now, token)
    return await _end(db, row, S.CANCELLED, reason, now, token)


async def _take_lease(db: Database, row: Notification, now: datetime, lease: timedelta
                      ) -> str | None:
    token = secrets.token_hex(16)
    async with db.write() as session:
        result = await session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == S.CREATED,
                   Notification.attempts == row.attempts,
                   or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now))
            .values(claim_token=token, claimed_until=now + lease, send_after=now + lease)
            .execution_options(synchronize_session=False))
    return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Prepared:
    to_e164: str | None
    body: str | None
    language: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    skip: Reason | None = None


async def _prepare(runtime: Runtime, snapshot: Snapshot, now: datetime) -> Prepared:
    return (await _prepare_many(runtime, [snapshot], now))[snapshot.row.id]


async def _prepare_many(runtime: Runtime, snapshots: Sequence[Snapshot], now: datetime
                        ) -> dict[int, Prepared]:
    """Number and words for each row: one contact lookup and one block query
    for them all."""
    contacts = await runtime.contacts.contacts(
        sorted({s.row.recipient_id for s in snapshots}))
    today = local_date(now)
    numbers: dict[int, str] = {}
    prepared: dict[int, Prepared] = {}
    for snapshot in snapshots:
        row = snapshot.row
        if row.to_e164:  # kept from an earlier attempt, or a corrected number (resend)
            numbers[row.id] = row.to_e164
            continue
        e164, why = check_contact(contacts.get(row.recipient_id), today)
        if why is not None:
            prepared[row.id] = Prepared(None, None, skip=why)
        else:
            assert e164 is not None
            numbers[row.id] = e164
    async with runtime.db.read() as session:
        blocked = await blocks_for(session, list(numbers.values()))
    for snapshot in snapshots:
        row = snapshot.row
        e164 = numbers.get(row.id)
        if e164 is None:
            continue
        if e164 in blocked:
            prepared[row.id] = Prepared(None, None, skip=blocked[e164])
        elif row.body:
            prepared[row.id] = Prepared(e164, row.body, row.language, row.template_id,
                                        row.template_version)
        else:
            prepared[row.id] = _render(runtime, snapshot, e164, contacts.get(row.recipient_id))
    return prepared


def _render(runtime: Runtime, snapshot: Snapshot, e164: str, contact: Contact | None
            ) -> Prepared:
    row = snapshot.row
    guardian = row.recipient_role == Role.GUARDIAN
    language = choose_language(contact.language if contact else None)
    rendered = render(
        row.purpose, Audience.GUARDIAN if guardian else Audience.SELF, language,
        MessageContext(
            clinic_name=snapshot.clinic_name, starts_at=snapshot.appointment.starts_at,
            links=links_for(runtime.config.public_url, runtime.config.link_key,
                            snapshot.appointment.id, row.id),
            child_first_name=first_given_name(snapshot.patient_given_name) if guardian
            else None))
    return Prepared(e164, rendered.body, rendered.language, rendered.template_id,
                    rendered.template_version)


def claimable(row: Notification, appointment: Appointment, now: datetime,
              token: str | None = None) -> ColumnElement[bool]:
    """The compare-and-swap condition of a claim on ``row``: still waiting,
    with the attempt count it had when read, its lease free (or held under
    ``token``), and the appointment still the one it was read with."""
    lease_free = or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now)
    if token is not None:
        lease_free = or_(lease_free, Notification.claim_token == token)
    same_appointment = select(Appointment.id).where(
        Appointment.id == appointment.id, Appointment.version == appointment.version,
        Appointment.status == appointment.status).exists()
    return and_(Notification.id == row.id, Notification.status == S.CREATED,
                Notification.attempts == row.attempts, lease_free, same_appointment)


async def _claim(runtime: Runtime, snapshot: Snapshot, prepared: Prepared, now: datetime,
                 token: str | None) -> str | None:
    """Take the row for one hand-over (:func:`claimable`)."""
    new_token = secrets.token_hex(16)
    async with runtime.db.write() as session:
        result = await session.execute(
            update(Notification)
            .where(claimable(snapshot.row, snapshot.appointment, now, token))
            # If this worker dies, the row is due again when the lease ends
            # (``enqueue_due`` queues it, and the next run reconciles).
            .values(claim_token=new_token, claimed_until=now + runtime.config.lease,
                    send_after=now + runtime.config.lease,
                    in_doubt=True, attempts=Notification.attempts + 1, attempted_at=now,
                    to_e164=prepared.to_e164, body=prepared.body, language=prepared.language,
                    template_id=prepared.template_id,
                    template_version=prepared.template_version, reason=None)
            .execution_options(synchronize_session=False))
    return new_token if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def deliver(runtime: Runtime, notification_id: int) -> str:
    """Hand one notification to its channel if it is still due; returns what happened."""
    now = runtime.clock()
    snapshot = await _snapshot(runtime.db, notification_id)
    if snapshot is None:
        log.warning("notification_missing", notification_id=notification_id)
        return "missing"
    row = snapshot.row
    early = _not_ready(row, now)
    if early is not None:
        return early
    if row.channel == Channel.HELSENORGE:
        from notifications.helsenorge_sync import deliver_to_helsenorge

        return await deliver_to_helsenorge(runtime, snapshot, now)
    if row.channel != Channel.SMS:
        return "no_channel"
    token: str | None = None
    if row.in_doubt:
        token = await _take_lease(runtime.db, row, now, runtime.config.lease)
        if token is None:
            return "claimed"
        verdict = await _reconcile(runtime, row, token, now)
        if verdict != "not_sent":
            return verdict
    decision = judge(snapshot, now)
    if decision.action == "end":
        assert decision.status is not None and decision.reason is not None
        return await _end(runtime.db, row, decision.status, decision.reason, now, token)
    if decision.action == "wait":
        assert decision.until is not None and decision.reason is not None
        return await _wait(runtime.db, row, decision.until, decision.reason, now, token)
    prepared = await _prepare(runtime, snapshot, now)
    if prepared.skip is not None:
        return await _not_sent(runtime.db, row, prepared.skip, now, token)
    claimed = await _claim(runtime, snapshot, prepared, now, token)
    if claimed is None:
        return "claimed"
    return await record(runtime, row.id, claimed, await _send(runtime, snapshot, prepared, now))


def _not_ready(row: Notification, now: datetime) -> str | None:
    """Why a row is not to be handed over by this job now, if it is not."""
    if row.status != S.CREATED:
        log.info("notification_not_waiting", notification_id=row.id, status=row.status)
        return "not_waiting"
    if row.claimed_until is not None and row.claimed_until > now:
        return "claimed"
    if row.send_after > now:
        return "not_due"
    return None


async def _send(runtime: Runtime, snapshot: Snapshot, prepared: Prepared, now: datetime
                ) -> SmsResult:
    row = snapshot.row
    assert prepared.to_e164 is not None and prepared.body is not None
    try:
        return await runtime.sms.send(
            notification_id=row.id, to_e164=prepared.to_e164, body=prepared.body,
            validity_seconds=validity_seconds(now, row.expires_at, snapshot.window))
    except Exception as exc:  # a channel must not raise; if it does, the send is in doubt
        log.error("notification_channel_raised", notification_id=row.id,
                  error=type(exc).__name__)
        return SmsResult(SendOutcome.UNKNOWN, reason=f"channel raised {type(exc).__name__}")


# --- deliver many ------------------------------------------------------------

async def _claim_many(runtime: Runtime, items: Sequence[tuple[Snapshot, Prepared]],
                      now: datetime) -> tuple[str, set[int]]:
    """:func:`_claim` for many rows under one lease token: one compare-and-swap
    update (status, attempt count, lease, and the appointment still as the row
    knew it), then each claimed row's number and words."""
    token = secrets.token_hex(16)
    lease = runtime.config.lease
    pairs = [(snapshot.row.id, snapshot.row.attempts) for snapshot, _ in items]
    async with runtime.db.write() as session:
        claimed = set((await session.execute(
            update(Notification)
            # ``id IN`` beside the pairs keeps PostgreSQL on the primary key
            # (the row-value IN alone can get a generic plan that scans the table).
            .where(Notification.id.in_([nid for nid, _ in pairs]),
                   tuple_(Notification.id, Notification.attempts).in_(pairs),
                   Notification.status == S.CREATED,
                   or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now),
                   not_superseded())
            .values(claim_token=token, claimed_until=now + lease, send_after=now + lease,
                    in_doubt=True, attempts=Notification.attempts + 1, attempted_at=now,
                    reason=None)
            .returning(Notification.id)
            .execution_options(synchronize_session=False))).scalars())
        if claimed:
            table = Notification.__table__
            assert isinstance(table, Table)
            await session.execute(
                update(table).where(table.c.id == bindparam("n_id"),
                                    table.c.claim_token == token)
                .values(to_e164=bindparam("n_to"), body=bindparam("n_body"),
                        language=bindparam("n_language"),
                        template_id=bindparam("n_template_id"),
                        template_version=bindparam("n_template_version")),
                [{"n_id": snapshot.row.id, "n_to": p.to_e164, "n_body": p.body,
                  "n_language": p.language, "n_template_id": p.template_id,
                  "n_template_version": p.template_version}
                 for snapshot, p in items if snapshot.row.id in claimed])
    return token, claimed


async def deliver_many(runtime: Runtime, notification_ids: Sequence[int]) -> dict[str, int]:
    """:func:`deliver` for many rows (a reminder wave): the same guards, with
    one read, one contact lookup, one claim, the hand-overs side by side and
    one write for them all. Rows needing more thought (in doubt, not SMS, to
    end or to wait) go through :func:`deliver` one by one. Returns how many
    ended how."""
    now = runtime.clock()
    snapshots = await _snapshots(runtime.db, notification_ids)
    tally: Counter[str] = Counter(missing=len(set(notification_ids) - snapshots.keys()))
    ready: list[Snapshot] = []
    one_by_one: list[int] = []
    for snapshot in snapshots.values():
        row = snapshot.row
        early = _not_ready(row, now)
        if early is not None:
            tally[early] += 1
        elif row.channel != Channel.SMS or row.in_doubt or judge(snapshot, now).action != "send":
            one_by_one.append(row.id)
        else:
            ready.append(snapshot)
    for notification_id in one_by_one:
        tally[await deliver(runtime, notification_id)] += 1
    sendable: list[tuple[Snapshot, Prepared]] = []
    prepared = await _prepare_many(runtime, ready, now) if ready else {}
    for snapshot in ready:
        ready_one = prepared[snapshot.row.id]
        if ready_one.skip is not None:
            tally[await _not_sent(runtime.db, snapshot.row, ready_one.skip, now, None)] += 1
        else:
            sendable.append((snapshot, ready_one))
    if sendable:
        token, claimed = await _claim_many(runtime, sendable, now)
        tally["claimed"] += len(sendable) - len(claimed)
        mine = [(snapshot, p) for snapshot, p in sendable if snapshot.row.id in claimed]
        results = await asyncio.gather(*(_send(runtime, s, p, now) for s, p in mine))
        outcomes = await record_many(
            runtime, token, {s.row.id: result for (s, _), result in zip(mine, results,
                                                                        strict=True)})
        tally.update(outcomes.values())
    return {name: count for name, count in tally.items() if count}


async def _reconcile(runtime: Runtime, row: Notification, token: str, now: datetime) -> str:
    try:
        found = await runtime.sms.lookup(notification_id=row.id, provider_ref=row.provider_ref,
                                         to_e164=row.to_e164, body=row.body,
                                         sent_after=row.attempted_at)
    except Exception as exc:
        log.error("notification_lookup_raised", notification_id=row.id,
                  error=type(exc).__name__)
        found = SmsResult(SendOutcome.UNKNOWN, reason="lookup raised")
    if found is None:
        async with runtime.db.write() as session:
            await session.execute(
                update(Notification)
                .where(Notification.id == row.id, Notification.claim_token == token)
                .values(in_doubt=False)
                .execution_options(synchronize_session=False))
        log.info("notification_reconciled", notification_id=row.id, found=False)
        return "not_sent"
    if found.outcome is SendOutcome.UNKNOWN:
        return await record(runtime, row.id, token, found)
    log.info("notification_reconciled", notification_id=row.id, found=True)
    accepted = SmsResult(SendOutcome.ACCEPTED, provider_ref=found.provider_ref,
                         status=found.status, error_code=found.error_code,
                         reason=found.reason, opted_out=found.opted_out,
                         number_unusable=found.number_unusable)
    await record(runtime, row.id, token, accepted)
    return "reconciled"


async def record(runtime: Runtime, notification_id: int, token: str, result: SmsResult) -> str:
    """Write what the provider said about a hand-over made under lease ``token``."""
    return (await record_many(runtime, token, {notification_id: result}))[notification_id]


async def record_many(runtime: Runtime, token: str, results: Mapping[int, SmsResult]
                      ) -> dict[int, str]:
    """:func:`record` for many hand-overs under one lease, in one transaction."""
    now = runtime.clock()
    for result in results.values():
        metrics.count_outcome(Channel.SMS, result.outcome.value, result.error_code)
    outcomes: dict[int, str] = dict.fromkeys(results, "missing")
    async with runtime.db.write() as session:
        rows = (await session.execute(
            select(Notification).where(Notification.id.in_(sorted(results)))
            .order_by(Notification.id).with_for_update())).scalars()
        for row in rows:
            outcomes[row.id] = await _apply_result(session, runtime.config, row, token,
                                                   results[row.id], now)
    return outcomes


async def _apply_result(session: AsyncSession, config: DeliveryConfig, row: Notification,
                        token: str, result: SmsResult, now: datetime) -> str:
    outcome = result.outcome
    ours = row.claim_token == token
    if ours:
        row.claim_token = None
        row.claimed_until = None
    if outcome is SendOutcome.ACCEPTED:
        row.in_doubt = False
        if row.provider_ref is None:
            row.provider_ref = result.provider_ref
        if row.handed_over_at is None:
            row.handed_over_at = now
            metrics.observe_handover(row.channel, row.due_at, now)
        target = S(result.status) if result.status else S.SENDING
        failed = target in FAILED
        _move(session, row, target, now, "job", result.reason if failed else None,
              result.error_code)
        if failed:
            await _block_if_needed(session, row, result, now)
        return "accepted"
    if not ours or row.status != S.CREATED:
        log.info("notification_lease_lost", notification_id=row.id, outcome=outcome.value)
        return "lease_lost"
    if outcome is SendOutcome.FAILED:
        status = S(result.status) if result.status in FAILED else S.TECHNICAL_FAILURE
        _move(session, row, status, now, "job",
              result.reason or Reason.PROVIDER_REJECTED, result.error_code)
        await _block_if_needed(session, row, result, now)
        return "failed"
    if outcome is SendOutcome.RETRY:
        row.in_doubt = False
        row.error_code = result.error_code
        if row.attempts >= config.max_attempts:
            _move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.RETRIES_EXHAUSTED,
                  result.error_code)
            return "failed"
        delay = timedelta(seconds=retry_delay(row.attempts, retry_after=result.retry_after))
        if now + delay + MIN_VALIDITY > row.expires_at:
            _move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.EXPIRED,
                  result.error_code)
            return "failed"
        row.send_after = now + delay
        row.reason = Reason.PROVIDER_BUSY
        return "retry"
    # UNKNOWN: it may have been sent. Ask the provider before anything else.
    row.in_doubt = True
    row.reason = Reason.IN_DOUBT
    row.send_after = now + config.reconcile_delay
    return "in_doubt"


async def _block_if_needed(session: AsyncSession, row: Notification, result: Any,
                           now: datetime) -> None:
    if not row.to_e164:
        return
    if getattr(result, "opted_out", False):
        await block_number(session, row.to_e164, BlockReason.OPTED_OUT, now, row.id)
    elif getattr(result, "number_unusable", False):
        await block_number(session, row.to_e164, BlockReason.PERMANENT_FAILURE, now, row.id)


async def deliver_notification(ctx: dict[str, Any], notification_id: int) -> str:
    """arq job: :func:`deliver`."""
    return await deliver(runtime_of(ctx), notification_id)


async def deliver_batch(ctx: dict[str, Any], notification_ids: list[int]) -> dict[str, int]:
    """arq job: :func:`deliver_many`."""
    return await deliver_many(runtime_of(ctx), notification_ids)


# --- receipts ----------------------------------------------------------------

#: provider -> (provider status, error code) -> our reading of it
RECEIPT_MAPPERS: dict[str, Callable[[str, int | None], Any]] = {
    "twilio": map_message_status,
}


async def apply_receipt_now(db: Database, receipt_id: int, now: datetime) -> str:
    async with db.write() as session:
        receipt = (await session.execute(
            select(NotificationReceipt).where(NotificationReceipt.id == receipt_id)
            .with_for_update())).scalar_one_or_none()
        if receipt is None or receipt.applied_at is not None:
            return "done"
        row = None
        if receipt.notification_id is not None:
            row = await _locked(session, receipt.notification_id)
        if row is None and receipt.provider_ref:
            row = (await session.execute(
                select(Notification).where(Notification.provider_ref == receipt.provider_ref)
                .with_for_update())).scalars().first()
        receipt.applied_at = now
        if row is None:
            receipt.outcome = ReceiptOutcome.UNKNOWN
            log.warning("receipt_for_unknown_notification", receipt_id=receipt.id)
            return receipt.outcome
        mapped = RECEIPT_MAPPERS[receipt.provider](receipt.provider_status, receipt.error_code)
        if row.provider_ref is None:
            row.provider_ref = receipt.provider_ref
        elif receipt.provider_ref and row.provider_ref != receipt.provider_ref:
            log.warning("receipt_for_other_message", notification_id=row.id,
                        receipt_id=receipt.id)
        if receipt.error_code is not None:
            metrics.PROVIDER_ERRORS.labels(row.channel, str(receipt.error_code)).inc()
        if mapped.status is None:
            receipt.outcome = ReceiptOutcome.IGNORED
            log.warning("receipt_status_not_understood", notification_id=row.id,
                        receipt_id=receipt.id)
            return receipt.outcome
        new = S(mapped.status)
        if not may_move(row.status, new):
            receipt.outcome = ReceiptOutcome.IGNORED
            log.info("receipt_ignored", notification_id=row.id, receipt_id=receipt.id,
                     current=row.status, proposed=new.value,
                     why="duplicate" if row.status == new else "out_of_order_or_final")
            return receipt.outcome
        if row.handed_over_at is None:  # the receipt overtook our own "accepted"
            row.handed_over_at = now
            metrics.observe_handover(row.channel, row.due_at, now)
        _move(session, row, new, now, "receipt", mapped.reason, receipt.error_code)
        await _block_if_needed(session, row, mapped, now)
        receipt.outcome = ReceiptOutcome.APPLIED
        return receipt.outcome


async def apply_receipt(ctx: dict[str, Any], receipt_id: int) -> str:
    """arq job: apply one recorded provider receipt."""
    runtime = runtime_of(ctx)
    return await apply_receipt_now(runtime.db, receipt_id, runtime.clock())


# --- periodic ----------------------------------------------------------------

def _waiting_and_free(now: datetime) -> Any:
    return and_(Notification.status == S.CREATED, Notification.send_after <= now,
                or_(Notification.claimed_until.is_(None), Notification.claimed_until <= now))


async def _queue_rows(runtime: Runtime, condition: Any, now: datetime, *,
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
    if receipts:
        assert runtime.queue is not None
        await runtime.queue.enqueue_receipts(receipts)
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
            if _move(session, row, new, now, "timeout", Reason.TIMEOUT):
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
        purged += len(ids) + int(inbound.rowcount or 0)  # type: ignore[attr-defined]
        if len(ids) < runtime.config.batch:
            break
    if purged:
        log.info("notifications_purged", count=purged)
    return purged


#: Every job the worker must know: name -> coroutine (see ``notifications.worker``).
JOB_FUNCTIONS: dict[str, Callable[..., Any]] = {
    DELIVER: deliver_notification,
    DELIVER_BATCH: deliver_batch,
    APPLY_RECEIPT: apply_receipt,
}
