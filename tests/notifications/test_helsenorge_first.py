"""Reminders: Helsenorge first where the patient chose it, SMS as today
(``notifications.helsenorge_first``). The first reminder of a patient who
chose Helsenorge is a PUT of the appointment with the reminder tag (over real
HTTP to the fake HelseID + Helsenorge), not an SMS; the second reminder, 48
hours before if still unconfirmed, is an SMS all the same; a Helsenorge that
fails leaves the SMS to go, once. Time is the injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta

import pytest
from arq.connections import ArqRedis
from sqlalchemy import update

from booking import service
from booking.audit import Actor
from booking.models import Patient
from booking.statuses import ReminderChannel
from core.loopback import LoopbackServer
from core.oauth import generate_rsa_jwk
from notifications import escalation, jobs
from notifications.channels.helsenorge import REMINDER_TAG, HelsenorgeChannel, build_appointment
from notifications.dev_outbox import outbox_page
from notifications.fakes.helsenorge import API_PATH, FakeHelsenorge
from notifications.helsenorge_first import HELSENORGE_PATIENCE
from notifications.helsenorge_sync import HelsenorgeSync, LocalHelsenorgeChannel
from notifications.models import ReminderPolicy
from notifications.runtime import EscalationDefaults, Runtime
from notifications.statuses import Channel, Purpose, Reason
from notifications.worker import ArqQueue, make_worker
from tests import factories as f
from tests.notifications.helpers import (
    EARLY,
    PUBLIC_URL,
    START,
    Clock,
    MemorySms,
    book_adult,
    helsenorge_went,
    make_runtime,
    purge_redis,
    row,
    rows,
    world_with_phones,
)

SYSTEM = f"{PUBLIC_URL}/fhir/NamingSystem/appointment"
KEY, PUBLIC = generate_rsa_jwk("tanntid-helseid-first")
MARK_48 = START - timedelta(hours=48)
DEFAULTS = EscalationDefaults()
HELSENORGE = Channel.HELSENORGE


@pytest.fixture
def fake() -> FakeHelsenorge:
    fake = FakeHelsenorge(seed=7)
    fake.add_client("tanntid", PUBLIC)
    return fake


@pytest.fixture
def fake_url(fake: FakeHelsenorge) -> Iterator[str]:
    with LoopbackServer(fake.app, name="helsenorge") as server:
        yield server.url


@pytest.fixture
async def sync(fake_url: str) -> AsyncIterator[HelsenorgeSync]:
    channel = HelsenorgeChannel(
        api_url=fake_url + API_PATH, token_url=fake_url + "/connect/token",
        client_id="tanntid", client_jwk=KEY, identifier_system=SYSTEM, timeout=5.0)
    sync = HelsenorgeSync(channel, f.VAULT, {"*": "974770482"})
    yield sync
    await sync.aclose()


def runtime_with(db, sync: HelsenorgeSync | None, clock: Clock, sms: MemorySms) -> Runtime:
    runtime = make_runtime(db, sms, clock)
    runtime.helsenorge = sync
    return runtime


async def choose(db, patient_id: int, channel: ReminderChannel) -> None:
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == patient_id)
                              .values(reminder_channel=channel))


async def booked_with_first_reminder(db, world, clock: Clock):
    """The adult's appointment, its booking's Helsenorge row gone, and the
    first (three days before) SMS reminder row, the clock at its time."""
    booked = (await book_adult(db, world)).appointment
    await helsenorge_went(db, EARLY)
    reminders = await rows(db, appointment_id=booked.id, purpose=Purpose.REMINDER)
    first = max(reminders, key=lambda n: n.offset_minutes)
    assert first.offset_minutes == 3 * 24 * 60
    clock.now = first.send_after
    return booked, first


async def test_a_patient_who_chose_helsenorge_is_reminded_there_not_by_sms(
        db, sync, fake, sms, clock):
    world = await world_with_phones(db)
    await choose(db, world.adult.id, ReminderChannel.HELSENORGE)
    runtime = runtime_with(db, sync, clock, sms)
    booked, first = await booked_with_first_reminder(db, world, clock)

    assert await jobs.deliver(runtime, first.id) == "helsenorge_first"
    [asked] = await rows(db, appointment_id=booked.id, channel=HELSENORGE,
                         purpose=Purpose.REMINDER)
    assert (asked.recipient_id, asked.status, asked.send_after, asked.expires_at) == (
        world.adult.id, "created", clock.now, clock.now + HELSENORGE_PATIENCE)
    waiting = await row(db, first.id)
    assert (waiting.status, waiting.reason) == ("created", Reason.HELSENORGE_FIRST)
    assert await jobs.deliver(runtime, first.id) == "not_due"  # it waits for Helsenorge

    assert await jobs.deliver(runtime, asked.id) == "accepted"
    stored = fake.latest(str(booked.id))
    assert stored is not None
    assert stored["meta"]["tag"] == [{"system": REMINDER_TAG.system, "code": "paminnelse",
                                      "display": REMINDER_TAG.display}]
    assert fake.reminders == [str(booked.id)]
    assert runtime.queue.deliveries[-1] == (first.id, 0)  # the SMS row woken
    assert await jobs.deliver(runtime, first.id) == "cancelled"
    ended = await row(db, first.id)
    assert (ended.status, ended.reason, ended.attempts) == (
        "cancelled", Reason.BY_HELSENORGE, 0)
    assert sms.messages == []
    # The dev outbox (/dev/sms) shows the reminder that went to Helsenorge, and why no text.
    page = await outbox_page(db, now=clock.now)
    assert f'id="helsenorge-{asked.id}" data-status="delivered"' in page
    assert "Accepted by Helsenorge: it reminds the patient" in page
    assert f'id="sms-{first.id}" data-status="cancelled"' in page
    assert "Not sent by SMS: Helsenorge took the reminder, as the patient chose." in page

    # Unconfirmed 48 hours before: the second reminder by SMS all the same.
    clock.now = MARK_48
    assert await escalation.run(db, MARK_48, DEFAULTS) == 1
    [second] = [n for n in await rows(db, appointment_id=booked.id) if n.unless_confirmed]
    assert await jobs.deliver(runtime, second.id) == "accepted"
    assert [m.notification_id for m in sms.messages] == [second.id]
    # The last reminder (a day before) is an SMS too: only the first goes there.
    [last] = [n for n in await rows(db, appointment_id=booked.id, purpose=Purpose.REMINDER)
              if n.offset_minutes == 24 * 60]
    clock.now = last.send_after
    assert await jobs.deliver(runtime, last.id) == "accepted"
    assert fake.reminders == [str(booked.id)]


async def test_confirmed_after_the_helsenorge_reminder_gets_no_second_one(
        db, sync, fake, sms, clock):
    world = await world_with_phones(db)
    await choose(db, world.adult.id, ReminderChannel.HELSENORGE)
    runtime = runtime_with(db, sync, clock, sms)
    booked, first = await booked_with_first_reminder(db, world, clock)
    assert await jobs.deliver(runtime, first.id) == "helsenorge_first"
    [asked] = await rows(db, appointment_id=booked.id, channel=HELSENORGE,
                         purpose=Purpose.REMINDER)
    assert await jobs.deliver(runtime, asked.id) == "accepted"
    assert await jobs.deliver(runtime, first.id) == "cancelled"
    await service.confirm(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                          now=MARK_48 - timedelta(hours=3))
    assert await escalation.run(db, MARK_48, DEFAULTS) == 0
    assert [n for n in await rows(db, appointment_id=booked.id) if n.unless_confirmed] == []
    assert sms.messages == []


async def test_a_reminder_at_the_48_hour_mark_is_the_second_one_and_goes_by_sms(
        db, sync, fake, sms, clock):
    """A county whose only reminder is 48 hours before: that reminder is the
    second one (escalation writes nothing more), so it is an SMS."""
    world = await world_with_phones(db)
    async with db.write() as session:
        session.add(ReminderPolicy(county_id=world.clinic.county_id, appointment_type_id=None,
                                   offsets_minutes=[48 * 60]))
    await choose(db, world.adult.id, ReminderChannel.HELSENORGE)
    runtime = runtime_with(db, sync, clock, sms)
    booked = (await book_adult(db, world)).appointment
    await helsenorge_went(db, EARLY)
    [first] = await rows(db, appointment_id=booked.id, purpose=Purpose.REMINDER)
    assert first.offset_minutes == 48 * 60
    clock.now = first.send_after
    assert await escalation.run(db, clock.now, DEFAULTS) == 0
    assert await jobs.deliver(runtime, first.id) == "accepted"
    assert [m.notification_id for m in sms.messages] == [first.id]
    assert await rows(db, appointment_id=booked.id, channel=HELSENORGE,
                      purpose=Purpose.REMINDER) == []
    assert fake.reminders == []


@pytest.mark.parametrize("failure", ["refused", "expired", "no_channel"])
async def test_when_helsenorge_fails_the_sms_reminder_goes_once(
        db, sync, fake, sms, clock, failure):
    world = await world_with_phones(db)
    await choose(db, world.adult.id, ReminderChannel.HELSENORGE)
    runtime = runtime_with(db, sync, clock, sms)
    booked, first = await booked_with_first_reminder(db, world, clock)
    if failure == "no_channel":
        runtime.helsenorge = None  # Helsenorge not available: SMS as today
        assert await jobs.deliver(runtime, first.id) == "accepted"
        assert await rows(db, appointment_id=booked.id, channel=HELSENORGE,
                          purpose=Purpose.REMINDER) == []
    else:
        assert await jobs.deliver(runtime, first.id) == "helsenorge_first"
        [asked] = await rows(db, appointment_id=booked.id, channel=HELSENORGE,
                             purpose=Purpose.REMINDER)
        if failure == "refused":
            fake.fail(1.0, (400,))
            assert await jobs.deliver(runtime, asked.id) == "failed"
        else:
            fake.fail(1.0, (503,))
            assert await jobs.deliver(runtime, asked.id) == "retry"
            clock.now = asked.expires_at  # no answer in time: it expires
            assert await jobs.deliver(runtime, asked.id) == "technical-failure"
        failed = await row(db, asked.id)
        assert failed.status == "technical-failure"
        assert (await row(db, first.id)).send_after == clock.now  # woken
        assert await jobs.deliver(runtime, first.id) == "accepted"
    assert [m.notification_id for m in sms.messages] == [first.id]
    clock.advance(minutes=10)
    assert await jobs.deliver(runtime, first.id) == "not_waiting"
    assert sms.delivered_to() == {first.id: 1}
    assert fake.reminders == []


async def test_a_patient_who_did_not_choose_it_gets_the_sms_as_today(
        db, sync, fake, sms, clock):
    world = await world_with_phones(db)
    runtime = runtime_with(db, sync, clock, sms)
    booked, first = await booked_with_first_reminder(db, world, clock)
    assert await jobs.deliver(runtime, first.id) == "accepted"
    assert [m.notification_id for m in sms.messages] == [first.id]
    assert await rows(db, appointment_id=booked.id, channel=HELSENORGE,
                      purpose=Purpose.REMINDER) == []
    assert fake.reminders == []


async def test_a_childs_reminders_to_the_guardian_stay_sms(db, sync, fake, sms, clock):
    """Only the patient's own reminder goes to Helsenorge: under 16 it is SMS
    whatever the choice, and a guardian's reminder is an SMS."""
    from tests.notifications.helpers import GUARDIAN_MOBILE

    world = await world_with_phones(db)
    async with db.write() as s:
        guardian = await f.patient(s, birth_date=date(1980, 1, 1), mobile=GUARDIAN_MOBILE)
        await f.guardianship(s, guardian, world.child)
    await choose(db, world.child.id, ReminderChannel.HELSENORGE)
    await choose(db, guardian.id, ReminderChannel.HELSENORGE)
    runtime = runtime_with(db, sync, clock, sms)
    booked = (await service.book(db, Actor.staff("s1", {world.clinic.id}),
                                 patient_id=world.child.id, slot_id=world.slots[0].id,
                                 appointment_type_id=world.child_exam.id, clinic_issued=True,
                                 now=EARLY)).appointment
    await helsenorge_went(db, EARLY)
    reminders = await rows(db, appointment_id=booked.id, purpose=Purpose.REMINDER)
    first = max(reminders, key=lambda n: n.offset_minutes)
    assert first.recipient_id == guardian.id
    clock.now = first.send_after
    assert await jobs.deliver(runtime, first.id) == "accepted"
    assert [m.notification_id for m in sms.messages] == [first.id]
    assert fake.reminders == []


