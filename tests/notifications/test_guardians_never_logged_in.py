"""A child's guardians who never logged in are told when staff book, change
or cancel for the child: the population register (the fake Person API over
loopback) names them, they get patient rows, and the SMS reaches them through
KRR (the fake KRR, through the real ``jobs.deliver``)."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from sqlalchemy import select

from booking import staff_booking
from booking.audit import Actor
from booking.models import AuditEntry, Guardianship, Patient
from core.identity import synthetic_number
from core.loopback import serving
from core.oauth import SigningKey
from notifications import jobs
from notifications.statuses import Channel, Purpose
from registers.fakes.person_api import PERSON_API_SCOPE, FakeRegister, create_app
from registers.person_api import PersonApiClient, PersonApiRelations, helseid_tokens
from tests import factories as f
from tests.booking.booking_world import NOW, make_world
from tests.logcheck import personal_data_in
from tests.notifications import krr
from tests.notifications.helpers import EARLY, rows
from tests.notifications.krr import RECENT
from tests.registers.helseid import Clock, private_jwk, public_part

#: The fake KRR's fixtures.
fake, outage, krr_server, runtime = krr.fake, krr.outage, krr.krr_server, krr.runtime

CLIENT_ID = "tanntid-guardians"
MOTHER_MOBILE = "+4791111111"
FATHER_MOBILE = "+4792222222"


class Family:
    """Mother (with the children at A1) and father (A2), both with parental
    responsibility; a child of seven and one of sixteen (on ``NOW``). Only
    the children are local patients."""

    def __init__(self) -> None:
        rng = random.Random(20300301)
        self.clock = Clock()
        self.register = FakeRegister(clock=self.clock)
        self.key = private_jwk()
        self.register.add_client(CLIENT_ID, public_part(self.key))
        people = {"mother": (date(1990, 2, 1), "A1", "Kari", "Nordmann"),
                  "father": (date(1988, 4, 1), "A2", "Per", "Hansen"),
                  "seven": (date(2022, 6, 1), "A1", "Ola", "Nordmann"),
                  "sixteen": (date(2013, 6, 1), "A1", "Eva", "Nordmann")}
        self.nin: dict[str, str] = {}
        for name, (born, address, given, family) in people.items():
            self.nin[name] = synthetic_number(born, rng)
            self.register.add_person(self.nin[name], born, address_id=address,
                                     given_name=given, family_name=family)
        for child in ("seven", "sixteen"):
            self.register.add_parent(self.nin["mother"], self.nin[child], role="Mother")
            self.register.add_parent(self.nin["father"], self.nin[child], role="Father")

    def source(self, db, url: str, http: httpx.AsyncClient) -> PersonApiRelations:
        tokens = helseid_tokens(authority=url, client_id=CLIENT_ID,
                                key=SigningKey.from_jwk(self.key), scope=PERSON_API_SCOPE,
                                http=http, clock=self.clock)
        return PersonApiRelations(db, PersonApiClient(base_url=url, tokens=tokens, http=http,
                                                      vault=f.VAULT))


@pytest.fixture
def family() -> Family:
    return Family()


@pytest.fixture
def person_api(family: Family) -> Iterator[str]:
    with serving(create_app(family.register)) as url:
        yield url


async def local_child(db, family: Family, name: str) -> int:
    async with db.write() as s:
        born = family.register.persons[family.nin[name]].birth_date
        return (await f.patient(s, born, identity_number=family.nin[name])).id


async def patient_by_nin(db, nin: str) -> Patient | None:
    async with db.read() as s:
        return (await s.execute(select(Patient).where(
            Patient.identity_hash == f.VAULT.lookup_hash(nin)))).scalar_one_or_none()


async def test_staff_booking_for_a_child_reaches_guardians_who_never_logged_in(
        db, family, person_api, fake, runtime, sms):
    w = await make_world(db)
    child_id = await local_child(db, family, "seven")
    staff = Actor.staff("desk-1", {w.clinic.id})
    fake.active(family.nin["mother"], MOTHER_MOBILE, verified=RECENT)
    fake.active(family.nin["father"], FATHER_MOBILE, verified=RECENT)
    async with httpx.AsyncClient() as http:
        source = family.source(db, person_api, http)
        out = await staff_booking.book_for(
            db, staff, patient_id=child_id, slot_id=w.slots[0].id,
            appointment_type_id=w.child_exam.id, reason="recall by phone",
            guardians=source, now=EARLY)

    mother = await patient_by_nin(db, family.nin["mother"])
    father = await patient_by_nin(db, family.nin["father"])
    assert mother is not None and father is not None
    assert (mother.given_name, mother.family_name, mother.birth_date) == (
        "Kari", "Nordmann", date(1990, 2, 1))
    async with db.read() as s:
        guardians = set((await s.execute(select(Guardianship.guardian_id).where(
            Guardianship.child_id == child_id))).scalars())
        registered = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "patient.register"))).scalars().all()
    assert guardians == {mother.id, father.id}
    assert {e.subject_patient_id for e in registered} == {mother.id, father.id}
    assert {e.actor_id for e in registered} == {"system:population-register"}
    assert all(e.detail == {"guardian_of": child_id} for e in registered)

    # Under twelve with a guardian at the child's address: both guardians, not the child.
    notes = await rows(db, appointment_id=out.appointment.id, channel=Channel.SMS,
                       purpose=Purpose.CONFIRMATION)
    assert {(n.recipient_id, n.recipient_role) for n in notes} == {
        (mother.id, "guardian"), (father.id, "guardian")}
    for note in notes:
        assert await jobs.deliver(runtime, note.id) == "accepted"
    assert {m.to_e164 for m in sms.messages} == {MOTHER_MOBILE, FATHER_MOBILE}


async def test_sixteen_and_over_gets_their_own_notice_and_no_guardian_is_asked_for(
        db, family, person_api):
    w = await make_world(db)
    child_id = await local_child(db, family, "sixteen")
    async with httpx.AsyncClient() as http:
        out = await staff_booking.book_for(
            db, Actor.staff("desk-1", {w.clinic.id}), patient_id=child_id,
            slot_id=w.slots[1].id, appointment_type_id=w.child_exam.id, reason="phone",
            guardians=family.source(db, person_api, http), now=NOW)
    assert await patient_by_nin(db, family.nin["mother"]) is None
    notes = await rows(db, appointment_id=out.appointment.id, channel=Channel.SMS,
                       purpose=Purpose.CONFIRMATION)
    assert {(n.recipient_id, n.recipient_role) for n in notes} == {(child_id, "self")}


async def test_change_and_cancel_tell_the_guardians_too(db, family, person_api):
    w = await make_world(db)
    child_id = await local_child(db, family, "seven")
    staff = Actor.staff("desk-1", {w.clinic.id})
    async with httpx.AsyncClient() as http:
        source = family.source(db, person_api, http)
        booked = await staff_booking.book_for(
            db, staff, patient_id=child_id, slot_id=w.slots[0].id,
            appointment_type_id=w.child_exam.id, reason="phone", now=NOW)
        # Booked without asking the register: only the child is known.
        first = await rows(db, appointment_id=booked.appointment.id, channel=Channel.SMS)
        assert {n.recipient_id for n in first} == {child_id}
        moved = await staff_booking.change_for(
            db, staff, appointment_id=booked.appointment.id, new_slot_id=w.slots[2].id,
            reason="clinic moved it", guardians=source, now=NOW)
        cancelled = await staff_booking.cancel_for(
            db, staff, appointment_id=moved.appointment.id, reason="dentist ill",
            guardians=source, now=NOW)
    mother = await patient_by_nin(db, family.nin["mother"])
    father = await patient_by_nin(db, family.nin["father"])
    assert mother is not None and father is not None
    for appointment_id in (moved.appointment.id, cancelled.appointment.id):
        notes = await rows(db, appointment_id=appointment_id, channel=Channel.SMS)
        assert {mother.id, father.id} <= {n.recipient_id for n in notes}
    # The register asked twice, the guardians registered once.
    async with db.read() as s:
        registered = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "patient.register"))).scalars().all()
    assert len(registered) == 2


async def test_a_register_that_cannot_answer_does_not_stop_the_booking(db, family):
    w = await make_world(db)
    child_id = await local_child(db, family, "seven")
    async with httpx.AsyncClient() as http:
        source = family.source(db, "http://127.0.0.1:9", http)  # nothing listens there
        out = await staff_booking.book_for(
            db, Actor.staff("desk-1", {w.clinic.id}), patient_id=child_id,
            slot_id=w.slots[0].id, appointment_type_id=w.child_exam.id, reason="phone",
            guardians=source, now=NOW)
    assert out.appointment.patient_id == child_id
    assert await patient_by_nin(db, family.nin["mother"]) is None


async def test_no_identity_number_reaches_the_logs(db, family, person_api, caplog, capsys):
    w = await make_world(db)
    child_id = await local_child(db, family, "seven")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    async with httpx.AsyncClient() as http:
        await staff_booking.book_for(
            db, Actor.staff("desk-1", {w.clinic.id}), patient_id=child_id,
            slot_id=w.slots[0].id, appointment_type_id=w.child_exam.id, reason="phone",
            guardians=family.source(db, person_api, http), now=NOW)
    captured = capsys.readouterr()
    text = "\n".join([*(r.getMessage() for r in caplog.records), captured.out, captured.err])
    assert "person_api.guardians" in text and "HTTP Request: POST" in text
    assert personal_data_in(text) == []
    assert not any(nin in text for nin in family.nin.values())
