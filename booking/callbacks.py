"""Call me back (*ring meg tilbake*): instead of ringing a clinic's phone that
nobody answers, a patient or guardian asks the clinic to call, with a reason
from a short closed list and a window (today or tomorrow, morning or
afternoon, in Oslo time and inside the clinic's opening hours).

Statuses are a closed vocabulary: ``waiting`` until staff mark the request
``done`` (who and when); a waiting request whose window has ended is
``replaced`` when the same person asks the same clinic again. The database
allows one waiting request per person and clinic (a partial unique index), so
two requests sent at once make one. Every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import (
    BindParameter,
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    String,
    and_,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, aliased, mapped_column

from booking import audit
from booking.audit import Actor
from booking.models import Clinic, Patient
from booking.picker import is_open
from booking.reasons import N_
from core.db import Base, BigId, Database, UTCDateTime, check_constraint
from core.locale import OSLO

SAVED_ACTION: Final = "callback.requested"
DONE_ACTION: Final = "callback.done"
LIST_ACTION: Final = "callback.list_view"
REFUSED_ACTION: Final = "callback.staff_refused"
PURPOSE: Final = "callback"
#: The most waiting requests one person may have, all clinics together.
MAX_WAITING_PER_PERSON: Final = 5
#: Where mornings end and afternoons begin (Oslo wall-clock time).
NOON: Final = time(12, 0)
#: Opening hours assumed for a clinic that has none on record.
DEFAULT_HOURS: Final = (time(8, 0), time(15, 30))


class CallbackStatus(StrEnum):
    WAITING = "waiting"
    DONE = "done"  # final
    REPLACED = "replaced"  # final: the person asked again after the window ended


class CallbackReason(StrEnum):
    APPOINTMENT = "appointment"
    PAIN = "pain"
    TREATMENT = "treatment"
    INVOICE = "invoice"
    OTHER = "other"


class DayPart(StrEnum):
    MORNING = "morning"
    AFTERNOON = "afternoon"


REASON_TEXT: Final[dict[str, str]] = {
    CallbackReason.APPOINTMENT: N_("Book, change or cancel an appointment"),
    CallbackReason.PAIN: N_("Toothache or an injury to the teeth"),
    CallbackReason.TREATMENT: N_("A question about treatment"),
    CallbackReason.INVOICE: N_("A question about a bill"),
    CallbackReason.OTHER: N_("Something else"),
}

STATUS_TEXT: Final[dict[str, str]] = {
    CallbackStatus.WAITING: N_("Waiting for the clinic to call"),
    CallbackStatus.DONE: N_("The clinic has called"),
    CallbackStatus.REPLACED: N_("Replaced by a newer request"),
}

REFUSAL_TEXT: Final[dict[str, str]] = {
    "choose_reason": N_("Choose what the call is about."),
    "choose_window": N_("Choose when the clinic may call."),
    "window_gone": N_("That time is no longer available. Choose another."),
    "already_waiting": N_("You have already asked this clinic to call about this person. "
                          "The clinic will call in the time you chose."),
    "too_many": N_("You have asked for too many calls at once. Wait until the clinics "
                   "have called."),
    "no_number": N_("We have no mobile number for you, so the clinic cannot call you. "
                    "Add a mobile number on your profile first."),
    "no_windows": N_("The clinic is closed today and tomorrow, so it cannot call. "
                     "Try again on a day the clinic is open."),
}


class CallbackRefused(Exception):
    """A :data:`REFUSAL_TEXT` key; nothing changed."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class CallbackRequest(Base):
    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(check_constraint("status", CallbackStatus), name="status"),
        CheckConstraint(check_constraint("reason", CallbackReason), name="reason"),
        CheckConstraint(check_constraint("day_part", DayPart), name="day_part"),
        CheckConstraint("window_starts_at < window_ends_at", name="ordered_window"),
        # One waiting request per person and clinic, whoever asks.
        Index("ux_callback_requests_waiting", "patient_id", "clinic_id", unique=True,
              sqlite_where=text("status = 'waiting'"),
              postgresql_where=text("status = 'waiting'")),
        Index("ix_callback_requests_clinic_status", "clinic_id", "status", "window_starts_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: Whom the call is about.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    #: Who asked (the patient, or their guardian); the number is theirs.
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    reason: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)  # Oslo date
    day_part: Mapped[str] = mapped_column(String(10))
    window_starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    phone: Mapped[str] = mapped_column(String(20))  # E.164, the asker's number on record
    status: Mapped[str] = mapped_column(String(10), default=CallbackStatus.WAITING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    done_by: Mapped[str | None] = mapped_column(String(64), default=None)  # staff actor id
    done_by_name: Mapped[str | None] = mapped_column(String(200), default=None)


# --- windows (pure) -------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    day: date
    part: DayPart
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC

    @property
    def key(self) -> str:
        """The form value: ``2026-12-07:morning``."""
        return f"{self.day.isoformat()}:{self.part.value}"


def _hours(clinic: Clinic, day: date) -> tuple[time, time] | None:
    if not is_open(clinic, day):
        return None
    hours = clinic.opening_hours or {}
    if not hours:
        return DEFAULT_HOURS
    try:
        opens, closes = (time.fromisoformat(v) for v in hours[str(day.weekday())])
    except (KeyError, ValueError, TypeError):
        return None
    return (opens, closes) if opens < closes else None


def _utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=OSLO).astimezone(UTC)


