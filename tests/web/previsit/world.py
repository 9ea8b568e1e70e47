"""A small world for the pre-visit form and call me back: Oslo county ("03",
where the local staff test users work), the clinic at Grünerløkka (its
reception is a test user) and the one at Majorstuen (another clinic, same
county); a guardian with four children whose birthdays are today (turning
11, 12, 15 and 16, by the Oslo date) and one who turns 12 tomorrow; another
family; an adult with a mobile number. Each has an appointment at
Grünerløkka in five days."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import AuditEntry, Patient
from booking.rules import local_date
from core.db import Database, utcnow
from core.identity import IdentityVault, synthetic_number
from tests import factories
from tests.web.patient.world import Person, add_appointment, hours_from_now

_rng = random.Random(1515)
ADULT_MOBILE = "+4791234567"
GUARDIAN_MOBILE = "+4798765432"


@dataclass(frozen=True)
class VisitWorld:
    clinic_id: int
    clinic_slug: str
    other_clinic_id: int
    other_clinic_slug: str
    guardian: Person
    #: The guardian's children by the age they turn today ("11", "12", "15",
    #: "16"), and "11+" who turns 12 tomorrow.
    children: dict[str, Person]
    stranger: Person
    stranger_child: Person
    adult: Person
    no_mobile: Person
    #: Appointment ids by person name ("adult", "guardian", "11", "12", …).
    appointments: dict[str, int]
    other_clinic_appointment: int


def years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


async def _person(session, vault: IdentityVault, given: str, birth: date, address: str,
                  mobile: str | None = None) -> Person:
    number = synthetic_number(birth, _rng)
    while await session.scalar(select(Patient.id).where(
            Patient.identity_hash == vault.lookup_hash(number))) is not None:
        number = synthetic_number(birth, _rng)
    row = await factories.patient(
        session, birth, identity_hash=vault.lookup_hash(number),
        identity_encrypted=vault.encrypt(number), given_name=given, family_name="Besøksen",
        address_key=address, mobile=mobile)
    return Person(row.id, number, given)


async def build_visit_world(app: Starlette, now: datetime | None = None) -> VisitWorld:
    db: Database = app.state.db
    vault: IdentityVault = app.state.vault
    today = local_date(now or utcnow())
    async with db.write() as session:
        oslo = await factories.county(session, code="03", name="Oslo")
        await factories.county(session, code="11", name="Rogaland")
        clinic = await factories.clinic(session, oslo, name="Tannklinikken Grünerløkka",
                                        slug="tannklinikken-grunerlokka")
        other = await factories.clinic(session, oslo, name="Tannklinikken Majorstuen",
                                       slug="tannklinikken-majorstuen")
        kind = await factories.appointment_type(session, oslo.id, late_cancellation_fee=False)
        guardian = await _person(session, vault, "Ingrid", years_ago(today, 41), "home-a",
                                 GUARDIAN_MOBILE)
        children = {
            "11": await _person(session, vault, "Emma", years_ago(today, 11), "home-a"),
            "11+": await _person(session, vault, "Ella",
                                 years_ago(today, 12) + timedelta(days=1), "home-a"),
            "12": await _person(session, vault, "Jonas", years_ago(today, 12), "home-a"),
            "15": await _person(session, vault, "Sofie", years_ago(today, 15), "home-a"),
            "16": await _person(session, vault, "Sara", years_ago(today, 16), "home-a"),
        }
        for child in children.values():
            await factories.guardianship(session, await session.get(Patient, guardian.id),
                                         await session.get(Patient, child.id))
        stranger = await _person(session, vault, "Marte", years_ago(today, 38), "home-b",
                                 "+4790000001")
        stranger_child = await _person(session, vault, "Noah", years_ago(today, 8), "home-b")
        await factories.guardianship(session, await session.get(Patient, stranger.id),
                                     await session.get(Patient, stranger_child.id))
        adult = await _person(session, vault, "Astrid", years_ago(today, 29), "home-c",
                              ADULT_MOBILE)
        no_mobile = await _person(session, vault, "Per", years_ago(today, 50), "home-d")
        people = {"guardian": guardian, **children, "stranger": stranger,
                  "stranger_child": stranger_child, "adult": adult, "no_mobile": no_mobile}
        appointments = {}
        for name, person in people.items():
            row = await add_appointment(session, clinic, person.id, kind,
                                        hours_from_now(24 * 5))
            appointments[name] = row.id
        elsewhere = await add_appointment(session, other, adult.id, kind, hours_from_now(24 * 6))
    return VisitWorld(clinic.id, clinic.slug, other.id, other.slug, guardian,
                      children, stranger, stranger_child, adult, no_mobile, appointments,
                      elsewhere.id)


async def audit_rows(db: Database, action: str) -> list[AuditEntry]:
    async with db.read() as session:
        return list((await session.execute(
            select(AuditEntry).where(AuditEntry.action == action)
            .order_by(AuditEntry.id))).scalars())
