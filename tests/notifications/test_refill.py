"""Refill messages through the outbox: the offer text with its code and
link, the "taken" notice to the others once, nothing outside sending hours,
and accepting by SMS code only from the number the offer went to."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from booking.models import Patient
from booking.refill import RefillPolicy
from notifications import jobs, refill
from notifications.refill import accept_by_code, code_in
from notifications.statuses import Purpose
from tests.booking.booking_world import NOW
from tests.booking.refill_world import cancel_first, waiting_world
from tests.notifications.helpers import Clock, MemorySms, make_runtime, rows

MOBILES = ("+4791111111", "+4792222222")


async def world_with_mobiles(db):
    w = await waiting_world(db, 2)
    async with db.write() as s:
        for (patient, _), mobile in zip(w.waiting, MOBILES, strict=True):
            await s.execute(update(Patient).where(Patient.id == patient.id)
                            .values(mobile=mobile, preferred_language="nb"))
    return w


async def deliver_all(runtime, purpose: Purpose) -> None:
    for row in await rows(runtime.db, purpose=purpose):
        await jobs.deliver(runtime, row.id)


async def test_offers_go_with_code_and_link_and_the_others_are_told_once(db):
    w = await world_with_mobiles(db)
    sms, clock = MemorySms(), Clock(NOW)
    runtime = make_runtime(db, sms, clock, refill=RefillPolicy(wave_size=2))
    await cancel_first(db, w, NOW)
    counts = await refill.run(runtime, NOW)
    assert counts["rounds"] == 1 and counts["offers"] == 2
    await deliver_all(runtime, Purpose.REFILL_OFFER)
    offers = [m for m in sms.messages if "Svar JA" in m.body]
    assert len(offers) == 2
    body = offers[0].body
    code = re.search(r"Svar JA (\d{4})", body)
    assert code is not None and "https://tanntid.example.no/ledig/" in body
    assert "Gjelder i 30 min" in body
    # The first patient answers from their number: the appointment moves.
    first_number = offers[0].to_e164
    answer = await accept_by_code(db, first_number, f"ja {code.group(1)}",
                                  NOW + timedelta(minutes=2))
    assert answer.outcome == "accepted"
    # The same reply again, or the other's reply: it has ended, politely.
    assert (await accept_by_code(db, first_number, code.group(1),
                                 NOW + timedelta(minutes=3))).outcome == "ended"
    other = offers[1]
    other_code = re.search(r"Svar JA (\d{4})", other.body)
    assert other_code is not None
    assert (await accept_by_code(db, other.to_e164, other_code.group(1),
                                 NOW + timedelta(minutes=3))).outcome == "ended"
    for _ in range(2):  # the job runs again and again: one notice each
        await refill.run(runtime, NOW + timedelta(minutes=4))
    taken = await rows(db, purpose=Purpose.REFILL_TAKEN)
    assert len(taken) == 1 and taken[0].to_e164 is None
    clock.now = NOW + timedelta(minutes=4)
    await deliver_all(runtime, Purpose.REFILL_TAKEN)
    told = [m for m in sms.messages if "gikk til en annen" in m.body]
    assert [m.to_e164 for m in told] == [other.to_e164]
    assert "Du beholder timen du har" in told[0].body


async def test_a_code_from_another_number_or_a_wrong_code_does_nothing(db):
    w = await world_with_mobiles(db)
    sms, clock = MemorySms(), Clock(NOW)
    runtime = make_runtime(db, sms, clock, refill=RefillPolicy(wave_size=1))
    await cancel_first(db, w, NOW)
    await refill.run(runtime, NOW)
    await deliver_all(runtime, Purpose.REFILL_OFFER)
    [offer] = sms.messages[-1:]
    code = re.search(r"(\d{4}) for", offer.body)
    assert code is not None
    later = NOW + timedelta(minutes=1)
    assert (await accept_by_code(db, MOBILES[1], code.group(1), later)).outcome == "unknown"
    wrong = "0000" if code.group(1) != "0000" else "1111"
    assert (await accept_by_code(db, offer.to_e164, wrong, later)).outcome == "unknown"
    assert (await accept_by_code(db, offer.to_e164, "JA", later)).outcome == "unknown"
    assert code_in("JA 4821 takk") == "4821" and code_in("JA 12 34") is None


async def test_no_offer_text_at_night_the_wave_waits_for_the_morning(db):
    w = await world_with_mobiles(db)
    night = datetime(2030, 3, 1, 21, 30, tzinfo=UTC)  # 22:30 in Oslo
    sms, clock = MemorySms(), Clock(night)
    runtime = make_runtime(db, sms, clock, refill=RefillPolicy(wave_size=1))
    await cancel_first(db, w, night)
    assert (await refill.run(runtime, night))["offers"] == 0
    assert await rows(db, purpose=Purpose.REFILL_OFFER) == []
    morning = datetime(2030, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Oslo
    assert (await refill.run(runtime, morning))["offers"] == 1
    [row] = await rows(db, purpose=Purpose.REFILL_OFFER)
    assert row.send_after == morning and row.expires_at == morning + timedelta(minutes=30)


async def _child_offer_to_guardian(db):
    """A child's clinic-issued check-up on the waitlist; the slot freed goes
    to the child first (children's recalls first), the text to the guardian."""
    from datetime import date

    from booking import service, waitlist
    from booking.audit import Actor
    from booking.waitlist import Wishes
    from tests import factories as f

    w = await world_with_mobiles(db)
    async with db.write() as s:
        child = await f.patient(s, birth_date=date(2021, 4, 1), given_name="Emma Sofie")
        guardian = await f.patient(s, birth_date=date(1985, 4, 1), given_name="Ingrid",
                                   mobile="+4793333333", preferred_language="nb")
        await f.guardianship(s, guardian, child)
    staff = Actor.staff("s1", {w.world.clinic.id})
    recall = await service.book(db, staff, patient_id=child.id, slot_id=w.world.slots[6].id,
                                appointment_type_id=w.world.child_exam.id, clinic_issued=True,
                                now=NOW)
    await waitlist.add_for_patient(db, staff, appointment_id=recall.appointment.id,
                                   wishes=Wishes(frozenset({w.world.clinic.id})),
                                   reason="Recall, asked for earlier", now=NOW)
    sms, clock = MemorySms(), Clock(NOW)
    runtime = make_runtime(db, sms, clock, refill=RefillPolicy(wave_size=1))
    await cancel_first(db, w, NOW)
    await refill.run(runtime, NOW)
    await deliver_all(runtime, Purpose.REFILL_OFFER)
    [text] = [m for m in sms.messages if "Svar JA" in m.body]
    assert text.to_e164 == "+4793333333" and "for Emma" in text.body and "Sofie" not in text.body
    code = re.search(r"Svar JA (\d{4})", text.body)
    assert code is not None
    return child, guardian, recall.appointment.id, code.group(1)


async def test_a_guardian_takes_the_childs_offer_by_sms(db):
    child, _, old_id, code = await _child_offer_to_guardian(db)
    answer = await accept_by_code(db, "+4793333333", f"JA {code}", NOW + timedelta(minutes=5))
    assert answer.outcome == "accepted"
    from booking.models import Appointment

    async with db.read() as s:
        moved = await s.get(Appointment, answer.appointment_id)
    assert moved is not None and moved.patient_id == child.id and moved.replaces_id == old_id


async def test_a_guardian_who_may_no_longer_act_cannot_take_it(db):
    from sqlalchemy import delete

    from booking.models import Guardianship

    _, _, _, code = await _child_offer_to_guardian(db)
    async with db.write() as s:  # parental responsibility ended before the reply
        await s.execute(delete(Guardianship))
    answer = await accept_by_code(db, "+4793333333", code, NOW + timedelta(minutes=5))
    assert answer.outcome == "refused"


def test_refill_texts_fit_two_segments_and_name_no_more_than_a_first_name():
    import pytest

    from notifications.refill_texts import REFILL_WORDINGS, render
    from notifications.segments import count_segments
    from notifications.templates import BUDGET_CHILD_NAME, BUDGET_CLINIC_NAME, Audience

    starts = datetime(2030, 9, 18, 8, 45, tzinfo=UTC)  # the longest weekday and month
    for purpose, audience in REFILL_WORDINGS:
        for language in ("nb", "nn", "en", "se"):
            text = render(purpose, audience, language, clinic="D" * BUDGET_CLINIC_NAME,
                          starts_at=starts, code="4821",
                          url="https://tannhelse.example.no/ledig/AAAAAAAAAAAAAAAA",
                          minutes=30, child="C" * BUDGET_CHILD_NAME)
            assert text.language == language
            if language != "se":  # Sami letters need UCS-2, as for every text
                assert count_segments(text.body).segments <= 2, (purpose, audience, language)
            if purpose is Purpose.REFILL_OFFER:
                assert "4821" in text.body and "/ledig/" in text.body
    with pytest.raises(ValueError):
        render(Purpose.REFILL_OFFER, Audience.GUARDIAN, "nb", clinic="X", starts_at=starts)


async def _reply(runtime, sms: MemorySms, sender: str, body: str, sid: str) -> str:
    """A text from ``sender`` handled as the inbound webhook's job does."""
    from notifications.models import InboundSms
    from notifications.reply_actions import handle_reply

    async with runtime.db.write() as s:
        row = InboundSms(provider_ref=sid, from_e164=sender, to_number="+4759440000",
                         body=body, received_at=runtime.clock())
        s.add(row)
        await s.flush()
        inbound_id = row.id
    return await handle_reply(runtime, inbound_id)


async def test_a_reply_with_the_code_takes_the_time_and_a_late_one_is_told_it_has_gone(db):
    w = await world_with_mobiles(db)
    sms, clock = MemorySms(), Clock(NOW)
    runtime = make_runtime(db, sms, clock, refill=RefillPolicy(wave_size=2))
    await cancel_first(db, w, NOW)
    await refill.run(runtime, NOW)
    await deliver_all(runtime, Purpose.REFILL_OFFER)
    offers = [m for m in sms.messages if "Svar JA" in m.body]
    codes = [re.search(r"Svar JA (\d{4})", m.body) for m in offers]
    assert all(codes) and len(offers) == 2
    clock.now = NOW + timedelta(minutes=2)
    first = await _reply(runtime, sms, offers[0].to_e164, f"Ja {codes[0].group(1)}", "SMa1")
    assert first == "code"
    late = await _reply(runtime, sms, offers[1].to_e164, f"JA {codes[1].group(1)}", "SMa2")
    assert late == "code"
    await deliver_all(runtime, Purpose.REPLY)  # the job hands the answers over
    answers = {m.to_e164: m.body for m in sms.messages
               if m.notification_id in {r.id for r in await rows(db, purpose=Purpose.REPLY)}}
    assert "Din nye time" in answers[offers[0].to_e164]
    assert "Du beholder timen du har" in answers[offers[1].to_e164]
