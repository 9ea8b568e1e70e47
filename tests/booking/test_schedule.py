"""Slot generation from weekly templates: counts, idempotency, holidays,
closures, validity, release, and the two daylight-saving days of 2026."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from booking import schedule, service
from booking.audit import Actor
from booking.models import Chair, Clinic, ScheduleException, Slot
from booking.schedule import (
    AffectedAppointment,
    add_exception,
    appointments_in_closure,
    generate_slots,
    slot_times,
)
from core.db import Database
from tests import factories as f

OSLO = ZoneInfo("Europe/Oslo")
MON, TUE, WED, SUN = 0, 1, 2, 6


def oslo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A UTC instant given as Oslo wall-clock time (first occurrence)."""
    return datetime(year, month, day, hour, minute, tzinfo=OSLO).astimezone(UTC)


def wall(instant: datetime) -> str:
    return instant.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")


def assert_no_overlaps(intervals: list[tuple[datetime, datetime]]) -> None:
    ordered = sorted(intervals)
    for (_, end), (next_start, _) in pairwise(ordered):
        assert end <= next_start, (end, next_start)


async def all_slots(db: Database, chair_id: int | None = None) -> list[Slot]:
    query = select(Slot).order_by(Slot.chair_id, Slot.starts_at)
    if chair_id is not None:
        query = query.where(Slot.chair_id == chair_id)
    async with db.read() as s:
        return list((await s.execute(query)).scalars())


async def slot_count(db: Database) -> int:
    async with db.read() as s:
        return int((await s.execute(select(func.count()).select_from(Slot))).scalar_one())


async def one_chair(db: Database, *templates: dict[str, object]) -> tuple[int, int, int]:
    """A clinic with one chair and the given templates; (clinic, chair, type) ids."""
    async with db.write() as s:
        clinic = await f.clinic(s)
        chair = await f.chair(s, clinic)
        kind = await f.appointment_type(s, clinic.county_id)
        for values in templates:
            await f.template(s, chair, [kind], **values)
    return clinic.id, chair.id, kind.id


# --- Pure time arithmetic -----------------------------------------------------

def test_slot_times_on_an_ordinary_winter_day() -> None:
    slots = slot_times(date(2026, 3, 2), time(8, 0), time(10, 0), 30)
    assert slots == [(f.at(2026, 3, 2, 7, 0), f.at(2026, 3, 2, 7, 30)),
                     (f.at(2026, 3, 2, 7, 30), f.at(2026, 3, 2, 8, 0)),
                     (f.at(2026, 3, 2, 8, 0), f.at(2026, 3, 2, 8, 30)),
                     (f.at(2026, 3, 2, 8, 30), f.at(2026, 3, 2, 9, 0))]


def test_slot_times_leave_out_a_last_slot_that_would_run_past_the_end() -> None:
    slots = slot_times(date(2026, 6, 1), time(8, 0), time(9, 40), 30)
    assert [wall(start) for start, _ in slots] == [
        "2026-06-01 08:00", "2026-06-01 08:30", "2026-06-01 09:00"]
    assert slots[0][0] == f.at(2026, 6, 1, 6, 0)  # summer time: UTC+2


def test_spring_forward_skips_the_missing_hour() -> None:
    slots = slot_times(date(2026, 3, 29), time(0, 0), time(4, 0), 30)
    assert [wall(start) for start, _ in slots] == [
        "2026-03-29 00:00", "2026-03-29 00:30", "2026-03-29 01:00", "2026-03-29 01:30",
        "2026-03-29 03:00", "2026-03-29 03:30"]
    assert [start for start, _ in slots] == [
        f.at(2026, 3, 28, 23, 0), f.at(2026, 3, 28, 23, 30), f.at(2026, 3, 29, 0, 0),
        f.at(2026, 3, 29, 0, 30), f.at(2026, 3, 29, 1, 0), f.at(2026, 3, 29, 1, 30)]
    assert all(end - start == timedelta(minutes=30) for start, end in slots)
    assert_no_overlaps(slots)


def test_spring_forward_with_slots_that_straddle_the_gap() -> None:
    # 01:30 + 45 real minutes ends at 03:15 summer time, so 03:00 would overlap.
    slots = slot_times(date(2026, 3, 29), time(0, 0), time(4, 0), 45)
    assert [wall(start) for start, _ in slots] == [
        "2026-03-29 00:00", "2026-03-29 00:45", "2026-03-29 01:30"]
    assert_no_overlaps(slots)
    # An hour from 01:30 would end at 03:30 on the clock, after the 02:30 end.
    assert slot_times(date(2026, 3, 29), time(1, 30), time(2, 30), 60) == []