def test_the_reminder_tag_is_only_on_reminders_and_the_local_stand_in_keeps_it():
    from datetime import UTC, datetime

    from notifications.channels.helsenorge import AppointmentNotice, Clinic

    notice = AppointmentNotice(
        appointment_id="7", status="booked", start=datetime(2030, 3, 4, 9, tzinfo=UTC),
        end=datetime(2030, 3, 4, 9, 30, tzinfo=UTC), patient_nin="01017012345",
        clinic=Clinic("Klinikk", "Tannhelsetjenesten", "974770482"),
        updated_at=datetime(2030, 2, 1, tzinfo=UTC))
    plain = build_appointment(notice, identifier_system=SYSTEM)
    assert "tag" not in plain["meta"]
    from dataclasses import replace
    tagged = build_appointment(replace(notice, reminder=True), identifier_system=SYSTEM)
    assert [t["code"] for t in tagged["meta"]["tag"]] == ["paminnelse"]


async def test_the_local_stand_in_records_the_reminder(clock):
    from datetime import UTC, datetime

    from notifications.channels.helsenorge import AppointmentNotice, Clinic

    local = LocalHelsenorgeChannel(SYSTEM)
    notice = AppointmentNotice(
        appointment_id="7", status="booked", start=datetime(2030, 3, 4, 9, tzinfo=UTC),
        end=datetime(2030, 3, 4, 9, 30, tzinfo=UTC), patient_nin="01017012345",
        clinic=Clinic("Klinikk", "Tannhelsetjenesten", "974770482"),
        updated_at=datetime(2030, 2, 1, tzinfo=UTC), reminder=True)
    assert (await local.put_appointment(notice)).outcome.value == "accepted"
    assert local.reminders == ["7"]
    assert local.appointments["7"]["meta"]["tag"][0]["code"] == "paminnelse"


