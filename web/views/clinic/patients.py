"""Find a patient (``GET``/``POST /staff/klinikk/{slug}/finn``) and the
patient's page for staff (``GET /staff/klinikk/{slug}/pasient/{token}``).

An identity number only ever arrives in a POSTed form and is never echoed,
logged or put in a link: the patient found is addressed by a short-lived
signed token that carries the patient and the purpose of the look-up, and
is checked against the staff member's clinics on every request. Every
look-up and every opening of the page is audited with its purpose.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import audit, patient_lookup, rules, waitlist
from booking.models import Appointment, AppointmentType, Clinic, Patient
from booking.patient_lookup import ReceptionPurpose
from booking.reasons import N_
from booking.statuses import ACTIVE
from core.db import utcnow
from notifications import support
from notifications.statuses import describe
from web import i18n, signing
from web.templating import render
from web.views.clinic import words
from web.views.clinic.scope import AtClinic, at_clinic, db_of, refuse

TOKEN_PURPOSE: Final = "clinic-patient"  # noqa: S105 (a signing purpose)
#: How long a link to a found patient works (a working day).
TOKEN_LIFETIME: Final = timedelta(hours=10)
FIELD_LIMIT: Final = 200
_PURPOSES: Final = tuple(ReceptionPurpose)

PURPOSE_TEXT: Final[dict[str, str]] = {
    ReceptionPurpose.BOOKING: N_("Booking an appointment"),
    ReceptionPurpose.PHONE_INQUIRY: N_("The patient or a guardian phoned"),
    ReceptionPurpose.ARRIVAL: N_("The patient has arrived"),
}
REFUSAL_TEXT: Final[dict[str, str]] = {
    "choose_purpose": N_("Choose why you look the patient up."),
    "name_and_birth_date": N_("Write the identity number, or the full name and the birth "
                              "date (day.month.year)."),
}


def patient_path(request: Request, here: AtClinic, patient_id: int, now: datetime,
                 purpose: ReceptionPurpose) -> str:
    payload = patient_id * 8 + _PURPOSES.index(purpose)
    token = signing.sign(TOKEN_PURPOSE, payload, now + TOKEN_LIFETIME,
                         request.app.state.settings.secret_key)
    return f"{here.base}/pasient/{token}"


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:FIELD_LIMIT] if isinstance(value, str) else ""


def parse_birth_date(text: str) -> date | None:
    """``17.05.1980`` (also with - or /), or ``1980-05-17``; None otherwise."""
    for separator in (".", "-", "/"):
        parts = text.strip().split(separator)
        if len(parts) == 3 and all(p.isdigit() and len(p) <= 4 for p in parts):
            day, month, year = (int(p) for p in parts)
            if len(parts[0]) == 4:
                year, day = day, year
            try:
                return date(year, month, day)
            except ValueError:
                return None
    return None


def _find(request: Request, here: AtClinic, *, error: str | None = None,
          error_field: str = "identity_number", values: dict[str, str] | None = None,
          hits: list[patient_lookup.PatientHit] | None = None, not_found: bool = False,
          status_code: int = 200) -> Response:
    now = utcnow()
    values = {"purpose": "", "name": "", "birth_date": "", **(values or {})}
    purpose = (ReceptionPurpose(values["purpose"])
               if values["purpose"] in set(ReceptionPurpose) else None)
    return render(request, "clinic/find.html", {
        "at": here, "purposes": PURPOSE_TEXT, "values": values,
        "error": i18n.gettext(error) if error else None, "error_field": error_field,
        "not_found": not_found,
        "hits": [(h, patient_path(request, here, h.patient_id, now, purpose))
                 for h in hits or []] if purpose else [],
        "paths": {"find": f"{here.base}/finn", "day": f"{here.base}/dag"},
    }, status_code=status_code, headers={"Cache-Control": "no-store"})


async def find_page(request: Request) -> Response:
    here = await at_clinic(request)
    return _find(request, here)


async def find(request: Request) -> Response:
    here = await at_clinic(request)
    form = await request.form()
    purpose = _field(form, "purpose")
    identity_number = "".join(_field(form, "identity_number").split())
    name, birth = _field(form, "name"), _field(form, "birth_date")
    values = {"purpose": purpose, "name": name, "birth_date": birth}  # never the number
    try:
        async with db_of(request).write() as session:
            hits = await patient_lookup.reception_find(
                session, request.app.state.vault, here.staff.actor, purpose,
                identity_number=identity_number or None, name=name,
                birth_date=parse_birth_date(birth))
    except patient_lookup.LookupRefused as refused:
        return _find(request, here, error=REFUSAL_TEXT[refused.code], values=values,
                     error_field=(f"purpose-{ReceptionPurpose.BOOKING.value}"
                                  if refused.code == "choose_purpose" else "identity_number"),
                     status_code=400)
    if len(hits) == 1:
        return RedirectResponse(patient_path(request, here, hits[0].patient_id, utcnow(),
                                             ReceptionPurpose(purpose)), 303)
    return _find(request, here, values=values, hits=hits, not_found=not hits,
                 status_code=200 if hits else 404)


# --- the patient's page --------------------------------------------------------

async def patient_of_link(request: Request, here: AtClinic
                         ) -> tuple[Patient, ReceptionPurpose]:
    """The patient and look-up purpose a link names, if the staff member may see
    them (404 and an audit entry otherwise); also for :mod:`.on_behalf`."""
    payload = signing.verify(TOKEN_PURPOSE, str(request.path_params.get("token", "")),
                             request.app.state.settings.secret_key, utcnow())
    if payload is None or payload % 8 >= len(_PURPOSES):
        raise await refuse(request, here.staff, clinic_id=here.clinic.id, bad_link=True)
    patient_id, purpose = payload // 8, _PURPOSES[payload % 8]
    async with db_of(request).read() as session:
        patient = await session.get(Patient, patient_id)
        visible = await patient_lookup.in_scope(session, here.staff.actor.clinic_ids,
                                                [patient_id])
    if patient is None or not visible:
        raise await refuse(request, here.staff, clinic_id=here.clinic.id,
                           patient_id=patient.id if patient else None)
    return patient, purpose


def _counts(timeline: support.Timeline) -> list[tuple[str, int]]:
    counted: dict[str, int] = {}
    for message in timeline.messages:
        counted[message.status] = counted.get(message.status, 0) + 1
    return sorted(counted.items(), key=lambda item: -item[1])


async def patient_page(request: Request) -> Response:
    here = await at_clinic(request)
    patient, purpose = await patient_of_link(request, here)
    now = utcnow()
    actor = here.staff.actor
    async with db_of(request).write() as session:
        rows = list((await session.execute(
            select(Appointment, AppointmentType, Clinic)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Clinic, Clinic.id == Appointment.clinic_id)
            .where(Appointment.patient_id == patient.id,
                   Appointment.clinic_id.in_(sorted(actor.clinic_ids)))
            .order_by(Appointment.starts_at.desc(), Appointment.id.desc()))).all())
        await audit.record(session, actor, patient_lookup.RECEPTION_VIEW_ACTION,
                           purpose=patient_lookup.RECEPTION_AUDIT_PURPOSE,
                           subject_patient_id=patient.id,
                           detail={"lookup_purpose": purpose.value}, now=now)
    timeline = await support.timeline(db_of(request), actor, patient.id)
    waiting = {e.appointment_id: e for e in await waitlist.waiting_for(db_of(request),
                                                                        [patient.id])}
    i18n.activate(request)
    locale = i18n.get_locale()
    upcoming, history = [], []
    for appointment, kind, clinic in rows:
        state = rules.attendance(appointment)
        line = {
            "appointment": appointment, "type_name": kind.name(locale), "clinic": clinic,
            "state_text": words.ATTENDANCE_TEXT[state],
            "state_color": words.ATTENDANCE_COLOR[state],
            "href": (f"{here.base}/time/{appointment.id}" if clinic.id == here.clinic.id
                     else f"/staff/klinikk/{clinic.slug}/time/{appointment.id}"),
            "waiting": waiting.get(appointment.id),
        }
        if appointment.status in ACTIVE and appointment.ends_at > now:
            upcoming.append(line)
        else:
            history.append(line)
    upcoming.reverse()
    context: dict[str, Any] = {
        "at": here, "patient": patient, "purpose": purpose,
        "age": rules.age_on(patient.birth_date, rules.local_date(now)),
        "upcoming": upcoming, "history": history,
        "messages": len(timeline.messages), "message_counts": _counts(timeline),
        "latest_messages": timeline.messages[:5],
        "status_words": describe, "mobile": patient.mobile,
        "purpose_words": support.MESSAGE_PURPOSE_TEXT,
        "paths": {"find": f"{here.base}/finn", "day": f"{here.base}/dag",
                  "on_behalf": request.url.path},
    }
    return render(request, "clinic/patient.html", context,
                  headers={"Cache-Control": "no-store"})

