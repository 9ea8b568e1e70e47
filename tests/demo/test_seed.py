"""The demo seed: content, rules it must obey, idempotency.

The seed is the expensive part: the tests of the seed share one seeded
database per engine (:func:`seeded`), seeded once for the module under the
suite's clock. The content test only reads; the idempotency test seeds again
on top, which adds only a later day's slots, and compares counts it takes
itself, so the two pass in either order. Under pytest-xdist they are one
group, so that one worker seeds each engine once."""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from booking import rules
from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Clinic,
    County,
    Guardianship,
    Patient,
    ScheduleTemplate,
    Slot,
    schedule_template_types,
)
from booking.statuses import ACTIVE
from core import identity
from core.db import Database
from core.identity import IdentityVault
from demo.data import CLINICS, chair_count, slugify
from demo.people import DEMO_PEOPLE, demo_logins, demo_patient_ids
from demo.seed import SeedReport, seed_demo
from demo.weeks import KEY_PREFIX as WEEKS_PREFIX
from notifications.figures import weekly_figures
from tests.clock import frozen_clock
from tests.databases import postgres_database, sqlite_database

VAULT = IdentityVault.from_secret("demo-test-secret")
TODAY = date(2026, 3, 10)  # a Tuesday
WEEKS = 2

EXPECTED_COUNTIES = {
    "03": "Oslo", "11": "Rogaland", "15": "Møre og Romsdal", "18": "Nordland",
    "31": "Østfold", "32": "Akershus", "33": "Buskerud", "34": "Innlandet",
    "39": "Vestfold", "40": "Telemark", "42": "Agder", "46": "Vestland",
    "50": "Trøndelag", "55": "Troms", "56": "Finnmark",
}
MODELS = (County, Clinic, Chair, AppointmentType, ScheduleTemplate, Patient, Guardianship,
          Slot, Appointment)


@pytest.fixture(autouse=True, scope="module")
def _driver_logs_as_in_the_app() -> Iterator[None]:
    """The service caps the database drivers' loggers at WARNING
    (``web.logs.configure_logging``): aiosqlite's DEBUG lines carry statement
    parameters, and the demo patients have (invented) mobile numbers."""
    logger = logging.getLogger("aiosqlite")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


async def _counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {model.__name__: (await session.execute(
            select(func.count()).select_from(model))).scalar_one() for model in MODELS}


# --- Static data (no database) ------------------------------------------------

def test_slugify_is_ascii_and_url_safe() -> None:
    assert slugify("Tannklinikken Grünerløkka") == "tannklinikken-grunerlokka"
    assert slugify("Tannklinikken Kárášjohka") == "tannklinikken-karasjohka"
    assert slugify("Bærum Ås") == "baerum-as"
    assert slugify("Tannklinikken Mo i Rana") == "tannklinikken-mo-i-rana"


def test_static_clinic_data_is_consistent() -> None:
    slugs = [clinic.slug for clinic in CLINICS]
    assert len(slugs) == len(set(slugs))
    per_county = Counter(clinic.county for clinic in CLINICS)
    assert set(per_county) == set(EXPECTED_COUNTIES)
    assert min(per_county.values()) >= 3
    for clinic in CLINICS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", clinic.slug), clinic.slug
        # Municipality numbers begin with the county number.
        assert clinic.municipality_code.startswith(clinic.county), clinic.slug
        assert re.fullmatch(r"\d{4}", clinic.postal_code)
        assert re.fullmatch(r"\+47 \d{2} \d{2} \d{2} \d{2}", clinic.phone)
        assert 57.9 < clinic.latitude < 71.2 and 4.5 < clinic.longitude < 31.2
        assert 2 <= chair_count(clinic.slug) <= 4
    oslo = [clinic for clinic in CLINICS if clinic.county == "03"]
    assert {clinic.municipality_code for clinic in oslo} == {"0301"}
    assert all(clinic.phone.startswith("+47 2") for clinic in oslo)


