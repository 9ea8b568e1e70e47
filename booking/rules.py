"""What may be done, by whom, now — and if not, why.

Pure functions over already-loaded rows: no database, no clock of their own.
The web pages, SMS replies, the staff console and the record-system sync all
ask these same functions, so a cut-off or an age limit is decided in exactly
one place. Each refusal carries a :class:`~booking.reasons.Reason` whose text
is translated where it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from booking.audit import Actor
from booking.models import Appointment, AppointmentType, Patient, Slot
from booking.reasons import Reason, Warning
from booking.statuses import (
    ACTIVE,
    UNDO_TRANSITIONS,
    ActorKind,
    AppointmentStatus,
    Attendance,
    Mark,
    SlotStatus,
)
from core.locale import OSLO

#: Adults cancelling or changing later than this before the start may be
#: charged by the clinic; they are told before they confirm. Children never.
LATE_CANCELLATION_WINDOW = timedelta(hours=24)
ADULT_AGE = 18
SELF_SERVICE = frozenset({ActorKind.PATIENT, ActorKind.GUARDIAN})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason | None = None
    params: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[Warning, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def refuse(reason: Reason, **params: int) -> Decision:
    return Decision(False, reason, params)


def age_on(birth_date: date, day: date) -> int:
    """Completed years on ``day`` (a birthday counts from that morning)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def local_date(moment: datetime) -> date:
    return moment.astimezone(OSLO).date()


def is_self_service(actor: Actor) -> bool:
    return actor.kind in SELF_SERVICE


def may_act_for(actor: Actor, patient_id: int, clinic_id: int) -> Decision:
    """May this actor handle appointments of this patient at this clinic?"""
    if actor.kind is ActorKind.PATIENT:
        ok = actor.patient_id == patient_id
    elif actor.kind is ActorKind.GUARDIAN:
        ok = patient_id in actor.represents
    elif actor.kind is ActorKind.STAFF:
        ok = clinic_id in actor.clinic_ids
    else:
        ok = actor.kind in (ActorKind.RECORD_SYSTEM, ActorKind.SYSTEM)
    return ALLOWED if ok else refuse(Reason.NOT_ALLOWED_FOR_ACTOR)


def fits_age(appointment_type: AppointmentType, birth_date: date, day: date) -> bool:
    """Is a person born on ``birth_date`` within the type's age range on ``day``?"""
    age = age_on(birth_date, day)
    return age >= appointment_type.min_age and (
        appointment_type.max_age is None or age <= appointment_type.max_age)


def may_self_book_type(appointment_type: AppointmentType, birth_date: date, day: date
                       ) -> Decision:
    """The part of :func:`may_book` that depends on the kind of appointment and
    the person alone (for pages that offer kinds before a time is chosen)."""
    if not appointment_type.self_bookable:
        return refuse(Reason.TYPE_NOT_SELF_BOOKABLE)
    if not fits_age(appointment_type, birth_date, day):
        return refuse(Reason.AGE_NOT_ALLOWED)
    return ALLOWED


def self_bookable_within_horizon(appointment_type: AppointmentType, birth_date: date,
                                 today: date) -> bool:
    """Could the person self-book this kind on some day they may book now?
    (Age only grows, so the first and the last day of the horizon decide.)"""
    last_day = today + timedelta(days=appointment_type.booking_horizon_days)
    return appointment_type.self_bookable and (
        age_on(birth_date, last_day) >= appointment_type.min_age
        and (appointment_type.max_age is None
             or age_on(birth_date, today) <= appointment_type.max_age))


def overlaps(appointment: Appointment, starts_at: datetime, ends_at: datetime) -> bool:
    """Does the appointment share any moment with ``starts_at`` … ``ends_at``?
    (One ending as the other starts does not.)"""
    return appointment.starts_at < ends_at and starts_at < appointment.ends_at


