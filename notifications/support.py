"""The county's user support: find a patient, read their notification
timeline, resend a message, and the call list.

Scope: a support member (or county administrator) acts for every clinic of
their own county (``Actor.clinic_ids``), and sees a patient only through
appointments at those clinics. A patient with no appointment there is "not
found", exactly as one who does not exist; the look-up is audited either way.

Every look-up names a purpose from :class:`LookupPurpose` and is written to
the audit log, as is revealing a number in full, a resend (by
:func:`notifications.service.resend`), saving a corrected number and marking
a call done. Audit details hold internal ids only; an identity number or a
phone number is never written to the log or to a log line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

import phonenumbers
import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit, patient_lookup
from booking.audit import Actor
from booking.models import Appointment, Clinic, Patient
from booking.patient_lookup import PatientHit  # re-exported for the support pages
from booking.reasons import N_
from booking.reference import reference
from booking.statuses import ACTIVE
from core.db import Database, utcnow
from core.identity import IdentityVault
from notifications import service
from notifications.channels.twilio_status import ERROR_CODES
from notifications.models import InboundSms, Notification, NotificationEvent, SupportCall
from notifications.reason_text import REASON_TEXT
from notifications.recipients import normalise_mobile
from notifications.statuses import (
    FAILED,
    IN_FLIGHT,
    WAITING,
    Channel,
    NotificationStatus,
    Purpose,
    Reason,
    ReplyOutcome,
)

log = structlog.get_logger(__name__)

AUDIT_PURPOSE: Final = "support"
LOOKUP_ACTION: Final = "support.patient.lookup"
VIEW_ACTION: Final = "support.patient.view"
REVEAL_ACTION: Final = "support.number.reveal"
MOBILE_ACTION: Final = "support.patient.mobile"
CALL_DONE_ACTION: Final = "support.call.done"
CALL_UNDONE_ACTION: Final = "support.call.undone"
#: How far ahead the call list looks.
CALL_LIST_DAYS: Final = 7
#: Longest free text kept (a reason).
REASON_LIMIT: Final = 200
#: Longest typed name searched for.
NAME_LIMIT: Final = patient_lookup.NAME_LIMIT


class LookupPurpose(StrEnum):
    """Why support looks a patient up: a closed list (helsepersonelloven § 21)."""

    PATIENT_CALLED = "patient_called"
    MESSAGE_NOT_RECEIVED = "message_not_received"
    NUMBER_CHANGED = "number_changed"
    CALL_LIST = "call_list"
    #: A county administrator's audit viewer (``web.oversight``).
    ACCESS_REQUEST = "access_request"
    AUDIT_CHECK = "audit_check"


PURPOSE_TEXT: Final[dict[str, str]] = {
    LookupPurpose.PATIENT_CALLED: N_("The patient or a guardian called us"),
    LookupPurpose.MESSAGE_NOT_RECEIVED: N_("A text message did not arrive"),
    LookupPurpose.NUMBER_CHANGED: N_("The mobile number has changed"),
    LookupPurpose.CALL_LIST: N_("Phoning from the call list"),
}

#: Why a county administrator looks a patient up in the audit log.
AUDIT_PURPOSE_TEXT: Final[dict[str, str]] = {
    LookupPurpose.ACCESS_REQUEST: N_("The patient asked who has seen their data"),
    LookupPurpose.AUDIT_CHECK: N_("Checking a report or a suspicion of improper access"),
}

#: What a message was about, in words for support.
MESSAGE_PURPOSE_TEXT: Final[dict[str, str]] = {
    Purpose.CONFIRMATION: N_("booking confirmation"),
    Purpose.INNKALLING: N_("appointment notice"),
    Purpose.CHANGE: N_("changed appointment"),
    Purpose.CANCELLATION: N_("cancellation"),
    Purpose.REMINDER: N_("reminder"),
    Purpose.REFILL_OFFER: N_("offer of an earlier time"),
    Purpose.REFILL_TAKEN: N_("earlier time taken by someone else"),
    Purpose.MOVE_REQUEST: N_("request to pick a new time"),
}

#: What a text about an appointment did (``inbound_sms.outcome``), for support.
REPLY_OUTCOME_TEXT: Final[dict[str, str]] = {
    ReplyOutcome.CONFIRMED: N_("Confirmed the appointment by text message."),
    ReplyOutcome.CANCELLED: N_("Cancelled the appointment by text message."),
    ReplyOutcome.CHANGE_LINK: N_("Asked to change: got the link to the change page."),
    ReplyOutcome.REFUSED: N_("Refused by text message: was told why and given the clinic's "
                             "phone number."),
}

#: Why a resend (or a number) was refused, in words for support.
REFUSAL_TEXT: Final[dict[str, str]] = {
    "reason_required": N_("Write why the message is sent again."),
    "not_a_mobile_number": N_("That is not a mobile number. Write a Norwegian mobile number "
                              "(8 digits) or an international one with + and country code."),
    "unknown_notification": N_("We could not find that message."),
    "still_in_flight": N_("That message is still on its way. Wait for its outcome."),
    "already_resent": N_("That message has already been sent again and is on its way."),
    "not_an_sms": N_("Only text messages can be sent again."),
    "appointment_started": N_("The appointment has already started."),
    "choose_purpose": N_("Choose why you look the patient up."),
    "name_and_birth_date": N_("Write the identity number, or the full name and the birth "
                              "date (day.month.year)."),
    "unknown_appointment": N_("We could not find that appointment."),
}


class SupportRefused(Exception):
    """A translated-at-display reason (a :data:`REFUSAL_TEXT` key); nothing changed."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# --- finding a patient ---------------------------------------------------------

