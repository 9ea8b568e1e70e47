"""The clinic puts a patient on the waitlist, changes the wishes or takes the
patient off it, from the appointment's page for staff, and sees who waits.

* ``POST …/pasient/{token}/time/{appointment_id}/venteliste``: put on, or
  change the wishes (the patient's own choices: clinics, weekdays, time of
  day, notice), with a reason (:func:`booking.waitlist.add_for_patient`).
* ``POST …/venteliste/fjern``: take off, with a reason
  (:func:`booking.waitlist.withdraw_for_patient`).
* ``GET /staff/klinikk/{slug}/venteliste``: who waits for an earlier time at
  this clinic (audited as one view); a line opens the patient's page for
  staff (:func:`.patients.patient_page`, audited with the purpose
  ``waitlist``).

The clinic, the patient's link and the appointment are checked as on every
on-behalf page (:mod:`.on_behalf`): another clinic's or county's is a 404 and
an audit entry, before anything is read or changed. Bad input or a refusal
shows the translated reason on the page as sent, and changes nothing.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from booking import audit, waitlist
from booking.patient_lookup import ReceptionPurpose
from booking.reasons import Reason
from booking.service import BookingRefused
from booking.waitlist import Wishes
from core.db import utcnow
from web import i18n
from web.templating import render
from web.views.clinic import words
from web.views.clinic.on_behalf import (
    FIELD_LIMIT,
    appointment_of,
    blank_values,
    change_page_of,
    for_patient,
)
from web.views.clinic.patients import patient_path
from web.views.clinic.scope import AUDIT_PURPOSE, BASE, at_clinic, db_of
from web.views.clinic.wishes import DONE_PARAM
from web.views.patient.waitlist import parse_wishes

LIST_VIEW_ACTION: Final = "clinic.waitlist.view"
#: The field a refusal points to on the page (``#id``).
_FIELD_OF: Final[dict[str, str]] = {
    Reason.REASON_REQUIRED: "wl-reason",
    Reason.WAITLIST_BAD_WISHES: "wl-clinics",
    Reason.WAITLIST_NO_CLINIC: "wl-clinics",
}


def _reason(value: Any) -> str:
    return value[:FIELD_LIMIT] if isinstance(value, str) else ""


def _error(refused: BookingRefused) -> str:
    return i18n.translate_reason(refused.reason.value, refused.params)


async def add(request: Request) -> Response:
    here = await for_patient(request)
    appointment = await appointment_of(request, here)
    form = await request.form()
    reason = _reason(form.get("reason"))
    wishes: Wishes | None = None
    try:
        wishes = parse_wishes(form)
        await waitlist.add_for_patient(db_of(request), here.staff.actor,
                                       appointment_id=appointment.id, wishes=wishes,
                                       reason=reason)
    except BookingRefused as refused:
        i18n.activate(request)
        return await change_page_of(
            request, here, appointment, values=blank_values(), error=_error(refused),
            error_field=_FIELD_OF.get(refused.reason, "wl-clinics"),
            status_code=400 if refused.reason in _FIELD_OF else 409, wishes=wishes,
            waitlist_reason=reason)
    return RedirectResponse(
        f"{here.base}/time/{appointment.id}?{DONE_PARAM}=lagt#waitlist", 303)


async def remove(request: Request) -> Response:
    here = await for_patient(request)
    appointment = await appointment_of(request, here)
    form = await request.form()
    reason = _reason(form.get("reason"))
    db = db_of(request)
    entry = await waitlist.entry_for_appointment(db, appointment.id)
    if entry is not None:
        try:
            await waitlist.withdraw_for_patient(db, here.staff.actor, entry_id=entry.id,
                                                reason=reason)
        except BookingRefused as refused:
            i18n.activate(request)
            return await change_page_of(
                request, here, appointment, values=blank_values(), error=_error(refused),
                error_field="wl-remove-reason", status_code=400)
    return RedirectResponse(
        f"{here.base}/time/{appointment.id}?{DONE_PARAM}=fjernet#waitlist", 303)


async def list_page(request: Request) -> Response:
    here = await at_clinic(request)
    now = utcnow()
    lines = await waitlist.waiting_at(db_of(request), here.clinic.id, now)
    async with db_of(request).write() as session:
        await audit.record(session, here.staff.actor, LIST_VIEW_ACTION, purpose=AUDIT_PURPOSE,
                           detail={"clinic_id": here.clinic.id,
                                   "waitlist_entry_ids": [w.entry.id for w in lines]},
                           now=now)
    i18n.activate(request)
    locale = i18n.get_locale()
    weekdays = i18n.weekday_names()
    return render(request, "clinic/waitlist.html", {
        "at": here,
        "lines": [{
            "line": w, "type_name": w.kind.name(locale),
            "added_by": words.ADDED_BY_TEXT.get(w.entry.created_by_kind, ""),
            "weekdays": [weekdays[d] for d in w.entry.weekdays if d in range(7)],
            "other_clinics": len([c for c in w.entry.clinic_ids if c != here.clinic.id]),
            "href": patient_path(request, here, w.patient.id, now, ReceptionPurpose.WAITLIST),
        } for w in lines],
        "paths": {"day": f"{here.base}/dag", "find": f"{here.base}/finn"},
    }, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    appointment = f"{BASE}/{{slug}}/pasient/{{token}}/time/{{appointment_id}}"
    return [
        Route(f"{BASE}/{{slug}}/venteliste", list_page, name="clinic_waitlist"),
        Route(f"{appointment}/venteliste", add, methods=["POST"], name="clinic_waitlist_add"),
        Route(f"{appointment}/venteliste/fjern", remove, methods=["POST"],
              name="clinic_waitlist_remove"),
    ]