def _other_active(patient_appointments: Iterable[Appointment],
                  ignore_appointment_id: int | None) -> Iterator[Appointment]:
    """The patient's active appointments but the one being changed."""
    return (other for other in patient_appointments
            if other.id != ignore_appointment_id and other.status in ACTIVE)


def same_kind_booked(appointment_type: AppointmentType,
                     patient_appointments: Iterable[Appointment], now: datetime,
                     ignore_appointment_id: int | None = None) -> Appointment | None:
    """The patient's active appointment of this kind that has not started at
    ``now`` (the first), which a patient changes rather than booking another
    of the kind; None when there is none. Asked at the kind step, so the
    patient learns it before choosing a clinic and a time, and by
    :func:`may_book` again."""
    same = [other for other in _other_active(patient_appointments, ignore_appointment_id)
            if other.appointment_type_id == appointment_type.id and other.starts_at > now]
    return min(same, key=lambda other: other.starts_at) if same else None


def may_book_slot(actor: Actor, patient_id: int, slot: Slot, now: datetime,
                  hold_key: str | None = None) -> Decision:
    """The first refusals of :func:`may_book`, in its order: those that depend
    on who acts for whom at which clinic and on the slot's own state alone
    (not on the kind or on the patient's appointments). A slot another
    booking took is refused here, so the service can say so from one read
    before it locks anything."""
    who = may_act_for(actor, patient_id, slot.clinic_id)
    if not who:
        return who
    if slot.starts_at <= now:
        return refuse(Reason.SLOT_IN_PAST)
    if slot.status == SlotStatus.BLOCKED:
        return refuse(Reason.SLOT_CLOSED)
    held_by_other = slot.status == SlotStatus.HELD and slot.hold_key != hold_key and (
        slot.held_until is None or slot.held_until > now)
    if slot.status == SlotStatus.BOOKED or held_by_other:
        return refuse(Reason.SLOT_TAKEN)
    return ALLOWED


def may_book(actor: Actor, patient: Patient, appointment_type: AppointmentType, slot: Slot,
             slot_type_ids: Iterable[int], now: datetime,
             patient_appointments: Iterable[Appointment] = (),
             hold_key: str | None = None, ignore_appointment_id: int | None = None
             ) -> Decision:
    """Booking ``slot`` for ``patient``. ``patient_appointments`` are the
    patient's other appointments (to catch overlaps and duplicates);
    ``ignore_appointment_id`` is the one being changed."""
    first = may_book_slot(actor, patient.id, slot, now, hold_key)
    if not first:
        return first
    duration = timedelta(minutes=appointment_type.duration_minutes)
    if slot.ends_at - slot.starts_at < duration:
        return refuse(Reason.SLOT_TOO_SHORT)
    if appointment_type.county_id != slot.clinic.county_id:
        return refuse(Reason.TYPE_NOT_IN_SLOT)
    if not fits_age(appointment_type, patient.birth_date, local_date(slot.starts_at)):
        return refuse(Reason.AGE_NOT_ALLOWED)
    if is_self_service(actor):
        if not appointment_type.self_bookable:
            return refuse(Reason.TYPE_NOT_SELF_BOOKABLE)
        if not slot.released:
            return refuse(Reason.SLOT_NOT_RELEASED)
        if appointment_type.id not in set(slot_type_ids):
            return refuse(Reason.TYPE_NOT_IN_SLOT)
        if slot.starts_at < now + timedelta(hours=appointment_type.min_notice_hours):
            return refuse(Reason.SLOT_TOO_SOON, hours=appointment_type.min_notice_hours)
        if slot.starts_at > now + timedelta(days=appointment_type.booking_horizon_days):
            return refuse(Reason.SLOT_TOO_FAR_AHEAD, days=appointment_type.booking_horizon_days)
    ends_at = slot.starts_at + duration
    mine = list(_other_active(patient_appointments, ignore_appointment_id))
    if any(overlaps(other, slot.starts_at, ends_at) for other in mine):
        return refuse(Reason.OVERLAPS_OTHER)
    if is_self_service(actor) and same_kind_booked(appointment_type, mine, now) is not None:
        return refuse(Reason.ALREADY_BOOKED_TYPE)
    return ALLOWED


