"""Slots made from weekly schedule templates, and closures that block them.

A :class:`~booking.models.ScheduleTemplate` says: on this weekday, from this
to that Oslo wall-clock time, this chair is cut into slots of N minutes.
:func:`generate_slots` turns the templates into concrete ``Slot`` rows for a
span of weeks. It is meant to run nightly for a rolling horizon and may be
re-run at any time: a slot that exists is never made twice (``(chair_id,
starts_at)`` is unique), and a closure added since the last run blocks the
free slots it covers.

Rules, in the words of the clinics:

- No slots on public holidays (:mod:`booking.holidays`), nor where a
  :class:`~booking.models.ScheduleException` closes the clinic (``chair_id``
  empty) or the chair.
- Templates are read in Oslo wall-clock time. On the spring-forward day the
  hour 02:00–03:00 does not exist and gets no slots; on the fall-back day the
  hour 02:00–03:00 happens twice and each wall-clock time gets one slot, in
  its first occurrence. A slot lasts its real length in minutes.
- One chair never has two slots that overlap in time. Where two templates of
  a chair overlap, the earlier slot wins (on a tie, the older template).
- A closure turns free slots (and holds that have run out) into ``blocked``.
  Booked slots stay booked: a closure never cancels an appointment by itself.
  :func:`appointments_in_closure` lists those the clinic must contact.

Generation works one clinic per transaction, so each commit is small, a
SQLite writer never holds the lock for the whole country, and an interrupted
run can simply be started again.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any, cast

import structlog
from sqlalchemy import ColumnElement, Table, and_, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from booking.holidays import is_public_holiday
from booking.models import Appointment, Chair, Clinic, ScheduleException, ScheduleTemplate, Slot
from booking.statuses import ACTIVE, SlotStatus
from core.db import Database, utcnow
from core.locale import OSLO

log = structlog.get_logger(__name__)

#: Rows handed to the database in one executemany. SQLAlchemy sends them as
#: multi-row INSERTs ("insertmanyvalues", up to 1000 rows each), which stays
#: under both engines' limits on bound parameters.
INSERT_BATCH = 2000

Interval = tuple[datetime, datetime]
SLOTS = cast(Table, Slot.__table__)


# --- Time arithmetic (pure) -------------------------------------------------

def _exists(wall: datetime) -> bool:
    """Whether the naive Oslo wall-clock time ``wall`` happens at all (it does
    not in the spring-forward gap)."""
    there = wall.replace(tzinfo=OSLO).astimezone(UTC).astimezone(OSLO)
    return there.replace(tzinfo=None) == wall


def local_midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in Oslo."""
    return datetime.combine(day, time(0), OSLO).astimezone(UTC)


def slot_times(day: date, starts_at: time, ends_at: time, minutes: int) -> list[Interval]:
    """The slots of one template on one day, as ``(start, end)`` UTC instants.

    Wall-clock times ``starts_at``, ``starts_at + minutes``, ... are taken
    while ``t + minutes <= ends_at`` (all Oslo time on ``day``). A time in the
    spring-forward gap is skipped; a time that happens twice on the fall-back
    day is taken once, at its first occurrence (``fold=0``). Each slot ends
    ``minutes`` of real time after it starts, and must end by the template's
    end on the clock. A slot that would overlap the one before it (possible
    only around the gap) is skipped.
    """
    if minutes <= 0:
        raise ValueError("slot length must be positive")
    return list(_slot_times(day, starts_at, ends_at, minutes))


@lru_cache(maxsize=16384)
def _slot_times(day: date, starts_at: time, ends_at: time, minutes: int
                ) -> tuple[Interval, ...]:
    # Cached: across a country most chairs share a handful of opening hours.
    # Per process, correct by design: a pure function of its arguments.
    length = timedelta(minutes=minutes)
    wall = datetime.combine(day, starts_at)
    wall_end = datetime.combine(day, ends_at)
    result: list[Interval] = []
    while wall + length <= wall_end:
        if _exists(wall):
            start = wall.replace(tzinfo=OSLO).astimezone(UTC)
            end = start + length
            ends_on_clock = end.astimezone(OSLO).replace(tzinfo=None)
            if ends_on_clock <= wall_end and (not result or result[-1][1] <= start):
                result.append((start, end))
        wall += length
    return tuple(result)


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


# --- Generation --------------------------------------------------------------

