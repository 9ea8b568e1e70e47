"""Tables of the booking domain. Times are UTC; Europe/Oslo is for display
and for the schedule rules (local wall-clock times)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.statuses import (
    ActorKind,
    AppointmentStatus,
    ConfidentialAddress,
    ReminderChannel,
    SlotStatus,
    Source,
    StrandingDecision,
)
from core.db import Base, BigId, UTCDateTime, check_constraint, utcnow


class County(Base):
    """A fylkeskommune: the tenant and data controller for its patients."""

    __tablename__ = "counties"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(4), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    quiet_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)

    clinics: Mapped[list[Clinic]] = relationship(back_populates="county")


class Clinic(Base):
    __tablename__ = "clinics"
    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"), index=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    street_address: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(4))
    postal_town: Mapped[str] = mapped_column(String(100))
    municipality_code: Mapped[str] = mapped_column(String(4), index=True)
    municipality_name: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    phone: Mapped[str] = mapped_column(String(20))
    #: {"0": ["08:00", "15:30"], ...}: Monday = "0"; a missing day is closed.
    opening_hours: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    accessibility: Mapped[str] = mapped_column(Text, default="")
    parking: Mapped[str] = mapped_column(Text, default="")
    public_transport: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    county: Mapped[County] = relationship(back_populates="clinics")
    chairs: Mapped[list[Chair]] = relationship(back_populates="clinic")


class Chair(Base):
    """A treatment chair or room: the resource two appointments must not share."""

    __tablename__ = "chairs"
    __table_args__ = (UniqueConstraint("clinic_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    clinic: Mapped[Clinic] = relationship(back_populates="chairs")


class AppointmentType(Base):
    __tablename__ = "appointment_types"
    __table_args__ = (
        UniqueConstraint("county_id", "code"),
        CheckConstraint("duration_minutes > 0", name="positive_duration"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    #: {"nb": ..., "nn": ..., "en": ..., "se": ...}
    names: Mapped[dict[str, str]] = mapped_column(JSON)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    min_age: Mapped[int] = mapped_column(Integer, default=0)
    max_age: Mapped[int | None] = mapped_column(Integer, default=None)
    self_bookable: Mapped[bool] = mapped_column(Boolean, default=True)
    booking_horizon_days: Mapped[int] = mapped_column(Integer, default=90)
    min_notice_hours: Mapped[int] = mapped_column(Integer, default=2)
    change_cutoff_hours: Mapped[int] = mapped_column(Integer, default=24)
    late_cancellation_fee: Mapped[bool] = mapped_column(Boolean, default=True)
    max_self_reschedules: Mapped[int] = mapped_column(Integer, default=2)

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get("nb") or self.code


schedule_template_types = Table(
    "schedule_template_types",
    Base.metadata,
    Column("template_id", ForeignKey("schedule_templates.id", ondelete="CASCADE"),
           primary_key=True),
    Column("appointment_type_id", ForeignKey("appointment_types.id"), primary_key=True),
)


class ScheduleTemplate(Base):
    """A weekly rule for one chair: on this weekday, from–to (Oslo wall-clock
    time), cut into slots of this length, for these appointment types."""

    __tablename__ = "schedule_templates"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("slot_minutes > 0", name="positive_slot"),
        CheckConstraint("starts_at < ends_at", name="ordered_times"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    chair_id: Mapped[int] = mapped_column(ForeignKey("chairs.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0
    starts_at: Mapped[time] = mapped_column(Time)
    ends_at: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, default=None)
    #: Released for self-booking; unreleased time is bookable by staff only.
    released: Mapped[bool] = mapped_column(Boolean, default=True)

    chair: Mapped[Chair] = relationship()
    appointment_types: Mapped[list[AppointmentType]] = relationship(
        secondary=schedule_template_types
    )


class ScheduleException(Base):
    """A closure of a whole clinic (chair_id empty) or of one chair."""

    __tablename__ = "schedule_exceptions"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="ordered_times"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("chairs.id"), default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Slot(Base):
    """A bookable piece of one chair's time. ``(chair_id, starts_at)`` is
    unique, so generating slots twice creates nothing new."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("chair_id", "starts_at"),
        CheckConstraint(check_constraint("status", SlotStatus), name="status"),
        CheckConstraint("starts_at < ends_at", name="ordered_times"),
        Index("ix_slots_search", "clinic_id", "status", "starts_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    chair_id: Mapped[int] = mapped_column(ForeignKey("chairs.id"))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule_templates.id", ondelete="SET NULL"), default=None, index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default=SlotStatus.FREE)
    released: Mapped[bool] = mapped_column(Boolean, default=True)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    hold_key: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Who holds it, for whom (:meth:`booking.holds.HoldKeys.owner`): one
    #: hold per person acting and person booked for.
    hold_owner: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)

    chair: Mapped[Chair] = relationship()
    clinic: Mapped[Clinic] = relationship()
    template: Mapped[ScheduleTemplate | None] = relationship()