def why_kind_not_offered(appointment_type: AppointmentType, birth_date: date, today: date
                         ) -> Reason | None:
    """Why the kind is not offered online to a person born on ``birth_date``
    (on no day they may book now); None when it is."""
    if not appointment_type.self_bookable:
        return Reason.TYPE_NOT_SELF_BOOKABLE
    if not self_bookable_within_horizon(appointment_type, birth_date, today):
        return Reason.AGE_NOT_ALLOWED
    return None


def why_not_offered(appointment_type: AppointmentType, birth_date: date, starts_at: datetime,
                    patient_appointments: Iterable[Appointment] = (),
                    ignore_appointment_id: int | None = None) -> Reason | None:
    """Why a free time of this kind starting at ``starts_at`` is not offered to
    the patient; None when it is. Not offered: a kind they may not book
    online, or not at their age on that day, and a time that overlaps one of
    their own active appointments (``patient_appointments``, except
    ``ignore_appointment_id``, the one being changed) — the refusals of
    :func:`may_book` that depend on the person, not on the slot."""
    kind = may_self_book_type(appointment_type, birth_date, local_date(starts_at))
    if not kind:
        return kind.reason
    ends_at = starts_at + timedelta(minutes=appointment_type.duration_minutes)
    if any(overlaps(other, starts_at, ends_at)
           for other in _other_active(patient_appointments, ignore_appointment_id)):
        return Reason.OVERLAPS_OTHER
    return None


def late_fee_applies(appointment_type: AppointmentType, birth_date: date,
                     starts_at: datetime) -> bool:
    """May the clinic charge a fee when this appointment is cancelled or
    changed late (within :data:`LATE_CANCELLATION_WINDOW`)? Only adults (on
    the day of the appointment), and only for kinds that have the fee."""
    adult = age_on(birth_date, local_date(starts_at)) >= ADULT_AGE
    return adult and appointment_type.late_cancellation_fee


def is_late_cancellation(appointment: Appointment, now: datetime) -> bool:
    """Is cancelling now late (within :data:`LATE_CANCELLATION_WINDOW` of the
    start)? Late for everyone; whether a fee may follow is :func:`fee_rule`."""
    return appointment.starts_at - now < LATE_CANCELLATION_WINDOW


class FeeRule(StrEnum):
    """What the fee rule means for one appointment, now (shown before a
    patient cancels, and before they book)."""

    NEVER = "never"  # a child, or a kind without the fee: cancelling is always free
    LATER = "later"  # free now; from 24 hours before, the clinic may charge
    NOW = "now"  # within 24 hours: the clinic may charge for cancelling now


def fee_rule(appointment_type: AppointmentType, birth_date: date, starts_at: datetime,
             now: datetime) -> FeeRule:
    if not late_fee_applies(appointment_type, birth_date, starts_at):
        return FeeRule.NEVER
    if starts_at - now < LATE_CANCELLATION_WINDOW:
        return FeeRule.NOW
    return FeeRule.LATER


def late_fee_from(starts_at: datetime) -> datetime:
    """From this moment a cancellation is late."""
    return starts_at - LATE_CANCELLATION_WINDOW


def _late_fee_warning(appointment: Appointment, appointment_type: AppointmentType,
                      patient: Patient, now: datetime) -> tuple[Warning, ...]:
    rule = fee_rule(appointment_type, patient.birth_date, appointment.starts_at, now)
    if rule is FeeRule.NOW:
        return (Warning.LATE_CANCELLATION_FEE,)
    return ()