@dataclass(frozen=True)
class _Candidate:
    starts_at: datetime
    ends_at: datetime
    template_id: int
    released: bool


class _Occupied:
    """The time a chair's existing slots already take, for overlap checks."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        ordered = sorted(intervals)
        self._starts = [start for start, _ in ordered]
        # Running maximum of the ends: the latest end among slots starting
        # before a given instant, even if existing slots overlap each other.
        self._max_ends = list(accumulate((end for _, end in ordered), max))

    def overlaps(self, start: datetime, end: datetime) -> bool:
        before_end = bisect_left(self._starts, end)  # slots starting before ``end``
        return before_end > 0 and self._max_ends[before_end - 1] > start


def _pick(candidates: list[_Candidate], occupied: _Occupied) -> list[_Candidate]:
    """The candidates of one chair to create: those overlapping neither an
    existing slot nor one picked before them (earliest start first)."""
    picked: list[_Candidate] = []
    latest_end: datetime | None = None
    for c in sorted(candidates, key=lambda c: (c.starts_at, c.template_id)):
        if latest_end is not None and latest_end > c.starts_at:
            continue
        if occupied.overlaps(c.starts_at, c.ends_at):
            continue
        picked.append(c)
        latest_end = c.ends_at if latest_end is None else max(latest_end, c.ends_at)
    return picked


def _claimable(now: datetime) -> ColumnElement[bool]:
    """SQL: the slot is nobody's (free, or a hold that has run out)."""
    return or_(Slot.status == SlotStatus.FREE,
               and_(Slot.status == SlotStatus.HELD, Slot.held_until < now))