def test_demo_logins_are_valid_stable_all_month_and_ages_hold() -> None:
    first = demo_logins(TODAY)
    numbers = [login.identity_number for login in first]
    assert len(numbers) == len(set(numbers)) == len(DEMO_PEOPLE)
    for login in first:
        parsed = identity.parse(login.identity_number, allow_synthetic=True)
        assert parsed.synthetic
        assert parsed.kind == ("dnr" if login.person.d_number else "fnr")
        assert "identity_number" not in repr(login) and login.identity_number not in repr(login)
    # The same numbers on every day of the month; the stated age on each day.
    for offset in range(31):
        day = date(2026, 3, 1) + timedelta(days=offset)
        logins = demo_logins(day)
        assert [login.identity_number for login in logins] == numbers
        for login in logins:
            assert rules.age_on(login.birth_date, day) == login.person.age
    # Ages hold on every day of a whole year (new persons each month).
    for offset in range(366):
        day = date(2025, 1, 1) + timedelta(days=offset)
        for login in demo_logins(day):
            assert rules.age_on(login.birth_date, day) == login.person.age, (day, login)


# --- The seed ----------------------------------------------------------------

@dataclass(frozen=True)
class Seeded:
    db: Database
    #: What the first run created, and the row counts right after it.
    report: SeedReport
    counts: dict[str, int]


