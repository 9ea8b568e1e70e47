"""Words of the clinic console for the closed vocabularies it shows."""

from __future__ import annotations

from typing import Final

from booking.day import AgeGroup
from booking.reasons import N_
from booking.statuses import ActorKind, Attendance, Mark

AGE_GROUP_TEXT: Final[dict[str, str]] = {
    AgeGroup.CHILD: N_("child"),
    AgeGroup.YOUTH: N_("young person"),
    AgeGroup.ADULT: N_("adult"),
}
ATTENDANCE_TEXT: Final[dict[str, str]] = {
    Attendance.EXPECTED: N_("Expected"),
    Attendance.ARRIVED: N_("Arrived"),
    Attendance.COMPLETED: N_("Completed"),
    Attendance.NO_SHOW: N_("Did not come"),
    Attendance.CANCELLED: N_("Cancelled"),
}
#: Designsystemet colour of the attendance tag; the word carries the meaning.
ATTENDANCE_COLOR: Final[dict[str, str]] = {
    Attendance.EXPECTED: "neutral",
    Attendance.ARRIVED: "success",
    Attendance.COMPLETED: "info",
    Attendance.NO_SHOW: "warning",
    Attendance.CANCELLED: "neutral",
}
MARK_TEXT: Final[dict[str, str]] = {
    Mark.ARRIVED: N_("Mark arrived"),
    Mark.COMPLETED: N_("Mark completed"),
    Mark.NO_SHOW: N_("Mark no-show"),
}
MARKED_TEXT: Final[dict[str, str]] = {
    Mark.ARRIVED: N_("Marked as arrived."),
    Mark.COMPLETED: N_("Marked as completed."),
    Mark.NO_SHOW: N_("Marked as no-show."),
    "undone": N_("The mark was undone."),
}
#: Who put a patient on the waitlist (``WaitlistEntry.created_by_kind``).
ADDED_BY_TEXT: Final[dict[str, str]] = {
    ActorKind.PATIENT: N_("The patient"),
    ActorKind.GUARDIAN: N_("A guardian"),
    ActorKind.STAFF: N_("The clinic"),
}
#: What the waitlist form on the staff appointment page just did.
WAITLIST_DONE_TEXT: Final[dict[str, str]] = {
    "lagt": N_("The patient is on the waitlist with these wishes."),
    "fjernet": N_("The patient is no longer on the waitlist."),
}
