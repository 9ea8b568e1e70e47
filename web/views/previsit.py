"""The pre-visit form (``booking.previsit``): ``GET``/``POST
/timer/{id}/helseskjema`` for the patient (or a guardian of a child under 12),
and ``GET /staff/klinikk/{slug}/timer/{id}/helseskjema`` for the staff of the
appointment's clinic (reception and clinic administrators; every view
audited, another clinic's appointment a 404 and an audit entry).

Who may fill it in is decided by :func:`booking.previsit.who_fills` after
``acting_for_appointment`` has authorised the appointment: a guardian of a
young person of 12 to 15 gets the explanation, never the answers.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from booking import audit, directory, previsit
from booking.models import Appointment, Clinic
from booking.previsit import (
    DETAIL_LIMIT,
    FIELD_ERRORS,
    REFUSAL_TEXT,
    WITH_DETAIL,
    FormCipher,
    FormClosed,
    InvalidAnswers,
)
from core.db import Database, utcnow
from core.settings import Settings
from web import i18n
from web.acting import Acting, parse_id
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal
from web.middleware import BodyTooLarge
from web.templating import render
from web.views.patient.loading import acting_for_appointment
from web.views.patient.presenting import present

PATH: Final = "/timer/{appointment_id}/helseskjema"
STAFF_PATH: Final = "/staff/klinikk/{slug}/timer/{appointment_id}/helseskjema"
STAFF_LIST_PATH: Final = "/staff/klinikk/{slug}/helseskjema"
#: Staff who see the answers: the clinic's own (support sees no clinical content).
STAFF_ROLES: Final = (StaffRole.RECEPTION, StaffRole.CLINIC_ADMIN)
SAVED_FLAG: Final = "lagret"
#: The most read from one field (a little over the limit, so "too long" can be said).
_READ_LIMIT: Final = DETAIL_LIMIT * 2
NO_STORE: Final = {"Cache-Control": "no-store"}


def cipher(request: Request) -> FormCipher:
    """The app's cipher for the answers, made once from ``SECRET_KEY``."""
    found: FormCipher | None = getattr(request.app.state, "previsit_cipher", None)
    if found is None:
        settings: Settings = request.app.state.settings
        found = FormCipher.from_secret(settings.secret_key)
        request.app.state.previsit_cipher = found
    return found


def form_path(appointment_id: int) -> str:
    return PATH.format(appointment_id=appointment_id)


def _values(form: FormData) -> dict[str, str]:
    fields = [*(str(f) for f in WITH_DETAIL), *(f"{f}_detail" for f in WITH_DETAIL),
              str(previsit.Field.CONTACT_DOCTOR), str(previsit.Field.CONFIRM)]
    out = {}
    for name in fields:
        value = form.get(name)
        out[name] = value[:_READ_LIMIT] if isinstance(value, str) else ""
    return out


def _answer_values(answers: previsit.Answers | None) -> dict[str, str]:
    if answers is None:
        return {}
    yes_no = {True: "yes", False: "no"}
    return {
        "medicines": yes_no[answers.medicines], "medicines_detail": answers.medicines_detail,
        "allergies": yes_no[answers.allergies], "allergies_detail": answers.allergies_detail,
        "health_changed": yes_no[answers.health_changed],
        "health_changed_detail": answers.health_changed_detail,
        "contact_doctor": yes_no[answers.contact_doctor],
    }


async def _page(request: Request, who: Acting, appointment: Appointment, *,
                values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                problem: str | None = None, status_code: int = 200) -> Response:
    i18n.activate(request)
    db: Database = request.app.state.db
    now = utcnow()
    refusal = previsit.who_fills(for_child=who.for_child, access=who.access,
                                 age=who.subject_age)
    saved = None
    if refusal is None:
        saved = await previsit.load(db, cipher(request), appointment)
        if saved is not None and values is None and who.for_child:
            async with db.write() as session:
                await previsit.record_patient_view(session, who.actor, appointment, now)
    item = present(appointment, who.subject, who.actor, who.access, now, me_id=who.me.id)
    return render(request, "patient/previsit.html", {
        "acting": who, "item": item, "switch_path": "/timer",
        "back_href": who.link(f"/timer/{appointment.id}"),
        "action": form_path(appointment.id),
        "refusal": i18n.gettext(REFUSAL_TEXT[refusal]) if refusal else None,
        "open": previsit.is_open(appointment, now),
        "closed_text": i18n.gettext(REFUSAL_TEXT[previsit.FillRefusal.CLOSED]),
        "saved": saved,
        "values": values if values is not None else _answer_values(
            saved.answers if saved else None),
        "errors": {k: i18n.gettext(FIELD_ERRORS[v]) for k, v in (errors or {}).items()},
        "problem": problem,
        "just_saved": request.query_params.get(SAVED_FLAG) == "1" and saved is not None,
        "detail_limit": DETAIL_LIMIT,
    }, status_code=status_code, headers=NO_STORE)


