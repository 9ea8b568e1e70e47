"""Tables of the waitlist and of refilling freed time (``booking.waitlist``,
``booking.refill``). Times are UTC; the wishes' weekdays and times of day are
Europe/Oslo wall-clock."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

import booking.models  # noqa: F401  (registers the tables referred to here)
from booking.statuses import OfferStatus, RoundStatus, WaitlistStatus
from core.db import Base, BigId, UTCDateTime, check_constraint


class WaitlistEntry(Base):
    """A patient asks for an earlier time for an appointment they have
    (*venteliste*): which clinics, which weekdays, which times of day, and
    how much notice they need. Ends when withdrawn, when the appointment is
    moved by an accepted offer (fulfilled) or when the appointment ends."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint(check_constraint("status", WaitlistStatus), name="status"),
        CheckConstraint("notice_hours >= 0", name="notice_hours"),
        Index("ix_waitlist_entries_status_type", "status", "appointment_type_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: The appointment they have and want earlier (its id moves with each change).
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    appointment_type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id"))
    #: Clinics the patient accepts (ids); never empty.
    clinic_ids: Mapped[list[int]] = mapped_column(JSON)
    #: Weekdays (Monday = 0) the patient can come; empty = any.
    weekdays: Mapped[list[int]] = mapped_column(JSON)
    #: Start times accepted, Oslo wall-clock; None = from opening / until closing.
    earliest_time: Mapped[time | None] = mapped_column(Time, default=None)
    latest_time: Mapped[time | None] = mapped_column(Time, default=None)
    #: Offers only for times at least this many hours ahead.
    notice_hours: Mapped[int] = mapped_column(Integer, default=24)
    status: Mapped[str] = mapped_column(String(12), default=WaitlistStatus.WAITING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))  # internal actor id
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: The reason staff gave when they last put the patient on or changed the
    #: wishes (``waitlist.add_for_patient``); None when only the patient acted.
    staff_note: Mapped[str | None] = mapped_column(String(200), default=None)
    #: The reason staff gave when they took the patient off the waitlist.
    closed_note: Mapped[str | None] = mapped_column(String(200), default=None)


class RefillRound(Base):
    """One freed slot being offered to people waiting, wave after wave."""

    __tablename__ = "refill_rounds"
    __table_args__ = (
        CheckConstraint(check_constraint("status", RoundStatus), name="status"),
        Index("ix_refill_rounds_status_next_at", "status", "next_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"), index=True)
    #: The ``slot_freed`` booking event that started it.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("booking_events.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=RoundStatus.OPEN)
    #: Waves offered so far; the slot's hold key names the current one.
    wave: Mapped[int] = mapped_column(Integer, default=0)
    #: When the round is looked at next (a wave's end, sending hours opening).
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RefillOffer(Base):
    """A freed slot offered to one waiting patient, for one wave's lifetime.
    Accepted by the signed link, on Min side, or by replying its four-digit
    code from the number it was sent to."""

    __tablename__ = "refill_offers"
    __table_args__ = (
        CheckConstraint(check_constraint("status", OfferStatus), name="status"),
        Index("ix_refill_offers_status_told", "status", "told_at"),
        Index("ix_refill_offers_patient_status", "patient_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("refill_rounds.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    wave: Mapped[int] = mapped_column(Integer)
    waitlist_entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: The appointment that moves if the offer is accepted (as it was when offered).
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"))
    #: Four digits to reply with ("JA 4821"); only good with the number it went to.
    code: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(12), default=OfferStatus.OFFERED)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    #: When the "it is taken, you keep your time" notice was written (``taken`` only).
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
