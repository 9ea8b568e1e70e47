"""What a reminder says as it goes (``delivery.reminder_asks_and_links``):
it asks for JA only where that reply would confirm (a clinic-issued
appointment still awaiting its answer), and links the pre-visit form only to
whoever may fill it in under the representation rules (a guardian for a
child under 12; from 12 the young person; from 16 only they) at a clinic
that uses it. Delivered through the delivery job, with the injected clock."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select, update

from booking import service
from booking.audit import Actor
from booking.models import County
from notifications import jobs
from notifications.models import Notification, SmsReplyChoice
from notifications.statuses import Purpose
from tests import factories as f
from tests.notifications.helpers import (
    ADULT_MOBILE,
    EARLY,
    GUARDIAN_MOBILE,
    book_adult,
    helsenorge_went,
    make_runtime,
    rows,
    world_with_phones,
)

TEEN_MOBILE = "+4741000015"
YOUNG_ADULT_MOBILE = "+4741000016"
ASKS = re.compile(r"\bSvar JA\b")


async def first_reminder(db, appointment_id: int) -> Notification:
    return (await rows(db, appointment_id=appointment_id, purpose=Purpose.REMINDER))[0]


async def deliver_reminders(db, sms, clock, appointment_id: int) -> dict[str, str]:
    """Hand over the appointment's first reminder rows (one per recipient) at
    their time; the bodies by number."""
    reminders = await rows(db, appointment_id=appointment_id, purpose=Purpose.REMINDER)
    first = min(n.send_after for n in reminders)
    clock.now = first
    await helsenorge_went(db, clock.now)
    runtime = make_runtime(db, sms, clock)
    for row in reminders:
        if row.send_after == first:
            assert await jobs.deliver(runtime, row.id) == "accepted"
    return {m.to_e164: m.body for m in sms.messages}


async def test_a_time_the_patient_booked_links_the_form_but_asks_nothing(db, sms, clock):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    body = (await deliver_reminders(db, sms, clock, booked.id))[ADULT_MOBILE]
    assert not ASKS.search(body)
    assert "/skjema" in body and "Kart:" in body
    assert (await first_reminder(db, booked.id)).template_id == "reminder_form.self"


async def test_a_clinic_issued_time_asks_for_ja_until_it_is_confirmed(db, sms, clock):
    world = await world_with_phones(db)
    staff = Actor.staff("s1", {world.clinic.id})
    booked = (await service.book(db, staff, patient_id=world.adult.id,
                                 slot_id=world.slots[0].id, appointment_type_id=world.exam.id,
                                 clinic_issued=True, now=EARLY)).appointment
    body = (await deliver_reminders(db, sms, clock, booked.id))[ADULT_MOBILE]
    assert "Svar JA hvis du kommer." in body and "/skjema" in body
    assert (await first_reminder(db, booked.id)).template_id == "reminder_ja_form.self"
    # Confirmed: the next reminder no longer asks.
    await service.confirm(db, Actor.patient(world.adult.id), appointment_id=booked.id,
                          now=clock.now)
    [_, last] = await rows(db, appointment_id=booked.id, purpose=Purpose.REMINDER)
    clock.now = last.send_after
    assert await jobs.deliver(make_runtime(db, sms, clock), last.id) == "accepted"
    assert not ASKS.search(sms.messages[-1].body) and "/skjema" in sms.messages[-1].body


async def test_a_county_may_say_which_clinics_use_the_form(db, sms, clock):
    world = await world_with_phones(db)
    booked = (await book_adult(db, world)).appointment
    async with db.write() as session:
        await session.execute(update(County).where(County.id == world.clinic.county_id)
                              .values(quiet_hours={"previsit_form": [world.other_clinic.slug]}))
    body = (await deliver_reminders(db, sms, clock, booked.id))[ADULT_MOBILE]
    assert "/skjema" not in body and "Kalender:" in body  # the plain reminder
    assert (await first_reminder(db, booked.id)).template_id == "reminder.self"


async def _child_of_age(db, world, born: date, mobile: str | None,
                        guardian_address: str = "addr-1") -> int:
    """A child born ``born`` with one guardian (by default at the same
    address), and a clinic-issued appointment in the first slot; its id."""
    async with db.write() as s:
        guardian = await f.patient(s, birth_date=date(1980, 1, 1), mobile=GUARDIAN_MOBILE,
                                   address_key=guardian_address)
        child = await f.patient(s, birth_date=born, given_name="Emma", mobile=mobile)
        await f.guardianship(s, guardian, child)
        child_id = child.id
    staff = Actor.staff("s1", {world.clinic.id})
    return (await service.book(db, staff, patient_id=child_id, slot_id=world.slots[0].id,
                               appointment_type_id=world.child_exam.id, clinic_issued=True,
                               now=EARLY)).appointment.id


async def test_under_12_the_guardian_gets_the_form_link(db, sms, clock):
    world = await world_with_phones(db)
    appointment_id = await _child_of_age(db, world, date(2020, 6, 1), None)
    bodies = await deliver_reminders(db, sms, clock, appointment_id)
    assert set(bodies) == {GUARDIAN_MOBILE}
    assert "Emma har time" in bodies[GUARDIAN_MOBILE]
    assert "Svar JA hvis dere kommer." in bodies[GUARDIAN_MOBILE]
    assert "/skjema" in bodies[GUARDIAN_MOBILE]


async def test_from_12_the_young_person_gets_it_and_the_guardian_does_not(db, sms, clock):
    world = await world_with_phones(db)
    appointment_id = await _child_of_age(db, world, date(2016, 1, 1), TEEN_MOBILE)  # 14
    bodies = await deliver_reminders(db, sms, clock, appointment_id)
    assert set(bodies) == {GUARDIAN_MOBILE, TEEN_MOBILE}
    assert "/skjema" not in bodies[GUARDIAN_MOBILE]
    assert "Svar JA hvis dere kommer." in bodies[GUARDIAN_MOBILE]  # a guardian may confirm
    assert "/skjema" in bodies[TEEN_MOBILE] and "Svar JA hvis du kommer." in bodies[TEEN_MOBILE]


async def test_from_16_only_the_young_person(db, sms, clock):
    world = await world_with_phones(db)
    appointment_id = await _child_of_age(db, world, date(2013, 1, 1), YOUNG_ADULT_MOBILE)  # 17
    bodies = await deliver_reminders(db, sms, clock, appointment_id)
    assert set(bodies) == {YOUNG_ADULT_MOBILE}
    assert "/skjema" in bodies[YOUNG_ADULT_MOBILE]


async def test_a_child_under_12_nobody_may_act_for_gets_no_form_link(db, sms, clock):
    """No guardian at the child's address: the child's own number is told
    (as before), and a child under 12 does not fill in the form."""
    world = await world_with_phones(db)
    appointment_id = await _child_of_age(db, world, date(2020, 6, 1), TEEN_MOBILE,
                                         guardian_address="elsewhere")
    bodies = await deliver_reminders(db, sms, clock, appointment_id)
    assert set(bodies) == {TEEN_MOBILE}
    assert "/skjema" not in bodies[TEEN_MOBILE]


async def test_a_guardian_of_two_waiting_children_is_asked_once_with_numbers(db, sms, clock):
    """Two children's clinic-issued times await an answer: their reminders go
    without asking, and one numbered text asks for both (JA 1, JA 2, JA)."""
    world = await world_with_phones(db)
    async with db.write() as s:
        guardian = await f.patient(s, birth_date=date(1980, 1, 1), mobile=GUARDIAN_MOBILE)
        emma = await f.patient(s, birth_date=date(2020, 6, 1), given_name="Emma")
        jonas = await f.patient(s, birth_date=date(2021, 6, 1), given_name="Jonas")
        await f.guardianship(s, guardian, emma)
        await f.guardianship(s, guardian, jonas)
        guardian_id, children = guardian.id, [emma.id, jonas.id]
    staff = Actor.staff("s1", {world.clinic.id})
    appointments = [
        (await service.book(db, staff, patient_id=child, slot_id=world.slots[n].id,
                            appointment_type_id=world.child_exam.id, clinic_issued=True,
                            now=EARLY)).appointment.id
        for n, child in enumerate(children)]
    for appointment_id in appointments:
        await deliver_reminders(db, sms, clock, appointment_id)
        reminder = await first_reminder(db, appointment_id)
        assert reminder.template_id == "reminder_form.guardian"
        assert not ASKS.search(reminder.body or "")
    [asked] = await rows(db, recipient_id=guardian_id, purpose=Purpose.CONFIRM_REQUEST)
    assert "JA 1" in (asked.body or "") and "JA 2" in (asked.body or "")
    async with db.read() as session:
        lines = (await session.execute(
            select(SmsReplyChoice.position, SmsReplyChoice.appointment_id)
            .where(SmsReplyChoice.notification_id == asked.id)
            .order_by(SmsReplyChoice.position))).all()
    assert [tuple(line) for line in lines] == [(1, appointments[0]), (2, appointments[1])]


async def test_one_waiting_child_keeps_the_ja_in_the_reminder(db, sms, clock):
    world = await world_with_phones(db)
    appointment_id = await _child_of_age(db, world, date(2020, 6, 1), None)
    await deliver_reminders(db, sms, clock, appointment_id)
    assert (await first_reminder(db, appointment_id)).template_id == "reminder_ja_form.guardian"
    assert await rows(db, purpose=Purpose.CONFIRM_REQUEST) == []
