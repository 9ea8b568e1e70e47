"""Closed vocabularies of the booking domain.

Each is a ``StrEnum`` whose values are what the database stores (a CHECK
constraint in ``booking.models`` keeps them closed) and what tests and logs
show. Words for users live in ``booking.reasons`` and the templates.
"""

from __future__ import annotations

from enum import StrEnum


class SlotStatus(StrEnum):
    FREE = "free"  # released or unreleased time nobody has
    HELD = "held"  # kept for a few minutes while someone completes a booking
    BOOKED = "booked"  # an active appointment sits in it
    BLOCKED = "blocked"  # closed: holiday, closure of clinic or chair


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"  # the patient said "yes, I'm coming"
    COMPLETED = "completed"
    NO_SHOW = "no_show"  # ikke møtt
    CANCELLED = "cancelled"  # avbestilt, or replaced by a changed appointment


#: Statuses in which the appointment still holds its slot and lies ahead.
ACTIVE = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED})
#: Statuses that end an appointment's life; never changed afterwards, but for
#: the clinic's same-day undo of an attendance mark (:data:`UNDO_TRANSITIONS`).
FINAL = frozenset(
    {AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED}
)
#: Allowed transitions. Anything else is refused by the service.
TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.BOOKED: frozenset(
        {AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED,
         AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.CONFIRMED: frozenset(
        {AppointmentStatus.CANCELLED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.COMPLETED: frozenset(),
    AppointmentStatus.NO_SHOW: frozenset(),
    AppointmentStatus.CANCELLED: frozenset(),
}
#: Marks the clinic may take back on the Oslo day they were made (a wrong
#: click at the desk): attendance recorded by mistake returns to the active
#: status it came from. Only these, and only that day (``booking.rules``).
UNDO_TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.COMPLETED: frozenset(
        {AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED}),
    AppointmentStatus.NO_SHOW: frozenset(
        {AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED}),
}


class Attendance(StrEnum):
    """Where an appointment stands on its day, as the desk sees it. Derived
    from the status and ``arrived_at`` (the patient came in, or checked in on
    their phone: *Jeg er her*); arrival is no status of its own, so an arrived
    patient's appointment stays active for every other rule."""

    EXPECTED = "expected"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class Mark(StrEnum):
    """The attendance marks the desk sets (``booking.attendance.mark``)."""

    ARRIVED = "arrived"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class StrandingDecision(StrEnum):
    """What became of an appointment a schedule change left without its slot."""

    WAITING = "waiting"  # on the clinic's list: nobody has decided yet
    KEPT = "kept"  # kept as an exception where it is
    CANCELLED = "cancelled"  # cancelled by staff, with a reason
    ASKED = "asked"  # the patient is asked to pick one of the offered times
    MOVED = "moved"  # the patient (or a guardian) picked a new time


class Source(StrEnum):
    """Through which channel an appointment came to be."""

    SELF = "self"  # the patient, online
    GUARDIAN = "guardian"  # a guardian (foresatt) online, for a child
    STAFF = "staff"  # reception, phone or desk
    RECORD_SYSTEM = "record_system"  # the county's record system (innkalling included)


class ActorKind(StrEnum):
    PATIENT = "patient"  # acting for themselves
    GUARDIAN = "guardian"  # acting for a child
    STAFF = "staff"
    SUPPORT = "support"
    RECORD_SYSTEM = "record_system"
    SYSTEM = "system"  # the service itself: seeding, jobs


class ConfidentialAddress(StrEnum):
    """Address protection from the population register."""

    NONE = "none"
    CONFIDENTIAL = "fortrolig"
    STRICTLY_CONFIDENTIAL = "strengt_fortrolig"


class WaitlistStatus(StrEnum):
    """A waitlist entry (``booking.waitlist``)."""

    WAITING = "waiting"  # offers may come
    WITHDRAWN = "withdrawn"  # the patient (or the clinic) took it back
    FULFILLED = "fulfilled"  # an offer was accepted: the appointment moved earlier
    ENDED = "ended"  # the appointment was cancelled, moved otherwise, or has passed


class RoundStatus(StrEnum):
    """A freed slot's refill round (``booking.refill``)."""

    OPEN = "open"  # waves go on
    FILLED = "filled"  # someone has the slot (an accepted offer, or booked otherwise)
    EXHAUSTED = "exhausted"  # nobody (more) waiting fits it
    TOO_LATE = "too_late"  # the slot is too close now to offer


class OfferStatus(StrEnum):
    """One offer of a freed slot to one waiting patient (``booking.refill``)."""

    OFFERED = "offered"  # open until ``expires_at``
    ACCEPTED = "accepted"  # this patient got the slot
    TAKEN = "taken"  # someone else got it first; the patient keeps their time
    EXPIRED = "expired"  # the wave ended without an answer from this patient
    WITHDRAWN = "withdrawn"  # the patient's appointment or wish changed meanwhile


#: Offers that can no longer be accepted.
OFFER_CLOSED = frozenset({OfferStatus.ACCEPTED, OfferStatus.TAKEN, OfferStatus.EXPIRED,
                          OfferStatus.WITHDRAWN})


class ReminderChannel(StrEnum):
    """How a patient's own first reminder reaches them (their choice on the
    profile page; ``notifications.helsenorge_first``)."""

    SMS = "sms"  # the default: a text message
    #: Helsenorge's own reminder (the appointment sent with the reminder tag);
    #: SMS if that fails, and the second reminder by SMS all the same.
    HELSENORGE = "helsenorge"
