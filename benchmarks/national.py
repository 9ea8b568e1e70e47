"""A national-scale data set: 15 counties, 400 clinics, 2,100 chairs, the
demo's appointment types in every county, weekly templates, and 1 million
synthetic patients.

Everything is invented and deterministic for a given ``seed``. Identity
numbers are synthetic numbers of the national test register's kind (month +
80, :func:`core.identity.synthetic_number`); each is hashed and encrypted
with :class:`core.identity.IdentityVault` exactly as the service stores
real ones, under a key that exists only for the benchmark. Nothing here is
ever printed: the benchmark reports counts and timings only.

Reference data goes in through SQLAlchemy Core with explicit ids (the schema
is fresh and private to the run). Patients are prepared in worker processes
(hashing and Fernet encryption dominate) and streamed into PostgreSQL with
``COPY`` through the engine's raw asyncpg connection.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing import get_context
from typing import Any, cast

from sqlalchemy import Table, insert, text

from booking.models import (
    AppointmentType,
    Chair,
    Clinic,
    County,
    ScheduleTemplate,
    schedule_template_types,
)
from booking.statuses import ConfidentialAddress
from core.db import Database
from core.identity import IdentityVault, synthetic_number
from demo.data import (
    ADULT_CHAIR_DAY,
    APPOINTMENT_TYPES,
    BOOKING_HORIZON_DAYS,
    CHANGE_CUTOFF_HOURS,
    CHILD_CHAIR_DAY,
    CLINICS,
    COUNTIES,
    MAX_SELF_RESCHEDULES,
    OPENING_HOURS,
    UNRELEASED_TYPES,
    UNRELEASED_WEEKDAY,
    ClinicSeed,
    slugify,
)

#: The full national scale; ``--scale`` multiplies clinics, chairs and patients.
FULL_CLINICS = 400
FULL_CHAIRS = 2_100
FULL_PATIENTS = 1_000_000
WEEKS = 12

#: Inhabitants per county (thousands, 2024, rounded): clinics and patients
#: are spread in proportion.
POPULATION: dict[str, int] = {
    "03": 717, "11": 499, "15": 272, "18": 243, "31": 311, "32": 723, "33": 271, "34": 373,
    "39": 256, "40": 177, "42": 318, "46": 651, "50": 482, "55": 170, "56": 75,
}

#: The secret the benchmark's identity hashes and ciphertexts are keyed with.
BENCH_SECRET = "tanntid-benchmark-only-not-a-real-key"

#: Identity numbers are split over at most this many chunks; chunk ``c`` uses
#: only individual numbers ``n`` with ``n % CHUNK_SPACES == c % CHUNK_SPACES``,
#: so two chunks prepared in different processes never make the same number.
CHUNK_SPACES = 20

_GIVEN = ("Anne", "Inger", "Kari", "Marit", "Ingrid", "Liv", "Eva", "Berit", "Astrid", "Nora",
          "Emma", "Sara", "Ida", "Maja", "Ella", "Jan", "Per", "Bjørn", "Ole", "Lars", "Kjell",
          "Knut", "Arne", "Jakob", "Emil", "Noah", "Oliver", "Filip", "Lukas", "Aksel",
          "Sofie", "Leah", "Ingvild", "Håkon", "Sindre", "Elias", "Mathias", "Iben", "Frida")
_FAMILY = ("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen",
           "Kristiansen", "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg",
           "Haugen", "Hagen", "Johannessen", "Andreassen", "Jacobsen", "Dahl", "Jørgensen",
           "Halvorsen", "Henriksen", "Lund", "Sørensen", "Jakobsen", "Moen", "Gundersen",
           "Iversen", "Strand", "Solberg", "Svendsen", "Eide", "Knutsen", "Martinsen",
           "Paulsen", "Bakken", "Kristoffersen", "Mathisen", "Lie", "Eira", "Hætta", "Somby")
_LANGUAGES: tuple[tuple[str | None, int], ...] = (
    (None, 85), ("nb", 8), ("nn", 4), ("en", 2), ("se", 1))
_CONFIDENTIAL: tuple[tuple[str, int], ...] = (
    (ConfidentialAddress.NONE.value, 9965), (ConfidentialAddress.CONFIDENTIAL.value, 30),
    (ConfidentialAddress.STRICTLY_CONFIDENTIAL.value, 5))

PATIENT_COLUMNS = (
    "identity_hash", "identity_encrypted", "given_name", "family_name", "birth_date",
    "municipality_code", "address_key", "confidential_address", "preferred_language",
    "mobile", "created_at",
)
PatientRecord = tuple[bytes, bytes, str, str, date, str, str, str, str | None, str | None,
                      datetime]


@dataclass(frozen=True)
class Shape:
    """How big the country is at a given scale."""

    clinics: int
    chairs: int
    patients: int
    weeks: int = WEEKS

    @classmethod
    def at(cls, scale: float, *, min_patients: int = 0) -> Shape:
        clinics = max(1, round(FULL_CLINICS * scale))
        chairs = max(2 * clinics, round(FULL_CHAIRS * scale))
        patients = max(min_patients, round(FULL_PATIENTS * scale))
        return cls(clinics, chairs, patients)


@dataclass
class Country:
    """Ids of what was made, for the measurements (no personal data)."""

    county_ids: dict[str, int] = field(default_factory=dict)
    clinic_county: dict[int, int] = field(default_factory=dict)  # clinic id -> county id
    #: (county id, type code) -> appointment type id
    type_ids: dict[tuple[int, str], int] = field(default_factory=dict)
    chairs: int = 0
    templates: int = 0
    patients: int = 0

    def self_bookable_types(self, clinic_id: int) -> list[int]:
        county_id = self.clinic_county[clinic_id]
        return [self.type_ids[(county_id, seed.code)] for seed in APPOINTMENT_TYPES
                if seed.self_bookable]

    def type_id(self, clinic_id: int, code: str) -> int:
        return self.type_ids[(self.clinic_county[clinic_id], code)]


def apportion(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` over the keys in proportion to ``weights`` (largest
    remainder), giving each key at least one while there are enough."""
    keys = sorted(weights, key=lambda k: -weights[k])
    floor = 1 if total >= len(keys) else 0
    rest = total - floor * len(keys)
    whole = sum(weights.values())
    shares = {k: rest * weights[k] / whole for k in keys}
    counts = {k: floor + int(shares[k]) for k in keys}
    left = total - sum(counts.values())
    for k in sorted(keys, key=lambda k: -(shares[k] - int(shares[k])))[:left]:
        counts[k] += 1
    return counts


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