class Patient(Base):
    """A person who may have appointments. The identity number is stored
    encrypted and found by a keyed hash; it never leaves this row in clear
    except to the person's own national-service calls."""

    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint(check_constraint("confidential_address", ConfidentialAddress),
                        name="confidential_address"),
        CheckConstraint(check_constraint("reminder_channel", ReminderChannel),
                        name="reminder_channel"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    identity_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    identity_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    municipality_code: Mapped[str | None] = mapped_column(String(4), default=None)
    #: An opaque key of the registered address: equal keys share an address.
    address_key: Mapped[str | None] = mapped_column(String(64), default=None)
    confidential_address: Mapped[str] = mapped_column(
        String(20), default=ConfidentialAddress.NONE
    )
    preferred_language: Mapped[str | None] = mapped_column(String(5), default=None)
    mobile: Mapped[str | None] = mapped_column(String(20), default=None)  # E.164
    #: Their own first reminder by SMS or on Helsenorge (``ReminderChannel``;
    #: the profile page, ``notifications.helsenorge_first``).
    reminder_channel: Mapped[str] = mapped_column(
        String(12), default=ReminderChannel.SMS, server_default=ReminderChannel.SMS.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def has_confidential_address(self) -> bool:
        return self.confidential_address != ConfidentialAddress.NONE


class Guardianship(Base):
    """Parental responsibility (foreldreansvar) of ``guardian`` for ``child``,
    as the population register states it."""

    __tablename__ = "guardianships"
    __table_args__ = (UniqueConstraint("guardian_id", "child_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)


ACTIVE_SQL = "status IN ('booked', 'confirmed', 'completed', 'no_show')"


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint(check_constraint("status", AppointmentStatus), name="status"),
        CheckConstraint(check_constraint("source", Source), name="source"),
        CheckConstraint(check_constraint("created_by_kind", ActorKind), name="created_by_kind"),
        CheckConstraint("starts_at < ends_at", name="ordered_times"),
        # The database's own guarantee: one live appointment per slot.
        Index("ux_appointments_slot_live", "slot_id", unique=True,
              sqlite_where=text("status != 'cancelled'"),
              postgresql_where=text("status != 'cancelled'")),
        Index("ix_appointments_patient_start", "patient_id", "starts_at"),
        Index("ix_appointments_clinic_start", "clinic_id", "starts_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    chair_id: Mapped[int] = mapped_column(ForeignKey("chairs.id"))
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    appointment_type_id: Mapped[int] = mapped_column(ForeignKey("appointment_types.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default=AppointmentStatus.BOOKED)
    source: Mapped[str] = mapped_column(String(16))
    created_by_kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))  # internal actor id, never a pid
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Grows by one on every change the patient should hear about.
    version: Mapped[int] = mapped_column(Integer, default=1)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_by: Mapped[str | None] = mapped_column(String(64), default=None)
    cancellation_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), default=None)
    #: The first appointment of a chain of changes; stable across them (calendar UID).
    chain_id: Mapped[int | None] = mapped_column(BigId, default=None, index=True)
    self_reschedules: Mapped[int] = mapped_column(Integer, default=0)
    #: A clinic-issued appointment (innkalling) the patient is asked to confirm.
    clinic_issued: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    #: Booked by staff on purpose over another appointment of the same chair
    #: (the day view shows it); the reason is in ``staff_note``.
    overbooked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The reason staff gave for booking, changing or overbooking on the
    #: patient's behalf (free text for the clinic; never in the audit detail).
    staff_note: Mapped[str | None] = mapped_column(String(200), default=None)
    #: Why staff overbooked the chair (with ``overbooked``).
    overbook_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    #: When the patient arrived (marked at the desk, or checked in: *Jeg er
    #: her*), and by whom (internal actor id); empty until then.
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    arrived_by: Mapped[str | None] = mapped_column(String(64), default=None)
    #: When completed or no-show was recorded (undo is allowed that Oslo day).
    attendance_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    patient: Mapped[Patient] = relationship(foreign_keys=[patient_id])
    clinic: Mapped[Clinic] = relationship()
    chair: Mapped[Chair] = relationship()
    slot: Mapped[Slot] = relationship()
    appointment_type: Mapped[AppointmentType] = relationship()


class ScheduleStranding(Base):
    """A booked appointment whose slot a schedule change took away. It stays
    booked and on the clinic's list until staff decide
    (:mod:`booking.schedule_changes`)."""

    __tablename__ = "schedule_strandings"
    __table_args__ = (
        CheckConstraint(check_constraint("decision", StrandingDecision), name="decision"),
        Index("ix_schedule_strandings_clinic_decision", "clinic_id", "decision"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    chair_id: Mapped[int] = mapped_column(ForeignKey("chairs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(12), default=StrandingDecision.WAITING)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    #: When staff asked the patient to move, and the slots offered (ids, comma-separated).
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    asked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    offered_slot_ids: Mapped[str | None] = mapped_column(String(200), default=None)
    #: The appointment the patient moved to.
    moved_to_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), default=None)


class BookingEvent(Base):
    """Things other parts react to later, e.g. a freed slot for the waitlist."""

    __tablename__ = "booking_events"
    __table_args__ = (Index("ix_booking_events_unprocessed", "kind", "processed_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # "slot_freed"
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AuditEntry(Base):
    """Append-only, hash-chained record of every read or change of a patient's
    data by anyone. Database triggers refuse UPDATE and DELETE; the chain
    shows any change made behind their back (see ``booking.audit.verify``)."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    on_behalf_of_id: Mapped[int | None] = mapped_column(BigId, default=None)
    subject_patient_id: Mapped[int | None] = mapped_column(BigId, default=None, index=True)
    action: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The chain the entry belongs to: ``patient:<id>`` for entries about a
    #: patient, ``actor:<actor id>`` for the others (``booking.audit``);
    #: ``national`` for the entries written before there were chains.
    chain: Mapped[str] = mapped_column(String(80), server_default=text("'national'"))
    #: Position in the chain from 1 (empty in the national chain: id order).
    seq: Mapped[int | None] = mapped_column(BigId, default=None)


class AuditSeal(Base):
    """A periodic seal over the audit chains' heads: the heads that moved
    since the previous seal, hash-chained seal by seal, so a chain cut short
    behind the last sealed entry is seen (``booking.audit.seal``)."""

    __tablename__ = "audit_seals"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Every audit entry with an id up to this one is covered by this seal or an earlier one.
    through_id: Mapped[int] = mapped_column(BigId)
    #: [[chain, position, entry_hash], ...] sorted by chain.
    heads: Mapped[list[Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    seal_hash: Mapped[str] = mapped_column(String(64), unique=True)


# The audit log is append-only in the database itself.
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""
_PG_SEAL_TRIGGER = """
CREATE TRIGGER audit_seals_no_update BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""
_SQLITE_NO_UPDATE = """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""
_SQLITE_NO_DELETE = """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""
_SQLITE_SEAL_NO_CHANGE = """
CREATE TRIGGER audit_seals_no_change BEFORE UPDATE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""
_SQLITE_SEAL_NO_DELETE = """
CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"""
SEAL_APPEND_ONLY_DDL = {
    "postgresql": [_PG_FUNCTION, _PG_SEAL_TRIGGER],
    "sqlite": [_SQLITE_SEAL_NO_CHANGE, _SQLITE_SEAL_NO_DELETE],
}

APPEND_ONLY_DDL = {
    "postgresql": [_PG_FUNCTION, _PG_TRIGGER],
    "sqlite": [_SQLITE_NO_UPDATE, _SQLITE_NO_DELETE],
}

for _dialect, _statements in APPEND_ONLY_DDL.items():
    for _statement in _statements:
        event.listen(
            AuditEntry.__table__, "after_create",
            DDL(_statement).execute_if(dialect=_dialect),  # type: ignore[no-untyped-call, unused-ignore]
        )
for _dialect, _statements in SEAL_APPEND_ONLY_DDL.items():
    for _statement in _statements:
        event.listen(
            AuditSeal.__table__, "after_create",
            DDL(_statement).execute_if(dialect=_dialect),  # type: ignore[no-untyped-call, unused-ignore]
        )
