"""Why the service says no, or warns: a closed set of codes, each with text
for people. The text is marked for translation here and translated where it
is shown (web pages, SMS replies), in the reader's language."""

from __future__ import annotations

from enum import StrEnum


def N_(message: str) -> str:
    """Mark a string for extraction; translated later, at display time."""
    return message


class Reason(StrEnum):
    UNKNOWN_SLOT = "unknown_slot"
    UNKNOWN_APPOINTMENT = "unknown_appointment"
    UNKNOWN_PATIENT = "unknown_patient"
    UNKNOWN_TYPE = "unknown_type"
    WRONG_CLINIC = "wrong_clinic"
    SLOT_TAKEN = "slot_taken"
    SLOT_CLOSED = "slot_closed"
    SLOT_NOT_RELEASED = "slot_not_released"
    SLOT_IN_PAST = "slot_in_past"
    SLOT_TOO_SOON = "slot_too_soon"
    SLOT_TOO_FAR_AHEAD = "slot_too_far_ahead"
    TYPE_NOT_IN_SLOT = "type_not_in_slot"
    SLOT_TOO_SHORT = "slot_too_short"
    TYPE_NOT_SELF_BOOKABLE = "type_not_self_bookable"
    AGE_NOT_ALLOWED = "age_not_allowed"
    ALREADY_BOOKED_TYPE = "already_booked_type"
    OVERLAPS_OTHER = "overlaps_other"
    CUTOFF_PASSED = "cutoff_passed"
    ALREADY_STARTED = "already_started"
    NOT_ACTIVE = "not_active"
    ALREADY_CONFIRMED = "already_confirmed"
    RESCHEDULE_LIMIT = "reschedule_limit"
    NOT_YET_STARTED = "not_yet_started"
    NOT_ALLOWED_FOR_ACTOR = "not_allowed_for_actor"
    SAME_SLOT = "same_slot"
    # Staff acting for a patient (booking.staff_booking).
    REASON_REQUIRED = "reason_required"
    OVERBOOK_REASON_REQUIRED = "overbook_reason_required"
    UNKNOWN_CHAIR = "unknown_chair"
    CHAIR_BUSY = "chair_busy"
    START_TAKEN = "start_taken"
    WAITLIST_NO_CLINIC = "waitlist_no_clinic"
    WAITLIST_BAD_WISHES = "waitlist_bad_wishes"
    OFFER_ENDED = "offer_ended"
    NOT_TODAY = "not_today"
    ALREADY_ARRIVED = "already_arrived"
    ALREADY_ENDED = "already_ended"
    NOTHING_TO_UNDO = "nothing_to_undo"
    UNDO_TOO_LATE = "undo_too_late"


class Warning(StrEnum):
    LATE_CANCELLATION_FEE = "late_cancellation_fee"


REASON_TEXT: dict[str, str] = {
    Reason.UNKNOWN_SLOT: N_("We could not find that time. Please choose another."),
    Reason.UNKNOWN_APPOINTMENT: N_("We could not find that appointment."),
    Reason.UNKNOWN_PATIENT: N_("We could not find that person."),
    Reason.UNKNOWN_TYPE: N_("We could not find that kind of appointment."),
    Reason.WRONG_CLINIC: N_("That time belongs to another clinic. Please choose again."),
    Reason.SLOT_TAKEN: N_("Someone else has just booked that time. Please choose another."),
    Reason.SLOT_CLOSED: N_("The clinic is closed at that time. Please choose another."),
    Reason.SLOT_NOT_RELEASED: N_(
        "That time cannot be booked online. Please call the clinic."),
    Reason.SLOT_IN_PAST: N_("That time has already passed. Please choose another."),
    Reason.SLOT_TOO_SOON: N_(
        "That time is too soon to book online (at least %(hours)s hours' notice). "
        "Please choose a later time or call the clinic."),
    Reason.SLOT_TOO_FAR_AHEAD: N_(
        "That time is too far ahead. You can book up to %(days)s days ahead."),
    Reason.TYPE_NOT_IN_SLOT: N_("That time is not for this kind of appointment."),
    Reason.SLOT_TOO_SHORT: N_("That time is too short for this kind of appointment."),
    Reason.TYPE_NOT_SELF_BOOKABLE: N_(
        "This kind of appointment cannot be booked online. Please call the clinic."),
    Reason.AGE_NOT_ALLOWED: N_("This kind of appointment is not offered at this age."),
    Reason.ALREADY_BOOKED_TYPE: N_(
        "There is already an upcoming appointment of this kind. "
        "Change that one instead of booking a new one."),
    Reason.OVERLAPS_OTHER: N_("There is already another appointment at that time."),
    Reason.CUTOFF_PASSED: N_(
        "Less than %(hours)s hours are left, so the time can no longer be changed online. "
        "To change it, call the clinic."),
    Reason.ALREADY_STARTED: N_("The appointment has already started or is over."),
    Reason.NOT_ACTIVE: N_("The appointment has been cancelled or is over."),
    Reason.ALREADY_CONFIRMED: N_("You have already confirmed this appointment."),
    Reason.RESCHEDULE_LIMIT: N_(
        "This appointment has been changed as many times as allowed online. "
        "Please call the clinic."),
    Reason.NOT_YET_STARTED: N_("The appointment has not started yet."),
    Reason.NOT_ALLOWED_FOR_ACTOR: N_("You cannot do this for this person."),
    Reason.SAME_SLOT: N_("That is the time you already have."),
    Reason.REASON_REQUIRED: N_("Write why you are doing this for the patient."),
    Reason.OVERBOOK_REASON_REQUIRED: N_("Write why the chair should be overbooked."),
    Reason.UNKNOWN_CHAIR: N_("We could not find that chair at this clinic."),
    Reason.CHAIR_BUSY: N_(
        "The chair already has an appointment at that time. Choose another time or "
        "chair, or overbook on purpose with a reason."),
    Reason.START_TAKEN: N_(
        "The chair already has a time starting exactly then. Choose another start "
        "or another chair."),
    Reason.WAITLIST_NO_CLINIC: N_("Please choose at least one clinic in your county."),
    Reason.WAITLIST_BAD_WISHES: N_(
        "Please check the weekdays, the times of day and the notice you need."),
    Reason.OFFER_ENDED: N_(
        "This time has been taken or the offer has ended. You keep the appointment you have."),
    Reason.NOT_TODAY: N_("You can only check in on the day of the appointment."),
    Reason.ALREADY_ARRIVED: N_("The patient has already arrived."),
    Reason.ALREADY_ENDED: N_("The appointment is over."),
    Reason.NOTHING_TO_UNDO: N_("There is nothing to undo."),
    Reason.UNDO_TOO_LATE: N_("A mark can only be undone on the day it was made."),
}

WARNING_TEXT: dict[str, str] = {
    Warning.LATE_CANCELLATION_FEE: N_(
        "Less than 24 hours are left. The clinic may charge adults a fee for "
        "cancelling this late."),
}
