"""Seeding the demo data (:mod:`demo.data`, :mod:`demo.people`) for the
embedded default and for tests: schedules, slots and a few appointments too.

:func:`seed_demo` is idempotent and deterministic. Each row is found again by
a stable natural key before it is created: county code, clinic slug, chair
(clinic, name), appointment type (county, code), patient identity hash,
guardianship (guardian, child), appointment idempotency key / external
reference. Running it twice creates nothing the second time.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import rules, service
from booking.audit import Actor
from booking.holidays import is_public_holiday
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
from booking.reasons import Reason
from booking.schedule import generate_slots
from booking.statuses import ACTIVE, SlotStatus
from core.db import Database
from core.identity import IdentityVault
from core.locale import OSLO
from demo.data import (
    ACCESSIBILITY,
    ADULT_CHAIR_DAY,
    APPOINTMENT_TYPES,
    BOOKING_HORIZON_DAYS,
    CHANGE_CUTOFF_HOURS,
    CHILD_CHAIR_DAY,
    CLINIC_BY_SLUG,
    CLINICS,
    COUNTIES,
    DEMO_APPOINTMENTS,
    GENERIC_APPOINTMENTS,
    MAX_SELF_RESCHEDULES,
    OPENING_HOURS,
    PARKING,
    PAST_APPOINTMENTS,
    RECEPTION_DAY_CLINICS,
    RECEPTION_DAY_TIMES,
    UNRELEASED_TYPES,
    UNRELEASED_WEEKDAY,
    chair_count,
    chair_name,
)
from demo.history import deliver_history
from demo.people import (
    DEMO_PEOPLE_BY_KEY,
    PersonRow,
    demo_patient_ids,
    demo_rows,
    generic_patients,
    period,
)
from demo.weeks import seed_weeks

log = structlog.get_logger(__name__)


@dataclass
class SeedReport:
    """What one run of :func:`seed_demo` created (zero everywhere on a re-run)."""

    counties_created: int = 0
    clinics_created: int = 0
    chairs_created: int = 0
    appointment_types_created: int = 0
    templates_created: int = 0
    patients_created: int = 0
    guardianships_created: int = 0
    slots_created: int = 0
    appointments_created: int = 0

    @property
    def total_created(self) -> int:
        return sum(asdict(self).values())

    def __str__(self) -> str:
        return (f"created {self.counties_created} counties, {self.clinics_created} clinics, "
                f"{self.chairs_created} chairs, {self.appointment_types_created} appointment "
                f"types, {self.templates_created} schedule templates, "
                f"{self.patients_created} patients, {self.guardianships_created} "
                f"guardianships, {self.slots_created} slots, "
                f"{self.appointments_created} appointments")


async def seed_demo(db: Database, vault: IdentityVault, *, today: date,
                    weeks: int = 12) -> SeedReport:
    """Load the demo data for ``today`` and make slots for ``weeks`` weeks from
    it. Idempotent and deterministic; see the module's docstring."""
    if weeks <= 0:
        raise ValueError("weeks must be positive")
    report = SeedReport()
    now = datetime.combine(today, time(6, 0), tzinfo=UTC)
    demo = demo_rows(today)
    generic = generic_patients(today, {row.identity_number for row in demo})
    async with db.write() as session:
        await _seed_reference_data(session, report, today)
    async with db.write() as session:
        await _seed_patients(session, vault, report, today, demo + generic)
    report.slots_created += await generate_slots(db, start=today, weeks=weeks, now=now)
    bookings = _Bookings(db, vault, report, today, now, weeks, generic)
    await bookings.load()
    await bookings.past_appointments()
    # Twelve weeks of history for the county dashboards (demo/weeks.py).
    weeks_made = await seed_weeks(db, now=now, year=today.year)
    report.slots_created += weeks_made.slots
    report.appointments_created += weeks_made.appointments
    await deliver_history(db, now)  # their texts went out back then (demo/history.py)
    await bookings.demo_appointments()
    await bookings.generic_appointments()
    await bookings.reception_day()
    log.info("demo_seeded", **asdict(report))
    return report


