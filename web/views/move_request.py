"""The page an SMS from the clinic links to when a schedule change took an
appointment's slot away (``/t/<token>/flytt``): pick one of the times the
clinic offers, or see the clinic's phone number to call. No login: the link
is the key, and it opens only for whom it was given to while the
representation rules still allow them to see the appointment. Picking moves
the appointment (``booking.schedule_changes.move``); a refused pick changes
nothing and says why."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import schedule_changes
from booking.audit import Actor
from booking.schedule_changes import ChangeRefused, MoveRequest
from booking.service import BookingRefused
from core.bounds import is_id
from core.db import utcnow
from web import i18n
from web.templating import render
from web.views.calendar import PRIVATE_HEADERS, link_refused, sms_link
from web.views.clinics import phone_link


def _actor(holder: int, patient_id: int) -> Actor:
    if holder == patient_id:
        return Actor.patient(patient_id)
    return Actor.guardian(holder, {patient_id})


def _page(request: Request, found: MoveRequest, *, error: str = "", done: bool = False,
          status_code: int = 200) -> Response:
    return render(request, "move/pick.html", {
        "request_to_move": found, "phone": phone_link(found.clinic_phone),
        "error": error, "done": done, "action": request.url.path,
    }, status_code=status_code, headers=PRIVATE_HEADERS)


async def pick_page(request: Request) -> Response:
    """GET: the offered times (or, once moved, where the appointment is now)."""
    i18n.activate(request)
    link = await sms_link(request)
    if link is None:
        return link_refused(request)
    found = await schedule_changes.move_request(request.app.state.db, link.appointment_id,
                                                utcnow())
    if found is None:
        return link_refused(request)
    return _page(request, found, done=request.query_params.get("ferdig") == "1")


async def pick(request: Request) -> Response:
    """POST: move to the chosen time. Anything refused changes nothing."""
    i18n.activate(request)
    link = await sms_link(request)
    if link is None or len(link.holders) != 1:
        return link_refused(request)
    db = request.app.state.db
    found = await schedule_changes.move_request(db, link.appointment_id, utcnow())
    if found is None:
        return link_refused(request)
    form = await request.form()
    raw = form.get("slot_id")
    slot_id = int(raw) if isinstance(raw, str) and raw.isdigit() and len(raw) < 19 else None
    if slot_id is None or not is_id(slot_id):
        return _page(request, found, status_code=422,
                     error=i18n.translate(schedule_changes.REFUSAL_TEXT["not_offered"]))
    (holder,) = link.holders
    try:
        await schedule_changes.move(db, _actor(holder, found.patient_id),
                                    appointment_id=link.appointment_id, slot_id=slot_id)
    except ChangeRefused as refused:
        error = i18n.translate(schedule_changes.REFUSAL_TEXT[refused.code])
    except BookingRefused as refused:
        error = i18n.translate_reason(refused.reason, refused.params)
    else:
        return RedirectResponse(f"{request.url.path}?ferdig=1", status_code=303,
                                headers=PRIVATE_HEADERS)
    found = await schedule_changes.move_request(db, link.appointment_id, utcnow()) or found
    return _page(request, found, error=error, status_code=409)
