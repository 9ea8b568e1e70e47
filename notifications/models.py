"""Tables of the notification outbox. Times are UTC.

``notifications`` is the outbox: one row per (appointment, purpose, appointment
version, reminder offset, channel, recipient, resend number), written in the
same transaction as the booking change (``notifications.outbox``). The row is
the source of truth; the job queue only carries its id.

Personal data on a row (``to_e164``, ``body``) is removed after the retention
period (``purged_at``); the row itself stays for statistics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

import booking.models  # noqa: F401  (registers the tables referred to here)
from core.db import Base, BigId, UTCDateTime, check_constraint, utcnow
from notifications.statuses import (
    BlockReason,
    Channel,
    NotificationStatus,
    Purpose,
    ReceiptOutcome,
    ReplyOutcome,
)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("appointment_id", "purpose", "appointment_version", "offset_minutes",
                         "channel", "recipient_id", "resend_no",
                         name="uq_notifications_one_per_purpose"),
        CheckConstraint(check_constraint("status", NotificationStatus), name="status"),
        CheckConstraint(check_constraint("purpose", Purpose), name="purpose"),
        CheckConstraint(check_constraint("channel", Channel), name="channel"),
        CheckConstraint("attempts >= 0", name="attempts"),
        # Number checks, answers to replies and confirm requests are about no
        # single appointment (``statuses.WITHOUT_APPOINTMENT``).
        CheckConstraint("(appointment_id IS NULL) = "
                        "(purpose IN ('number_check', 'reply', 'confirm_request'))",
                        name="appointment"),
        # What the cron looks for: waiting rows by the time they may go.
        Index("ix_notifications_status_send_after", "status", "send_after"),
        Index("ix_notifications_provider_ref", "provider_ref"),
        # The texts-per-number cap: what went to a number in the last 24 hours.
        Index("ix_notifications_to_e164_handed_over_at", "to_e164", "handed_over_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: None only for a ``number_check`` (a code to a number, about no appointment).
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    #: The appointment's version this notice is about; a mismatch at send time
    #: means it was superseded.
    appointment_version: Mapped[int | None] = mapped_column(Integer)
    #: Whose appointment (the child, for a guardian's message).
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    #: Reminders: how long before the start (0 for other purposes).
    offset_minutes: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(16), default=Channel.SMS)
    #: Who receives it: the patient, or a guardian (foresatt).
    recipient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    recipient_role: Mapped[str] = mapped_column(String(16))
    #: 0 for the original; support's resends count up (``resend_of_id`` links them).
    resend_no: Mapped[int] = mapped_column(Integer, default=0)
    resend_of_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"),
                                                     default=None)
    resend_reason: Mapped[str | None] = mapped_column(String(200), default=None)

    status: Mapped[str] = mapped_column(String(20), default=NotificationStatus.CREATED)
    #: A ``notifications.statuses.Reason`` value, or the provider's short reason.
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    error_code: Mapped[int | None] = mapped_column(Integer, default=None)

    #: Filled when the message is prepared for sending (language, words, number).
    language: Mapped[str | None] = mapped_column(String(5), default=None)
    template_id: Mapped[str | None] = mapped_column(String(40), default=None)
    template_version: Mapped[int | None] = mapped_column(Integer, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    to_e164: Mapped[str | None] = mapped_column(String(20), default=None)
    #: SMS segments the text takes (``notifications.segments``), set with the
    #: words; kept after the text is purged, for the cost on the dashboards.
    segments: Mapped[int | None] = mapped_column(Integer, default=None)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When it was meant to go (for the due → handed-over measurement).
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the next attempt may happen: ``due_at``, moved by quiet hours and retries.
    send_after: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Never handed over after this; also bounds the provider's validity period.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Last time a job was put on the queue for this row.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    #: A worker holds the row until ``claimed_until`` (lease ``claim_token``).
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: A hand-over was started and its outcome is not known: ask the provider
    #: (``lookup``) before sending again, never resend blindly.
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A second reminder (``notifications.escalation``): it goes only while
    #: the appointment is not confirmed, judged again when it is due.
    unless_confirmed: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When the last hand-over began (reconciling looks for messages from then on).
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    provider_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class NotificationEvent(Base):
    """Every status change of a notification, for support's timeline."""

    __tablename__ = "notification_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(20), default=None)
    to_status: Mapped[str] = mapped_column(String(20))
    #: outbox, job, receipt, sweeper, timeout, support
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    error_code: Mapped[int | None] = mapped_column(Integer, default=None)


