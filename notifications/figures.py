"""The figures on the county dashboards, per ISO week in Oslo time: every
number a county administrator sees comes from :func:`weekly_figures`.

A week runs from Monday 00:00 to the next Monday 00:00 Oslo time; its bounds
are worked out here in Python (so a week with a clock change is 167 or 169
hours long) and handed to the database as UTC instants, so the counting is
set-based SQL that runs the same on SQLite and PostgreSQL: one ``CASE`` gives
each row its week, and the rows are summed per week with ``GROUP BY``.

What is counted, and in which week:

* **Appointments**: not cancelled (booked, confirmed, completed, not
  attended), in the week they start.
* **Booked clinical time** and **no-shows**: minutes of the appointments
  above that have started by now; the no-show share is the minutes of those
  marked not attended over that time.
* **Cancellations by notice**: appointments cancelled (not the old half of a
  change), in the week they were to start, by the time between the
  cancellation and the start: under 24 hours, 1 to 7 days, over 7 days.
* **Booked or changed by patients and guardians / by staff**: every
  appointment row written (a booking, or the new half of a change), in the
  week it was written, by its source: ``self`` and ``guardian`` against
  ``staff`` and ``record_system``.
* **SMS**: about an appointment, in the week they were handed to the
  provider (or, never handed over, last attempted): sent, delivered, failed;
  the cost is the segments of those the provider charges for
  (``statuses.BILLABLE``) times the price per segment. A text sent before
  segments were recorded counts as one. One-time codes for a number belong
  to no clinic and are not counted.
* **Helsenorge**: appointment messages accepted or refused, in the week of
  their final status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import Integer, and_, case, func, literal, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from booking.models import Appointment, Clinic, County
from booking.statuses import AppointmentStatus, Source
from core.db import Database
from core.locale import OSLO
from notifications.models import Notification
from notifications.statuses import BILLABLE, FAILED, Channel, NotificationStatus

#: How many weeks the dashboards show, the current one included.
WEEKS: Final = 12
HELD: Final = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED,
               AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW)
BY_PATIENTS: Final = (Source.SELF, Source.GUARDIAN)
BY_STAFF: Final = (Source.STAFF, Source.RECORD_SYSTEM)
#: The cancellation reason of the old half of a change (``booking.service.change``).
CHANGED: Final = "changed"
DAY: Final = timedelta(days=1)


@dataclass(frozen=True)
class Week:
    """An ISO week, and its bounds as UTC instants."""

    year: int
    number: int
    monday: date
    starts_at: datetime
    ends_at: datetime

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"


@dataclass
class WeekFigures:
    week: Week
    appointments: int = 0
    booked_minutes: int = 0
    no_show_minutes: int = 0
    no_shows: int = 0
    cancelled_under_24h: int = 0
    cancelled_1_to_7_days: int = 0
    cancelled_over_7_days: int = 0
    by_patients: int = 0
    by_staff: int = 0
    sms_sent: int = 0
    sms_delivered: int = 0
    sms_failed: int = 0
    sms_segments: int = 0
    sms_cost_ore: int = 0
    helsenorge_delivered: int = 0
    helsenorge_failed: int = 0

    @property
    def no_show_share(self) -> float | None:
        """No-show minutes over booked minutes, 0 to 1; None without booked time."""
        return self.no_show_minutes / self.booked_minutes if self.booked_minutes else None

    @property
    def self_service_share(self) -> float | None:
        """Rows written by patients and guardians over all; None without any."""
        total = self.by_patients + self.by_staff
        return self.by_patients / total if total else None

    @property
    def cancellations(self) -> int:
        return self.cancelled_under_24h + self.cancelled_1_to_7_days + self.cancelled_over_7_days


@dataclass
class Figures:
    """The weeks, oldest first, for one county or one clinic."""

    weeks: list[WeekFigures] = field(default_factory=list)
    price_per_segment_ore: int = 0


def last_weeks(now: datetime, count: int = WEEKS) -> list[Week]:
    """The ``count`` ISO weeks up to the one ``now`` falls in (Oslo time), oldest first."""
    today = now.astimezone(OSLO).date()
    monday = today - timedelta(days=today.weekday())
    weeks = []
    for back in range(count - 1, -1, -1):
        start = monday - timedelta(weeks=back)
        iso = start.isocalendar()
        weeks.append(Week(iso.year, iso.week, start, _oslo_midnight(start),
                          _oslo_midnight(start + timedelta(days=7))))
    return weeks


def _oslo_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=OSLO).astimezone(UTC)


class _Minutes(FunctionElement[int]):
    """Whole minutes from one timestamp to another, on either engine."""

    type = Integer()
    inherit_cache = True


@compiles(_Minutes, "sqlite")
def _minutes_sqlite(element: _Minutes, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (f"CAST(ROUND((julianday({compiler.process(end, **kw)}) - "
            f"julianday({compiler.process(start, **kw)})) * 1440) AS INTEGER)")


@compiles(_Minutes)
def _minutes_default(element: _Minutes, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (f"CAST(ROUND(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
            f"{compiler.process(start, **kw)})) / 60) AS INTEGER)")


def _week_of(column: Any, weeks: Sequence[Week]) -> ColumnElement[Any]:
    """The index of the week ``column`` falls in (None outside them)."""
    return case(*[(and_(column >= w.starts_at, column < w.ends_at), literal(i))
                  for i, w in enumerate(weeks)], else_=None)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _scope(query: Any, county_id: int, clinic_id: int | None) -> Any:
    query = query.join(Clinic, Clinic.id == Appointment.clinic_id).where(
        Clinic.county_id == county_id)
    if clinic_id is not None:
        query = query.where(Appointment.clinic_id == clinic_id)
    return query


async def weekly_figures(db: Database, *, county_id: int, clinic_id: int | None = None,
                         now: datetime, price_per_segment_ore: int,
                         weeks: int = WEEKS) -> Figures:
    """The figures of the county (or of one of its clinics) for the last
    ``weeks`` weeks up to ``now``; see the module's docstring for what each is."""
    span = last_weeks(now, weeks)
    first, end = span[0].starts_at, span[-1].ends_at
    rows = {i: WeekFigures(week) for i, week in enumerate(span)}
    a = Appointment
    minutes = _Minutes(a.starts_at, a.ends_at)
    held = a.status.in_([s.value for s in HELD])
    past = and_(held, a.starts_at <= now)
    cancelled = and_(a.status == AppointmentStatus.CANCELLED,
                     or_(a.cancellation_reason.is_(None), a.cancellation_reason != CHANGED),
                     a.cancelled_at.is_not(None))
    notice = _Minutes(a.cancelled_at, a.starts_at)
    by_start = _week_of(a.starts_at, span).label("week")
    by_created = _week_of(a.created_at, span).label("week")
    sent_at = func.coalesce(Notification.handed_over_at, Notification.attempted_at)
    by_sent = _week_of(sent_at, span).label("week")
    by_status = _week_of(Notification.status_at, span).label("week")
    billable = Notification.status.in_([s.value for s in BILLABLE])

    appointments = _scope(select(
        by_start, _count(held), func.sum(case((past, minutes), else_=0)),
        func.sum(case((and_(past, a.status == AppointmentStatus.NO_SHOW), minutes), else_=0)),
        _count(and_(past, a.status == AppointmentStatus.NO_SHOW)),
        _count(and_(cancelled, notice < 24 * 60)),
        _count(and_(cancelled, notice >= 24 * 60, notice <= 7 * 24 * 60)),
        _count(and_(cancelled, notice > 7 * 24 * 60)),
    ), county_id, clinic_id).where(a.starts_at >= first, a.starts_at < end).group_by(by_start)
    written = _scope(select(
        by_created, _count(a.source.in_([s.value for s in BY_PATIENTS])),
        _count(a.source.in_([s.value for s in BY_STAFF])),
    ), county_id, clinic_id).where(a.created_at >= first, a.created_at < end
                                   ).group_by(by_created)
    sms = _scope(select(
        by_sent, func.count(),
        _count(Notification.status == NotificationStatus.DELIVERED),
        _count(Notification.status.in_([s.value for s in FAILED])),
        func.sum(case((billable, func.coalesce(Notification.segments, 1)), else_=0)),
    ).select_from(Notification).join(a, a.id == Notification.appointment_id),
        county_id, clinic_id).where(
        Notification.channel == Channel.SMS, sent_at.is_not(None),
        sent_at >= first, sent_at < end).group_by(by_sent)
    helsenorge = _scope(select(
        by_status, _count(Notification.status == NotificationStatus.DELIVERED),
        _count(Notification.status.in_([s.value for s in FAILED])),
    ).select_from(Notification).join(a, a.id == Notification.appointment_id),
        county_id, clinic_id).where(
        Notification.channel == Channel.HELSENORGE,
        Notification.status_at >= first, Notification.status_at < end).group_by(by_status)

    async with db.read() as session:
        for week, count, booked, no_show_minutes, no_shows, under, within, over in (
                await session.execute(appointments)).all():
            if week is None:
                continue
            row = rows[int(week)]
            row.appointments, row.booked_minutes = int(count or 0), int(booked or 0)
            row.no_show_minutes, row.no_shows = int(no_show_minutes or 0), int(no_shows or 0)
            row.cancelled_under_24h, row.cancelled_1_to_7_days = int(under or 0), int(within or 0)
            row.cancelled_over_7_days = int(over or 0)
        for week, patients, staff in (await session.execute(written)).all():
            if week is not None:
                rows[int(week)].by_patients = int(patients or 0)
                rows[int(week)].by_staff = int(staff or 0)
        for week, sent, delivered, failed, segments in (await session.execute(sms)).all():
            if week is None:
                continue
            row = rows[int(week)]
            row.sms_sent, row.sms_delivered = int(sent or 0), int(delivered or 0)
            row.sms_failed, row.sms_segments = int(failed or 0), int(segments or 0)
            row.sms_cost_ore = row.sms_segments * price_per_segment_ore
        for week, delivered, failed in (await session.execute(helsenorge)).all():
            if week is not None:
                rows[int(week)].helsenorge_delivered = int(delivered or 0)
                rows[int(week)].helsenorge_failed = int(failed or 0)
    return Figures([rows[i] for i in range(len(span))], price_per_segment_ore)


async def county_clinics(db: Database, county_id: int) -> list[Clinic]:
    """The county's clinics by name, for the dashboards' list."""
    async with db.read() as session:
        return list((await session.execute(
            select(Clinic).where(Clinic.county_id == county_id).order_by(Clinic.name)
        )).scalars())


async def county_name(db: Database, county_id: int) -> str:
    async with db.read() as session:
        county = await session.get(County, county_id)
    return county.name if county is not None else ""


async def clinic_by_slug(db: Database, slug: str) -> Clinic | None:
    async with db.read() as session:
        return (await session.execute(select(Clinic).where(Clinic.slug == slug))
                ).scalar_one_or_none()

