"""Freed time offered to people waiting for an earlier one (*ledig time*).

When a slot is freed (a cancellation, a change, a staff withdrawal) a
``slot_freed`` booking event is written in the same transaction. A job
(``notifications.refill``) turns each such event into a :class:`RefillRound`
when the slot starts at least :attr:`RefillPolicy.min_lead_hours` ahead, and
moves every open round on with :func:`advance`:

1. If the slot has been booked meanwhile (an accepted offer, or anyone
   booking it), the round is *filled*; offers still open become *taken*.
2. When the current wave's offers have run out they *expire*, and the hold
   is let go.
3. Outside the county's sending hours nothing is offered: the round waits
   for the window to open (the window is the notifications' own, passed in).
4. Otherwise the next wave: the first :attr:`RefillPolicy.wave_size`
   candidates (:func:`candidates`) get an offer each, with a four-digit
   code, and the slot is **held** for :attr:`RefillPolicy.offer_minutes`
   under the round's wave key, so nobody books it under their feet.

**The candidate order** is :mod:`booking.refill_candidates` (documented there and
in the README).

**Accepting** (:func:`accept`) is one change of the patient's appointment
(:func:`booking.service.change` with the wave's hold key): the slot is
claimed with a compare-and-swap, so the first valid accept wins and every
other gets :attr:`Reason.OFFER_ENDED`; in the same transaction the offer
becomes *accepted*, the round *filled*, the other open offers *taken* (the
job tells those patients politely that they keep their time), and the
waitlist entry *fulfilled*. The old slot is freed by the change and starts a
round of its own. Every offer, accept and expiry is written to the audit log.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import structlog
from sqlalchemy import BindParameter, ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit, rules, search, service
from booking.audit import Actor
from booking.models import (
    Appointment,
    BookingEvent,
    Clinic,
    County,
    Slot,
)
from booking.reasons import Reason
from booking.refill_candidates import (
    Candidate,
    RefillPolicy,
    candidates,
    eligible,
    explain,
    fits_wishes,
    order,
)
from booking.refill_models import RefillOffer, RefillRound, WaitlistEntry
from booking.service import SLOT_FREED, BookingRefused
from booking.statuses import (
    ActorKind,
    OfferStatus,
    RoundStatus,
    SlotStatus,
    WaitlistStatus,
)
from booking.waitlist import end_stale
from core.db import Database, utcnow

log = structlog.get_logger(__name__)

SYSTEM: Final = Actor(ActorKind.SYSTEM, "system:refill")
CODE_DIGITS: Final = 4


class Window(Protocol):
    """The county's sending hours (``notifications.schedule.SendingWindow``)."""

    def is_open(self, moment: datetime) -> bool: ...

    def next_open(self, moment: datetime) -> datetime: ...


WindowFrom = Callable[[Any], Window]
#: The candidate order's names, for callers that know only this module.
__all__ = ["Accepted", "Advanced", "Candidate", "RefillPolicy", "Window", "accept", "advance",
           "candidates", "eligible", "explain", "fits_wishes", "hold_key", "order", "tick"]


def hold_key(round_id: int, wave: int) -> str:
    """The key a round's wave holds its slot with (accepting claims it with it)."""
    return f"refill:{round_id}:{wave}"


# --- rounds and waves ----------------------------------------------------------

