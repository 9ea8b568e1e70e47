"""Finding free self-bookable time: what a patient may book online now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select

from booking.models import AppointmentType, Clinic, Slot, schedule_template_types
from booking.statuses import SlotStatus
from core.db import Database, utcnow


@dataclass(frozen=True)
class FreeSlot:
    slot_id: int
    clinic_id: int
    chair_id: int
    starts_at: datetime
    ends_at: datetime
    appointment_type_id: int


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(Slot.status == SlotStatus.FREE,
               and_(Slot.status == SlotStatus.HELD, Slot.held_until < now))


async def free_slots(db: Database, *, clinic_id: int, appointment_type_id: int,
                     start: datetime | None = None, end: datetime | None = None,
                     limit: int = 50, now: datetime | None = None) -> list[FreeSlot]:
    """Free, released slots of ``clinic_id`` that fit the type, earliest first,
    within the type's minimum notice and booking horizon."""
    now = now or utcnow()
    async with db.read() as session:
        kind = await session.get(AppointmentType, appointment_type_id)
        if kind is None or not kind.self_bookable:
            return []
        earliest = now + timedelta(hours=kind.min_notice_hours)
        latest = now + timedelta(days=kind.booking_horizon_days)
        lower = max(earliest, start) if start else earliest
        upper = min(latest, end) if end else latest
        if lower >= upper:
            return []
        rows = await session.execute(
            select(Slot.id, Slot.clinic_id, Slot.chair_id, Slot.starts_at, Slot.ends_at)
            .join(schedule_template_types,
                  schedule_template_types.c.template_id == Slot.template_id)
            .where(
                Slot.clinic_id == clinic_id,
                schedule_template_types.c.appointment_type_id == appointment_type_id,
                Slot.released.is_(True),
                _claimable(now),
                Slot.starts_at >= lower,
                Slot.starts_at < upper,
            )
            .order_by(Slot.starts_at, Slot.chair_id)
            .limit(limit)
        )
        duration = timedelta(minutes=kind.duration_minutes)
        return [FreeSlot(r.id, r.clinic_id, r.chair_id, r.starts_at, r.ends_at,
                         appointment_type_id)
                for r in rows if r.ends_at - r.starts_at >= duration]


async def next_free_times(db: Database, *, clinic_id: int, limit: int = 5,
                          now: datetime | None = None) -> list[tuple[datetime, int]]:
    """The next distinct start times with a free self-bookable slot at the
    clinic, with how many slots are free then (for the clinic page)."""
    now = now or utcnow()
    async with db.read() as session:
        notice = (await session.execute(
            select(func.min(AppointmentType.min_notice_hours))
            .join(Clinic, Clinic.county_id == AppointmentType.county_id)
            .where(Clinic.id == clinic_id, AppointmentType.self_bookable.is_(True))
        )).scalar_one_or_none()
        if notice is None:
            return []
        bookable_templates = (
            select(schedule_template_types.c.template_id)
            .join(AppointmentType,
                  AppointmentType.id == schedule_template_types.c.appointment_type_id)
            .where(AppointmentType.self_bookable.is_(True))
        )
        rows = await session.execute(
            select(Slot.starts_at, func.count(Slot.id))
            .where(
                Slot.clinic_id == clinic_id,
                Slot.released.is_(True),
                _claimable(now),
                Slot.template_id.in_(bookable_templates),
                Slot.starts_at >= now + timedelta(hours=notice),
            )
            .group_by(Slot.starts_at)
            .order_by(Slot.starts_at)
            .limit(limit)
        )
        return [(r[0], int(r[1])) for r in rows]