async def create_reference_data(db: Database, shape: Shape, *, today: date,
                                seed: int = 2) -> Country:
    """Counties, clinics, chairs, appointment types and weekly templates."""
    rng = random.Random(f"tanntid-bench:{seed}")
    country = Country()
    counties: list[dict[str, Any]] = [dict(id=i + 1, code=code, name=name, quiet_hours=None)
                for i, (code, name) in enumerate(COUNTIES)]
    country.county_ids = {row["code"]: row["id"] for row in counties}

    types: list[dict[str, Any]] = []
    for county in counties:
        for type_seed in APPOINTMENT_TYPES:
            type_id = len(types) + 1
            country.type_ids[(county["id"], type_seed.code)] = type_id
            types.append(dict(
                id=type_id, county_id=county["id"], code=type_seed.code,
                names=dict(type_seed.names), duration_minutes=type_seed.duration_minutes,
                min_age=type_seed.min_age, max_age=type_seed.max_age,
                self_bookable=type_seed.self_bookable,
                booking_horizon_days=BOOKING_HORIZON_DAYS,
                min_notice_hours=type_seed.min_notice_hours,
                change_cutoff_hours=CHANGE_CUTOFF_HOURS,
                late_cancellation_fee=type_seed.late_cancellation_fee,
                max_self_reschedules=MAX_SELF_RESCHEDULES,
            ))

    places: dict[str, list[ClinicSeed]] = {}
    for clinic_seed in CLINICS:
        places.setdefault(clinic_seed.county, []).append(clinic_seed)
    per_county = apportion(shape.clinics, POPULATION)
    clinics: list[dict[str, Any]] = []
    for code, count in per_county.items():
        for n in range(count):
            place = places[code][n % len(places[code])]
            clinic_id = len(clinics) + 1
            name = f"Tannklinikken {place.place} {n // len(places[code]) + 1}"
            country.clinic_county[clinic_id] = country.county_ids[code]
            clinics.append(dict(
                id=clinic_id, county_id=country.county_ids[code],
                slug=f"{slugify(name)}-{clinic_id}", name=name,
                street_address=f"{place.street.rsplit(' ', 1)[0]} {rng.randint(1, 120)}",
                postal_code=place.postal_code, postal_town=place.postal_town,
                municipality_code=place.municipality_code,
                municipality_name=place.municipality_name,
                latitude=place.latitude + rng.uniform(-0.03, 0.03),
                longitude=place.longitude + rng.uniform(-0.05, 0.05),
                phone=f"+47 {rng.randint(21, 79)} {rng.randint(10, 99)} "
                      f"{rng.randint(10, 99)} {rng.randint(10, 99)}",
                opening_hours={day: list(hours) for day, hours in OPENING_HOURS.items()},
                accessibility="Trinnfri inngang og heis.", parking="Gateparkering.",
                public_transport=f"Nærmeste holdeplass er {place.stop}.", active=True,
            ))

    base, extra = divmod(shape.chairs, shape.clinics)
    bigger = set(rng.sample(range(shape.clinics), extra))
    chairs: list[dict[str, Any]] = []
    templates: list[dict[str, Any]] = []
    links: list[dict[str, int]] = []
    valid_from = date(today.year - 1, 1, 1)
    for index, clinic in enumerate(clinics):
        count = base + (1 if index in bigger else 0)
        for n in range(count):
            chair_id = len(chairs) + 1
            chairs.append(dict(id=chair_id, clinic_id=clinic["id"],
                               name=f"Behandlingsrom {n + 1}", active=True))
            day_plan = CHILD_CHAIR_DAY if n == 0 else ADULT_CHAIR_DAY
            for weekday in range(5):
                for part, template in enumerate(day_plan):
                    unreleased = (n == count - 1 and weekday == UNRELEASED_WEEKDAY
                                  and part == len(day_plan) - 1)
                    template_id = len(templates) + 1
                    templates.append(dict(
                        id=template_id, chair_id=chair_id, weekday=weekday,
                        starts_at=template.starts_at, ends_at=template.ends_at,
                        slot_minutes=template.slot_minutes, valid_from=valid_from,
                        valid_to=None, released=not unreleased,
                    ))
                    for code in (UNRELEASED_TYPES if unreleased else template.types):
                        links.append(dict(template_id=template_id,
                                          appointment_type_id=country.type_id(clinic["id"],
                                                                              code)))
    country.chairs, country.templates = len(chairs), len(templates)

    async with db.write() as session:
        for model, rows in ((County, counties), (AppointmentType, types), (Clinic, clinics),
                            (Chair, chairs), (ScheduleTemplate, templates)):
            for offset in range(0, len(rows), 5000):
                await session.execute(insert(_table(model)), rows[offset:offset + 5000])
        for offset in range(0, len(links), 5000):
            await session.execute(insert(schedule_template_types), links[offset:offset + 5000])
        # Explicit ids bypassed the sequences: move them past what exists.
        for model in (County, AppointmentType, Clinic, Chair, ScheduleTemplate):
            name = _table(model).name
            await session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {name}))"))
    return country


