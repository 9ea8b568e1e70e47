"""Changing a chair's weekly schedule: plan, preview, apply.

A clinic admin adds, edits (including moving to another day or time) or
removes one block of a chair's week (a :class:`~booking.models.ScheduleTemplate`).
Nothing changes until the admin has seen what the change does to the
chair's slots from now on (:func:`preview`) and confirmed it
(:func:`apply`):

- **added**: slots the new week makes that do not exist yet;
- **removed**: free (or briefly held) slots the new week no longer has; they
  are blocked, never deleted, so history and references stay intact;
- **stranded**: booked appointments whose slot the new week no longer has.
  They are never removed: the slot stays booked (taken out of online
  booking) and a :class:`~booking.models.ScheduleStranding` puts the
  appointment on the clinic's list until staff keep it as an exception,
  cancel it with a reason, or ask the patient to move it
  (:func:`ask_to_move`): the patient and the guardians the representation
  rules allow get a text with a link to 2–5 free times of the same kind at
  the clinic, and the patient's pick moves it (:func:`move`). The old
  appointment holds until then.

The window is the next :data:`WEEKS` weeks, or further if the chair already
has slots further ahead. Slots are cut as :mod:`booking.schedule` cuts them
(Oslo wall-clock time, DST-correct, no slots on public holidays or in
closures).

A booking racing a change: :func:`apply` locks the clinic's chairs and the
chair's slots in the window, plans again and compares the plan's
fingerprint with the one the admin saw. A slot booked since the preview
changes the fingerprint, so the change is refused (the admin sees the new
preview); a booking that comes after the lock waits for it and then finds
its slot gone. So no appointment is ever stranded without being on the list.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Literal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from booking import audit, events, search
from booking.holidays import is_public_holiday
from booking.models import (
    Appointment,
    AppointmentType,
    Chair,
    Clinic,
    ScheduleException,
    ScheduleStranding,
    ScheduleTemplate,
    Slot,
    schedule_template_types,
)
from booking.reasons import N_
from booking.schedule import _block, _insert_slots, _Occupied, _slot_times, local_midnight
from booking.statuses import ACTIVE, SlotStatus, StrandingDecision
from core.db import Database, utcnow
from core.locale import OSLO

#: How far ahead a preview looks (at least).
WEEKS: Final = 12
#: Slot lengths an admin may choose, in minutes.
MIN_SLOT_MINUTES: Final = 5
MAX_SLOT_MINUTES: Final = 240
#: The audit purpose of schedule changes.
PURPOSE: Final = "clinic_administration"
#: The placeholder id of a block not yet saved.
NEW: Final = 0
#: Strandings staff may still decide on: not decided yet, or the patient is
#: asked to pick a new time (the old appointment holds until then).
OPEN: Final = frozenset({StrandingDecision.WAITING, StrandingDecision.ASKED})
#: How many free times a request to move offers.
OFFER_MIN: Final = 2
OFFER_MAX: Final = 5
#: How many free times the admin may choose from.
CANDIDATES: Final = 20

REFUSAL_TEXT: Final[dict[str, str]] = {
    "end_before_start": N_("The block must end after it starts."),
    "slot_not_fitting": N_("The slot length must divide the block evenly: "
                           "%(minutes)s minutes do not fit between start and end."),
    "slot_length": N_("Choose a slot length between 5 and 240 minutes."),
    "overlap": N_("The block overlaps another block of this chair on the same day "
                  "(%(start)s–%(end)s)."),
    "valid_to_before_from": N_("“Valid to” must not be before “valid from”."),
    "valid_from_past": N_("“Valid from” cannot be in the past."),
    "no_types": N_("Choose at least one appointment type."),
    "unknown_type": N_("One of the appointment types is not offered in this county."),
    "unknown_block": N_("That block no longer exists. The week is shown as it is now."),
    "unknown_chair": N_("That chair does not exist at this clinic."),
    "bad_input": N_("Fill in day, start, end, slot length and valid from."),
    "stale": N_("The week changed after you looked (for example an appointment was "
                "booked). Nothing was saved. Check the new preview and save again."),
    "reason_required": N_("Write why the appointment is cancelled."),
    "not_waiting": N_("That appointment is no longer waiting for a decision."),
    "nothing_to_change": N_("The block is unchanged."),
    "closure_in_past": N_("A closure cannot be in the past."),
    "chair_name": N_("Write a name for the chair (at most 100 characters)."),
    "chair_name_taken": N_("The clinic already has a chair with that name."),
    "release_in_past": N_("The days are in the past."),
    "release_too_long": N_("Choose at most a year at a time."),
    "bad_days": N_("Fill in the first and the last day."),
    "type_names": N_("Write the name in all four languages (at most 100 characters each)."),
    "type_number": N_("A number is outside what is allowed (%(least)s to %(most)s)."),
    "type_ages": N_("The highest age must not be below the lowest."),
    "type_code": N_("Write a short code of small letters, digits and hyphens."),
    "type_code_taken": N_("The county already has an appointment type with that code."),
    "bad_closure": N_("Fill in the day, and the times as hours and minutes or not at all."),
    "copy_no_target": N_("Choose at least one chair to copy the week to."),
    "copy_same_chair": N_("A chair cannot be copied onto itself."),
    "copy_nothing": N_("The chair has no blocks from that day on to copy."),
    "copy_other_county": N_("%(chair)s at %(clinic)s is in another county: its appointment "
                            "types are not the same, so the week cannot be copied there."),
    "copy_overlap": N_("%(chair)s at %(clinic)s already has a block on %(day)s "
                       "%(start)s–%(end)s that the copy would overlap. Nothing was copied."),
    "bad_copy": N_("Choose the chairs and fill in “valid from” as a date."),
    "closure_gone": N_("That closure no longer exists. Nothing was changed."),
    "closure_started": N_("Only closures that have not begun can be removed."),
    "offer_count": N_("Choose between 2 and 5 of the free times."),
    "too_few_times": N_("There are not two free times of this kind to offer. "
                        "Call the patient, keep the appointment or cancel it."),
    "not_asked": N_("The clinic no longer asks you to move this appointment. "
                    "Nothing was changed."),
    "not_offered": N_("That time is not one of the times the clinic offered. "
                      "Nothing was changed."),
}


class ChangeRefused(Exception):
    """A translated-at-display reason (a :data:`REFUSAL_TEXT` key); nothing changed."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Block:
    """One block of a chair's week, as the admin describes it."""

    weekday: int  # Monday = 0
    starts_at: time
    ends_at: time
    slot_minutes: int
    valid_from: date
    valid_to: date | None
    released: bool
    type_ids: tuple[int, ...]

    @classmethod
    def of(cls, template: ScheduleTemplate) -> Block:
        return cls(template.weekday, template.starts_at, template.ends_at,
                   template.slot_minutes, template.valid_from, template.valid_to,
                   template.released, tuple(sorted(t.id for t in template.appointment_types)))


