"""Handing one SMS over (:func:`deliver_sms`, called by ``jobs.deliver``):

1. The row is ``created``, due, and nobody holds its lease (``jobs.deliver``
   checked it with ``transitions.not_ready``).
2. If an earlier hand-over is *in doubt* (a crash, a timeout after the request
   left), ask the provider (``SmsChannel.lookup``) first; never resend blindly.
3. Cancel it if the appointment changed or was cancelled since (the version
   and status are re-checked), let it expire if its validity ran out, and
   wait if the county's sending window is closed (:func:`judge`).
4. Settle number and words (``notifications.recipients``/``templates``).
5. Claim it (``in_doubt`` is set before the call, and ``send_after`` moves to
   the end of the lease, so the row is due again then if this worker dies),
   close the transaction, call the provider, and record what it said
   (:func:`record`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking import previsit
from booking.representation import LOGISTICS_FROM_AGE, Access
from booking.rules import age_on, confirmation_requested, local_date
from booking.statuses import AppointmentStatus
from core.db import Database
from notifications import helsenorge_first, metrics, refill_texts
from notifications.channels.base import SendOutcome, SmsResult, retry_delay
from notifications.confirm_requests import ask_guardian, awaiting_answer
from notifications.models import Notification, NumberCheck
from notifications.number_check import check_key, code_for, masked
from notifications.recipients import WAIT_FOR, Contact, Role, blocks_for, check_contact
from notifications.runtime import DeliveryConfig, Runtime
from notifications.schedule import MIN_VALIDITY, validity_seconds
from notifications.segments import count_segments
from notifications.statuses import (
    FAILED,
    REFILL_PURPOSES,
    Channel,
    NotificationStatus,
    Purpose,
    Reason,
)
from notifications.templates import (
    Audience,
    MessageContext,
    choose_language,
    first_given_name,
    links_for,
    render,
    render_code,
)
from notifications.transitions import (
    Snapshot,
    block_if_needed,
    claimable,
    end,
    move,
    superseded,
    take_lease,
    wait,
)

log = structlog.get_logger(__name__)
S = NotificationStatus
#: The window of the texts-per-number cap.
DAY = timedelta(hours=24)


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
    if row.unless_confirmed and snapshot.appointment is not None \
            and snapshot.appointment.status == AppointmentStatus.CONFIRMED:
        return Verdict("end", S.CANCELLED, Reason.CONFIRMED)  # a second reminder, not needed
    if now + MIN_VALIDITY > row.expires_at:
        return Verdict("end", S.TECHNICAL_FAILURE, Reason.EXPIRED)
    window = snapshot.window
    if validity_seconds(now, row.expires_at, window) < MIN_VALIDITY.total_seconds():
        # Closed, or closing too soon to be worth it: the next opening.
        opening = window.next_open(now if not window.is_open(now) else window.closes_at(now))
        if opening + MIN_VALIDITY > row.expires_at:
            return Verdict("end", S.TECHNICAL_FAILURE, Reason.EXPIRED_BEFORE_SENDING_HOURS)
        return Verdict("wait", reason=Reason.QUIET_HOURS, until=opening)
    return Verdict("send")


async def not_sent(db: Database, row: Notification, reason: Reason, now: datetime,
                   token: str | None) -> str:
    """No number to send to now: cancelled, unless the reason passes (the
    contact register did not answer: ``recipients.WAIT_FOR``) and it waits."""
    if reason in WAIT_FOR:
        return await wait(db, row, now + WAIT_FOR[reason], reason, now, token)
    return await end(db, row, S.CANCELLED, reason, now, token)


@dataclass(frozen=True)
class Prepared:
    to_e164: str | None
    body: str | None
    language: str | None = None
    template_id: str | None = None
    template_version: int | None = None
    skip: Reason | None = None
    #: The words the outbox keeps, when not ``body`` (a number check's, code masked).
    kept_body: str | None = None


async def _prepare(runtime: Runtime, snapshot: Snapshot, now: datetime) -> Prepared:
    return (await prepare_many(runtime, [snapshot], now))[snapshot.row.id]


async def prepare_many(runtime: Runtime, snapshots: Sequence[Snapshot], now: datetime
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
        sent = await sent_today(session, list(numbers.values()), now)
        nonces = await check_nonces(session, [s.row.id for s in snapshots
                                              if s.row.purpose == Purpose.NUMBER_CHECK])
        offers = await refill_texts.offer_details(
            session, [s.row.offset_minutes for s in snapshots
                      if s.row.purpose in REFILL_PURPOSES])
    together = await siblings_asked_together(
        runtime, [s for s in snapshots if s.row.id in numbers], now)
    for snapshot in snapshots:
        row = snapshot.row
        e164 = numbers.get(row.id)
        if e164 is None:
            continue
        if e164 in blocked:
            prepared[row.id] = Prepared(None, None, skip=blocked[e164])
        elif sent.get(e164, 0) >= runtime.config.daily_cap:
            metrics.count_capped(row.channel)
            log.warning("notification_daily_cap", notification_id=row.id,
                        cap=runtime.config.daily_cap)
            prepared[row.id] = Prepared(None, None, skip=Reason.DAILY_CAP)
            continue
        elif row.purpose == Purpose.NUMBER_CHECK:
            prepared[row.id] = _render_code(runtime, e164, contacts.get(row.recipient_id),
                                            nonces.get(row.id))
        elif row.body:
            prepared[row.id] = Prepared(e164, row.body, row.language, row.template_id,
                                        row.template_version)
        elif row.purpose in REFILL_PURPOSES:
            prepared[row.id] = _render_refill(runtime, snapshot, e164,
                                              contacts.get(row.recipient_id),
                                              offers.get(row.offset_minutes), now)
        else:
            prepared[row.id] = _render(runtime, snapshot, e164, contacts.get(row.recipient_id),
                                       now, may_ask=row.id not in together)
        sent[e164] = sent.get(e164, 0) + 1
    return prepared


async def sent_today(session: AsyncSession, numbers: Sequence[str], now: datetime
                     ) -> dict[str, int]:
    """Texts handed over to each of ``numbers`` in the 24 hours before ``now``."""
    if not numbers:
        return {}
    rows = await session.execute(
        select(Notification.to_e164, func.count())
        .where(Notification.channel == Channel.SMS,
               Notification.to_e164.in_(sorted(set(numbers))),
               Notification.handed_over_at > now - DAY)
        .group_by(Notification.to_e164))
    return {number: int(count) for number, count in rows.all() if number is not None}


async def check_nonces(session: AsyncSession, notification_ids: Sequence[int]
                       ) -> dict[int, str]:
    """The nonces of the number checks these outbox rows carry codes for."""
    if not notification_ids:
        return {}
    rows = await session.execute(
        select(NumberCheck.notification_id, NumberCheck.nonce)
        .where(NumberCheck.notification_id.in_(sorted(notification_ids))))
    return {nid: nonce for nid, nonce in rows.all() if nid is not None}


def _render_code(runtime: Runtime, e164: str, contact: Contact | None, nonce: str | None
                 ) -> Prepared:
    """A number check's words: the code, derived again here and kept only masked."""
    if nonce is None:
        return Prepared(None, None, skip=Reason.SUPERSEDED)
    code = code_for(check_key(runtime.config.link_key), nonce)
    rendered = render_code(choose_language(contact.language if contact else None), code)
    return Prepared(e164, rendered.body, rendered.language, rendered.template_id,
                    rendered.template_version, kept_body=masked(rendered.body, code))