async def start_rounds(session: AsyncSession, now: datetime, policy: RefillPolicy,
                       limit: int = 200) -> list[int]:
    """A round for each new ``slot_freed`` event whose slot lies far enough
    ahead and is released for self-booking; every event read is marked
    processed. Returns the new rounds' ids."""
    events = list((await session.execute(
        select(BookingEvent).where(BookingEvent.kind == SLOT_FREED,
                                   BookingEvent.processed_at.is_(None))
        .order_by(BookingEvent.id).limit(limit)
        .with_for_update(skip_locked=True))).scalars())
    if not events:
        return []
    slots = {s.id: s for s in (await session.execute(
        select(Slot).where(Slot.id.in_(sorted({e.slot_id for e in events}))))).scalars()}
    already = set((await session.execute(
        select(RefillRound.slot_id).where(RefillRound.slot_id.in_(sorted(slots)),
                                          RefillRound.status == RoundStatus.OPEN))).scalars())
    rounds: list[RefillRound] = []
    for event in events:
        event.processed_at = now
        slot = slots.get(event.slot_id)
        if (slot is None or slot.id in already or not slot.released
                or slot.starts_at < now + timedelta(hours=policy.min_lead_hours)):
            continue
        already.add(slot.id)
        rounds.append(RefillRound(slot_id=slot.id, event_id=event.id, status=RoundStatus.OPEN,
                                  wave=0, next_at=now, started_at=now))
    session.add_all(rounds)
    await session.flush()
    return [r.id for r in rounds]


async def due_rounds(session: AsyncSession, now: datetime, limit: int = 100) -> list[int]:
    return list((await session.execute(
        select(RefillRound.id).where(RefillRound.status == RoundStatus.OPEN,
                                     RefillRound.next_at <= now)
        .order_by(RefillRound.next_at, RefillRound.id).limit(limit))).scalars())


@dataclass
class Advanced:
    """What one :func:`advance` did."""

    round_id: int
    offers: list[RefillOffer] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    status: str = RoundStatus.OPEN
    #: Why nothing was offered now (``quiet_hours``, ``held``, ``waiting``).
    waiting: str | None = None


async def _close_offers(session: AsyncSession, round_id: int, status: OfferStatus,
                        now: datetime, *, where: Any = None) -> list[RefillOffer]:
    """Close the round's open offers with ``status`` (``where`` narrows)."""
    query = select(RefillOffer).where(RefillOffer.round_id == round_id,
                                      RefillOffer.status == OfferStatus.OFFERED)
    if where is not None:
        query = query.where(where)
    closing = list((await session.execute(query.with_for_update())).scalars())
    for offer in closing:
        offer.status = status
        offer.closed_at = now
    return closing


async def _audit_offer(session: AsyncSession, action: str, offer: RefillOffer, now: datetime,
                       **detail: Any) -> None:
    await audit.record(session, SYSTEM, action, purpose="refill",
                       subject_patient_id=offer.patient_id,
                       detail={"offer_id": offer.id, "slot_id": offer.slot_id,
                               "round_id": offer.round_id, "wave": offer.wave,
                               "appointment_id": offer.appointment_id, **detail}, now=now)


def _release(slot: Slot, key: str) -> None:
    if slot.status == SlotStatus.HELD and slot.hold_key == key:
        slot.status, slot.hold_key, slot.hold_owner, slot.held_until = (
            SlotStatus.FREE, None, None, None)


