"""Reminders that escalate (notifications.escalation): a second reminder for
an appointment not confirmed 48 hours before, never to a confirmed one; a
call task 24 hours before for a patient who missed an appointment in the last
year, once. Time is the injected clock, never the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from booking import call_tasks, service
from booking.audit import Actor, AuditEntry
from booking.call_tasks import CallTask
from booking.models import Appointment, County
from booking.statuses import AppointmentStatus
from notifications import escalation, jobs
from notifications.runtime import EscalationDefaults
from notifications.statuses import NotificationStatus, Purpose, Reason
from tests import factories as f
from tests.notifications.helpers import (
    START,
    book_adult,
    helsenorge_went,
    make_runtime,
    rows,
    world_with_phones,
)

DEFAULTS = EscalationDefaults()
MARK_48 = START - timedelta(hours=48)  # Saturday 2 March 2030, 10:00 in Oslo
MARK_24 = START - timedelta(hours=24)


async def second_reminders(db, appointment_id: int):
    return [n for n in await rows(db, appointment_id=appointment_id) if n.unless_confirmed]


async def set_start(db, appointment_id: int, starts_at: datetime) -> None:
    async with db.write() as session:
        await session.execute(update(Appointment).where(Appointment.id == appointment_id)
                              .values(starts_at=starts_at,
                                      ends_at=starts_at + timedelta(minutes=30)))


async def missed(db, world, *, days_ago: int, now: datetime) -> None:
    """The adult missed an appointment ``days_ago`` days before ``now``."""
    starts_at = now - timedelta(days=days_ago)
    slot = world.slots[1 + days_ago % 5]
    async with db.write() as session:
        session.add(Appointment(
            patient_id=world.adult.id, clinic_id=world.clinic.id, chair_id=slot.chair_id,
            slot_id=slot.id, appointment_type_id=world.exam.id, starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30), status=AppointmentStatus.NO_SHOW,
            source="staff", created_by_kind="staff", created_by="s1",
            created_at=starts_at - timedelta(days=30), updated_at=starts_at))


async def tasks(db) -> list[CallTask]:
    async with db.read() as session:
        return list((await session.execute(select(CallTask).order_by(CallTask.id))).scalars())


async def test_unconfirmed_gets_a_second_reminder_at_48_hours(db, sms, clock):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    assert await escalation.run(db, MARK_48 - timedelta(minutes=1), DEFAULTS) == 0
    assert await second_reminders(db, booked.id) == []
    assert await escalation.run(db, MARK_48, DEFAULTS) == 1
    assert await escalation.run(db, MARK_48 + timedelta(minutes=1), DEFAULTS) == 0  # once
    [second] = await second_reminders(db, booked.id)
    assert (second.purpose, second.offset_minutes, second.recipient_id) == (
        Purpose.REMINDER, 48 * 60, world.adult.id)
    assert second.send_after == MARK_48  # 10:00 in Oslo: inside the sending hours
    assert second.expires_at == START - timedelta(hours=2)
    await helsenorge_went(db, MARK_48)
    clock.now = MARK_48
    assert await jobs.deliver(make_runtime(db, sms, clock), second.id) == "accepted"
    assert [m.notification_id for m in sms.messages] == [second.id]


async def test_a_mark_in_the_night_waits_for_the_sending_hours(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    night_start = f.at(2030, 3, 4, 2)  # 03:00 in Oslo: the 48-hour mark is at night too
    await set_start(db, booked.id, night_start)
    assert await escalation.run(db, night_start - timedelta(hours=48), DEFAULTS) == 1
    [second] = await second_reminders(db, booked.id)
    assert second.send_after == f.at(2030, 3, 2, 7)  # 08:00 in Oslo


async def test_a_confirmed_appointment_gets_no_second_reminder(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    await service.confirm(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                          now=MARK_48 - timedelta(hours=1))
    assert await escalation.run(db, MARK_48, DEFAULTS) == 0
    assert await escalation.run(db, MARK_24, DEFAULTS) == 0
    assert await second_reminders(db, booked.id) == []


async def test_confirmed_after_it_was_written_it_is_not_sent(db, sms, clock):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    night_start = f.at(2030, 3, 4, 2)
    await set_start(db, booked.id, night_start)
    mark = night_start - timedelta(hours=48)
    await escalation.run(db, mark, DEFAULTS)
    [second] = await second_reminders(db, booked.id)
    await service.confirm(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                          now=mark + timedelta(hours=1))
    clock.now = second.send_after  # the morning: when it is due
    await helsenorge_went(db, clock.now)
    await jobs.deliver(make_runtime(db, sms, clock), second.id)
    [after] = await second_reminders(db, booked.id)
    assert (after.status, after.reason) == (NotificationStatus.CANCELLED, Reason.CONFIRMED)
    assert sms.messages == []


async def test_booked_after_the_mark_gets_no_second_reminder(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world, now=MARK_48 + timedelta(hours=1))).appointment
    assert await escalation.run(db, MARK_48 + timedelta(hours=2), DEFAULTS) == 0
    assert await second_reminders(db, booked.id) == []


async def test_the_county_may_turn_it_off_or_move_it(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    assert escalation.policy_for({"second_reminder_hours": 0}, DEFAULTS).second_reminder_hours \
        == 0
    assert escalation.policy_for({"call_task_hours": "12"}, DEFAULTS).call_task_hours == 12
    assert escalation.policy_for({"call_task_hours": "x"}, DEFAULTS).call_task_hours == 24
    async with db.write() as session:
        await session.execute(update(County).where(County.id == world.clinic.county_id)
                              .values(quiet_hours={"second_reminder_hours": 60}))
    assert await escalation.run(db, START - timedelta(hours=60), DEFAULTS) == 1
    [second] = await second_reminders(db, booked.id)
    assert second.offset_minutes == 60 * 60


async def test_call_task_only_with_a_no_show_in_the_last_year_and_once(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    await escalation.run(db, MARK_24, DEFAULTS)
    assert await tasks(db) == []  # never missed one
    await missed(db, world, days_ago=366, now=MARK_24)
    await escalation.run(db, MARK_24, DEFAULTS)
    assert await tasks(db) == []  # more than a year ago
    await missed(db, world, days_ago=200, now=MARK_24)
    assert await escalation.run(db, MARK_24 - timedelta(minutes=1), DEFAULTS) == 0
    assert await tasks(db) == []  # not yet 24 hours before
    await escalation.run(db, MARK_24, DEFAULTS)
    await escalation.run(db, MARK_24 + timedelta(hours=1), DEFAULTS)
    [task] = await tasks(db)
    assert (task.appointment_id, task.clinic_id, task.status) == (
        booked.id, world.clinic.id, call_tasks.CallTaskStatus.WAITING)
    async with db.read() as session:
        assert (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == call_tasks.CREATED_ACTION))).scalar_one() == 1
    # The appointment itself is left as it was: staff decide.
    async with db.read() as session:
        assert (await session.get(Appointment, booked.id)).status == AppointmentStatus.BOOKED


async def test_no_call_task_once_confirmed(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    await missed(db, world, days_ago=30, now=MARK_24)
    await service.confirm(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                          now=MARK_24 - timedelta(hours=2))
    assert await escalation.run(db, MARK_24, DEFAULTS) == 0
    assert await tasks(db) == []


async def test_call_task_mark_is_elapsed_time_across_the_dst_change(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    # Sunday 31 March 2030, 10:00 in Oslo (summer time since 02:00 that night):
    # 24 hours earlier is 09:00 Saturday in Oslo, 08:00 UTC.
    dst_start = f.at(2030, 3, 31, 8)
    await set_start(db, booked.id, dst_start)
    await missed(db, world, days_ago=100, now=dst_start)
    await escalation.run(db, f.at(2030, 3, 30, 7, 59), DEFAULTS)
    assert await tasks(db) == []
    await escalation.run(db, f.at(2030, 3, 30, 8), DEFAULTS)
    assert len(await tasks(db)) == 1


async def test_the_second_reminder_goes_as_the_first_ones_and_asks_for_ja(db, sms, clock):
    """Same channel (SMS) and recipients as the first reminders, judged on
    the day it goes: for a child under 12 the guardian, asked for JA (the
    clinic awaits the answer) and given the health form's link."""
    from datetime import date

    from tests.notifications.helpers import EARLY, GUARDIAN_MOBILE

    world = await world_with_phones(db)
    async with db.write() as s:
        guardian = await f.patient(s, birth_date=date(1980, 1, 1), mobile=GUARDIAN_MOBILE)
        await f.guardianship(s, guardian, world.child)
    booked = (await service.book(db, Actor.staff("s1", {world.clinic.id}),
                                 patient_id=world.child.id, slot_id=world.slots[0].id,
                                 appointment_type_id=world.child_exam.id, clinic_issued=True,
                                 now=EARLY)).appointment
    assert await escalation.run(db, MARK_48, DEFAULTS) == 1
    [second] = await second_reminders(db, booked.id)
    firsts = [n for n in await rows(db, appointment_id=booked.id, purpose=Purpose.REMINDER)
              if not n.unless_confirmed]
    assert {(n.channel, n.recipient_id) for n in firsts} == {(second.channel,
                                                             second.recipient_id)}
    await helsenorge_went(db, MARK_48)
    clock.now = MARK_48
    assert await jobs.deliver(make_runtime(db, sms, clock), second.id) == "accepted"
    [sent] = sms.messages
    assert sent.to_e164 == GUARDIAN_MOBILE
    assert "Ola har time" in sent.body and "Svar JA hvis dere kommer." in sent.body
    assert "/skjema" in sent.body
