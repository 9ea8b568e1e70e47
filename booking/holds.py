"""Keeping a chosen time for a patient while they check and confirm it.

A hold is keyed: :func:`booking.service.book` and :func:`~booking.service.change`
claim a held slot only with the key that holds it. The key is an HMAC of the
login session's (random, server-side) key, the patient and the slot, under a
key derived from the service's secret for this use alone: a reload or a
second tab of the same session holds the same slot again instead of tripping
over its own hold, and nobody else's session can produce or use it.

A person holds at most one time per person they book for: a new hold lets
the previous one go (the slot's ``hold_owner``, an HMAC of who acts and for
whom). Choosing the same time again keeps the first expiry, so a hold is
never renewed; and how many holds a person may make is rate-limited
(:class:`HoldLimit`, ``HOLD_RATE_LIMIT``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from booking import picker, queries, rules, service
from booking.audit import Actor
from booking.models import Slot
from booking.reasons import Reason
from booking.statuses import SlotStatus
from core import tokens
from core.db import Database, utcnow
from core.ratelimit import Limiter, Rule

#: The label of the hold keys' key (:func:`core.tokens.derive_key`).
LABEL: Final = "tanntid: booking holds"
#: Bytes of the HMAC in a hold key (32 characters of base64url).
KEY_BYTES: Final = 24
#: How many other chairs' slots at the same time to try when one is taken.
SAME_TIME_LIMIT: Final = 20


@dataclass(frozen=True)
class HoldKeys:
    """The hold keys of one login session for one patient, one per slot."""

    key: bytes = field(repr=False)
    session_key: str = field(repr=False)
    patient_id: int

    @classmethod
    def of(cls, secret: str, session_key: str, patient_id: int) -> HoldKeys:
        return cls(tokens.derive_key(secret, LABEL), session_key, patient_id)

    def for_slot(self, slot_id: int) -> str:
        message = f"{self.session_key}\n{self.patient_id}\n{slot_id}".encode()
        return tokens.encode(tokens.mac(self.key, message, KEY_BYTES))

    def owner(self, actor: Actor) -> str:
        """Who holds, for whom: the same in every session of ``actor``."""
        message = f"owner\n{actor.id}\n{self.patient_id}".encode()
        return tokens.encode(tokens.mac(self.key, message, KEY_BYTES))


@dataclass(frozen=True)
class HoldLimit:
    """How many holds one person acting may make (:mod:`core.ratelimit`)."""

    limiter: Limiter
    rule: Rule


@dataclass(frozen=True)
class Held:
    slot_id: int
    key: str


@dataclass(frozen=True)
class NotHeld:
    reason: Reason
    params: Mapping[str, int]
    #: The time asked for, to look for the nearest free ones.
    starts_at: datetime | None


async def hold(db: Database, actor: Actor, search: picker.Search, slot_id: int,
               keys: HoldKeys, now: datetime | None = None, *,
               limit: HoldLimit | None = None) -> Held | NotHeld:
    """Hold ``slot_id``, or when it is taken another slot offered at the same
    time (another chair), for ``search.patient``, letting ``actor``'s previous
    hold for them go; or why not (:func:`booking.rules.may_book`, asked before
    holding for a precise message, and again by the service when booking).
    Over ``limit``: :class:`core.ratelimit.RateLimited`, nothing held."""
    if limit is not None:
        await limit.limiter.hit(limit.rule, actor.id)
    now = now or utcnow()
    async with db.read() as session:
        slot, type_ids = await queries.slot_with_type_ids(session, slot_id)
        own = await queries.upcoming(session, search.patient.id, now)
    if slot is None:
        return NotHeld(Reason.UNKNOWN_SLOT, {}, None)
    if slot.clinic_id != search.clinic.id:
        return NotHeld(Reason.WRONG_CLINIC, {}, None)
    decision = rules.may_book(actor, search.patient, search.kind, slot, type_ids, now, own,
                              hold_key=keys.for_slot(slot.id),
                              ignore_appointment_id=search.changing)
    if not decision and decision.reason is not Reason.SLOT_TAKEN:
        assert decision.reason is not None
        return NotHeld(decision.reason, decision.params, slot.starts_at)
    if decision:
        key = keys.for_slot(slot.id)
        if await service.hold(db, slot_id=slot.id, hold_key=key, now=now,
                              owner=keys.owner(actor)):
            return Held(slot.id, key)
    # Taken (or taken meanwhile): another chair's slot at the same time.
    for candidate in [s.slot_id for s in await picker.offered_times(
            db, search, start=slot.starts_at, end=slot.starts_at + timedelta(seconds=1),
            limit=SAME_TIME_LIMIT, now=now, own=own) if s.slot_id != slot.id]:
        key = keys.for_slot(candidate)
        if await service.hold(db, slot_id=candidate, hold_key=key, now=now,
                              owner=keys.owner(actor)):
            return Held(candidate, key)
    return NotHeld(Reason.SLOT_TAKEN, {}, slot.starts_at)


async def held_by(db: Database, slot_id: int, key: str, now: datetime | None = None
                  ) -> Slot | None:
    """The slot if ``key`` holds it now."""
    now = now or utcnow()
    async with db.read() as session:
        slot = await session.get(Slot, slot_id)
    if (slot is None or slot.status != SlotStatus.HELD or slot.hold_key is None
            or not tokens.same(slot.hold_key.encode(), key.encode())
            or slot.held_until is None or slot.held_until <= now):
        return None
    return slot


def ran_out(slot: Slot, key: str) -> bool:
    """Has a hold with ``key`` run out while nobody else took the slot? (It
    is free again, or still marked as held with that key.)"""
    return slot.status == SlotStatus.FREE or (
        slot.status == SlotStatus.HELD and slot.hold_key is not None
        and tokens.same(slot.hold_key.encode(), key.encode()))
