"""Which free times a patient is offered when choosing one: a day at a time,
with the week around it (how many times each open day has; days the clinic
is closed are left out), the first and the next day that have any, and the
nearest ones to a time that was taken meanwhile.

A free slot is offered when :func:`booking.rules.why_not_offered` has nothing
against it: the kind suits the patient's age on that day, and the time does
not overlap one of the patient's own active appointments (the one being
changed aside), by the same overlap rule the service refuses a booking with.
Times are offered once each: which chair is free then is the clinic's
business (:func:`booking.holds.hold` takes any of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import and_, or_, select

from booking import queries, rules
from booking.holidays import is_public_holiday
from booking.models import Appointment, AppointmentType, Clinic, Patient, Slot
from booking.reasons import Reason
from booking.search import FreeSlot, free_slots
from booking.statuses import ACTIVE, SlotStatus
from core.db import Database, utcnow
from core.locale import OSLO

#: How many free times to suggest when the one chosen was taken.
NEAREST: Final = 5
#: How far either side of a taken time to look for the nearest free ones.
NEAREST_WINDOW: Final = timedelta(days=7)
#: At most this many slots on one day.
DAY_LIMIT: Final = 200


@dataclass(frozen=True)
class Search:
    """Free times of one kind at one clinic, for one patient, from ``today``."""

    clinic: Clinic
    kind: AppointmentType
    patient: Patient
    today: date
    #: The appointment being moved: its own time is no obstacle.
    changing: int | None = None
    #: The patient's appointments once read (a search lives for one request,
    #: which asks for the offered times several times over).
    _own: list[Appointment] = field(default_factory=list, compare=False, repr=False)
    _own_read: list[bool] = field(default_factory=list, compare=False, repr=False)

    @property
    def last_day(self) -> date:
        return self.today + timedelta(days=self.kind.booking_horizon_days)

    def why_not(self, slot: FreeSlot, own: Sequence[Appointment]) -> Reason | None:
        """Why this free slot is not offered to the patient, whose active
        upcoming appointments are ``own``; None when it is."""
        return rules.why_not_offered(self.kind, self.patient.birth_date, slot.starts_at, own,
                                     self.changing)


async def own_appointments(db: Database, search: Search, now: datetime) -> list[Appointment]:
    """The patient's active appointments that are not over yet (read once
    per search)."""
    if not search._own_read:
        search._own[:] = await queries.read(db, queries.upcoming, search.patient.id, now)
        search._own_read.append(True)
    return list(search._own)


async def offered_times(db: Database, search: Search, *, start: datetime | None = None,
                        end: datetime | None = None, limit: int = DAY_LIMIT,
                        now: datetime | None = None,
                        own: Sequence[Appointment] | None = None) -> list[FreeSlot]:
    """The free slots offered to the patient between ``start`` and ``end``,
    earliest first (every chair). ``own``: the patient's appointments, when
    the caller has them already."""
    now = now or utcnow()
    mine = own if own is not None else await own_appointments(db, search, now)
    return await free_slots(db, clinic_id=search.clinic.id, appointment_type_id=search.kind.id,
                            kind=search.kind, start=start, end=end, limit=limit, now=now,
                            offered=lambda slot: search.why_not(slot, mine) is None)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The Europe/Oslo day as UTC instants (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time(0), tzinfo=OSLO).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=OSLO).astimezone(UTC)
    return start, end


def distinct_times(slots: Sequence[FreeSlot]) -> list[FreeSlot]:
    """One slot per start time, the first of each, in the given order."""
    seen: dict[datetime, FreeSlot] = {}
    for slot in slots:
        seen.setdefault(slot.starts_at, slot)
    return list(seen.values())


def closest(slots: Sequence[FreeSlot], around: datetime, count: int = NEAREST
            ) -> list[FreeSlot]:
    """The ``count`` slots starting closest to ``around`` (before or after;
    the earlier of two equally close), in time order."""
    by_distance = sorted(sorted(slots, key=lambda s: s.starts_at),
                         key=lambda s: abs(s.starts_at - around))
    return sorted(by_distance[:count], key=lambda s: s.starts_at)


def shown_day(wanted: date | None, first_free: date | None, search: Search) -> date:
    """The day to show: the one asked for, else the first with offered times,
    else today; never before today nor after the booking horizon."""
    day = wanted or first_free or search.today
    return min(max(day, search.today), search.last_day)


def is_open(clinic: Clinic, day: date) -> bool:
    """Whether the clinic works on ``day``: its weekly opening hours have the
    weekday and it is no public holiday. A clinic with no opening hours at
    all is taken to work every day (its slots say when)."""
    if is_public_holiday(day):
        return False
    hours = clinic.opening_hours or {}
    return not hours or str(day.weekday()) in hours


def _open_day(search: Search, day: date, step: int) -> date | None:
    """The nearest open day from ``day`` (inclusive) in direction ``step``
    (+1 or -1), within today and the booking horizon."""
    while search.today <= day <= search.last_day:
        if is_open(search.clinic, day):
            return day
        day += timedelta(days=step)
    return None


def week_days(search: Search, shown: date) -> list[date]:
    """The days of the week (Monday to Sunday) ``shown`` is in, within today
    and the booking horizon."""
    monday = shown - timedelta(days=shown.weekday())
    week = (monday + timedelta(days=n) for n in range(7))
    return [day for day in week if search.today <= day <= search.last_day or day == shown]


def _week_before(search: Search, monday: date) -> date | None:
    """The first open day of the week before the one starting ``monday``
    (or of what is left of it from today)."""
    found = _open_day(search, max(search.today, monday - timedelta(days=7)), +1)
    return found if found is not None and found < monday else None


@dataclass(frozen=True)
class StripDay:
    """One day of the week strip: how many times it offers."""

    day: date
    free: int


@dataclass(frozen=True)
class Day:
    """One day of the picker: its offered times and the ways to other days."""

    day: date
    #: One per start time.
    times: list[FreeSlot]
    #: The open days before and after, while they are within the booking horizon.
    previous: date | None
    next: date | None
    #: The first day with offered times, when it is not this one.
    first_free: date | None
    #: The next day after this one with offered times.
    next_free: date | None
    #: Why nothing of this kind is offered to the patient this day (age).
    refusal: Reason | None
    #: The open days of this week with how many times each offers.
    week: list[StripDay]
    #: An open day of the week before and of the week after, within the horizon.
    previous_week: date | None
    next_week: date | None


async def day(db: Database, search: Search, wanted: date | None,
              now: datetime | None = None) -> Day:
    """The day ``wanted`` (see :func:`shown_day`) as the picker shows it."""
    now = now or utcnow()
    own = await own_appointments(db, search, now)
    first = await offered_times(db, search, limit=1, now=now, own=own)
    first_day = rules.local_date(first[0].starts_at) if first else None
    shown = shown_day(wanted, first_day, search)
    days = week_days(search, shown)
    week_start, _ = day_bounds(days[0])
    _, week_end = day_bounds(days[-1])
    in_week = distinct_times(await offered_times(db, search, start=week_start, end=week_end,
                                                 limit=DAY_LIMIT * len(days), now=now,
                                                 own=own))
    times = [slot for slot in in_week if rules.local_date(slot.starts_at) == shown]
    per_day = {d: 0 for d in days}
    for slot in in_week:
        local = rules.local_date(slot.starts_at)
        if local in per_day:
            per_day[local] += 1
    _, end = day_bounds(shown)
    later = await offered_times(db, search, start=end, limit=1, now=now, own=own)
    next_free = rules.local_date(later[0].starts_at) if later else None
    refusal = rules.may_self_book_type(search.kind, search.patient.birth_date, shown).reason
    monday = shown - timedelta(days=shown.weekday())
    return Day(
        day=shown, times=times,
        previous=_open_day(search, shown - timedelta(days=1), -1),
        next=_open_day(search, shown + timedelta(days=1), +1),
        first_free=first_day if first_day is not None and first_day != shown else None,
        next_free=next_free,
        refusal=refusal if refusal is not Reason.TYPE_NOT_SELF_BOOKABLE else None,
        # Closed days are left out, unless the clinic released times on one.
        week=[StripDay(d, per_day[d]) for d in days
              if d == shown or per_day[d] or is_open(search.clinic, d)],
        previous_week=_week_before(search, monday),
        next_week=_open_day(search, monday + timedelta(days=7), +1),
    )


async def nearest(db: Database, search: Search, around: datetime, exclude: int | None = None,
                  now: datetime | None = None) -> list[FreeSlot]:
    """The offered times closest to ``around``, a time that was taken (slot
    ``exclude``), in time order."""
    found = await offered_times(db, search, start=around - NEAREST_WINDOW,
                                end=around + NEAREST_WINDOW, limit=500, now=now)
    return closest(distinct_times([s for s in found if s.slot_id != exclude]), around)


async def staff_times(db: Database, *, clinic_id: int, kind: AppointmentType,
                      patient: Patient, day: date, now: datetime | None = None,
                      changing: int | None = None) -> list[FreeSlot]:
    """The times staff may book for the patient on one Europe/Oslo day: every
    free slot of the clinic (released or not, any chair), long enough for
    the kind and not over the patient's own other appointments (the one
    being changed aside). The patient's online limits (notice, horizon,
    self-bookable, the template's kinds) are not asked: they do not bind
    staff (:mod:`booking.staff_booking`)."""
    now = now or utcnow()
    start, end = day_bounds(day)
    start = max(start, now)
    if start >= end:
        return []
    own = await queries.read(db, queries.upcoming, patient.id, now)
    duration = timedelta(minutes=kind.duration_minutes)
    async with db.read() as session:
        rows = (await session.execute(
            select(Slot.id, Slot.clinic_id, Slot.chair_id, Slot.starts_at, Slot.ends_at)
            .where(Slot.clinic_id == clinic_id, Slot.starts_at >= start, Slot.starts_at < end,
                   or_(Slot.status == SlotStatus.FREE,
                       and_(Slot.status == SlotStatus.HELD, Slot.held_until < now)))
            .order_by(Slot.starts_at, Slot.chair_id).limit(DAY_LIMIT))).all()
    found = []
    for row in rows:
        if row.ends_at - row.starts_at < duration:
            continue
        ends_at = row.starts_at + duration
        if any(rules.overlaps(other, row.starts_at, ends_at) for other in own
               if other.id != changing and other.status in ACTIVE):
            continue
        found.append(FreeSlot(row.id, row.clinic_id, row.chair_id, row.starts_at, row.ends_at,
                              kind.id))
    return found