class NotificationReceipt(Base):
    """A provider's status callback exactly as it came (after its signature
    was checked); applied to the notification by a job."""

    __tablename__ = "notification_receipts"
    __table_args__ = (
        CheckConstraint(check_constraint("outcome", ReceiptOutcome), name="outcome"),
        Index("ix_notification_receipts_unapplied", "applied_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(16))
    notification_id: Mapped[int | None] = mapped_column(BigId, default=None, index=True)
    provider_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    provider_status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[int | None] = mapped_column(Integer, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)


class InboundSms(Base):
    """A text message someone sent us. The webhook stores it as it came
    (``provider_ref`` is Twilio's MessageSid: a retried webhook is stored
    once); the ``handle_reply`` job reads it, acts, and records what became
    of it (``notifications.reply_actions``)."""

    __tablename__ = "inbound_sms"
    __table_args__ = (
        CheckConstraint(check_constraint("outcome", ReplyOutcome), name="outcome"),
        # The answers-per-number limit and "what did this number say lately".
        Index("ix_inbound_sms_from_e164_received_at", "from_e164", "received_at"),
        Index("ix_inbound_sms_unhandled", "handled_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider_ref: Mapped[str] = mapped_column(String(64), unique=True)
    from_e164: Mapped[str | None] = mapped_column(String(20), default=None)
    to_number: Mapped[str | None] = mapped_column(String(20), default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    #: The recognised keyword, upper case (STOP, START, JA, NEI), if any.
    keyword: Mapped[str | None] = mapped_column(String(16), default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: What the reply parser understood (``replies.Intent``), and its number.
    intent: Mapped[str | None] = mapped_column(String(16), default=None)
    argument: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Who owns the number (the person we acted as), when known.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), default=None,
                                                 index=True)
    #: The appointment acted on, if one was.
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"),
                                                       default=None)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    #: Our answer (an outbox row), if we answered.
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"),
                                                  default=None)


class SmsReplyChoice(Base):
    """One line of a numbered message ("JA 2 for Jonas", "ENDRE 1 for
    tirsdag ..."): which appointment, and maybe which new time, the number
    ``position`` stands for in replies from ``e164``. A reply with a number
    reads the newest list sent to its number."""

    __tablename__ = "sms_reply_choices"
    __table_args__ = (
        UniqueConstraint("notification_id", "position"),
        Index("ix_sms_reply_choices_e164_created_at", "e164", "created_at"),
        CheckConstraint("position >= 1", name="position"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The numbered message.
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    e164: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    #: A new time offered for the appointment (a change answer's list), if any.
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsNumberBlock(Base):
    """A number that is not used again (until the patient's number changes or
    the block is lifted): it replied STOP, or failed permanently."""

    __tablename__ = "sms_number_blocks"
    __table_args__ = (
        CheckConstraint(check_constraint("reason", BlockReason), name="reason"),
    )
    e164: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    notification_id: Mapped[int | None] = mapped_column(BigId, default=None)


class ReminderPolicy(Base):
    """When reminders go, per county (``appointment_type_id`` empty) or per
    appointment type. Offsets in minutes before the start; whole days count in
    Oslo calendar days (same wall-clock time), see ``notifications.schedule``."""

    __tablename__ = "reminder_policies"
    __table_args__ = (UniqueConstraint("county_id", "appointment_type_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"), index=True)
    appointment_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointment_types.id"), default=None)
    offsets_minutes: Mapped[list[Any]] = mapped_column(JSON)


class SupportCall(Base):
    """An appointment on support's call list (every message failed) that a
    support member has phoned about: who marked it done, and when. Marking it
    not done again removes the row (the audit log keeps both steps)."""

    __tablename__ = "support_calls"
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    done_by: Mapped[str] = mapped_column(String(64))  # the staff actor's id
    done_by_name: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NumberCheck(Base):
    """A mobile number a patient entered, waiting for the one-time code sent
    to it (``notifications.number_check``). The code is never stored: it is
    derived with the service's key from ``nonce``, so the database alone
    does not give it away."""

    __tablename__ = "number_checks"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("ix_number_checks_patient_id_created_at", "patient_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    e164: Mapped[str] = mapped_column(String(20))
    nonce: Mapped[str] = mapped_column(String(32))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"),
                                                        default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When it stopped counting: the right code was typed, or a newer code replaced it.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
