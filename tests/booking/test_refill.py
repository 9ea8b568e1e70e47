"""Refilling freed time: waves held for the offer's lifetime, the candidate
order, sending hours (DST days too), accepting as one change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from booking import audit, refill, service, waitlist
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, Slot
from booking.reasons import Reason
from booking.refill import RefillPolicy
from booking.refill_models import RefillOffer, RefillRound, WaitlistEntry
from booking.service import BookingRefused
from booking.statuses import (
    AppointmentStatus,
    OfferStatus,
    RoundStatus,
    SlotStatus,
    WaitlistStatus,
)
from booking.waitlist import Wishes
from core.db import Database
from tests import factories as f
from tests.booking.booking_world import NOW
from tests.booking.refill_world import POLICY, WINDOW_FROM, cancel_first, waiting_world


async def tick(db: Database, now: datetime, policy: RefillPolicy = POLICY
               ) -> list[refill.Advanced]:
    async with db.write() as s:
        return await refill.tick(s, now, policy, WINDOW_FROM)


async def offers(db: Database) -> list[RefillOffer]:
    async with db.read() as s:
        return list((await s.execute(select(RefillOffer).order_by(RefillOffer.id))).scalars())


async def slot(db: Database, slot_id: int) -> Slot:
    async with db.read() as s:
        found = await s.get(Slot, slot_id)
        assert found is not None
        return found


async def test_a_freed_slot_is_held_for_one_wave_then_offered_to_the_next(db):
    w = await waiting_world(db, 2)
    await cancel_first(db, w, NOW)
    [done] = await tick(db, NOW)
    [first] = done.offers
    assert first.patient_id == w.waiting[0][0].id  # the earliest request
    assert len(first.code) == 4 and first.code.isdigit()
    held = await slot(db, w.world.slots[0].id)
    assert held.status == SlotStatus.HELD and held.held_until == NOW + timedelta(minutes=30)
    # Nobody else can book it meanwhile.
    other = w.world.other_adult
    with pytest.raises(BookingRefused) as refused:
        await service.book(db, Actor.patient(other.id), patient_id=other.id,
                           slot_id=held.id, appointment_type_id=w.world.exam.id,
                           now=NOW + timedelta(minutes=5))
    assert refused.value.reason is Reason.SLOT_TAKEN
    # Nothing happens before the wave ends.
    assert await tick(db, NOW + timedelta(minutes=29)) == []
    [nxt] = await tick(db, NOW + timedelta(minutes=30))
    assert nxt.expired == [first.id]
    [second] = nxt.offers
    assert second.patient_id == w.waiting[1][0].id and second.wave == 2
    assert (await slot(db, held.id)).hold_key == refill.hold_key(second.round_id, 2)
    # Nobody left: the round ends and the slot is simply free.
    [last] = await tick(db, NOW + timedelta(minutes=60))
    assert last.status == RoundStatus.EXHAUSTED
    assert (await slot(db, held.id)).status == SlotStatus.FREE
    actions = await audit_actions(db)
    assert actions.count("refill.offer") == 2 and actions.count("refill.expire") == 2


async def audit_actions(db: Database) -> list[str]:
    async with db.read() as s:
        return list((await s.execute(select(AuditEntry.action).order_by(AuditEntry.id)))
                    .scalars())


async def test_accepting_moves_the_appointment_and_the_old_slot_is_offered_on(db):
    w = await waiting_world(db, 2)
    await cancel_first(db, w, NOW)
    policy = RefillPolicy(wave_size=2)
    [done] = await tick(db, NOW, policy)
    a, b = done.offers
    patient, old_id = w.waiting[0]
    assert a.patient_id == patient.id
    accepted = await refill.accept(db, Actor.patient(patient.id), offer_id=a.id,
                                   now=NOW + timedelta(minutes=3))
    assert accepted.appointment.slot_id == w.world.slots[0].id
    assert accepted.appointment.replaces_id == old_id
    async with db.read() as s:
        old = await s.get(Appointment, old_id)
        assert old is not None and old.status == AppointmentStatus.CANCELLED
        entry = (await s.execute(select(WaitlistEntry).where(
            WaitlistEntry.patient_id == patient.id))).scalar_one()
        assert entry.status == WaitlistStatus.FULFILLED
    assert (await slot(db, w.world.slots[0].id)).status == SlotStatus.BOOKED
    by_id = {o.id: o for o in await offers(db)}
    assert by_id[a.id].status == OfferStatus.ACCEPTED
    assert by_id[b.id].status == OfferStatus.TAKEN
    # A second accept, by the other patient, is refused politely: nothing changes.
    with pytest.raises(BookingRefused) as refused:
        await refill.accept(db, Actor.patient(b.patient_id), offer_id=b.id,
                            now=NOW + timedelta(minutes=4))
    assert refused.value.reason is Reason.OFFER_ENDED
    async with db.read() as s:
        kept = await s.get(Appointment, w.waiting[1][1])
        assert kept is not None and kept.status == AppointmentStatus.BOOKED
    # The freed old slot starts a round of its own; the one still waiting gets it.
    [round_two] = [d for d in await tick(db, NOW + timedelta(minutes=5), policy) if d.offers]
    assert [o.patient_id for o in round_two.offers] == [b.patient_id]
    assert round_two.offers[0].slot_id == w.world.slots[4].id
    assert "refill.accept" in await audit_actions(db)
    async with db.read() as s:
        assert (await audit.verify(s)).intact


async def test_an_expired_offer_cannot_be_accepted(db):
    w = await waiting_world(db, 1)
    await cancel_first(db, w, NOW)
    [done] = await tick(db, NOW)
    [offer] = done.offers
    with pytest.raises(BookingRefused) as refused:
        await refill.accept(db, Actor.patient(offer.patient_id), offer_id=offer.id,
                            now=NOW + timedelta(minutes=31))
    assert refused.value.reason is Reason.OFFER_ENDED


async def test_only_the_patient_or_their_guardian_may_accept(db):
    w = await waiting_world(db, 1)
    await cancel_first(db, w, NOW)
    [done] = await tick(db, NOW)
    [offer] = done.offers
    stranger = w.world.other_adult
    with pytest.raises(BookingRefused) as refused:
        await refill.accept(db, Actor.patient(stranger.id), offer_id=offer.id, now=NOW)
    assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    with pytest.raises(BookingRefused):
        await refill.accept(db, Actor.staff("s1", {w.world.clinic.id}), offer_id=offer.id,
                            now=NOW)


async def test_children_recalls_come_before_adults_then_the_earliest_request(db):
    w = await waiting_world(db, 1, slot_count=8)
    world = w.world
    staff = Actor.staff("s1", {world.clinic.id})
    async with db.write() as s:
        child = await f.patient(s, birth_date=date(2020, 6, 1), given_name="Emma")
        grown = await f.patient(s, birth_date=date(2011, 1, 1), given_name="Nora")
    # A clinic-issued (recall) child appointment, asked for last.
    recall = await service.book(db, staff, patient_id=child.id, slot_id=world.slots[6].id,
                                appointment_type_id=world.child_exam.id, clinic_issued=True,
                                now=NOW)
    own = await service.book(db, Actor.patient(grown.id), patient_id=grown.id,
                             slot_id=world.slots[7].id, appointment_type_id=world.exam.id,
                             now=NOW)
    for appointment_id in (own.appointment.id, recall.appointment.id):
        await waitlist.add_for_patient(db, staff, appointment_id=appointment_id,
                                       wishes=Wishes(frozenset({world.clinic.id})),
                                       reason="Phoned the clinic",
                                       now=NOW + timedelta(minutes=1))
    await cancel_first(db, w, NOW + timedelta(minutes=2))
    async with db.read() as s:
        freed = await s.get(Slot, world.slots[0].id)
        assert freed is not None
        order = await refill.candidates(s, freed, NOW + timedelta(minutes=2),
                                        RefillPolicy())
        unordered = await refill.candidates(s, freed, NOW + timedelta(minutes=2),
                                            RefillPolicy(children_first=False))
    assert [c.patient.id for c in order] == [child.id, w.waiting[0][0].id, grown.id]
    assert order[0].child_recall and refill.explain(order[0], RefillPolicy())[
        "child_recall_first"]
    assert [c.patient.id for c in unordered] == [w.waiting[0][0].id, grown.id, child.id]


async def test_wishes_decide_who_fits(db):
    w = await waiting_world(db, 3)
    world = w.world
    freed_local = world.slots[0].starts_at  # Monday 2030-03-04 10:00 Oslo
    (p1, a1), (p2, a2), (p3, a3) = w.waiting
    await waitlist.add(db, Actor.patient(p1.id), appointment_id=a1,
                       wishes=Wishes(frozenset({world.clinic.id}), weekdays=frozenset({1, 2})))
    await waitlist.add(db, Actor.patient(p2.id), appointment_id=a2,
                       wishes=Wishes(frozenset({world.clinic.id}),
                                     earliest=datetime(2030, 1, 1, 12).time()))
    await waitlist.add(db, Actor.patient(p3.id), appointment_id=a3,
                       wishes=Wishes(frozenset({world.clinic.id}), notice_hours=96))
    async with db.read() as s:
        freed = await s.get(Slot, world.slots[0].id)
        assert freed is not None and freed.starts_at == freed_local
        assert await refill.candidates(s, freed, NOW, RefillPolicy()) == []
        later = await refill.candidates(s, freed, NOW - timedelta(days=3), RefillPolicy())
    assert [c.patient.id for c in later] == [p3.id]


async def test_bad_wishes_are_refused_and_nothing_changes(db):
    w = await waiting_world(db, 1)
    patient, appointment_id = w.waiting[0]
    for wishes in (Wishes(frozenset()), Wishes(frozenset({w.world.clinic.id}),
                                                weekdays=frozenset({9})),
                   Wishes(frozenset({w.world.clinic.id}), notice_hours=-1)):
        with pytest.raises(BookingRefused):
            await waitlist.add(db, Actor.patient(patient.id), appointment_id=appointment_id,
                               wishes=wishes)
    stranger = w.world.other_adult
    with pytest.raises(BookingRefused) as refused:
        await waitlist.add(db, Actor.patient(stranger.id), appointment_id=appointment_id,
                           wishes=Wishes(frozenset({w.world.clinic.id})))
    assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(WaitlistEntry))
                ).scalar_one() == 1


async def test_withdrawn_entries_get_no_offers(db):
    w = await waiting_world(db, 1)
    patient, appointment_id = w.waiting[0]
    entry = await waitlist.entry_for_appointment(db, appointment_id)
    assert entry is not None
    await waitlist.withdraw(db, Actor.patient(patient.id), entry_id=entry.id)
    await cancel_first(db, w, NOW)
    [done] = await tick(db, NOW)
    assert done.offers == [] and done.status == RoundStatus.EXHAUSTED


async def test_slots_freed_too_late_start_no_round(db):
    w = await waiting_world(db, 1)
    late = w.world.slots[0].starts_at - timedelta(hours=23)
    await cancel_first(db, w, late)
    assert await tick(db, late) == []
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(RefillRound))
                ).scalar_one() == 0


async def test_no_offers_outside_sending_hours_they_wait_for_the_morning(db):
    w = await waiting_world(db, 1)
    night = datetime(2030, 3, 1, 21, 0, tzinfo=UTC)  # 22:00 in Oslo
    await cancel_first(db, w, night)
    [done] = await tick(db, night)
    assert done.offers == [] and done.waiting == "quiet_hours"
    async with db.read() as s:
        rnd = (await s.execute(select(RefillRound))).scalar_one()
    assert rnd.next_at == datetime(2030, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 Oslo
    assert await tick(db, datetime(2030, 3, 2, 6, 59, tzinfo=UTC)) == []
    [morning] = await tick(db, rnd.next_at)
    assert len(morning.offers) == 1


@pytest.mark.parametrize(("evening", "opening"), [
    # Spring forward (2030-03-31): 08:00 Oslo is 06:00 UTC that morning.
    (datetime(2030, 3, 30, 21, 30, tzinfo=UTC), datetime(2030, 3, 31, 6, 0, tzinfo=UTC)),
    # Fall back (2030-10-27): 08:00 Oslo is 07:00 UTC that morning.
    (datetime(2030, 10, 26, 20, 30, tzinfo=UTC), datetime(2030, 10, 27, 7, 0, tzinfo=UTC)),
])
async def test_the_morning_wave_on_dst_days(db, evening, opening):
    start = evening + timedelta(days=3)
    w = await waiting_world(db, 1, start=start, now=evening - timedelta(days=1))
    await cancel_first(db, w, evening)
    [done] = await tick(db, evening)
    assert done.waiting == "quiet_hours"
    assert await tick(db, opening - timedelta(minutes=1)) == []
    [morning] = await tick(db, opening)
    [offer] = morning.offers
    assert offer.expires_at == opening + timedelta(minutes=30)


async def test_a_slot_booked_otherwise_closes_the_round(db):
    w = await waiting_world(db, 1)
    await cancel_first(db, w, NOW)
    [done] = await tick(db, NOW)
    [offer] = done.offers
    # The wave expires with nobody else waiting; then someone books it on the web.
    [after] = await tick(db, NOW + timedelta(minutes=30))
    assert after.status == RoundStatus.EXHAUSTED
    other = w.world.other_adult
    await service.book(db, Actor.patient(other.id), patient_id=other.id,
                       slot_id=w.world.slots[0].id, appointment_type_id=w.world.exam.id,
                       now=NOW + timedelta(minutes=31))
    assert [o.status for o in await offers(db)] == [OfferStatus.EXPIRED]
    assert offer.wave == 1


async def test_staff_of_another_clinic_cannot_put_a_patient_on_the_waitlist(db):
    w = await waiting_world(db, 1)
    patient, appointment_id = w.waiting[0]
    elsewhere = Actor.staff("s2", {w.world.other_clinic.id})
    with pytest.raises(BookingRefused) as refused:
        await waitlist.add_for_patient(db, elsewhere, appointment_id=appointment_id,
                                       wishes=Wishes(frozenset({w.world.clinic.id})),
                                       reason="phoned")
    assert refused.value.reason is Reason.NOT_ALLOWED_FOR_ACTOR
    with pytest.raises(BookingRefused):
        await waitlist.add_for_patient(db, Actor.patient(patient.id),
                                       appointment_id=appointment_id,
                                       wishes=Wishes(frozenset({w.world.clinic.id})),
                                       reason="phoned")
    staff = Actor.staff("s1", {w.world.clinic.id})
    entry = await waitlist.add_for_patient(db, staff, appointment_id=appointment_id,
                                           wishes=Wishes(frozenset({w.world.clinic.id}),
                                                         notice_hours=48),
                                           reason="phoned")
    assert entry.notice_hours == 48 and entry.created_by == f"patient:{patient.id}"


async def test_the_clinic_gives_a_reason_to_add_change_and_remove(db):
    w = await waiting_world(db, 0)
    world = w.world
    async with db.write() as s:
        person = await f.patient(s, birth_date=date(1980, 2, 2), given_name="Siri")
    booked = await service.book(db, Actor.patient(person.id), patient_id=person.id,
                                slot_id=world.slots[4].id, appointment_type_id=world.exam.id,
                                now=NOW)
    staff = Actor.staff("s1", {world.clinic.id})
    wishes = Wishes(frozenset({world.clinic.id}))
    for blank in ("", "  \x00 "):
        with pytest.raises(BookingRefused) as refused:
            await waitlist.add_for_patient(db, staff, appointment_id=booked.appointment.id,
                                           wishes=wishes, reason=blank, now=NOW)
        assert refused.value.reason is Reason.REASON_REQUIRED
    assert await waitlist.entry_for_appointment(db, booked.appointment.id) is None
    entry = await waitlist.add_for_patient(db, staff, appointment_id=booked.appointment.id,
                                           wishes=wishes, reason=" Phoned\x07in ",
                                           now=NOW + timedelta(minutes=1))
    assert (entry.staff_note, entry.created_by_kind) == ("Phoned in", "staff")
    [line] = await waitlist.waiting_at(db, world.clinic.id, NOW + timedelta(minutes=2))
    assert line.patient.id == person.id and line.added_by_clinic
    assert await waitlist.waiting_at(db, world.other_clinic.id, NOW) == []
    with pytest.raises(BookingRefused):
        await waitlist.withdraw_for_patient(db, staff, entry_id=entry.id, reason=" ")
    with pytest.raises(BookingRefused):
        await waitlist.withdraw_for_patient(db, Actor.staff("s2", {world.other_clinic.id}),
                                            entry_id=entry.id, reason="no")
    with pytest.raises(BookingRefused):
        await waitlist.withdraw_for_patient(db, Actor.patient(person.id), entry_id=entry.id,
                                            reason="no")
    assert (await waitlist.entry_for_appointment(db, booked.appointment.id)) is not None
    done = await waitlist.withdraw_for_patient(db, staff, entry_id=entry.id,
                                               reason="Got a time by phone",
                                               now=NOW + timedelta(minutes=3))
    assert (done.status, done.closed_note) == (WaitlistStatus.WITHDRAWN, "Got a time by phone")
    async with db.read() as s:
        details = [(e.action, e.actor_id, e.detail) for e in (await s.execute(
            select(AuditEntry).where(AuditEntry.subject_patient_id == person.id,
                                     AuditEntry.action.like("waitlist.%"))
            .order_by(AuditEntry.id))).scalars()]
    assert [(a, actor, d.get("reason_given")) for a, actor, d in details] == [
        ("waitlist.add", "staff:s1", True), ("waitlist.withdraw", "staff:s1", True)]
    assert all("Phoned" not in str(d) for _, _, d in details)
