"""SMS numbers from KRR, through the real ``jobs.deliver``: the runtime is
``worker.build_runtime`` with KRR configured, talking to the fake
Maskinporten + KRR over real HTTP on loopback. The number the patient gave
wins; otherwise KRR's, unless reserved, stale, missing or not notifiable
(each with its own reason); KRR's language first; a KRR that does not
answer makes the row wait, never go and never end."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from booking import service
from booking.audit import Actor
from booking.models import Patient
from core.db import Database
from core.settings import Settings
from notifications import jobs
from notifications.contacts import RegisterDirectory, contact_directory
from notifications.fakes.krr import FakeKrrPerson
from notifications.models import SmsNumberBlock
from notifications.recipients import WAIT_FOR, ProfileDirectory
from notifications.statuses import Channel, Purpose, Reason
from tests import factories as f
from tests.booking.booking_world import make_world
from tests.notifications import krr
from tests.notifications.helpers import EARLY, book_adult, row, rows
from tests.notifications.krr import (
    LONG_AGO,
    RECENT,
    SECRET,
    krr_settings,
)

#: The fake KRR's fixtures.
fake, outage, krr_server, runtime = krr.fake, krr.outage, krr.krr_server, krr.runtime

KRR_MOBILE = "+4798765432"
OWN_MOBILE = "+4741234567"


def nin_of(patient: Patient) -> str:
    return f.VAULT.decrypt(patient.identity_encrypted)


async def set_profile(db: Database, patient: Patient, **values: Any) -> None:
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == patient.id).values(**values))


async def confirmation(db: Database, world: Any) -> Any:
    appointment = (await book_adult(db, world)).appointment
    [first] = await rows(db, appointment_id=appointment.id, channel=Channel.SMS,
                         purpose=Purpose.CONFIRMATION)
    return first


async def test_krrs_number_and_language_are_used(db, fake, runtime, sms):
    world = await make_world(db)
    await set_profile(db, world.adult, preferred_language="en")
    fake.active(nin_of(world.adult), KRR_MOBILE, verified=RECENT, language="nn")
    note = await confirmation(db, world)

    assert await jobs.deliver(runtime, note.id) == "accepted"
    [handed] = sms.messages
    assert handed.to_e164 == KRR_MOBILE
    after = await row(db, note.id)
    # the register's language before the profile's choice (issue #5)
    assert (after.status, after.to_e164, after.language) == ("sending", KRR_MOBILE, "nn")
    assert fake.batch_sizes == [1]
    assert all(nin_of(world.adult) not in line for line in fake.request_lines)


async def test_the_profiles_language_when_krr_has_none(db, fake, runtime, sms):
    world = await make_world(db)
    await set_profile(db, world.adult, preferred_language="en")
    fake.add(nin_of(world.adult), FakeKrrPerson(mobile=KRR_MOBILE, mobile_updated=RECENT,
                                                mobile_verified=RECENT, language=None))
    note = await confirmation(db, world)
    assert await jobs.deliver(runtime, note.id) == "accepted"
    assert (await row(db, note.id)).language == "en"


@pytest.mark.parametrize("in_krr", ["another number", "reserved"])
async def test_the_number_the_patient_gave_wins(db, fake, runtime, sms, in_krr):
    world = await make_world(db)
    await set_profile(db, world.adult, mobile=OWN_MOBILE)
    if in_krr == "reserved":
        fake.reserved(nin_of(world.adult), KRR_MOBILE, verified=RECENT)
    else:
        fake.active(nin_of(world.adult), KRR_MOBILE, verified=RECENT, language="en")
    note = await confirmation(db, world)

    assert await jobs.deliver(runtime, note.id) == "accepted"
    assert [m.to_e164 for m in sms.messages] == [OWN_MOBILE]
    # KRR's language still comes first ("nb" for the reserved preset)
    assert (await row(db, note.id)).language == ("en" if in_krr == "another number" else "nb")


async def test_a_reservation_stops_the_sms_but_not_helsenorge(db, fake, runtime, sms):
    world = await make_world(db)
    fake.reserved(nin_of(world.adult), KRR_MOBILE, verified=RECENT)
    note = await confirmation(db, world)

    assert await jobs.deliver(runtime, note.id) == "cancelled"
    after = await row(db, note.id)
    assert (after.status, after.reason, after.to_e164) == ("cancelled", Reason.RESERVED, None)
    assert sms.calls == 0
    # The appointment still goes to the patient's Helsenorge (its own row, untouched).
    [helsenorge] = await rows(db, appointment_id=note.appointment_id,
                              channel=Channel.HELSENORGE)
    assert (helsenorge.status, helsenorge.reason) == ("created", None)
    await jobs.deliver(runtime, helsenorge.id)
    assert (await row(db, helsenorge.id)).status == "delivered"


@pytest.mark.parametrize(("person", "reason"), [
    # not updated or verified for 18 months: KRR says KAN_IKKE_VARSLES
    (lambda fake, nin: fake.stale(nin, KRR_MOBILE, verified=LONG_AGO), Reason.STALE_NUMBER),
    # KRR still says KAN_VARSLES, but the date is past 18 months on the sending day
    (lambda fake, nin: fake.active(nin, KRR_MOBILE, verified=LONG_AGO), Reason.STALE_NUMBER),
    (lambda fake, nin: fake.without_mobile(nin), Reason.NO_MOBILE),
    (lambda fake, nin: fake.deleted(nin), Reason.NO_MOBILE),
    (lambda fake, nin: None, Reason.NO_MOBILE),  # KRR does not know the person
    (lambda fake, nin: fake.add(nin, FakeKrrPerson(
        notification_status="KAN_IKKE_VARSLES", mobile=KRR_MOBILE, mobile_updated=RECENT,
        mobile_verified=RECENT)), Reason.NOT_NOTIFIABLE),
], ids=["stale", "stale-by-date", "no-mobile", "deleted", "unknown", "not-notifiable"])
async def test_krr_numbers_that_may_not_be_used(db, fake, runtime, sms, person, reason):
    world = await make_world(db)
    person(fake, nin_of(world.adult))
    note = await confirmation(db, world)

    assert await jobs.deliver(runtime, note.id) == "cancelled"
    after = await row(db, note.id)
    assert (after.status, after.reason) == ("cancelled", reason)
    assert sms.calls == 0


async def test_a_stop_blocked_krr_number_is_still_refused(db, fake, runtime, sms):
    world = await make_world(db)
    fake.active(nin_of(world.adult), KRR_MOBILE, verified=RECENT)
    async with db.write() as session:
        session.add(SmsNumberBlock(e164=KRR_MOBILE, reason="opted_out", since=EARLY))
    note = await confirmation(db, world)

    assert await jobs.deliver(runtime, note.id) == "cancelled"
    assert (await row(db, note.id)).reason == Reason.OPTED_OUT
    assert sms.calls == 0


@pytest.mark.parametrize("how", ["503", "refused"])
async def test_while_krr_is_down_the_row_waits_and_goes_when_it_is_back(
        db, fake, outage, krr_server, runtime, sms, clock, how):
    world = await make_world(db)
    fake.active(nin_of(world.adult), KRR_MOBILE, verified=RECENT)
    note = await confirmation(db, world)
    if how == "503":
        outage.down = True
    else:
        krr_server.stop()

    assert await jobs.deliver(runtime, note.id) == "waiting"
    waiting = await row(db, note.id)
    retry_at = EARLY + WAIT_FOR[Reason.REGISTER_UNAVAILABLE]
    assert (waiting.status, waiting.reason, waiting.send_after, waiting.attempts,
            waiting.to_e164, waiting.claim_token) == (
        "created", Reason.REGISTER_UNAVAILABLE, retry_at, 0, None, None)
    assert sms.calls == 0
    assert await jobs.deliver(runtime, note.id) == "not_due"

    clock.now = retry_at
    assert await jobs.deliver(runtime, note.id) == "waiting"  # still down: waits again
    assert (await row(db, note.id)).send_after == retry_at + WAIT_FOR[Reason.REGISTER_UNAVAILABLE]

    outage.down = False
    krr_server.start()  # the same port again
    clock.advance(minutes=2)
    assert await jobs.deliver(runtime, note.id) == "accepted"
    after = await row(db, note.id)
    assert (after.status, after.reason, after.to_e164) == ("sending", None, KRR_MOBILE)
    assert [m.to_e164 for m in sms.messages] == [KRR_MOBILE]


async def test_while_krr_is_down_a_number_of_ones_own_still_goes(db, fake, outage, runtime,
                                                                 sms):
    world = await make_world(db)
    await set_profile(db, world.adult, mobile=OWN_MOBILE, preferred_language="nn")
    note = await confirmation(db, world)
    outage.down = True

    assert await jobs.deliver(runtime, note.id) == "accepted"
    assert [m.to_e164 for m in sms.messages] == [OWN_MOBILE]
    assert (await row(db, note.id)).language == "nn"  # the profile's, KRR unheard


async def test_many_patients_in_one_krr_lookup(db, fake, krr_server):
    world = await make_world(db)
    people = [world.adult, world.child, world.other_adult]
    fake.active(nin_of(world.adult), KRR_MOBILE, verified=RECENT)
    fake.reserved(nin_of(world.other_adult), "+4798765433", verified=RECENT)
    await set_profile(db, world.child, mobile=OWN_MOBILE)
    directory = contact_directory(krr_settings(krr_server.url).notifications, db)
    assert isinstance(directory, RegisterDirectory)
    try:
        found = await directory.contacts([p.id for p in people] + [10_000])
    finally:
        await directory.aclose()

    assert fake.lookups == 1 and fake.batch_sizes == [3]
    assert set(found) == {p.id for p in people}  # an unknown id is left out
    assert found[world.adult.id].mobile == KRR_MOBILE
    assert found[world.child.id].mobile == OWN_MOBILE
    assert found[world.other_adult.id].reserved is True


async def test_without_krr_the_profile_alone(db):
    assert isinstance(contact_directory(Settings(secret_key=SECRET).notifications, db),
                      ProfileDirectory)


async def test_a_wave_while_krr_is_down_waits_in_one_lookup(db, fake, outage, runtime, sms):
    world = await make_world(db)
    fake.active(nin_of(world.adult), KRR_MOBILE, verified=RECENT)
    notes = [await confirmation(db, world)]
    other = world.other_adult
    appointment = (await service.book(
        db, Actor.patient(other.id), patient_id=other.id, slot_id=world.slots[1].id,
        appointment_type_id=world.exam.id, now=EARLY)).appointment
    notes += await rows(db, appointment_id=appointment.id, channel=Channel.SMS,
                        purpose=Purpose.CONFIRMATION)
    outage.down = True

    tally = await jobs.deliver_many(runtime, [n.id for n in notes])
    assert tally == {"waiting": 2}
    assert sms.calls == 0
    assert outage.refused == 1  # one attempt (the token) for the whole wave
    assert {(await row(db, n.id)).reason for n in notes} == {Reason.REGISTER_UNAVAILABLE}