def _still_open(actor: Actor, appointment: Appointment, now: datetime) -> Decision:
    """The actor may handle it, and it is active and has not started."""
    who = may_act_for(actor, appointment.patient_id, appointment.clinic_id)
    if not who:
        return who
    if appointment.status not in ACTIVE:
        return refuse(Reason.NOT_ACTIVE)
    if appointment.starts_at <= now:
        return refuse(Reason.ALREADY_STARTED)
    return ALLOWED


def may_cancel(actor: Actor, appointment: Appointment, appointment_type: AppointmentType,
               patient: Patient, now: datetime) -> Decision:
    """A patient who cannot come may say so until the appointment starts,
    online or by any other way: no cut-off (a late cancellation frees the
    time for someone else; a no-show frees nothing). Adults are warned of
    the fee when it may apply (:func:`fee_rule`)."""
    decision = _still_open(actor, appointment, now)
    if not decision:
        return decision
    return Decision(True, warnings=_late_fee_warning(appointment, appointment_type, patient, now))


def may_change(actor: Actor, appointment: Appointment, appointment_type: AppointmentType,
               patient: Patient, now: datetime, *, clinic_asked: bool = False) -> Decision:
    """May the appointment be moved at all (the new time is checked by
    :func:`may_book`)? Online, only until the kind's change cut-off, unless
    the clinic asked the patient to move it (``clinic_asked``: a schedule
    change took its slot away), which neither the cut-off nor the limit on
    self-service moves holds back."""
    decision = _still_open(actor, appointment, now)
    if not decision:
        return decision
    if clinic_asked:
        return Decision(True)
    cutoff = timedelta(hours=appointment_type.change_cutoff_hours)
    if is_self_service(actor) and now > appointment.starts_at - cutoff:
        return refuse(Reason.CUTOFF_PASSED, hours=appointment_type.change_cutoff_hours)
    if (is_self_service(actor)
            and appointment.self_reschedules >= appointment_type.max_self_reschedules):
        return refuse(Reason.RESCHEDULE_LIMIT)
    return Decision(True, warnings=_late_fee_warning(appointment, appointment_type, patient, now))


def confirmation_requested(appointment: Appointment) -> bool:
    """Has the clinic asked for an answer that is not given yet? Only a
    clinic-issued appointment (innkalling) asks; a time the patient booked
    themselves needs no confirmation, nor one they moved to a time they chose."""
    return (bool(appointment.clinic_issued) and appointment.status == AppointmentStatus.BOOKED
            and not appointment.self_reschedules)


def may_confirm(actor: Actor, appointment: Appointment, now: datetime) -> Decision:
    who = may_act_for(actor, appointment.patient_id, appointment.clinic_id)
    if not who:
        return who
    if appointment.status == AppointmentStatus.CONFIRMED:
        return refuse(Reason.ALREADY_CONFIRMED)
    if appointment.status not in ACTIVE:
        return refuse(Reason.NOT_ACTIVE)
    if appointment.starts_at <= now:
        return refuse(Reason.ALREADY_STARTED)
    return ALLOWED


def may_record_attendance(actor: Actor, appointment: Appointment, now: datetime) -> Decision:
    """Marking completed or no-show (ikke møtt) is for the clinic, after the start."""
    if actor.kind not in (ActorKind.STAFF, ActorKind.RECORD_SYSTEM, ActorKind.SYSTEM):
        return refuse(Reason.NOT_ALLOWED_FOR_ACTOR)
    who = may_act_for(actor, appointment.patient_id, appointment.clinic_id)
    if not who:
        return who
    if appointment.status not in ACTIVE:
        return refuse(Reason.NOT_ACTIVE)
    if appointment.starts_at > now:
        return refuse(Reason.NOT_YET_STARTED)
    return ALLOWED


# --- Arrival and attendance (the reception desk, and check-in) -------------

CLINIC_SIDE = frozenset({ActorKind.STAFF, ActorKind.RECORD_SYSTEM, ActorKind.SYSTEM})