# --- Patients -----------------------------------------------------------------

class _ChunkRandom(random.Random):
    """A ``random.Random`` whose ``randrange(0, 1000)`` (the individual
    number :func:`synthetic_number` draws) stays in this chunk's residue class."""

    def __init__(self, seed: str, residue: int) -> None:
        super().__init__(seed)
        self.residue = residue

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if start == 0 and stop == 1000 and step == 1:
            return self.residue + CHUNK_SPACES * super().randrange(0, 1000 // CHUNK_SPACES)
        return super().randrange(start, stop, step)


def _pick(rng: random.Random, choices: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([value for value, _ in choices], [weight for _, weight in choices])[0]


def prepare_chunk(chunk: int, count: int, municipalities: Sequence[str], today: date,
                  seed: int = 2) -> tuple[list[PatientRecord], float]:
    """:func:`make_patients`, and the CPU seconds it took (in a worker process)."""
    cpu = time.process_time()
    records = make_patients(chunk, count, municipalities, today, seed)
    return records, time.process_time() - cpu


def make_patients(chunk: int, count: int, municipalities: Sequence[str], today: date,
                  seed: int = 2) -> list[PatientRecord]:
    """``count`` synthetic patients, ready for COPY (runs in a worker process).

    Ages 0–95, in households of one to four sharing an address key; about 90 %
    of those 12 or older have a mobile number (invented, never dialled).
    """
    vault = IdentityVault.from_secret(BENCH_SECRET)
    rng = _ChunkRandom(f"tanntid-bench-patients:{seed}:{chunk}", chunk % CHUNK_SPACES)
    taken: set[str] = set()
    created_at = datetime.now(UTC)
    records: list[PatientRecord] = []
    household = 0
    household_left = 0
    municipality = municipalities[0]
    family = _FAMILY[0]
    language: str | None = None
    while len(records) < count:
        if household_left == 0:
            household += 1
            household_left = rng.choice((1, 1, 2, 2, 2, 3, 4))
            municipality = rng.choice(municipalities)
            family = rng.choice(_FAMILY)
            language = _pick(rng, _LANGUAGES)
        household_left -= 1
        age_days = rng.randrange(0, 96 * 365)
        birth = today - timedelta(days=age_days)
        number = synthetic_number(birth, rng)
        while number in taken:
            number = synthetic_number(birth, rng)
        taken.add(number)
        mobile = (f"+47{rng.choice('49')}{rng.randrange(10**7):07d}"
                  if age_days >= 12 * 365 and rng.random() < 0.9 else None)
        records.append((
            vault.lookup_hash(number), vault.encrypt(number), rng.choice(_GIVEN), family,
            birth, municipality, f"bench-{chunk}-{household}", _pick(rng, _CONFIDENTIAL),
            language, mobile, created_at,
        ))
    return records


def chunk_sizes(total: int) -> list[int]:
    size = -(-total // CHUNK_SPACES)
    sizes = []
    while total > 0:
        sizes.append(min(size, total))
        total -= sizes[-1]
    return sizes


@dataclass(frozen=True)
class PatientLoad:
    patients: int
    seconds: float
    copy_seconds: float  # time spent inside COPY
    prepare_cpu_seconds: float  # CPU time making numbers, hashes, ciphertexts and rows


async def load_patients(db: Database, schema: str, shape: Shape, *, today: date,
                        workers: int = 2, seed: int = 2) -> PatientLoad:
    """Prepare and COPY ``shape.patients`` patients; prepare chunk n+1 while
    chunk n is copied."""
    municipalities = sorted({seed_.municipality_code for seed_ in CLINICS})
    sizes = chunk_sizes(shape.patients)
    started = time.perf_counter()
    copy_seconds = 0.0
    loop = asyncio.get_running_loop()
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None

        async def copy(records: list[PatientRecord]) -> None:
            nonlocal copy_seconds
            t0 = time.perf_counter()
            await driver.copy_records_to_table(
                "patients", records=records, columns=list(PATIENT_COLUMNS), schema_name=schema)
            copy_seconds += time.perf_counter() - t0

        prepare_cpu = 0.0
        if shape.patients < 20_000 or workers <= 1:
            for chunk, size in enumerate(sizes):
                records, cpu = prepare_chunk(chunk, size, municipalities, today, seed)
                prepare_cpu += cpu
                await copy(records)
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                futures = [loop.run_in_executor(pool, prepare_chunk, chunk, size,
                                                municipalities, today, seed)
                           for chunk, size in enumerate(sizes)]
                for future in futures:
                    records, cpu = await future
                    prepare_cpu += cpu
                    await copy(records)
    return PatientLoad(shape.patients, time.perf_counter() - started, copy_seconds,
                       prepare_cpu)
