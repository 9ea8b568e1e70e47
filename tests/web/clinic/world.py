"""The reception desk's world: Oslo ("03") with Grünerløkka (the receptionist
Hanne's clinic, two chairs) and Majorstuen (another clinic of the county),
and Rogaland ("11") with Stavanger. Today at Grünerløkka: Kari (adult) began
20 minutes ago, Emma (a child of 9, Kari is her guardian) starts in a quarter
of an hour; Kari also had one two days ago. Majorstuen and Stavanger each have one today."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from starlette.applications import Starlette

from booking.models import Appointment, AuditEntry, Chair, Clinic
from booking.rules import local_date
from booking.statuses import SlotStatus, Source
from core.db import Database, utcnow
from core.identity import IdentityVault, synthetic_number
from tests import factories
from tests.clock import earlier_today, later_today

_rng = random.Random(1301)
GRUNERLOKKA = "tannklinikken-grunerlokka"
MAJORSTUEN = "tannklinikken-majorstuen"
STAVANGER = "tannklinikken-stavanger-sentrum"


@dataclass(frozen=True)
class ClinicWorld:
    kari_id: int
    kari_pid: str
    emma_id: int
    per_id: int  # a patient only in Rogaland
    per_pid: str
    ola_id: int  # a patient only at Majorstuen
    ola_pid: str
    now_id: int  # Kari, today, started 20 minutes ago
    soon_id: int  # Emma, today, in 15 minutes
    earlier_id: int  # Kari, two days ago
    majorstuen_id: int
    stavanger_id: int
    chair_names: tuple[str, str]


async def _appointment(session, clinic: Clinic, chair: Chair, patient_id: int, kind,
                       starts_at) -> Appointment:
    slot = await factories.slot(session, chair, starts_at, minutes=kind.duration_minutes,
                                status=SlotStatus.BOOKED, released=False)
    row = Appointment(
        patient_id=patient_id, clinic_id=clinic.id, chair_id=chair.id, slot_id=slot.id,
        appointment_type_id=kind.id, starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=kind.duration_minutes), status="booked",
        source=Source.RECORD_SYSTEM, created_by_kind="record_system",
        created_by="system:record-system", clinic_issued=True)
    session.add(row)
    await session.flush()
    row.chain_id = row.id
    await session.flush()
    return row


async def _person(session, vault: IdentityVault, given: str, family: str, birth: date,
                  mobile: str | None = None):
    number = synthetic_number(birth, _rng)
    row = await factories.patient(session, birth, identity_number=number,
                                  identity_hash=vault.lookup_hash(number),
                                  identity_encrypted=vault.encrypt(number),
                                  given_name=given, family_name=family, mobile=mobile)
    return row, number


async def build_clinic_world(app: Starlette) -> ClinicWorld:
    db: Database = app.state.db
    vault: IdentityVault = app.state.vault
    now = utcnow().replace(second=0, microsecond=0)
    today = local_date(now)
    async with db.write() as session:
        oslo = await factories.county(session, code="03", name="Oslo")
        rogaland = await factories.county(session, code="11", name="Rogaland")
        grunerlokka = await factories.clinic(session, oslo, name="Tannklinikken Grünerløkka",
                                             slug=GRUNERLOKKA)
        majorstuen = await factories.clinic(session, oslo, name="Tannklinikken Majorstuen",
                                            slug=MAJORSTUEN)
        stavanger = await factories.clinic(session, rogaland, name="Tannklinikken Stavanger",
                                           slug=STAVANGER)
        chair1 = await factories.chair(session, grunerlokka, name="Rom 1")
        chair2 = await factories.chair(session, grunerlokka, name="Rom 2")
        chair_m = await factories.chair(session, majorstuen, name="Rom 1")
        chair_s = await factories.chair(session, stavanger, name="Rom 1")
        kind = await factories.appointment_type(session, oslo.id)
        short = await factories.appointment_type(
            session, oslo.id, duration_minutes=10,
            names={"nb": "Kontroll", "nn": "Kontroll", "en": "Check", "se": "Dárkkisteapmi"})
        kind_r = await factories.appointment_type(session, rogaland.id)
        kari, kari_pid = await _person(session, vault, "Kari", "Nordmann", date(1980, 5, 17),
                                       mobile="+4791234567")
        emma, _ = await _person(session, vault, "Emma", "Nordmann",
                                date(today.year - 9, 1, 10))
        await factories.guardianship(session, kari, emma)
        per, per_pid = await _person(session, vault, "Per", "Vestlending", date(1975, 3, 2))
        ola, ola_pid = await _person(session, vault, "Ola", "Majorsen", date(1990, 2, 3))
        started = await _appointment(session, grunerlokka, chair1, kari.id, kind,
                                     earlier_today(now, timedelta(minutes=20)))
        soon = await _appointment(session, grunerlokka, chair2, emma.id, short,
                                  later_today(now, timedelta(minutes=15)))
        earlier = await _appointment(session, grunerlokka, chair1, kari.id, kind,
                                     now - timedelta(days=2))
        other = await _appointment(session, majorstuen, chair_m, ola.id, kind,
                                   earlier_today(now, timedelta(minutes=20)))
        far = await _appointment(session, stavanger, chair_s, per.id, kind_r,
                                 earlier_today(now, timedelta(minutes=20)))
    return ClinicWorld(kari.id, kari_pid, emma.id, per.id, per_pid, ola.id, ola_pid,
                       started.id, soon.id, earlier.id, other.id, far.id, ("Rom 1", "Rom 2"))


async def audit_rows(db: Database, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    async with db.read() as session:
        return list((await session.execute(query)).scalars())


async def appointment(db: Database, appointment_id: int) -> Appointment:
    async with db.read() as session:
        row = await session.get(Appointment, appointment_id)
        assert row is not None
        return row