@pytest.mark.redis
@pytest.mark.postgres
async def test_the_real_worker_reminds_on_helsenorge_and_sends_no_sms(
        pg_db, sync, fake, sms, clock, redis_server_url, redis_prefix):
    db = pg_db
    world = await world_with_phones(db)
    await choose(db, world.adult.id, ReminderChannel.HELSENORGE)
    booked, first = await booked_with_first_reminder(db, world, clock)
    pool = ArqRedis.from_url(redis_server_url)
    queue_name = f"{redis_prefix}queue"
    try:
        runtime = make_runtime(db, sms, clock)
        runtime.helsenorge = sync
        runtime.queue = ArqQueue(pool, queue_name=queue_name, job_prefix=redis_prefix)
        await runtime.queue.enqueue_deliveries([(first.id, 0)])
        worker = make_worker(runtime, pool, queue_name=queue_name, burst=True,
                             with_cron=False, job_prefix=redis_prefix)
        await worker.main()
        await worker.close()
        [asked] = await rows(db, appointment_id=booked.id, channel=HELSENORGE,
                             purpose=Purpose.REMINDER)
        await runtime.queue.enqueue_deliveries([(asked.id, 0)])
        worker = make_worker(runtime, pool, queue_name=queue_name, burst=True,
                             with_cron=False, job_prefix=redis_prefix)
        await worker.main()  # the PUT, then the woken SMS row ends
        await worker.close()
    finally:
        await pool.aclose()
        await purge_redis(redis_server_url, f"*{redis_prefix}*")
    assert (await row(db, asked.id)).status == "delivered"
    ended = await row(db, first.id)
    assert (ended.status, ended.reason) == ("cancelled", Reason.BY_HELSENORGE)
    assert fake.reminders == [str(booked.id)]
    assert sms.messages == []
