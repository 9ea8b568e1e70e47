"""Holding times cannot empty a clinic's picker: one hold at a time per
person acting and person booked for, a hold is never renewed past its first
expiry, and holds are rate-limited per person (core.ratelimit)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from booking import holds, picker, service
from booking.audit import Actor
from booking.holds import Held, HoldKeys, HoldLimit
from booking.models import Slot
from booking.statuses import SlotStatus
from core.db import Database
from core.ratelimit import Limiter, RateLimited, Rule
from tests.booking.booking_world import NOW, World, make_world

TODAY = date(2030, 3, 1)


def _keys(w: World, patient_id: int, session_key: str = "session-1") -> HoldKeys:
    return HoldKeys.of("test-secret", session_key, patient_id)


async def _held(db: Database) -> dict[int, str | None]:
    async with db.read() as s:
        rows = (await s.execute(select(Slot.id, Slot.status).order_by(Slot.id))).all()
    return {slot_id: status for slot_id, status in rows if status == SlotStatus.HELD}


async def test_a_new_hold_lets_the_previous_one_go(db: Database) -> None:
    w = await make_world(db, slot_count=4)
    me = Actor.patient(w.adult.id)
    search = picker.Search(w.clinic, w.exam, w.adult, TODAY)
    for slot in w.slots[:3]:
        held = await holds.hold(db, me, search, slot.id, _keys(w, w.adult.id), now=NOW)
        assert isinstance(held, Held)
    assert list(await _held(db)) == [w.slots[2].id]
    # Another session of the same person: still one hold.
    other_tab = await holds.hold(db, me, search, w.slots[3].id,
                                 _keys(w, w.adult.id, "session-2"), now=NOW)
    assert isinstance(other_tab, Held)
    assert list(await _held(db)) == [w.slots[3].id]


async def test_one_hold_per_person_booked_for(db: Database) -> None:
    w = await make_world(db, slot_count=3)
    guardian = Actor.guardian(w.adult.id, {w.child.id})
    for_me = await holds.hold(db, Actor.patient(w.adult.id),
                              picker.Search(w.clinic, w.exam, w.adult, TODAY),
                              w.slots[0].id, _keys(w, w.adult.id), now=NOW)
    for_child = await holds.hold(db, guardian,
                                 picker.Search(w.clinic, w.child_exam, w.child, TODAY),
                                 w.slots[1].id, _keys(w, w.child.id), now=NOW)
    assert isinstance(for_me, Held) and isinstance(for_child, Held)
    assert list(await _held(db)) == [w.slots[0].id, w.slots[1].id]
    # Someone else's hold is theirs.
    per = Actor.patient(w.other_adult.id)
    theirs = await holds.hold(db, per, picker.Search(w.clinic, w.exam, w.other_adult, TODAY),
                              w.slots[2].id, _keys(w, w.other_adult.id, "per"), now=NOW)
    assert isinstance(theirs, Held)
    assert list(await _held(db)) == [s.id for s in w.slots[:3]]


async def test_a_hold_is_not_renewed_by_choosing_it_again(db: Database) -> None:
    w = await make_world(db, slot_count=1)
    me = Actor.patient(w.adult.id)
    search = picker.Search(w.clinic, w.exam, w.adult, TODAY)
    keys = _keys(w, w.adult.id)
    first = await holds.hold(db, me, search, w.slots[0].id, keys, now=NOW)
    assert isinstance(first, Held)
    again = await holds.hold(db, me, search, w.slots[0].id, keys,
                             now=NOW + timedelta(minutes=9))
    assert again == first
    async with db.read() as s:
        slot = await s.get(Slot, w.slots[0].id)
    assert slot is not None and slot.held_until == NOW + service.HOLD_TIME
    assert await holds.held_by(db, first.slot_id, first.key,
                               now=NOW + service.HOLD_TIME + timedelta(seconds=1)) is None


async def test_holds_are_rate_limited_per_person(db: Database) -> None:
    w = await make_world(db, slot_count=4)
    me = Actor.patient(w.adult.id)
    search = picker.Search(w.clinic, w.exam, w.adult, TODAY)
    limiter = Limiter()
    limit = HoldLimit(limiter, Rule.parse("hold", "3/minute"))
    for slot in w.slots[:3]:
        assert isinstance(await holds.hold(db, me, search, slot.id, _keys(w, w.adult.id),
                                           now=NOW, limit=limit), Held)
    with pytest.raises(RateLimited) as limited:
        await holds.hold(db, me, search, w.slots[3].id, _keys(w, w.adult.id), now=NOW,
                         limit=limit)
    assert limited.value.retry_after >= 1
    assert list(await _held(db)) == [w.slots[2].id]  # nothing more held
    # Another person has their own allowance.
    per = Actor.patient(w.other_adult.id)
    assert isinstance(await holds.hold(
        db, per, picker.Search(w.clinic, w.exam, w.other_adult, TODAY), w.slots[3].id,
        _keys(w, w.other_adult.id, "per"), now=NOW, limit=limit), Held)
