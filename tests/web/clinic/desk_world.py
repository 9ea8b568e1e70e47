"""The reception desk's world for booking on a patient's behalf: Oslo with
Grünerløkka (two chairs; Kari with an appointment there, Eva another patient
of the clinic, a released, an unreleased and a free slot) and Majorstuen
(Per's appointment), and Rogaland with Stavanger; and the signed link to a
patient's page for staff."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.applications import Starlette

from booking.models import Appointment
from booking.rules import local_date
from booking.statuses import SlotStatus
from core.db import Database, utcnow
from core.identity import synthetic_number
from core.locale import OSLO
from tests import factories as f
from tests.web.clinic.world import GRUNERLOKKA, MAJORSTUEN, STAVANGER
from web import signing
from web.views.clinic.patients import TOKEN_PURPOSE

_rng = random.Random(1313)


@dataclass(frozen=True)
class DeskWorld:
    kari_id: int
    kari_pid: str
    per_id: int  # a patient with an appointment only at Majorstuen
    eva_id: int  # another patient of Grünerløkka (an appointment the next day)
    chair_id: int
    chair2_id: int
    released_slot: int
    unreleased_slot: int
    free_slot: int
    kari_appointment: int
    per_appointment: int
    exam_id: int
    day: date  # the day of the slots (Oslo)
    starts: datetime  # the first slot's start


async def build_world(db: Database) -> DeskWorld:
    now = utcnow()
    day = local_date(now) + timedelta(days=2)
    starts = datetime(day.year, day.month, day.day, 9, tzinfo=OSLO)
    async with db.write() as s:
        oslo = await f.county(s, code="03", name="Oslo")
        rogaland = await f.county(s, code="11", name="Rogaland")
        grunerlokka = await f.clinic(s, oslo, slug=GRUNERLOKKA, name="Grünerløkka")
        majorstuen = await f.clinic(s, oslo, slug=MAJORSTUEN, name="Majorstuen")
        await f.clinic(s, rogaland, slug=STAVANGER, name="Stavanger")
        chair = await f.chair(s, grunerlokka, name="Stol 1")
        chair2 = await f.chair(s, grunerlokka, name="Stol 2")
        other_chair = await f.chair(s, majorstuen, name="Stol A")
        exam = await f.appointment_type(s, oslo.id, code="exam", min_age=18,
                                        duration_minutes=30, min_notice_hours=72,
                                        names={"nb": "Undersøkelse", "nn": "Undersøking",
                                               "en": "Check-up", "se": "Dárkkisteapmi"})
        template = await f.template(s, chair, [exam])
        kari_pid = synthetic_number(date(1980, 5, 17), _rng)
        kari = await f.patient(s, date(1980, 5, 17), identity_number=kari_pid,
                               given_name="Kari", family_name="Nordmann")
        per = await f.patient(s, date(1975, 1, 2), given_name="Per", family_name="Hansen")
        eva = await f.patient(s, date(1990, 3, 3), given_name="Eva", family_name="Berg")
        released = await f.slot(s, chair, starts, template)
        unreleased = await f.slot(s, chair, starts + timedelta(minutes=30), template,
                                  released=False)
        free = await f.slot(s, chair2, starts + timedelta(hours=2), template)
        booked = await f.slot(s, chair, starts + timedelta(hours=3), template,
                              status=SlotStatus.BOOKED)
        other = await f.slot(s, other_chair, starts, None, status=SlotStatus.BOOKED)
        eva_slot = await f.slot(s, chair2, starts + timedelta(days=1), template,
                                status=SlotStatus.BOOKED)
        rows = []
        for patient, slot_row in ((kari, booked), (per, other), (eva, eva_slot)):
            row = Appointment(
                patient_id=patient.id, clinic_id=slot_row.clinic_id, chair_id=slot_row.chair_id,
                slot_id=slot_row.id, appointment_type_id=exam.id, starts_at=slot_row.starts_at,
                ends_at=slot_row.ends_at, status="booked", source="self",
                created_by_kind="patient", created_by=f"patient:{patient.id}")
            s.add(row)
            await s.flush()
            row.chain_id = row.id
            rows.append(row)
        await s.flush()
    return DeskWorld(kari.id, kari_pid, per.id, eva.id, chair.id, chair2.id, released.id,
                     unreleased.id, free.id, rows[0].id, rows[1].id, exam.id, day,
                     starts)


def patient_base(app: Starlette, patient_id: int, slug: str = GRUNERLOKKA) -> str:
    token = signing.sign(TOKEN_PURPOSE, patient_id * 8, utcnow() + timedelta(hours=1),
                         app.state.settings.secret_key)
    return f"/staff/klinikk/{slug}/pasient/{token}"