def windows(clinic: Clinic, now: datetime) -> list[Window]:
    """The windows offered now: today and tomorrow (Oslo dates), each morning
    (opening to noon) and afternoon (noon to closing), on days the clinic is
    open, and only those that have not ended yet."""
    today = now.astimezone(OSLO).date()
    out = []
    for day in (today, today + timedelta(days=1)):
        hours = _hours(clinic, day)
        if hours is None:
            continue
        opens, closes = hours
        for part, start, end in ((DayPart.MORNING, opens, min(closes, NOON)),
                                 (DayPart.AFTERNOON, max(opens, NOON), closes)):
            if start >= end:
                continue
            window = Window(day, part, _utc(day, start), _utc(day, end))
            if window.ends_at > now:
                out.append(window)
    return out


def parse_window(value: str, offered: list[Window]) -> Window | None:
    return next((w for w in offered if w.key == value), None)


# --- the patient side --------------------------------------------------------------

async def request_call(db: Database, actor: Actor, *, patient_id: int, requested_by_id: int,
                       clinic: Clinic, reason: str, window_key: str, phone: str | None,
                       now: datetime) -> CallbackRequest:
    """Ask ``clinic`` to call ``requested_by_id`` about ``patient_id``; the
    actor is already authorised for that patient (``web.acting``). Raises
    :class:`CallbackRefused` with nothing changed."""
    if reason not in CallbackReason.__members__.values():
        raise CallbackRefused("choose_reason")
    offered = windows(clinic, now)
    if not offered:
        raise CallbackRefused("no_windows")
    if not window_key:
        raise CallbackRefused("choose_window")
    window = parse_window(window_key, offered)
    if window is None:
        raise CallbackRefused("window_gone")
    if not phone:
        raise CallbackRefused("no_number")
    try:
        async with db.write() as session:
            waiting = list((await session.execute(select(CallbackRequest).where(
                CallbackRequest.requested_by_id == requested_by_id,
                CallbackRequest.status == CallbackStatus.WAITING))).scalars())
            for old in waiting:
                if old.patient_id == patient_id and old.clinic_id == clinic.id:
                    if old.window_ends_at > now:
                        raise CallbackRefused("already_waiting")
                    old.status = CallbackStatus.REPLACED
            if sum(1 for w in waiting if w.status == CallbackStatus.WAITING) \
                    >= MAX_WAITING_PER_PERSON:
                raise CallbackRefused("too_many")
            await session.flush()
            row = CallbackRequest(
                patient_id=patient_id, requested_by_id=requested_by_id, clinic_id=clinic.id,
                reason=reason, day=window.day, day_part=window.part.value,
                window_starts_at=window.starts_at, window_ends_at=window.ends_at,
                phone=phone, status=CallbackStatus.WAITING, created_at=now)
            session.add(row)
            await session.flush()
            await audit.record(session, actor, SAVED_ACTION, purpose=PURPOSE,
                               subject_patient_id=patient_id,
                               on_behalf_of_id=(patient_id if patient_id != requested_by_id
                                                else None),
                               detail={"callback_id": row.id, "clinic_id": clinic.id},
                               now=now)
    except IntegrityError:
        # Another request for this person and clinic won the race.
        raise CallbackRefused("already_waiting") from None
    return row


@dataclass(frozen=True)
class MyRequest:
    id: int
    patient_id: int
    patient_name: str
    clinic_name: str
    clinic_slug: str
    reason: str
    day: date
    part: str
    window_starts_at: datetime
    status: str
    done_at: datetime | None


#: How long a done request stays in the person's list.
MY_REQUESTS_DAYS = 7


def my_request_of(requested_by_id: int | BindParameter[Any],
                  done_since: datetime | BindParameter[Any]) -> ColumnElement[bool]:
    """The condition of :func:`my_requests`: waiting, or done after
    ``done_since`` (also asked as ``EXISTS`` by Min side, with bound parameters)."""
    return and_(CallbackRequest.requested_by_id == requested_by_id,
                (CallbackRequest.status == CallbackStatus.WAITING)
                | ((CallbackRequest.status == CallbackStatus.DONE)
                   & (CallbackRequest.done_at > done_since)))