def test_fall_back_gives_each_wall_clock_time_one_slot() -> None:
    slots = slot_times(date(2026, 10, 25), time(0, 0), time(4, 0), 30)
    assert [wall(start) for start, _ in slots] == [
        "2026-10-25 00:00", "2026-10-25 00:30", "2026-10-25 01:00", "2026-10-25 01:30",
        "2026-10-25 02:00", "2026-10-25 02:30", "2026-10-25 03:00", "2026-10-25 03:30"]
    # 02:00 and 02:30 are taken in summer time (the first time round).
    assert [start for start, _ in slots] == [
        f.at(2026, 10, 24, 22, 0), f.at(2026, 10, 24, 22, 30), f.at(2026, 10, 24, 23, 0),
        f.at(2026, 10, 24, 23, 30), f.at(2026, 10, 25, 0, 0), f.at(2026, 10, 25, 0, 30),
        f.at(2026, 10, 25, 2, 0), f.at(2026, 10, 25, 2, 30)]
    assert all(end - start == timedelta(minutes=30) for start, end in slots)
    assert_no_overlaps(slots)


def test_slot_times_refuse_a_non_positive_length() -> None:
    with pytest.raises(ValueError, match="positive"):
        slot_times(date(2026, 3, 2), time(8, 0), time(9, 0), 0)


# --- Generation ----------------------------------------------------------------

async def test_generates_a_simple_week(db: Database) -> None:
    clinic_id, chair_id, _ = await one_chair(
        db,
        dict(weekday=MON, starts_at=time(8, 0), ends_at=time(12, 0), slot_minutes=30),
        dict(weekday=WED, starts_at=time(8, 0), ends_at=time(10, 0), slot_minutes=60),
    )
    async with db.write() as s:  # an inactive chair and another clinic get nothing
        clinic = await s.get(Clinic, clinic_id)
        assert clinic is not None
        idle = await f.chair(s, clinic, active=False)
        await f.template(s, idle, [], weekday=MON)
        other = await f.clinic(s)
        await f.template(s, await f.chair(s, other), [], weekday=MON)

    created = await generate_slots(db, start=date(2026, 3, 2), weeks=1, clinic_ids=[clinic_id])

    assert created == 10
    slots = await all_slots(db)
    assert [wall(slot.starts_at) for slot in slots] == [
        "2026-03-02 08:00", "2026-03-02 08:30", "2026-03-02 09:00", "2026-03-02 09:30",
        "2026-03-02 10:00", "2026-03-02 10:30", "2026-03-02 11:00", "2026-03-02 11:30",
        "2026-03-04 08:00", "2026-03-04 09:00"]
    assert {(s.clinic_id, s.chair_id, s.status, s.released) for s in slots} == {
        (clinic_id, chair_id, "free", True)}
    assert all(s.template_id is not None for s in slots)
    assert slots[0].starts_at == f.at(2026, 3, 2, 7, 0)
    assert slots[0].starts_at.tzinfo is not None
    assert slots[-1].ends_at - slots[-1].starts_at == timedelta(hours=1)


async def test_second_run_creates_nothing(db: Database) -> None:
    await one_chair(db, dict(weekday=MON), dict(weekday=TUE))  # 08:00–15:00, 30 min
    first = await generate_slots(db, start=date(2026, 3, 2), weeks=2)
    again = await generate_slots(db, start=date(2026, 3, 2), weeks=2)

    assert first == 2 * 2 * 14
    assert again == 0
    assert await slot_count(db) == 56


async def test_extending_the_horizon_creates_only_the_new_weeks(db: Database) -> None:
    await one_chair(db, dict(weekday=MON))
    assert await generate_slots(db, start=date(2026, 3, 2), weeks=1) == 14
    assert await generate_slots(db, start=date(2026, 3, 2), weeks=3) == 28
    assert await slot_count(db) == 42