ChangeKind = Literal["add", "edit", "remove"]


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    chair_id: int
    template_id: int | None = None  # edit, remove
    block: Block | None = None  # add, edit


@dataclass(frozen=True)
class StrandedAppointment:
    appointment_id: int
    slot_id: int
    patient_id: int
    starts_at: datetime
    ends_at: datetime
    appointment_type_id: int


@dataclass
class Plan:
    """What a change does to the chair's slots in ``[window_start, window_end)``."""

    chair_id: int
    window_start: datetime
    window_end: datetime
    #: (start, end, template id, released) of new slots.
    added: list[tuple[datetime, datetime, int, bool]] = field(default_factory=list)
    #: Free or held slots to block.
    removed: list[tuple[int, datetime]] = field(default_factory=list)
    stranded: list[StrandedAppointment] = field(default_factory=list)
    #: Existing slots the new week keeps: (slot id, template id, released, revive).
    kept: list[tuple[int, int, bool, bool]] = field(default_factory=list)
    #: How many of ``added`` the week as it is would make too (slots not
    #: generated yet beyond the nightly run's horizon): not the change's doing.
    unchanged_added: int = 0
    #: Appointments on the clinic's list whose slot the new week has again.
    restored: list[int] = field(default_factory=list)
    #: The state the plan was made from (slot ids and versions it touches).
    basis: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        parts = [f"{s.isoformat()}|{e.isoformat()}|{t}|{r}" for s, e, t, r in self.added]
        parts += self.basis
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]

    @property
    def added_by_change(self) -> int:
        return len(self.added) - self.unchanged_added

    @property
    def last_day(self) -> date:
        return (self.window_end - timedelta(seconds=1)).astimezone(OSLO).date()


# --- validation ----------------------------------------------------------------

def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _periods_overlap(a: Block, b: Block) -> bool:
    a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def check_block(block: Block, others: Sequence[Block], today: date, *,
                previous: Block | None = None) -> None:
    """Refuse a block that cannot be: times out of order, a slot length that
    does not fit, validity out of order or starting in the past, no types,
    or an overlap with another block of the chair on the same day."""
    if not 0 <= block.weekday <= 6:
        raise ChangeRefused("bad_input")
    if block.ends_at <= block.starts_at:
        raise ChangeRefused("end_before_start")
    if not MIN_SLOT_MINUTES <= block.slot_minutes <= MAX_SLOT_MINUTES:
        raise ChangeRefused("slot_length")
    if (_minutes(block.ends_at) - _minutes(block.starts_at)) % block.slot_minutes:
        raise ChangeRefused("slot_not_fitting", minutes=block.slot_minutes)
    if block.valid_to is not None and block.valid_to < block.valid_from:
        raise ChangeRefused("valid_to_before_from")
    if block.valid_from < today and (previous is None
                                     or block.valid_from != previous.valid_from):
        raise ChangeRefused("valid_from_past")
    if not block.type_ids:
        raise ChangeRefused("no_types")
    for other in others:
        if (other.weekday == block.weekday and _periods_overlap(block, other)
                and block.starts_at < other.ends_at and other.starts_at < block.ends_at):
            raise ChangeRefused("overlap", start=other.starts_at.strftime("%H:%M"),
                                end=other.ends_at.strftime("%H:%M"))


# --- planning --------------------------------------------------------------------

async def chair_templates(session: AsyncSession, chair_id: int, today: date
                          ) -> list[ScheduleTemplate]:
    """The chair's blocks valid today or later, by day and time."""
    return list((await session.execute(
        select(ScheduleTemplate)
        .options(selectinload(ScheduleTemplate.appointment_types))
        .where(ScheduleTemplate.chair_id == chair_id,
               or_(ScheduleTemplate.valid_to.is_(None), ScheduleTemplate.valid_to >= today))
        .order_by(ScheduleTemplate.weekday, ScheduleTemplate.starts_at, ScheduleTemplate.id)
    )).scalars().unique())