def attendance(appointment: Appointment) -> Attendance:
    """Where the appointment stands on its day, as the desk sees it."""
    status = AppointmentStatus(appointment.status)
    if status is AppointmentStatus.CANCELLED:
        return Attendance.CANCELLED
    if status is AppointmentStatus.COMPLETED:
        return Attendance.COMPLETED
    if status is AppointmentStatus.NO_SHOW:
        return Attendance.NO_SHOW
    return Attendance.ARRIVED if appointment.arrived_at is not None else Attendance.EXPECTED


def _on_its_day(appointment: Appointment, now: datetime) -> bool:
    return local_date(now) == local_date(appointment.starts_at)


def may_mark(actor: Actor, appointment: Appointment, mark: Mark, now: datetime) -> Decision:
    """May the clinic mark the patient arrived (on the appointment's Oslo
    day), or the appointment completed or a no-show (ikke møtt: after the
    start, and never once the patient has arrived)?"""
    if actor.kind not in CLINIC_SIDE:
        return refuse(Reason.NOT_ALLOWED_FOR_ACTOR)
    who = may_act_for(actor, appointment.patient_id, appointment.clinic_id)
    if not who:
        return who
    if appointment.status not in ACTIVE:
        return refuse(Reason.NOT_ACTIVE)
    if mark is Mark.ARRIVED:
        if appointment.arrived_at is not None:
            return refuse(Reason.ALREADY_ARRIVED)
        if not _on_its_day(appointment, now):
            return refuse(Reason.NOT_TODAY)
        return ALLOWED
    if mark is Mark.NO_SHOW and appointment.arrived_at is not None:
        return refuse(Reason.ALREADY_ARRIVED)
    if appointment.starts_at > now:
        return refuse(Reason.NOT_YET_STARTED)
    return ALLOWED


def may_check_in(actor: Actor, appointment: Appointment, now: datetime) -> Decision:
    """"Jeg er her": the patient, or a guardian who may handle the
    appointment, says they have come; only on the appointment's Oslo day and
    before it ends."""
    if not is_self_service(actor):
        return refuse(Reason.NOT_ALLOWED_FOR_ACTOR)
    who = may_act_for(actor, appointment.patient_id, appointment.clinic_id)
    if not who:
        return who
    if appointment.status not in ACTIVE:
        return refuse(Reason.NOT_ACTIVE)
    if appointment.arrived_at is not None:
        return refuse(Reason.ALREADY_ARRIVED)
    if not _on_its_day(appointment, now):
        return refuse(Reason.NOT_TODAY)
    if appointment.ends_at <= now:
        return refuse(Reason.ALREADY_ENDED)
    return ALLOWED


def undo_target(appointment: Appointment) -> AppointmentStatus:
    """The active status an undone completed or no-show mark returns to."""
    return (AppointmentStatus.CONFIRMED if appointment.confirmed_at is not None
            else AppointmentStatus.BOOKED)


def may_undo(actor: Actor, appointment: Appointment, now: datetime) -> Decision:
    """May the clinic take back the latest mark (completed or no-show, else
    arrived)? Only on the Oslo day the mark was made."""
    if actor.kind not in CLINIC_SIDE:
        return refuse(Reason.NOT_ALLOWED_FOR_ACTOR)
    who = may_act_for(actor, appointment.patient_id, appointment.clinic_id)
    if not who:
        return who
    status = AppointmentStatus(appointment.status)
    if status in UNDO_TRANSITIONS:
        if undo_target(appointment) not in UNDO_TRANSITIONS[status]:
            return refuse(Reason.NOTHING_TO_UNDO)
        marked = appointment.attendance_at
    elif status in ACTIVE and appointment.arrived_at is not None:
        marked = appointment.arrived_at
    else:
        return refuse(Reason.NOTHING_TO_UNDO)
    if marked is None or local_date(marked) != local_date(now):
        return refuse(Reason.UNDO_TOO_LATE)
    return ALLOWED
