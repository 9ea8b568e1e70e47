"""Copying a chair's week to other chairs, and removing a closure: both
planned, previewed and saved like any change of the week
(:mod:`booking.schedule_changes`).

**Copy**: the source chair's blocks that are valid on or after a chosen day
are added to each target chair (of the same clinic, or of another clinic the
admin runs in the same county: appointment types belong to a county), valid
from that day. A copied block that overlaps a block the target already has
refuses the whole copy with the target and the block named; a block the
target already has exactly is left as it is, so saving the same copy twice
changes nothing the second time.

**Removing a closure**: only closures that have not begun. The preview
lists the slots the closure gives back (blocked slots the week wants again,
and slots not made yet because of it); saving deletes the closure and
frees or makes those slots. Appointments booked inside the closure stay as
they are (on the clinic's list if the closure put them there).

Each save locks the clinics' chairs, plans again and refuses with ``stale``
when the result differs from the preview; it is one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit, search
from booking.models import AppointmentType, Chair, Clinic, ScheduleException, ScheduleTemplate
from booking.schedule_changes import (
    PURPOSE,
    Block,
    ChangeRefused,
    Plan,
    _chair_state,
    _plan,
    _plan_against_now,
    _template_values,
    _write_plan,
    chair_templates,
    check_block,
)
from core.db import Database, utcnow
from core.locale import OSLO

#: At most this many target chairs in one copy.
MAX_TARGETS = 50


@dataclass(frozen=True)
class CopyTarget:
    chair_id: int
    chair_name: str
    clinic_id: int
    clinic_name: str


@dataclass
class TargetPlan:
    target: CopyTarget
    #: The copied blocks the target gets (those it has already are left out).
    new_blocks: list[Block]
    plan: Plan


@dataclass
class CopyPlan:
    source_chair_id: int
    valid_from: date
    blocks: list[Block]
    targets: list[TargetPlan]

    @property
    def fingerprint(self) -> str:
        parts = [f"{t.target.chair_id}|{len(t.new_blocks)}|{t.plan.fingerprint}"
                 for t in self.targets]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    @property
    def nothing_new(self) -> bool:
        return not any(t.new_blocks for t in self.targets)


async def copy_targets(session: AsyncSession, clinic_ids: Sequence[int]) -> list[CopyTarget]:
    """The active chairs of ``clinic_ids``, by clinic and name."""
    rows = await session.execute(
        select(Chair.id, Chair.name, Clinic.id, Clinic.name)
        .join(Clinic, Clinic.id == Chair.clinic_id)
        .where(Chair.clinic_id.in_(list(clinic_ids)), Chair.active)
        .order_by(Clinic.name, Chair.name, Chair.id))
    return [CopyTarget(*row) for row in rows]


async def _copy_plan(session: AsyncSession, *, clinic_id: int, county_id: int,
                     source_chair_id: int, target_chair_ids: Sequence[int],
                     allowed_clinic_ids: Sequence[int], valid_from: date, now: datetime,
                     lock: bool) -> CopyPlan:
    today = now.astimezone(OSLO).date()
    source = await session.get(Chair, source_chair_id)
    if source is None or source.clinic_id != clinic_id or not source.active:
        raise ChangeRefused("unknown_chair")
    wanted = list(dict.fromkeys(target_chair_ids))
    if not wanted or len(wanted) > MAX_TARGETS:
        raise ChangeRefused("copy_no_target")
    if source_chair_id in wanted:
        raise ChangeRefused("copy_same_chair")
    if valid_from < today:
        raise ChangeRefused("valid_from_past")
    blocks = [replace(b, valid_from=max(b.valid_from, valid_from))
              for t in await chair_templates(session, source_chair_id, today)
              for b in [Block.of(t)] if b.valid_to is None or b.valid_to >= valid_from]
    if not blocks:
        raise ChangeRefused("copy_nothing")
    targets = {t.chair_id: t for t in await copy_targets(session, allowed_clinic_ids)}
    counties = dict((await session.execute(
        select(Clinic.id, Clinic.county_id).where(Clinic.id.in_(list(allowed_clinic_ids))))
    ).all())
    plans: list[TargetPlan] = []
    for chair_id in sorted(wanted):
        target = targets.get(chair_id)
        if target is None:
            raise ChangeRefused("unknown_chair")
        params = {"chair": target.chair_name, "clinic": target.clinic_name}
        if counties.get(target.clinic_id) != county_id:
            raise ChangeRefused("copy_other_county", **params)
        current = {t.id: t for t in await chair_templates(session, chair_id, today)}
        proposed: dict[int, Block] = {tid: Block.of(t) for tid, t in current.items()}
        existing = list(proposed.values())
        new_blocks: list[Block] = []
        for block in blocks:
            if block in existing:
                continue
            try:
                check_block(block, list(proposed.values()), today)
            except ChangeRefused as refused:
                if refused.code != "overlap":
                    raise
                raise ChangeRefused("copy_overlap", weekday=block.weekday,
                                    **refused.params, **params) from None
            new_blocks.append(block)
            proposed[-len(new_blocks)] = block
        plan = await _plan_against_now(session, target.clinic_id, proposed, current, chair_id,
                                       now, lock=lock)
        plans.append(TargetPlan(target, new_blocks, plan))
    return CopyPlan(source_chair_id, valid_from, blocks, plans)


async def preview_copy(db: Database, *, clinic_id: int, county_id: int, source_chair_id: int,
                       target_chair_ids: Sequence[int], allowed_clinic_ids: Sequence[int],
                       valid_from: date, now: datetime | None = None) -> CopyPlan:
    """What copying would do; changes nothing. Raises :class:`ChangeRefused`."""
    now = now or utcnow()
    async with db.read() as session:
        return await _copy_plan(session, clinic_id=clinic_id, county_id=county_id,
                                source_chair_id=source_chair_id,
                                target_chair_ids=target_chair_ids,
                                allowed_clinic_ids=allowed_clinic_ids, valid_from=valid_from,
                                now=now, lock=False)


async def apply_copy(db: Database, actor: audit.Actor, *, clinic_id: int, county_id: int,
                     source_chair_id: int, target_chair_ids: Sequence[int],
                     allowed_clinic_ids: Sequence[int], valid_from: date, fingerprint: str,
                     now: datetime | None = None) -> CopyPlan:
    """Copy as previewed, in one transaction. A copy already saved is not
    saved again (nothing changes); ``stale`` when the weeks changed meanwhile."""
    now = now or utcnow()
    touched: set[int] = set()
    async with db.write() as session:
        target_clinics = (await session.execute(
            select(Chair.clinic_id).where(Chair.id.in_(list(target_chair_ids))))).scalars()
        clinics = sorted({clinic_id, *(c for c in target_clinics if c in allowed_clinic_ids)})
        await session.execute(select(Chair.id).where(Chair.clinic_id.in_(clinics))
                              .order_by(Chair.id).with_for_update())
        plan = await _copy_plan(session, clinic_id=clinic_id, county_id=county_id,
                                source_chair_id=source_chair_id,
                                target_chair_ids=target_chair_ids,
                                allowed_clinic_ids=allowed_clinic_ids, valid_from=valid_from,
                                now=now, lock=True)
        if plan.nothing_new:
            return plan
        if plan.fingerprint != fingerprint:
            raise ChangeRefused("stale")
        types = {t.id: t for t in (await session.execute(select(AppointmentType).where(
            AppointmentType.id.in_([i for b in plan.blocks for i in b.type_ids])))).scalars()}
        for item in plan.targets:
            new_ids: dict[int, int] = {}
            for index, block in enumerate(item.new_blocks, start=1):
                template = ScheduleTemplate(chair_id=item.target.chair_id,
                                            **_template_values(block))
                template.appointment_types = [types[i] for i in block.type_ids]
                session.add(template)
                await session.flush()
                new_ids[-index] = template.id
            await _write_plan(session, db.dialect, actor, item.target.clinic_id,
                              item.target.chair_id, item.plan, new_ids, now)
            touched.add(item.target.clinic_id)
            await audit.record(session, actor, "schedule.week.copy", purpose=PURPOSE,
                               detail={"clinic_id": item.target.clinic_id,
                                       "source_chair_id": source_chair_id,
                                       "chair_id": item.target.chair_id,
                                       "template_ids": sorted(new_ids.values()),
                                       "added": len(item.plan.added),
                                       "stranded": [s.appointment_id
                                                    for s in item.plan.stranded]},
                               now=now)
    for touched_clinic in touched:
        search.forget_free_times(touched_clinic)
    return plan


# --- removing a closure ---------------------------------------------------------

@dataclass
class ChairReopen:
    chair: Chair
    plan: Plan
    #: Starts of the blocked slots the plan frees again.
    revived_at: list[datetime]


@dataclass
class ReopenPlan:
    exception_id: int
    chair_id: int | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    #: Per chair: the slots given back (revived in ``kept``, made in ``added``).
    plans: list[ChairReopen]

    @property
    def given_back(self) -> list[tuple[str, datetime]]:
        slots = [(p.chair.name, start) for p in self.plans for start, _, _, _ in p.plan.added]
        slots += [(p.chair.name, start) for p in self.plans for start in p.revived_at]
        return sorted(slots, key=lambda s: (s[1], s[0]))

    @property
    def fingerprint(self) -> str:
        parts = [f"{self.exception_id}"] + [f"{p.chair.id}|{p.plan.fingerprint}"
                                            for p in self.plans]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


async def _reopen_plan(session: AsyncSession, clinic_id: int, exception_id: int,
                       now: datetime, *, lock: bool) -> ReopenPlan:
    exception = await session.get(ScheduleException, exception_id)
    if exception is None or exception.clinic_id != clinic_id:
        raise ChangeRefused("closure_gone")
    if exception.starts_at <= now:
        raise ChangeRefused("closure_started")
    query = select(Chair).where(Chair.clinic_id == clinic_id, Chair.active)
    if exception.chair_id is not None:
        query = query.where(Chair.id == exception.chair_id)
    today = now.astimezone(OSLO).date()
    span = (exception.starts_at, exception.ends_at)
    plans: list[ChairReopen] = []
    for chair in (await session.execute(query.order_by(Chair.name, Chair.id))).scalars():
        state = await _chair_state(session, clinic_id, chair.id, now, lock=lock)
        if span in state.closures:
            state.closures.remove(span)
        blocks = {t.id: Block.of(t) for t in await chair_templates(session, chair.id, today)}
        full = _plan(state, blocks, now)
        inside = {row.id: row for row in state.existing
                  if row.starts_at < span[1] and row.ends_at > span[0]}
        plan = Plan(chair.id, full.window_start, full.window_end)
        plan.added = [a for a in full.added if a[0] < span[1] and a[1] > span[0]]
        plan.kept = [k for k in full.kept if k[3] and k[0] in inside]
        plan.basis = [f"k{sid}:{inside[sid].version}" for sid, _, _, _ in plan.kept]
        plans.append(ChairReopen(chair, plan,
                                 [inside[sid].starts_at for sid, _, _, _ in plan.kept]))
    return ReopenPlan(exception.id, exception.chair_id, exception.starts_at, exception.ends_at,
                      exception.reason, plans)


async def preview_reopen(db: Database, *, clinic_id: int, exception_id: int,
                         now: datetime | None = None) -> ReopenPlan:
    """What removing the closure would give back; changes nothing."""
    now = now or utcnow()
    async with db.read() as session:
        return await _reopen_plan(session, clinic_id, exception_id, now, lock=False)


async def apply_reopen(db: Database, actor: audit.Actor, *, clinic_id: int, exception_id: int,
                       fingerprint: str, now: datetime | None = None) -> ReopenPlan:
    """Remove the closure as previewed and give its slots back, in one transaction."""
    now = now or utcnow()
    async with db.write() as session:
        await session.execute(select(Chair.id).where(Chair.clinic_id == clinic_id)
                              .order_by(Chair.id).with_for_update())
        plan = await _reopen_plan(session, clinic_id, exception_id, now, lock=True)
        if plan.fingerprint != fingerprint:
            raise ChangeRefused("stale")
        exception = await session.get(ScheduleException, exception_id)
        await session.delete(exception)
        await session.flush()
        for item in plan.plans:
            await _write_plan(session, db.dialect, actor, clinic_id, item.chair.id, item.plan,
                              {}, now)
        await audit.record(session, actor, "schedule.closure.remove", purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": plan.chair_id,
                                   "exception_id": exception_id,
                                   "given_back": len(plan.given_back)}, now=now)
    search.forget_free_times(clinic_id)
    return plan


async def future_closures(db: Database, clinic_id: int, now: datetime | None = None
                          ) -> list[tuple[ScheduleException, str | None]]:
    """The clinic's closures that have not begun, with the chair's name (or none)."""
    now = now or utcnow()
    async with db.read() as session:
        rows = await session.execute(
            select(ScheduleException, Chair.name)
            .outerjoin(Chair, Chair.id == ScheduleException.chair_id)
            .where(ScheduleException.clinic_id == clinic_id,
                   ScheduleException.starts_at > now)
            .order_by(ScheduleException.starts_at, ScheduleException.id))
        return [(row[0], row[1]) for row in rows]
