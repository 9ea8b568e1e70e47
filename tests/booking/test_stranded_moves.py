"""Asking the patient to move a stranded appointment: the offered times,
the text message and Helsenorge update, the patient's pick through the
usual change rules (but not the change cut-off), refusals that change
nothing, and two picks at once that move it once."""

from __future__ import annotations

import asyncio
from datetime import datetime, time

import pytest
from sqlalchemy import select, update

from booking import schedule_changes, service
from booking.audit import Actor
from booking.models import Appointment, AppointmentType, AuditEntry, ScheduleStranding, Slot
from booking.reasons import Reason
from booking.schedule_changes import ChangeRefused
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus, SlotStatus, StrandingDecision
from core.db import Database
from core.locale import OSLO
from notifications.models import Notification
from notifications.statuses import Channel, Purpose
from tests.booking.schedule_changes_world import (
    MONDAY,
    NOW,
    World,
    apply,
    book,
    make_world,
    preview,
    shrink,
)

STAFF_ID = "clinic-admin"


async def _stranded(db: Database, patients: int = 1) -> tuple[World, list[int], Actor]:
    """A world whose Monday 10:30 (and 11:00) appointments lost their slots."""
    w = await make_world(db, patients=max(patients, 2))
    starts = [time(10, 30), time(11)]
    ids = [await book(db, w, datetime.combine(MONDAY, starts[i], OSLO), patient=i)
           for i in range(patients)]
    change = shrink(w)
    await apply(db, w, change, (await preview(db, w, change)).fingerprint)
    lines = await schedule_changes.waiting(db, w.clinic_id, now=NOW)
    by_appointment = {line.appointment_id: line.stranding_id for line in lines}
    return w, [by_appointment[i] for i in ids], Actor.staff(STAFF_ID, {w.clinic_id})


async def _stranding(db: Database, stranding_id: int) -> ScheduleStranding:
    async with db.read() as s:
        row = await s.get(ScheduleStranding, stranding_id)
        assert row is not None
        return row


async def _actions(db: Database, action: str) -> list[AuditEntry]:
    async with db.read() as s:
        return list((await s.execute(select(AuditEntry).where(
            AuditEntry.action == action))).scalars())


async def test_asking_one_patient_offers_the_ticked_times_and_tells_them(db):
    w, (stranding_id,), staff = await _stranded(db)
    times = await schedule_changes.free_times(db, clinic_id=w.clinic_id,
                                              stranding_id=stranding_id, now=NOW)
    assert len(times) >= 5
    assert all(t.starts_at > NOW for t in times)
    chosen = [times[1].slot_id, times[3].slot_id]
    assert await schedule_changes.ask_to_move(
        db, staff, clinic_id=w.clinic_id, stranding_ids=[stranding_id], slot_ids=chosen,
        now=NOW) == [stranding_id]
    row = await _stranding(db, stranding_id)
    assert row.decision == StrandingDecision.ASKED and row.asked_by == staff.id
    assert sorted(int(i) for i in (row.offered_slot_ids or "").split(",")) == sorted(chosen)
    async with db.read() as s:
        appointment = await s.get(Appointment, row.appointment_id)
        assert appointment is not None and appointment.status == AppointmentStatus.BOOKED
        rows = list((await s.execute(select(Notification.channel).where(
            Notification.appointment_id == row.appointment_id,
            Notification.purpose == Purpose.MOVE_REQUEST))).scalars())
    assert sorted(rows) == [Channel.HELSENORGE, Channel.SMS]
    assert await _actions(db, "appointment.stranded.ask_move")
    # Still on the list (the old time holds), marked as asked.
    (line,) = await schedule_changes.waiting(db, w.clinic_id, now=NOW)
    assert line.asked


@pytest.mark.parametrize("how", ["one", "unknown", "booked"])
async def test_a_bad_offer_is_refused_and_changes_nothing(db, how):
    w, (stranding_id,), staff = await _stranded(db)
    times = await schedule_changes.free_times(db, clinic_id=w.clinic_id,
                                              stranding_id=stranding_id, now=NOW)
    row = await _stranding(db, stranding_id)
    async with db.read() as s:
        own = await s.get(Appointment, row.appointment_id)
        assert own is not None
    slot_ids = {"one": [times[0].slot_id], "unknown": [times[0].slot_id, 10**9],
                "booked": [times[0].slot_id, own.slot_id]}[how]
    with pytest.raises(ChangeRefused) as refused:
        await schedule_changes.ask_to_move(db, staff, clinic_id=w.clinic_id,
                                           stranding_ids=[stranding_id], slot_ids=slot_ids,
                                           now=NOW)
    assert refused.value.code == ("offer_count" if how == "one" else "not_offered")
    assert (await _stranding(db, stranding_id)).decision == StrandingDecision.WAITING


async def test_asking_all_offers_each_its_first_free_times(db):
    w, ids, staff = await _stranded(db, patients=2)
    asked = await schedule_changes.ask_to_move(db, staff, clinic_id=w.clinic_id,
                                               stranding_ids=ids, now=NOW)
    assert sorted(asked) == sorted(ids)
    for stranding_id in ids:
        row = await _stranding(db, stranding_id)
        assert row.decision == StrandingDecision.ASKED
        assert len((row.offered_slot_ids or "").split(",")) == schedule_changes.OFFER_MAX
    assert len(await _actions(db, "appointment.stranded.ask_move")) == 2


