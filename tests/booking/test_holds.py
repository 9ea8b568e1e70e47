"""Holding a chosen time (booking.holds): keys tied to one login session,
another chair at the same time when the chosen one is taken, and the
patient's own appointments respected."""

from __future__ import annotations

from datetime import date, timedelta

from booking import holds, picker, service
from booking.audit import Actor
from booking.holds import Held, HoldKeys, NotHeld
from booking.models import Slot
from booking.reasons import Reason
from core.db import Database
from tests import factories as f
from tests.booking.booking_world import NOW, World, make_world

TODAY = date(2030, 3, 1)


def _keys(w: World, session_key: str = "session-1") -> HoldKeys:
    return HoldKeys.of("test-secret", session_key, w.adult.id)


def _search(w: World) -> picker.Search:
    return picker.Search(w.clinic, w.exam, w.adult, TODAY)


def test_hold_keys_are_the_same_bytes_as_ever() -> None:
    # HMAC-SHA256 under HMAC-SHA256(secret, "tanntid: booking holds") of
    # "session\npatient\nslot", first 24 bytes, base64url: links to summaries
    # already open keep working.
    assert HoldKeys.of("s3cret", "sessionhash", 42).for_slot(7) == (
        "kzr-gNHXzPKdUSWQ8DiNRpscY-VpGraB")
    keys = HoldKeys.of("s3cret", "sessionhash", 42)
    assert keys.for_slot(7) != keys.for_slot(8)
    assert keys.for_slot(7) != HoldKeys.of("s3cret", "another", 42).for_slot(7)
    assert keys.for_slot(7) != HoldKeys.of("s3cret", "sessionhash", 43).for_slot(7)
    assert "s3cret" not in repr(keys) and "sessionhash" not in repr(keys)


async def test_a_hold_is_kept_for_its_key_only(db: Database) -> None:
    w = await make_world(db, slot_count=2)
    held = await holds.hold(db, Actor.patient(w.adult.id), _search(w), w.slots[0].id,
                            _keys(w), now=NOW)
    assert held == Held(w.slots[0].id, _keys(w).for_slot(w.slots[0].id))
    assert isinstance(held, Held)
    assert await holds.held_by(db, held.slot_id, held.key, now=NOW) is not None
    assert await holds.held_by(db, held.slot_id, _keys(w, "other").for_slot(held.slot_id),
                               now=NOW) is None
    assert await holds.held_by(db, held.slot_id, held.key,
                               now=NOW + service.HOLD_TIME + timedelta(seconds=1)) is None
    # The same session asking again holds it again; another session may not.
    again = await holds.hold(db, Actor.patient(w.adult.id), _search(w), w.slots[0].id,
                             _keys(w), now=NOW)
    assert again == held
    other = await holds.hold(db, Actor.patient(w.adult.id), _search(w), w.slots[0].id,
                             _keys(w, "other"), now=NOW)
    assert other == NotHeld(Reason.SLOT_TAKEN, {}, w.slots[0].starts_at)


async def test_a_taken_time_is_held_on_another_chair(db: Database) -> None:
    w = await make_world(db, slot_count=1)
    async with db.write() as s:
        template2 = await f.template(s, w.chair2, [w.exam])
        same_time = await f.slot(s, w.chair2, w.slots[0].starts_at, template2)
    await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                       slot_id=w.slots[0].id, appointment_type_id=w.exam.id, now=NOW)
    held = await holds.hold(db, Actor.patient(w.adult.id), _search(w), w.slots[0].id,
                            _keys(w), now=NOW)
    assert held == Held(same_time.id, _keys(w).for_slot(same_time.id))


async def test_a_time_overlapping_an_own_appointment_is_not_held(db: Database) -> None:
    w = await make_world(db, slot_count=1)
    await service.book(db, Actor.patient(w.adult.id), patient_id=w.adult.id,
                       slot_id=w.other_slot.id, appointment_type_id=w.exam.id, now=NOW)
    refused = await holds.hold(db, Actor.patient(w.adult.id), _search(w), w.slots[0].id,
                               _keys(w), now=NOW)
    assert isinstance(refused, NotHeld) and refused.reason is Reason.OVERLAPS_OTHER
    elsewhere = await holds.hold(db, Actor.patient(w.adult.id), _search(w), w.other_slot.id,
                                 _keys(w), now=NOW)
    assert elsewhere == NotHeld(Reason.WRONG_CLINIC, {}, None)
    unknown = await holds.hold(db, Actor.patient(w.adult.id), _search(w), 10**9, _keys(w),
                               now=NOW)
    assert unknown == NotHeld(Reason.UNKNOWN_SLOT, {}, None)


async def test_a_hold_that_ran_out(db: Database) -> None:
    w = await make_world(db, slot_count=1)
    held = await holds.hold(db, Actor.patient(w.adult.id), _search(w), w.slots[0].id,
                            _keys(w), now=NOW)
    assert isinstance(held, Held)
    async with db.read() as s:
        slot = await s.get(Slot, held.slot_id)
    assert slot is not None
    assert holds.ran_out(slot, held.key)  # once expired, still marked with our key
    assert not holds.ran_out(slot, _keys(w, "other").for_slot(held.slot_id))
    await service.book(db, Actor.patient(w.other_adult.id), patient_id=w.other_adult.id,
                       slot_id=w.slots[0].id, appointment_type_id=w.exam.id,
                       now=NOW + service.HOLD_TIME + timedelta(seconds=1))
    async with db.read() as s:
        taken = await s.get(Slot, held.slot_id)
    assert taken is not None and not holds.ran_out(taken, held.key)