async def advance(session: AsyncSession, round_id: int, now: datetime, policy: RefillPolicy,
                  window_from: WindowFrom) -> Advanced:
    """Move one round on (module docstring), in the caller's transaction.
    Locks the slot first, then the round: the same order as an accept, so
    the two never deadlock."""
    done = Advanced(round_id)
    slot_id = (await session.execute(
        select(RefillRound.slot_id).where(RefillRound.id == round_id))).scalar_one_or_none()
    if slot_id is None:
        return done
    slot = (await session.execute(select(Slot).where(Slot.id == slot_id).with_for_update(
        of=Slot))).scalar_one()
    rnd = (await session.execute(select(RefillRound).where(
        RefillRound.id == round_id, RefillRound.status == RoundStatus.OPEN).with_for_update(
        skip_locked=True))).scalar_one_or_none()
    if rnd is None:
        done.status = "busy"
        return done
    key = hold_key(rnd.id, rnd.wave)
    if slot.status == SlotStatus.BOOKED:
        for offer in await _close_offers(session, rnd.id, OfferStatus.TAKEN, now):
            await _audit_offer(session, "refill.taken", offer, now)
        return _close(rnd, RoundStatus.FILLED, now, done)
    open_now = list((await session.execute(select(RefillOffer).where(
        RefillOffer.round_id == rnd.id, RefillOffer.status == OfferStatus.OFFERED))).scalars())
    if open_now and min(o.expires_at for o in open_now) > now:
        rnd.next_at = min(o.expires_at for o in open_now)
        done.waiting = "wave_open"
        return done
    for offer in await _close_offers(session, rnd.id, OfferStatus.EXPIRED, now):
        await _audit_offer(session, "refill.expire", offer, now)
        done.expired.append(offer.id)
    _release(slot, key)
    if slot.status == SlotStatus.BLOCKED or not slot.released:
        return _close(rnd, RoundStatus.EXHAUSTED, now, done)
    if slot.starts_at < now + timedelta(hours=policy.min_lead_hours):
        return _close(rnd, RoundStatus.TOO_LATE, now, done)
    if slot.status == SlotStatus.HELD and slot.held_until is not None and slot.held_until > now:
        rnd.next_at = slot.held_until  # someone is booking it on the web right now
        done.waiting = "held"
        return done
    quiet_hours = (await session.execute(
        select(County.quiet_hours).join(Clinic, Clinic.county_id == County.id)
        .where(Clinic.id == slot.clinic_id))).scalar_one_or_none()
    window = window_from(quiet_hours)
    if not window.is_open(now):
        rnd.next_at = window.next_open(now)
        done.waiting = "quiet_hours"
        return done
    chosen = (await candidates(session, slot, now, policy, round_id=rnd.id))[:policy.wave_size]
    if not chosen:
        return _close(rnd, RoundStatus.EXHAUSTED, now, done)
    rnd.wave += 1
    key = hold_key(rnd.id, rnd.wave)
    expires = now + policy.offer_time
    slot.status, slot.hold_key, slot.hold_owner, slot.held_until = (
        SlotStatus.HELD, key, None, expires)
    slot.version += 1
    search.forget_free_times(slot.clinic_id)
    for candidate in chosen:
        offer = RefillOffer(
            round_id=rnd.id, slot_id=slot.id, wave=rnd.wave,
            waitlist_entry_id=candidate.entry.id, patient_id=candidate.patient.id,
            appointment_id=candidate.appointment.id,
            code=str(secrets.randbelow(10**CODE_DIGITS)).zfill(CODE_DIGITS),
            status=OfferStatus.OFFERED, offered_at=now, expires_at=expires)
        session.add(offer)
        await session.flush()
        await _audit_offer(session, "refill.offer", offer, now, **explain(candidate, policy))
        done.offers.append(offer)
    rnd.next_at = expires
    log.info("refill_wave", round_id=rnd.id, slot_id=slot.id, wave=rnd.wave,
             offers=len(done.offers))
    return done


def _close(rnd: RefillRound, status: RoundStatus, now: datetime, done: Advanced) -> Advanced:
    rnd.status, rnd.closed_at, rnd.next_at = status, now, now
    done.status = status
    log.info("refill_round_closed", round_id=rnd.id, status=status.value)
    return done


async def tick(session: AsyncSession, now: datetime, policy: RefillPolicy,
               window_from: WindowFrom) -> list[Advanced]:
    """Start rounds for new freed slots and move every due round on (one
    transaction; the job calls it every few seconds)."""
    await end_stale(session, now)
    await start_rounds(session, now, policy)
    return [await advance(session, round_id, now, policy, window_from)
            for round_id in await due_rounds(session, now)]


# --- accepting ----------------------------------------------------------------

@dataclass(frozen=True)
class Accepted:
    offer_id: int
    appointment: Appointment


async def offer_by_id(db: Database, offer_id: int) -> RefillOffer | None:
    async with db.read() as session:
        return await session.get(RefillOffer, offer_id)


