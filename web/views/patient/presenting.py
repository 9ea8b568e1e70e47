"""Appointments as the patient pages show them: status in words, the actions
the rules allow now, and, where an action is not allowed, why in plain words.

Everything here is decided by :mod:`booking.rules` (the same functions the
SMS replies and the staff console ask); this module only turns decisions
into what a template needs, translated in the request's language. Call
:func:`web.i18n.activate` first.

What a guardian of a 12–15-year-old sees is logistics only (pbrl § 3-4):
the time, the clinic and what can be done; not the kind of appointment,
whether the young person came, or a reason given for a cancellation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, or_, select
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.base import ExecutableOption

from booking import rules
from booking.audit import Actor
from booking.models import Appointment, Clinic, Guardianship, Patient
from booking.reasons import N_, WARNING_TEXT, Reason, Warning
from booking.representation import LOGISTICS_FROM_AGE, OF_AGE_IN_HEALTH_MATTERS, Access
from booking.statuses import ACTIVE, AppointmentStatus
from core.db import Database
from web import i18n
from web.acting import Acting
from web.views.clinics import Phone, phone_link

#: Refusals whose answer is "call the clinic": the page shows the number as a link.
CALL_CLINIC: Final = frozenset({Reason.CUTOFF_PASSED, Reason.RESCHEDULE_LIMIT,
                                Reason.SLOT_NOT_RELEASED, Reason.TYPE_NOT_SELF_BOOKABLE,
                                Reason.NOT_ALLOWED_FOR_ACTOR})
#: Past appointments shown on the list page.
PAST_LIMIT: Final = 20
#: A cancellation that is really a change (``booking.service.change``).
CHANGED: Final = "changed"



class Shown(StrEnum):
    """The state of an appointment as the patient pages name it: a closed
    set, each with its words and colour. Finer than ``AppointmentStatus``:
    a booked appointment is either waiting for the patient's answer to the
    clinic's notice (innkalling), booked by the viewer, or just booked."""

    AWAITING_ANSWER = "awaiting_answer"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"  # on the day: the patient has come (Jeg er her)
    BOOKED_BY_YOU = "booked_by_you"
    BOOKED = "booked"
    MOVED = "moved"
    PAST = "past"
    ATTENDED = "attended"
    NOT_ATTENDED = "not_attended"
    CANCELLED = "cancelled"


SHOWN_TEXT: Final[dict[Shown, str]] = {
    Shown.AWAITING_ANSWER: N_("Awaiting your answer"),
    Shown.CONFIRMED: N_("Confirmed"),
    Shown.CHECKED_IN: N_("Checked in"),
    Shown.BOOKED_BY_YOU: N_("Booked by you"),
    Shown.BOOKED: N_("Booked"),
    Shown.MOVED: N_("Moved to another time"),
    Shown.PAST: N_("Past"),
    Shown.ATTENDED: N_("Attended"),
    Shown.NOT_ATTENDED: N_("Not attended"),
    Shown.CANCELLED: N_("Cancelled"),
}
#: Designsystemet colour of the status tag; the word carries the meaning.
SHOWN_COLOR: Final[dict[Shown, str]] = {
    Shown.AWAITING_ANSWER: "warning",
    Shown.CONFIRMED: "success",
    Shown.CHECKED_IN: "success",
    Shown.BOOKED_BY_YOU: "info",
    Shown.BOOKED: "info",
    Shown.MOVED: "neutral",
    Shown.PAST: "neutral",
    Shown.ATTENDED: "neutral",
    Shown.NOT_ATTENDED: "warning",
    Shown.CANCELLED: "neutral",
}
_FINAL_SHOWN: Final[dict[str, Shown]] = {
    AppointmentStatus.COMPLETED: Shown.ATTENDED,
    AppointmentStatus.NO_SHOW: Shown.NOT_ATTENDED,
    AppointmentStatus.CANCELLED: Shown.CANCELLED,
}


def shown_state(appointment: Appointment, viewer_actor_id: str, now: datetime, *,
                details: bool) -> Shown:
    """The state the viewer (``viewer_actor_id``) sees; ``details`` is False
    where they may see logistics only (then whether someone came is not said)."""
    status = AppointmentStatus(appointment.status)
    if status is AppointmentStatus.CANCELLED and appointment.cancellation_reason == CHANGED:
        return Shown.MOVED
    if status in ACTIVE and appointment.arrived_at is not None and details:
        return Shown.CHECKED_IN  # whether a young person came is not logistics
    if status in ACTIVE and appointment.starts_at <= now:
        return Shown.PAST
    if status is AppointmentStatus.CONFIRMED:
        return Shown.CONFIRMED
    if status is AppointmentStatus.BOOKED:
        if rules.confirmation_requested(appointment):
            return Shown.AWAITING_ANSWER
        if appointment.created_by == viewer_actor_id:
            return Shown.BOOKED_BY_YOU
        return Shown.BOOKED
    if not details and status is not AppointmentStatus.CANCELLED:
        return Shown.PAST  # whether a young person came is not logistics
    return _FINAL_SHOWN[status]


