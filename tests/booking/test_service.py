"""Book, change, cancel, confirm and attendance on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from booking import audit, service
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, BookingEvent
from booking.reasons import Reason, Warning
from booking.service import BookingRefused
from booking.statuses import AppointmentStatus, SlotStatus, Source
from tests.booking.booking_world import NOW, make_world, slot_status


async def count(db, model) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def book_adult(db, w, index=0, key="key-1", **kw):
    return await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                              slot_id=w.slots[index].id, appointment_type_id=w.exam.id,
                              idempotency_key=key, now=kw.pop("now", NOW), **kw)


async def test_book_claims_slot_and_audits(db):
    w = await make_world(db)
    out = await book_adult(db, w)
    a = out.appointment
    assert a.status == AppointmentStatus.BOOKED
    assert a.source == Source.SELF
    assert a.created_by == f"patient:{w.adult.id}"
    assert a.on_behalf_of_id is None
    assert a.ends_at - a.starts_at == timedelta(minutes=30)
    assert a.chain_id == a.id
    assert await slot_status(db, w.slots[0].id) == SlotStatus.BOOKED
    async with db.read() as s:
        entries = (await s.execute(select(AuditEntry))).scalars().all()
    assert [(e.action, e.subject_patient_id, e.purpose) for e in entries] == [
        ("appointment.book", w.adult.id, "self_service")]


async def test_same_idempotency_key_books_once(db):
    w = await make_world(db)
    first = await book_adult(db, w)
    second = await book_adult(db, w)
    assert second.replayed and second.appointment.id == first.appointment.id
    assert await count(db, Appointment) == 1


async def test_taken_slot_is_refused_and_nothing_changes(db):
    w = await make_world(db)
    await book_adult(db, w)
    with pytest.raises(BookingRefused) as refused:
        await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                           slot_id=w.slots[0].id, appointment_type_id=w.exam.id,
                           idempotency_key="other", now=NOW)
    assert refused.value.reason is Reason.SLOT_TAKEN
    assert await count(db, Appointment) == 1
    assert await count(db, AuditEntry) == 1


@pytest.mark.parametrize(("change", "reason"), [
    ({"slot_id": 10**9}, Reason.UNKNOWN_SLOT),
    ({"appointment_type_id": 10**9}, Reason.UNKNOWN_TYPE),
    ({"patient_id": 10**9}, Reason.UNKNOWN_PATIENT),
])
async def test_unknown_ids_are_refused(db, change, reason):
    w = await make_world(db)
    args = dict(patient_id=w.adult.id, slot_id=w.slots[0].id, appointment_type_id=w.exam.id)
    args.update(change)
    with pytest.raises(BookingRefused) as refused:
        await service.book(db, Actor.system("test"), now=NOW, **args)
    assert refused.value.reason is reason
    assert await count(db, Appointment) == 0


async def test_slot_of_another_clinic_is_refused(db):
    w = await make_world(db)
    with pytest.raises(BookingRefused) as refused:
        await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                           slot_id=w.other_slot.id, appointment_type_id=w.exam.id,
                           clinic_id=w.clinic.id, now=NOW)
    assert refused.value.reason is Reason.WRONG_CLINIC
    assert await slot_status(db, w.other_slot.id) == SlotStatus.FREE


async def test_past_slot_wrong_age_and_not_self_bookable(db):
    w = await make_world(db)
    with pytest.raises(BookingRefused) as past:
        await book_adult(db, w, now=w.slots[0].starts_at + timedelta(minutes=1))
    assert past.value.reason is Reason.SLOT_IN_PAST
    with pytest.raises(BookingRefused) as age:
        await service.book(db, Actor.system("t"), patient_id=w.child.id,
                           slot_id=w.slots[1].id, appointment_type_id=w.exam.id, now=NOW)
    assert age.value.reason is Reason.AGE_NOT_ALLOWED
    with pytest.raises(BookingRefused) as acute:
        await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                           slot_id=w.slots[2].id, appointment_type_id=w.acute.id, now=NOW)
    assert acute.value.reason is Reason.TYPE_NOT_SELF_BOOKABLE
    # Reception may book what patients may not.
    staff = Actor.staff("s1", {w.clinic.id})
    out = await service.book(db, staff, patient_id=w.adult.id, slot_id=w.slots[2].id,
                             appointment_type_id=w.acute.id, now=NOW)
    assert out.appointment.source == Source.STAFF
    assert out.appointment.on_behalf_of_id == w.adult.id
    assert await count(db, Appointment) == 1


async def test_staff_of_another_clinic_and_other_patient_are_refused(db):
    w = await make_world(db)
    with pytest.raises(BookingRefused) as staff:
        await service.book(db, Actor.staff("s2", {w.other_clinic.id}), patient_id=w.adult.id,
                           slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    assert staff.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    with pytest.raises(BookingRefused) as other:
        await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.adult.id,
                           slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    assert other.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    assert await count(db, Appointment) == 0


async def test_guardian_books_for_represented_child_only(db):
    w = await make_world(db)
    guardian = Actor.guardian(w.adult.id, {w.child.id})
    out = await service.book(db, guardian, patient_id=w.child.id, slot_id=w.slots[0].id,
                             appointment_type_id=w.child_exam.id, now=NOW)
    assert out.appointment.source == Source.GUARDIAN
    assert out.appointment.on_behalf_of_id == w.child.id
    with pytest.raises(BookingRefused):
        await service.book(db, Actor.guardian(w.adult.id, set()), patient_id=w.child.id,
                           slot_id=w.slots[1].id, appointment_type_id=w.child_exam.id, now=NOW)
    async with db.read() as s:
        entry = (await s.execute(select(AuditEntry))).scalar_one()
    assert entry.actor_id == f"patient:{w.adult.id}"
    assert entry.on_behalf_of_id == w.child.id
    assert entry.purpose == "guardian_for_child"


async def test_cancel_frees_slot_records_event_and_warns_adults_late(db):
    w = await make_world(db)
    booked = (await book_adult(db, w)).appointment
    staff = Actor.staff("s1", {w.clinic.id})
    late = w.slots[0].starts_at - timedelta(hours=3)
    out = await service.cancel(db, staff, appointment_id=booked.id, reason="called", now=late)
    assert out.warnings == (Warning.LATE_CANCELLATION_FEE,)
    assert out.appointment.status == AppointmentStatus.CANCELLED
    assert out.appointment.cancelled_by == "staff:s1"
    assert out.appointment.version == 2
    assert await slot_status(db, w.slots[0].id) == SlotStatus.FREE
    async with db.read() as s:
        events = [(e.kind, e.slot_id, e.appointment_id) for e in (await s.execute(
            select(BookingEvent).order_by(BookingEvent.id))).scalars()]
        entry = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "appointment.cancel"))).scalar_one()
    assert events == [("slot_freed", w.slots[0].id, booked.id),
                      ("late_cancellation", w.slots[0].id, booked.id)]
    assert entry.detail == {"appointment_id": booked.id, "late": True, "fee_warned": True}
    # The freed slot can be booked again at once.
    again = await service.book(db, Actor.patient(w.other_adult.id),
                               patient_id=w.other_adult.id, slot_id=w.slots[0].id,
                               appointment_type_id=w.exam.id, now=NOW)
    assert again.appointment.slot_id == w.slots[0].id


async def test_an_adult_may_cancel_after_the_change_cutoff_until_the_start(db):
    w = await make_world(db)
    booked = (await book_adult(db, w)).appointment
    starts_at = w.slots[0].starts_at
    # Changing is closed 23 hours before...
    with pytest.raises(BookingRefused) as refused:
        await service.change(db, Actor.patient(w.adult.id), appointment_id=booked.id,
                             new_slot_id=w.slots[1].id, now=starts_at - timedelta(hours=23))
    assert refused.value.reason is Reason.CUTOFF_PASSED
    # ...cancelling is not: late, with the fee warning, the slot freed and both events.
    out = await service.cancel(db, Actor.patient(w.adult.id), appointment_id=booked.id,
                               now=starts_at - timedelta(hours=23))
    assert out.warnings == (Warning.LATE_CANCELLATION_FEE,)
    assert await slot_status(db, w.slots[0].id) == SlotStatus.FREE
    async with db.read() as s:
        kinds = (await s.execute(select(BookingEvent.kind).order_by(BookingEvent.id))).scalars()
        entry = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "appointment.cancel"))).scalar_one()
    assert list(kinds) == ["slot_freed", "late_cancellation"]
    assert entry.detail["late"] is True and entry.purpose == "self_service"


async def test_nobody_cancels_online_once_it_has_started(db):
    w = await make_world(db)
    booked = (await book_adult(db, w)).appointment
    with pytest.raises(BookingRefused) as refused:
        await service.cancel(db, Actor.patient(w.adult.id), appointment_id=booked.id,
                             now=w.slots[0].starts_at)
    assert refused.value.reason is Reason.ALREADY_STARTED
    assert await slot_status(db, w.slots[0].id) == SlotStatus.BOOKED


async def test_a_guardian_cancels_a_child_late_without_a_fee_and_it_is_recorded(db):
    w = await make_world(db)
    guardian = Actor.guardian(w.adult.id, {w.child.id})
    booked = (await service.book(db, guardian, patient_id=w.child.id, slot_id=w.slots[1].id,
                                 appointment_type_id=w.child_exam.id, now=NOW)).appointment
    out = await service.cancel(db, guardian, appointment_id=booked.id,
                               now=w.slots[1].starts_at - timedelta(minutes=30))
    assert out.warnings == ()
    async with db.read() as s:
        kinds = (await s.execute(select(BookingEvent.kind).order_by(BookingEvent.id))).scalars()
        entry = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "appointment.cancel"))).scalar_one()
    assert list(kinds) == ["slot_freed", "late_cancellation"]
    assert entry.detail == {"appointment_id": booked.id, "late": True, "fee_warned": False}


async def test_an_early_cancellation_is_not_late(db):
    w = await make_world(db)
    booked = (await book_adult(db, w)).appointment
    out = await service.cancel(db, Actor.patient(w.adult.id), appointment_id=booked.id,
                               now=w.slots[0].starts_at - timedelta(hours=25))
    assert out.warnings == ()
    async with db.read() as s:
        kinds = (await s.execute(select(BookingEvent.kind))).scalars()
    assert list(kinds) == ["slot_freed"]


async def test_change_moves_to_new_slot_in_one_step(db):
    w = await make_world(db)
    old = (await book_adult(db, w)).appointment
    out = await service.change(db, Actor.patient(w.adult.id), appointment_id=old.id,
                               new_slot_id=w.slots[3].id, idempotency_key="chg-1", now=NOW)
    new = out.appointment
    assert new.replaces_id == old.id and new.chain_id == old.id
    assert new.version == 2 and new.self_reschedules == 1
    assert await slot_status(db, w.slots[0].id) == SlotStatus.FREE
    assert await slot_status(db, w.slots[3].id) == SlotStatus.BOOKED
    async with db.read() as s:
        old_row = await s.get(Appointment, old.id)
        assert old_row.status == AppointmentStatus.CANCELLED
        assert old_row.cancellation_reason == "changed"
    replay = await service.change(db, Actor.patient(w.adult.id), appointment_id=old.id,
                                  new_slot_id=w.slots[3].id, idempotency_key="chg-1", now=NOW)
    assert replay.replayed and replay.appointment.id == new.id


async def test_change_to_taken_slot_keeps_the_old_appointment(db):
    w = await make_world(db)
    old = (await book_adult(db, w)).appointment
    await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                       slot_id=w.slots[1].id, appointment_type_id=w.exam.id, now=NOW)
    with pytest.raises(BookingRefused) as refused:
        await service.change(db, Actor.patient(w.adult.id), appointment_id=old.id,
                             new_slot_id=w.slots[1].id, now=NOW)
    assert refused.value.reason is Reason.SLOT_TAKEN
    async with db.read() as s:
        assert (await s.get(Appointment, old.id)).status == AppointmentStatus.BOOKED
    assert await slot_status(db, w.slots[0].id) == SlotStatus.BOOKED


async def test_reschedule_limit_for_patients(db):
    w = await make_world(db)
    current = (await book_adult(db, w)).appointment
    for index in (1, 2):
        current = (await service.change(db, Actor.patient(w.adult.id),
                                        appointment_id=current.id,
                                        new_slot_id=w.slots[index].id, now=NOW)).appointment
    with pytest.raises(BookingRefused) as refused:
        await service.change(db, Actor.patient(w.adult.id), appointment_id=current.id,
                             new_slot_id=w.slots[3].id, now=NOW)
    assert refused.value.reason is Reason.RESCHEDULE_LIMIT
    staff = Actor.staff("s1", {w.clinic.id})
    moved = await service.change(db, staff, appointment_id=current.id,
                                 new_slot_id=w.slots[3].id, now=NOW)
    assert moved.appointment.version == 4


async def test_confirm_and_attendance(db):
    w = await make_world(db)
    booked = (await book_adult(db, w)).appointment
    out = await service.confirm(db, Actor.patient(w.adult.id), appointment_id=booked.id, now=NOW)
    assert out.appointment.status == AppointmentStatus.CONFIRMED
    with pytest.raises(BookingRefused) as twice:
        await service.confirm(db, Actor.patient(w.adult.id), appointment_id=booked.id, now=NOW)
    assert twice.value.reason is Reason.ALREADY_CONFIRMED
    staff = Actor.staff("s1", {w.clinic.id})
    with pytest.raises(BookingRefused) as early:
        await service.record_attendance(db, staff, appointment_id=booked.id, attended=False,
                                        now=NOW)
    assert early.value.reason is Reason.NOT_YET_STARTED
    with pytest.raises(BookingRefused) as patient:
        await service.record_attendance(db, Actor.patient(w.adult.id), appointment_id=booked.id,
                                        attended=True, now=w.slots[0].ends_at)
    assert patient.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    done = await service.record_attendance(db, staff, appointment_id=booked.id,
                                           attended=False, now=w.slots[0].ends_at)
    assert done.appointment.status == AppointmentStatus.NO_SHOW
    with pytest.raises(BookingRefused) as final:
        await service.cancel(db, staff, appointment_id=booked.id, now=w.slots[0].ends_at)
    assert final.value.reason is Reason.NOT_ACTIVE


async def test_hold_keeps_slot_for_its_holder(db):
    w = await make_world(db)
    assert await service.hold(db, slot_id=w.slots[0].id, hold_key="h1", now=NOW)
    assert not await service.hold(db, slot_id=w.slots[0].id, hold_key="h2", now=NOW)
    with pytest.raises(BookingRefused) as taken:
        await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                           slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    assert taken.value.reason is Reason.SLOT_TAKEN
    out = await book_adult(db, w, hold_key="h1")
    assert out.appointment.slot_id == w.slots[0].id
    # An expired hold is free for anyone.
    assert await service.hold(db, slot_id=w.slots[1].id, hold_key="h3", now=NOW)
    later = NOW + service.HOLD_TIME + timedelta(seconds=1)
    out2 = await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                              slot_id=w.slots[1].id, appointment_type_id=w.exam.id, now=later)
    assert out2.appointment.slot_id == w.slots[1].id


async def test_every_change_is_in_an_intact_audit_chain(db):
    w = await make_world(db)
    a = (await book_adult(db, w)).appointment
    a = (await service.change(db, Actor.patient(w.adult.id), appointment_id=a.id,
                              new_slot_id=w.slots[4].id, now=NOW)).appointment
    await service.confirm(db, Actor.patient(w.adult.id), appointment_id=a.id, now=NOW)
    await service.cancel(db, Actor.patient(w.adult.id), appointment_id=a.id, now=NOW)
    async with db.read() as s:
        report = await audit.verify(s)
        actions = [e.action for e in await audit.entries_about(s, w.adult.id)]
    assert report.intact and report.entries == 4
    assert actions == ["appointment.cancel", "appointment.confirm", "appointment.change",
                       "appointment.book"]
