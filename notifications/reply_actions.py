"""Acting on a text someone sent us, and answering it: :func:`handle_reply`,
run by the ``handle_reply`` job for one stored ``inbound_sms`` row.

**Who.** The person who owns the number: the recipient of the newest text we
handed to it (the outbox keeps the number for the retention period), else
the patient whose profile has it. They act as themselves for their own
appointments, and as a guardian for the children the representation rules
let them act for *on the day of the reply* (``booking.relations``, the same
rules as the web). Nobody we know: stored, never answered (we do not text
strangers).

**Which appointment.** A number in the reply ("JA 2") picks a line of the
newest numbered list we sent to that number (:class:`SmsReplyChoice`). A
reply without one is about what our newest text to the number was about:
every line of a list ("JA" after "Svar JA 1 for Emma, JA 2 for Jonas, JA
for begge"), or the one appointment a notice was about. Otherwise it is
about the person's upcoming appointments: one is acted on, several get a
numbered list to choose from. Four digits are an offer's code, not a line.

**What.** Through the booking services, rules and audit, as the web does:

* confirm (JA): ``service.confirm``; one already confirmed counts as confirmed;
* cancel (AVBESTILL): ``service.cancel``, unless the rules refuse it or it
  is so late that the late-cancellation fee may apply: then the answer
  says why and gives the clinic's phone number (on the web the fee is shown
  before the patient decides, which a text cannot do);
* change (ENDRE): ``rules.may_change`` is asked first (the change cut-off);
  the answer has a signed link to the change page and, where the whole
  text fits in two SMS segments, two or three free times to reply with
  ("ENDRE 1"), which ``service.change`` then books;
* STOP/STOPP: the number is blocked (no answer: Twilio confirms an opt-out
  itself); START lifts the block and says so; HJELP/HELP: the help answer;
* HER (check-in): ``booking.attendance.check_in`` for each of today's
  appointments (the sender's and the children's) that may be checked in now;
  the desk sees them arrived;
* a four-digit code ("JA 4821"): the offer of freed time that went to this
  number with that code, accepted through ``notifications.refill.accept_by_code``
  (the appointment moves to the offered time).

**Answers.** Each is an outbox row (``Purpose.REPLY``) with its words and
number settled here, sent at any hour (the person just wrote to us) by the
usual delivery (``jobs.deliver``, with all its guards), run by the same job
right away; if that fails the row is queued like any other. The booking's own notice to the
person (the cancellation or change notice) is left out
(``outbox.answering``). Never a loop: a text from our own number is
ignored, a reply not understood right after a help answer gets no second
one, and a number gets at most ``SMS_REPLY_ANSWERS_PER_DAY`` answers in 24
hours (further replies are still acted on). Bodies and numbers are never
logged.

A reply is handled at most once: the job marks it taken before acting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import structlog
from babel.dates import format_datetime
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking import rules, service
from booking.attendance import check_in
from booking.audit import Actor
from booking.models import Appointment, AppointmentType, Clinic, Patient
from booking.picker import distinct_times
from booking.reasons import Reason as BookingReason
from booking.reasons import Warning as BookingWarning
from booking.refill_models import RefillOffer
from booking.relations import LocalRelations, guardian_children
from booking.representation import Access, Capability, allows
from booking.rules import local_date
from booking.search import free_slots
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus
from notifications import outbox
from notifications.models import InboundSms, Notification, SmsReplyChoice
from notifications.recipients import Role, block_number, normalise_mobile, unblock_number
from notifications.refill import accept_by_code
from notifications.replies import Intent, Reply, parse
from notifications.reply_texts import VERSION, Answer, Item, choices, describe, render
from notifications.runtime import Runtime
from notifications.schedule import OSLO
from notifications.segments import count_segments
from notifications.statuses import (
    BlockReason,
    Channel,
    NotificationStatus,
    Purpose,
    ReplyOutcome,
)
from notifications.templates import sign_appointment

log = structlog.get_logger(__name__)

#: Whose number it is: the newest text we handed to it in this period.
OWNER_LOOKBACK: Final = timedelta(days=90)
#: A numbered list is read for this long after it was written.
CHOICES_VALID: Final = timedelta(days=7)
#: An answer not handed over within this is not worth sending.
ANSWER_VALIDITY: Final = timedelta(hours=1)
#: Free times offered in a change answer, at most (fewer if they do not fit).
MAX_TIMES: Final = 3
MIN_TIMES: Final = 2
MAX_SEGMENTS: Final = 2
_UPCOMING = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


@dataclass(frozen=True)
class Sender:
    """Who wrote, as the rules see them today."""

    inbound_id: int
    e164: str
    owner_id: int
    #: The children the owner may handle appointments for today.
    represents: frozenset[int]
    #: The language our answers are in.
    language: str

    def actor_for(self, patient_id: int) -> Actor:
        if patient_id == self.owner_id:
            return Actor.patient(self.owner_id)
        return Actor.guardian(self.owner_id, self.represents)


@dataclass(frozen=True)
class Target:
    appointment: Appointment
    clinic_name: str
    clinic_phone: str
    #: The child's first name (None: the sender's own appointment).
    name: str | None
    #: A new time chosen from a change answer's list.
    slot_id: int | None = None

    def item(self) -> Item:
        return Item(self.appointment.starts_at, self.name)


@dataclass
class Result:
    outcome: ReplyOutcome
    owner_id: int | None = None
    appointment_id: int | None = None
    answer_id: int | None = None


# --- the job ------------------------------------------------------------------

async def handle_reply(runtime: Runtime, inbound_id: int,
                       hand_over: Callable[[int], Awaitable[str]] | None = None) -> str:
    """Act on one stored reply and answer it; returns the outcome (or
    ``handled`` if it was taken before). ``hand_over`` hands the answer to
    the provider at once (``jobs.deliver``, with all its guards); without
    it, or if it fails, the answer is queued (and ``enqueue_due`` finds it
    in any case)."""
    now = runtime.clock()
    async with runtime.db.write() as session:
        inbound = (await session.execute(
            select(InboundSms).where(InboundSms.id == inbound_id,
                                     InboundSms.handled_at.is_(None))
            .with_for_update(skip_locked=True))).scalar_one_or_none()
        if inbound is None:
            return "handled"
        inbound.handled_at = now
        body, e164, to_number = inbound.body or "", inbound.from_e164, inbound.to_number
    reply = parse(body)
    try:
        result = await act(runtime, inbound_id, reply, e164, to_number, now)
    except Exception as exc:  # taken once: say so, never act twice
        log.error("sms_reply_failed", inbound_id=inbound_id, error=type(exc).__name__,
                  exc_info=True)
        result = Result(ReplyOutcome.FAILED)
    async with runtime.db.write() as session:
        await session.execute(
            update(InboundSms).where(InboundSms.id == inbound_id)
            .values(intent=reply.intent.value if reply.intent else None,
                    argument=reply.number, owner_id=result.owner_id,
                    appointment_id=result.appointment_id, outcome=result.outcome,
                    answer_id=result.answer_id)
            .execution_options(synchronize_session=False))
    if result.answer_id is not None:
        await _send_answer(runtime, result.answer_id, hand_over)
    log.info("sms_reply_handled", inbound_id=inbound_id,
             intent=reply.intent.value if reply.intent else None, typo=reply.typo,
             outcome=result.outcome.value, owner_id=result.owner_id,
             appointment_id=result.appointment_id, answer_id=result.answer_id)
    return result.outcome.value


async def _send_answer(runtime: Runtime, answer_id: int,
                       hand_over: Callable[[int], Awaitable[str]] | None) -> None:
    if hand_over is not None:
        try:
            await hand_over(answer_id)
            return
        except Exception as exc:
            log.warning("sms_answer_hand_over_failed", answer_id=answer_id,
                        error=type(exc).__name__)
    if runtime.queue is not None:
        try:
            await runtime.queue.enqueue_deliveries([(answer_id, 0)])
        except Exception as exc:  # enqueue_due finds the row anyway
            log.warning("sms_answer_enqueue_failed", error=type(exc).__name__)


async def act(runtime: Runtime, inbound_id: int, reply: Reply, e164: str | None,
              to_number: str | None, now: datetime) -> Result:
    if not e164:
        return Result(ReplyOutcome.UNKNOWN_NUMBER)
    own = set(runtime.config.own_numbers)
    if to_number:
        own.add(normalise_mobile(to_number) or to_number)
    if e164 in own:
        return Result(ReplyOutcome.OWN)
    if reply.intent is Intent.STOP:
        async with runtime.db.write() as session:
            await block_number(session, e164, BlockReason.OPTED_OUT, now)
        return Result(ReplyOutcome.STOPPED)
    owner_id = await owner_of(runtime, e164, now)
    if owner_id is None:
        if reply.intent is Intent.START:
            async with runtime.db.write() as session:
                await unblock_number(session, e164, BlockReason.OPTED_OUT)
        return Result(ReplyOutcome.UNKNOWN_NUMBER)
    sender = await _sender(runtime, inbound_id, e164, owner_id, reply, now)
    result = await _act_as(runtime, sender, reply, now)
    result.owner_id = owner_id
    return result


async def _act_as(runtime: Runtime, sender: Sender, reply: Reply, now: datetime) -> Result:
    intent = reply.intent
    if intent is Intent.START:
        async with runtime.db.write() as session:
            await unblock_number(session, sender.e164, BlockReason.OPTED_OUT)
        return await _answered(runtime, sender, ReplyOutcome.STARTED,
                               render("started", sender.language), now)
    if intent is Intent.HELP:
        return await _help(runtime, sender, now)
    if intent is Intent.CHECKIN:
        return await _check_in(runtime, sender, now)
    if reply.code is not None:
        return await _accept_code(runtime, sender, reply.code, now)
    if intent is None:
        if await _helped_lately(runtime, sender.e164, now):
            return Result(ReplyOutcome.SILENT)
        return await _help(runtime, sender, now)
    targets, listed = await _targets(runtime, sender, reply, now)
    if not targets:
        return await _help(runtime, sender, now)
    if targets[0].slot_id is not None and intent in (Intent.CONFIRM, Intent.CHANGE):
        return await _change_to(runtime, sender, targets[0], now)  # "ENDRE 2" of a list
    if intent is Intent.CONFIRM:
        if len(targets) > 1 and not listed:
            return await _choose(runtime, sender, "word_confirm", targets, now, everyone=True)
        return await _confirm(runtime, sender, targets, now)
    if len(targets) > 1:
        word = "word_cancel" if intent is Intent.CANCEL else "word_change"
        return await _choose(runtime, sender, word, targets, now, everyone=False)
    if intent is Intent.CANCEL:
        return await _cancel(runtime, sender, targets[0], now)
    return await _offer_change(runtime, sender, targets[0], now)


# --- who wrote ------------------------------------------------------------------

async def owner_of(runtime: Runtime, e164: str, now: datetime) -> int | None:
    """The recipient of the newest text we handed to ``e164``, else the
    patient whose profile has the number (the lowest id if several)."""
    async with runtime.db.read() as session:
        texted = (await session.execute(
            select(Notification.recipient_id)
            .where(Notification.to_e164 == e164, Notification.channel == Channel.SMS,
                   Notification.created_at > now - OWNER_LOOKBACK)
            .order_by(Notification.id.desc()).limit(1))).scalar_one_or_none()
        if texted is not None:
            return int(texted)
        profile = (await session.execute(
            select(Patient.id).where(Patient.mobile == e164).order_by(Patient.id)
            .limit(1))).scalar_one_or_none()
    return None if profile is None else int(profile)


async def _sender(runtime: Runtime, inbound_id: int, e164: str, owner_id: int, reply: Reply,
                  now: datetime) -> Sender:
    relations = runtime.relations or LocalRelations(runtime.db)
    children = await guardian_children(relations, owner_id, local_date(now))
    represents = frozenset(c.patient_id for c in children
                           if c.access is not Access.NONE
                           and allows(c.access, Capability.CONFIRM))
    async with runtime.db.read() as session:
        language = (await session.execute(
            select(Notification.language)
            .where(Notification.to_e164 == e164, Notification.channel == Channel.SMS,
                   Notification.language.is_not(None))
            .order_by(Notification.id.desc()).limit(1))).scalar_one_or_none()
        if language is None:
            language = (await session.execute(
                select(Patient.preferred_language).where(Patient.id == owner_id)
            )).scalar_one_or_none()
    return Sender(inbound_id, e164, owner_id, represents,
                  language or reply.language or "nb")


# --- which appointment ------------------------------------------------------------

async def _targets(runtime: Runtime, sender: Sender, reply: Reply, now: datetime
                   ) -> tuple[list[Target], bool]:
    """The appointments the reply is about, and whether they came from a
    list we sent (see the module's docstring)."""
    async with runtime.db.read() as session:
        upcoming = await _upcoming(session, sender, now)
        by_id = {t.appointment.id: t for t in upcoming}
        if reply.number is not None:
            lines = await _latest_list(session, sender.e164, now)
            if lines:
                line = lines.get(reply.number)
                if line is None or line.appointment_id not in by_id:
                    return [], True
                chosen = by_id[line.appointment_id]
                if line.slot_id is not None:
                    chosen = Target(chosen.appointment, chosen.clinic_name,
                                    chosen.clinic_phone, chosen.name, line.slot_id)
                return [chosen], True
            ordered = _relevant(upcoming, reply)
            if 1 <= reply.number <= len(ordered):
                return [ordered[reply.number - 1]], False
            return [], False
        latest = (await session.execute(
            select(Notification.id, Notification.appointment_id)
            .where(Notification.to_e164 == sender.e164, Notification.channel == Channel.SMS,
                   Notification.status != NotificationStatus.CANCELLED)
            .order_by(Notification.id.desc()).limit(1))).first()
        if latest is not None:
            lines = await _list_of(session, latest.id)
            if lines and all(line.slot_id is None for line in lines.values()):
                listed = [by_id[line.appointment_id] for _, line in sorted(lines.items())
                          if line.appointment_id in by_id]
                if listed:
                    return listed, True
            if latest.appointment_id is not None:
                about = await _latest_in_chain(session, latest.appointment_id)
                if about is not None and about in by_id:
                    return [by_id[about]], False
    return _relevant(upcoming, reply), False


def _relevant(upcoming: list[Target], reply: Reply) -> list[Target]:
    """To confirm: those not yet confirmed (or, if all are, all of them);
    any other intent: every upcoming appointment."""
    if reply.intent is not Intent.CONFIRM:
        return upcoming
    waiting = [t for t in upcoming if t.appointment.status == AppointmentStatus.BOOKED]
    return waiting or upcoming


async def _upcoming(session: AsyncSession, sender: Sender, now: datetime) -> list[Target]:
    """The sender's and their represented children's upcoming appointments,
    the earliest first."""
    patient_ids = sorted({sender.owner_id, *sender.represents})
    found = (await session.execute(
        select(Appointment, Clinic.name, Clinic.phone, Patient.given_name)
        .join(Clinic, Clinic.id == Appointment.clinic_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.patient_id.in_(patient_ids),
               Appointment.status.in_(list(_UPCOMING)), Appointment.starts_at > now)
        .order_by(Appointment.starts_at, Appointment.id))).all()
    return [Target(appointment, clinic_name, phone,
                   None if appointment.patient_id == sender.owner_id
                   else _first_name(given_name))
            for appointment, clinic_name, phone, given_name in found]


def _first_name(given_name: str) -> str:
    parts = given_name.split()
    return parts[0] if parts else ""


async def _latest_list(session: AsyncSession, e164: str, now: datetime
                       ) -> dict[int, SmsReplyChoice]:
    newest = (await session.execute(
        select(func.max(SmsReplyChoice.notification_id))
        .where(SmsReplyChoice.e164 == e164,
               SmsReplyChoice.created_at > now - CHOICES_VALID))).scalar_one_or_none()
    return {} if newest is None else await _list_of(session, int(newest))


async def _list_of(session: AsyncSession, notification_id: int) -> dict[int, SmsReplyChoice]:
    lines = (await session.execute(
        select(SmsReplyChoice).where(SmsReplyChoice.notification_id == notification_id)
    )).scalars()
    return {line.position: line for line in lines}


async def _latest_in_chain(session: AsyncSession, appointment_id: int) -> int | None:
    appointment = await session.get(Appointment, appointment_id)
    if appointment is None:
        return None
    chain = appointment.chain_id or appointment.id
    latest = (await session.execute(
        select(Appointment.id).where(or_(Appointment.chain_id == chain, Appointment.id == chain))
        .order_by(Appointment.version.desc(), Appointment.id.desc()).limit(1)
    )).scalar_one_or_none()
    return None if latest is None else int(latest)


# --- the actions ----------------------------------------------------------------

async def _confirm(runtime: Runtime, sender: Sender, targets: Sequence[Target],
                   now: datetime) -> Result:
    done: list[Target] = []
    refused: list[tuple[Target, BookingReason]] = []
    for target in targets:
        try:
            await service.confirm(runtime.db, sender.actor_for(target.appointment.patient_id),
                                  appointment_id=target.appointment.id, now=now)
            done.append(target)
        except BookingRefused as exc:
            if exc.reason is BookingReason.ALREADY_CONFIRMED:
                done.append(target)
            else:
                refused.append((target, exc.reason))
    if not done:
        target, reason = refused[0]
        return await _refused(runtime, sender, target, reason, now)
    answer = render("confirmed", sender.language, clinic=done[0].clinic_name,
                    list=describe([t.item() for t in done], sender.language))
    return await _answered(runtime, sender, ReplyOutcome.CONFIRMED, answer, now,
                           appointment_id=done[0].appointment.id)


async def _cancel(runtime: Runtime, sender: Sender, target: Target, now: datetime) -> Result:
    actor = sender.actor_for(target.appointment.patient_id)
    async with runtime.db.read() as session:
        appointment = await session.get(Appointment, target.appointment.id)
        assert appointment is not None
        kind = await session.get(AppointmentType, appointment.appointment_type_id)
        patient = await session.get(Patient, appointment.patient_id)
        assert kind is not None and patient is not None
        decision = rules.may_cancel(actor, appointment, kind, patient, now)
        link = await _link(session, runtime, sender, appointment)
    if not decision:
        assert decision.reason is not None
        return await _refused(runtime, sender, target, decision.reason, now)
    if BookingWarning.LATE_CANCELLATION_FEE in decision.warnings:
        return await _refused(runtime, sender, target, BookingReason.CUTOFF_PASSED, now)
    try:
        with outbox.answering(sender.owner_id):
            await service.cancel(runtime.db, actor, appointment_id=appointment.id,
                                 reason="sms", now=now)
    except BookingRefused as exc:
        return await _refused(runtime, sender, target, exc.reason, now)
    answer = render("cancelled", sender.language, clinic=target.clinic_name,
                    list=describe([target.item()], sender.language), url=link)
    return await _answered(runtime, sender, ReplyOutcome.CANCELLED, answer, now,
                           appointment_id=appointment.id)


async def _offer_change(runtime: Runtime, sender: Sender, target: Target, now: datetime
                        ) -> Result:
    """The change page's link, and two or three free times where they fit."""
    actor = sender.actor_for(target.appointment.patient_id)
    async with runtime.db.read() as session:
        appointment = await session.get(Appointment, target.appointment.id)
        assert appointment is not None
        kind = await session.get(AppointmentType, appointment.appointment_type_id)
        patient = await session.get(Patient, appointment.patient_id)
        assert kind is not None and patient is not None
        decision = rules.may_change(actor, appointment, kind, patient, now)
        link = await _link(session, runtime, sender, appointment, "/endre")
    if not decision:
        assert decision.reason is not None
        return await _refused(runtime, sender, target, decision.reason, now)
    base = render("change", sender.language, clinic=target.clinic_name,
                  list=describe([target.item()], sender.language), url=link)
    free = [slot for slot in distinct_times(await free_slots(
        runtime.db, clinic_id=appointment.clinic_id,
        appointment_type_id=appointment.appointment_type_id, now=now, limit=20))
        if slot.starts_at != appointment.starts_at][:MAX_TIMES]
    offered: list[int] = []
    body = base.body
    for count in range(len(free), MIN_TIMES - 1, -1):
        names = [_short_when(slot.starts_at, sender.language) for slot in free[:count]]
        times = render("change_times", sender.language,
                       choices=choices("word_change", names, sender.language, everyone=False))
        candidate = f"{base.body} {times.body}"
        if count_segments(candidate).segments <= MAX_SEGMENTS:
            body, offered = candidate, [slot.slot_id for slot in free[:count]]
            break
    answer = Answer(body, base.template_id, base.language)
    lines = [(appointment.id, slot_id) for slot_id in offered]
    return await _answered(runtime, sender, ReplyOutcome.CHANGE_LINK, answer, now,
                           appointment_id=appointment.id, lines=lines)


async def _change_to(runtime: Runtime, sender: Sender, target: Target, now: datetime
                     ) -> Result:
    assert target.slot_id is not None
    actor = sender.actor_for(target.appointment.patient_id)
    try:
        with outbox.answering(sender.owner_id):
            outcome = await service.change(runtime.db, actor,
                                           appointment_id=target.appointment.id,
                                           new_slot_id=target.slot_id, now=now)
    except BookingRefused as exc:
        return await _refused(runtime, sender, target, exc.reason, now)
    async with runtime.db.read() as session:
        link = await _link(session, runtime, sender, outcome.appointment)
    moved = Target(outcome.appointment, target.clinic_name, target.clinic_phone, target.name)
    answer = render("changed", sender.language, clinic=target.clinic_name,
                    list=describe([moved.item()], sender.language), url=link)
    return await _answered(runtime, sender, ReplyOutcome.CHANGE_LINK, answer, now,
                           appointment_id=outcome.appointment.id)


async def _refused(runtime: Runtime, sender: Sender, target: Target, reason: BookingReason,
                   now: datetime) -> Result:
    why = {BookingReason.ALREADY_STARTED: "why_started",
           BookingReason.CUTOFF_PASSED: "why_late"}.get(reason, "why_other")
    because = render(why, sender.language).body
    answer = render("refused", sender.language, clinic=target.clinic_name, why=because,
                    phone=target.clinic_phone)
    result = await _answered(runtime, sender, ReplyOutcome.REFUSED, answer, now,
                             appointment_id=target.appointment.id)
    log.info("sms_reply_refused", inbound_id=sender.inbound_id, reason=reason.value,
             appointment_id=target.appointment.id)
    return result


async def _choose(runtime: Runtime, sender: Sender, word: str, targets: Sequence[Target],
                  now: datetime, *, everyone: bool) -> Result:
    """A numbered list of ``targets`` to reply to ("JA 1 for Emma ...")."""
    names = [t.name or _short_when(t.appointment.starts_at, sender.language) for t in targets]
    answer = render("choose", sender.language,
                    list=describe([t.item() for t in targets], sender.language, numbered=True),
                    choices=choices(word, names, sender.language, everyone=everyone))
    return await _answered(runtime, sender, ReplyOutcome.CHOOSE, answer, now,
                           lines=[(t.appointment.id, None) for t in targets])


async def _help(runtime: Runtime, sender: Sender, now: datetime) -> Result:
    url = f"{runtime.config.public_url.rstrip('/')}/min-side"
    return await _answered(runtime, sender, ReplyOutcome.HELP,
                           render("help", sender.language, url=url), now)


async def _check_in(runtime: Runtime, sender: Sender, now: datetime) -> Result:
    """HER: every appointment of today (the sender's and the children's)
    that may be checked in now is marked arrived, as "Jeg er her" on the web."""
    patient_ids = sorted({sender.owner_id, *sender.represents})
    async with runtime.db.read() as session:
        today = (await session.execute(
            select(Appointment, Clinic.name, Clinic.phone, Patient.given_name)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Appointment.patient_id.in_(patient_ids),
                   Appointment.status.in_(list(_UPCOMING)),
                   Appointment.arrived_at.is_(None), Appointment.ends_at > now,
                   Appointment.starts_at < now + timedelta(days=1))
            .order_by(Appointment.starts_at, Appointment.id))).all()
    done: list[Target] = []
    for appointment, clinic_name, phone, given_name in today:
        actor = sender.actor_for(appointment.patient_id)
        if not rules.may_check_in(actor, appointment, now):
            continue
        try:
            async with runtime.db.write() as session:
                await check_in(session, appointment.id, actor, now)
        except BookingRefused:
            continue
        done.append(Target(appointment, clinic_name, phone,
                           None if appointment.patient_id == sender.owner_id
                           else _first_name(given_name)))
    if not done:
        return await _answered(runtime, sender, ReplyOutcome.CHECKIN,
                               render("checkin_none", sender.language), now)
    answer = render("checked_in", sender.language, clinic=done[0].clinic_name,
                    list=describe([t.item() for t in done], sender.language))
    return await _answered(runtime, sender, ReplyOutcome.CHECKIN, answer, now,
                           appointment_id=done[0].appointment.id)