async def accept(db: Database, actor: Actor, *, offer_id: int, now: datetime | None = None
                 ) -> Accepted:
    """Take the offered slot: the patient's appointment moves there (one
    change). ``actor`` is the patient, or a guardian the caller found
    entitled under the representation rules today. The first valid accept
    wins; any other is refused with :attr:`Reason.OFFER_ENDED` and nothing
    changes for that patient."""
    now = now or utcnow()
    async with db.read() as session:
        offer = await session.get(RefillOffer, offer_id)
    if offer is None:
        raise BookingRefused(Reason.OFFER_ENDED)
    if not rules.is_self_service(actor):
        raise BookingRefused(Reason.NOT_ALLOWED_FOR_ACTOR)
    if offer.status != OfferStatus.OFFERED or offer.expires_at <= now:
        raise BookingRefused(Reason.OFFER_ENDED)

    async def close_round(session: AsyncSession, old: Appointment, new: Appointment) -> None:
        won = await session.execute(
            update(RefillOffer)
            .where(RefillOffer.id == offer_id, RefillOffer.status == OfferStatus.OFFERED,
                   RefillOffer.expires_at > now)
            .values(status=OfferStatus.ACCEPTED, closed_at=now)
            .execution_options(synchronize_session=False))
        if won.rowcount != 1:  # type: ignore[attr-defined]
            raise BookingRefused(Reason.OFFER_ENDED)
        taken = await _close_offers(session, offer.round_id, OfferStatus.TAKEN, now,
                                    where=RefillOffer.id != offer_id)
        await session.execute(
            update(RefillRound).where(RefillRound.id == offer.round_id)
            .values(status=RoundStatus.FILLED, closed_at=now, next_at=now)
            .execution_options(synchronize_session=False))
        await session.execute(
            update(WaitlistEntry).where(WaitlistEntry.id == offer.waitlist_entry_id)
            .values(status=WaitlistStatus.FULFILLED, closed_at=now)
            .execution_options(synchronize_session=False))
        await audit.record(session, actor, "refill.accept", purpose="refill",
                           subject_patient_id=offer.patient_id,
                           on_behalf_of_id=service._behalf(actor, offer.patient_id),
                           detail={"offer_id": offer_id, "slot_id": offer.slot_id,
                                   "round_id": offer.round_id, "from_appointment_id": old.id,
                                   "appointment_id": new.id}, now=now)
        for other in taken:
            await _audit_offer(session, "refill.taken", other, now)

    try:
        outcome = await service.change(
            db, actor, appointment_id=offer.appointment_id, new_slot_id=offer.slot_id,
            hold_key=hold_key(offer.round_id, offer.wave), now=now, other_clinic=True,
            after=close_round)
    except BookingRefused as refused:
        if refused.reason in (Reason.SLOT_TAKEN, Reason.NOT_ACTIVE, Reason.SAME_SLOT):
            raise BookingRefused(Reason.OFFER_ENDED) from None
        raise
    log.info("refill_accepted", offer_id=offer_id, appointment_id=outcome.appointment.id)
    return Accepted(offer_id, outcome.appointment)


def open_offer_of(patient_ids: Sequence[int] | BindParameter[Any],
                  now: datetime | BindParameter[Any]) -> ColumnElement[bool]:
    """The condition of :func:`open_offers_for` (also asked as ``EXISTS`` by
    Min side, with bound parameters)."""
    return and_(RefillOffer.patient_id.in_(patient_ids),
                RefillOffer.status == OfferStatus.OFFERED, RefillOffer.expires_at > now)


async def open_offers_for(db: Database, patient_ids: Sequence[int], now: datetime
                          ) -> list[tuple[RefillOffer, Slot]]:
    """Open offers of these patients with their slots (Min side)."""
    if not patient_ids:
        return []
    async with db.read() as session:
        return [(o, s) for o, s in (await session.execute(
            select(RefillOffer, Slot).join(Slot, Slot.id == RefillOffer.slot_id)
            .where(open_offer_of(sorted(set(patient_ids)), now))
            .order_by(RefillOffer.expires_at))).all()]