async def my_requests(db: Database, requested_by_id: int, now: datetime,
                      days: int = MY_REQUESTS_DAYS) -> list[MyRequest]:
    """The person's waiting requests and those done in the last ``days``."""
    async with db.read() as session:
        rows = (await session.execute(
            select(CallbackRequest, Patient.given_name, Clinic.name, Clinic.slug)
            .join(Patient, Patient.id == CallbackRequest.patient_id)
            .join(Clinic, Clinic.id == CallbackRequest.clinic_id)
            .where(my_request_of(requested_by_id, now - timedelta(days=days)))
            .order_by(CallbackRequest.window_starts_at, CallbackRequest.id))).all()
    return [MyRequest(r.id, r.patient_id, name, clinic_name, slug, r.reason, r.day,
                      r.day_part, r.window_starts_at, r.status, r.done_at)
            for r, name, clinic_name, slug in rows]


# --- the clinic side -----------------------------------------------------------------

@dataclass(frozen=True)
class StaffLine:
    id: int
    patient_id: int
    patient_name: str
    birth_date: date
    asked_by_name: str | None  # a guardian's name, when a guardian asked
    reason: str
    day: date
    part: str
    window_starts_at: datetime
    window_ends_at: datetime
    phone: str
    status: str
    done_at: datetime | None
    done_by_name: str | None


async def clinic_list(db: Database, actor: Actor, clinic_id: int, now: datetime
                      ) -> list[StaffLine]:
    """The clinic's waiting requests, and those done since the start of
    today (Oslo); the view is audited once per patient listed."""
    start_of_day = datetime.combine(now.astimezone(OSLO).date(), time(0), tzinfo=OSLO)
    asker = aliased(Patient)
    async with db.write() as session:
        rows = (await session.execute(
            select(CallbackRequest, Patient, asker)
            .join(Patient, Patient.id == CallbackRequest.patient_id)
            .join(asker, asker.id == CallbackRequest.requested_by_id)
            .where(CallbackRequest.clinic_id == clinic_id,
                   (CallbackRequest.status == CallbackStatus.WAITING)
                   | ((CallbackRequest.status == CallbackStatus.DONE)
                      & (CallbackRequest.done_at >= start_of_day)))
            .order_by(CallbackRequest.window_starts_at, CallbackRequest.id))).all()
        for patient_id in sorted({r.patient_id for r, _, _ in rows}):
            await audit.record(session, actor, LIST_ACTION, purpose=PURPOSE,
                               subject_patient_id=patient_id,
                               detail={"clinic_id": clinic_id}, now=now)
    return [StaffLine(r.id, p.id, f"{p.given_name} {p.family_name}", p.birth_date,
                      (f"{a.given_name} {a.family_name}" if a.id != p.id else None),
                      r.reason, r.day, r.day_part, r.window_starts_at, r.window_ends_at,
                      r.phone, r.status, r.done_at, r.done_by_name)
            for r, p, a in rows]


async def mark_done(db: Database, actor: Actor, staff_name: str, clinic_id: int,
                    request_id: int, now: datetime) -> bool:
    """Mark a waiting request of ``clinic_id`` done (who, when), audited.
    False (and an audit entry) when there is no such request at that clinic;
    marking a done request again changes nothing and returns True."""
    async with db.write() as session:
        row = await session.get(CallbackRequest, request_id)
        if row is None or row.clinic_id != clinic_id or clinic_id not in actor.clinic_ids:
            await audit.record(session, actor, REFUSED_ACTION, purpose=PURPOSE,
                               subject_patient_id=row.patient_id if row else None,
                               detail={"callback_id": request_id, "clinic_id": clinic_id},
                               now=now)
            return False
        changed = (await session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == request_id,
                   CallbackRequest.status == CallbackStatus.WAITING)
            .values(status=CallbackStatus.DONE, done_at=now, done_by=actor.id,
                    done_by_name=staff_name[:200])
            .execution_options(synchronize_session=False))).rowcount  # type: ignore[attr-defined]
        if changed:
            await audit.record(session, actor, DONE_ACTION, purpose=PURPOSE,
                               subject_patient_id=row.patient_id,
                               detail={"callback_id": request_id}, now=now)
    return True


async def waiting_count(db: Database, clinic_id: int) -> int:
    async with db.read() as session:
        return int((await session.execute(
            select(func.count()).select_from(CallbackRequest).where(
                CallbackRequest.clinic_id == clinic_id,
                CallbackRequest.status == CallbackStatus.WAITING))).scalar_one())


async def delete_old(db: Database, now: datetime, retention: timedelta) -> int:
    """Delete requests (and so the numbers they keep) whose window ended more
    than ``retention`` ago, whatever their state."""
    async with db.write() as session:
        result = await session.execute(
            delete(CallbackRequest).where(CallbackRequest.window_ends_at <= now - retention)
            .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
