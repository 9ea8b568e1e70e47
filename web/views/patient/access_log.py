"""``GET /innsyn``: who other than the patient has seen or changed their data,
when, and why, from the audit log (``booking.audit.entries_about``).

People are described by what they are to the patient, never by internal
ids: "you" (a guardian reading their child's log), "guardian (Ingrid)", a
staff member's role and clinic, user support, the record system. A guardian
of a 12–15-year-old does not see the young person's log (it is beyond
logistics); the page says so and reads nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from booking import audit
from booking.audit import Actor
from booking.models import Appointment, AuditEntry, Clinic, Guardianship, Patient
from booking.reasons import N_
from booking.representation import Capability
from booking.rules import local_date
from booking.statuses import ActorKind
from core.db import Database
from web import i18n
from web.acting import REFUSED_ACTION, Acting, acting
from web.auth.models import StaffUser
from web.auth.roles import StaffRole
from web.templating import render

ACCESS_LOG_VIEW: Final = "access_log.view"
#: The newest entries shown.
LIMIT: Final = 200

ACTION_TEXT: Final[dict[str, str]] = {
    "appointments.view": N_("Looked at the appointments"),
    ACCESS_LOG_VIEW: N_("Looked at this list"),
    "appointment.book": N_("Booked an appointment"),
    "appointment.change": N_("Changed an appointment"),
    "appointment.cancel": N_("Cancelled an appointment"),
    "appointment.confirm": N_("Confirmed an appointment"),
    "appointment.completed": N_("Recorded that the appointment took place"),
    "appointment.no_show": N_("Recorded that nobody came to the appointment"),
    "notification.resend": N_("Sent a message again"),
    "appointment.arrived": N_("Recorded that the patient arrived"),
    "appointment.check_in": N_("Checked in at the clinic"),
    "appointment.attendance_undone": N_("Took back a mark of attendance"),
    "clinic.appointment.open": N_("Opened the appointment at the clinic's desk"),
    "clinic.patient.lookup": N_("Looked the patient up"),
    "clinic.patient.view": N_("Looked at the patient's page"),
    "clinic.access.refused": N_("Tried to see the data, but was refused"),
    REFUSED_ACTION: N_("Tried to see the data, but was refused"),
    "patient.register": N_("Created the patient record"),
    "waitlist.add": N_("Put the appointment on the waitlist for an earlier time"),
    "waitlist.update": N_("Changed the wishes for an earlier time"),
    "waitlist.withdraw": N_("Took the appointment off the waitlist"),
}
OTHER_ACTION: Final = N_("Looked at or changed the data")

PURPOSE_TEXT: Final[dict[str, str]] = {
    "guardian_for_child": N_("As a guardian"),
    "reception": N_("Appointments at the clinic"),
    "support": N_("Help with messages about appointments"),
    "record_system_sync": N_("Keeping the clinic's records up to date"),
    "system": N_("Automatic work of the service"),
    "self_service": N_("Self-service"),
    "first_login": N_("First login"),
}
OTHER_PURPOSE: Final = N_("Other")

ROLE_TEXT: Final[dict[str, str]] = {
    StaffRole.CLINIC_ADMIN: N_("Clinic administrator"),
    StaffRole.RECEPTION: N_("Clinic staff (reception)"),
    StaffRole.SUPPORT: N_("User support"),
    StaffRole.COUNTY_ADMIN: N_("County administrator"),
}
STAFF_TEXT: Final = N_("Staff of the public dental service")


#: Page views are shown grouped by person, day and purpose ("looked at the
#: appointments 10 times between 09:12 and 09:16"); changes one by one.
VIEW_ACTIONS: Final = frozenset({"appointments.view", ACCESS_LOG_VIEW,
                                 "clinic.appointment.open", "clinic.patient.view"})


@dataclass(frozen=True)
class LogLine:
    occurred_at: datetime  # the newest of a group
    who: str
    what: str
    why: str
    #: How many entries the line stands for, and the oldest of them.
    count: int = 1
    first_at: datetime | None = None


@dataclass(frozen=True)
class _Names:
    """What it takes to describe the actors of a page of entries."""

    guardians: dict[str, str]  # actor id -> given name
    staff_roles: dict[str, str]  # actor id -> role
    clinics: dict[int, str]  # appointment id -> clinic name


def _appointment_id(entry: AuditEntry) -> int | None:
    value = (entry.detail or {}).get("appointment_id")
    return value if isinstance(value, int) else None


async def _names(db: Database, subject_id: int, entries: Sequence[AuditEntry]) -> _Names:
    staff_subjects = {e.actor_id.removeprefix("staff:") for e in entries
                      if e.actor_kind == ActorKind.STAFF and e.actor_id.startswith("staff:")}
    appointment_ids = {i for i in map(_appointment_id, entries) if i is not None}
    async with db.read() as session:
        guardians = {Actor.patient(pid).id: name for pid, name in (await session.execute(
            select(Patient.id, Patient.given_name)
            .join(Guardianship, Guardianship.guardian_id == Patient.id)
            .where(Guardianship.child_id == subject_id))).all()}
        staff_roles: dict[str, str] = {}
        if staff_subjects:
            for subject, role in (await session.execute(
                    select(StaffUser.subject, StaffUser.role)
                    .where(StaffUser.subject.in_(staff_subjects)))).all():
                staff_roles[f"staff:{subject}"] = role
        clinics: dict[int, str] = {}
        if appointment_ids:
            clinics = {aid: name for aid, name in (await session.execute(
                select(Appointment.id, Clinic.name)
                .join(Clinic, Clinic.id == Appointment.clinic_id)
                .where(Appointment.id.in_(appointment_ids)))).all()}
    return _Names(guardians, staff_roles, clinics)


def _who(entry: AuditEntry, names: _Names, viewer: Acting) -> str:
    _ = i18n.gettext
    kind = entry.actor_kind
    if kind in (ActorKind.PATIENT, ActorKind.GUARDIAN):
        if viewer.for_child and entry.actor_id == Actor.patient(viewer.me.id).id:
            return _("You")
        name = names.guardians.get(entry.actor_id)
        if name is not None:
            return _("Guardian (%(name)s)") % {"name": name} if name else _("Guardian")
        return _("Another person")
    if kind == ActorKind.STAFF:
        role = names.staff_roles.get(entry.actor_id)
        who = _(ROLE_TEXT[role]) if role in ROLE_TEXT else _(STAFF_TEXT)
        clinic = names.clinics.get(_appointment_id(entry) or 0)
        return _("%(who)s, %(clinic)s") % {"who": who, "clinic": clinic} if clinic else who
    if kind == ActorKind.SUPPORT:
        return _(ROLE_TEXT[StaffRole.SUPPORT])
    if kind == ActorKind.RECORD_SYSTEM:
        return _("The clinic's record system")
    return _("Tanntid (automatic)")


@dataclass(frozen=True)
class _Shown:
    """An entry as the page shows it: refused attempts of one person on one
    day are one line, with how many there were."""

    entry: AuditEntry
    count: int = 1


def coalesce(entries: Sequence[AuditEntry]) -> list[_Shown]:
    """Newest first, as given, with each person's refused attempts of a day
    (Oslo time) folded into the newest of them: anyone can be refused any
    number of times, but only once a day fills the patient's page."""
    shown: list[_Shown] = []
    refused_at: dict[tuple[str, date], int] = {}
    for entry in entries:
        if entry.action != REFUSED_ACTION:
            shown.append(_Shown(entry))
            continue
        key = (entry.actor_id, local_date(entry.occurred_at))
        index = refused_at.get(key)
        if index is None:
            refused_at[key] = len(shown)
            shown.append(_Shown(entry))
        else:
            shown[index] = _Shown(shown[index].entry, shown[index].count + 1)
    return shown


