"""Changing a chair's week: the preview says what happens and changes
nothing; saving does exactly that, in one transaction, and never strands an
appointment without putting it on the clinic's list."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from booking import schedule, schedule_changes, service
from booking.audit import Actor
from booking.models import (
    Appointment,
    AuditEntry,
    ScheduleStranding,
    ScheduleTemplate,
    Slot,
)
from booking.schedule_changes import Change, ChangeRefused
from booking.service import BookingRefused
from booking.statuses import ACTIVE, AppointmentStatus, SlotStatus, StrandingDecision
from core.db import Database
from core.locale import OSLO
from tests.booking.schedule_changes_world import (
    ADMIN,
    MONDAY,
    NOW,
    TODAY,
    World,
    apply,
    block,
    book,
    free_slots,
    make_world,
    preview,
    shrink,
)


async def test_preview_counts_and_changes_nothing(db):
    w = await make_world(db)
    eleven = datetime.combine(MONDAY, time(11), OSLO)
    appointment_id = await book(db, w, eleven)
    before = await free_slots(db, w)
    result = await preview(db, w, shrink(w))
    plan = result.plan
    # Twelve Mondays ahead (none a holiday), 4 slots each from 10 to 12; one is booked.
    assert len(plan.removed) == 12 * 4 - 1
    assert [s.appointment_id for s in plan.stranded] == [appointment_id]
    assert plan.added == []
    assert await free_slots(db, w) == before
    async with db.read() as s:
        template = await s.get(ScheduleTemplate, w.template_id)
        assert template is not None and template.ends_at == time(12)


async def test_saving_does_what_the_preview_said(db):
    w = await make_world(db)
    eleven = datetime.combine(MONDAY, time(11), OSLO)
    appointment_id = await book(db, w, eleven)
    change = shrink(w)
    plan = await apply(db, w, change, (await preview(db, w, change)).fingerprint)
    assert len(plan.removed) == 47
    async with db.read() as s:
        template = await s.get(ScheduleTemplate, w.template_id)
        assert template is not None and template.ends_at == time(10)
        appointment = await s.get(Appointment, appointment_id)
        assert appointment is not None and appointment.status == AppointmentStatus.BOOKED
        slot = await s.get(Slot, appointment.slot_id)
        assert slot is not None and slot.status == SlotStatus.BOOKED and not slot.released
        stranding = (await s.execute(select(ScheduleStranding))).scalar_one()
        assert stranding.appointment_id == appointment_id
        assert stranding.decision == StrandingDecision.WAITING
        actions = set((await s.execute(select(AuditEntry.action))).scalars())
    assert {"schedule.block.edit", "appointment.stranded"} <= actions
    assert await free_slots(db, w) == 12 * 4
    # The nightly run agrees with the saved week: nothing more to make.
    assert await schedule.generate_slots(db, start=TODAY, weeks=12,
                                         clinic_ids=[w.clinic_id], now=NOW) == 0
    lines = await schedule_changes.waiting(db, w.clinic_id, now=NOW)
    assert [line.appointment_id for line in lines] == [appointment_id]
    # Growing the block back brings the blocked slots back, not new ones.
    grow = Change("edit", w.chair_id, w.template_id, block(w, ends_at=time(12)))
    again = await preview(db, w, grow)
    # The stranded appointment is back in the week: off the list.
    assert again.plan.added == [] and len(again.plan.kept) == 48
    assert again.plan.restored == [appointment_id]
    await apply(db, w, grow, again.fingerprint)
    assert await free_slots(db, w) == 12 * 8 - 1
    assert await schedule_changes.waiting(db, w.clinic_id, now=NOW) == []


async def test_a_booking_after_the_preview_refuses_the_save(db):
    w = await make_world(db)
    change = shrink(w)
    seen = await preview(db, w, change)
    await book(db, w, datetime.combine(MONDAY, time(10, 30), OSLO))
    before = await free_slots(db, w)
    with pytest.raises(ChangeRefused) as refused:
        await apply(db, w, change, seen.fingerprint)
    assert refused.value.code == "stale"
    assert await free_slots(db, w) == before
    fresh = await preview(db, w, change)
    assert len(fresh.plan.stranded) == 1


@pytest.mark.parametrize(("values", "code"), [
    ({"ends_at": time(7)}, "end_before_start"),
    ({"slot_minutes": 45}, "slot_not_fitting"),
    ({"slot_minutes": 2}, "slot_length"),
    ({"valid_from": date(2026, 1, 1)}, "valid_from_past"),
    ({"valid_from": date(2027, 1, 1), "valid_to": date(2026, 12, 1)}, "valid_to_before_from"),
    ({"starts_at": time(11), "ends_at": time(13)}, "overlap"),
    ({"type_ids": ()}, "no_types"),
    ({"type_ids": (999_999,)}, "unknown_type"),
])
async def test_bad_blocks_are_refused(db, values, code):
    w = await make_world(db)
    fields: dict[str, object] = {"valid_from": TODAY, "starts_at": time(13),
                                 "ends_at": time(15), **values}
    add = Change("add", w.chair_id, None, block(w, **fields))
    with pytest.raises(ChangeRefused) as refused:
        await preview(db, w, add)
    assert refused.value.code == code


async def test_add_and_remove_a_block(db):
    w = await make_world(db)
    add = Change("add", w.chair_id, None, block(w, weekday=2, starts_at=time(13),
                                                 ends_at=time(15), valid_from=TODAY))
    seen = await preview(db, w, add)
    # Wednesdays from tomorrow's week: today's 13:00 is still ahead.
    assert len(seen.plan.added) == 12 * 4
    await apply(db, w, add, seen.fingerprint)
    async with db.read() as s:
        new_id = (await s.execute(select(ScheduleTemplate.id).where(
            ScheduleTemplate.weekday == 2))).scalar_one()
    remove = Change("remove", w.chair_id, new_id)
    seen = await preview(db, w, remove)
    assert len(seen.plan.removed) == 12 * 4 and seen.plan.stranded == []
    await apply(db, w, remove, seen.fingerprint)
    async with db.read() as s:
        assert await s.get(ScheduleTemplate, new_id) is None


async def test_slots_not_generated_yet_are_not_the_changes_doing(db):
    w = await make_world(db)
    async with db.write() as s:
        await s.execute(Slot.__table__.delete().where(  # type: ignore[attr-defined]
            Slot.starts_at > datetime.combine(TODAY + timedelta(weeks=2), time(0), OSLO)))
    add = Change("add", w.chair_id, None, block(w, weekday=2, starts_at=time(13),
                                                 ends_at=time(15), valid_from=TODAY))
    seen = await preview(db, w, add)
    assert seen.plan.added_by_change == 12 * 4
    assert len(seen.plan.added) == 12 * 4 + 10 * 8


async def test_slots_are_cut_in_oslo_time_on_the_spring_forward_night(db):
    w = await make_world(db)
    now = datetime(2026, 3, 20, 12, tzinfo=OSLO)
    add = Change("add", w.chair_id, None, block(w, weekday=6, starts_at=time(1),
                                                 ends_at=time(4), slot_minutes=60,
                                                 valid_from=now.date()))
    seen = await schedule_changes.preview(db, clinic_id=w.clinic_id, county_id=w.county_id,
                                          change=add, now=now)
    night = [s for s, _, _, _ in seen.plan.added if s.astimezone(OSLO).date() == date(2026, 3, 29)]
    assert [s.astimezone(OSLO).time() for s in night] == [time(1), time(3)]


async def test_keep_and_cancel_stranded_appointments(db):
    w = await make_world(db, patients=2)
    first = await book(db, w, datetime.combine(MONDAY, time(10, 30), OSLO))
    second = await book(db, w, datetime.combine(MONDAY, time(11), OSLO), patient=1)
    change = shrink(w)
    await apply(db, w, change, (await preview(db, w, change)).fingerprint)
    lines = {line.appointment_id: line for line in await schedule_changes.waiting(
        db, w.clinic_id, now=NOW)}
    assert set(lines) == {first, second}
    with pytest.raises(ChangeRefused):
        await schedule_changes.cancel(db, ADMIN, clinic_id=w.clinic_id,
                                      stranding_id=lines[second].stranding_id, reason=" ",
                                      now=NOW)
    staff = Actor.staff("clinic-admin", {w.clinic_id})
    await schedule_changes.keep(db, staff, clinic_id=w.clinic_id,
                                stranding_id=lines[first].stranding_id, now=NOW)
    await schedule_changes.cancel(db, staff, clinic_id=w.clinic_id,
                                  stranding_id=lines[second].stranding_id,
                                  reason="The chair is being repaired", now=NOW)
    assert await schedule_changes.waiting(db, w.clinic_id, now=NOW) == []
    async with db.read() as s:
        kept = await s.get(Appointment, first)
        cancelled = await s.get(Appointment, second)
        assert kept is not None and kept.status == AppointmentStatus.BOOKED
        assert cancelled is not None and cancelled.status == AppointmentStatus.CANCELLED
        slot = await s.get(Slot, cancelled.slot_id)
        assert slot is not None and slot.status == SlotStatus.BLOCKED
    with pytest.raises(ChangeRefused):
        await schedule_changes.keep(db, staff, clinic_id=w.clinic_id,
                                    stranding_id=lines[first].stranding_id, now=NOW)


async def _try_book(db: Database, w: World, slot_id: int, patient: int) -> int | None:
    try:
        out = await service.book(db, Actor.patient(patient), patient_id=patient,
                                 slot_id=slot_id, appointment_type_id=w.type_id, now=NOW)
        return out.appointment.id
    except BookingRefused:
        return None


async def _save_until_done(db: Database, w: World, change: Change) -> None:
    for _ in range(20):
        seen = await preview(db, w, change)
        try:
            await apply(db, w, change, seen.fingerprint)
            return
        except ChangeRefused as refused:
            assert refused.code == "stale"
            await asyncio.sleep(0)
    raise AssertionError("the change never went through")


async def test_a_change_racing_bookings_strands_nobody_unlisted(pg_db):
    db = pg_db
    w = await make_world(db, patients=16)
    async with db.read() as s:
        doomed = list((await s.execute(select(Slot.id).where(
            Slot.chair_id == w.chair_id, Slot.status == SlotStatus.FREE)
            .order_by(Slot.starts_at))).scalars())
    # Slots from 10 to 12 on the first Mondays: the ones the change removes.
    targets = [sid for sid in doomed if (await slot_time(db, sid)).hour >= 10][:16]
    await asyncio.gather(_save_until_done(db, w, shrink(w)),
                         *[_try_book(db, w, sid, w.patients[i]) for i, sid in enumerate(targets)])
    async with db.read() as s:
        live = list((await s.execute(select(Appointment.id, Slot.template_id).join(
            Slot, Slot.id == Appointment.slot_id).where(
            Appointment.chair_id == w.chair_id,
            Appointment.status.in_([a.value for a in ACTIVE])))).all())
        listed = set((await s.execute(select(ScheduleStranding.appointment_id))).scalars())
        template = await s.get(ScheduleTemplate, w.template_id)
        assert template is not None and template.ends_at == time(10)
    for appointment_id, template_id in live:
        # Every appointment kept its place in the week, or is on the list.
        assert template_id is not None or appointment_id in listed
    assert {a for a, t in live if t is None} == listed


async def slot_time(db: Database, slot_id: int) -> time:
    async with db.read() as s:
        slot = await s.get(Slot, slot_id)
        assert slot is not None
        return slot.starts_at.astimezone(OSLO).time()


async def test_nothing_changed_is_refused(db):
    w = await make_world(db)
    same = Change("edit", w.chair_id, w.template_id, block(w, ends_at=time(12)))
    with pytest.raises(ChangeRefused) as refused:
        await preview(db, w, same)
    assert refused.value.code == "nothing_to_change"
    gone = Change("remove", w.chair_id, 999_999)
    with pytest.raises(ChangeRefused) as refused:
        await preview(db, w, gone)
    assert refused.value.code == "unknown_block"


async def test_a_closure_blocks_free_slots_and_lists_booked_ones(db):
    w = await make_world(db, patients=2)
    appointment_id = await book(db, w, datetime.combine(MONDAY, time(9), OSLO))
    closure = schedule_changes.closure_of(MONDAY, time(8), time(10), chair_id=None,
                                          reason="Vannlekkasje", now=NOW)
    seen = await schedule_changes.preview_closure(db, clinic_id=w.clinic_id, closure=closure,
                                                  now=NOW)
    assert seen.blocked == 3 and [s.appointment_id for s in seen.stranded] == [appointment_id]
    await schedule_changes.apply_closure(db, ADMIN, clinic_id=w.clinic_id, closure=closure,
                                         fingerprint=seen.fingerprint, now=NOW)
    lines = await schedule_changes.waiting(db, w.clinic_id, now=NOW)
    assert [line.appointment_id for line in lines] == [appointment_id]
    async with db.read() as s:
        appointment = await s.get(Appointment, appointment_id)
        assert appointment is not None and appointment.status == AppointmentStatus.BOOKED
    # The same closure previewed before a booking: refused once the week moved.
    later = schedule_changes.closure_of(MONDAY, time(11), None, chair_id=w.chair_id,
                                        reason="", now=NOW)
    old = await schedule_changes.preview_closure(db, clinic_id=w.clinic_id, closure=later,
                                                 now=NOW)
    await book(db, w, datetime.combine(MONDAY, time(11), OSLO), patient=1)
    with pytest.raises(ChangeRefused):
        await schedule_changes.apply_closure(db, ADMIN, clinic_id=w.clinic_id, closure=later,
                                             fingerprint=old.fingerprint, now=NOW)


def test_closures_in_the_past_are_refused():
    for day, start, end in [(TODAY - timedelta(days=1), None, None),
                            (TODAY, time(7), time(8)), (MONDAY, time(10), time(9))]:
        with pytest.raises(ChangeRefused):
            schedule_changes.closure_of(day, start, end, chair_id=None, reason="", now=NOW)
    today = schedule_changes.closure_of(TODAY, None, None, chair_id=None, reason="", now=NOW)
    assert today.starts_at == NOW