@pytest_asyncio.fixture(
    scope="module", loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[Seeded]:
    """A database of the engine, seeded once for the module (see the module's
    docstring)."""
    databases = (sqlite_database(Path(tmp_path_factory.mktemp("demo-seed")))
                 if request.param == "sqlite" else postgres_database())
    async for db in databases:
        with frozen_clock():
            report = await seed_demo(db, VAULT, today=TODAY, weeks=WEEKS)
        yield Seeded(db, report, await _counts(db))


#: The tests on :func:`seeded` run on its event loop, and on one xdist worker.
ON_ITS_LOOP = pytest.mark.asyncio(loop_scope="module")
ONE_WORKER = pytest.mark.xdist_group("demo-seed")


@ON_ITS_LOOP
@ONE_WORKER
async def test_seed_content(seeded: Seeded) -> None:
    db, report, counts = seeded.db, seeded.report, seeded.counts
    assert report.counties_created == counts["County"] == 15
    assert report.clinics_created == counts["Clinic"] == len(CLINICS)
    assert report.chairs_created == counts["Chair"]
    assert report.appointment_types_created == counts["AppointmentType"] == 60
    assert report.patients_created == counts["Patient"] >= 200 + len(DEMO_PEOPLE)
    assert report.guardianships_created == counts["Guardianship"]
    assert report.slots_created == counts["Slot"] > 0
    assert report.appointments_created == counts["Appointment"] > len(DEMO_PEOPLE)

    async with db.read() as session:
        counties = {c.code: c for c in (await session.execute(select(County))).scalars()}
        clinics = list((await session.execute(select(Clinic))).scalars())
        chairs = list((await session.execute(select(Chair))).scalars())
        kinds = list((await session.execute(select(AppointmentType))).scalars())
        templates = list((await session.execute(select(ScheduleTemplate))).scalars())
        template_types = list(await session.execute(select(schedule_template_types)))
        patients = list((await session.execute(select(Patient))).scalars())
        guardianships = {(g.guardian_id, g.child_id)
                         for g in (await session.execute(select(Guardianship))).scalars()}

    assert {code: c.name for code, c in counties.items()} == EXPECTED_COUNTIES
    county_code = {c.id: code for code, c in counties.items()}

    # Clinics: at least three per county, in that county's municipalities.
    per_county = Counter(county_code[c.county_id] for c in clinics)
    assert set(per_county) == set(EXPECTED_COUNTIES) and min(per_county.values()) >= 3
    for clinic in clinics:
        assert clinic.municipality_code.startswith(county_code[clinic.county_id])
        assert clinic.name.startswith("Tannklinikken ")
        assert clinic.opening_hours == {str(d): ["08:00", "15:30"] for d in range(5)}
        assert clinic.accessibility and clinic.parking and clinic.public_transport
        assert clinic.slug.isascii()
    by_slug = {c.slug: c for c in clinics}
    grunerlokka = by_slug["tannklinikken-grunerlokka"]
    assert (grunerlokka.municipality_code, grunerlokka.postal_town) == ("0301", "Oslo")

    chairs_per_clinic = Counter(chair.clinic_id for chair in chairs)
    assert set(chairs_per_clinic) == {c.id for c in clinics}
    assert all(2 <= n <= 4 for n in chairs_per_clinic.values())

    # Appointment types: four per county with the agreed rules.
    per_code = defaultdict(list)
    for kind in kinds:
        per_code[kind.code].append(kind)
        assert set(kind.names) == {"nb", "nn", "en", "se"} and all(kind.names.values())
        assert (kind.booking_horizon_days, kind.change_cutoff_hours,
                kind.max_self_reschedules) == (90, 24, 2)
    assert {code: len(rows) for code, rows in per_code.items()} == {
        "child-exam": 15, "adult-exam": 15, "hygienist": 15, "acute": 15}
    child = per_code["child-exam"][0]
    assert (child.duration_minutes, child.min_age, child.max_age, child.self_bookable,
            child.late_cancellation_fee) == (30, 3, 18, True, False)
    adult = per_code["adult-exam"][0]
    assert (adult.duration_minutes, adult.min_age, adult.max_age, adult.self_bookable,
            adult.late_cancellation_fee) == (45, 19, None, True, True)
    hygienist = per_code["hygienist"][0]
    assert (hygienist.duration_minutes, hygienist.min_age, hygienist.self_bookable) == (
        45, 12, True)
    acute = per_code["acute"][0]
    assert (acute.duration_minutes, acute.self_bookable, acute.min_notice_hours) == (
        30, False, 0)
    assert child.names["nn"] == "Undersøking for born og unge"

    # Templates: every type fits the slots it is offered in; each clinic keeps
    # some unreleased time.
    kind_by_id = {kind.id: kind for kind in kinds}
    template_by_id = {t.id: t for t in templates}
    for template_id, type_id in template_types:
        template = template_by_id[template_id]
        assert template.slot_minutes >= kind_by_id[type_id].duration_minutes
        assert template.valid_from < TODAY
    chair_clinic = {chair.id: chair.clinic_id for chair in chairs}
    unreleased = {chair_clinic[t.chair_id] for t in templates if not t.released}
    assert unreleased == {c.id for c in clinics}

    # Every identity number is a valid synthetic one and found by its hash.
    for patient in patients:
        number = VAULT.decrypt(patient.identity_encrypted)
        assert identity.parse(number, allow_synthetic=True).synthetic
        assert VAULT.lookup_hash(number) == patient.identity_hash
        if patient.mobile is not None:
            assert re.fullmatch(r"\+47[49]\d{7}", patient.mobile)
    assert len({p.identity_hash for p in patients}) == len(patients)

    ids = await demo_patient_ids(db, VAULT, today=TODAY)
    assert set(ids) == {person.key for person in DEMO_PEOPLE}
    by_id = {p.id: p for p in patients}
    person = {key: by_id[patient_id] for key, patient_id in ids.items()}

    # The Oslo family: children 5, 11, 13 and 16, two guardians, one address.
    ages = {key: rules.age_on(person[key].birth_date, TODAY)
            for key in ("child-5", "child-11", "child-13", "child-16")}
    assert ages == {"child-5": 5, "child-11": 11, "child-13": 13, "child-16": 16}
    family = ["guardian-1", "guardian-2", "child-5", "child-11", "child-13", "child-16"]
    assert len({person[key].address_key for key in family}) == 1
    assert person["guardian-1"].address_key is not None
    assert all(person[key].municipality_code == "0301" for key in family)
    for guardian in ("guardian-1", "guardian-2"):
        assert rules.age_on(person[guardian].birth_date, TODAY) >= 18
        for child_key in ("child-5", "child-11", "child-13", "child-16"):
            assert (ids[guardian], ids[child_key]) in guardianships

    # The second family: guardians apart, the child lives with one of them.
    assert (ids["guardian-3"], ids["child-8"]) in guardianships
    assert (ids["guardian-4"], ids["child-8"]) in guardianships
    assert person["guardian-3"].address_key != person["guardian-4"].address_key
    assert person["child-8"].address_key == person["guardian-3"].address_key
    assert rules.age_on(person["child-8"].birth_date, TODAY) == 8

    # Confidential addresses: marked, and no address kept.
    assert person["confidential-adult"].confidential_address == "strengt_fortrolig"
    assert person["confidential-child"].confidential_address == "strengt_fortrolig"
    assert person["confidential-child"].has_confidential_address
    assert person["confidential-adult"].address_key is None
    assert person["confidential-adult-2"].confidential_address == "fortrolig"
    assert (ids["confidential-adult"], ids["confidential-child"]) in guardianships
    assert sum(p.has_confidential_address for p in patients) == 3

    # Languages and places of the single adults.
    assert person["adult-nynorsk"].preferred_language == "nn"
    for key in ("adult-sami-finnmark", "adult-sami-troms"):
        assert person[key].preferred_language == "se"
        assert person[key].municipality_code in ("5610", "5540")  # Kárášjohka, Gáivuotna
    assert person["adult-elderly"].mobile is None
    assert identity.parse(VAULT.decrypt(person["adult-d-number"].identity_encrypted),
                          allow_synthetic=True).kind == "dnr"

    # Generic patients are spread over every county.
    clinic_municipalities = {c.municipality_code: county_code[c.county_id] for c in clinics}
    spread = Counter(clinic_municipalities[p.municipality_code] for p in patients
                     if p.municipality_code is not None)
    assert set(spread) == set(EXPECTED_COUNTIES)


@ON_ITS_LOOP
@ONE_WORKER
async def test_seed_fills_the_dashboards_twelve_weeks(seeded: Seeded) -> None:
    """Oslo's dashboards after a fresh seed: every week has appointments,
    and over the weeks there are no-shows, cancellations at each notice,
    bookings by patients and by staff, texts delivered and failed, and
    Helsenorge messages."""
    async with seeded.db.read() as session:
        oslo = (await session.execute(select(County).where(County.code == "03"))).scalar_one()
    seeded_at = datetime.combine(TODAY, time(6, 0), tzinfo=UTC)
    weeks = (await weekly_figures(seeded.db, county_id=oslo.id, now=seeded_at,
                                  price_per_segment_ore=60)).weeks
    assert len(weeks) == 12
    assert all(week.appointments >= 10 for week in weeks[:-1])
    total = {name: sum(getattr(week, name) for week in weeks) for name in (
        "no_shows", "cancelled_under_24h", "cancelled_1_to_7_days", "cancelled_over_7_days",
        "by_patients", "by_staff", "sms_delivered", "sms_failed", "helsenorge_delivered")}
    assert all(total.values()), total
    assert sum(1 for week in weeks if week.no_shows) >= 8
    assert all(0 < (week.no_show_share or 0) < 0.3 for week in weeks[:-1] if week.no_shows)
    assert total["sms_failed"] < total["sms_delivered"] / 5


@ON_ITS_LOOP
@ONE_WORKER
async def test_seed_appointments_and_idempotency(seeded: Seeded) -> None:
    db, first = seeded.db, seeded.report
    assert first.appointments_created > 0
    before = await _counts(db)

    again = await seed_demo(db, VAULT, today=TODAY, weeks=WEEKS)
    assert again.total_created == 0, again
    assert await _counts(db) == before

    # A later day of the same month: the same persons, bookings and clinics;
    # only the new days' slots are made, and that day's reception day.
    later = await seed_demo(db, VAULT, today=TODAY + timedelta(days=3), weeks=WEEKS)
    assert later.total_created == later.slots_created + later.appointments_created, later
    assert later.slots_created > 0
    after = await _counts(db)
    assert {k: v for k, v in after.items() if k not in ("Slot", "Appointment")} == {
        k: v for k, v in before.items() if k not in ("Slot", "Appointment")}
    async with db.read() as session:
        keys = list((await session.execute(select(Appointment.idempotency_key))).scalars())
    desk = [key for key in keys if key and "-desk-" in key]
    assert after["Appointment"] - before["Appointment"] == later.appointments_created
    assert len(desk) >= later.appointments_created

    ids = await demo_patient_ids(db, VAULT, today=TODAY)
    async with db.read() as session:
        appointments = list((await session.execute(select(Appointment))).scalars())
        slots = {s.id: s for s in (await session.execute(select(Slot))).scalars()}
        patients = {p.id: p for p in (await session.execute(select(Patient))).scalars()}
        kinds = {k.id: k for k in (await session.execute(select(AppointmentType))).scalars()}
        template_types = set(await session.execute(select(schedule_template_types)))

    # One live appointment per slot, and each live one holds its slot.
    live = [a for a in appointments if a.status != "cancelled"]
    assert len({a.slot_id for a in live}) == len(live)
    for appointment in appointments:
        slot = slots[appointment.slot_id]
        kind = kinds[appointment.appointment_type_id]
        patient = patients[appointment.patient_id]
        assert appointment.starts_at == slot.starts_at
        assert slot.ends_at - slot.starts_at >= timedelta(minutes=kind.duration_minutes)
        age = rules.age_on(patient.birth_date, rules.local_date(slot.starts_at))
        assert kind.min_age <= age and (kind.max_age is None or age <= kind.max_age)
        if appointment.status in ACTIVE:
            assert slot.status == "booked"
        if appointment.source in ("self", "guardian"):
            assert slot.released and (slot.template_id, kind.id) in template_types
            assert kind.self_bookable

    mine = defaultdict(list)
    for appointment in appointments:
        mine[appointment.patient_id].append(appointment)

    # Clinic-issued notices (innkalling) for the 13- and 5-year-old.
    for key in ("child-13", "child-5"):
        upcoming = [a for a in mine[ids[key]] if a.status in ACTIVE]
        assert len(upcoming) == 1
        notice = upcoming[0]
        assert notice.clinic_issued and notice.source == "record_system"
        assert notice.external_ref is not None
        assert notice.external_ref.startswith("demo-innkalling-")
    # The 11-year-old was booked by a guardian, the 16-year-old by herself.
    (by_guardian,) = mine[ids["child-11"]]
    assert by_guardian.source == "guardian" and by_guardian.created_by == (
        f"patient:{ids['guardian-1']}")
    assert by_guardian.on_behalf_of_id == ids["child-11"]
    (own,) = mine[ids["child-16"]]
    assert own.source == "self" and not own.clinic_issued
    # One confirmed; some past ones completed and one not attended.
    (hygienist,) = mine[ids["guardian-2"]]
    assert hygienist.status == "confirmed"
    # (The dashboards' twelve weeks of history, demo/weeks.py, aside.)
    statuses = Counter(a.status for a in appointments
                       if not (a.idempotency_key or "").startswith(WEEKS_PREFIX))
    assert statuses["completed"] == 2 and statuses["no_show"] == 1
    assert sum(a.clinic_issued for a in appointments) >= 5
    seeded_at = datetime.combine(TODAY, time(6, 0), tzinfo=UTC)
    assert all(a.starts_at > seeded_at for a in appointments if a.status in ACTIVE)


@ON_ITS_LOOP
@ONE_WORKER
async def test_the_reception_day_is_lived_in(seeded: Seeded) -> None:
    """The reception test user's clinic has clinic-issued appointments on
    the day of seeding from 08:00, on several chairs, so the desk can mark
    a no-show; Astrid (adult-oslo) has one that afternoon to check in to."""
    from demo.data import RECEPTION_DAY_CLINICS
    slug = RECEPTION_DAY_CLINICS[0]
    async with seeded.db.read() as session:
        clinic_id = (await session.execute(
            select(Clinic.id).where(Clinic.slug == slug))).scalar_one()
        rows = list((await session.execute(select(Appointment).where(
            Appointment.clinic_id == clinic_id))).scalars())
    today = [a for a in rows if rules.local_date(a.starts_at) == TODAY
             and a.status in ACTIVE]
    desk = [a for a in today if a.idempotency_key and "-desk-" in a.idempotency_key]
    assert len(desk) >= 8 and all(a.clinic_issued for a in desk)
    assert len({a.chair_id for a in desk}) >= 2
    assert min(a.starts_at for a in desk) == datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    ids = await demo_patient_ids(seeded.db, VAULT, today=TODAY)
    assert any(a.patient_id == ids["adult-oslo"] for a in today)
