"""Plain functions that make rows for tests. Each takes an open session and
returns the flushed object; sensible defaults, override what matters."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import (
    AppointmentType,
    Chair,
    Clinic,
    County,
    Guardianship,
    Patient,
    ScheduleTemplate,
    Slot,
)
from booking.statuses import SlotStatus
from core.identity import IdentityVault, synthetic_number

VAULT = IdentityVault.from_secret("test-secret-not-for-production")
_seq = itertools.count(1)
_rng = random.Random(4711)


async def county(session: AsyncSession, **kw: Any) -> County:
    n = next(_seq)
    row = County(code=kw.pop("code", f"{n % 10000:04d}"), name=kw.pop("name", f"Fylke {n}"), **kw)
    session.add(row)
    await session.flush()
    return row


#: A clinic's weekly hours unless a test gives others: weekdays 08:00-15:30.
OPENING_HOURS: dict[str, list[str]] = {str(d): ["08:00", "15:30"] for d in range(5)}


async def clinic(session: AsyncSession, county_row: County | None = None, **kw: Any) -> Clinic:
    county_row = county_row or await county(session)
    n = next(_seq)
    values: dict[str, Any] = dict(
        county_id=county_row.id, slug=f"klinikk-{n}", name=f"Tannklinikk {n}",
        street_address="Storgata 1", postal_code="0155", postal_town="Oslo",
        municipality_code="0301", municipality_name="Oslo", latitude=59.91, longitude=10.75,
        phone="+4722000000", opening_hours=dict(OPENING_HOURS),
    )
    values.update(kw)
    row = Clinic(**values)
    session.add(row)
    await session.flush()
    return row


async def chair(session: AsyncSession, clinic_row: Clinic, **kw: Any) -> Chair:
    row = Chair(clinic_id=clinic_row.id, name=kw.pop("name", f"Stol {next(_seq)}"), **kw)
    session.add(row)
    await session.flush()
    return row


async def appointment_type(session: AsyncSession, county_id: int, **kw: Any) -> AppointmentType:
    n = next(_seq)
    values: dict[str, Any] = dict(
        county_id=county_id, code=f"type-{n}",
        names={"nb": "Undersøkelse", "nn": "Undersøking", "en": "Examination",
               "se": "Iskkadeapmi"},
        duration_minutes=30, min_age=0, max_age=None, self_bookable=True,
        booking_horizon_days=90, min_notice_hours=2, change_cutoff_hours=24,
        late_cancellation_fee=True, max_self_reschedules=2,
    )
    values.update(kw)
    row = AppointmentType(**values)
    session.add(row)
    await session.flush()
    return row


async def template(session: AsyncSession, chair_row: Chair, types: list[AppointmentType],
                   **kw: Any) -> ScheduleTemplate:
    values: dict[str, Any] = dict(
        chair_id=chair_row.id, weekday=0, starts_at=time(8, 0), ends_at=time(15, 0),
        slot_minutes=30, valid_from=date(2020, 1, 1), valid_to=None, released=True,
    )
    values.update(kw)
    row = ScheduleTemplate(**values)
    row.appointment_types = list(types)
    session.add(row)
    await session.flush()
    return row


async def _unused_number(session: AsyncSession, birth_date: date) -> str:
    """A synthetic number for ``birth_date`` that no patient in this database
    has: a birth date has only some hundred valid numbers, so random draws
    for several people born the same day may collide."""
    for _ in range(1000):
        number = synthetic_number(birth_date, _rng)
        taken = await session.scalar(
            select(Patient.id).where(Patient.identity_hash == VAULT.lookup_hash(number)))
        if taken is None:
            return number
    raise RuntimeError(f"no unused synthetic number left for {birth_date}")


async def patient(session: AsyncSession, birth_date: date = date(1980, 5, 17),
                  **kw: Any) -> Patient:
    number = kw.pop("identity_number", None) or await _unused_number(session, birth_date)
    values: dict[str, Any] = dict(
        identity_hash=VAULT.lookup_hash(number), identity_encrypted=VAULT.encrypt(number),
        given_name="Kari", family_name="Nordmann", birth_date=birth_date,
        municipality_code="0301", address_key="addr-1",
    )
    values.update(kw)
    row = Patient(**values)
    session.add(row)
    await session.flush()
    return row


async def guardianship(session: AsyncSession, guardian: Patient, child: Patient) -> Guardianship:
    row = Guardianship(guardian_id=guardian.id, child_id=child.id)
    session.add(row)
    await session.flush()
    return row


async def slot(session: AsyncSession, chair_row: Chair, starts_at: datetime,
               template_row: ScheduleTemplate | None = None, minutes: int = 30,
               **kw: Any) -> Slot:
    row = Slot(
        clinic_id=chair_row.clinic_id, chair_id=chair_row.id,
        template_id=template_row.id if template_row else None,
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
        status=kw.pop("status", SlotStatus.FREE), released=kw.pop("released", True), **kw,
    )
    session.add(row)
    await session.flush()
    return row


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A UTC instant, for brevity in tests."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