def _visible(actor: Actor) -> Sequence[int]:
    return sorted(actor.clinic_ids)


async def _in_scope(session: AsyncSession, actor: Actor, patient_ids: Sequence[int]
                    ) -> set[int]:
    """Those of ``patient_ids`` with an appointment at one of the actor's clinics."""
    return await patient_lookup.in_scope(session, actor.clinic_ids, patient_ids)


async def find_patients(db: Database, vault: IdentityVault, actor: Actor, purpose: str, *,
                        identity_number: str | None = None, name: str | None = None,
                        birth_date: date | None = None,
                        now: datetime | None = None) -> list[PatientHit]:
    """The patients of the actor's county matching an identity number, or a
    full name ("given family") and birth date. Audited with the purpose, also
    when nothing (or only another county's patient) is found."""
    if purpose not in set(LookupPurpose):
        raise SupportRefused("choose_purpose")
    if identity_number is not None:
        query = patient_lookup.by_identity_number(vault, identity_number)
        by = "identity_number"
    else:
        named = (patient_lookup.by_name_and_birth_date(name or "", birth_date)
                 if birth_date is not None else None)
        if named is None:
            raise SupportRefused("name_and_birth_date")
        query, by = named, "name_and_birth_date"
    async with db.write() as session:
        matches = await patient_lookup.matches(session, query)
        visible = await _in_scope(session, actor, [p.id for p in matches])
        hits = [PatientHit(p.id, p.given_name, p.family_name, p.birth_date)
                for p in matches if p.id in visible]
        outside = [p.id for p in matches if p.id not in visible]
        subject = hits[0].patient_id if len(hits) == 1 else None
        await audit.record(
            session, actor, LOOKUP_ACTION, purpose=AUDIT_PURPOSE, subject_patient_id=subject,
            detail={"lookup_purpose": purpose, "by": by,
                    "found": [h.patient_id for h in hits], "outside_county": outside},
            now=now)
    log.info("support_lookup", by=by, found=len(hits), outside_county=len(outside),
             actor_kind=actor.kind.value)
    return hits


async def patient_in_scope(db: Database, actor: Actor, patient_id: int,
                           now: datetime | None = None) -> Patient | None:
    """The patient if the actor may see them; else None, and an audit entry
    for the refused attempt."""
    async with db.read() as session:
        patient = await session.get(Patient, patient_id)
        allowed = patient is not None and bool(await _in_scope(session, actor, [patient_id]))
    if patient is None or not allowed:
        async with db.write() as session:
            await audit.record(session, actor, LOOKUP_ACTION, purpose=AUDIT_PURPOSE,
                               subject_patient_id=patient_id if patient else None,
                               detail={"refused": "outside_county"}, now=now)
        return None
    return patient


