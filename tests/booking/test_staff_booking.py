"""Staff book, change, cancel and issue appointments on a patient's behalf."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking import service, staff_booking
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, Slot
from booking.reasons import Reason
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus, SlotStatus, Source
from tests.booking.booking_world import NOW, make_world


def staff(w, *clinics) -> Actor:
    return Actor.staff("desk-1", set(clinics or [w.clinic.id]))


async def entries(db, action: str | None = None) -> list[AuditEntry]:
    async with db.read() as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list((await s.execute(query)).scalars())


async def appointments(db) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(Appointment))).scalar_one()


async def slot(db, slot_id: int) -> Slot:
    async with db.read() as s:
        return (await s.execute(select(Slot).where(Slot.id == slot_id))).scalar_one()


async def test_staff_book_a_slot_patients_may_not_and_the_reason_is_kept(db):
    w = await make_world(db)
    async with db.write() as s:
        (await s.get(Slot, w.slots[0].id)).released = False
    # Acute is not self-bookable and the slot is not released: a patient is refused.
    with pytest.raises(BookingRefused) as refused:
        await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                           slot_id=w.slots[0].id, appointment_type_id=w.acute.id, now=NOW)
    assert refused.value.reason is Reason.TYPE_NOT_SELF_BOOKABLE
    out = await staff_booking.book_for(db, staff(w), patient_id=w.adult.id,
                                       slot_id=w.slots[0].id, appointment_type_id=w.acute.id,
                                       reason="  Called  with toothache ", now=NOW)
    a = out.appointment
    assert (a.source, a.created_by, a.staff_note) == (
        Source.STAFF, "staff:desk-1", "Called with toothache")
    [entry] = await entries(db, "appointment.book")
    assert entry.actor_id == "staff:desk-1" and entry.purpose == "reception"
    assert entry.detail["overrides"] == [Reason.TYPE_NOT_SELF_BOOKABLE.value]
    assert "toothache" not in str(entry.detail)


async def test_staff_book_without_a_reason_is_refused_and_nothing_changes(db):
    w = await make_world(db)
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.book_for(db, staff(w), patient_id=w.adult.id,
                                     slot_id=w.slots[0].id, appointment_type_id=w.exam.id,
                                     reason="   ", now=NOW)
    assert refused.value.reason is Reason.REASON_REQUIRED
    assert await appointments(db) == 0
    assert (await slot(db, w.slots[0].id)).status == SlotStatus.FREE


async def test_another_clinic_is_refused_and_audited(db):
    w = await make_world(db)
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.book_for(db, staff(w, w.other_clinic.id), patient_id=w.adult.id,
                                     slot_id=w.slots[0].id, appointment_type_id=w.exam.id,
                                     reason="phone", now=NOW)
    assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    assert await appointments(db) == 0
    [entry] = await entries(db, staff_booking.OUT_OF_SCOPE)
    assert entry.subject_patient_id is None
    assert entry.detail == {"attempted": "appointment.book", "patient_id": w.adult.id,
                            "slot_id": w.slots[0].id}


async def test_staff_change_after_the_cut_off_and_cancel_with_reason(db):
    w = await make_world(db)
    booked = await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                                slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    late = w.slots[0].starts_at - timedelta(hours=3)  # inside the 24-hour cut-off
    with pytest.raises(BookingRefused) as refused:
        await service.change(db, Actor.patient(w.adult.id),
                             appointment_id=booked.appointment.id,
                             new_slot_id=w.slots[2].id, now=late)
    assert refused.value.reason is Reason.CUTOFF_PASSED
    moved = await staff_booking.change_for(db, staff(w), appointment_id=booked.appointment.id,
                                           new_slot_id=w.slots[2].id, reason="asked by phone",
                                           now=late)
    assert moved.appointment.slot_id == w.slots[2].id
    assert moved.appointment.staff_note == "asked by phone"
    assert moved.appointment.self_reschedules == 0
    [entry] = await entries(db, "appointment.change")
    assert Reason.CUTOFF_PASSED.value in entry.detail["overrides"]
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.cancel_for(db, staff(w), appointment_id=moved.appointment.id,
                                       reason="", now=late)
    assert refused.value.reason is Reason.REASON_REQUIRED
    out = await staff_booking.cancel_for(db, staff(w), appointment_id=moved.appointment.id,
                                         reason="ill", now=late)
    assert out.appointment.status == AppointmentStatus.CANCELLED
    assert out.appointment.cancellation_reason == "ill"
    assert (await slot(db, w.slots[2].id)).status == SlotStatus.FREE


async def test_patients_cannot_use_the_staff_functions(db):
    w = await make_world(db)
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.book_for(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                                     slot_id=w.slots[0].id, appointment_type_id=w.exam.id,
                                     reason="me", now=NOW)
    assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR


async def test_innkalling_outside_slots_closes_the_free_slots_it_covers(db):
    w = await make_world(db)
    start = w.slots[0].starts_at + timedelta(minutes=15)  # between two slots
    out = await staff_booking.issue(db, staff(w), patient_id=w.adult.id, chair_id=w.chair.id,
                                    starts_at=start, appointment_type_id=w.exam.id,
                                    reason="recall", now=NOW)
    a = out.appointment
    assert (a.starts_at, a.ends_at, a.clinic_issued, a.overbooked) == (
        start, start + timedelta(minutes=30), True, False)
    assert a.slot_id not in {s.id for s in w.slots}
    new_slot = await slot(db, a.slot_id)
    assert (new_slot.status, new_slot.released) == (SlotStatus.BOOKED, False)
    for index in (0, 1):  # 10:00 and 10:30 both overlap 10:15–10:45
        assert (await slot(db, w.slots[index].id)).status == SlotStatus.BLOCKED
    assert (await slot(db, w.slots[2].id)).status == SlotStatus.FREE
    # A patient can no longer book a covered slot.
    with pytest.raises(BookingRefused) as refused:
        await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                           slot_id=w.slots[1].id, appointment_type_id=w.exam.id, now=NOW)
    assert refused.value.reason is Reason.SLOT_CLOSED
    [entry] = await entries(db, staff_booking.ISSUE)
    assert entry.detail["closed_slots"] == 2 and entry.actor_id == "staff:desk-1"


async def test_innkalling_over_another_appointment_needs_a_deliberate_overbook(db):
    w = await make_world(db)
    await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                       slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    start = w.slots[0].starts_at + timedelta(minutes=10)
    kwargs = dict(patient_id=w.adult.id, chair_id=w.chair.id, starts_at=start,
                  appointment_type_id=w.exam.id, reason="recall", now=NOW)
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.issue(db, staff(w), **kwargs)
    assert refused.value.reason is Reason.CHAIR_BUSY
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.issue(db, staff(w), overbook=True, overbook_reason=" ", **kwargs)
    assert refused.value.reason is Reason.OVERBOOK_REASON_REQUIRED
    assert await appointments(db) == 1
    out = await staff_booking.issue(db, staff(w), overbook=True,
                                    overbook_reason="acute pain, short", **kwargs)
    assert out.appointment.overbooked and out.appointment.overbook_reason == "acute pain, short"
    [entry] = await entries(db, staff_booking.ISSUE)
    assert entry.detail["overbooked"] is True
    # The very start of a booked slot cannot hold a second one.
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.issue(db, staff(w), patient_id=w.child.id, chair_id=w.chair.id,
                                  starts_at=w.slots[0].starts_at,
                                  appointment_type_id=w.child_exam.id, reason="recall",
                                  overbook=True, overbook_reason="twins", now=NOW)
    assert refused.value.reason is Reason.START_TAKEN


async def test_innkalling_bad_input_changes_nothing(db):
    w = await make_world(db)
    base = dict(patient_id=w.adult.id, chair_id=w.chair.id,
                starts_at=w.slots[0].starts_at + timedelta(minutes=5),
                appointment_type_id=w.exam.id, reason="recall", now=NOW)
    cases = [
        (dict(starts_at=NOW - timedelta(hours=1)), Reason.SLOT_IN_PAST),
        (dict(chair_id=999_999), Reason.UNKNOWN_CHAIR),
        (dict(appointment_type_id=999_999), Reason.UNKNOWN_TYPE),
        (dict(appointment_type_id=w.child_exam.id), Reason.AGE_NOT_ALLOWED),
        (dict(reason=""), Reason.REASON_REQUIRED),
    ]
    for change, reason in cases:
        with pytest.raises(BookingRefused) as refused:
            await staff_booking.issue(db, staff(w), **{**base, **change})
        assert refused.value.reason is reason
    with pytest.raises(BookingRefused) as refused:
        await staff_booking.issue(db, staff(w, w.other_clinic.id), **base)
    assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    assert await appointments(db) == 0
    assert len(await entries(db, staff_booking.OUT_OF_SCOPE)) == 1
    for each in w.slots:
        assert (await slot(db, each.id)).status == SlotStatus.FREE


async def test_innkalling_same_idempotency_key_issues_once(db):
    w = await make_world(db)
    kwargs = dict(patient_id=w.adult.id, chair_id=w.chair.id,
                  starts_at=w.slots[3].starts_at + timedelta(minutes=5),
                  appointment_type_id=w.exam.id, reason="recall", idempotency_key="k1",
                  now=NOW)
    first = await staff_booking.issue(db, staff(w), **kwargs)
    again = await staff_booking.issue(db, staff(w), **kwargs)
    assert again.replayed and again.appointment.id == first.appointment.id
    assert await appointments(db) == 1


async def race(*attempts):
    """Run the attempts at once: (winners, refusals)."""
    results = await asyncio.gather(*attempts, return_exceptions=True)
    winners = [r for r in results if isinstance(r, service.Outcome)]
    losers = [r for r in results if isinstance(r, BookingRefused)]
    assert len(winners) + len(losers) == len(results), results
    return winners, losers


async def test_reception_racing_a_patient_for_one_slot_postgres(pg_db):
    """Exactly one wins; the other is told the time is taken."""
    for _ in range(5):
        w = await make_world(pg_db, slot_count=1)
        winners, losers = await race(
            staff_booking.book_for(
                pg_db, staff(w), patient_id=w.other_adult.id, slot_id=w.slots[0].id,
                appointment_type_id=w.exam.id, reason="phone", now=NOW),
            service.book(
                pg_db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW))
        assert len(winners) == 1 and len(losers) == 1
        assert losers[0].reason is Reason.SLOT_TAKEN


async def test_innkalling_racing_a_patient_on_a_covered_slot_postgres(pg_db):
    for _ in range(5):
        w = await make_world(pg_db, slot_count=2)
        winners, losers = await race(
            staff_booking.issue(
                pg_db, staff(w), patient_id=w.other_adult.id, chair_id=w.chair.id,
                starts_at=w.slots[0].starts_at + timedelta(minutes=15),
                appointment_type_id=w.exam.id, reason="recall", now=NOW),
            service.book(
                pg_db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                slot_id=w.slots[1].id, appointment_type_id=w.exam.id, now=NOW))
        assert len(winners) == 1 and len(losers) == 1
        assert losers[0].reason in {Reason.SLOT_CLOSED, Reason.CHAIR_BUSY, Reason.SLOT_TAKEN}


async def test_two_innkallings_on_one_chair_never_overlap_postgres(pg_db):
    w = await make_world(pg_db, slot_count=0)
    winners, losers = await race(*[
        staff_booking.issue(
            pg_db, staff(w), patient_id=patient.id, chair_id=w.chair.id,
            starts_at=NOW + timedelta(days=2, minutes=minutes),
            appointment_type_id=w.exam.id, reason="recall", now=NOW)
        for patient, minutes in ((w.adult, 0), (w.other_adult, 10))])
    assert len(winners) == 1 and losers[0].reason is Reason.CHAIR_BUSY


class Recording:
    """A guardians source that remembers whom it was asked about."""

    def __init__(self, fail: bool = False) -> None:
        self.asked: list[int] = []
        self.fail = fail

    async def refresh_guardians(self, child_patient_id: int) -> None:
        self.asked.append(child_patient_id)
        if self.fail:
            raise RuntimeError("register down")


async def test_guardians_are_asked_for_children_only_and_a_failure_books_all_the_same(db):
    w = await make_world(db)
    source = Recording(fail=True)
    await staff_booking.book_for(db, staff(w), patient_id=w.child.id, slot_id=w.slots[0].id,
                                 appointment_type_id=w.child_exam.id, reason="phone",
                                 guardians=source, now=NOW)
    await staff_booking.book_for(db, staff(w), patient_id=w.adult.id, slot_id=w.slots[1].id,
                                 appointment_type_id=w.exam.id, reason="phone",
                                 guardians=source, now=NOW)
    assert source.asked == [w.child.id]
    assert await appointments(db) == 2


async def test_cancelling_an_innkalling_opens_the_slots_it_closed(db):
    w = await make_world(db)
    start = w.slots[0].starts_at + timedelta(minutes=15)
    issued = await staff_booking.issue(db, staff(w), patient_id=w.adult.id, chair_id=w.chair.id,
                                       starts_at=start, appointment_type_id=w.exam.id,
                                       reason="recall", now=NOW)
    await staff_booking.cancel_for(db, staff(w), appointment_id=issued.appointment.id,
                                   reason="not needed", now=NOW)
    for index in (0, 1):
        assert (await slot(db, w.slots[index].id)).status == SlotStatus.FREE
    again = await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                               slot_id=w.slots[1].id, appointment_type_id=w.exam.id, now=NOW)
    assert again.appointment.slot_id == w.slots[1].id
