"""booking.day: the reception day laid out in rows of real instants, labelled
in Oslo time, right on the days the clocks change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from booking.day import AgeGroup, Block, age_group, build_grid
from booking.models import Chair
from booking.statuses import Attendance
from core.locale import OSLO


def _block(appointment_id: int, chair_id: int, start: datetime, minutes: int = 30) -> Block:
    return Block(appointment_id=appointment_id, chair_id=chair_id, starts_at=start,
                 ends_at=start + timedelta(minutes=minutes), type_names={"nb": "Undersøkelse"},
                 type_code="exam", given_name="Kari", age_group=AgeGroup.ADULT,
                 attendance=Attendance.EXPECTED, arrived_at=None, checked_in=False,
                 clinic_issued=False)


def _oslo(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=OSLO).astimezone(UTC)


CHAIRS = (Chair(id=1, clinic_id=1, name="Rom 1"), Chair(id=2, clinic_id=1, name="Rom 2"))


def _labels(grid) -> list[str]:
    return [row.starts_at.astimezone(OSLO).strftime("%H:%M") for row in grid.rows]


def test_an_empty_day_runs_from_eight_to_four_in_quarter_hours():
    grid = build_grid(1, date(2026, 11, 18), CHAIRS, [])
    labels = _labels(grid)
    assert labels[0] == "08:00" and labels[-1] == "15:45" and len(labels) == 32


def test_a_block_spans_its_rows_and_covers_the_cells_below():
    day = date(2026, 11, 18)
    grid = build_grid(1, day, CHAIRS, [_block(7, 2, _oslo(day, 9), minutes=45)])
    index = _labels(grid).index("09:00")
    cell = grid.rows[index].cells[1]
    assert cell is not None and cell.span == 3 and cell.blocks[0].appointment_id == 7
    assert grid.rows[index + 1].cells[1] is None and grid.rows[index + 2].cells[1] is None
    assert grid.rows[index + 3].cells[1] is not None
    assert grid.rows[index + 1].cells[0] is not None  # the other chair is untouched


def test_overlapping_blocks_share_one_cell():
    day = date(2026, 11, 18)
    grid = build_grid(1, day, CHAIRS, [_block(1, 1, _oslo(day, 10)),
                                       _block(2, 1, _oslo(day, 10, 15))])
    cell = grid.rows[_labels(grid).index("10:00")].cells[0]
    assert cell is not None and [b.appointment_id for b in cell.blocks] == [1, 2]
    assert cell.span == 3


def test_odd_minutes_get_finer_rows():
    day = date(2026, 11, 18)
    grid = build_grid(1, day, CHAIRS, [_block(1, 1, _oslo(day, 9, 5), minutes=20)])
    assert grid.step_minutes == 5 and "09:05" in _labels(grid)


def test_spring_forward_day_has_no_two_oclock_and_keeps_the_blocks_in_place():
    day = date(2026, 3, 29)
    early = _oslo(day, 1, 30)  # before the change
    late = _oslo(day, 3, 30)  # after: one real hour later
    grid = build_grid(1, day, CHAIRS, [_block(1, 1, early), _block(2, 2, late)])
    labels = _labels(grid)
    assert "02:00" not in labels and labels[0] == "01:00"
    assert labels.index("03:30") - labels.index("01:30") == 4  # 60 real minutes


def test_fall_back_day_shows_the_repeated_hour_twice():
    day = date(2026, 10, 25)
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 winter time
    grid = build_grid(1, day, CHAIRS, [_block(1, 1, first), _block(2, 1, second)])
    assert _labels(grid).count("02:30") == 2
    starts = [row.starts_at for row in grid.rows]
    assert starts.index(second) - starts.index(first) == 4


def test_age_groups_follow_the_birthday():
    day = date(2026, 11, 18)
    assert age_group(date(2014, 11, 19), day) is AgeGroup.CHILD  # 11 until tomorrow
    assert age_group(date(2014, 11, 18), day) is AgeGroup.YOUTH
    assert age_group(date(2008, 11, 19), day) is AgeGroup.YOUTH
    assert age_group(date(2008, 11, 18), day) is AgeGroup.ADULT


def test_arrivals_come_first_arrived_first():
    day = date(2026, 11, 18)
    a = _block(1, 1, _oslo(day, 9))
    b = _block(2, 2, _oslo(day, 9))
    a = Block(**{**a.__dict__, "attendance": Attendance.ARRIVED,
                 "arrived_at": _oslo(day, 8, 55)})
    b = Block(**{**b.__dict__, "attendance": Attendance.ARRIVED,
                 "arrived_at": _oslo(day, 8, 50)})
    grid = build_grid(1, day, CHAIRS, [a, b])
    assert [x.appointment_id for x in grid.arrivals] == [2, 1]