async def record_view(db: Database, actor: Actor, patient_id: int, purpose: str,
                      now: datetime | None = None) -> None:
    """Each opening of a patient's timeline, with the purpose of the look-up
    (or of the call list) that led there."""
    async with db.write() as session:
        await audit.record(session, actor, VIEW_ACTION, purpose=AUDIT_PURPOSE,
                           subject_patient_id=patient_id,
                           detail={"lookup_purpose": purpose}, now=now)


# --- the timeline --------------------------------------------------------------

def mask(e164: str | None) -> str | None:
    """``+4791234567`` → ``+47 ••• •• 567``: the country code and the last three digits."""
    if not e164:
        return None
    try:
        code = str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        code = e164[1:3]
    return f"+{code} ••• •• {e164[-3:]}"


@dataclass(frozen=True)
class EventLine:
    occurred_at: datetime
    to_status: str
    source: str
    reason: str | None
    error_code: int | None


@dataclass(frozen=True)
class MessageLine:
    id: int
    appointment_id: int
    channel: str
    purpose: str
    offset_minutes: int
    recipient_role: str
    template_id: str | None
    template_version: int | None
    masked_to: str | None
    status: str
    status_at: datetime
    reason: str | None
    error_code: int | None
    resend_of_id: int | None
    resend_reason: str | None
    created_at: datetime
    events: tuple[EventLine, ...]
    #: How many times it was sent again.
    resends: int = 0

    @property
    def error_meaning(self) -> str | None:
        known = ERROR_CODES.get(self.error_code) if self.error_code is not None else None
        return known.reason if known else None

    @property
    def reason_text(self) -> str | None:
        if not self.reason:
            return None
        try:
            return REASON_TEXT.get(Reason(self.reason))
        except ValueError:  # a provider's own words, not one of our reasons
            return None

    @property
    def never_sent(self) -> bool:
        return self.status in (NotificationStatus.CANCELLED, NotificationStatus.CREATED)

    @property
    def resendable(self) -> bool:
        return self.channel == Channel.SMS and self.status not in WAITING | IN_FLIGHT


@dataclass(frozen=True)
class ReplyLine:
    """A text the patient (or a guardian) sent about the appointment: when,
    and what it did. Never the words or the number."""

    received_at: datetime
    outcome: str

    @property
    def outcome_text(self) -> str:
        return REPLY_OUTCOME_TEXT.get(self.outcome, self.outcome)


@dataclass(frozen=True)
class AppointmentLine:
    id: int
    starts_at: datetime
    clinic_name: str
    status: str
    messages: tuple[MessageLine, ...]
    replies: tuple[ReplyLine, ...] = ()
    #: The booking reference the patient was given (TT-…): two appointments at
    #: the same time and clinic (one cancelled, one booked again) differ by it.
    reference: str = ""


@dataclass(frozen=True)
class Timeline:
    patient: PatientHit
    mobile_masked: str | None
    appointments: tuple[AppointmentLine, ...]
    messages: tuple[MessageLine, ...] = field(default=())  # every message, newest first