async def _load_chair(session: AsyncSession, clinic_id: int, chair_id: int) -> Chair:
    chair = await session.get(Chair, chair_id)
    if chair is None or chair.clinic_id != clinic_id or not chair.active:
        raise ChangeRefused("unknown_chair")
    return chair


async def _check_types(session: AsyncSession, county_id: int, type_ids: Sequence[int]) -> None:
    found = set((await session.execute(
        select(AppointmentType.id).where(AppointmentType.id.in_(list(type_ids)),
                                         AppointmentType.county_id == county_id)
    )).scalars())
    if found != set(type_ids):
        raise ChangeRefused("unknown_type")


async def _proposed(session: AsyncSession, clinic_id: int, county_id: int, change: Change,
                    today: date) -> tuple[dict[int, Block], dict[int, ScheduleTemplate]]:
    """The chair's blocks after the change (the new one under :data:`NEW`),
    and its current templates by id. Raises :class:`ChangeRefused`."""
    await _load_chair(session, clinic_id, change.chair_id)
    current = {t.id: t for t in await chair_templates(session, change.chair_id, today)}
    blocks = {tid: Block.of(t) for tid, t in current.items()}
    if change.kind in ("edit", "remove"):
        if change.template_id not in current:
            raise ChangeRefused("unknown_block")
    if change.kind == "remove":
        assert change.template_id is not None
        old = blocks.pop(change.template_id)
        if old.valid_from < today:  # it ends yesterday; its past stays as it was
            blocks[change.template_id] = replace(old, valid_to=today - timedelta(days=1))
        return blocks, current
    block = change.block
    if block is None:
        raise ChangeRefused("bad_input")
    previous = blocks.get(change.template_id) if change.template_id is not None else None
    if previous == block:
        raise ChangeRefused("nothing_to_change")
    others = [b for tid, b in blocks.items() if tid != change.template_id]
    check_block(block, others, today, previous=previous)
    await _check_types(session, county_id, block.type_ids)
    blocks[change.template_id if change.kind == "edit" and change.template_id else NEW] = block
    return blocks, current


def _day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass
class _ChairState:
    """What a plan reads of one chair: its slots ahead, their live
    appointments, and the closures in the window."""

    chair_id: int
    days: list[date]
    window_start: datetime
    window_end: datetime
    existing: list[Any]
    live: dict[int, Any]
    closures: list[tuple[datetime, datetime]]


async def _chair_state(session: AsyncSession, clinic_id: int, chair_id: int, now: datetime,
                       *, lock: bool) -> _ChairState:
    today = now.astimezone(OSLO).date()
    horizon = today + timedelta(weeks=WEEKS)
    slot_query = (select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.status, Slot.template_id,
                         Slot.held_until, Slot.version, Slot.released)
                  .where(Slot.chair_id == chair_id, Slot.starts_at > now)
                  .order_by(Slot.starts_at, Slot.id))
    if lock:
        slot_query = slot_query.with_for_update()
    existing = list((await session.execute(slot_query)).all())
    if existing:
        horizon = max(horizon, existing[-1].starts_at.astimezone(OSLO).date() + timedelta(days=1))
    window_start, window_end = now, local_midnight(horizon)
    closures = [(e.starts_at, e.ends_at) for e in (await session.execute(
        select(ScheduleException).where(
            ScheduleException.clinic_id == clinic_id,
            or_(ScheduleException.chair_id.is_(None), ScheduleException.chair_id == chair_id),
            ScheduleException.starts_at < window_end, ScheduleException.ends_at > window_start)
    )).scalars()]
    live = {row.slot_id: row for row in (await session.execute(
        select(Appointment.id, Appointment.slot_id, Appointment.patient_id,
               Appointment.starts_at, Appointment.ends_at, Appointment.appointment_type_id)
        .where(Appointment.chair_id == chair_id, Appointment.starts_at > now,
               Appointment.status.in_([s.value for s in ACTIVE]))
    )).all()}
    return _ChairState(chair_id, _day_range(today, horizon - timedelta(days=1)), window_start,
                       window_end, existing, live, closures)


def _plan(state: _ChairState, blocks: dict[int, Block], now: datetime) -> Plan:
    """What the chair's slots become with ``blocks`` as its week (pure)."""
    days, closures, existing, live = state.days, state.closures, state.existing, state.live
    closed = _Occupied(closures)

    # The slots the new week wants (as booking.schedule cuts them).
    wanted: list[tuple[datetime, datetime, int, bool]] = []
    by_weekday: dict[int, list[tuple[int, Block]]] = defaultdict(list)
    for tid, block in blocks.items():
        by_weekday[block.weekday].append((tid, block))
    for day in days:
        if is_public_holiday(day):
            continue
        for tid, block in by_weekday.get(day.weekday(), []):
            if not block.valid_from <= day <= (block.valid_to or date.max):
                continue
            for start, end in _slot_times(day, block.starts_at, block.ends_at,
                                          block.slot_minutes):
                if start <= now:
                    continue
                if closures and closed.overlaps(start, end):
                    continue
                wanted.append((start, end, tid, block.released))
    # The earlier slot wins; on a tie the older block (the new one last).
    wanted.sort(key=lambda w: (w[0], w[2] if w[2] != NEW else 1 << 62))
    picked: list[tuple[datetime, datetime, int, bool]] = []
    for w in wanted:
        if picked and picked[-1][1] > w[0]:
            continue
        picked.append(w)
    wanted_at = {(s, e): (t, r) for s, e, t, r in picked}

    plan = Plan(state.chair_id, state.window_start, state.window_end)
    occupied: list[tuple[datetime, datetime]] = []
    matched: set[tuple[datetime, datetime]] = set()
    for row in existing:
        key = (row.starts_at, row.ends_at)
        if key in wanted_at and key not in matched:
            tid, released = wanted_at[key]
            matched.add(key)
            occupied.append(key)
            revive = row.status == SlotStatus.BLOCKED
            if revive or row.template_id != tid or row.released != released:
                plan.kept.append((row.id, tid, released, revive))
                plan.basis.append(f"k{row.id}:{row.version}")
                if row.template_id is None and row.id in live:
                    plan.restored.append(live[row.id].id)
            continue
        if row.status == SlotStatus.BLOCKED:
            continue  # closed already; takes no time
        if row.template_id is None:
            occupied.append(key)  # made by hand or kept as an exception: stays
            continue
        appointment = live.get(row.id)
        if appointment is not None or row.status == SlotStatus.BOOKED:
            occupied.append(key)
            if appointment is not None:
                plan.stranded.append(StrandedAppointment(
                    appointment.id, row.id, appointment.patient_id, appointment.starts_at,
                    appointment.ends_at, appointment.appointment_type_id))
            plan.basis.append(f"s{row.id}:{row.version}")
        else:
            plan.removed.append((row.id, row.starts_at))
            plan.basis.append(f"r{row.id}:{row.version}")
    taken = _Occupied(occupied)
    for start, end, tid, released in picked:
        if (start, end) in matched:
            continue
        if taken.overlaps(start, end):
            continue
        plan.added.append((start, end, tid, released))
    return plan


