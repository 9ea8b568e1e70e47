"""Closed vocabularies of the notification outbox (after GOV.UK Notify).

Each is a ``StrEnum`` whose values are what the database stores (CHECK
constraints in ``notifications.models``). A notification's life:

    created ──► sending ──► pending ──► delivered
       │           │           └──────► permanent-failure / temporary-failure /
       │           └──────────────────► technical-failure
       ├──► cancelled            (superseded, or no usable number: the reason says which)
       └──► any status a receipt brings (a receipt can overtake our own "sending")

A Helsenorge row (an appointment PUT, ``notifications.helsenorge_sync``) has
no receipts: Helsenorge's answer is final, so it goes ``created`` straight to
``delivered`` (accepted) or ``technical-failure`` (refused), or is cancelled.

A final status is never changed again: duplicate and out-of-order provider
receipts are logged and ignored (:func:`may_move`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class NotificationStatus(StrEnum):
    #: Saved in the outbox, waiting for its time (or being handed over right now).
    CREATED = "created"
    #: The provider accepted it; waiting for delivery information.
    SENDING = "sending"
    #: The provider handed it on; the phone has not answered yet.
    PENDING = "pending"
    DELIVERED = "delivered"
    #: The number is wrong, not a mobile, or opted out: do not use it again.
    PERMANENT_FAILURE = "permanent-failure"
    #: The phone was off or unreachable for the provider's whole delivery window.
    TEMPORARY_FAILURE = "temporary-failure"
    #: A problem between us and the provider; never reached the phone.
    TECHNICAL_FAILURE = "technical-failure"
    #: Not sent on purpose: superseded before it went out (the appointment moved
    #: or was cancelled), or nobody could be reached (``reason`` says why).
    CANCELLED = "cancelled"


S = NotificationStatus

#: Not yet with the provider.
WAITING: Final = frozenset({S.CREATED})
#: With the provider, fate unknown.
IN_FLIGHT: Final = frozenset({S.SENDING, S.PENDING})
FAILED: Final = frozenset({S.PERMANENT_FAILURE, S.TEMPORARY_FAILURE, S.TECHNICAL_FAILURE})
#: Never changed again.
FINAL: Final = frozenset({S.DELIVERED, S.CANCELLED} | FAILED)
#: The provider charges for these (Notify: technical failures are not billed).
BILLABLE: Final = frozenset({S.SENDING, S.PENDING, S.DELIVERED, S.PERMANENT_FAILURE,
                             S.TEMPORARY_FAILURE})

#: Allowed transitions. ``created`` may jump straight to any provider status:
#: a receipt can arrive before our own "accepted" is recorded.
TRANSITIONS: Final[Mapping[NotificationStatus, frozenset[NotificationStatus]]] = {
    S.CREATED: frozenset({S.SENDING, S.PENDING, S.DELIVERED, S.CANCELLED} | FAILED),
    S.SENDING: frozenset({S.PENDING, S.DELIVERED} | FAILED),
    S.PENDING: frozenset({S.DELIVERED} | FAILED),
    **{final: frozenset() for final in FINAL},
}


def may_move(current: NotificationStatus | str, new: NotificationStatus | str) -> bool:
    """True if ``current`` may become ``new``; a repeat of the same status is not a move."""
    return S(new) in TRANSITIONS[S(current)]


class Purpose(StrEnum):
    CONFIRMATION = "confirmation"  # booked: "your appointment is booked"
    INNKALLING = "innkalling"  # clinic-issued appointment notice asking to confirm
    CHANGE = "change"  # the appointment moved
    CANCELLATION = "cancellation"  # avbestilling
    REMINDER = "reminder"  # påminnelse, N days or hours before
    #: A one-time code to a mobile number the patient entered on the profile
    #: (``notifications.number_check``); about no appointment.
    NUMBER_CHECK = "number_check"
    #: Freed time offered to a patient on the waitlist (``notifications.refill``);
    #: ``offset_minutes`` carries the offer's id, so each offer is one row per recipient.
    REFILL_OFFER = "refill_offer"
    #: The offered time went to someone else: the patient keeps their time.
    REFILL_TAKEN = "refill_taken"
    #: The answer to a text someone sent us (``notifications.reply_actions``);
    #: about no single appointment, and sent at any hour: they just wrote.
    REPLY = "reply"
    #: One numbered message asking a guardian to confirm several children's
    #: appointments ("Svar JA 1 for Emma, JA 2 for Jonas"); in sending hours.
    CONFIRM_REQUEST = "confirm_request"
    #: The clinic asks the patient to pick a new time for an appointment a
    #: schedule change left without its slot (``booking.schedule_changes``).
    MOVE_REQUEST = "move_request"


#: Purposes about no single appointment (``appointment_id`` is empty).
WITHOUT_APPOINTMENT: Final = frozenset({Purpose.NUMBER_CHECK, Purpose.REPLY,
                                        Purpose.CONFIRM_REQUEST})
#: Purposes with wordings of their own (not ``templates.WORDINGS``).
OWN_WORDING: Final = frozenset({Purpose.NUMBER_CHECK, Purpose.REFILL_OFFER,
                                Purpose.REFILL_TAKEN, Purpose.REPLY,
                                Purpose.CONFIRM_REQUEST})
#: Purposes whose row names a refill offer in ``offset_minutes``.
REFILL_PURPOSES: Final = frozenset({Purpose.REFILL_OFFER, Purpose.REFILL_TAKEN})


class Channel(StrEnum):
    SMS = "sms"
    HELSENORGE = "helsenorge"  # appointment sync to the patient's Helsenorge (helsenorge_sync)


class Reason(StrEnum):
    """Why a notification ended (or waits) the way it did; for support."""

    SUPERSEDED = "superseded"  # the appointment changed or was cancelled first
    NO_MOBILE = "no_mobile"  # no mobile number known
    NOT_MOBILE = "not_mobile"  # the number is not a mobile number
    RESERVED = "reserved"  # reserved against digital contact (KRR)
    STALE_NUMBER = "stale_number"  # not verified in 18 months (KRR)
    NOT_NOTIFIABLE = "not_notifiable"  # KRR says the person may not be notified
    OPTED_OUT = "opted_out"  # the number replied STOP
    NUMBER_FAILED = "number_failed"  # the number failed permanently before
    EXPIRED = "expired"  # its validity ran out before it could go
    #: The appointment starts before the sending hours open again: too late to text.
    EXPIRED_BEFORE_SENDING_HOURS = "expired_before_sending_hours"
    TIMEOUT = "timeout"  # no final answer within the delivery window (72 h)
    RETRIES_EXHAUSTED = "retries_exhausted"
    PROVIDER_REJECTED = "provider_rejected"  # the provider refused it for good
    PROVIDER_BUSY = "provider_busy"  # the provider asked us to come back later
    IN_DOUBT = "in_doubt"  # a hand-over may have happened; reconcile before retrying
    QUIET_HOURS = "quiet_hours"  # waits for the county's sending window
    REGISTER_UNAVAILABLE = "register_unavailable"  # waits for KRR to answer again
    AFTER_EARLIER = "after_earlier"  # waits for an earlier version's hand-over (Helsenorge)
    NO_CHANNEL = "no_channel"  # no channel is configured for it (Helsenorge sync off)
    DAILY_CAP = "daily_cap"  # the number got SMS_PER_NUMBER_PER_DAY texts in the last 24 h
    BURST = "burst"  # waits a moment: the recipient was just sent another notice
    #: A second reminder (``notifications.escalation``): the appointment was confirmed first.
    CONFIRMED = "confirmed"
    #: An SMS reminder waits for Helsenorge to take the reminder the patient
    #: chose to get there (``notifications.helsenorge_first``).
    HELSENORGE_FIRST = "helsenorge_first"
    #: Not sent by SMS: Helsenorge took the reminder (the patient's choice).
    BY_HELSENORGE = "by_helsenorge"


class BlockReason(StrEnum):
    """Why a phone number is not used (until it is changed or unblocked)."""

    OPTED_OUT = "opted_out"  # replied STOP
    PERMANENT_FAILURE = "permanent_failure"  # wrong number, landline, unknown subscriber


class ReplyOutcome(StrEnum):
    """What became of a text someone sent us (``inbound_sms.outcome``)."""

    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    CHANGE_LINK = "change_link"  # answered with the change page's link (and times)
    REFUSED = "refused"  # the rules said no (cut-off passed, started): told why
    CHOOSE = "choose"  # several appointments: answered with a numbered list
    HELP = "help"  # not understood, or nothing to act on: the help answer
    SILENT = "silent"  # not understood again right after a help answer: no answer
    STOPPED = "stopped"  # STOP: the number is blocked (no answer from us)
    STARTED = "started"  # START: the block is lifted
    CHECKIN = "checkin"  # HER: today's appointments checked in (booking.attendance)
    CODE = "code"  # a four-digit code: an offer of freed time taken (notifications.refill)
    UNKNOWN_NUMBER = "unknown_number"  # nobody we know has this number: no answer
    LIMITED = "limited"  # the number had its answers for today: no answer
    OWN = "own"  # from our own number (an answer of ours coming back): ignored
    FAILED = "failed"  # acting on it failed (logged); it is not tried again


class ReceiptOutcome(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"  # duplicate, out of order, or after a final status
    UNKNOWN = "unknown"  # no notification with that id or provider reference


#: Words for support staff and patients, per language (nb, nn, en; se falls back to nb).
STATUS_TEXT: Final[Mapping[NotificationStatus, Mapping[str, str]]] = {
    S.CREATED: {
        "nb": "I kø – sendes snart",
        "nn": "I kø – blir send snart",
        "en": "Queued – will be sent shortly",
    },
    S.SENDING: {
        "nb": "Sendt til operatøren – venter på svar",
        "nn": "Send til operatøren – ventar på svar",
        "en": "Sent to the provider – waiting for delivery information",
    },
    S.PENDING: {
        "nb": "På vei – telefonen har ikke svart ennå",
        "nn": "På veg – telefonen har ikkje svart enno",
        "en": "On its way – the phone has not responded yet",
    },
    S.DELIVERED: {
        "nb": "Levert til telefonen",
        "nn": "Levert til telefonen",
        "en": "Delivered to the phone",
    },
    S.PERMANENT_FAILURE: {
        "nb": "Ikke levert – nummeret er feil eller tar ikke imot SMS",
        "nn": "Ikkje levert – nummeret er feil eller tek ikkje imot SMS",
        "en": "Not delivered – the number is wrong or does not accept text messages",
    },
    S.TEMPORARY_FAILURE: {
        "nb": "Ikke levert – telefonen var av eller utenfor dekning",
        "nn": "Ikkje levert – telefonen var av eller utanfor dekning",
        "en": "Not delivered – the phone was off or out of coverage",
    },
    S.TECHNICAL_FAILURE: {
        "nb": "Ikke sendt – teknisk feil hos oss eller operatøren",
        "nn": "Ikkje send – teknisk feil hos oss eller operatøren",
        "en": "Not sent – a technical problem between us and the provider",
    },
    S.CANCELLED: {
        "nb": "Ikke sendt – timen ble endret, eller vi fant ikke et nummer å sende til",
        "nn": "Ikkje send – timen vart endra, eller vi fann ikkje eit nummer å sende til",
        "en": "Not sent – the appointment changed, or there was no number to send to",
    },
}


def describe(status: NotificationStatus | str, language: str = "nb") -> str:
    words = STATUS_TEXT[S(status)]
    return words.get(language) or words["nb"]