async def timeline(db: Database, actor: Actor, patient_id: int) -> Timeline:
    """Every message about the patient's appointments at the actor's clinics
    (call :func:`patient_in_scope` first)."""
    async with db.read() as session:
        patient = await session.get(Patient, patient_id)
        assert patient is not None
        appointments = list((await session.execute(
            select(Appointment, Clinic.name).join(Clinic, Clinic.id == Appointment.clinic_id)
            .where(Appointment.patient_id == patient_id,
                   Appointment.clinic_id.in_(_visible(actor)))
            .order_by(Appointment.starts_at.desc()))).all())
        ids = [a.id for a, _ in appointments]
        rows = list((await session.execute(
            select(Notification).where(Notification.appointment_id.in_(ids))
            .order_by(Notification.created_at, Notification.id))).scalars()) if ids else []
        events: dict[int, list[EventLine]] = {}
        if rows:
            for e in (await session.execute(
                    select(NotificationEvent)
                    .where(NotificationEvent.notification_id.in_([n.id for n in rows]))
                    .order_by(NotificationEvent.occurred_at, NotificationEvent.id))).scalars():
                events.setdefault(e.notification_id, []).append(
                    EventLine(e.occurred_at, e.to_status, e.source, e.reason, e.error_code))
        replies: dict[int, list[ReplyLine]] = {}
        if ids:
            for appointment_id, received_at, outcome in (await session.execute(
                    select(InboundSms.appointment_id, InboundSms.received_at,
                           InboundSms.outcome)
                    .where(InboundSms.appointment_id.in_(ids),
                           InboundSms.outcome.is_not(None))
                    .order_by(InboundSms.received_at, InboundSms.id))).all():
                if appointment_id is not None and outcome is not None:
                    replies.setdefault(appointment_id, []).append(
                        ReplyLine(received_at, outcome))
    # Selected by appointment: every row here has one.
    lines = [MessageLine(
        id=n.id, appointment_id=n.appointment_id or 0, channel=n.channel, purpose=n.purpose,
        offset_minutes=n.offset_minutes, recipient_role=n.recipient_role,
        template_id=n.template_id, template_version=n.template_version,
        masked_to=mask(n.to_e164), status=n.status, status_at=n.status_at, reason=n.reason,
        error_code=n.error_code, resend_of_id=n.resend_of_id, resend_reason=n.resend_reason,
        created_at=n.created_at, events=tuple(events.get(n.id, ())),
    ) for n in rows]
    copies: dict[int, int] = {}
    for n in rows:
        if n.resend_of_id is not None:
            copies[n.resend_of_id] = copies.get(n.resend_of_id, 0) + 1
    lines = [replace(line, resends=copies.get(line.id, 0)) for line in lines]
    by_appointment: dict[int, list[MessageLine]] = {}
    for line in lines:
        by_appointment.setdefault(line.appointment_id, []).append(line)
    return Timeline(
        patient=PatientHit(patient.id, patient.given_name, patient.family_name,
                           patient.birth_date),
        mobile_masked=mask(patient.mobile),
        appointments=tuple(AppointmentLine(a.id, a.starts_at, name, a.status,
                                           tuple(by_appointment.get(a.id, ())),
                                           tuple(replies.get(a.id, ())), reference(a.id))
                           for a, name in appointments),
        messages=tuple(sorted(lines, key=lambda m: (m.created_at, m.id), reverse=True)),
    )


async def _message_in_scope(session: AsyncSession, actor: Actor, patient_id: int,
                            notification_id: int) -> Notification:
    row = (await session.execute(
        select(Notification).join(Appointment, Appointment.id == Notification.appointment_id)
        .where(Notification.id == notification_id, Notification.patient_id == patient_id,
               Appointment.clinic_id.in_(_visible(actor))))).scalar_one_or_none()
    if row is None:
        raise SupportRefused("unknown_notification")
    return row


async def reveal_number(db: Database, actor: Actor, patient_id: int, notification_id: int,
                        now: datetime | None = None) -> str | None:
    """The full number a message went to (None once purged); audited."""
    async with db.write() as session:
        row = await _message_in_scope(session, actor, patient_id, notification_id)
        await audit.record(session, actor, REVEAL_ACTION, purpose=AUDIT_PURPOSE,
                           subject_patient_id=patient_id,
                           detail={"notification_id": row.id}, now=now)
        return row.to_e164


# --- resend --------------------------------------------------------------------

@dataclass(frozen=True)
class ResendRequest:
    notification_id: int
    reason: str
    #: A corrected number as typed, or None for the current one.
    corrected: str | None = None
    #: Save the corrected number on the recipient too.
    save_number: bool = False
    #: How many resends of it the page showed (a second submit finds one more).
    seen_resends: int | None = None


def check_number(raw: str) -> str:
    """E.164 of a Norwegian or international mobile number as typed; else refused."""
    text = raw.strip()
    if not text or len(text) > 20 or any(c.isalpha() for c in text):
        raise SupportRefused("not_a_mobile_number")
    e164 = normalise_mobile(text)
    if e164 is None:
        raise SupportRefused("not_a_mobile_number")
    return e164