async def _plan_against_now(session: AsyncSession, clinic_id: int, blocks: dict[int, Block],
                           current: dict[int, ScheduleTemplate], chair_id: int, now: datetime,
                           *, lock: bool) -> Plan:
    """The plan, with how many of its new slots the current week would make anyway."""
    state = await _chair_state(session, clinic_id, chair_id, now, lock=lock)
    plan = _plan(state, blocks, now)
    if plan.added:
        as_now = {tid: Block.of(t) for tid, t in current.items()}
        baseline = _plan(state, as_now, now)
        before = {(s, e) for s, e, _, _ in baseline.added}
        plan.unchanged_added = sum(1 for s, e, _, _ in plan.added if (s, e) in before)
    return plan


@dataclass(frozen=True)
class Preview:
    change: Change
    plan: Plan

    @property
    def fingerprint(self) -> str:
        return self.plan.fingerprint


async def preview(db: Database, *, clinic_id: int, county_id: int, change: Change,
                  now: datetime | None = None) -> Preview:
    """What ``change`` would do; changes nothing. Raises :class:`ChangeRefused`."""
    now = now or utcnow()
    today = now.astimezone(OSLO).date()
    async with db.read() as session:
        blocks, current = await _proposed(session, clinic_id, county_id, change, today)
        plan = await _plan_against_now(session, clinic_id, blocks, current, change.chair_id,
                                       now, lock=False)
    return Preview(change, plan)


def _template_values(block: Block) -> dict[str, Any]:
    return dict(weekday=block.weekday, starts_at=block.starts_at, ends_at=block.ends_at,
                slot_minutes=block.slot_minutes, valid_from=block.valid_from,
                valid_to=block.valid_to, released=block.released)


async def apply(db: Database, actor: audit.Actor, *, clinic_id: int, county_id: int,
                change: Change, fingerprint: str, now: datetime | None = None) -> Plan:
    """Save ``change`` if it still does what the preview with ``fingerprint``
    showed; regenerate the chair's slots in one transaction. Raises
    :class:`ChangeRefused` (``stale`` when the week changed meanwhile)."""
    now = now or utcnow()
    today = now.astimezone(OSLO).date()
    async with db.write() as session:
        # Two changes, or a change and slot generation, for the clinic take turns.
        await session.execute(select(Chair.id).where(Chair.clinic_id == clinic_id)
                              .order_by(Chair.id).with_for_update())
        blocks, current = await _proposed(session, clinic_id, county_id, change, today)
        plan = await _plan_against_now(session, clinic_id, blocks, current, change.chair_id,
                                       now, lock=True)
        if plan.fingerprint != fingerprint:
            raise ChangeRefused("stale")
        types = {t.id: t for t in (await session.execute(select(AppointmentType).where(
            AppointmentType.id.in_([i for b in blocks.values() for i in b.type_ids])))).scalars()}
        template_id = change.template_id
        if change.kind == "add":
            assert change.block is not None
            template = ScheduleTemplate(chair_id=change.chair_id,
                                        **_template_values(change.block))
            template.appointment_types = [types[i] for i in change.block.type_ids]
            session.add(template)
            await session.flush()
            template_id = template.id
        elif change.kind == "edit":
            assert change.block is not None and change.template_id is not None
            template = current[change.template_id]
            for name, value in _template_values(change.block).items():
                setattr(template, name, value)
            template.appointment_types = [types[i] for i in change.block.type_ids]
        else:
            assert change.template_id is not None
            template = current[change.template_id]
            if change.template_id in blocks:  # began in the past: ends yesterday
                template.valid_to = blocks[change.template_id].valid_to
            else:
                template.appointment_types = []
                await session.flush()
                await session.delete(template)
        await session.flush()

        await _write_plan(session, db.dialect, actor, clinic_id, change.chair_id, plan,
                          {NEW: template_id} if template_id is not None else {}, now)
        await audit.record(session, actor, f"schedule.block.{change.kind}", purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": change.chair_id,
                                   "template_id": template_id, "added": len(plan.added),
                                   "removed": len(plan.removed),
                                   "stranded": [s.appointment_id for s in plan.stranded]},
                           now=now)
    search.forget_free_times(clinic_id)
    return plan


