"""The support console (``/staff/support``): find a patient, their
notification timeline, resend, and the call list. For the roles
:data:`ROLES` (county-wide); the rules live in :mod:`notifications.support`.

An identity number only ever arrives in a POSTed form; the patient found is
then addressed by a short-lived signed token (:mod:`web.signing`), never by
the number, and the token is checked against the staff member's county on
every request.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from core.db import Database, utcnow
from notifications import support
from notifications.statuses import describe
from web import i18n, signing
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal
from web.oversight.refusals import refused
from web.templating import render

PATH: Final = "/staff/support"
CALL_LIST_PATH: Final = "/staff/support/ringeliste"
ROLES: Final = (StaffRole.SUPPORT, StaffRole.COUNTY_ADMIN)
#: The roles that land in the clinic console (``web.views.clinic``).
CLINIC_ROLES: Final = (StaffRole.RECEPTION, StaffRole.CLINIC_ADMIN)
CLINIC_PATH: Final = "/staff/klinikk"
TOKEN_PURPOSE: Final = "support-patient"  # noqa: S105 (a signing purpose)
#: How long a link to a found patient works (a working day).
TOKEN_LIFETIME: Final = timedelta(hours=10)
#: Longest typed input read from a field.
FIELD_LIMIT: Final = 200


async def _support(request: Request) -> StaffPrincipal:
    staff = await require_staff(request)
    if not staff.has_role(*ROLES):
        raise HTTPException(403)
    # For the console's navigation: the administrators' pages.
    request.state.county_admin = staff.has_role(StaffRole.COUNTY_ADMIN)
    return staff


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:FIELD_LIMIT] if isinstance(value, str) else ""


_PURPOSES: Final = tuple(support.LookupPurpose)


def _patient_path(request: Request, patient_id: int, now: datetime, purpose: str) -> str:
    """The patient's page; the token carries the patient and the look-up's
    purpose (each page view is audited with it)."""
    payload = patient_id * 8 + _PURPOSES.index(support.LookupPurpose(purpose))
    token = signing.sign(TOKEN_PURPOSE, payload, now + TOKEN_LIFETIME,
                         request.app.state.settings.secret_key)
    return f"{PATH}/pasient/{token}"


def _count(form: FormData, name: str) -> int | None:
    value = _field(form, name)
    return int(value) if value.isdigit() and len(value) < 6 else None


def _parse_birth_date(text: str) -> date | None:
    for separator in (".", "-", "/"):
        parts = text.strip().split(separator)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            day, month, year = (int(p) for p in parts)
            if len(parts[0]) == 4:  # 1980-05-17
                year, day = day, year
            try:
                return date(year, month, day)
            except ValueError:
                return None
    return None


# --- find --------------------------------------------------------------------

def _find_page(request: Request, *, error: str | None = None, values: dict[str, str] | None = None,
               hits: list[support.PatientHit] | None = None, not_found: bool = False,
               error_field: str = "identity_number", status_code: int = 200) -> Response:
    now = utcnow()
    return render(request, "support/find.html", {
        "purposes": support.PURPOSE_TEXT, "error": i18n.gettext(error) if error else None,
        "error_field": error_field,
        "values": {"purpose": "", "name": "", "birth_date": "", **(values or {})},
        "not_found": not_found,
        "hits": [(h, _patient_path(request, h.patient_id, now, (values or {})["purpose"]))
                 for h in hits or []],
        "paths": {"find": f"{PATH}/finn", "call_list": CALL_LIST_PATH},
    }, status_code=status_code)


async def find_page(request: Request) -> Response:
    await _support(request)
    return _find_page(request)


async def find(request: Request) -> Response:
    staff = await _support(request)
    form = await request.form()
    purpose = _field(form, "purpose")
    identity_number = "".join(_field(form, "identity_number").split())
    name, birth = _field(form, "name"), _field(form, "birth_date")
    # What is echoed back: never the identity number.
    values = {"purpose": purpose, "name": name, "birth_date": birth}
    try:
        if identity_number:
            hits = await support.find_patients(_db(request), request.app.state.vault,
                                               staff.actor, purpose,
                                               identity_number=identity_number)
        else:
            hits = await support.find_patients(_db(request), request.app.state.vault,
                                               staff.actor, purpose, name=name,
                                               birth_date=_parse_birth_date(birth))
    except support.SupportRefused as no:
        return _find_page(request, error=support.REFUSAL_TEXT[no.code], values=values,
                          error_field=("purpose-" + _PURPOSES[0]
                                       if no.code == "choose_purpose" else "identity_number"),
                          status_code=400)
    if len(hits) == 1:
        return RedirectResponse(
            _patient_path(request, hits[0].patient_id, utcnow(), purpose), 303)
    return _find_page(request, values=values, hits=hits, not_found=not hits,
                      status_code=200 if hits else 404)


# --- the timeline ------------------------------------------------------------

async def _patient_and_purpose(request: Request, staff: StaffPrincipal
                               ) -> tuple[int, support.LookupPurpose]:
    payload = signing.verify(TOKEN_PURPOSE, request.path_params["token"],
                             request.app.state.settings.secret_key, utcnow())
    if payload is None or payload % 8 >= len(_PURPOSES):
        raise HTTPException(404)
    patient_id, purpose = payload // 8, _PURPOSES[payload % 8]
    if await support.patient_in_scope(_db(request), staff.actor, patient_id) is None:
        raise HTTPException(404)
    return patient_id, purpose


async def _patient(request: Request, staff: StaffPrincipal) -> int:
    return (await _patient_and_purpose(request, staff))[0]


async def _timeline_page(request: Request, staff: StaffPrincipal, patient_id: int, *,
                         revealed: dict[int, str | None] | None = None,
                         errors: dict[int, str] | None = None,
                         values: dict[str, Any] | None = None,
                         status_code: int = 200) -> Response:
    timeline = await support.timeline(_db(request), staff.actor, patient_id)
    here = request.url.path.split("/vis/")[0].split("/send-igjen/")[0]
    return render(request, "support/timeline.html", {
        "timeline": timeline, "here_path": here, "revealed": revealed or {},
        "errors": {k: i18n.gettext(v) for k, v in (errors or {}).items()},
        "values": values or {}, "status_words": describe, "reason_words": support.REASON_TEXT,
        "purpose_words": support.MESSAGE_PURPOSE_TEXT,
        "resent": request.query_params.get("sendt") == "1",
        "paths": {"find": PATH, "call_list": CALL_LIST_PATH},
    }, status_code=status_code)


async def patient_page(request: Request) -> Response:
    staff = await _support(request)
    patient_id, purpose = await _patient_and_purpose(request, staff)
    await support.record_view(_db(request), staff.actor, patient_id, purpose)
    return await _timeline_page(request, staff, patient_id)


def _message_id(request: Request) -> int:
    raw = request.path_params["notification_id"]
    if not isinstance(raw, int):
        raise HTTPException(404)
    return raw


async def reveal(request: Request) -> Response:
    staff = await _support(request)
    patient_id = await _patient(request, staff)
    notification_id = _message_id(request)
    try:
        number = await support.reveal_number(_db(request), staff.actor, patient_id,
                                             notification_id)
    except support.SupportRefused:
        raise await refused(_db(request), staff.actor, "notification", notification_id) from None
    return await _timeline_page(request, staff, patient_id, revealed={notification_id: number})


async def resend(request: Request) -> Response:
    staff = await _support(request)
    patient_id = await _patient(request, staff)
    notification_id = _message_id(request)
    form = await request.form()
    target = _field(form, "to")
    corrected = _field(form, "corrected") if target == "corrected" else None
    values = {"notification_id": notification_id, "reason": _field(form, "reason"),
              "to": target, "corrected": _field(form, "corrected"),
              "save_number": form.get("save_number") == "1"}
    try:
        if target not in ("current", "corrected"):
            raise support.SupportRefused("choose_number")
        await support.resend(_db(request), staff.actor, patient_id, support.ResendRequest(
            notification_id, reason=str(values["reason"]), corrected=corrected,
            save_number=bool(values["save_number"]), seen_resends=_count(form, "seen")))
    except support.SupportRefused as no:
        if no.code == "unknown_notification":  # not this patient's, or another county's
            raise await refused(_db(request), staff.actor, "notification",
                                notification_id) from None
        return await _timeline_page(
            request, staff, patient_id, values=values, status_code=400,
            errors={notification_id: support.REFUSAL_TEXT.get(
                no.code, support.REFUSAL_TEXT["unknown_notification"])})
    here = request.url.path.split("/send-igjen/")[0]
    return RedirectResponse(f"{here}?sendt=1#message-{notification_id}", 303)


# --- the call list -----------------------------------------------------------

async def call_list(request: Request) -> Response:
    staff = await _support(request)
    now = utcnow()
    lines = await support.call_list(_db(request), staff.actor, now)
    return render(request, "support/call_list.html", {
        "lines": [(line, _patient_path(request, line.patient_id, now,
                                       support.LookupPurpose.CALL_LIST)) for line in lines],
        "days": support.CALL_LIST_DAYS, "paths": {"find": PATH, "call_list": CALL_LIST_PATH},
    })


async def mark_call(request: Request) -> Response:
    staff = await _support(request)
    form = await request.form()
    try:
        await support.mark_call(_db(request), staff.actor, staff.grant.name,
                                request.path_params["appointment_id"],
                                done=form.get("done") == "1")
    except support.SupportRefused:
        raise await refused(_db(request), staff.actor, "appointment",
                            request.path_params["appointment_id"]) from None
    return RedirectResponse(CALL_LIST_PATH, 303)


async def staff_home(request: Request) -> Response:
    """Where the staff login lands: support to its console, a clinic admin
    to the weeks of their clinics, reception to the clinic console."""
    staff = await require_staff(request)
    if staff.has_role(*ROLES):
        await _support(request)
        return RedirectResponse(PATH, 303)
    if staff.has_role(StaffRole.CLINIC_ADMIN):
        return RedirectResponse("/staff/ukeplaner", 303)
    if staff.has_role(*CLINIC_ROLES):
        return RedirectResponse(CLINIC_PATH, 303)
    raise HTTPException(403)


def routes() -> list[BaseRoute]:
    return [
        Route("/staff", staff_home, name="staff_home"),
        Route(PATH, find_page, name="support"),
        Route(f"{PATH}/finn", find, methods=["POST"], name="support_find"),
        Route(f"{PATH}/pasient/{{token}}", patient_page, name="support_patient"),
        Route(f"{PATH}/pasient/{{token}}/vis/{{notification_id:int}}", reveal,
              methods=["POST"], name="support_reveal"),
        Route(f"{PATH}/pasient/{{token}}/send-igjen/{{notification_id:int}}", resend,
              methods=["POST"], name="support_resend"),
        Route(CALL_LIST_PATH, call_list, name="support_call_list"),
        Route(f"{CALL_LIST_PATH}/{{appointment_id:int}}", mark_call, methods=["POST"],
              name="support_mark_call"),
    ]
