"""A clinic's chairs (add, rename, deactivate) and which of its slots are
open for online booking (release, withdraw). The clinic admin's pages call
these; each change is audited (purpose ``clinic_administration``).

Deactivating a chair that still has appointments ahead lists them first
(:func:`future_appointments`); confirming puts them on the clinic's waiting
list (:mod:`booking.schedule_changes`), never cancels them, and blocks the
chair's free slots. The confirmation names the appointments it saw: if one
was booked since, nothing happens and the new list is shown.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit, search
from booking.models import Appointment, Chair, Slot
from booking.schedule import local_midnight
from booking.schedule_changes import (
    PURPOSE,
    ChangeRefused,
    StrandedAppointment,
    _list_stranded,
)
from booking.statuses import ACTIVE, SlotStatus
from core.db import Database, utcnow
from core.locale import OSLO

NAME_LIMIT: Final = 100
#: The longest span released or withdrawn at once.
MAX_RELEASE_DAYS: Final = 366


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > NAME_LIMIT:
        raise ChangeRefused("chair_name")
    return name


async def _taken(session: AsyncSession, clinic_id: int, name: str, but: int | None) -> bool:
    query = select(Chair.id).where(Chair.clinic_id == clinic_id,
                                   func.lower(Chair.name) == name.lower())
    if but is not None:
        query = query.where(Chair.id != but)
    return (await session.execute(query)).first() is not None


async def _chair(session: AsyncSession, clinic_id: int, chair_id: int, *,
                 lock: bool = False) -> Chair:
    query = select(Chair).where(Chair.id == chair_id, Chair.clinic_id == clinic_id)
    if lock:
        query = query.with_for_update()
    chair = (await session.execute(query)).scalar_one_or_none()
    if chair is None:
        raise ChangeRefused("unknown_chair")
    return chair


async def add_chair(db: Database, actor: audit.Actor, *, clinic_id: int, name: str,
                    now: datetime | None = None) -> Chair:
    now = now or utcnow()
    name = _name(name)
    async with db.write() as session:
        if await _taken(session, clinic_id, name, None):
            raise ChangeRefused("chair_name_taken")
        chair = Chair(clinic_id=clinic_id, name=name, active=True)
        session.add(chair)
        await session.flush()
        await audit.record(session, actor, "chair.add", purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": chair.id}, now=now)
    return chair


async def rename_chair(db: Database, actor: audit.Actor, *, clinic_id: int, chair_id: int,
                       name: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    name = _name(name)
    async with db.write() as session:
        chair = await _chair(session, clinic_id, chair_id, lock=True)
        if await _taken(session, clinic_id, name, chair_id):
            raise ChangeRefused("chair_name_taken")
        chair.name = name
        await audit.record(session, actor, "chair.rename", purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": chair_id}, now=now)


async def _future(session: AsyncSession, chair_id: int, now: datetime
                  ) -> list[StrandedAppointment]:
    rows = await session.execute(
        select(Appointment.id, Appointment.slot_id, Appointment.patient_id,
               Appointment.starts_at, Appointment.ends_at, Appointment.appointment_type_id)
        .where(Appointment.chair_id == chair_id, Appointment.ends_at > now,
               Appointment.status.in_([s.value for s in ACTIVE]))
        .order_by(Appointment.starts_at, Appointment.id))
    return [StrandedAppointment(*row) for row in rows]


def fingerprint(appointments: list[StrandedAppointment]) -> str:
    ids = ",".join(str(a.appointment_id) for a in appointments)
    return hashlib.sha256(ids.encode()).hexdigest()[:32]


async def future_appointments(db: Database, *, clinic_id: int, chair_id: int,
                              now: datetime | None = None) -> list[StrandedAppointment]:
    """The chair's live appointments from now on, by time."""
    now = now or utcnow()
    async with db.read() as session:
        await _chair(session, clinic_id, chair_id)
        return await _future(session, chair_id, now)


async def deactivate_chair(db: Database, actor: audit.Actor, *, clinic_id: int,
                           chair_id: int, seen: str, now: datetime | None = None
                           ) -> list[StrandedAppointment]:
    """Take the chair out of use. ``seen`` is the :func:`fingerprint` of the
    appointments the admin was shown; they go on the waiting list."""
    now = now or utcnow()
    async with db.write() as session:
        chair = await _chair(session, clinic_id, chair_id, lock=True)
        await session.execute(select(Slot.id).where(Slot.chair_id == chair_id,
                                                    Slot.starts_at > now).with_for_update())
        appointments = await _future(session, chair_id, now)
        if fingerprint(appointments) != seen:
            raise ChangeRefused("stale")
        chair.active = False
        await session.execute(
            update(Slot).where(Slot.chair_id == chair_id, Slot.starts_at > now,
                               or_(Slot.status == SlotStatus.FREE,
                                   and_(Slot.status == SlotStatus.HELD, Slot.held_until < now)))
            .values(status=SlotStatus.BLOCKED, hold_key=None, hold_owner=None, held_until=None,
                    version=Slot.version + 1)
            .execution_options(synchronize_session=False))
        await session.execute(
            update(Slot).where(Slot.id.in_([a.slot_id for a in appointments]))
            .values(released=False).execution_options(synchronize_session=False))
        await _list_stranded(session, actor, clinic_id, appointments, now)
        await audit.record(session, actor, "chair.deactivate", purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": chair_id,
                                   "stranded": [a.appointment_id for a in appointments]},
                           now=now)
    search.forget_free_times(clinic_id)
    return appointments


async def activate_chair(db: Database, actor: audit.Actor, *, clinic_id: int, chair_id: int,
                         now: datetime | None = None) -> None:
    """Back in use; the nightly slot generation makes its slots again."""
    now = now or utcnow()
    async with db.write() as session:
        chair = await _chair(session, clinic_id, chair_id, lock=True)
        chair.active = True
        await audit.record(session, actor, "chair.activate", purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": chair_id}, now=now)


async def set_released(db: Database, actor: audit.Actor, *, clinic_id: int,
                       chair_id: int | None, first: date, last: date, released: bool,
                       now: datetime | None = None) -> int:
    """Open (``released``) or withdraw the free slots of the clinic (or one
    chair) from ``first`` to ``last`` (Oslo days, both included) for online
    booking; staff can book them either way. Returns how many changed."""
    now = now or utcnow()
    today = now.astimezone(OSLO).date()
    if last < first:
        raise ChangeRefused("valid_to_before_from")
    if last < today:
        raise ChangeRefused("release_in_past")
    if (last - first).days >= MAX_RELEASE_DAYS:
        raise ChangeRefused("release_too_long")
    conditions = [Slot.clinic_id == clinic_id, Slot.starts_at > now,
                  Slot.starts_at >= local_midnight(first),
                  Slot.starts_at < local_midnight(last + timedelta(days=1)),
                  Slot.status.in_([SlotStatus.FREE, SlotStatus.HELD]),
                  Slot.released.is_(not released)]
    async with db.write() as session:
        if chair_id is not None:
            await _chair(session, clinic_id, chair_id)
            conditions.append(Slot.chair_id == chair_id)
        result = await session.execute(
            update(Slot).where(*conditions).values(released=released)
            .execution_options(synchronize_session=False))
        changed = int(result.rowcount)  # type: ignore[attr-defined]
        await audit.record(session, actor, "slots.release" if released else "slots.withdraw",
                           purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": chair_id,
                                   "first": first.isoformat(), "last": last.isoformat(),
                                   "slots": changed}, now=now)
    search.forget_free_times(clinic_id)
    return changed
