"""Appointments to the patient's Helsenorge through the outbox: one row per
booking, change and cancellation, written in the booking's transaction and
PUT over real HTTP to the fake HelseID + Helsenorge on loopback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from booking import service
from booking.audit import Actor
from booking.models import Patient
from core.loopback import LoopbackServer
from core.oauth import generate_rsa_jwk
from core.settings import NotificationSettings, Settings, SettingsError
from notifications import jobs, sweeps
from notifications.channels.helsenorge import (
    CANCELLED_BY_PATIENT,
    DENTAL_SERVICE,
    FNR_SYSTEM,
    ORGNR_SYSTEM,
    HelsenorgeChannel,
)
from notifications.fakes.helsenorge import API_PATH, FakeHelsenorge
from notifications.helsenorge_sync import (
    HelsenorgeSync,
    LocalHelsenorgeChannel,
    parse_org_numbers,
    sync_from_settings,
)
from notifications.models import Notification
from notifications.recipients import Contact
from notifications.runtime import Runtime
from notifications.schedule import OSLO
from notifications.statuses import Channel, Reason
from notifications.worker import build_runtime, close_runtime
from tests import factories as f
from tests.logcheck import personal_data_in
from tests.notifications.helpers import (
    EARLY,
    PUBLIC_URL,
    START,
    Clock,
    MemorySms,
    book_adult,
    count,
    helsenorge_went,
    make_runtime,
    row,
    rows,
    world_with_phones,
)

HELSENORGE = Channel.HELSENORGE
SYSTEM = f"{PUBLIC_URL}/fhir/NamingSystem/appointment"
ORG_NUMBER = "974770482"
KEY, PUBLIC = generate_rsa_jwk("tanntid-helseid-sync")
NIGHT = f.at(2030, 2, 26, 22, 30)  # 23:30 in Oslo: SMS wait for the morning


def hn_summary(notes: Sequence[Notification]) -> list[tuple]:
    return [(n.purpose, n.appointment_version, n.recipient_id, n.recipient_role, n.status,
             n.send_after, n.expires_at) for n in notes]


async def nin_of(db, patient_id: int) -> str:
    async with db.read() as session:
        found = await session.get(Patient, patient_id)
        assert found is not None
        return f.VAULT.decrypt(found.identity_encrypted)


# --- the outbox ----------------------------------------------------------------

async def test_booking_change_and_cancel_each_write_one_helsenorge_row(db):
    world = await world_with_phones(db)
    me = world.adult.id
    booked = (await book_adult(db, world, now=NIGHT)).appointment
    # Due at once (not an SMS: no quiet hours), until the appointment has ended.
    assert hn_summary(await rows(db, appointment_id=booked.id, channel=HELSENORGE)) == [
        ("confirmation", 1, me, "self", "created", NIGHT, booked.ends_at)]
    [sms_confirmation] = await rows(db, appointment_id=booked.id, purpose="confirmation")
    assert sms_confirmation.send_after == f.at(2030, 2, 27, 7)  # 08:00 in Oslo

    await helsenorge_went(db, NIGHT)
    changed = (await service.change(db, Actor.patient(me), appointment_id=booked.id,
                                    new_slot_id=world.slots[2].id, now=NIGHT)).appointment
    assert changed.chain_id == booked.id
    assert hn_summary(await rows(db, appointment_id=changed.id, channel=HELSENORGE)) == [
        ("change", 2, me, "self", "created", NIGHT, changed.ends_at)]
    # the old version's row had gone: nothing more about it
    assert [n.status for n in await rows(db, appointment_id=booked.id, channel=HELSENORGE)] \
        == ["delivered"]

    cancelled = (await service.cancel(db, Actor.patient(me), appointment_id=changed.id,
                                      now=NIGHT)).appointment
    assert hn_summary(await rows(db, appointment_id=changed.id, channel=HELSENORGE)) == [
        ("change", 2, me, "self", "cancelled", NIGHT, changed.ends_at),
        ("cancellation", 3, me, "self", "created", NIGHT, cancelled.ends_at)]
    assert await count(db, channel=HELSENORGE) == 3


async def test_the_helsenorge_rows_roll_back_with_the_booking_change(db, monkeypatch):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    before = hn_summary(await rows(db, channel=HELSENORGE))

    async def broken_audit(*args, **kw):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(service.audit, "record", broken_audit)
    with pytest.raises(RuntimeError):
        await service.change(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                             new_slot_id=world.slots[2].id, now=EARLY)
    with pytest.raises(RuntimeError):
        await service.cancel(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                             now=EARLY)
    with pytest.raises(RuntimeError):
        await service.book(db, Actor.patient(world.other_adult.id),
                           patient_id=world.other_adult.id, slot_id=world.slots[3].id,
                           appointment_type_id=world.exam.id, now=EARLY)
    assert hn_summary(await rows(db, channel=HELSENORGE)) == before  # the waiting one only
    assert before[0][4] == "created"


async def test_helsenorge_never_told_hears_no_change_or_cancellation(db):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    changed = (await service.change(db, Actor.patient(world.adult.id),
                                    appointment_id=booked.id, new_slot_id=world.slots[2].id,
                                    now=EARLY)).appointment
    [old] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
    assert (old.status, old.reason) == ("cancelled", Reason.SUPERSEDED)
    # Nothing had reached Helsenorge: the new version is simply the appointment.
    [new] = await rows(db, appointment_id=changed.id, channel=HELSENORGE)
    assert (new.purpose, new.status) == ("confirmation", "created")
    await service.cancel(db, Actor.patient(world.adult.id), appointment_id=changed.id,
                         now=EARLY)
    assert [(n.purpose, n.status) for n in await rows(db, appointment_id=changed.id,
                                                       channel=HELSENORGE)] == [
        ("confirmation", "cancelled")]


# --- delivery over HTTP ---------------------------------------------------------

@pytest.fixture
def fake() -> FakeHelsenorge:
    fake = FakeHelsenorge(seed=5)
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
    sync = HelsenorgeSync(channel, f.VAULT, {"*": ORG_NUMBER})
    yield sync
    await sync.aclose()


def runtime_with(db, sync: HelsenorgeSync | None, clock: Clock, sms: MemorySms | None = None
                 ) -> Runtime:
    runtime = make_runtime(db, sms or MemorySms(), clock)
    runtime.helsenorge = sync
    return runtime


async def test_each_version_reaches_helsenorge_once_with_its_state(db, sync, fake, clock):
    world = await world_with_phones(db)
    runtime = runtime_with(db, sync, clock)
    booked = (await book_adult(db, world)).appointment
    [first] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
    assert await jobs.deliver(runtime, first.id) == "accepted"
    assert await jobs.deliver(runtime, first.id) == "not_waiting"  # once
    sent = await row(db, first.id)
    assert (sent.status, sent.attempts, sent.handed_over_at, sent.claim_token, sent.reason) \
        == ("delivered", 1, EARLY, None, None)

    chain = str(booked.id)
    stored = fake.latest(chain)
    assert stored is not None
    assert stored["identifier"][0]["system"] == SYSTEM
    assert stored["identifier"][0]["assigner"]["identifier"] == {
        "system": ORGNR_SYSTEM, "value": ORG_NUMBER}
    assert (stored["status"], stored["start"], stored["end"]) == (
        "booked", "2030-03-04T10:00:00+01:00", "2030-03-04T10:30:00+01:00")
    assert stored["participant"][0]["actor"] == {
        "type": "Patient",
        "identifier": {"system": FNR_SYSTEM, "value": await nin_of(db, world.adult.id)}}
    assert stored["contained"][0]["name"] == world.clinic.name
    assert stored["contained"][0]["managingOrganization"]["display"].startswith(
        DENTAL_SERVICE.display)
    assert stored["description"] == "Undersøkelse"

    clock.advance(minutes=1)
    changed = (await service.change(db, Actor.patient(world.adult.id),
                                    appointment_id=booked.id, new_slot_id=world.slots[2].id,
                                    now=clock.now)).appointment
    [second] = await rows(db, appointment_id=changed.id, channel=HELSENORGE)
    assert await jobs.deliver(runtime, second.id) == "accepted"
    stored = fake.latest(chain)  # the same appointment at Helsenorge, moved
    assert stored is not None
    assert (stored["status"], stored["start"]) == ("booked", "2030-03-04T11:00:00+01:00")

    clock.advance(minutes=1)
    await service.cancel(db, Actor.patient(world.adult.id), appointment_id=changed.id,
                         now=clock.now)
    [_, third] = await rows(db, appointment_id=changed.id, channel=HELSENORGE)
    assert await jobs.deliver(runtime, third.id) == "accepted"
    stored = fake.latest(chain)
    assert stored is not None
    assert stored["status"] == "cancelled"
    assert stored["cancelationReason"] == CANCELLED_BY_PATIENT.concept()
    assert fake.puts == [(chain, "new"), (chain, "changed"), (chain, "changed")]
    assert len(fake.appointments) == 1


async def test_5xx_and_429_are_retried_until_helsenorge_takes_it(db, sync, fake, clock):
    world = await world_with_phones(db)
    runtime = runtime_with(db, sync, clock)
    booked = (await book_adult(db, world)).appointment
    [note] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
    for status in (500, 429):
        fake.fail(1.0, (status,))
        assert await jobs.deliver(runtime, note.id) == "retry"
        waiting = await row(db, note.id)
        assert (waiting.status, waiting.reason, waiting.error_code, waiting.claim_token) == (
            "created", Reason.PROVIDER_BUSY, status, None)
        assert clock.now < waiting.send_after <= clock.now + timedelta(minutes=5)
        assert await jobs.deliver(runtime, note.id) == "not_due"  # the backoff holds
        clock.now = waiting.send_after
    fake.fail(0.0)
    assert await jobs.deliver(runtime, note.id) == "accepted"
    sent = await row(db, note.id)
    assert (sent.status, sent.attempts) == ("delivered", 3)
    assert fake.injected_errors == 2
    assert fake.puts == [(str(booked.id), "new")]


async def test_a_refusal_is_a_technical_failure_with_the_reason(db, sync, fake, clock):
    world = await world_with_phones(db)
    runtime = runtime_with(db, sync, clock)
    booked = (await book_adult(db, world)).appointment
    [note] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
    fake.fail(1.0, (400,))
    assert await jobs.deliver(runtime, note.id) == "failed"
    failed = await row(db, note.id)
    assert (failed.status, failed.error_code, failed.reason) == (
        "technical-failure", 400, "Refused by Helsenorge (400: transient)")
    clock.advance(minutes=10)
    assert await jobs.deliver(runtime, note.id) == "not_waiting"  # never again
    assert fake.appointments == {}


async def test_a_superseded_row_is_cancelled_and_the_next_waits_its_turn(db, sync, fake, clock):
    world = await world_with_phones(db)
    runtime = runtime_with(db, sync, clock)
    booked = (await book_adult(db, world)).appointment
    [old] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
    held_until = EARLY + timedelta(minutes=2)
    async with db.write() as session:  # a worker holds it, its PUT under way
        await session.execute(update(Notification).where(Notification.id == old.id).values(
            claim_token="x" * 32, claimed_until=held_until, send_after=held_until,
            attempts=1, attempted_at=EARLY))
    changed = (await service.change(db, Actor.patient(world.adult.id),
                                    appointment_id=booked.id, new_slot_id=world.slots[2].id,
                                    now=EARLY)).appointment
    [new] = await rows(db, appointment_id=changed.id, channel=HELSENORGE)
    assert new.purpose == "change"  # that PUT may reach Helsenorge
    # Versions go in order: the new one waits for the one in flight.
    assert await jobs.deliver(runtime, new.id) == "waiting"
    waiting = await row(db, new.id)
    assert (waiting.send_after, waiting.reason) == (held_until, Reason.AFTER_EARLIER)
    clock.now = held_until  # the old worker died: its lease has run out
    assert await jobs.deliver(runtime, old.id) == "cancelled"
    assert ((await row(db, old.id)).status, (await row(db, old.id)).reason) == (
        "cancelled", Reason.SUPERSEDED)
    assert await jobs.deliver(runtime, new.id) == "accepted"
    stored = fake.latest(str(booked.id))
    assert stored is not None and stored["start"] == "2030-03-04T11:00:00+01:00"
    assert fake.puts == [(str(booked.id), "new")]  # the old version never went


async def test_a_reserved_patient_gets_no_sms_but_helsenorge_still(db, sync, fake, clock):
    class Reserved:
        async def contacts(self, patient_ids: Sequence[int]) -> Mapping[int, Contact]:
            return {pid: Contact("+4791234567", reserved=True) for pid in patient_ids}

    world = await world_with_phones(db)
    sms = MemorySms()
    runtime = runtime_with(db, sync, clock, sms)
    runtime.contacts = Reserved()
    booked = (await book_adult(db, world)).appointment
    [confirmation, *_] = await rows(db, appointment_id=booked.id)
    [note] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
    assert await jobs.deliver(runtime, confirmation.id) == "cancelled"
    assert (await row(db, confirmation.id)).reason == Reason.RESERVED
    assert await jobs.deliver(runtime, note.id) == "accepted"
    assert sms.messages == []
    assert fake.latest(str(booked.id)) is not None


async def test_the_identity_number_stays_out_of_jobs_logs_and_rows(db, sync, fake, clock,
                                                                  caplog, capsys):
    world = await world_with_phones(db)
    runtime = runtime_with(db, sync, clock)
    nin = await nin_of(db, world.adult.id)
    caplog.set_level(logging.DEBUG)
    booked = (await book_adult(db, world)).appointment
    await sweeps.enqueue_due({"runtime": runtime})
    [note] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
    fake.fail(1.0, (400,))  # the failure's reason is kept on the row
    assert await jobs.deliver(runtime, note.id) == "failed"
    queued = runtime.queue.deliveries  # type: ignore[union-attr]
    assert (note.id, 0) in queued and all(isinstance(v, int) for item in queued for v in item)
    kept = await row(db, note.id)
    captured = capsys.readouterr()
    logs = "\n".join([*(r.getMessage() for r in caplog.records), captured.out, captured.err])
    text = logs + repr(queued) + repr({k: v for k, v in vars(kept).items()
                                       if not k.startswith("_")})
    assert "helsenorge_synced" in logs
    assert nin not in text
    assert personal_data_in(text) == []
    assert nin not in repr(sync)


async def test_without_a_channel_or_time_left_a_row_ends_without_a_put(db, clock):
    world = await world_with_phones(db)
    first = (await book_adult(db, world)).appointment
    second = (await service.book(db, Actor.patient(world.other_adult.id),
                                 patient_id=world.other_adult.id, slot_id=world.slots[4].id,
                                 appointment_type_id=world.exam.id, now=EARLY)).appointment
    [off] = await rows(db, appointment_id=first.id, channel=HELSENORGE)
    assert await jobs.deliver(runtime_with(db, None, clock), off.id) == "cancelled"
    assert (await row(db, off.id)).reason == Reason.NO_CHANNEL
    [late] = await rows(db, appointment_id=second.id, channel=HELSENORGE)
    clock.now = second.ends_at
    local = LocalHelsenorgeChannel(SYSTEM)
    runtime = runtime_with(db, HelsenorgeSync(local, f.VAULT, {"*": ORG_NUMBER}), clock)
    assert await jobs.deliver(runtime, late.id) == "technical-failure"
    assert (await row(db, late.id)).reason == Reason.EXPIRED
    assert local.appointments == {}


# --- the runtime from settings ----------------------------------------------------

def dev_settings(*, is_production: bool = False, **values: Any) -> NotificationSettings:
    return Settings(env="production" if is_production else "dev", public_url=PUBLIC_URL,
                    secret_key="test-secret-not-for-production", database_url="unused",
                    **values).notifications


async def test_in_dev_the_local_stand_in_takes_the_puts(db, clock):
    world = await world_with_phones(db)
    runtime = build_runtime(dev_settings(), db=db)
    runtime.clock = clock
    try:
        assert runtime.helsenorge is not None
        local = runtime.helsenorge.channel
        assert isinstance(local, LocalHelsenorgeChannel)
        booked = (await book_adult(db, world)).appointment
        [note] = await rows(db, appointment_id=booked.id, channel=HELSENORGE)
        assert await jobs.deliver(runtime, note.id) == "accepted"
        assert (await row(db, note.id)).status == "delivered"
        resource = local.appointments[str(booked.id)]
        assert resource["identifier"][0]["system"] == SYSTEM
        assert resource["start"] == START.astimezone(OSLO).isoformat()
    finally:
        await close_runtime(runtime, dispose_db=False)


async def test_the_real_channel_follows_the_settings(fake_url):
    sync = sync_from_settings(dev_settings(
        helsenorge_api_url=fake_url + API_PATH, helseid_token_url=fake_url + "/connect/token",
        helseid_client_id="tanntid", helseid_client_jwk=KEY,
        helsenorge_org_number="03=974770482, 46=964967636",
        helsenorge_service_category="urn:example|tann|Tannhelse"))
    try:
        assert isinstance(sync.channel, HelsenorgeChannel)
        assert sync.channel.identifier_system == SYSTEM
        assert sync.channel.service_category.code == "tann"
        assert (sync.org_number("03"), sync.org_number("46"), sync.org_number("50")) == (
            "974770482", "964967636", None)
    finally:
        await sync.aclose()


def test_production_refuses_to_run_without_helsenorge():
    with pytest.raises(RuntimeError, match="HELSENORGE_ORG_NUMBER"):
        sync_from_settings(dev_settings(is_production=True))
    with pytest.raises(RuntimeError, match="HELSENORGE_API_URL is required"):
        sync_from_settings(dev_settings(is_production=True, helsenorge_org_number=ORG_NUMBER))
    with pytest.raises(RuntimeError, match="HELSEID_CLIENT_JWK"):
        sync_from_settings(dev_settings(helsenorge_api_url="https://hn.example/api",
                                        helseid_token_url="https://helseid.example/token",
                                        helseid_client_id="tanntid"))
    with pytest.raises(SettingsError, match="HELSENORGE_API_URL is set"):
        Settings.from_env({"SECRET_KEY": "x" * 40,
                           "HELSENORGE_API_URL": "https://hn.example/api"})
    assert parse_org_numbers("974770482") == {"*": "974770482"}
    with pytest.raises(ValueError, match="not an organisation number"):
        parse_org_numbers("03=97477")
