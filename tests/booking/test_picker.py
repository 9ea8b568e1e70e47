"""Which free times a patient is offered (booking.picker): not the ones that
overlap their own appointments, one choice per time, day by day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from booking import picker, search, service
from booking.audit import Actor
from booking.models import Appointment, Patient
from booking.reasons import Reason
from core.db import Database
from tests import factories as f
from tests.booking.booking_world import NOW, World, make_world

TODAY = date(2030, 3, 1)  # NOW's day in Oslo


def _search(w: World, changing: int | None = None) -> picker.Search:
    return picker.Search(w.clinic, w.exam, w.adult, TODAY, changing=changing)


async def _own_exam_elsewhere(db: Database, w: World) -> Appointment:
    """The adult's appointment at the other clinic, at the time of slots[0]."""
    outcome = await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                                 slot_id=w.other_slot.id, appointment_type_id=w.exam.id,
                                 now=NOW)
    return outcome.appointment


async def test_a_time_overlapping_an_own_appointment_is_not_offered(db: Database) -> None:
    w = await make_world(db, slot_count=4)
    before = await picker.offered_times(db, _search(w), now=NOW)
    assert [s.slot_id for s in before] == [s.id for s in w.slots]
    own = await _own_exam_elsewhere(db, w)
    after = await picker.offered_times(db, _search(w), now=NOW)
    # 09:00–09:30 overlaps; 09:30, which starts as the other ends, does not.
    assert [s.slot_id for s in after] == [s.id for s in w.slots[1:]]
    # When that appointment is the one being changed, its time is no obstacle.
    changing = await picker.offered_times(db, _search(w, changing=own.id), now=NOW)
    assert [s.slot_id for s in changing] == [s.id for s in w.slots]
    # Another patient is offered every time.
    theirs = picker.Search(w.clinic, w.exam, w.other_adult, TODAY)
    assert len(await picker.offered_times(db, theirs, now=NOW)) == len(w.slots)


async def test_the_first_day_and_the_nearest_skip_overlapping_times(db: Database) -> None:
    w = await make_world(db, slot_count=4)
    await _own_exam_elsewhere(db, w)
    day = await picker.day(db, _search(w), None, now=NOW)
    assert day.day == date(2030, 3, 4)
    assert [s.slot_id for s in day.times] == [s.id for s in w.slots[1:]]
    # The days before and after skip the weekend the clinic is closed.
    assert day.previous == date(2030, 3, 1) and day.next == date(2030, 3, 5)
    assert day.first_free is None and day.next_free is None and day.refusal is None
    near = await picker.nearest(db, _search(w), w.slots[0].starts_at, w.slots[1].id, now=NOW)
    assert [s.slot_id for s in near] == [s.id for s in w.slots[2:]]


async def test_an_empty_day_points_to_the_next_day_with_offered_times(db: Database) -> None:
    w = await make_world(db, slot_count=1)
    await _own_exam_elsewhere(db, w)  # the only time on 4 March overlaps it
    async with db.write() as s:
        later = await f.slot(s, w.chair, w.slots[0].starts_at + timedelta(days=2), w.template)
    day = await picker.day(db, _search(w), date(2030, 3, 4), now=NOW)
    assert day.times == []
    assert day.next_free == date(2030, 3, 6)
    assert day.first_free == date(2030, 3, 6)  # the first day with a time offered
    first = await picker.day(db, _search(w), None, now=NOW)
    assert first.day == date(2030, 3, 6) and [s.slot_id for s in first.times] == [later.id]


async def test_one_choice_per_time_and_days_within_the_horizon(db: Database) -> None:
    w = await make_world(db, slot_count=2)
    async with db.write() as s:
        template2 = await f.template(s, w.chair2, [w.exam])
        same_time = await f.slot(s, w.chair2, w.slots[0].starts_at, template2)
    offered = await picker.offered_times(db, _search(w), now=NOW)
    assert {s.slot_id for s in offered} == {w.slots[0].id, w.slots[1].id, same_time.id}
    day = await picker.day(db, _search(w), date(2030, 3, 4), now=NOW)
    assert [s.starts_at for s in day.times] == [w.slots[0].starts_at, w.slots[1].starts_at]
    # Never before today nor after the booking horizon (90 days).
    assert picker.shown_day(date(2000, 1, 1), None, _search(w)) == TODAY
    assert picker.shown_day(date(2099, 1, 1), None, _search(w)) == TODAY + timedelta(days=90)
    last = await picker.day(db, _search(w), date(2099, 1, 1), now=NOW)
    assert last.next is None and last.previous == TODAY + timedelta(days=89)
    assert last.next_week is None
    first = await picker.day(db, _search(w), TODAY, now=NOW)
    assert first.previous is None and first.first_free == date(2030, 3, 4)


