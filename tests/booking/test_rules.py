"""The rules as pure functions: every reason, and its boundaries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from booking import rules
from booking.audit import Actor
from booking.models import Appointment, AppointmentType, Clinic, Patient, Slot
from booking.reasons import REASON_TEXT, WARNING_TEXT, Reason, Warning
from booking.statuses import AppointmentStatus, SlotStatus
from tests.factories import at

NOW = at(2030, 3, 1, 9)
START = at(2030, 3, 5, 9)  # Tuesday 10:00 in Oslo


def kind(**kw) -> AppointmentType:
    values = dict(id=7, county_id=1, code="exam", names={}, duration_minutes=30, min_age=0,
                  max_age=None, self_bookable=True, booking_horizon_days=90,
                  min_notice_hours=2, change_cutoff_hours=24, late_cancellation_fee=True,
                  max_self_reschedules=2)
    values.update(kw)
    return AppointmentType(**values)


def slot(**kw) -> Slot:
    values = dict(id=1, clinic_id=10, chair_id=1, template_id=1, starts_at=START,
                  ends_at=START + timedelta(minutes=30), status=SlotStatus.FREE, released=True,
                  held_until=None, hold_key=None)
    values.update(kw)
    s = Slot(**values)
    s.clinic = Clinic(id=values["clinic_id"], county_id=1)
    return s


def patient(birth: date = date(1980, 1, 1), pid: int = 1) -> Patient:
    return Patient(id=pid, birth_date=birth)


def appointment(**kw) -> Appointment:
    values = dict(id=5, patient_id=1, clinic_id=10, slot_id=1, appointment_type_id=7,
                  starts_at=START, ends_at=START + timedelta(minutes=30),
                  status=AppointmentStatus.BOOKED, self_reschedules=0)
    values.update(kw)
    return Appointment(**values)


ME = Actor.patient(1)


def book(**kw):
    args = dict(actor=ME, patient=patient(), appointment_type=kind(), slot=slot(),
                slot_type_ids={7}, now=NOW)
    args.update(kw)
    return rules.may_book(**args)


def test_every_reason_and_warning_has_text():
    assert set(REASON_TEXT) == set(Reason)
    assert set(WARNING_TEXT) == set(Warning)


@pytest.mark.parametrize(("kw", "reason"), [
    ({"slot": slot(status=SlotStatus.BOOKED)}, Reason.SLOT_TAKEN),
    ({"slot": slot(status=SlotStatus.BLOCKED)}, Reason.SLOT_CLOSED),
    ({"slot": slot(status=SlotStatus.HELD, hold_key="x", held_until=NOW + timedelta(minutes=5))},
     Reason.SLOT_TAKEN),
    ({"slot": slot(released=False)}, Reason.SLOT_NOT_RELEASED),
    ({"slot_type_ids": {8}}, Reason.TYPE_NOT_IN_SLOT),
    ({"appointment_type": kind(duration_minutes=45)}, Reason.SLOT_TOO_SHORT),
    ({"appointment_type": kind(self_bookable=False)}, Reason.TYPE_NOT_SELF_BOOKABLE),
    ({"appointment_type": kind(min_age=18), "patient": patient(date(2015, 1, 1))},
     Reason.AGE_NOT_ALLOWED),
    ({"appointment_type": kind(max_age=18), "patient": patient(date(2000, 1, 1))},
     Reason.AGE_NOT_ALLOWED),
    ({"now": START - timedelta(hours=1)}, Reason.SLOT_TOO_SOON),
    ({"now": START - timedelta(days=91)}, Reason.SLOT_TOO_FAR_AHEAD),
    ({"now": START}, Reason.SLOT_IN_PAST),
    ({"actor": Actor.patient(2)}, Reason.NOT_ALLOWED_FOR_ACTOR),
    ({"actor": Actor.guardian(2, {3})}, Reason.NOT_ALLOWED_FOR_ACTOR),
    ({"actor": Actor.staff("s", {11})}, Reason.NOT_ALLOWED_FOR_ACTOR),
    ({"patient_appointments": [appointment(id=9, slot_id=2, appointment_type_id=8,
                                           starts_at=START + timedelta(minutes=15))]},
     Reason.OVERLAPS_OTHER),
    ({"patient_appointments": [appointment(id=9, slot_id=2,
                                           starts_at=START + timedelta(days=7))]},
     Reason.ALREADY_BOOKED_TYPE),
])
def test_booking_refusals(kw, reason):
    decision = book(**kw)
    assert not decision and decision.reason is reason


def test_booking_allowed_and_reasons_carry_parameters():
    assert book()
    assert book(now=START - timedelta(hours=1)).params == {"hours": 2}
    assert book(now=START - timedelta(days=100)).params == {"days": 90}


def test_expired_hold_and_own_hold_are_bookable():
    expired = slot(status=SlotStatus.HELD, hold_key="x", held_until=NOW - timedelta(seconds=1))
    own = slot(status=SlotStatus.HELD, hold_key="mine", held_until=NOW + timedelta(minutes=5))
    assert book(slot=expired)
    assert book(slot=own, hold_key="mine")


def test_staff_may_book_unreleased_time_and_types_patients_may_not():
    staff = Actor.staff("s", {10})
    assert book(actor=staff, slot=slot(released=False),
                appointment_type=kind(self_bookable=False), slot_type_ids=set(),
                now=START - timedelta(minutes=5))


def test_age_counts_from_the_birthday_in_oslo():
    # 18 on the day of the appointment, in Oslo time (UTC 23:30 is next day in Oslo).
    late_evening = at(2030, 3, 4, 23, 30)  # 00:30 on 5 March in Oslo
    s = slot(starts_at=late_evening, ends_at=late_evening + timedelta(minutes=30))
    adult_only = kind(min_age=18)
    assert book(slot=s, appointment_type=adult_only, patient=patient(date(2012, 3, 5)))
    assert not book(slot=s, appointment_type=adult_only, patient=patient(date(2012, 3, 6)))
    assert rules.age_on(date(2012, 2, 29), date(2030, 2, 28)) == 17
    assert rules.age_on(date(2012, 2, 29), date(2030, 3, 1)) == 18


def test_a_patient_may_cancel_online_until_the_appointment_starts():
    a = appointment()
    exam = kind()
    # Outside the 24-hour window: allowed, no fee warning.
    early = rules.may_cancel(ME, a, exam, patient(), START - timedelta(hours=24))
    assert early and early.warnings == ()
    # Inside it (the change cut-off has passed): still allowed, with the fee warning.
    late = rules.may_cancel(ME, a, exam, patient(), START - timedelta(hours=24, seconds=-1))
    assert late and late.warnings == (Warning.LATE_CANCELLATION_FEE,)
    last_minute = rules.may_cancel(ME, a, exam, patient(), START - timedelta(seconds=1))
    assert last_minute and last_minute.warnings == (Warning.LATE_CANCELLATION_FEE,)
    # From the start it is too late for anyone.
    assert rules.may_cancel(ME, a, exam, patient(), START).reason is Reason.ALREADY_STARTED


def test_a_guardian_may_cancel_a_childs_appointment_late_without_a_fee():
    child = patient(date(2020, 1, 1), pid=2)
    guardian = Actor.guardian(1, {2})
    a = appointment(patient_id=2)
    early = rules.may_cancel(guardian, a, kind(), child, START - timedelta(hours=48))
    late = rules.may_cancel(guardian, a, kind(), child, START - timedelta(hours=1))
    assert early and early.warnings == ()
    assert late and late.warnings == ()
    assert rules.fee_rule(kind(), child.birth_date, START, START - timedelta(hours=1)) is (
        rules.FeeRule.NEVER)


def test_changing_keeps_its_cutoff():
    a = appointment()
    exam = kind()
    assert rules.may_change(ME, a, exam, patient(), START - timedelta(hours=24))
    late = rules.may_change(ME, a, exam, patient(), START - timedelta(hours=24, seconds=-1))
    assert late.reason is Reason.CUTOFF_PASSED and late.params == {"hours": 24}
    # With a shorter cut-off the patient may change late, and is warned of the fee.
    short = kind(change_cutoff_hours=2)
    warned = rules.may_change(ME, a, short, patient(), START - timedelta(hours=3))
    assert warned and warned.warnings == (Warning.LATE_CANCELLATION_FEE,)


@pytest.mark.parametrize(("birth", "fee", "hours_before", "rule"), [
    (date(1980, 1, 1), True, 25, rules.FeeRule.LATER),  # adult, outside the window
    (date(1980, 1, 1), True, 24, rules.FeeRule.LATER),  # exactly 24 hours: not late
    (date(1980, 1, 1), True, 23, rules.FeeRule.NOW),  # adult, inside the window
    (date(1980, 1, 1), False, 1, rules.FeeRule.NEVER),  # a kind without the fee
    (date(2020, 1, 1), True, 1, rules.FeeRule.NEVER),  # a child, inside the window
    (date(2020, 1, 1), True, 48, rules.FeeRule.NEVER),  # a child, outside it
    (date(2012, 3, 5), True, 1, rules.FeeRule.NOW),  # 18 on the day of the appointment
    (date(2012, 3, 6), True, 1, rules.FeeRule.NEVER),  # 18 the day after
])
def test_the_fee_rule_for_each_case(birth, fee, hours_before, rule):
    now = START - timedelta(hours=hours_before)
    assert rules.fee_rule(kind(late_cancellation_fee=fee), birth, START, now) is rule
    assert rules.is_late_cancellation(appointment(), now) is (hours_before < 24)
    assert rules.late_fee_from(START) == START - timedelta(hours=24)


def test_confirmation_is_asked_for_only_where_the_clinic_asked():
    assert rules.confirmation_requested(appointment(clinic_issued=True))
    assert not rules.confirmation_requested(appointment(clinic_issued=False))
    assert not rules.confirmation_requested(appointment(
        clinic_issued=True, status=AppointmentStatus.CONFIRMED))
    assert not rules.confirmation_requested(appointment(
        clinic_issued=True, status=AppointmentStatus.CANCELLED))
    # Moved by the patient to a time they chose: nothing left to answer.
    assert not rules.confirmation_requested(appointment(clinic_issued=True, self_reschedules=1))


def test_children_are_never_warned_of_a_fee():
    child = patient(date(2020, 1, 1), pid=2)
    a = appointment(patient_id=2)
    staff = Actor.staff("s", {10})
    assert rules.may_cancel(staff, a, kind(), child, START - timedelta(hours=1)).warnings == ()
    assert rules.may_cancel(staff, appointment(), kind(late_cancellation_fee=False), patient(),
                            START - timedelta(hours=1)).warnings == ()


def test_staff_are_not_bound_by_the_online_cutoff():
    staff = Actor.staff("s", {10})
    decision = rules.may_cancel(staff, appointment(), kind(), patient(), START - timedelta(hours=1))
    assert decision and decision.warnings == (Warning.LATE_CANCELLATION_FEE,)


@pytest.mark.parametrize(("status", "reason"), [
    (AppointmentStatus.CANCELLED, Reason.NOT_ACTIVE),
    (AppointmentStatus.COMPLETED, Reason.NOT_ACTIVE),
    (AppointmentStatus.NO_SHOW, Reason.NOT_ACTIVE),
])
def test_final_appointments_cannot_change(status, reason):
    a = appointment(status=status)
    assert rules.may_cancel(ME, a, kind(), patient(), NOW).reason is reason
    assert rules.may_change(ME, a, kind(), patient(), NOW).reason is reason
    assert rules.may_confirm(ME, a, NOW).reason is reason


def test_change_limit_and_started():
    assert rules.may_change(ME, appointment(self_reschedules=2), kind(), patient(),
                            NOW).reason is Reason.RESCHEDULE_LIMIT
    assert rules.may_change(ME, appointment(), kind(), patient(),
                            START).reason is Reason.ALREADY_STARTED


def test_confirm_rules():
    assert rules.may_confirm(ME, appointment(), NOW)
    assert rules.may_confirm(ME, appointment(status=AppointmentStatus.CONFIRMED),
                             NOW).reason is Reason.ALREADY_CONFIRMED
    assert rules.may_confirm(ME, appointment(), START).reason is Reason.ALREADY_STARTED
    assert rules.may_confirm(Actor.patient(9), appointment(),
                             NOW).reason is Reason.NOT_ALLOWED_FOR_ACTOR


def test_attendance_is_for_the_clinic_after_the_start():
    staff = Actor.staff("s", {10})
    assert rules.may_record_attendance(staff, appointment(), START)
    assert rules.may_record_attendance(staff, appointment(),
                                       NOW).reason is Reason.NOT_YET_STARTED
    assert rules.may_record_attendance(ME, appointment(),
                                       START).reason is Reason.NOT_ALLOWED_FOR_ACTOR
    assert rules.may_record_attendance(Actor.staff("s", {11}), appointment(),
                                       START).reason is Reason.NOT_ALLOWED_FOR_ACTOR


def test_type_rules_without_a_slot():
    adult = kind(min_age=18)
    assert rules.may_self_book_type(adult, date(2000, 1, 1), date(2030, 1, 1))
    assert rules.may_self_book_type(adult, date(2015, 1, 1), date(2030, 1, 1)).reason is (
        Reason.AGE_NOT_ALLOWED)
    assert rules.may_self_book_type(kind(self_bookable=False), date(2000, 1, 1),
                                    date(2030, 1, 1)).reason is Reason.TYPE_NOT_SELF_BOOKABLE
    # Turns 18 within the 90-day horizon: offered now, booked for after the birthday.
    assert rules.self_bookable_within_horizon(adult, date(2012, 3, 1), date(2030, 1, 1))
    assert not rules.self_bookable_within_horizon(adult, date(2012, 6, 1), date(2030, 1, 1))
    child = kind(max_age=18)
    assert not rules.self_bookable_within_horizon(child, date(2000, 1, 1), date(2030, 1, 1))


def test_a_time_overlapping_an_own_appointment_is_not_offered():
    child = patient(date(2020, 1, 1))
    exam = kind(min_age=3, max_age=18, duration_minutes=30)
    mine = [appointment(id=9, appointment_type_id=8, starts_at=START,
                        ends_at=START + timedelta(minutes=45))]

    def why(minutes: int, own=mine, **kw):
        return rules.why_not_offered(exam, child.birth_date, START + timedelta(minutes=minutes),
                                     own, **kw)

    assert why(0) is Reason.OVERLAPS_OTHER
    assert why(-29) is Reason.OVERLAPS_OTHER  # its last minute is the other's first
    assert why(44) is Reason.OVERLAPS_OTHER
    assert why(-30) is None  # ends as the other starts
    assert why(45) is None  # starts as the other ends
    assert why(0, ignore_appointment_id=9) is None  # the appointment being changed
    assert why(0, [appointment(id=9, status=AppointmentStatus.CANCELLED)]) is None
    assert why(0, ()) is None
    # The same rule as when the service refuses: offered exactly when bookable.
    for minutes in (-30, -29, 0, 44, 45):
        moment = START + timedelta(minutes=minutes)
        decision = book(patient=child, appointment_type=exam, patient_appointments=mine,
                        slot=slot(starts_at=moment, ends_at=moment + timedelta(minutes=30)))
        offered = why(minutes) is None
        assert bool(decision) is offered
        assert offered or decision.reason is Reason.OVERLAPS_OTHER


def test_a_time_of_a_kind_not_for_this_age_or_not_online_is_not_offered():
    nine_on_the_day = date(2021, 3, 5)
    braces = kind(min_age=10)
    assert rules.why_not_offered(braces, nine_on_the_day, START) is Reason.AGE_NOT_ALLOWED
    # A year later (Oslo time decides the day) the child is ten.
    assert rules.why_not_offered(braces, nine_on_the_day, at(2031, 3, 4, 23, 30)) is None
    assert rules.why_not_offered(kind(self_bookable=False), nine_on_the_day, START) is (
        Reason.TYPE_NOT_SELF_BOOKABLE)


def test_why_a_kind_is_not_offered_at_all():
    today = START.date()
    assert rules.why_kind_not_offered(kind(), date(1980, 1, 1), today) is None
    assert rules.why_kind_not_offered(kind(self_bookable=False), date(1980, 1, 1), today) is (
        Reason.TYPE_NOT_SELF_BOOKABLE)
    # Within the booking horizon is enough: 18 in 90 days' time, or 18 still today.
    assert rules.why_kind_not_offered(kind(min_age=18), date(2012, 6, 1), today) is None
    assert rules.why_kind_not_offered(kind(min_age=18), date(2012, 6, 4), today) is (
        Reason.AGE_NOT_ALLOWED)
    assert rules.why_kind_not_offered(kind(max_age=18), date(2011, 3, 6), today) is None
    assert rules.why_kind_not_offered(kind(max_age=18), date(2011, 3, 5), today) is (
        Reason.AGE_NOT_ALLOWED)


def test_the_late_fee_applies_to_adults_on_the_day_and_kinds_with_a_fee():
    assert rules.late_fee_applies(kind(), date(1980, 1, 1), START)
    assert not rules.late_fee_applies(kind(late_cancellation_fee=False), date(1980, 1, 1), START)
    # 18 on 5 March in Oslo: an appointment at 00:30 Oslo time that day counts as adult.
    late_evening = at(2030, 3, 4, 23, 30)
    assert rules.late_fee_applies(kind(), date(2012, 3, 5), late_evening)
    assert not rules.late_fee_applies(kind(), date(2012, 3, 6), late_evening)