async def resend(db: Database, actor: Actor, patient_id: int, request: ResendRequest,
                 now: datetime | None = None) -> Notification:
    """Send a message again through :func:`notifications.service.resend`,
    after checking the message is this patient's and in the actor's county;
    with ``save_number``, the corrected number becomes the recipient's own."""
    now = now or utcnow()
    reason = request.reason.strip()[:REASON_LIMIT]
    if not reason:
        raise SupportRefused("reason_required")
    corrected = check_number(request.corrected) if request.corrected is not None else None
    async with db.read() as session:
        original = await _message_in_scope(session, actor, patient_id, request.notification_id)
        recipient_id = original.recipient_id
    try:
        copy = await service.resend(db, request.notification_id, reason=reason, actor=actor,
                                    to=corrected, now=now,
                                    expected_resends=request.seen_resends)
    except service.ResendRefused as refused:
        raise SupportRefused(refused.code) from None
    if corrected is not None and request.save_number:
        async with db.write() as session:
            recipient = await session.get(Patient, recipient_id)
            assert recipient is not None
            recipient.mobile = corrected
            await audit.record(session, actor, MOBILE_ACTION, purpose=AUDIT_PURPOSE,
                               subject_patient_id=recipient_id,
                               # The reason is kept on the resent notification.
                               detail={"notification_id": copy.id}, now=now)
    return copy


# --- the call list ---------------------------------------------------------------

#: Cancelled for one of these: nobody could be reached (not superseded).
_UNREACHABLE: Final = frozenset(set(Reason) - {Reason.SUPERSEDED})


@dataclass(frozen=True)
class CallLine:
    appointment_id: int
    patient_id: int
    given_name: str
    family_name: str
    starts_at: datetime
    clinic_name: str
    failed: int
    done_by_name: str | None
    done_at: datetime | None


def _failed_for_good(n: Notification) -> bool:
    if n.status in FAILED:
        return True
    return n.status == NotificationStatus.CANCELLED and n.reason in _UNREACHABLE


async def call_list(db: Database, actor: Actor, now: datetime | None = None) -> list[CallLine]:
    """Active appointments at the actor's clinics in the next 7 days that had
    messages, every one of which failed for good (superseded ones aside)."""
    now = now or utcnow()
    async with db.read() as session:
        rows = list((await session.execute(
            select(Appointment, Patient, Clinic.name, SupportCall)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .outerjoin(SupportCall, SupportCall.appointment_id == Appointment.id)
            .where(Appointment.clinic_id.in_(_visible(actor)),
                   Appointment.status.in_(list(ACTIVE)),
                   Appointment.starts_at > now,
                   Appointment.starts_at <= now + timedelta(days=CALL_LIST_DAYS))
            .order_by(Appointment.starts_at, Appointment.id))).all())
        ids = [a.id for a, *_ in rows]
        notes: dict[int, list[Notification]] = {}
        if ids:
            for n in (await session.execute(
                    select(Notification).where(Notification.appointment_id.in_(ids)))).scalars():
                if n.appointment_id is None or (n.status == NotificationStatus.CANCELLED
                                                and n.reason == Reason.SUPERSEDED):
                    continue
                notes.setdefault(n.appointment_id, []).append(n)
    out = []
    for appointment, patient, clinic_name, call in rows:
        messages = notes.get(appointment.id, [])
        if messages and all(_failed_for_good(n) for n in messages):
            out.append(CallLine(appointment.id, patient.id, patient.given_name,
                                patient.family_name, appointment.starts_at, clinic_name,
                                len(messages), call.done_by_name if call else None,
                                call.done_at if call else None))
    return out


async def mark_call(db: Database, actor: Actor, staff_name: str, appointment_id: int,
                    done: bool, now: datetime | None = None) -> None:
    """Mark a call-list entry done (who, when) or not done again; audited."""
    now = now or utcnow()
    async with db.write() as session:
        appointment = (await session.execute(select(Appointment).where(
            Appointment.id == appointment_id,
            Appointment.clinic_id.in_(_visible(actor))))).scalar_one_or_none()
        if appointment is None:
            raise SupportRefused("unknown_appointment")
        existing = await session.get(SupportCall, appointment_id)
        if done and existing is None:
            session.add(SupportCall(appointment_id=appointment_id, done_by=actor.id,
                                    done_by_name=staff_name[:200], done_at=now))
        elif not done and existing is not None:
            await session.execute(delete(SupportCall).where(
                SupportCall.appointment_id == appointment_id))
        else:
            return
        await session.flush()
        await audit.record(session, actor, CALL_DONE_ACTION if done else CALL_UNDONE_ACTION,
                           purpose=AUDIT_PURPOSE, subject_patient_id=appointment.patient_id,
                           detail={"appointment_id": appointment_id}, now=now)
