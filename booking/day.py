"""One clinic's day as the reception desk sees it: chairs as columns, time
down the side, and each appointment as a block that says only what the desk
needs before it is opened (time, kind, first name, age group).

Times are real instants: the rows step through the day in UTC and are
labelled in Oslo wall-clock time, so a day when the clocks change has one
hour fewer or one more, never a block in the wrong row. One query reads the
day (appointments joined with their patient and kind, by the clinic-and-start
index); cancelled appointments are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import rules
from booking.models import Appointment, AppointmentType, Chair, Clinic, Patient
from booking.schedule import local_midnight
from booking.statuses import AppointmentStatus, Attendance
from core.locale import OSLO

#: The rows' step unless the day's times need a finer one.
ROW_MINUTES: Final = 15
#: The finest step (a block starting at 09:05 gets 5-minute rows).
MIN_ROW_MINUTES: Final = 5
#: The hours shown even on an empty day (Oslo wall-clock).
DAY_FROM_HOUR: Final = 8
DAY_TO_HOUR: Final = 16


class AgeGroup(StrEnum):
    """What the desk sees of a patient's age before opening the appointment."""

    CHILD = "child"  # under 12
    YOUTH = "youth"  # 12–17
    ADULT = "adult"  # 18 and over


def age_group(birth_date: date, day: date) -> AgeGroup:
    age = rules.age_on(birth_date, day)
    if age < 12:
        return AgeGroup.CHILD
    if age < rules.ADULT_AGE:
        return AgeGroup.YOUTH
    return AgeGroup.ADULT


@dataclass(frozen=True)
class Block:
    """An appointment as a closed block: no surname, contact or identity."""

    appointment_id: int
    chair_id: int
    starts_at: datetime
    ends_at: datetime
    type_names: dict[str, str]
    type_code: str
    given_name: str
    age_group: AgeGroup
    attendance: Attendance
    arrived_at: datetime | None
    #: The patient (or a guardian) checked in themselves (*Jeg er her*).
    checked_in: bool
    clinic_issued: bool
    #: Booked by staff over another appointment of the chair on purpose.
    overbooked: bool = False

    def type_name(self, locale: str) -> str:
        return self.type_names.get(locale) or self.type_names.get("nb") or self.type_code


@dataclass(frozen=True)
class Cell:
    """A chair's column in one row: empty, or blocks starting here that run
    ``span`` rows (overlapping blocks share one cell)."""

    blocks: tuple[Block, ...] = ()
    span: int = 1


@dataclass(frozen=True)
class Row:
    starts_at: datetime
    #: Per chair, in :attr:`DayGrid.chairs` order; None where a block above covers it.
    cells: tuple[Cell | None, ...]

    @property
    def on_the_hour(self) -> bool:
        return self.starts_at.astimezone(OSLO).minute == 0


@dataclass(frozen=True)
class DayGrid:
    clinic_id: int
    day: date
    chairs: tuple[Chair, ...]
    rows: tuple[Row, ...]
    blocks: tuple[Block, ...]
    step_minutes: int
    #: Who has come today, first arrived first.
    arrivals: tuple[Block, ...] = field(default=())

    @property
    def expected(self) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.attendance is Attendance.EXPECTED)


