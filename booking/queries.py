"""The questions about booking rows that the service asks inside its units of
work and the pages ask before they act, written once so both ask them alike.

Each takes the caller's session; :func:`read` asks one of them in a read-only
session of its own::

    upcoming = await queries.read(db, queries.upcoming, patient_id, now)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from booking.models import Appointment, Slot, schedule_template_types
from booking.statuses import ACTIVE
from core.db import Database

P = ParamSpec("P")
T = TypeVar("T")

_ACTIVE = [status.value for status in ACTIVE]


async def read(db: Database, query: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
               *args: P.args, **kwargs: P.kwargs) -> T:
    """The answer to ``query`` in a read-only session of its own."""
    async with db.read() as session:
        return await query(session, *args, **kwargs)


async def slot(session: AsyncSession, slot_id: int) -> Slot | None:
    """The slot with its clinic loaded; None if there is no such slot."""
    found: Slot | None = (await session.execute(
        select(Slot).options(selectinload(Slot.clinic)).where(Slot.id == slot_id)
    )).scalar_one_or_none()
    return found


async def slot_type_ids(session: AsyncSession, slot: Slot) -> set[int]:
    """The kinds of appointment the slot's schedule template offers (ids)."""
    if slot.template_id is None:
        return set()
    rows = await session.execute(
        select(schedule_template_types.c.appointment_type_id)
        .where(schedule_template_types.c.template_id == slot.template_id)
    )
    return set(rows.scalars())


async def slot_with_type_ids(session: AsyncSession, slot_id: int
                             ) -> tuple[Slot | None, set[int]]:
    """:func:`slot` and its :func:`slot_type_ids` (empty without a slot), in
    one query: a row per kind the slot's template offers."""
    rows = (await session.execute(
        select(Slot, schedule_template_types.c.appointment_type_id)
        .options(joinedload(Slot.clinic))
        .outerjoin(schedule_template_types,
                   schedule_template_types.c.template_id == Slot.template_id)
        .where(Slot.id == slot_id)
    )).all()
    if not rows:
        return None, set()
    return rows[0][0], {row[1] for row in rows if row[1] is not None}


async def upcoming(session: AsyncSession, patient_id: int, now: datetime
                   ) -> list[Appointment]:
    """The patient's active appointments that are not over at ``now``."""
    rows = await session.execute(
        select(Appointment).where(
            Appointment.patient_id == patient_id,
            Appointment.status.in_(_ACTIVE),
            Appointment.ends_at > now,
        )
    )
    return list(rows.scalars())


async def by_idempotency_key(session: AsyncSession, key: str | None) -> Appointment | None:
    """The appointment an earlier request with the same idempotency key made."""
    if key is None:
        return None
    found: Appointment | None = (await session.execute(
        select(Appointment).where(Appointment.idempotency_key == key)
    )).scalar_one_or_none()
    return found


async def active_in_slot(session: AsyncSession, patient_id: int, slot_id: int) -> int | None:
    """The id of the patient's active appointment in the slot, if any."""
    found: int | None = (await session.execute(
        select(Appointment.id).where(
            Appointment.patient_id == patient_id, Appointment.slot_id == slot_id,
            Appointment.status.in_(_ACTIVE))
    )).scalar_one_or_none()
    return found