async def _accept_code(runtime: Runtime, sender: Sender, code: str, now: datetime
                       ) -> Result:
    """"JA 4821": take the freed time offered to this number with that code."""
    with outbox.answering(sender.owner_id):
        taken = await accept_by_code(runtime.db, sender.e164, code, now,
                                     relations=runtime.relations)
    if taken.outcome == "unknown":
        if await _helped_lately(runtime, sender.e164, now):
            return Result(ReplyOutcome.SILENT)
        return await _help(runtime, sender, now)
    if taken.outcome == "ended":
        return await _answered(runtime, sender, ReplyOutcome.CODE,
                               render("offer_ended", sender.language), now)
    assert taken.offer_id is not None
    async with runtime.db.read() as session:
        appointment_id = taken.appointment_id
        if appointment_id is None:  # ended or refused: the appointment the offer was for
            offer = await session.get(RefillOffer, taken.offer_id)
            assert offer is not None
            appointment_id = offer.appointment_id
        found = (await session.execute(
            select(Appointment, Clinic.name, Clinic.phone, Patient.given_name)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(Appointment.id == appointment_id))).one()
        appointment, clinic_name, phone, given_name = found
        target = Target(appointment, clinic_name, phone,
                        None if appointment.patient_id == sender.owner_id
                        else _first_name(given_name))
        link = await _link(session, runtime, sender, appointment)
    if taken.outcome == "refused":
        assert taken.reason is not None
        return await _refused(runtime, sender, target, taken.reason, now)
    answer = render("changed", sender.language, clinic=clinic_name,
                    list=describe([target.item()], sender.language), url=link)
    return await _answered(runtime, sender, ReplyOutcome.CODE, answer, now,
                           appointment_id=appointment.id)