NoticeKind = Literal["success", "info", "warning", "danger"]


@dataclass(frozen=True)
class Refusal:
    """Why an action cannot be done now, translated; ``call`` is the clinic's
    number when the way forward is to phone."""

    code: str
    text: str
    call: Phone | None = None


@dataclass(frozen=True)
class Notice:
    """A message about what just happened (or could not happen)."""

    kind: NoticeKind
    text: str
    refusal: Refusal | None = None


@dataclass(frozen=True)
class AppointmentView:
    id: int
    patient_id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    shown: Shown
    status_text: str
    status_color: str
    clinic: Clinic
    phone: Phone
    #: None where the viewer may see logistics only.
    type_name: str | None
    upcoming: bool
    can_confirm: bool
    can_change: bool
    can_cancel: bool
    #: On the day: "Jeg er her" (the desk sees the patient arrived).
    can_check_in: bool
    refusals: tuple[Refusal, ...]
    #: A clinic-issued appointment (innkalling) the patient has not confirmed.
    awaits_confirmation: bool
    #: Everything beyond logistics may be shown (own data, or a child under 12).
    details: bool
    cancellation_reason: str | None
    #: ``?for=…`` of the appointment's patient when it is a child ("" for me).
    for_value: str
    #: The given name of the appointment's patient when it is not the viewer.
    for_name: str | None = None
    notice: Notice | None = None

    @property
    def href(self) -> str:
        return f"/timer/{self.id}"

    @property
    def status_id(self) -> str:
        """The id of the element holding the status (the htmx target)."""
        return f"status-{self.id}"

    @property
    def moved(self) -> bool:
        return self.shown is Shown.MOVED

    @property
    def cancelled(self) -> bool:
        """Cancelled, and not because it was moved to another time."""
        return self.shown is Shown.CANCELLED

    @property
    def has_actions(self) -> bool:
        return self.can_confirm or self.can_change or self.can_cancel

    def with_notice(self, notice: Notice | None) -> AppointmentView:
        return replace(self, notice=notice)


def refusal(code: str, params: dict[str, int] | None, clinic: Clinic) -> Refusal:
    return Refusal(code, i18n.translate_reason(code, params),
                   phone_link(clinic.phone) if code in CALL_CLINIC else None)


def present(appointment: Appointment, patient: Patient, actor: Actor, access: Access,
            now: datetime, *, me_id: int) -> AppointmentView:
    """What the viewer may see and do with ``appointment`` of ``patient``,
    acting as ``actor`` with ``access`` to that patient."""
    status = AppointmentStatus(appointment.status)
    details = access is Access.FULL
    active = status in ACTIVE
    upcoming = active and appointment.starts_at > now
    shown = shown_state(appointment, Actor.patient(me_id).id, now, details=details)

    appointment_type = appointment.appointment_type
    clinic = appointment.clinic
    confirm = rules.may_confirm(actor, appointment, now)
    change = rules.may_change(actor, appointment, appointment_type, patient, now)
    cancel = rules.may_cancel(actor, appointment, appointment_type, patient, now)
    refusals: list[Refusal] = []
    if upcoming:
        for decision in (change, cancel, confirm):
            if decision or decision.reason is None:
                continue
            if decision.reason is Reason.ALREADY_CONFIRMED:
                continue  # the status says so
            if decision.reason in (r.code for r in refusals):
                continue
            refusals.append(refusal(decision.reason, dict(decision.params), clinic))
    reason = appointment.cancellation_reason
    return AppointmentView(
        id=appointment.id, patient_id=appointment.patient_id,
        starts_at=appointment.starts_at, ends_at=appointment.ends_at,
        status=status.value, shown=shown, status_text=i18n.gettext(SHOWN_TEXT[shown]),
        status_color=SHOWN_COLOR[shown],
        clinic=clinic, phone=phone_link(clinic.phone),
        type_name=appointment_type.name(i18n.get_locale()) if details else None,
        upcoming=upcoming,
        can_confirm=upcoming and rules.confirmation_requested(appointment) and bool(confirm),
        can_change=upcoming and bool(change), can_cancel=upcoming and bool(cancel),
        can_check_in=bool(rules.may_check_in(actor, appointment, now)),
        refusals=tuple(refusals),
        awaits_confirmation=upcoming and rules.confirmation_requested(appointment),
        details=details,
        cancellation_reason=reason if details and reason and reason != CHANGED else None,
        for_value="" if appointment.patient_id == me_id else str(appointment.patient_id),
        for_name=None if appointment.patient_id == me_id else patient.given_name,
    )


