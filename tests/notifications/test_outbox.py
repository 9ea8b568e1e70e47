"""Notification rows are written in the booking's own transaction."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from booking import service
from booking.audit import Actor
from booking.models import Appointment, County
from booking.service import BookingRefused
from core.locale import OSLO
from notifications import outbox
from notifications.models import Notification, ReminderPolicy
from notifications.statuses import Channel, NotificationStatus, Purpose, Reason
from tests import factories as f
from tests.notifications.helpers import (
    EARLY,
    GUARDIAN2_MOBILE,
    GUARDIAN_MOBILE,
    NOW,
    START,
    book_adult,
    count,
    rows,
    world_with_phones,
)


def summary(notifications: list[Notification]) -> list[tuple]:
    return [(n.purpose, n.offset_minutes, n.appointment_version, n.recipient_id, n.status,
             n.send_after, n.expires_at) for n in notifications]


async def mark_told(db, appointment_id: int) -> None:
    """As if the confirmation had been handed to the provider."""
    async with db.write() as session:
        await session.execute(update(Notification).where(
            Notification.appointment_id == appointment_id,
            Notification.purpose.in_([Purpose.CONFIRMATION, Purpose.INNKALLING]))
            .values(status=NotificationStatus.SENDING))


async def test_booking_writes_confirmation_and_reminders(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    me = world.adult.id
    assert summary(await rows(db, appointment_id=booked.id)) == [
        ("confirmation", 0, 1, me, "created", EARLY, START),
        # 3 days before at 10:00 Oslo, valid until the next reminder is due
        ("reminder", 4320, 1, me, "created", f.at(2030, 3, 1, 9), f.at(2030, 3, 3, 9)),
        # 1 day before, valid until 2 hours before the start
        ("reminder", 1440, 1, me, "created", f.at(2030, 3, 3, 9), f.at(2030, 3, 4, 7)),
    ]


async def test_reminders_already_past_are_left_out(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world, now=NOW)).appointment  # 3 days before the start
    assert [(n.purpose, n.offset_minutes) for n in await rows(db, appointment_id=booked.id)] \
        == [("confirmation", 0), ("reminder", 1440)]


async def test_a_failed_booking_writes_no_notifications(db, monkeypatch):
    world = await world_with_phones(db)

    async def broken_audit(*args, **kw):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(service.audit, "record", broken_audit)
    with pytest.raises(RuntimeError):
        await book_adult(db, world)
    assert await count(db, channel=None) == 0  # no SMS and no Helsenorge row
    async with db.read() as session:
        assert (await session.execute(select(func.count()).select_from(Appointment))
                ).scalar_one() == 0


async def test_a_refused_booking_writes_no_notifications(db):
    world = await world_with_phones(db)
    await book_adult(db, world)
    with pytest.raises(BookingRefused):
        await service.book(db, Actor.patient(world.other_adult.id),
                           patient_id=world.other_adult.id, slot_id=world.slots[0].id,
                           appointment_type_id=world.exam.id, now=EARLY)
    assert await count(db) == 3


async def test_change_cancels_what_waits_and_announces_the_new_time(db):
    world = await world_with_phones(db)
    old = (await book_adult(db, world)).appointment
    await mark_told(db, old.id)
    new = (await service.change(db, Actor.patient(world.adult.id), appointment_id=old.id,
                                new_slot_id=world.slots[2].id, now=EARLY)).appointment
    assert [(n.purpose, n.status, n.reason) for n in await rows(db, appointment_id=old.id)] == [
        ("confirmation", "sending", None),
        ("reminder", "cancelled", Reason.SUPERSEDED),
        ("reminder", "cancelled", Reason.SUPERSEDED),
    ]
    new_start = START + timedelta(hours=1)
    me = world.adult.id
    assert summary(await rows(db, appointment_id=new.id)) == [
        # Right after the confirmation: it waits out the burst window.
        ("change", 0, 2, me, "created", EARLY + outbox.BURST_WINDOW, new_start),
        ("reminder", 4320, 2, me, "created", f.at(2030, 3, 1, 10), f.at(2030, 3, 3, 10)),
        ("reminder", 1440, 2, me, "created", f.at(2030, 3, 3, 10), f.at(2030, 3, 4, 8)),
    ]


async def test_a_change_before_anyone_was_told_is_a_confirmation(db):
    world = await world_with_phones(db)
    old = (await book_adult(db, world)).appointment
    new = (await service.change(db, Actor.patient(world.adult.id), appointment_id=old.id,
                                new_slot_id=world.slots[2].id, now=EARLY)).appointment
    assert {n.status for n in await rows(db, appointment_id=old.id)} == {"cancelled"}
    assert [n.purpose for n in await rows(db, appointment_id=new.id)] == [
        "confirmation", "reminder", "reminder"]


async def test_cancel_cancels_reminders_and_sends_a_cancellation(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    await mark_told(db, booked.id)
    await service.cancel(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                         now=EARLY)
    assert [(n.purpose, n.appointment_version, n.status, n.expires_at)
            for n in await rows(db, appointment_id=booked.id)] == [
        ("confirmation", 1, "sending", START),
        ("reminder", 1, "cancelled", f.at(2030, 3, 3, 9)),
        ("reminder", 1, "cancelled", f.at(2030, 3, 4, 7)),
        ("cancellation", 2, "created", START),
    ]


async def test_nobody_told_means_no_cancellation_notice(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    await service.cancel(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                         now=EARLY)
    assert {(n.purpose, n.status) for n in await rows(db, appointment_id=booked.id)} == {
        ("confirmation", "cancelled"), ("reminder", "cancelled")}


async def test_clinic_issued_appointment_gets_an_innkalling(db):
    world = await world_with_phones(db)
    staff = Actor.staff("s1", {world.clinic.id})
    booked = (await service.book(db, staff, patient_id=world.adult.id,
                                 slot_id=world.slots[0].id, appointment_type_id=world.exam.id,
                                 clinic_issued=True, now=EARLY)).appointment
    assert [n.purpose for n in await rows(db, appointment_id=booked.id)] == [
        "innkalling", "reminder", "reminder"]


async def test_each_guardian_of_a_young_child_gets_the_messages(db):
    world = await world_with_phones(db)
    async with db.write() as s:
        mother = await f.patient(s, birth_date=date(1988, 1, 1), mobile=GUARDIAN_MOBILE)
        father = await f.patient(s, birth_date=date(1987, 1, 1), mobile=GUARDIAN2_MOBILE)
        await f.guardianship(s, mother, world.child)
        await f.guardianship(s, father, world.child)
    booked = (await service.book(db, Actor.guardian(mother.id, {world.child.id}),
                                 patient_id=world.child.id, slot_id=world.slots[0].id,
                                 appointment_type_id=world.child_exam.id,
                                 now=EARLY)).appointment
    assert [(n.purpose, n.recipient_id, n.recipient_role, n.patient_id)
            for n in await rows(db, appointment_id=booked.id, offset_minutes=0)] == [
        ("confirmation", mother.id, "guardian", world.child.id),
        ("confirmation", father.id, "guardian", world.child.id),
    ]
    assert await count(db) == 6  # and two reminders each


async def test_reminder_policy_of_the_appointment_type_wins(db):
    world = await world_with_phones(db)
    async with db.write() as s:
        s.add(ReminderPolicy(county_id=world.clinic.county_id, appointment_type_id=None,
                             offsets_minutes=[7 * 1440]))
        s.add(ReminderPolicy(county_id=world.clinic.county_id,
                             appointment_type_id=world.exam.id, offsets_minutes=[2880, 180]))
    booked = (await book_adult(db, world)).appointment
    reminders = await rows(db, appointment_id=booked.id, purpose="reminder")
    assert [(n.offset_minutes, n.send_after, n.expires_at) for n in reminders] == [
        (2880, f.at(2030, 3, 2, 9), f.at(2030, 3, 3, 19, 30)),
        # 07:00 in Oslo is too early, 08:00 too late: 20:30 the evening before
        (180, f.at(2030, 3, 3, 19, 30), START - timedelta(hours=2)),
    ]


def local_time(moment: datetime) -> time:
    return moment.astimezone(OSLO).time()


async def _book_other_adult(db, world):
    return (await service.book(db, Actor.patient(world.other_adult.id),
                               patient_id=world.other_adult.id, slot_id=world.slots[3].id,
                               appointment_type_id=world.exam.id, now=EARLY)).appointment


async def _reminder_offsets(db, appointment_id: int) -> list[int]:
    return [n.offset_minutes for n in await rows(db, appointment_id=appointment_id,
                                                 purpose="reminder")]


async def test_an_edited_reminder_policy_shows_once_the_kept_settings_expire(db, monkeypatch):
    """Each process keeps a county's settings for a few seconds (every
    booking reads them); an administrator's edit shows in new rows after that."""
    clock = [1000.0]
    monkeypatch.setattr(outbox, "settings_clock", lambda: clock[0])
    world = await world_with_phones(db)
    first = (await book_adult(db, world)).appointment
    async with db.write() as s:
        s.add(ReminderPolicy(county_id=world.clinic.county_id,
                             appointment_type_id=world.exam.id, offsets_minutes=[2880]))
    clock[0] += outbox.SETTINGS_SECONDS
    second = await _book_other_adult(db, world)
    assert await _reminder_offsets(db, first.id) == [4320, 1440]
    assert await _reminder_offsets(db, second.id) == [2880]