async def _write_plan(session: AsyncSession, dialect: str, actor: audit.Actor, clinic_id: int,
                      chair_id: int, plan: Plan, new_ids: dict[int, int], now: datetime) -> None:
    """Make the chair's slots what ``plan`` says (placeholder block ids are
    replaced through ``new_ids``)."""

    def real(tid: int) -> int:
        return new_ids.get(tid, tid)

    if plan.removed:
        await session.execute(
            update(Slot).where(Slot.id.in_([sid for sid, _ in plan.removed]),
                               Slot.status.in_([SlotStatus.FREE, SlotStatus.HELD]))
            .values(status=SlotStatus.BLOCKED, template_id=None, hold_key=None,
                    hold_owner=None, held_until=None, version=Slot.version + 1)
            .execution_options(synchronize_session=False))
    for sid, tid, released, revive in plan.kept:
        values: dict[str, Any] = {"template_id": real(tid), "released": released}
        if revive:
            values.update(status=SlotStatus.FREE, version=Slot.version + 1)
        await session.execute(update(Slot).where(Slot.id == sid).values(**values)
                              .execution_options(synchronize_session=False))
    if plan.restored:
        await session.execute(
            update(ScheduleStranding)
            .where(ScheduleStranding.appointment_id.in_(plan.restored),
                   ScheduleStranding.decision.in_([d.value for d in OPEN]))
            .values(decision=StrandingDecision.KEPT, decided_at=now, decided_by=actor.id)
            .execution_options(synchronize_session=False))
    if plan.stranded:
        # Out of the week and of online booking; booked as before.
        await session.execute(
            update(Slot).where(Slot.id.in_([s.slot_id for s in plan.stranded]))
            .values(template_id=None, released=False)
            .execution_options(synchronize_session=False))
    await _list_stranded(session, actor, clinic_id, plan.stranded, now)
    if plan.added:
        await _insert_slots(session, dialect, [dict(
            clinic_id=clinic_id, chair_id=chair_id, template_id=real(tid),
            starts_at=start, ends_at=end, status=SlotStatus.FREE.value, released=released,
            version=0) for start, end, tid, released in plan.added])


# --- stranded appointments ------------------------------------------------------

async def _list_stranded(session: AsyncSession, actor: audit.Actor, clinic_id: int,
                         stranded: Sequence[StrandedAppointment], now: datetime) -> None:
    """Put the appointments on the clinic's waiting list (once each)."""
    if not stranded:
        return
    waiting = set((await session.execute(
        select(ScheduleStranding.appointment_id).where(
            ScheduleStranding.appointment_id.in_([s.appointment_id for s in stranded]),
            ScheduleStranding.decision.in_([d.value for d in OPEN])))).scalars())
    chairs = dict((await session.execute(select(Appointment.id, Appointment.chair_id).where(
        Appointment.id.in_([s.appointment_id for s in stranded])))).all())
    for s in stranded:
        if s.appointment_id in waiting:
            continue
        session.add(ScheduleStranding(
            appointment_id=s.appointment_id, clinic_id=clinic_id,
            chair_id=chairs[s.appointment_id], created_at=now, created_by=actor.id,
            decision=StrandingDecision.WAITING))
        await audit.record(session, actor, "appointment.stranded", purpose=PURPOSE,
                           subject_patient_id=s.patient_id,
                           detail={"appointment_id": s.appointment_id}, now=now)


@dataclass(frozen=True)
class StrandedLine:
    stranding_id: int
    appointment_id: int
    chair_name: str
    starts_at: datetime
    ends_at: datetime
    type_names: dict[str, str]
    given_name: str
    created_at: datetime
    decision: str = StrandingDecision.WAITING
    asked_at: datetime | None = None

    @property
    def asked(self) -> bool:
        """The patient is asked to pick a new time and has not yet."""
        return self.decision == StrandingDecision.ASKED