async def siblings_asked_together(runtime: Runtime, snapshots: Sequence[Snapshot],
                                  now: datetime) -> set[int]:
    """The guardians' reminders among ``snapshots`` that would ask for JA while
    the guardian has two or more children's appointments awaiting an answer:
    those reminders go without asking, and one numbered text asks for them all
    ("JA 1 for Emma, JA 2 for Jonas, JA for begge",
    ``confirm_requests.ask_guardian``, written once in its period however
    many reminders come due). Returns those reminders' row ids."""
    together: set[int] = set()
    several: dict[int, bool] = {}
    for snapshot in snapshots:
        row, appointment = snapshot.row, snapshot.appointment
        if row.purpose != Purpose.REMINDER or row.recipient_role != Role.GUARDIAN \
                or appointment is None or not confirmation_requested(appointment):
            continue
        guardian = row.recipient_id
        if guardian not in several:
            waiting = await awaiting_answer(runtime, guardian, now)
            several[guardian] = len(waiting) >= 2
            if several[guardian]:
                await ask_guardian(runtime, guardian, now, waiting)
        if several[guardian]:
            together.add(row.id)
    return together


def reminder_asks_and_links(snapshot: Snapshot, now: datetime) -> tuple[bool, bool]:
    """(asks for the confirm keyword, links the pre-visit form) of a reminder
    row about to go: it asks only where the reply would confirm (the clinic
    awaits the answer, ``booking.rules.confirmation_requested``), and links
    the form only to a recipient who may fill it in today
    (``booking.previsit.who_fills``: a guardian for a child under 12, the
    young person from 12, and from 16 only they; the recipients themselves
    were chosen by the representation rules) at a clinic that uses it."""
    row, appointment = snapshot.row, snapshot.appointment
    if row.purpose != Purpose.REMINDER or appointment is None:
        return False, False
    asks = confirmation_requested(appointment)
    form = False
    if snapshot.clinic_uses_form and snapshot.patient_birth_date is not None \
            and previsit.is_open(appointment, now):
        age = age_on(snapshot.patient_birth_date, local_date(now))
        guardian = row.recipient_role == Role.GUARDIAN
        access = Access.FULL if age < LOGISTICS_FROM_AGE else Access.LOGISTICS
        form = previsit.who_fills(for_child=guardian, access=access, age=age) is None
    return asks, form