def _short_when(starts_at: datetime, language: str) -> str:
    return format_datetime(starts_at.astimezone(OSLO), "EEE d.M. HH:mm", locale=language)


# --- answering ------------------------------------------------------------------

async def _link(session: AsyncSession, runtime: Runtime, sender: Sender,
                appointment: Appointment, suffix: str = "") -> str:
    """A signed ``/t/<token>`` link to the appointment, made from a text we
    sent the sender about its chain (the web checks the token against it);
    without one, the sender's own appointment list (login)."""
    base = runtime.config.public_url.rstrip("/")
    chain = appointment.chain_id or appointment.id
    found = (await session.execute(
        select(Notification.id, Notification.appointment_id)
        .join(Appointment, Appointment.id == Notification.appointment_id)
        .where(or_(Appointment.chain_id == chain, Appointment.id == chain),
               Notification.recipient_id == sender.owner_id,
               Notification.channel == Channel.SMS)
        .order_by(Notification.id.desc()).limit(1))).first()
    if found is None:
        return f"{base}/timer"
    token = sign_appointment(runtime.config.link_key, int(found.appointment_id), int(found.id))
    return f"{base}/t/{token}{suffix}"


async def _helped_lately(runtime: Runtime, e164: str, now: datetime) -> bool:
    async with runtime.db.read() as session:
        return bool((await session.execute(
            select(func.count()).select_from(Notification)
            .where(Notification.to_e164 == e164, Notification.purpose == Purpose.REPLY,
                   Notification.template_id == "reply.help",
                   Notification.created_at > now - timedelta(hours=24)))).scalar_one())