async def test_public_holidays_get_no_slots(db: Database) -> None:
    await one_chair(
        db, dict(weekday=MON, starts_at=time(8, 0), ends_at=time(10, 0), slot_minutes=60))

    # Mondays 30 March to 25 May 2026, of which 6 April (2. påskedag) and
    # 25 May (2. pinsedag) are holidays.
    created = await generate_slots(db, start=date(2026, 3, 30), weeks=9)

    assert created == 7 * 2
    days = sorted({slot.starts_at.astimezone(OSLO).date() for slot in await all_slots(db)})
    assert days == [date(2026, 3, 30), date(2026, 4, 13), date(2026, 4, 20), date(2026, 4, 27),
                    date(2026, 5, 4), date(2026, 5, 11), date(2026, 5, 18)]


async def test_regeneration_blocks_free_template_slots_on_a_holiday(db: Database) -> None:
    async with db.write() as s:
        clinic = await f.clinic(s)
        chair = await f.chair(s, clinic)
        tpl = await f.template(s, chair, [], weekday=MON)
        # Made before the holiday was known, e.g. by an older version.
        from_template = await f.slot(s, chair, oslo(2026, 4, 6, 9), tpl)
        by_hand = await f.slot(s, chair, oslo(2026, 4, 6, 12))  # staff opened it on purpose

    await generate_slots(db, start=date(2026, 4, 6), weeks=1)

    statuses = {slot.id: slot.status for slot in await all_slots(db)}
    assert statuses == {from_template.id: "blocked", by_hand.id: "free"}


async def test_closures_of_clinic_and_of_one_chair(db: Database) -> None:
    async with db.write() as s:
        clinic = await f.clinic(s)
        chair_a = await f.chair(s, clinic)
        chair_b = await f.chair(s, clinic)
        for chair in (chair_a, chair_b):
            for weekday in (TUE, WED):
                await f.template(s, chair, [], weekday=weekday, starts_at=time(8, 0),
                                 ends_at=time(12, 0), slot_minutes=30)
    # The whole clinic is closed on Tuesday; chair A from 10:00 to 11:00 on Wednesday.
    await add_exception(db, clinic_id=clinic.id, chair_id=None, starts_at=oslo(2026, 3, 3),
                        ends_at=oslo(2026, 3, 4), reason="Personalmøte")
    await add_exception(db, clinic_id=clinic.id, chair_id=chair_a.id,
                        starts_at=oslo(2026, 3, 4, 10), ends_at=oslo(2026, 3, 4, 11),
                        reason="Service på stolen")

    created = await generate_slots(db, start=date(2026, 3, 2), weeks=1)

    assert created == 6 + 8
    a = [wall(slot.starts_at) for slot in await all_slots(db, chair_a.id)]
    b = [wall(slot.starts_at) for slot in await all_slots(db, chair_b.id)]
    assert a == ["2026-03-04 08:00", "2026-03-04 08:30", "2026-03-04 09:00",
                 "2026-03-04 09:30", "2026-03-04 11:00", "2026-03-04 11:30"]
    assert len(b) == 8
    assert all(day.startswith("2026-03-04") for day in b)


async def test_regeneration_blocks_free_slots_in_a_closure_added_since(db: Database) -> None:
    clinic_id, chair_id, _ = await one_chair(
        db, dict(weekday=MON, starts_at=time(8, 0), ends_at=time(10, 0), slot_minutes=30))
    assert await generate_slots(db, start=date(2026, 3, 2), weeks=1) == 4
    async with db.write() as s:  # entered directly, e.g. by an import
        s.add(ScheduleException(clinic_id=clinic_id, chair_id=None, reason="Strømbrudd",
                                starts_at=oslo(2026, 3, 2, 8, 15), ends_at=oslo(2026, 3, 2, 9)))

    assert await generate_slots(db, start=date(2026, 3, 2), weeks=1) == 0

    slots = await all_slots(db, chair_id)
    assert [(wall(slot.starts_at), slot.status) for slot in slots] == [
        ("2026-03-02 08:00", "blocked"), ("2026-03-02 08:30", "blocked"),
        ("2026-03-02 09:00", "free"), ("2026-03-02 09:30", "free")]
    assert slots[0].version == 1 and slots[2].version == 0


async def test_validity_period_is_inclusive(db: Database) -> None:
    await one_chair(db, dict(weekday=MON, starts_at=time(8, 0), ends_at=time(9, 0),
                             slot_minutes=60, valid_from=date(2026, 3, 9),
                             valid_to=date(2026, 3, 23)))

    created = await generate_slots(db, start=date(2026, 3, 2), weeks=5)

    assert created == 3
    assert [wall(slot.starts_at) for slot in await all_slots(db)] == [
        "2026-03-09 08:00", "2026-03-16 08:00", "2026-03-23 08:00"]