def _render(runtime: Runtime, snapshot: Snapshot, e164: str, contact: Contact | None,
            now: datetime, *, may_ask: bool = True) -> Prepared:
    row = snapshot.row
    assert snapshot.appointment is not None
    guardian = row.recipient_role == Role.GUARDIAN
    language = choose_language(contact.language if contact else None)
    asks, form = reminder_asks_and_links(snapshot, now)
    asks = asks and may_ask
    rendered = render(
        row.purpose, Audience.GUARDIAN if guardian else Audience.SELF, language,
        MessageContext(
            clinic_name=snapshot.clinic_name, starts_at=snapshot.appointment.starts_at,
            links=links_for(runtime.config.public_url, runtime.config.link_key,
                            snapshot.appointment.id, row.id),
            child_first_name=first_given_name(snapshot.patient_given_name) if guardian
            else None, asks_to_confirm=asks, form=form))
    return Prepared(e164, rendered.body, rendered.language, rendered.template_id,
                    rendered.template_version)


def _render_refill(runtime: Runtime, snapshot: Snapshot, e164: str, contact: Contact | None,
                   offer: refill_texts.OfferDetails | None, now: datetime) -> Prepared:
    """An offer of freed time (code, link, minutes left) or its "taken" notice."""
    row = snapshot.row
    if offer is None:
        return Prepared(None, None, skip=Reason.SUPERSEDED)
    guardian = row.recipient_role == Role.GUARDIAN
    minutes = max(1, int((offer.expires_at - now).total_seconds() // 60))
    rendered = refill_texts.render(
        Purpose(row.purpose), Audience.GUARDIAN if guardian else Audience.SELF,
        choose_language(contact.language if contact else None), clinic=offer.clinic_name,
        starts_at=offer.starts_at, code=offer.code,
        url=refill_texts.offer_url(runtime.config.public_url, runtime.config.link_key,
                                   offer.offer_id, row.recipient_id),
        minutes=minutes,
        child=first_given_name(snapshot.patient_given_name) if guardian else None)
    return Prepared(e164, rendered.body, rendered.language, rendered.template_id,
                    rendered.template_version)


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
                    to_e164=prepared.to_e164, body=prepared.kept_body or prepared.body,
                    language=prepared.language,
                    template_id=prepared.template_id,
                    template_version=prepared.template_version,
                    segments=count_segments(prepared.body).segments
                    if prepared.body is not None else None, reason=None)
            .execution_options(synchronize_session=False))
    return new_token if result.rowcount == 1 else None  # type: ignore[attr-defined]


async def deliver_sms(runtime: Runtime, snapshot: Snapshot, now: datetime) -> str:
    """Hand one due, unclaimed SMS row to the provider; returns what happened."""
    row = snapshot.row
    token: str | None = None
    if row.in_doubt:
        token = await take_lease(runtime.db, row, now, runtime.config.lease)
        if token is None:
            return "claimed"
        verdict = await _reconcile(runtime, row, token, now)
        if verdict != "not_sent":
            return verdict
    decision = judge(snapshot, now)
    if decision.action == "end":
        assert decision.status is not None and decision.reason is not None
        return await end(runtime.db, row, decision.status, decision.reason, now, token)
    if decision.action == "wait":
        assert decision.until is not None and decision.reason is not None
        return await wait(runtime.db, row, decision.until, decision.reason, now, token)
    if token is None:
        instead = await helsenorge_first.route(runtime, snapshot, now)
        if instead is not None:
            return instead
    prepared = await _prepare(runtime, snapshot, now)
    if prepared.skip is not None:
        return await not_sent(runtime.db, row, prepared.skip, now, token)
    claimed = await _claim(runtime, snapshot, prepared, now, token)
    if claimed is None:
        return "claimed"
    return await record(runtime, row.id, claimed, await send(runtime, snapshot, prepared, now))


async def send(runtime: Runtime, snapshot: Snapshot, prepared: Prepared, now: datetime
               ) -> SmsResult:
    """Call the provider; a channel that raises gives an outcome in doubt."""
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
        move(session, row, target, now, "job", result.reason if failed else None,
             result.error_code)
        if failed:
            await block_if_needed(session, row, result, now)
        return "accepted"
    if not ours or row.status != S.CREATED:
        log.info("notification_lease_lost", notification_id=row.id, outcome=outcome.value)
        return "lease_lost"
    if outcome is SendOutcome.FAILED:
        status = S(result.status) if result.status in FAILED else S.TECHNICAL_FAILURE
        move(session, row, status, now, "job",
             result.reason or Reason.PROVIDER_REJECTED, result.error_code)
        await block_if_needed(session, row, result, now)
        return "failed"
    if outcome is SendOutcome.RETRY:
        row.in_doubt = False
        row.error_code = result.error_code
        if row.attempts >= config.max_attempts:
            move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.RETRIES_EXHAUSTED,
                 result.error_code)
            return "failed"
        delay = timedelta(seconds=retry_delay(row.attempts, retry_after=result.retry_after))
        if now + delay + MIN_VALIDITY > row.expires_at:
            move(session, row, S.TECHNICAL_FAILURE, now, "job", Reason.EXPIRED,
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
