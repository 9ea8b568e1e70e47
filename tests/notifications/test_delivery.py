"""The deliver job: hands a notification over at most once, whatever happens."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from booking import service
from booking.audit import Actor
from booking.models import Appointment, Patient
from notifications import jobs, sweeps
from notifications.channels.base import SendOutcome, SmsResult
from notifications.models import NotificationEvent, SmsNumberBlock
from notifications.segments import count_segments
from notifications.statuses import Reason
from notifications.templates import sign_appointment
from tests import factories as f
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    GUARDIAN_MOBILE,
    PUBLIC_URL,
    START,
    MemorySms,
    book_adult,
    helsenorge_went,
    make_runtime,
    row,
    rows,
    world_with_phones,
)


async def booked(db, **kw):
    world = await world_with_phones(db)
    appointment = (await book_adult(db, world, **kw)).appointment
    await helsenorge_went(db, EARLY)  # these tests are about the SMS rows
    notes = await rows(db, appointment_id=appointment.id)
    return world, appointment, notes


async def test_deliver_hands_over_once_and_records_it(db, sms, clock):
    world, appointment, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    confirmation = notes[0]
    assert await jobs.deliver(runtime, confirmation.id) == "accepted"
    token = sign_appointment(runtime.config.link_key, appointment.id, confirmation.id)
    [handed] = sms.messages
    assert handed.notification_id == confirmation.id
    assert handed.to_e164 == ADULT_MOBILE
    assert handed.body == (
        f"{world.clinic.name}: Timen din er bestilt mandag 4. mars kl. 10:00. "
        f"Endre eller avbestill: {PUBLIC_URL}/t/{token} Kalender: {PUBLIC_URL}/t/{token}.ics "
        f"Kart: {PUBLIC_URL}/t/{token}/kart")
    # 10:00 in Oslo: the provider may try until the window closes at 21:00 (capped at 10 h)
    assert handed.validity_seconds == 36_000
    after = await row(db, confirmation.id)
    assert (after.status, after.provider_ref, after.handed_over_at, after.attempts,
            after.in_doubt, after.claim_token, after.to_e164, after.language,
            after.template_id, after.template_version) == (
        "sending", handed.provider_ref, EARLY, 1, False, None, ADULT_MOBILE, "nb",
        "confirmation.self", 1)
    # The segments it takes are kept for the dashboards' cost, after the words are purged.
    assert after.segments == count_segments(handed.body).segments
    async with db.read() as session:
        events = list((await session.execute(select(NotificationEvent))).scalars())
    assert [(e.notification_id, e.from_status, e.to_status, e.source) for e in events] == [
        (confirmation.id, "created", "sending", "job")]


async def test_repeated_and_concurrent_runs_send_once(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    results = await asyncio.gather(*(jobs.deliver(runtime, notes[0].id) for _ in range(5)))
    results += [await jobs.deliver(runtime, notes[0].id) for _ in range(3)]
    assert results.count("accepted") == 1
    assert set(results) <= {"accepted", "claimed", "not_waiting"}
    assert sms.calls == 1
    assert sms.delivered_to() == {notes[0].id: 1}


async def test_a_reminder_is_not_sent_before_its_time(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    assert await jobs.deliver(runtime, notes[1].id) == "not_due"
    assert sms.calls == 0


async def test_a_reminder_for_a_changed_appointment_is_never_sent(db, sms, clock):
    world, appointment, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    reminder = notes[2]
    clock.now = reminder.send_after
    sms.will("unknown")  # the hand-over is in doubt, so the outbox cannot cancel it
    assert await jobs.deliver(runtime, reminder.id) == "in_doubt"
    await service.change(db, Actor.patient(world.adult.id), appointment_id=appointment.id,
                         new_slot_id=world.slots[4].id, now=clock.now)
    assert (await row(db, reminder.id)).status == "created"
    clock.advance(minutes=2)
    assert await jobs.deliver(runtime, reminder.id) == "cancelled"
    after = await row(db, reminder.id)
    assert (after.status, after.reason) == ("cancelled", Reason.SUPERSEDED)
    assert sms.lookups == 1 and sms.messages == []


async def test_the_job_rechecks_the_appointment_version(db, sms, clock):
    _, appointment, notes = await booked(db)
    async with db.write() as session:  # a change the outbox did not see
        await session.execute(update(Appointment).where(Appointment.id == appointment.id)
                              .values(version=Appointment.version + 1))
    runtime = make_runtime(db, sms, clock)
    assert await jobs.deliver(runtime, notes[0].id) == "cancelled"
    assert sms.calls == 0


async def test_a_stale_reminder_expires_instead_of_going_late(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    three_days = notes[1]
    clock.now = three_days.expires_at  # the workers were away until the next reminder
    assert await jobs.deliver(runtime, three_days.id) == "technical-failure"
    after = await row(db, three_days.id)
    assert (after.status, after.reason) == ("technical-failure", Reason.EXPIRED)
    assert sms.calls == 0


async def test_nothing_goes_at_night(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    clock.now = f.at(2030, 2, 26, 20, 30)  # 21:30 in Oslo
    assert await jobs.deliver(runtime, notes[0].id) == "waiting"
    waiting = await row(db, notes[0].id)
    assert (waiting.status, waiting.send_after, waiting.reason) == (
        "created", f.at(2030, 2, 27, 7, 0), Reason.QUIET_HOURS)
    clock.now = f.at(2030, 2, 27, 6, 59)
    assert await jobs.deliver(runtime, notes[0].id) == "not_due"
    clock.now = f.at(2030, 2, 27, 7, 0)
    assert await jobs.deliver(runtime, notes[0].id) == "accepted"
    assert sms.messages[0].validity_seconds == 36_000


async def test_a_throttled_send_is_retried_later(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    sms.will("retry")
    assert await jobs.deliver(runtime, notes[0].id) == "retry"
    waiting = await row(db, notes[0].id)
    assert (waiting.status, waiting.attempts, waiting.send_after, waiting.error_code,
            waiting.reason, waiting.in_doubt) == (
        "created", 1, EARLY + timedelta(seconds=30), 20429, Reason.PROVIDER_BUSY, False)
    assert await jobs.deliver(runtime, notes[0].id) == "not_due"
    clock.advance(seconds=30)
    assert await jobs.deliver(runtime, notes[0].id) == "accepted"
    assert (await row(db, notes[0].id)).attempts == 2
    assert sms.delivered_to() == {notes[0].id: 1}


async def test_retries_end_in_technical_failure(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock, max_attempts=2)
    sms.will("retry", "retry")
    assert await jobs.deliver(runtime, notes[0].id) == "retry"
    clock.advance(seconds=30)
    assert await jobs.deliver(runtime, notes[0].id) == "failed"
    after = await row(db, notes[0].id)
    assert (after.status, after.reason) == ("technical-failure", Reason.RETRIES_EXHAUSTED)


async def test_a_permanent_failure_marks_the_number(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    sms.will("fail")
    assert await jobs.deliver(runtime, notes[0].id) == "failed"
    after = await row(db, notes[0].id)
    assert (after.status, after.error_code, after.reason) == (
        "permanent-failure", 21211, "Invalid 'To' number")
    async with db.read() as session:
        block = await session.get(SmsNumberBlock, ADULT_MOBILE)
    assert block is not None and block.reason == "permanent_failure"
    clock.now = notes[2].send_after
    assert await jobs.deliver(runtime, notes[2].id) == "cancelled"
    assert (await row(db, notes[2].id)).reason == Reason.NUMBER_FAILED
    assert sms.calls == 1


async def test_an_opted_out_number_is_skipped(db, sms, clock):
    _, _, notes = await booked(db)
    async with db.write() as session:
        session.add(SmsNumberBlock(e164=ADULT_MOBILE, reason="opted_out", since=EARLY))
    runtime = make_runtime(db, sms, clock)
    assert await jobs.deliver(runtime, notes[0].id) == "cancelled"
    assert (await row(db, notes[0].id)).reason == Reason.OPTED_OUT
    assert sms.calls == 0


async def test_provider_opt_out_marks_the_number_opted_out(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    sms.will("opted_out")
    assert await jobs.deliver(runtime, notes[0].id) == "failed"
    async with db.read() as session:
        block = await session.get(SmsNumberBlock, ADULT_MOBILE)
    assert block is not None and block.reason == "opted_out"


async def test_a_lost_answer_is_reconciled_never_resent(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    sms.will("lost")
    assert await jobs.deliver(runtime, notes[0].id) == "in_doubt"
    doubt = await row(db, notes[0].id)
    assert (doubt.status, doubt.in_doubt, doubt.reason, doubt.send_after) == (
        "created", True, Reason.IN_DOUBT, EARLY + timedelta(minutes=1))
    clock.advance(minutes=1)
    assert await jobs.deliver(runtime, notes[0].id) == "reconciled"
    after = await row(db, notes[0].id)
    assert (after.status, after.in_doubt, after.provider_ref) == (
        "pending", False, sms.messages[0].provider_ref)
    assert sms.calls == 1 and sms.lookups == 1
    assert sms.delivered_to() == {notes[0].id: 1}


async def test_a_hand_over_that_never_arrived_is_sent_after_asking(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    sms.will("unknown")
    assert await jobs.deliver(runtime, notes[0].id) == "in_doubt"
    clock.advance(minutes=1)
    assert await jobs.deliver(runtime, notes[0].id) == "accepted"
    assert sms.calls == 2 and sms.lookups == 1
    assert sms.delivered_to() == {notes[0].id: 1}
    assert (await row(db, notes[0].id)).attempts == 2


async def test_a_channel_that_raises_leaves_the_send_in_doubt(db, sms, clock):
    _, _, notes = await booked(db)
    runtime = make_runtime(db, sms, clock)
    sms.will("raise")
    assert await jobs.deliver(runtime, notes[0].id) == "in_doubt"
    assert (await row(db, notes[0].id)).in_doubt is True


class DiesMidCall(MemorySms):
    """The provider takes the message, then the worker is killed."""

    async def send(self, **kw):
        await super().send(**kw)
        raise asyncio.CancelledError


async def test_a_worker_killed_mid_send_is_reconciled_after_its_lease(db, clock):
    _, _, notes = await booked(db)
    dying = DiesMidCall()
    with pytest.raises(asyncio.CancelledError):
        await jobs.deliver(make_runtime(db, dying, clock), notes[0].id)
    held = await row(db, notes[0].id)
    assert (held.status, held.in_doubt, held.claimed_until, held.send_after) == (
        "created", True, EARLY + timedelta(minutes=2), EARLY + timedelta(minutes=2))
    survivor = MemorySms(messages=dying.messages)
    runtime = make_runtime(db, survivor, clock)
    assert await jobs.deliver(runtime, notes[0].id) == "claimed"  # the lease still holds
    ctx = {"runtime": runtime}
    assert await sweeps.enqueue_due(ctx) == 0
    clock.advance(minutes=2)
    assert await sweeps.enqueue_due(ctx) == 1  # due again once the lease has run out
    assert await jobs.deliver(runtime, notes[0].id) == "reconciled"
    assert survivor.calls == 0
    assert survivor.delivered_to() == {notes[0].id: 1}
    assert (await row(db, notes[0].id)).status == "pending"


async def test_a_guardian_message_names_the_child(db, sms, clock):
    world = await world_with_phones(db)
    async with db.write() as s:
        mother = await f.patient(s, birth_date=date(1988, 1, 1), mobile=GUARDIAN_MOBILE,
                                 preferred_language="nn")
        await f.guardianship(s, mother, world.child)
    appointment = (await service.book(
        db, Actor.guardian(mother.id, {world.child.id}), patient_id=world.child.id,
        slot_id=world.slots[0].id, appointment_type_id=world.child_exam.id,
        now=EARLY)).appointment
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    runtime = make_runtime(db, sms, clock)
    assert await jobs.deliver(runtime, confirmation.id) == "accepted"
    [handed] = sms.messages
    assert handed.to_e164 == GUARDIAN_MOBILE
    assert handed.body.startswith(
        f"{world.clinic.name}: Timen til Ola er bestilt måndag 4. mars kl. 10:00.")
    assert (await row(db, confirmation.id)).template_id == "confirmation.guardian"


async def test_no_number_means_cancelled_with_the_reason(db, sms, clock):
    world = await world_with_phones(db)
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == world.adult.id)
                              .values(mobile=None, preferred_language="en"))
    appointment = (await book_adult(db, world)).appointment
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    runtime = make_runtime(db, sms, clock)
    assert await jobs.deliver(runtime, confirmation.id) == "cancelled"
    assert (await row(db, confirmation.id)).reason == Reason.NO_MOBILE


async def test_the_patients_language_is_used(db, sms, clock):
    world = await world_with_phones(db)
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == world.adult.id)
                              .values(preferred_language="en"))
    appointment = (await book_adult(db, world)).appointment
    runtime = make_runtime(db, sms, clock)
    confirmation = (await rows(db, appointment_id=appointment.id))[0]
    await jobs.deliver(runtime, confirmation.id)
    assert sms.messages[0].body.startswith(
        f"{world.clinic.name}: Your appointment is booked for Monday 4 March at 10:00.")
    assert START == appointment.starts_at


async def test_accepted_with_a_final_status_from_lookup_is_recorded(db, clock):
    _, _, notes = await booked(db)

    class Delivered(MemorySms):
        async def send(self, **kw):
            self.calls += 1
            return SmsResult(SendOutcome.ACCEPTED, provider_ref="SMx", status="delivered")

    runtime = make_runtime(db, Delivered(), clock)
    assert await jobs.deliver(runtime, notes[0].id) == "accepted"
    assert (await row(db, notes[0].id)).status == "delivered"


async def test_a_notice_too_late_for_the_sending_hours_says_so(db, sms, clock):
    """Booked at 21:30 for an appointment at 08:04: the sending hours open at
    08:00, too late for a text. It ends with its own reason, not a generic
    "expired" that reads like a technical fault."""
    from notifications.models import Notification
    from notifications.reason_text import explain

    _, _, notes = await booked(db)
    async with db.write() as session:
        await session.execute(update(Notification).where(Notification.id == notes[0].id)
                              .values(expires_at=f.at(2030, 2, 27, 7, 4)))
    runtime = make_runtime(db, sms, clock)
    clock.now = f.at(2030, 2, 26, 20, 30)  # 21:30 in Oslo
    assert await jobs.deliver(runtime, notes[0].id) == "technical-failure"
    after = await row(db, notes[0].id)
    assert (after.status, after.reason) == ("technical-failure",
                                           Reason.EXPIRED_BEFORE_SENDING_HOURS)
    assert explain(after.status, after.reason, "en") == (
        "Not sent: the appointment starts before the sending hours open again, so the text "
        "would have come too late.")
    assert sms.calls == 0