async def test_unreleased_template_makes_unreleased_slots(db: Database) -> None:
    await one_chair(
        db,
        dict(weekday=MON, starts_at=time(8, 0), ends_at=time(9, 0), released=False),
        dict(weekday=MON, starts_at=time(9, 0), ends_at=time(10, 0), released=True),
    )

    assert await generate_slots(db, start=date(2026, 3, 2), weeks=1) == 4

    assert [(wall(slot.starts_at), slot.released) for slot in await all_slots(db)] == [
        ("2026-03-02 08:00", False), ("2026-03-02 08:30", False),
        ("2026-03-02 09:00", True), ("2026-03-02 09:30", True)]


async def test_spring_forward_day(db: Database) -> None:
    await one_chair(db, dict(weekday=SUN, starts_at=time(0, 0), ends_at=time(4, 0),
                             slot_minutes=30))

    assert await generate_slots(db, start=date(2026, 3, 23), weeks=1) == 6

    slots = await all_slots(db)
    walls = [wall(slot.starts_at) for slot in slots]
    assert "2026-03-29 02:00" not in walls and "2026-03-29 02:30" not in walls
    assert walls == ["2026-03-29 00:00", "2026-03-29 00:30", "2026-03-29 01:00",
                     "2026-03-29 01:30", "2026-03-29 03:00", "2026-03-29 03:30"]
    assert len({slot.starts_at for slot in slots}) == 6
    assert_no_overlaps([(slot.starts_at, slot.ends_at) for slot in slots])
    # The slot before the jump lasts 30 real minutes and ends as the clock says 03:00.
    assert (slots[3].starts_at, slots[3].ends_at) == (f.at(2026, 3, 29, 0, 30),
                                                      f.at(2026, 3, 29, 1, 0))


async def test_fall_back_day(db: Database) -> None:
    await one_chair(db, dict(weekday=SUN, starts_at=time(0, 0), ends_at=time(4, 0),
                             slot_minutes=30))

    assert await generate_slots(db, start=date(2026, 10, 19), weeks=1) == 8
    assert await generate_slots(db, start=date(2026, 10, 19), weeks=1) == 0

    slots = await all_slots(db)
    walls = [wall(slot.starts_at) for slot in slots]
    assert walls == ["2026-10-25 00:00", "2026-10-25 00:30", "2026-10-25 01:00",
                     "2026-10-25 01:30", "2026-10-25 02:00", "2026-10-25 02:30",
                     "2026-10-25 03:00", "2026-10-25 03:30"]
    assert len(set(walls)) == len(walls) == 8
    assert_no_overlaps([(slot.starts_at, slot.ends_at) for slot in slots])
    assert all(slot.ends_at - slot.starts_at == timedelta(minutes=30) for slot in slots)
    assert slots[4].starts_at == f.at(2026, 10, 25, 0, 0)  # 02:00 summer time
    assert slots[6].starts_at == f.at(2026, 10, 25, 2, 0)  # 03:00 winter time


async def test_overlapping_templates_make_no_overlapping_slots(db: Database) -> None:
    _, chair_id, _ = await one_chair(
        db,
        dict(weekday=MON, starts_at=time(8, 0), ends_at=time(9, 0), slot_minutes=30),
        dict(weekday=MON, starts_at=time(8, 45), ends_at=time(10, 15), slot_minutes=45),
        dict(weekday=MON, starts_at=time(8, 0), ends_at=time(12, 0), slot_minutes=60),
    )
    async with db.write() as s:  # a slot staff made by hand, 10:20–10:50
        chair = await s.get(Chair, chair_id)
        assert chair is not None
        manual = await f.slot(s, chair, oslo(2026, 3, 2, 10, 20))

    created = await generate_slots(db, start=date(2026, 3, 2), weeks=1)

    slots = await all_slots(db)
    assert created == 4
    assert [(wall(slot.starts_at), wall(slot.ends_at)) for slot in slots] == [
        ("2026-03-02 08:00", "2026-03-02 08:30"),
        ("2026-03-02 08:30", "2026-03-02 09:00"),
        ("2026-03-02 09:00", "2026-03-02 10:00"),
        ("2026-03-02 10:20", "2026-03-02 10:50"),
        ("2026-03-02 11:00", "2026-03-02 12:00"),
    ]
    assert [slot.id for slot in slots if slot.template_id is None] == [manual.id]
    assert_no_overlaps([(slot.starts_at, slot.ends_at) for slot in slots])