def _step(day_start: datetime, blocks: Sequence[Block]) -> int:
    minutes = [ROW_MINUTES]
    for block in blocks:
        minutes.append(int((block.starts_at - day_start).total_seconds() // 60))
        minutes.append(int((block.ends_at - day_start).total_seconds() // 60))
    step = math.gcd(*minutes)
    return max(MIN_ROW_MINUTES, step)


def _bounds(day: date, blocks: Sequence[Block]) -> tuple[datetime, datetime]:
    """From the first whole hour of the working day (or earlier block) to the
    last (or later block's end), as UTC instants."""
    first = datetime.combine(day, datetime.min.time().replace(hour=DAY_FROM_HOUR), OSLO)
    last = datetime.combine(day, datetime.min.time().replace(hour=DAY_TO_HOUR), OSLO)
    start = min([first, *(b.starts_at for b in blocks)])
    end = max([last, *(b.ends_at for b in blocks)])
    midnight, next_midnight = local_midnight(day), local_midnight(day + timedelta(days=1))
    start = max(midnight, start.astimezone(OSLO).replace(minute=0, second=0, microsecond=0))
    if end.astimezone(OSLO).minute or end.astimezone(OSLO).second:
        end = end.astimezone(OSLO).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    # Arithmetic on Oslo-aware times is wall-clock arithmetic: step in UTC.
    return start.astimezone(UTC), min(end, next_midnight).astimezone(UTC)


def build_grid(clinic_id: int, day: date, chairs: Sequence[Chair], blocks: Sequence[Block]
               ) -> DayGrid:
    """Lay the blocks out in rows (pure)."""
    start, end = _bounds(day, blocks)
    step_minutes = _step(start, blocks)
    step = timedelta(minutes=step_minutes)
    count = max(1, math.ceil((end - start) / step))
    column = {chair.id: i for i, chair in enumerate(chairs)}
    grid: list[list[Cell | None]] = [[Cell() for _ in chairs] for _ in range(count)]
    # Per chair: the row where the current cell starts and the row it covers to.
    open_cell: dict[int, tuple[int, int]] = {}
    for block in sorted(blocks, key=lambda b: (b.starts_at, b.appointment_id)):
        if block.chair_id not in column:
            continue
        col = column[block.chair_id]
        first = max(0, int((block.starts_at - start) / step))
        last = min(count, max(first + 1, math.ceil((block.ends_at - start) / step)))
        current = open_cell.get(col)
        if current is not None and first < current[1]:
            top, bottom = current[0], max(current[1], last)  # an overlap: share the cell
        else:
            top, bottom = first, last
        cell = grid[top][col]
        assert cell is not None
        grid[top][col] = Cell((*cell.blocks, block), bottom - top)
        for below in range(top + 1, bottom):
            grid[below][col] = None
        open_cell[col] = (top, bottom)
    rows = tuple(Row(start + i * step, tuple(cells)) for i, cells in enumerate(grid))
    arrivals = tuple(sorted((b for b in blocks if b.arrived_at is not None
                             and b.attendance is not Attendance.NO_SHOW),
                            key=lambda b: (b.arrived_at or b.starts_at, b.appointment_id)))
    return DayGrid(clinic_id, day, tuple(chairs), rows, tuple(blocks), step_minutes, arrivals)


async def load_day(session: AsyncSession, clinic: Clinic, day: date) -> DayGrid:
    """The clinic's active chairs (and any inactive one with an appointment
    that day) and the day's appointments, laid out."""
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    rows = (await session.execute(
        select(Appointment, Patient.given_name, Patient.birth_date, AppointmentType.names,
               AppointmentType.code)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(Appointment.clinic_id == clinic.id, Appointment.starts_at >= start,
               Appointment.starts_at < end,
               Appointment.status != AppointmentStatus.CANCELLED.value)
        .order_by(Appointment.starts_at, Appointment.id))).all()
    blocks = [Block(
        appointment_id=a.id, chair_id=a.chair_id, starts_at=a.starts_at, ends_at=a.ends_at,
        type_names=dict(names), type_code=code, given_name=given,
        age_group=age_group(birth, day), attendance=rules.attendance(a),
        arrived_at=a.arrived_at,
        checked_in=a.arrived_by is not None and a.arrived_by.startswith("patient:"),
        clinic_issued=bool(a.clinic_issued), overbooked=bool(a.overbooked),
    ) for a, given, birth, names, code in rows]
    used = {b.chair_id for b in blocks}
    chairs = list((await session.execute(
        select(Chair).where(Chair.clinic_id == clinic.id)
        .order_by(Chair.id))).scalars())
    chairs = [c for c in chairs if c.active or c.id in used]
    return build_grid(clinic.id, day, chairs, blocks)