async def test_an_edited_sending_window_shows_at_once_after_forget_settings(db):
    world = await world_with_phones(db)
    await book_adult(db, world)
    async with db.write() as s:
        await s.execute(update(County).where(County.id == world.clinic.county_id)
                        .values(quiet_hours={"send_from": "13:00", "send_until": "14:00"}))
    outbox.forget_settings()
    second = await _book_other_adult(db, world)
    sent_at = [local_time(n.send_after) for n in await rows(db, appointment_id=second.id)]
    assert sent_at and all(time(13) <= t <= time(14) for t in sent_at), sent_at


async def test_dispatcher_hears_due_rows_only_after_commit(db, monkeypatch):
    world = await world_with_phones(db)
    heard: list[list[int]] = []
    previous = outbox.set_dispatcher(heard.append)
    try:
        booked = (await book_adult(db, world)).appointment

        async def broken_audit(*args, **kw):
            raise RuntimeError("boom")

        monkeypatch.setattr(service.audit, "record", broken_audit)
        with pytest.raises(RuntimeError):
            await service.book(db, Actor.patient(world.other_adult.id),
                               patient_id=world.other_adult.id, slot_id=world.slots[3].id,
                               appointment_type_id=world.exam.id, now=EARLY)
    finally:
        outbox.set_dispatcher(previous)
    confirmation = (await rows(db, appointment_id=booked.id, purpose="confirmation"))[0]
    [helsenorge] = await rows(db, appointment_id=booked.id, channel=Channel.HELSENORGE)
    assert heard == [[confirmation.id, helsenorge.id]]


async def test_one_row_per_appointment_purpose_version_channel_recipient(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    first = (await rows(db, appointment_id=booked.id))[0]
    with pytest.raises(Exception, match=r"(?i)unique"):
        async with db.write() as session:
            session.add(Notification(
                appointment_id=booked.id, appointment_version=1, patient_id=first.patient_id,
                purpose="confirmation", offset_minutes=0, channel="sms",
                recipient_id=first.recipient_id, recipient_role="self",
                due_at=EARLY, send_after=EARLY, expires_at=START))
