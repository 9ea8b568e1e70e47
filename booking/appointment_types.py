"""A county's appointment types, as its administrators set them: names in
the four languages, duration, the patients' age range, whether patients may
book them online, how far ahead and how late, the change/cancel cut-off,
the adult late-cancellation fee and the most self-reschedules. Appointments
already booked keep what they were booked with. Each change is audited."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit
from booking.models import AppointmentType
from booking.schedule_changes import PURPOSE, ChangeRefused
from core.db import Database, utcnow

LANGUAGES: Final = ("nb", "nn", "en", "se")
CODE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
#: (least, most) of each number.
LIMITS: Final[dict[str, tuple[int, int]]] = {
    "duration_minutes": (5, 480), "min_age": (0, 120), "max_age": (0, 120),
    "booking_horizon_days": (1, 730), "min_notice_hours": (0, 720),
    "change_cutoff_hours": (0, 720), "max_self_reschedules": (0, 20),
}


@dataclass(frozen=True)
class TypeSettings:
    names: dict[str, str]
    duration_minutes: int
    min_age: int
    max_age: int | None
    self_bookable: bool
    booking_horizon_days: int
    min_notice_hours: int
    change_cutoff_hours: int
    late_cancellation_fee: bool
    max_self_reschedules: int


def check(settings: TypeSettings) -> None:
    """Refuse missing names, numbers out of range, or an age range upside down."""
    for language in LANGUAGES:
        name = settings.names.get(language, "").strip()
        if not name or len(name) > 100:
            raise ChangeRefused("type_names")
    for field, (least, most) in LIMITS.items():
        value = getattr(settings, field)
        if value is not None and not least <= value <= most:
            raise ChangeRefused("type_number", least=least, most=most)
    if settings.max_age is not None and settings.max_age < settings.min_age:
        raise ChangeRefused("type_ages")


async def _own(session: AsyncSession, county_id: int, type_id: int) -> AppointmentType:
    row = (await session.execute(select(AppointmentType).where(
        AppointmentType.id == type_id, AppointmentType.county_id == county_id)
        .with_for_update())).scalar_one_or_none()
    if row is None:
        raise ChangeRefused("unknown_type")
    return row


def _values(settings: TypeSettings) -> dict[str, object]:
    values = asdict(settings)
    values["names"] = {language: settings.names[language].strip() for language in LANGUAGES}
    return values


async def add(db: Database, actor: audit.Actor, *, county_id: int, code: str,
              settings: TypeSettings, now: datetime | None = None) -> AppointmentType:
    now = now or utcnow()
    if not CODE.fullmatch(code):
        raise ChangeRefused("type_code")
    check(settings)
    async with db.write() as session:
        taken = (await session.execute(select(AppointmentType.id).where(
            AppointmentType.county_id == county_id, AppointmentType.code == code))).first()
        if taken is not None:
            raise ChangeRefused("type_code_taken")
        row = AppointmentType(county_id=county_id, code=code, **_values(settings))
        session.add(row)
        await session.flush()
        await audit.record(session, actor, "appointment_type.add", purpose=PURPOSE,
                           detail={"county_id": county_id, "appointment_type_id": row.id},
                           now=now)
    return row


async def update(db: Database, actor: audit.Actor, *, county_id: int, type_id: int,
                 settings: TypeSettings, now: datetime | None = None) -> None:
    now = now or utcnow()
    check(settings)
    async with db.write() as session:
        row = await _own(session, county_id, type_id)
        for name, value in _values(settings).items():
            setattr(row, name, value)
        await audit.record(session, actor, "appointment_type.update", purpose=PURPOSE,
                           detail={"county_id": county_id, "appointment_type_id": type_id},
                           now=now)


async def of_county(db: Database, county_id: int) -> list[AppointmentType]:
    async with db.read() as session:
        return list((await session.execute(select(AppointmentType).where(
            AppointmentType.county_id == county_id).order_by(AppointmentType.code))).scalars())
