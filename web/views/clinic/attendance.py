"""An opened appointment (``GET /staff/klinikk/{slug}/time/{id}``: full name,
birth date and contact, audited) and its marks: ``POST …/merk`` (arrived,
completed, no-show) and ``POST …/angre`` (undo, the same Oslo day).

Each POST checks the role, the clinic and the appointment's clinic, calls one
function of :mod:`booking.attendance` in one transaction and redirects (303)
to the opened appointment with what happened. A refusal (too early, already
arrived, too late to undo) shows the page again with the reason (409);
anything not on the closed list of marks is a 400. Nothing changes either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import attendance as marks
from booking import audit, rules
from booking.day import age_group
from booking.models import Appointment, AppointmentType, Chair, Patient
from booking.patient_lookup import ReceptionPurpose, guardians_for_the_desk
from booking.service import BookingRefused
from booking.statuses import Mark
from core.db import utcnow
from web import i18n
from web.templating import render
from web.views.clinic import words
from web.views.clinic.day import NO_STORE, day_path
from web.views.clinic.patients import patient_path
from web.views.clinic.scope import AUDIT_PURPOSE, AtClinic, appointment_at, at_clinic, db_of

OPEN_ACTION: Final = "clinic.appointment.open"
MARKED_PARAM: Final = "merket"
CONFLICT: Final = 409


async def _render(request: Request, here: AtClinic, appointment_id: int, *,
                  error: str | None = None, done: str | None = None,
                  status_code: int = 200) -> Response:
    now = utcnow()
    async with db_of(request).write() as session:
        row = (await session.execute(
            select(Appointment, Patient, AppointmentType, Chair)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Chair, Chair.id == Appointment.chair_id)
            .where(Appointment.id == appointment_id))).one()
        appointment, patient, kind, chair = row
        guardians = await guardians_for_the_desk(
            session, patient, rules.local_date(appointment.starts_at))
        await audit.record(session, here.staff.actor, OPEN_ACTION, purpose=AUDIT_PURPOSE,
                           subject_patient_id=patient.id,
                           detail={"appointment_id": appointment.id}, now=now)
    i18n.activate(request)
    actor = here.staff.actor
    day = rules.local_date(appointment.starts_at)
    state = rules.attendance(appointment)
    allowed = [m for m in Mark if rules.may_mark(actor, appointment, m, now)]
    context: dict[str, Any] = {
        "at": here, "appointment": appointment, "patient": patient, "chair": chair,
        "type_name": kind.name(i18n.get_locale()),
        "age": rules.age_on(patient.birth_date, day),
        "age_group": words.AGE_GROUP_TEXT[age_group(patient.birth_date, day)],
        "state": state, "state_text": words.ATTENDANCE_TEXT[state],
        "state_color": words.ATTENDANCE_COLOR[state],
        "checked_in": bool(appointment.arrived_by
                           and appointment.arrived_by.startswith("patient:")),
        "marks": [(m.value, words.MARK_TEXT[m]) for m in allowed],
        "can_undo": bool(rules.may_undo(actor, appointment, now)),
        "error": error, "done": words.MARKED_TEXT.get(done) if done else None,
        "confidential": patient.has_confidential_address, "guardians": guardians,
        "paths": {
            "day": day_path(here.clinic.slug, day), "find": f"{here.base}/finn",
            "mark": f"{here.base}/time/{appointment.id}/merk",
            "undo": f"{here.base}/time/{appointment.id}/angre",
            "patient": patient_path(request, here, patient.id, now,
                                    ReceptionPurpose.DAY_LIST),
        },
    }
    return render(request, "clinic/appointment.html", context, headers=NO_STORE,
                  status_code=status_code)


async def appointment_page(request: Request) -> Response:
    here = await at_clinic(request)
    appointment = await appointment_at(request, here)
    done = request.query_params.get(MARKED_PARAM)
    return await _render(request, here, appointment.id,
                         done=done if done in words.MARKED_TEXT else None)


def _refused_text(refused: BookingRefused) -> str:
    return i18n.translate_reason(refused.reason, refused.params)


async def _change(request: Request, here: AtClinic, appointment: Appointment,
                  what: Mark | None, now: datetime) -> Response:
    try:
        async with db_of(request).write() as session:
            if what is None:
                await marks.undo(session, here.staff.actor, appointment.id, now)
            else:
                await marks.mark(session, here.staff.actor, appointment.id, what, now)
    except BookingRefused as refused:
        i18n.activate(request)
        return await _render(request, here, appointment.id, error=_refused_text(refused),
                             status_code=CONFLICT)
    done = "undone" if what is None else what.value
    return RedirectResponse(
        f"{here.base}/time/{appointment.id}?{MARKED_PARAM}={done}", 303)


async def mark(request: Request) -> Response:
    here = await at_clinic(request)
    appointment = await appointment_at(request, here)
    form = await request.form()
    value = form.get("mark")
    if not isinstance(value, str) or value not in set(Mark):
        i18n.activate(request)
        return await _render(request, here, appointment.id, status_code=400,
                             error=i18n.gettext("Choose arrived, completed or no-show."))
    return await _change(request, here, appointment, Mark(value), utcnow())


async def undo(request: Request) -> Response:
    here = await at_clinic(request)
    appointment = await appointment_at(request, here)
    return await _change(request, here, appointment, None, utcnow())