def _with_rows() -> tuple[ExecutableOption, ...]:
    """The clinic and the kind in the same statement (both are required
    columns): one round trip instead of three."""
    return (joinedload(Appointment.clinic, innerjoin=True),
            joinedload(Appointment.appointment_type, innerjoin=True))


_ONE: Final = (select(Appointment).options(*_with_rows())
                .where(Appointment.id == bindparam("appointment_id")))


def upcoming_condition(patient_ids: BindParameter[Any], now: BindParameter[Any]
                       ) -> ColumnElement[bool]:
    """Active appointments of these patients that have not ended (also asked
    as ``EXISTS`` by Min side)."""
    return and_(Appointment.patient_id.in_(patient_ids),
                Appointment.status.in_([s.value for s in ACTIVE]),
                Appointment.ends_at > now)


#: Active appointments that have not ended, soonest first (built once).
_UPCOMING: Final = (
    select(Appointment).options(*_with_rows())
    .where(upcoming_condition(bindparam("patient_ids", expanding=True), bindparam("now")))
    .order_by(Appointment.starts_at, Appointment.id))
#: Ended, cancelled or attended appointments, newest first, without the old
#: halves of changes (built once).
_PAST: Final = (
    select(Appointment).options(*_with_rows())
    .where(Appointment.patient_id == bindparam("patient_id"))
    .where(or_(Appointment.status.not_in([s.value for s in ACTIVE]),
               Appointment.ends_at <= bindparam("now")))
    .where(or_(Appointment.cancellation_reason.is_(None),
               Appointment.cancellation_reason != CHANGED))
    .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
    .limit(bindparam("limit")))


async def load_appointment(db: Database, appointment_id: int) -> Appointment | None:
    async with db.read() as session:
        found: Appointment | None = (await session.execute(
            _ONE, {"appointment_id": appointment_id})).scalar_one_or_none()
        return found


async def upcoming_of(db: Database, patient_ids: Iterable[int], now: datetime
                      ) -> list[Appointment]:
    """Active appointments that have not ended, soonest first."""
    async with db.read() as session:
        return list((await session.execute(
            _UPCOMING, {"patient_ids": list(patient_ids), "now": now})).scalars())


async def past_of(db: Database, patient_id: int, now: datetime,
                  limit: int = PAST_LIMIT) -> list[Appointment]:
    """Ended, cancelled or attended appointments, newest first; the old
    halves of changes are left out (the new time is what matters)."""
    async with db.read() as session:
        rows = (await session.execute(
            _PAST, {"patient_id": patient_id, "now": now, "limit": limit})).scalars().all()
    return list(rows)


async def guardians_notified(db: Database, who: Acting) -> bool:
    """Is the viewer a young person (12–15) on their own page whose guardians
    get a text message about their appointments (time and place only)?"""
    if who.for_child or not (LOGISTICS_FROM_AGE <= rules.age_on(who.me.birth_date, who.today)
                             < OF_AGE_IN_HEALTH_MATTERS):
        return False
    async with db.read() as session:
        found = (await session.execute(
            select(Guardianship.id).where(Guardianship.child_id == who.me.id).limit(1))
        ).scalar_one_or_none()
    return found is not None


async def replacement_of(db: Database, appointment: Appointment) -> int | None:
    """The id of the appointment that took this one's place after a change."""
    if appointment.cancellation_reason != CHANGED:
        return None
    async with db.read() as session:
        found: int | None = (await session.execute(
            select(Appointment.id).where(Appointment.replaces_id == appointment.id)
            .order_by(Appointment.id.desc()).limit(1))).scalar_one_or_none()
    return found


def present_all(appointments: Sequence[Appointment], patients: dict[int, Patient],
                actor_for: dict[int, Actor], access_of: dict[int, Access], now: datetime,
                *, me_id: int) -> list[AppointmentView]:
    return [present(a, patients[a.patient_id], actor_for[a.patient_id],
                    access_of[a.patient_id], now, me_id=me_id) for a in appointments]


def fee_text(rule: rules.FeeRule, starts_at: datetime, *, booking: bool = False) -> str | None:
    """The late-cancellation fee rule for this case in plain words, before a
    patient cancels (or, with ``booking``, before they book); None when
    there is nothing to say."""
    if rule is rules.FeeRule.NEVER:
        return None if booking else i18n.gettext("There is no fee for cancelling this appointment.")
    if rule is rules.FeeRule.NOW:
        if booking:
            return i18n.gettext(
                "This time is less than 24 hours away. If you cancel it or do not come, "
                "the clinic may charge a fee.")
        return i18n.translate(WARNING_TEXT[Warning.LATE_CANCELLATION_FEE])
    return i18n.gettext(
        "Cancelling is free until %(when)s. If you cancel later, or do not come, "
        "the clinic may charge a fee.") % {"when": i18n.format_when(rules.late_fee_from(starts_at))}