async def _block(session: AsyncSession, *, clinic_id: int, chair_id: int | None,
                 starts_at: datetime, ends_at: datetime, now: datetime,
                 templated_only: bool = False) -> int:
    """Block the clinic's (or chair's) unclaimed slots overlapping the period;
    return how many. A compare-and-swap: a slot booked meanwhile is left alone."""
    conditions = [Slot.clinic_id == clinic_id, Slot.starts_at < ends_at,
                  Slot.ends_at > starts_at, _claimable(now)]
    if chair_id is not None:
        conditions.append(Slot.chair_id == chair_id)
    if templated_only:
        conditions.append(Slot.template_id.is_not(None))
    result = await session.execute(
        update(Slot).where(*conditions)
        .values(status=SlotStatus.BLOCKED, hold_key=None, held_until=None,
                version=Slot.version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _insert_slots(session: AsyncSession, dialect: str, rows: Sequence[dict[str, Any]]
                        ) -> int:
    """Insert ``rows`` in batches, skipping any whose ``(chair_id, starts_at)``
    exists already (e.g. made by a concurrent run); return how many were new."""
    # INSERT ... ON CONFLICT DO NOTHING is spelt the same on both, but each
    # dialect has its own construct for it.
    if dialect == "postgresql":
        return await _insert_slots_postgresql(session, rows)
    insert = sqlite.insert
    statement = (
        insert(SLOTS)
        .on_conflict_do_nothing(index_elements=[SLOTS.c.chair_id, SLOTS.c.starts_at])
        .returning(SLOTS.c.id)
    )
    inserted = 0
    for offset in range(0, len(rows), INSERT_BATCH):
        batch = rows[offset:offset + INSERT_BATCH]
        # RETURNING gives one row per row really inserted, on both engines;
        # rowcount of an executemany is not reliable across drivers.
        result = await session.execute(statement, batch)
        inserted += len(result.all())
    return inserted


#: The PostgreSQL insert: the rows travel as one array per column (asyncpg
#: sends them in binary), ``unnest`` turns them back into rows, and only the
#: number of rows really inserted comes back. One statement per batch instead
#: of one bound row per value list: what makes generation for the whole
#: country cost little more than writing the rows at all.
_UNNEST_INSERT = text("""
WITH inserted AS (
    INSERT INTO slots (clinic_id, chair_id, template_id, starts_at, ends_at, status, released,
                       version)
    SELECT CAST(:clinic_id AS integer), chair_id, template_id, starts_at, ends_at, 'free',
           released, 0
    FROM unnest(CAST(:chair_ids AS bigint[]), CAST(:template_ids AS bigint[]),
                CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]),
                CAST(:released AS boolean[]))
         AS row(chair_id, template_id, starts_at, ends_at, released)
    ON CONFLICT (chair_id, starts_at) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM inserted
""")


async def _insert_slots_postgresql(session: AsyncSession, rows: Sequence[dict[str, Any]]
                                   ) -> int:
    inserted = 0
    batch_size = INSERT_BATCH * 10
    for offset in range(0, len(rows), batch_size):
        batch = rows[offset:offset + batch_size]
        for clinic_id in sorted({row["clinic_id"] for row in batch}):
            mine = [row for row in batch if row["clinic_id"] == clinic_id]
            inserted += (await session.execute(_UNNEST_INSERT, {
                "clinic_id": clinic_id,
                "chair_ids": [row["chair_id"] for row in mine],
                "template_ids": [row["template_id"] for row in mine],
                "starts": [row["starts_at"] for row in mine],
                "ends": [row["ends_at"] for row in mine],
                "released": [row["released"] for row in mine],
            })).scalar_one()
    return inserted


def _working_days(template: ScheduleTemplate, days: Sequence[date],
                  holidays: Collection[date]) -> list[date]:
    """The days of ``days`` on which ``template`` applies: its weekday, within
    its validity (both ends inclusive), and not a public holiday."""
    first, last = template.valid_from, template.valid_to or date.max
    return [day for day in days
            if day.weekday() == template.weekday and first <= day <= last
            and day not in holidays]


async def _generate_for_clinic(session: AsyncSession, dialect: str, clinic_id: int,
                               days: Sequence[date], now: datetime) -> tuple[int, int]:
    """Generate one clinic's slots for ``days``; return (inserted, blocked)."""
    window_start, window_end = local_midnight(days[0]), local_midnight(days[-1] + timedelta(days=1))

    # Lock the clinic's chairs: two runs for the same clinic take turns.
    chair_ids = list((await session.execute(
        select(Chair.id).where(Chair.clinic_id == clinic_id, Chair.active)
        .order_by(Chair.id).with_for_update()
    )).scalars())
    templates = list((await session.execute(
        select(ScheduleTemplate)
        .where(ScheduleTemplate.chair_id.in_(chair_ids),
               ScheduleTemplate.valid_from <= days[-1],
               or_(ScheduleTemplate.valid_to.is_(None), ScheduleTemplate.valid_to >= days[0]))
        .order_by(ScheduleTemplate.id)
    )).scalars()) if chair_ids else []
    exceptions = list((await session.execute(
        select(ScheduleException)
        .where(ScheduleException.clinic_id == clinic_id,
               ScheduleException.starts_at < window_end,
               ScheduleException.ends_at > window_start)
    )).scalars())

    # Closures added since the last run block the free slots they cover.
    blocked = 0
    for exc in exceptions:
        blocked += await _block(session, clinic_id=clinic_id, chair_id=exc.chair_id,
                                starts_at=exc.starts_at, ends_at=exc.ends_at, now=now)
    holidays = {day for day in days if is_public_holiday(day)}
    for day in sorted(holidays):
        # Only template-made slots: staff may deliberately open a holiday by hand.
        blocked += await _block(session, clinic_id=clinic_id, chair_id=None,
                                starts_at=local_midnight(day),
                                ends_at=local_midnight(day + timedelta(days=1)),
                                now=now, templated_only=True)
    if not templates:
        return 0, blocked

    existing: dict[int, list[Interval]] = defaultdict(list)
    rows = await session.execute(
        select(Slot.chair_id, Slot.starts_at, Slot.ends_at)
        .where(Slot.clinic_id == clinic_id, Slot.starts_at < window_end,
               Slot.ends_at > window_start)
    )
    for chair_id, starts_at, ends_at in rows:
        existing[chair_id].append((starts_at, ends_at))

    closures: dict[int, list[Interval]] = {
        chair_id: [(e.starts_at, e.ends_at) for e in exceptions
                   if e.chair_id is None or e.chair_id == chair_id]
        for chair_id in chair_ids
    }
    candidates: dict[int, list[_Candidate]] = defaultdict(list)
    for template in templates:
        chair_candidates = candidates[template.chair_id]
        closed = closures[template.chair_id]
        template_id, released = template.id, template.released
        for day in _working_days(template, days, holidays):
            for start, end in _slot_times(day, template.starts_at, template.ends_at,
                                          template.slot_minutes):
                if not any(_overlaps(start, end, c_start, c_end) for c_start, c_end in closed):
                    chair_candidates.append(_Candidate(start, end, template_id, released))

    new_rows: list[dict[str, Any]] = []
    free = SlotStatus.FREE.value  # an enum's value is a descriptor call: once, not per row
    for chair_id, chair_candidates in candidates.items():
        for c in _pick(chair_candidates, _Occupied(existing[chair_id])):
            new_rows.append(dict(
                clinic_id=clinic_id, chair_id=chair_id, template_id=c.template_id,
                starts_at=c.starts_at, ends_at=c.ends_at, status=free,
                released=c.released, version=0,
            ))
    return await _insert_slots(session, dialect, new_rows), blocked


async def generate_slots(db: Database, *, start: date, weeks: int,
                         clinic_ids: Collection[int] | None = None,
                         now: datetime | None = None) -> int:
    """Create the slots of every active chair of every active clinic (or of
    ``clinic_ids``) for the days ``start`` to ``start + 7 * weeks - 1``, and
    block free slots that now fall on a holiday or in a closure.

    Returns the number of slots created; running it again returns 0. ``now``
    decides which holds have run out (default: the current time).
    """
    if weeks <= 0:
        raise ValueError("weeks must be positive")
    now = now or utcnow()
    days = [start + timedelta(days=i) for i in range(7 * weeks)]
    query = select(Clinic.id).where(Clinic.active).order_by(Clinic.id)
    if clinic_ids is not None:
        query = query.where(Clinic.id.in_(list(clinic_ids)))
    async with db.read() as session:
        ids = list((await session.execute(query)).scalars())

    inserted = blocked = 0
    for clinic_id in ids:
        async with db.write() as session:
            new, closed = await _generate_for_clinic(session, db.dialect, clinic_id, days, now)
        inserted += new
        blocked += closed
    log.info("slots_generated", start=start.isoformat(), weeks=weeks, clinics=len(ids),
             inserted=inserted, blocked=blocked)
    return inserted


# --- Closures ----------------------------------------------------------------

async def add_exception(db: Database, *, clinic_id: int, chair_id: int | None,
                        starts_at: datetime, ends_at: datetime, reason: str,
                        now: datetime | None = None) -> ScheduleException:
    """Close the clinic (``chair_id=None``) or one chair from ``starts_at`` to
    ``ends_at`` (aware datetimes) and block the free slots in that time.

    Booked slots stay booked; :func:`appointments_in_closure` lists the
    appointments the clinic has to move or cancel with the patients.
    """
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("closure times must be timezone-aware")
    if not starts_at < ends_at:
        raise ValueError("a closure must end after it starts")
    now = now or utcnow()
    async with db.write() as session:
        if chair_id is not None:
            chair = await session.get(Chair, chair_id)
            if chair is None or chair.clinic_id != clinic_id:
                raise ValueError("the chair does not belong to the clinic")
        exception = ScheduleException(clinic_id=clinic_id, chair_id=chair_id,
                                      starts_at=starts_at, ends_at=ends_at, reason=reason)
        session.add(exception)
        await session.flush()
        blocked = await _block(session, clinic_id=clinic_id, chair_id=chair_id,
                               starts_at=starts_at, ends_at=ends_at, now=now)
    log.info("schedule_exception_added", exception_id=exception.id, clinic_id=clinic_id,
             chair_id=chair_id, blocked=blocked)
    return exception


@dataclass(frozen=True)
class AffectedAppointment:
    """A live appointment inside a closure: the clinic must contact the patient."""

    appointment_id: int
    slot_id: int
    chair_id: int
    starts_at: datetime


async def appointments_in_closure(db: Database, exception: ScheduleException
                                  ) -> list[AffectedAppointment]:
    """Booked or confirmed appointments that overlap ``exception``, by start."""
    conditions = [Appointment.clinic_id == exception.clinic_id,
                  Appointment.status.in_([status.value for status in ACTIVE]),
                  Appointment.starts_at < exception.ends_at,
                  Appointment.ends_at > exception.starts_at]
    if exception.chair_id is not None:
        conditions.append(Appointment.chair_id == exception.chair_id)
    async with db.read() as session:
        rows = await session.execute(
            select(Appointment.id, Appointment.slot_id, Appointment.chair_id,
                   Appointment.starts_at)
            .where(*conditions).order_by(Appointment.starts_at, Appointment.id)
        )
        return [AffectedAppointment(*row) for row in rows]