async def answers_today(session: AsyncSession, e164: str, now: datetime) -> int:
    return int((await session.execute(
        select(func.count()).select_from(Notification)
        .where(Notification.to_e164 == e164, Notification.purpose == Purpose.REPLY,
               Notification.created_at > now - timedelta(hours=24)))).scalar_one())


async def _answered(runtime: Runtime, sender: Sender, outcome: ReplyOutcome, answer: Answer,
                    now: datetime, *, appointment_id: int | None = None,
                    lines: Sequence[tuple[int, int | None]] = ()) -> Result:
    """Write ``answer`` to the sender as an outbox row (with its numbered
    lines), unless the number had its answers for today."""
    async with runtime.db.write() as session:
        # One answer at a time per person: the count below stays true.
        await session.execute(select(Patient.id).where(Patient.id == sender.owner_id)
                              .with_for_update())
        if await answers_today(session, sender.e164, now) >= \
                runtime.config.reply_answers_per_day:
            log.info("sms_reply_answer_limited", inbound_id=sender.inbound_id)
            return Result(ReplyOutcome.LIMITED if outcome in (ReplyOutcome.HELP,
                                                             ReplyOutcome.CHOOSE)
                          else outcome, appointment_id=appointment_id)
        row = Notification(
            appointment_id=None, appointment_version=None, patient_id=sender.owner_id,
            purpose=Purpose.REPLY, offset_minutes=0, channel=Channel.SMS,
            recipient_id=sender.owner_id,
            recipient_role=Role.SELF if not sender.represents else Role.GUARDIAN,
            status=NotificationStatus.CREATED, created_at=now, status_at=now, due_at=now,
            send_after=now, expires_at=now + ANSWER_VALIDITY, to_e164=sender.e164,
            body=answer.body, language=answer.language, template_id=answer.template_id,
            template_version=VERSION)
        session.add(row)
        await session.flush()
        session.add_all(SmsReplyChoice(notification_id=row.id, e164=sender.e164,
                                       position=position, appointment_id=appointment,
                                       slot_id=slot, created_at=now)
                        for position, (appointment, slot) in enumerate(lines, 1))
        answer_id = row.id
    return Result(outcome, appointment_id=appointment_id, answer_id=answer_id)
