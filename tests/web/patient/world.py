"""A small world for the patient pages: one clinic, three appointment types,
a family (a guardian with children of 11, 13 and 16), another family, and a
single adult, each with appointments relative to now. Patients are created
with the app's own identity vault, so the local ID-porten logs them in."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from booking.models import Appointment, AppointmentType, AuditEntry, Clinic, Patient
from booking.rules import local_date
from booking.statuses import AppointmentStatus, SlotStatus, Source
from core.db import Database, utcnow
from core.identity import IdentityVault, synthetic_number
from tests import factories

CLINIC_PHONE = "+4722356140"
CLINIC_PHONE_SHOWN = "22 35 61 40"
_rng = random.Random(2024)


@dataclass(frozen=True)
class Person:
    id: int
    pid: str
    given_name: str


@dataclass(frozen=True)
class World:
    clinic: Clinic
    child_type: AppointmentType  # no fee, 24 h cut-off
    adult_type: AppointmentType  # fee, 24 h cut-off
    short_cutoff_type: AppointmentType  # fee, 2 h cut-off
    guardian: Person  # Ingrid: Emma (11), Jonas (13), Sara (16)
    child11: Person
    child13: Person
    child16: Person
    stranger: Person  # Marte: Noah (8), another family
    stranger_child: Person
    adult: Person  # Astrid, on her own
    #: Appointment ids by name.
    appointments: dict[str, int]


def born(age: int, today: date) -> date:
    """A birth date that makes ``age`` on every day of ``today``'s year."""
    return date(today.year - age, 1, 1)


async def _person(session: AsyncSession, vault: IdentityVault, given: str, age: int,
                  today: date, address: str) -> Person:
    birth = born(age, today)
    number = synthetic_number(birth, _rng)
    row = await factories.patient(
        session, birth, identity_hash=vault.lookup_hash(number),
        identity_encrypted=vault.encrypt(number), given_name=given, family_name="Testesen",
        address_key=address)
    return Person(row.id, number, given)


async def add_appointment(session: AsyncSession, clinic: Clinic, patient_id: int,
                          appointment_type: AppointmentType, starts_at: datetime, *,
                          status: AppointmentStatus = AppointmentStatus.BOOKED,
                          clinic_issued: bool = False) -> Appointment:
    chair = await factories.chair(session, clinic)
    minutes = appointment_type.duration_minutes
    slot = await factories.slot(session, chair, starts_at, minutes=minutes,
                                status=SlotStatus.BOOKED)
    row = Appointment(
        patient_id=patient_id, clinic_id=clinic.id, chair_id=chair.id, slot_id=slot.id,
        appointment_type_id=appointment_type.id, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes), status=status,
        source=Source.RECORD_SYSTEM, created_by_kind="record_system",
        created_by="system:record-system", clinic_issued=clinic_issued)
    session.add(row)
    await session.flush()
    row.chain_id = row.id
    await session.flush()
    return row


def hours_from_now(hours: float) -> datetime:
    return (utcnow() + timedelta(hours=hours)).replace(second=0, microsecond=0)


async def build_world(app: Starlette) -> World:
    db: Database = app.state.db
    vault: IdentityVault = app.state.vault
    today = local_date(utcnow())
    async with db.write() as session:
        county = await factories.county(session)
        clinic = await factories.clinic(session, county, name="Tannklinikken Testby",
                                        slug="tannklinikken-testby", phone=CLINIC_PHONE)
        child_type = await factories.appointment_type(
            session, county.id, late_cancellation_fee=False,
            names={"nb": "Undersøkelse for barn", "nn": "Undersøking for born",
                   "en": "Child check-up", "se": "Mánáid dárkkisteapmi"})
        adult_type = await factories.appointment_type(
            session, county.id, names={"nb": "Undersøkelse for voksne",
                                       "nn": "Undersøking for vaksne",
                                       "en": "Adult check-up",
                                       "se": "Rávesolbmuid dárkkisteapmi"})
        short_type = await factories.appointment_type(
            session, county.id, change_cutoff_hours=2,
            names={"nb": "Tannpleier", "nn": "Tannpleiar", "en": "Dental hygienist",
                   "se": "Bátnedikšu"})
        guardian = await _person(session, vault, "Ingrid", 41, today, "family-a")
        child11 = await _person(session, vault, "Emma", 11, today, "family-a")
        child13 = await _person(session, vault, "Jonas", 13, today, "family-a")
        child16 = await _person(session, vault, "Sara", 16, today, "family-a")
        stranger = await _person(session, vault, "Marte", 38, today, "family-b")
        stranger_child = await _person(session, vault, "Noah", 8, today, "family-b")
        adult = await _person(session, vault, "Astrid", 29, today, "single-c")
        for child in (child11, child13, child16):
            await factories.guardianship(session, await session.get(Patient, guardian.id),
                                         await session.get(Patient, child.id))
        await factories.guardianship(session, await session.get(Patient, stranger.id),
                                     await session.get(Patient, stranger_child.id))
        plan = {
            "guardian": (guardian, adult_type, 24 * 5),
            "child11": (child11, child_type, 24 * 6),
            "child13": (child13, child_type, 24 * 7),
            "child16": (child16, child_type, 24 * 8),
            "stranger": (stranger, adult_type, 24 * 4),
            "stranger_child": (stranger_child, child_type, 24 * 5 + 2),
            "adult": (adult, adult_type, 24 * 3),
        }
        appointments: dict[str, int] = {}
        for name, (person, kind, hours) in plan.items():
            row = await add_appointment(session, clinic, person.id, kind,
                                        hours_from_now(hours))
            appointments[name] = row.id
        for name, person in (("child11_past", child11), ("child13_past", child13)):
            row = await add_appointment(session, clinic, person.id, child_type,
                                        hours_from_now(-24 * 40),
                                        status=AppointmentStatus.COMPLETED)
            appointments[name] = row.id
    return World(clinic, child_type, adult_type, short_type, guardian, child11, child13,
                 child16, stranger, stranger_child, adult, appointments)


async def appointment_row(app: Starlette, appointment_id: int) -> Appointment:
    async with app.state.db.read() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        return row


async def audit_entries(app: Starlette, *, action: str | None = None,
                        subject: int | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if subject is not None:
        query = query.where(AuditEntry.subject_patient_id == subject)
    async with app.state.db.read() as session:
        return list((await session.execute(query)).scalars())


async def count_audit(app: Starlette) -> int:
    async with app.state.db.read() as session:
        return int((await session.execute(
            select(func.count()).select_from(AuditEntry))).scalar_one())