async def test_a_day_before_the_kind_suits_the_age_says_why(db: Database) -> None:
    w = await make_world(db, slot_count=1)
    turns_18 = picker.Search(w.clinic, w.exam, Patient(id=w.child.id,
                                                       birth_date=date(2012, 3, 10)), TODAY)
    day = await picker.day(db, turns_18, date(2030, 3, 4), now=NOW)
    assert day.times == [] and day.refusal is Reason.AGE_NOT_ALLOWED
    assert (await picker.day(db, turns_18, date(2030, 3, 10), now=NOW)).refusal is None


@pytest.mark.parametrize("page", [1, 2, 3])
async def test_paging_past_times_not_offered_finds_the_same_times(
        db: Database, monkeypatch: pytest.MonkeyPatch, page: int) -> None:
    w = await make_world(db, slot_count=6)
    async with db.write() as s:
        template2 = await f.template(s, w.chair2, [w.exam])
        for slot in w.slots[:3]:
            await f.slot(s, w.chair2, slot.starts_at, template2)
    await _own_exam_elsewhere(db, w)
    whole = await picker.offered_times(db, _search(w), now=NOW)
    assert len(whole) == 7  # 09:00 on both chairs overlaps
    monkeypatch.setattr(search, "PAGE", page)
    assert await picker.offered_times(db, _search(w), now=NOW) == whole
    first = await picker.offered_times(db, _search(w), limit=1, now=NOW)
    assert first == whole[:1] and first[0].starts_at == w.slots[1].starts_at


async def test_the_week_strip_counts_times_per_open_day_and_skips_closed_days(
        db: Database) -> None:
    w = await make_world(db, slot_count=2)  # 09:00 and 09:30 on Monday 4 March
    async with db.write() as s:
        # Wednesday 6 March: one time; Monday 11 March: one.
        wednesday = await f.slot(s, w.chair, w.slots[0].starts_at + timedelta(days=2),
                                 w.template)
        await f.slot(s, w.chair, w.slots[0].starts_at + timedelta(days=7), w.template)
    day = await picker.day(db, _search(w), date(2030, 3, 5), now=NOW)
    assert day.times == []
    # Monday to Friday: the weekend (closed, opening hours Monday to Friday) is left out.
    assert [(d.day, d.free) for d in day.week] == [
        (date(2030, 3, 4), 2), (date(2030, 3, 5), 0), (date(2030, 3, 6), 1),
        (date(2030, 3, 7), 0), (date(2030, 3, 8), 0)]
    async with db.write() as s:  # times released on a Saturday, when it is closed
        saturday = await f.slot(s, w.chair, w.slots[0].starts_at + timedelta(days=5),
                                w.template)
    with_saturday = await picker.day(db, _search(w), date(2030, 3, 5), now=NOW)
    assert [(d.day, d.free) for d in with_saturday.week][-1] == (date(2030, 3, 9), 1)
    async with db.write() as s:
        await s.delete(await s.get(type(saturday), saturday.id))
    assert day.next_free == date(2030, 3, 6)  # the jump to the next free time
    assert day.previous_week == TODAY and day.next_week == date(2030, 3, 11)
    # A day with times points on to the next day that has any.
    monday = await picker.day(db, _search(w), date(2030, 3, 4), now=NOW)
    assert [s.slot_id for s in monday.times] == [w.slots[0].id, w.slots[1].id]
    assert monday.next_free == date(2030, 3, 6)
    wed = await picker.day(db, _search(w), date(2030, 3, 6), now=NOW)
    assert [s.slot_id for s in wed.times] == [wednesday.id]
    assert wed.next_free == date(2030, 3, 11)  # over the weekend
    # Friday's next open day is Monday, not Saturday.
    friday = await picker.day(db, _search(w), date(2030, 3, 8), now=NOW)
    assert friday.next == date(2030, 3, 11)


def test_a_clinic_is_closed_on_public_holidays_and_days_without_hours() -> None:
    from booking.models import Clinic
    weekdays = Clinic(opening_hours={str(d): ["08:00", "15:30"] for d in range(5)})
    assert picker.is_open(weekdays, date(2030, 3, 4))  # a Monday
    assert not picker.is_open(weekdays, date(2030, 3, 9))  # a Saturday
    assert not picker.is_open(weekdays, date(2030, 5, 17))  # Constitution Day, a Friday
    assert picker.is_open(Clinic(opening_hours={}), date(2030, 3, 9))  # no hours: slots say