async def form_page(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    await who.audit_view(request, detail={"page": "previsit", "appointment_id": appointment.id})
    return await _page(request, who, appointment)


async def submit(request: Request) -> Response:
    who, appointment = await acting_for_appointment(request)
    i18n.activate(request)
    refusal = previsit.who_fills(for_child=who.for_child, access=who.access,
                                 age=who.subject_age)
    if refusal is not None:
        return await _page(request, who, appointment, status_code=403)
    try:
        form = await request.form()
    except BodyTooLarge:
        return await _page(request, who, appointment, status_code=400, problem=i18n.gettext(
            "Your answers were too long. Nothing was saved. Write shorter answers."))
    values = _values(form)
    try:
        answers = previsit.parse_answers(values)
    except InvalidAnswers as invalid:
        return await _page(request, who, appointment, values=values, errors=invalid.errors,
                           status_code=400)
    try:
        await previsit.save(request.app.state.db, cipher(request), who.actor, appointment.id,
                            answers, now=utcnow())
    except FormClosed:
        return await _page(request, who, appointment, values=values, status_code=409,
                           problem=i18n.gettext(REFUSAL_TEXT[previsit.FillRefusal.CLOSED]))
    return RedirectResponse(who.link(form_path(appointment.id), **{SAVED_FLAG: 1}),
                            status_code=303)


# --- staff ----------------------------------------------------------------------------

async def _staff(request: Request) -> tuple[StaffPrincipal, Clinic]:
    staff = await require_staff(request)
    if not staff.has_role(*STAFF_ROLES):
        raise HTTPException(403)
    clinic = await directory.clinic_by_slug(request.app.state.db, request.path_params["slug"])
    if clinic is None:
        raise HTTPException(404)
    return staff, clinic


def _staff_paths(clinic: Clinic) -> dict[str, str]:
    return {"callbacks_path": f"/staff/klinikk/{clinic.slug}/ring-tilbake",
            "forms_path": STAFF_LIST_PATH.format(slug=clinic.slug)}


async def staff_list(request: Request) -> Response:
    """The clinic's appointments of the coming days with a filled-in form."""
    staff, clinic = await _staff(request)
    db: Database = request.app.state.db
    if clinic.id not in staff.actor.clinic_ids:
        async with db.write() as session:
            await audit.record(session, staff.actor, previsit.STAFF_REFUSED_ACTION,
                               purpose=previsit.STAFF_PURPOSE, detail={"clinic_id": clinic.id})
        raise HTTPException(404)
    lines = await previsit.clinic_forms(db, staff.actor, clinic.id, utcnow())
    i18n.activate(request)
    return render(request, "staff/previsit_list.html", {
        "clinic": clinic, "lines": lines, **_staff_paths(clinic),
    }, headers=NO_STORE)


async def staff_form(request: Request) -> Response:
    staff, clinic = await _staff(request)
    appointment_id = parse_id(request.path_params.get("appointment_id"))
    if appointment_id is None:
        raise HTTPException(404)
    db: Database = request.app.state.db
    try:
        appointment, saved = await previsit.staff_view(db, cipher(request), staff.actor,
                                                       clinic.id, appointment_id, utcnow())
    except LookupError:
        raise HTTPException(404) from None
    i18n.activate(request)
    context: dict[str, Any] = {
        "clinic": clinic, "appointment": appointment, "patient": appointment.patient,
        "type_name": appointment.appointment_type.name(i18n.get_locale()),
        "saved": saved, "values": _answer_values(saved.answers if saved else None),
        **_staff_paths(clinic),
    }
    return render(request, "staff/previsit.html", context, headers=NO_STORE)


def routes() -> list[BaseRoute]:
    return [
        Route(PATH, form_page, name="previsit_form"),
        Route(PATH, submit, methods=["POST"], name="previsit_submit"),
        Route(STAFF_LIST_PATH, staff_list, name="staff_previsit_list"),
        Route(STAFF_PATH, staff_form, name="staff_previsit"),
    ]