async def _insert(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]
                  ) -> list[int]:
    """Insert ``rows`` in one statement (batched by the driver) and return
    their new ids in the order of ``rows``."""
    if not rows:
        return []
    result = await session.execute(
        insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


async def _seed_reference_data(session: AsyncSession, report: SeedReport, today: date) -> None:
    """Counties, appointment types, clinics, chairs and weekly templates, each
    kind in one bulk insert (in the order an insert one by one would take)."""
    counties = {code: county_id for code, county_id in await session.execute(
        select(County.code, County.id))}
    new_counties = [(code, name) for code, name in COUNTIES if code not in counties]
    ids = await _insert(session, County, [dict(code=code, name=name)
                                          for code, name in new_counties])
    counties.update((code, county_id) for (code, _), county_id in zip(new_counties, ids,
                                                                      strict=True))
    report.counties_created += len(new_counties)

    types = {(county_id, code): type_id for county_id, code, type_id in await session.execute(
        select(AppointmentType.county_id, AppointmentType.code, AppointmentType.id))}
    demo_counties = dict(COUNTIES)
    new_types: list[dict[str, Any]] = [
        dict(county_id=county_id, code=type_seed.code, names=dict(type_seed.names),
             duration_minutes=type_seed.duration_minutes, min_age=type_seed.min_age,
             max_age=type_seed.max_age, self_bookable=type_seed.self_bookable,
             booking_horizon_days=BOOKING_HORIZON_DAYS,
             min_notice_hours=type_seed.min_notice_hours,
             change_cutoff_hours=CHANGE_CUTOFF_HOURS,
             late_cancellation_fee=type_seed.late_cancellation_fee,
             max_self_reschedules=MAX_SELF_RESCHEDULES)
        for code, county_id in counties.items() if code in demo_counties
        for type_seed in APPOINTMENT_TYPES if (county_id, type_seed.code) not in types
    ]
    ids = await _insert(session, AppointmentType, new_types)
    types.update(((row["county_id"], row["code"]), type_id)
                 for row, type_id in zip(new_types, ids, strict=True))
    report.appointment_types_created += len(new_types)

    clinics = {slug: clinic_id for slug, clinic_id in await session.execute(
        select(Clinic.slug, Clinic.id))}
    new_clinics: list[dict[str, Any]] = []
    for seed in CLINICS:
        if seed.slug in clinics:
            continue
        pick = random.Random(f"tanntid-demo-notes:{seed.slug}")
        new_clinics.append(dict(
            county_id=counties[seed.county], slug=seed.slug, name=seed.name,
            street_address=seed.street, postal_code=seed.postal_code,
            postal_town=seed.postal_town, municipality_code=seed.municipality_code,
            municipality_name=seed.municipality_name, latitude=seed.latitude,
            longitude=seed.longitude, phone=seed.phone,
            opening_hours={day: list(hours) for day, hours in OPENING_HOURS.items()},
            accessibility=pick.choice(ACCESSIBILITY), parking=pick.choice(PARKING),
            public_transport=(f"Nærmeste holdeplass er {seed.stop}, "
                              f"ca. {seed.walk_minutes} minutters gange."),
        ))
    ids = await _insert(session, Clinic, new_clinics)
    clinics.update((row["slug"], clinic_id)
                   for row, clinic_id in zip(new_clinics, ids, strict=True))
    report.clinics_created += len(new_clinics)

    chairs = {(clinic_id, name): chair_id for clinic_id, name, chair_id in await session.execute(
        select(Chair.clinic_id, Chair.name, Chair.id))}
    with_templates = set((await session.execute(
        select(ScheduleTemplate.chair_id).distinct())).scalars())
    new_chairs: list[dict[str, Any]] = [dict(clinic_id=clinics[seed.slug], name=chair_name(index))
                  for seed in CLINICS for index in range(chair_count(seed.slug))
                  if (clinics[seed.slug], chair_name(index)) not in chairs]
    ids = await _insert(session, Chair, new_chairs)
    chairs.update(((row["clinic_id"], row["name"]), chair_id)
                  for row, chair_id in zip(new_chairs, ids, strict=True))
    report.chairs_created += len(new_chairs)

    # Weekly templates for chairs that have none yet (a clinic admin's own
    # changes to an existing schedule are left alone).
    valid_from = date(today.year - 1, 1, 1)
    new_templates: list[dict[str, Any]] = []
    template_types: list[list[int]] = []
    for seed in CLINICS:
        clinic_id = clinics[seed.slug]
        county_id = counties[seed.county]
        count = chair_count(seed.slug)
        for index in range(count):
            chair_id = chairs[(clinic_id, chair_name(index))]
            if chair_id in with_templates:
                continue
            day_plan = CHILD_CHAIR_DAY if index == 0 else ADULT_CHAIR_DAY
            for weekday in range(5):
                for part, tpl in enumerate(day_plan):
                    unreleased = (index == count - 1 and weekday == UNRELEASED_WEEKDAY
                                  and part == len(day_plan) - 1)
                    type_codes = UNRELEASED_TYPES if unreleased else tpl.types
                    new_templates.append(dict(
                        chair_id=chair_id, weekday=weekday, starts_at=tpl.starts_at,
                        ends_at=tpl.ends_at, slot_minutes=tpl.slot_minutes,
                        valid_from=valid_from, released=not unreleased))
                    template_types.append([types[(county_id, code)] for code in type_codes])
    ids = await _insert(session, ScheduleTemplate, new_templates)
    links = [dict(template_id=template_id, appointment_type_id=type_id)
             for template_id, type_ids in zip(ids, template_types, strict=True)
             for type_id in type_ids]
    if links:
        await session.execute(insert(schedule_template_types), links)
    report.templates_created += len(new_templates)


async def _seed_patients(session: AsyncSession, vault: IdentityVault, report: SeedReport,
                         today: date, rows: list[PersonRow]) -> None:
    hash_of = {row.identity_number: vault.lookup_hash(row.identity_number) for row in rows}
    existing: dict[bytes, int] = {}
    hashes = list(hash_of.values())
    for offset in range(0, len(hashes), 500):
        result = await session.execute(
            select(Patient.identity_hash, Patient.id)
            .where(Patient.identity_hash.in_(hashes[offset:offset + 500])))
        existing.update((bytes(h), patient_id) for h, patient_id in result)

    missing = [row for row in rows if hash_of[row.identity_number] not in existing]
    if missing:
        created_at = datetime.combine(today, time(5, 0), tzinfo=UTC)
        result = await session.execute(
            insert(Patient).returning(Patient.identity_hash, Patient.id),
            [dict(identity_hash=hash_of[row.identity_number],
                  identity_encrypted=vault.encrypt(row.identity_number),
                  given_name=row.given_name, family_name=row.family_name,
                  birth_date=row.birth_date, municipality_code=row.municipality_code,
                  address_key=row.address_key, confidential_address=row.confidential_address,
                  preferred_language=row.preferred_language, mobile=row.mobile,
                  created_at=created_at)
             for row in missing],
        )
        existing.update((bytes(h), patient_id) for h, patient_id in result)
        report.patients_created += len(missing)

    pairs = {(existing[hash_of[guardian]], existing[hash_of[row.identity_number]])
             for row in rows for guardian in row.guardian_numbers}
    child_ids = list({child for _, child in pairs})
    known: set[tuple[int, int]] = set()
    for offset in range(0, len(child_ids), 500):
        found = await session.execute(
            select(Guardianship.guardian_id, Guardianship.child_id)
            .where(Guardianship.child_id.in_(child_ids[offset:offset + 500])))
        known.update((guardian, child) for guardian, child in found)
    new_pairs = sorted(pairs - known)
    if new_pairs:
        await session.execute(insert(Guardianship), [
            dict(guardian_id=guardian, child_id=child) for guardian, child in new_pairs])
        report.guardianships_created += len(new_pairs)



def reception_day_date(today: date) -> date:
    """The day of the demo's reception day: ``today``, or on a weekend or
    public holiday the working day before."""
    day = today
    while day.weekday() >= 5 or is_public_holiday(day):
        day -= timedelta(days=1)
    return day


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=OSLO).astimezone(UTC)


