"""Finding free self-bookable time: what a patient may book online now."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, func, or_, select

from booking import rules
from booking.models import AppointmentType, Clinic, Patient, Slot, schedule_template_types
from booking.statuses import SlotStatus
from core.db import Database, utcnow

#: Rows read at a time when ``offered`` filters the free slots after the query.
PAGE: Final = 200


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
                     limit: int = 50, now: datetime | None = None,
                     offered: Callable[[FreeSlot], bool] | None = None,
                     kind: AppointmentType | None = None) -> list[FreeSlot]:
    """Free, released slots of ``clinic_id`` that fit the type, earliest first,
    within the type's minimum notice and booking horizon. With ``offered``,
    only the slots it accepts, still up to ``limit`` of them: they are read
    :data:`PAGE` rows at a time until enough are found. ``kind``: the type,
    when the caller has read it in this request already."""
    now = now or utcnow()
    async with db.read() as session:
        if kind is None or kind.id != appointment_type_id:
            kind = await session.get(AppointmentType, appointment_type_id)
        if kind is None or not kind.self_bookable:
            return []
        earliest = now + timedelta(hours=kind.min_notice_hours)
        latest = now + timedelta(days=kind.booking_horizon_days)
        lower = max(earliest, start) if start else earliest
        upper = min(latest, end) if end else latest
        if lower >= upper:
            return []
        query = (
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
        )
        duration = timedelta(minutes=kind.duration_minutes)

        def long_enough(rows: Iterable[Any]) -> list[FreeSlot]:
            return [FreeSlot(r.id, r.clinic_id, r.chair_id, r.starts_at, r.ends_at,
                             appointment_type_id)
                    for r in rows if r.ends_at - r.starts_at >= duration]

        if offered is None:
            return long_enough(await session.execute(query.limit(limit)))
        found: list[FreeSlot] = []
        page = query
        while len(found) < limit:
            rows = (await session.execute(page.limit(PAGE))).all()
            found += [slot for slot in long_enough(rows) if offered(slot)]
            if len(rows) < PAGE:
                break
            # The next page: after the last row in (starts_at, chair_id), which is unique.
            last = rows[-1]
            page = query.where(or_(Slot.starts_at > last.starts_at,
                                   and_(Slot.starts_at == last.starts_at,
                                        Slot.chair_id > last.chair_id)))
        return found[:limit]


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


@dataclass(frozen=True)
class KindTimes:
    """The next free times of one kind at a clinic: start, and how many chairs
    are free then."""

    kind: AppointmentType
    times: list[tuple[datetime, int]]


async def next_free_times_by_kind(db: Database, *, clinic_id: int, per_kind: int = 3,
                                  now: datetime | None = None) -> list[KindTimes]:
    """For each kind of appointment the clinic's county offers online, the
    next ``per_kind`` distinct start times free for it at the clinic (within
    its notice and horizon), so the clinic's page can say what each time is
    for. Kinds with no free time are left out."""
    now = now or utcnow()
    async with db.read() as session:
        kinds = (await session.execute(
            select(AppointmentType)
            .join(Clinic, Clinic.county_id == AppointmentType.county_id)
            .where(Clinic.id == clinic_id, AppointmentType.self_bookable.is_(True))
            .order_by(AppointmentType.id)
        )).scalars().all()
    found: list[KindTimes] = []
    for kind in kinds:
        counts: dict[datetime, int] = {}
        # Enough rows for ``per_kind`` start times on a clinic with many chairs.
        for slot in await free_slots(db, clinic_id=clinic_id, appointment_type_id=kind.id,
                                     limit=per_kind * 20, now=now):
            if slot.starts_at not in counts and len(counts) == per_kind:
                break
            counts[slot.starts_at] = counts.get(slot.starts_at, 0) + 1
        if counts:
            found.append(KindTimes(kind, list(counts.items())))
    return found


#: How long the clinic page may show the same next free times. Per process,
#: correct by design: a booking, change or cancellation in this process
#: forgets its clinic's entry at once (:func:`forget_free_times`), one in
#: another web process shows here within this many seconds, and a time shown
#: that has gone meanwhile is refused when chosen, as it would be anyway.
FREE_TIMES_SECONDS: Final = 10.0
_FreeTimes = dict[tuple[int, int], tuple[float, list[KindTimes]]]
#: Per database (engine), so that two databases in one process never mix.
_free_times: weakref.WeakKeyDictionary[Any, _FreeTimes] = weakref.WeakKeyDictionary()


async def cached_next_free_times_by_kind(db: Database, *, clinic_id: int, per_kind: int = 3
                                         ) -> list[KindTimes]:
    """:func:`next_free_times_by_kind` now, kept for :data:`FREE_TIMES_SECONDS`
    (the public clinic page: the same answer for every reader)."""
    entries = _free_times.setdefault(db.engine.sync_engine, {})
    key = (clinic_id, per_kind)
    cached = entries.get(key)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    found = await next_free_times_by_kind(db, clinic_id=clinic_id, per_kind=per_kind)
    entries[key] = (time.monotonic() + FREE_TIMES_SECONDS, found)
    return found


#: Per clinic, how many times this process has forgotten its free times: a
#: page kept with the clinic's version is stale once the version moves.
_versions: dict[int, int] = {}


def free_times_version(clinic_id: int) -> int:
    """Moves each time :func:`forget_free_times` is called for the clinic."""
    return _versions.get(clinic_id, 0)


def forget_free_times(clinic_id: int) -> None:
    """A slot of the clinic was booked or freed: show its times afresh."""
    _versions[clinic_id] = _versions.get(clinic_id, 0) + 1
    for entries in list(_free_times.values()):
        for key in [key for key in entries if key[0] == clinic_id]:
            entries.pop(key, None)


async def offered_types(db: Database, patient: Patient, today: date) -> list[AppointmentType]:
    """Kinds of appointment the person may book online: those of the county
    they live in; when that is unknown, every county's, one per code."""
    async with db.read() as session:
        county_id: int | None = None
        if patient.municipality_code:
            county_id = (await session.execute(
                select(Clinic.county_id).where(
                    Clinic.municipality_code == patient.municipality_code,
                    Clinic.active.is_(True)).limit(1)
            )).scalar_one_or_none()
        query = select(AppointmentType).where(AppointmentType.self_bookable.is_(True))
        if county_id is not None:
            query = query.where(AppointmentType.county_id == county_id)
        kinds = (await session.execute(query.order_by(AppointmentType.id))).scalars().all()
    offered: dict[str, AppointmentType] = {}
    for kind in kinds:
        if rules.self_bookable_within_horizon(kind, patient.birth_date, today):
            offered.setdefault(kind.code, kind)
    return list(offered.values())


async def appointment_type(db: Database, type_id: int) -> AppointmentType | None:
    async with db.read() as session:
        return await session.get(AppointmentType, type_id)


async def same_kind_at(db: Database, kind: AppointmentType, clinic: Clinic
                       ) -> AppointmentType | None:
    """The same kind of appointment as the clinic's county defines it, if
    that county offers it online."""
    if kind.county_id == clinic.county_id:
        return kind
    async with db.read() as session:
        found: AppointmentType | None = (await session.execute(
            select(AppointmentType).where(AppointmentType.county_id == clinic.county_id,
                                          AppointmentType.code == kind.code)
        )).scalar_one_or_none()
    return found if found is not None and found.self_bookable else None
