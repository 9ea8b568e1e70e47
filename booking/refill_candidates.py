"""The candidate order of refilling (:mod:`booking.refill`): who may be
offered a freed slot, and in which order. Documented, explainable
(:func:`explain` goes into each offer's audit entry), one place:

* only entries still waiting whose appointment is active and later than the
  freed slot, of the kind the slot offers, at a clinic the patient chose, on
  a weekday and at a time of day they chose (Oslo), with at least the notice
  they asked for; who may book that kind at their age on that day, whose
  appointment may still be changed online (change cut-off, reschedule
  limit), who were not offered this slot before in this round, and who have
  no other offer open;
* then, when :attr:`RefillPolicy.children_first` (the default), children's
  recalls first: a patient under 18 on the slot's day whose appointment the
  clinic issued (*innkalling*, the recall). Recall due dates live in the
  record system, so a clinic-issued child appointment stands for an overdue
  recall here; everyone else (adults' routine checks, self-booked times) after;
* then the earliest request first (the entry's ``created_at``, then its id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import rules
from booking.audit import Actor
from booking.models import Appointment, AppointmentType, Patient, Slot, schedule_template_types
from booking.refill_models import RefillOffer, WaitlistEntry
from booking.statuses import ACTIVE, OfferStatus, WaitlistStatus
from core.locale import OSLO

CHILD_AGE_LIMIT: Final = 18


@dataclass(frozen=True)
class RefillPolicy:
    """The county-wide settings of refilling (``REFILL_*``, README)."""

    #: How long one wave's offers stand and the slot is held for them.
    offer_minutes: int = 30
    #: How many people one wave offers the slot to.
    wave_size: int = 3
    #: Only slots starting at least this far ahead are offered.
    min_lead_hours: int = 24
    #: Children's recalls before everyone else.
    children_first: bool = True

    @property
    def offer_time(self) -> timedelta:
        return timedelta(minutes=self.offer_minutes)


@dataclass(frozen=True)
class Candidate:
    entry: WaitlistEntry
    appointment: Appointment
    patient: Patient
    kind: AppointmentType
    #: A child's clinic-issued appointment (a recall): first when children go first.
    child_recall: bool

    def order_key(self, children_first: bool) -> tuple[int, datetime, int]:
        return (0 if children_first and self.child_recall else 1,
                self.entry.created_at, self.entry.id)


def fits_wishes(entry: WaitlistEntry, slot: Slot, now: datetime) -> bool:
    """Does the slot fit what the patient asked for (clinic, weekday, time of
    day in Oslo, notice)?"""
    local = slot.starts_at.astimezone(OSLO)
    if slot.clinic_id not in set(entry.clinic_ids or ()):
        return False
    if entry.weekdays and local.weekday() not in set(entry.weekdays):
        return False
    clock = local.time().replace(tzinfo=None)
    if entry.earliest_time is not None and clock < entry.earliest_time:
        return False
    if entry.latest_time is not None and clock > entry.latest_time:
        return False
    return slot.starts_at >= now + timedelta(hours=entry.notice_hours)


def eligible(candidate: Candidate, slot: Slot, now: datetime) -> bool:
    """The rules a candidate must meet for ``slot`` (module docstring)."""
    appointment, kind, patient = candidate.appointment, candidate.kind, candidate.patient
    if appointment.status not in ACTIVE or appointment.starts_at <= slot.starts_at:
        return False
    if not fits_wishes(candidate.entry, slot, now):
        return False
    if slot.ends_at - slot.starts_at < timedelta(minutes=kind.duration_minutes):
        return False
    if not rules.may_self_book_type(kind, patient.birth_date, rules.local_date(slot.starts_at)):
        return False
    return bool(rules.may_change(Actor.patient(patient.id), appointment, kind, patient, now))


def order(found: Sequence[Candidate], policy: RefillPolicy) -> list[Candidate]:
    """The documented order: children's recalls first (if the policy says
    so), then the earliest request."""
    return sorted(found, key=lambda c: c.order_key(policy.children_first))


def explain(candidate: Candidate, policy: RefillPolicy) -> dict[str, Any]:
    """Why this candidate stands where it does (for the audit and support)."""
    return {"waitlist_entry_id": candidate.entry.id,
            "child_recall_first": bool(policy.children_first and candidate.child_recall),
            "asked_at": candidate.entry.created_at.isoformat()}


async def candidates(session: AsyncSession, slot: Slot, now: datetime, policy: RefillPolicy,
                     *, round_id: int | None = None) -> list[Candidate]:
    """Everyone who may be offered ``slot`` now, in the documented order."""
    offered_here = select(RefillOffer.waitlist_entry_id).where(
        RefillOffer.round_id == (round_id if round_id is not None else -1))
    open_elsewhere = exists().where(RefillOffer.waitlist_entry_id == WaitlistEntry.id,
                                    RefillOffer.status == OfferStatus.OFFERED)
    slot_types = select(schedule_template_types.c.appointment_type_id).where(
        schedule_template_types.c.template_id == slot.template_id)
    rows = (await session.execute(
        select(WaitlistEntry, Appointment, Patient, AppointmentType)
        .join(Appointment, Appointment.id == WaitlistEntry.appointment_id)
        .join(Patient, Patient.id == WaitlistEntry.patient_id)
        .join(AppointmentType, AppointmentType.id == WaitlistEntry.appointment_type_id)
        .where(WaitlistEntry.status == WaitlistStatus.WAITING,
               WaitlistEntry.appointment_type_id.in_(slot_types),
               Appointment.status.in_([s.value for s in ACTIVE]),
               Appointment.starts_at > slot.starts_at,
               WaitlistEntry.id.not_in(offered_here), ~open_elsewhere)
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id))).all()
    day = rules.local_date(slot.starts_at)
    found = [Candidate(entry, appointment, patient, kind,
                       child_recall=bool(appointment.clinic_issued)
                       and rules.age_on(patient.birth_date, day) < CHILD_AGE_LIMIT)
             for entry, appointment, patient, kind in rows]
    return order([c for c in found if eligible(c, slot, now)], policy)