def _what(shown: _Shown) -> str:
    if shown.entry.action == REFUSED_ACTION and shown.count > 1:
        return i18n.ngettext("Tried %(num)d time to see the data, but was refused",
                             "Tried %(num)d times to see the data, but was refused",
                             shown.count) % {"num": shown.count}
    return i18n.gettext(ACTION_TEXT.get(shown.entry.action, OTHER_ACTION))


def describe(entries: Sequence[AuditEntry], names: _Names, viewer: Acting) -> list[LogLine]:
    """One line per change; the views of one person on one day (Oslo) for
    one purpose as one line, where the newest of them is. ``entries``
    newest first."""
    _ = i18n.gettext
    lines: list[LogLine] = []
    groups: dict[tuple[str, date, str, str], int] = {}
    for shown in coalesce(entries):
        entry = shown.entry
        who = _who(entry, names, viewer)
        line = LogLine(entry.occurred_at, who, _what(shown),
                       _(PURPOSE_TEXT.get(entry.purpose, OTHER_PURPOSE)))
        if entry.action in VIEW_ACTIONS:
            key = (who, entry.occurred_at.astimezone(i18n.OSLO).date(), entry.purpose,
                   entry.action)
            if key in groups:
                index = groups[key]
                lines[index] = replace(lines[index], count=lines[index].count + 1,
                                       first_at=entry.occurred_at)
                continue
            groups[key] = len(lines)
        lines.append(line)
    return lines[:LIMIT]


async def access_log(request: Request) -> Response:
    who = await acting(request)
    i18n.activate(request)
    lines: list[LogLine] = []
    allowed = who.allows(Capability.VIEW_DETAILS)
    if allowed:
        db: Database = request.app.state.db
        subject_id = who.subject.id
        async with db.read() as session:
            entries = await audit.entries_about(
                session, subject_id, exclude_actor_id=Actor.patient(subject_id).id)
        lines = describe(entries, await _names(db, subject_id, entries), who)
        await who.audit_view(request, action=ACCESS_LOG_VIEW, detail={"page": "access_log"})
    return render(request, "patient/access_log.html", {
        "acting": who, "switch_path": "/innsyn", "allowed": allowed, "lines": lines,
    }, headers={"Cache-Control": "no-store"})