async def test_the_patient_picks_a_time_even_after_the_change_cut_off(db):
    w, (stranding_id,), staff = await _stranded(db)
    patient = Actor.patient(w.patients[0])
    async with db.write() as s:
        # Now is past the cut-off, and the patient has used up their own moves.
        await s.execute(update(AppointmentType).where(AppointmentType.id == w.type_id)
                        .values(change_cutoff_hours=24 * 30, max_self_reschedules=0))
    row = await _stranding(db, stranding_id)
    times = await schedule_changes.free_times(db, clinic_id=w.clinic_id,
                                              stranding_id=stranding_id, now=NOW)
    await schedule_changes.ask_to_move(db, staff, clinic_id=w.clinic_id,
                                       stranding_ids=[stranding_id], now=NOW)
    # A change of their own is refused by the cut-off ...
    with pytest.raises(BookingRefused) as refused:
        await service.change(db, patient, appointment_id=row.appointment_id,
                             new_slot_id=times[0].slot_id, now=NOW)
    assert refused.value.reason is Reason.CUTOFF_PASSED
    # ... the clinic's request is not.
    new = await schedule_changes.move(db, patient, appointment_id=row.appointment_id,
                                      slot_id=times[0].slot_id, now=NOW)
    assert new.slot_id == times[0].slot_id
    row = await _stranding(db, stranding_id)
    assert row.decision == StrandingDecision.MOVED and row.moved_to_id == new.id
    async with db.read() as s:
        old = await s.get(Appointment, row.appointment_id)
        assert old is not None and old.status == AppointmentStatus.CANCELLED
    assert await _actions(db, "appointment.stranded.moved")
    assert await schedule_changes.waiting(db, w.clinic_id, now=NOW) == []
    (moved,) = await schedule_changes.moved_lately(db, w.clinic_id, now=NOW)
    assert moved.new_starts_at == times[0].starts_at
    found = await schedule_changes.move_request(db, row.appointment_id, NOW)
    assert found is not None and found.moved_to is not None and found.moved_to.id == new.id
    # Once moved, the link offers nothing more.
    with pytest.raises(ChangeRefused):
        await schedule_changes.move(db, patient, appointment_id=row.appointment_id,
                                    slot_id=times[1].slot_id, now=NOW)


@pytest.mark.parametrize("how", ["not_offered", "someone_else", "taken", "not_asked"])
async def test_a_bad_pick_is_refused_and_changes_nothing(db, how):
    w, (stranding_id,), staff = await _stranded(db)
    row = await _stranding(db, stranding_id)
    times = await schedule_changes.free_times(db, clinic_id=w.clinic_id,
                                              stranding_id=stranding_id, now=NOW)
    if how != "not_asked":
        await schedule_changes.ask_to_move(db, staff, clinic_id=w.clinic_id,
                                           stranding_ids=[stranding_id], now=NOW)
    actor, slot_id = Actor.patient(w.patients[0]), times[0].slot_id
    if how == "not_offered":
        slot_id = times[-1].slot_id
    elif how == "someone_else":
        actor = Actor.patient(w.patients[1])
    elif how == "taken":
        await service.book(db, Actor.patient(w.patients[1]), patient_id=w.patients[1],
                           slot_id=slot_id, appointment_type_id=w.type_id, now=NOW)
    with pytest.raises((ChangeRefused, BookingRefused)):
        await schedule_changes.move(db, actor, appointment_id=row.appointment_id,
                                    slot_id=slot_id, now=NOW)
    async with db.read() as s:
        appointment = await s.get(Appointment, row.appointment_id)
        assert appointment is not None and appointment.status == AppointmentStatus.BOOKED
    assert (await _stranding(db, stranding_id)).decision in (StrandingDecision.ASKED,
                                                             StrandingDecision.WAITING)
    assert not await _actions(db, "appointment.stranded.moved")


async def test_staff_may_still_cancel_an_asked_appointment(db):
    w, (stranding_id,), staff = await _stranded(db)
    await schedule_changes.ask_to_move(db, staff, clinic_id=w.clinic_id,
                                       stranding_ids=[stranding_id], now=NOW)
    await schedule_changes.cancel(db, staff, clinic_id=w.clinic_id, stranding_id=stranding_id,
                                  reason="The clinic closes", now=NOW)
    row = await _stranding(db, stranding_id)
    assert row.decision == StrandingDecision.CANCELLED
    with pytest.raises(ChangeRefused) as refused:
        await schedule_changes.move(db, Actor.patient(w.patients[0]),
                                    appointment_id=row.appointment_id, slot_id=1, now=NOW)
    assert refused.value.code == "not_asked"


async def test_two_taps_on_two_offered_times_move_it_once(pg_db):
    db = pg_db
    w, (stranding_id,), staff = await _stranded(db)
    row = await _stranding(db, stranding_id)
    await schedule_changes.ask_to_move(db, staff, clinic_id=w.clinic_id,
                                       stranding_ids=[stranding_id], now=NOW)
    offered = [int(i) for i in (await _stranding(db, stranding_id)).offered_slot_ids.split(",")]
    patient = Actor.patient(w.patients[0])

    async def tap(slot_id: int) -> int | None:
        try:
            return (await schedule_changes.move(db, patient, appointment_id=row.appointment_id,
                                                slot_id=slot_id, now=NOW)).id
        except (ChangeRefused, BookingRefused):
            return None

    results = await asyncio.gather(tap(offered[0]), tap(offered[1]))
    moved = [r for r in results if r is not None]
    assert len(moved) == 1
    async with db.read() as s:
        live = list((await s.execute(select(Appointment.slot_id).where(
            Appointment.patient_id == w.patients[0],
            Appointment.status == AppointmentStatus.BOOKED))).scalars())
        slots = {sid: status for sid, status in (await s.execute(select(
            Slot.id, Slot.status).where(Slot.id.in_(offered[:2])))).all()}
    assert len(live) == 1 and live[0] in offered[:2]
    assert sorted(slots.values()) == sorted([SlotStatus.BOOKED, SlotStatus.FREE])
    assert (await _stranding(db, stranding_id)).moved_to_id == moved[0]