class _Bookings:
    """Books the demo appointments through :mod:`booking.service`, so they
    obey every booking rule and are audited like any other."""

    def __init__(self, db: Database, vault: IdentityVault, report: SeedReport, today: date,
                 now: datetime, weeks: int, generic: list[PersonRow]) -> None:
        self.generic = generic
        self.db = db
        self.vault = vault
        self.report = report
        self.today = today
        self.now = now
        self.weeks = weeks
        self.period = period(today)
        self.people: dict[str, int] = {}
        self.clinics: dict[str, Clinic] = {}
        self.types: dict[tuple[int, str], AppointmentType] = {}
        self.done: dict[str, Appointment] = {}
        self.existing: dict[str, Appointment] = {}

    async def load(self) -> None:
        self.people = await demo_patient_ids(self.db, self.vault, today=self.today)
        async with self.db.read() as session:
            self.clinics = {row.slug: row
                            for row in (await session.execute(select(Clinic))).scalars()}
            self.types = {(row.county_id, row.code): row
                          for row in (await session.execute(select(AppointmentType))).scalars()}
            # Appointments an earlier run made, by their idempotency key or
            # external reference (both start with "demo-").
            rows = (await session.execute(
                select(Appointment).where(or_(Appointment.idempotency_key.like("demo-%"),
                                              Appointment.external_ref.like("demo-%")))
            )).scalars()
            for row in rows:
                for key in (row.idempotency_key, row.external_ref):
                    if key is not None:
                        self.existing[key] = row

    def _type(self, clinic: Clinic, code: str) -> AppointmentType:
        return self.types[(clinic.county_id, code)]

    def _existing(self, key: str) -> Appointment | None:
        return self.existing.get(key)

    async def _candidates(self, clinic_id: int, type_id: int, start: datetime, end: datetime,
                          released_only: bool) -> list[int]:
        query = (
            select(Slot.id)
            .join(schedule_template_types,
                  schedule_template_types.c.template_id == Slot.template_id)
            .where(Slot.clinic_id == clinic_id, Slot.status == SlotStatus.FREE,
                   schedule_template_types.c.appointment_type_id == type_id,
                   Slot.starts_at >= start, Slot.starts_at < end)
            .order_by(Slot.starts_at, Slot.chair_id)
            .limit(25)
        )
        if released_only:
            query = query.where(Slot.released.is_(True))
        async with self.db.read() as session:
            return list((await session.execute(query)).scalars())

    async def _book(self, *, key: str, patient_id: int, clinic: Clinic, type_code: str,
                    actor: Actor, innkalling: bool, start: datetime, now: datetime,
                    fallback_start: datetime | None = None, end: datetime | None = None
                    ) -> Appointment | None:
        """Book the first slot from ``start`` (or, if none, from
        ``fallback_start``) to ``end`` that the rules allow; None if there is none."""
        kind = self._type(clinic, type_code)
        end = end or now + timedelta(days=kind.booking_horizon_days)
        self_service = rules.is_self_service(actor)
        for lower in (start, fallback_start):
            if lower is None:
                continue
            for slot_id in await self._candidates(clinic.id, kind.id, lower, end,
                                                  self_service):
                try:
                    outcome = await service.book(
                        self.db, actor, patient_id=patient_id, slot_id=slot_id,
                        appointment_type_id=kind.id, idempotency_key=key,
                        clinic_issued=innkalling, external_ref=key if innkalling else None,
                        now=now)
                except service.BookingRefused as refused:
                    if refused.reason in (Reason.SLOT_TAKEN, Reason.OVERLAPS_OTHER):
                        continue
                    log.info("demo_booking_skipped", reason=refused.reason.value)
                    return None
                if not outcome.replayed:
                    self.report.appointments_created += 1
                return outcome.appointment
        log.info("demo_booking_skipped", reason="no_free_slot")
        return None

    def _key(self, plan_by: str, tag: str) -> str:
        if plan_by == "innkalling":
            return f"demo-innkalling-{self.period}-{tag}"
        return f"demo-{self.period}-{tag}"

    def _actor(self, by: str, patient_id: int) -> Actor:
        if by == "self":
            return Actor.patient(patient_id)
        if by.startswith("guardian:"):
            return Actor.guardian(self.people[by.split(":", 1)[1]], {patient_id})
        return Actor.record_system("demo-journal")

    async def demo_appointments(self) -> None:
        for plan in DEMO_APPOINTMENTS:
            key = self._key(plan.by, plan.tag)
            existing = self._existing(key)
            if existing is None:
                patient_id = self.people[plan.person]
                clinic = self.clinics[DEMO_PEOPLE_BY_KEY[plan.person].clinic]
                previous = self.done.get(plan.after) if plan.after else None
                start = (previous.ends_at if previous is not None
                         else _local(self.today + timedelta(days=plan.day), plan.at))
                existing = await self._book(
                    key=key, patient_id=patient_id, clinic=clinic, type_code=plan.type_code,
                    actor=self._actor(plan.by, patient_id), innkalling=plan.by == "innkalling",
                    start=start, now=self.now, fallback_start=self.now + timedelta(hours=3))
            if existing is None:
                continue
            self.done[plan.tag] = existing
            if plan.confirm and existing.status == "booked" and existing.starts_at > self.now:
                await service.confirm(self.db, Actor.patient(existing.patient_id),
                                      appointment_id=existing.id, now=self.now)

    async def past_appointments(self) -> None:
        """A few past appointments at the Oslo family's clinic: slots are made
        for the week they fall in, booked as the record system did then, and
        marked completed or not attended."""
        slugs = {DEMO_PEOPLE_BY_KEY[plan.person].clinic for plan in PAST_APPOINTMENTS}
        first = self.today - timedelta(days=max(plan.day for plan in PAST_APPOINTMENTS))
        self.report.slots_created += await generate_slots(
            self.db, start=first, weeks=1, clinic_ids=[self.clinics[s].id for s in slugs],
            now=self.now)
        recorder = Actor.record_system("demo-journal")
        for plan in PAST_APPOINTMENTS:
            key = self._key("innkalling", plan.tag)
            appointment = self._existing(key)
            if appointment is None:
                clinic = self.clinics[DEMO_PEOPLE_BY_KEY[plan.person].clinic]
                start = _local(self.today - timedelta(days=plan.day), plan.at)
                appointment = await self._book(
                    key=key, patient_id=self.people[plan.person], clinic=clinic,
                    type_code=plan.type_code, actor=recorder, innkalling=True, start=start,
                    now=start - timedelta(days=14), end=_local(first + timedelta(days=7),
                                                               time(0, 0)))
            if appointment is None or appointment.status not in ACTIVE:
                continue
            if appointment.starts_at < self.now:
                await service.record_attendance(
                    self.db, recorder, appointment_id=appointment.id, attended=plan.attended,
                    now=appointment.ends_at + timedelta(minutes=30))

    async def generic_appointments(self) -> None:
        """Appointments for some generic patients, so day lists look lived-in."""
        rng = random.Random(f"tanntid-demo-generic-appointments:{self.today.year}")
        hashes = [self.vault.lookup_hash(row.identity_number) for row in self.generic]
        async with self.db.read() as session:
            result = await session.execute(
                select(Patient.identity_hash, Patient.id)
                .where(Patient.identity_hash.in_(hashes)))
            ids = {bytes(h): patient_id for h, patient_id in result}
        present = [i for i, identity_hash in enumerate(hashes) if identity_hash in ids]
        chosen = sorted(rng.sample(present, min(GENERIC_APPOINTMENTS, len(present))))
        last_day = max(1, 7 * self.weeks - 2)
        for index in chosen:
            row = self.generic[index]
            age = rules.age_on(row.birth_date, self.today)
            type_code = ("child-exam" if age <= 18
                         else rng.choice(("adult-exam", "adult-exam", "hygienist")))
            innkalling = age <= 18 or rng.random() < 0.4
            day = rng.randint(1, last_day)
            at = time(rng.choice((8, 9, 10, 12, 13, 14)), 0)
            key = f"demo-{self.today.year}-generic-{index}"
            if innkalling:
                key = f"demo-innkalling-{self.today.year}-generic-{index}"
            if self._existing(key) is not None:
                continue
            patient_id = ids[hashes[index]]
            await self._book(
                key=key, patient_id=patient_id, clinic=self.clinics[row.clinic],
                type_code=type_code,
                actor=self._actor("innkalling" if innkalling else "self", patient_id),
                innkalling=innkalling, start=_local(self.today + timedelta(days=day), at),
                now=self.now, fallback_start=self.now + timedelta(hours=3))


    async def reception_day(self) -> None:
        """A lived-in day at the reception test users' clinics: generic
        patients of the county with clinic-issued appointments through the
        day (:data:`RECEPTION_DAY_TIMES`), booked as the record system did
        the day before."""
        day = reception_day_date(self.today)
        clinic_ids = [self.clinics[slug].id for slug in RECEPTION_DAY_CLINICS]
        if day < self.today:
            self.report.slots_created += await generate_slots(
                self.db, start=day, weeks=1, clinic_ids=clinic_ids, now=self.now)
        recorder = Actor.record_system("demo-journal")
        hashes = {row.identity_number: self.vault.lookup_hash(row.identity_number)
                  for row in self.generic}
        async with self.db.read() as session:
            ids = {bytes(h): patient_id for h, patient_id in await session.execute(
                select(Patient.identity_hash, Patient.id)
                .where(Patient.identity_hash.in_(list(hashes.values()))))}
        for slug in RECEPTION_DAY_CLINICS:
            clinic = self.clinics[slug]
            county = CLINIC_BY_SLUG[slug].county
            people = [row for row in self.generic
                      if CLINIC_BY_SLUG[row.clinic].county == county
                      and hashes[row.identity_number] in ids]
            for index, at in enumerate(RECEPTION_DAY_TIMES):
                if not people:
                    break
                row = people[(index * 7) % len(people)]
                key = f"demo-innkalling-{day.isoformat()}-desk-{slug}-{index}"
                if self._existing(key) is not None:
                    continue
                start = _local(day, at)
                age = rules.age_on(row.birth_date, day)
                await self._book(
                    key=key, patient_id=ids[hashes[row.identity_number]], clinic=clinic,
                    type_code="child-exam" if age <= 18 else "adult-exam", actor=recorder,
                    innkalling=True, start=start, now=min(self.now, start - timedelta(hours=1)),
                    end=start + timedelta(minutes=30))