async def test_insert_counts_only_rows_really_inserted(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # A concurrent run may have made some of the rows since we looked.
    clinic_id, chair_id, _ = await one_chair(db)
    monkeypatch.setattr(schedule, "INSERT_BATCH", 3)
    rows = [dict(clinic_id=clinic_id, chair_id=chair_id, template_id=None,
                 starts_at=f.at(2026, 3, 2, 8) + timedelta(minutes=30 * i),
                 ends_at=f.at(2026, 3, 2, 8) + timedelta(minutes=30 * (i + 1)),
                 status="free", released=True, version=0) for i in range(7)]
    async with db.write() as s:
        assert await schedule._insert_slots(s, db.dialect, rows[2:5]) == 3
    async with db.write() as s:
        assert await schedule._insert_slots(s, db.dialect, rows) == 4
    assert await slot_count(db) == 7


# --- Closures after slots exist --------------------------------------------------

async def test_add_exception_blocks_free_slots_and_keeps_bookings(db: Database) -> None:
    async with db.write() as s:
        clinic = await f.clinic(s)
        chair_a = await f.chair(s, clinic)
        chair_b = await f.chair(s, clinic)
        kind = await f.appointment_type(s, clinic.county_id)
        for chair in (chair_a, chair_b):
            await f.template(s, chair, [kind], weekday=MON, starts_at=time(8, 0),
                             ends_at=time(11, 0), slot_minutes=30)
        patient = await f.patient(s)
    assert await generate_slots(db, start=date(2026, 3, 2), weeks=1) == 12
    slots = {wall(slot.starts_at): slot for slot in await all_slots(db, chair_a.id)}
    now = f.at(2026, 2, 20)
    booked = await service.book(
        db, Actor.patient(patient.id), patient_id=patient.id, appointment_type_id=kind.id,
        slot_id=slots["2026-03-02 09:00"].id, idempotency_key="closure-1", now=now)
    assert await service.hold(db, slot_id=slots["2026-03-02 09:30"].id, hold_key="live",
                              now=now)
    assert await service.hold(db, slot_id=slots["2026-03-02 08:30"].id, hold_key="old",
                              now=now - timedelta(hours=1))

    exception = await add_exception(
        db, clinic_id=clinic.id, chair_id=chair_a.id, starts_at=oslo(2026, 3, 2, 8, 30),
        ends_at=oslo(2026, 3, 2, 10, 30), reason="Sykdom", now=now)

    assert exception.id is not None and exception.chair_id == chair_a.id
    after = {wall(slot.starts_at): slot.status for slot in await all_slots(db, chair_a.id)}
    assert after == {
        "2026-03-02 08:00": "free",
        "2026-03-02 08:30": "blocked",  # its hold had run out
        "2026-03-02 09:00": "booked",
        "2026-03-02 09:30": "held",  # someone is booking it right now
        "2026-03-02 10:00": "blocked",
        "2026-03-02 10:30": "free",
    }
    assert {slot.status for slot in await all_slots(db, chair_b.id)} == {"free"}
    assert await appointments_in_closure(db, exception) == [AffectedAppointment(
        appointment_id=booked.appointment.id, slot_id=slots["2026-03-02 09:00"].id,
        chair_id=chair_a.id, starts_at=oslo(2026, 3, 2, 9))]


async def test_add_exception_refuses_a_chair_of_another_clinic(db: Database) -> None:
    async with db.write() as s:
        clinic = await f.clinic(s)
        elsewhere = await f.chair(s, await f.clinic(s))
    with pytest.raises(ValueError, match="chair"):
        await add_exception(db, clinic_id=clinic.id, chair_id=elsewhere.id,
                            starts_at=oslo(2026, 3, 2, 8), ends_at=oslo(2026, 3, 2, 9),
                            reason="")
    with pytest.raises(ValueError, match="end after"):
        await add_exception(db, clinic_id=clinic.id, chair_id=None,
                            starts_at=oslo(2026, 3, 2, 9), ends_at=oslo(2026, 3, 2, 9),
                            reason="")