async def waiting(db: Database, clinic_id: int, now: datetime | None = None
                  ) -> list[StrandedLine]:
    """The clinic's stranded appointments still waiting for a decision (or
    for the patient to pick a new time), by time. Shows the patient's first
    name only (the desk opens the rest)."""
    from booking.models import Patient

    now = now or utcnow()
    async with db.read() as session:
        rows = await session.execute(
            select(ScheduleStranding.id, Appointment.id, Chair.name, Appointment.starts_at,
                   Appointment.ends_at, AppointmentType.names, Patient.given_name,
                   ScheduleStranding.created_at, ScheduleStranding.decision,
                   ScheduleStranding.asked_at)
            .join(Appointment, Appointment.id == ScheduleStranding.appointment_id)
            .join(Chair, Chair.id == Appointment.chair_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(ScheduleStranding.clinic_id == clinic_id,
                   ScheduleStranding.decision.in_([d.value for d in OPEN]),
                   Appointment.status.in_([s.value for s in ACTIVE]),
                   Appointment.ends_at > now)
            .order_by(Appointment.starts_at, Appointment.id))
        return [StrandedLine(*tuple(row)) for row in rows]


async def _waiting_stranding(session: AsyncSession, clinic_id: int, stranding_id: int
                             ) -> ScheduleStranding:
    row = (await session.execute(
        select(ScheduleStranding).where(ScheduleStranding.id == stranding_id,
                                        ScheduleStranding.clinic_id == clinic_id)
        .with_for_update())).scalar_one_or_none()
    if row is None or row.decision not in OPEN:
        raise ChangeRefused("not_waiting")
    return row


async def keep(db: Database, actor: audit.Actor, *, clinic_id: int, stranding_id: int,
               now: datetime | None = None) -> None:
    """Keep the stranded appointment as an exception: it stays where it is."""
    now = now or utcnow()
    async with db.write() as session:
        row = await _waiting_stranding(session, clinic_id, stranding_id)
        appointment = await session.get(Appointment, row.appointment_id)
        assert appointment is not None
        row.decision, row.decided_at, row.decided_by = StrandingDecision.KEPT, now, actor.id
        await audit.record(session, actor, "appointment.stranded.keep", purpose=PURPOSE,
                           subject_patient_id=appointment.patient_id,
                           detail={"appointment_id": appointment.id}, now=now)


async def cancel(db: Database, actor: audit.Actor, *, clinic_id: int, stranding_id: int,
                 reason: str, now: datetime | None = None) -> None:
    """Cancel the stranded appointment with a reason (the patient is told as
    for any cancellation); its slot is then blocked, not offered again."""
    from booking import service

    now = now or utcnow()
    reason = reason.strip()[:200]
    if not reason:
        raise ChangeRefused("reason_required")
    async with db.read() as session:
        row = await _waiting_stranding(session, clinic_id, stranding_id)
        appointment_id = row.appointment_id
    outcome = await service.cancel(db, actor, appointment_id=appointment_id, reason=reason,
                                   now=now)
    async with db.write() as session:
        await session.execute(
            update(Slot).where(Slot.id == outcome.appointment.slot_id,
                               or_(Slot.status == SlotStatus.FREE,
                                   and_(Slot.status == SlotStatus.HELD,
                                        Slot.held_until < now)))
            .values(status=SlotStatus.BLOCKED, version=Slot.version + 1)
            .execution_options(synchronize_session=False))
        await session.execute(
            update(ScheduleStranding).where(ScheduleStranding.id == stranding_id)
            .values(decision=StrandingDecision.CANCELLED, decided_at=now,
                    decided_by=actor.id, reason=reason)
            .execution_options(synchronize_session=False))


# --- asking the patient to move ---------------------------------------------------

@dataclass(frozen=True)
class FreeTime:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    chair_name: str


async def _free_times(session: AsyncSession, appointment: Appointment,
                      appointment_type: AppointmentType, now: datetime, *,
                      slot_ids: Sequence[int] | None = None, limit: int = CANDIDATES
                      ) -> list[FreeTime]:
    """Free, released times of the appointment's kind at its clinic that the
    patient could book online now (notice, horizon, length), by time."""
    offered = select(schedule_template_types.c.template_id).where(
        schedule_template_types.c.appointment_type_id == appointment_type.id)
    query = (
        select(Slot.id, Slot.starts_at, Slot.ends_at, Chair.name)
        .join(Chair, Chair.id == Slot.chair_id)
        .where(Slot.clinic_id == appointment.clinic_id, Chair.active.is_(True),
               Slot.released.is_(True), Slot.template_id.in_(offered),
               or_(Slot.status == SlotStatus.FREE,
                   and_(Slot.status == SlotStatus.HELD, Slot.held_until < now)),
               Slot.starts_at >= now + timedelta(hours=appointment_type.min_notice_hours),
               Slot.starts_at <= now + timedelta(days=appointment_type.booking_horizon_days),
               Slot.id != appointment.slot_id)
        .order_by(Slot.starts_at, Slot.id))
    if slot_ids is not None:
        query = query.where(Slot.id.in_(list(slot_ids)))
    duration = timedelta(minutes=appointment_type.duration_minutes)
    found = [FreeTime(*row) for row in (await session.execute(query)).all()
             if row[2] - row[1] >= duration]
    return found[:limit]


async def _stranded_appointment(session: AsyncSession, clinic_id: int, stranding_id: int
                                ) -> tuple[ScheduleStranding, Appointment, AppointmentType]:
    row = await _waiting_stranding(session, clinic_id, stranding_id)
    appointment = await session.get(Appointment, row.appointment_id)
    assert appointment is not None
    appointment_type = await session.get(AppointmentType, appointment.appointment_type_id)
    assert appointment_type is not None
    return row, appointment, appointment_type


async def free_times(db: Database, *, clinic_id: int, stranding_id: int,
                     now: datetime | None = None) -> list[FreeTime]:
    """The times the admin may offer for one stranded appointment (the first
    :data:`CANDIDATES`); the first :data:`OFFER_MAX` are offered by default."""
    now = now or utcnow()
    async with db.read() as session:
        _, appointment, appointment_type = await _stranded_appointment(
            session, clinic_id, stranding_id)
        if not appointment_type.self_bookable:
            return []
        return await _free_times(session, appointment, appointment_type, now)


async def ask_to_move(db: Database, actor: audit.Actor, *, clinic_id: int,
                      stranding_ids: Sequence[int], slot_ids: Sequence[int] | None = None,
                      now: datetime | None = None) -> list[int]:
    """Ask the patients of ``stranding_ids`` to pick a new time: each is
    offered ``slot_ids`` (one appointment; 2–5 of its :func:`free_times`) or,
    when None, the first :data:`OFFER_MAX` of its free times. The patient and
    the guardians the representation rules allow get a text with the link
    (``booking.events``), and Helsenorge is updated. Returns the ids asked;
    with several, those with fewer than :data:`OFFER_MIN` free times are
    left on the list (staff call them); with one, that is refused."""
    now = now or utcnow()
    if slot_ids is not None and (len(stranding_ids) != 1
                                 or not OFFER_MIN <= len(set(slot_ids)) <= OFFER_MAX):
        raise ChangeRefused("offer_count")
    asked: list[int] = []
    async with db.write() as session:
        for stranding_id in sorted(set(stranding_ids)):
            row, appointment, appointment_type = await _stranded_appointment(
                session, clinic_id, stranding_id)
            times = [] if not appointment_type.self_bookable else await _free_times(
                session, appointment, appointment_type, now, slot_ids=slot_ids,
                limit=OFFER_MAX)
            if slot_ids is not None and len(times) != len(set(slot_ids)):
                raise ChangeRefused("not_offered")
            if len(times) < OFFER_MIN:
                if len(stranding_ids) == 1:
                    raise ChangeRefused("too_few_times")
                continue
            row.decision, row.asked_at, row.asked_by = StrandingDecision.ASKED, now, actor.id
            row.offered_slot_ids = ",".join(str(t.slot_id) for t in times)
            await events.listener().on_move_requested(session, appointment, now=now)
            await audit.record(session, actor, "appointment.stranded.ask_move", purpose=PURPOSE,
                               subject_patient_id=appointment.patient_id,
                               detail={"appointment_id": appointment.id,
                                       "slot_ids": [t.slot_id for t in times]}, now=now)
            asked.append(stranding_id)
    return asked


@dataclass(frozen=True)
class MoveRequest:
    """What the patient's page shows: the appointment, the clinic's phone,
    and the offered times still free (``moved_to``: already moved there)."""

    stranding_id: int
    appointment_id: int
    patient_id: int
    starts_at: datetime
    clinic_name: str
    clinic_phone: str
    decision: str
    times: list[FreeTime]
    moved_to: Appointment | None = None


def _offered(row: ScheduleStranding) -> list[int]:
    return [int(i) for i in (row.offered_slot_ids or "").split(",") if i.isdigit()]


async def move_request(db: Database, appointment_id: int, now: datetime | None = None
                       ) -> MoveRequest | None:
    """The latest request to move ``appointment_id`` (asked, or moved since),
    or None if the clinic never asked."""
    now = now or utcnow()
    async with db.read() as session:
        row = (await session.execute(
            select(ScheduleStranding).where(
                ScheduleStranding.appointment_id == appointment_id,
                ScheduleStranding.asked_at.is_not(None))
            .order_by(ScheduleStranding.id.desc()).limit(1))).scalar_one_or_none()
        if row is None:
            return None
        appointment = await session.get(Appointment, appointment_id)
        assert appointment is not None
        clinic = await session.get(Clinic, appointment.clinic_id)
        appointment_type = await session.get(AppointmentType, appointment.appointment_type_id)
        assert clinic is not None and appointment_type is not None
        times: list[FreeTime] = []
        if row.decision == StrandingDecision.ASKED:
            times = await _free_times(session, appointment, appointment_type, now,
                                      slot_ids=_offered(row), limit=OFFER_MAX)
        moved_to = (await session.get(Appointment, row.moved_to_id)
                    if row.moved_to_id is not None else None)
        return MoveRequest(row.id, appointment.id, appointment.patient_id,
                           appointment.starts_at, clinic.name, clinic.phone, row.decision,
                           times, moved_to)


async def move(db: Database, actor: audit.Actor, *, appointment_id: int, slot_id: int,
               now: datetime | None = None) -> Appointment:
    """The patient (or a guardian) picks one of the offered times: the
    appointment moves there through ``booking.service.change`` (the usual
    rules, but the change cut-off does not apply: the clinic asked). Two
    picks at once move it once: the second finds the appointment changed.
    Raises :class:`ChangeRefused` or ``BookingRefused``; nothing changed then."""
    from booking import service

    now = now or utcnow()
    async with db.read() as session:
        row = (await session.execute(select(ScheduleStranding).where(
            ScheduleStranding.appointment_id == appointment_id,
            ScheduleStranding.decision == StrandingDecision.ASKED))).scalar_one_or_none()
        if row is None:
            raise ChangeRefused("not_asked")
        if slot_id not in _offered(row):
            raise ChangeRefused("not_offered")
        stranding_id = row.id

    async def moved(session: AsyncSession, old: Appointment, new: Appointment) -> None:
        result = await session.execute(
            update(ScheduleStranding)
            .where(ScheduleStranding.id == stranding_id,
                   ScheduleStranding.decision == StrandingDecision.ASKED)
            .values(decision=StrandingDecision.MOVED, decided_at=now, decided_by=actor.id,
                    moved_to_id=new.id)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ChangeRefused("not_asked")
        await audit.record(session, actor, "appointment.stranded.moved", purpose=PURPOSE,
                           subject_patient_id=old.patient_id,
                           detail={"appointment_id": old.id, "moved_to_id": new.id,
                                   "slot_id": new.slot_id}, now=now)

    outcome = await service.change(db, actor, appointment_id=appointment_id,
                                   new_slot_id=slot_id, now=now, after=moved,
                                   clinic_asked=True)
    return outcome.appointment


@dataclass(frozen=True)
class MovedLine:
    stranding_id: int
    given_name: str
    old_starts_at: datetime
    new_starts_at: datetime
    decided_at: datetime


async def moved_lately(db: Database, clinic_id: int, now: datetime | None = None
                       ) -> list[MovedLine]:
    """Stranded appointments the patient has moved, whose new time lies ahead."""
    from booking.models import Patient

    now = now or utcnow()
    new = Appointment.__table__.alias("new_appointment")
    async with db.read() as session:
        rows = await session.execute(
            select(ScheduleStranding.id, Patient.given_name, Appointment.starts_at,
                   new.c.starts_at, ScheduleStranding.decided_at)
            .join(Appointment, Appointment.id == ScheduleStranding.appointment_id)
            .join(new, new.c.id == ScheduleStranding.moved_to_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(ScheduleStranding.clinic_id == clinic_id,
                   ScheduleStranding.decision == StrandingDecision.MOVED,
                   new.c.ends_at > now)
            .order_by(new.c.starts_at, ScheduleStranding.id))
        return [MovedLine(*row) for row in rows]


# --- closures --------------------------------------------------------------------

@dataclass(frozen=True)
class Closure:
    """A clinic (``chair_id`` empty) or one chair closed from ``starts_at`` to ``ends_at``."""

    chair_id: int | None
    starts_at: datetime
    ends_at: datetime
    reason: str


@dataclass
class ClosurePlan:
    closure: Closure
    #: Free slots it blocks.
    blocked: int
    stranded: list[StrandedAppointment]

    @property
    def fingerprint(self) -> str:
        parts = [str(self.blocked), *(str(s.appointment_id) for s in self.stranded)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def closure_of(day: date, starts: time | None, ends: time | None, *, chair_id: int | None,
               reason: str, now: datetime) -> Closure:
    """The closure of ``day`` (whole, or ``starts``–``ends`` Oslo time);
    refused in the past. Today's closure begins no earlier than now."""
    today = now.astimezone(OSLO).date()
    if day < today:
        raise ChangeRefused("closure_in_past")
    start = datetime.combine(day, starts, OSLO) if starts else local_midnight(day)
    end = (datetime.combine(day, ends, OSLO) if ends
           else local_midnight(day + timedelta(days=1)))
    if end <= start:
        raise ChangeRefused("end_before_start")
    if end <= now:
        raise ChangeRefused("closure_in_past")
    return Closure(chair_id, max(start, now), end, reason.strip()[:200])


async def _closure_plan(session: AsyncSession, clinic_id: int, closure: Closure,
                        now: datetime) -> ClosurePlan:
    if closure.chair_id is not None:
        await _load_chair(session, clinic_id, closure.chair_id)
    slot_conditions = [Slot.clinic_id == clinic_id, Slot.starts_at < closure.ends_at,
                       Slot.ends_at > closure.starts_at,
                       or_(Slot.status == SlotStatus.FREE,
                           and_(Slot.status == SlotStatus.HELD, Slot.held_until < now))]
    conditions = [Appointment.clinic_id == clinic_id,
                  Appointment.status.in_([s.value for s in ACTIVE]),
                  Appointment.starts_at < closure.ends_at, Appointment.ends_at > closure.starts_at]
    if closure.chair_id is not None:
        slot_conditions.append(Slot.chair_id == closure.chair_id)
        conditions.append(Appointment.chair_id == closure.chair_id)
    blocked = len((await session.execute(select(Slot.id).where(*slot_conditions))).all())
    rows = await session.execute(
        select(Appointment.id, Appointment.slot_id, Appointment.patient_id,
               Appointment.starts_at, Appointment.ends_at, Appointment.appointment_type_id)
        .where(*conditions).order_by(Appointment.starts_at, Appointment.id))
    return ClosurePlan(closure, blocked, [StrandedAppointment(*row) for row in rows])


async def preview_closure(db: Database, *, clinic_id: int, closure: Closure,
                          now: datetime | None = None) -> ClosurePlan:
    """What closing would do; changes nothing."""
    now = now or utcnow()
    async with db.read() as session:
        return await _closure_plan(session, clinic_id, closure, now)


async def apply_closure(db: Database, actor: audit.Actor, *, clinic_id: int, closure: Closure,
                        fingerprint: str, now: datetime | None = None) -> ClosurePlan:
    """Close as previewed: free slots blocked, booked appointments in the
    closure put on the clinic's list (never cancelled by the closure)."""
    now = now or utcnow()
    async with db.write() as session:
        await session.execute(select(Chair.id).where(Chair.clinic_id == clinic_id)
                              .order_by(Chair.id).with_for_update())
        await session.execute(select(Slot.id).where(
            Slot.clinic_id == clinic_id, Slot.starts_at < closure.ends_at,
            Slot.ends_at > closure.starts_at).with_for_update())
        plan = await _closure_plan(session, clinic_id, closure, now)
        if plan.fingerprint != fingerprint:
            raise ChangeRefused("stale")
        exception = ScheduleException(clinic_id=clinic_id, chair_id=closure.chair_id,
                                      starts_at=closure.starts_at, ends_at=closure.ends_at,
                                      reason=closure.reason)
        session.add(exception)
        await session.flush()
        await _block(session, clinic_id=clinic_id, chair_id=closure.chair_id,
                     starts_at=closure.starts_at, ends_at=closure.ends_at, now=now)
        await _list_stranded(session, actor, clinic_id, plan.stranded, now)
        await audit.record(session, actor, "schedule.closure.add", purpose=PURPOSE,
                           detail={"clinic_id": clinic_id, "chair_id": closure.chair_id,
                                   "exception_id": exception.id, "blocked": plan.blocked,
                                   "stranded": [s.appointment_id for s in plan.stranded]},
                           now=now)
    search.forget_free_times(clinic_id)
    return plan
