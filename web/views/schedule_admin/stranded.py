"""Appointments a schedule change left without their slot, still waiting for
the clinic's decision: keep each as an exception, cancel it with a reason
(the patient is told as for any cancellation), or ask the patient to move
it (one, with the times the admin ticks, or all at once, each with its first
free times). Moved appointments are listed below until their new time."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import schedule_changes
from booking.schedule_changes import ChangeRefused
from booking.service import BookingRefused
from core.db import utcnow
from web import i18n
from web.templating import render
from web.views.schedule_admin import forms
from web.views.schedule_admin.scope import ClinicScope, clinic_scope, db_of, refuse


async def _page(request: Request, scope: ClinicScope, *, errors: dict[int, str] | None = None,
                values: dict[int, str] | None = None, done: str = "",
                status_code: int = 200) -> Response:
    locale = i18n.activate(request)
    db, now = db_of(request), utcnow()
    lines = await schedule_changes.waiting(db, scope.clinic_id, now=now)
    times = {line.stranding_id: await schedule_changes.free_times(
        db, clinic_id=scope.clinic_id, stranding_id=line.stranding_id, now=now)
        for line in lines if not line.asked}
    moved = await schedule_changes.moved_lately(db, scope.clinic_id, now=now)
    return render(request, "schedule_admin/stranded.html", {
        "clinic": scope, "lines": lines, "locale": locale, "errors": errors or {},
        "values": values or {}, "done": done, "times": times, "moved": moved,
        "offer_max": schedule_changes.OFFER_MAX,
        "paths": {"week": f"{scope.base}/uke", "stranded": f"{scope.base}/strandet",
                  "chairs": f"{scope.base}/stoler"},
    }, status_code=status_code)


async def list_page(request: Request) -> Response:
    scope = await clinic_scope(request)
    done = request.query_params.get("ferdig", "")
    return await _page(request, scope,
                       done=done if done in ("kept", "cancelled", "asked") else "")


async def keep(request: Request) -> Response:
    scope = await clinic_scope(request)
    stranding_id: int = request.path_params["stranding_id"]
    try:
        await schedule_changes.keep(db_of(request), scope.staff.actor,
                                    clinic_id=scope.clinic_id, stranding_id=stranding_id)
    except ChangeRefused:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id,
                           stranding_id=stranding_id) from None
    return RedirectResponse(f"{scope.base}/strandet?ferdig=kept", 303)


async def cancel(request: Request) -> Response:
    scope = await clinic_scope(request)
    stranding_id: int = request.path_params["stranding_id"]
    form = await request.form()
    reason = forms.field(form, "reason")
    try:
        await schedule_changes.cancel(db_of(request), scope.staff.actor,
                                      clinic_id=scope.clinic_id, stranding_id=stranding_id,
                                      reason=reason)
    except ChangeRefused as refused:
        if refused.code != "reason_required":
            raise await refuse(request, scope.staff, clinic_id=scope.clinic_id,
                               stranding_id=stranding_id) from None
        return await _page(request, scope, status_code=422, values={stranding_id: reason},
                           errors={stranding_id: i18n.translate(
                               schedule_changes.REFUSAL_TEXT[refused.code])})
    except BookingRefused as refused:
        return await _page(request, scope, status_code=409, values={stranding_id: reason},
                           errors={stranding_id: i18n.translate_reason(refused.reason,
                                                                       refused.params)})
    return RedirectResponse(f"{scope.base}/strandet?ferdig=cancelled", 303)


async def ask(request: Request) -> Response:
    """Ask one patient to move, offering the times the admin ticked."""
    scope = await clinic_scope(request)
    stranding_id: int = request.path_params["stranding_id"]
    form = await request.form()
    slot_ids = sorted({int(v) for v in form.getlist("slot_id")
                       if isinstance(v, str) and v.isdigit() and len(v) < 19})
    try:
        await schedule_changes.ask_to_move(db_of(request), scope.staff.actor,
                                           clinic_id=scope.clinic_id,
                                           stranding_ids=[stranding_id], slot_ids=slot_ids)
    except ChangeRefused as refused:
        if refused.code == "not_waiting":
            raise await refuse(request, scope.staff, clinic_id=scope.clinic_id,
                               stranding_id=stranding_id) from None
        return await _page(request, scope, status_code=422,
                           errors={stranding_id: i18n.translate(
                               schedule_changes.REFUSAL_TEXT[refused.code])})
    return RedirectResponse(f"{scope.base}/strandet?ferdig=asked", 303)


async def ask_all(request: Request) -> Response:
    """Ask every patient still waiting to move, each offered its first free times."""
    scope = await clinic_scope(request)
    db = db_of(request)
    lines = await schedule_changes.waiting(db, scope.clinic_id, now=utcnow())
    ids = [line.stranding_id for line in lines if not line.asked]
    try:
        await schedule_changes.ask_to_move(db, scope.staff.actor, clinic_id=scope.clinic_id,
                                           stranding_ids=ids)
    except ChangeRefused:  # one was decided meanwhile: show the list as it is now
        return RedirectResponse(f"{scope.base}/strandet", 303)
    return RedirectResponse(f"{scope.base}/strandet?ferdig=asked", 303)
