"""The clinic's coming closures (``/staff/klinikk/{slug}/stenginger``), and
removing one: the preview lists the slots it gives back, nothing changes
until confirmed. Closures that have begun are not offered and are refused."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import schedule_copy
from booking.models import ScheduleException
from booking.schedule_changes import ChangeRefused
from booking.schedule_copy import ReopenPlan
from web import i18n
from web.templating import render
from web.views.schedule_admin import forms, week
from web.views.schedule_admin.copy import _paths
from web.views.schedule_admin.scope import ClinicScope, clinic_scope, db_of, refuse


async def _page(request: Request, scope: ClinicScope, *, plan: ReopenPlan | None = None,
                error: str | None = None, done: bool = False,
                status_code: int = 200) -> Response:
    i18n.activate(request)
    closures = await schedule_copy.future_closures(db_of(request), scope.clinic_id)
    context: dict[str, Any] = {"clinic": scope, "paths": _paths(scope), "closures": closures,
                               "plan": plan, "error": error, "done": done}
    return render(request, "schedule_admin/closures.html", context, status_code=status_code)


async def list_page(request: Request) -> Response:
    scope = await clinic_scope(request)
    return await _page(request, scope, done=request.query_params.get("fjernet") == "1")


async def _exception_id(request: Request, scope: ClinicScope) -> int:
    """The closure of the path; another clinic's closure is 404 (audited)."""
    exception_id = int(request.path_params["closure_id"])
    async with db_of(request).read() as session:
        row = await session.get(ScheduleException, exception_id)
    if row is not None and row.clinic_id != scope.clinic_id:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id,
                           exception_id=exception_id)
    return exception_id


async def preview(request: Request) -> Response:
    scope = await clinic_scope(request)
    exception_id = await _exception_id(request, scope)
    try:
        plan = await schedule_copy.preview_reopen(db_of(request), clinic_id=scope.clinic_id,
                                                  exception_id=exception_id)
    except ChangeRefused as refused:
        return await _page(request, scope, error=week.refusal(refused), status_code=422)
    return await _page(request, scope, plan=plan)


async def save(request: Request) -> Response:
    scope = await clinic_scope(request)
    exception_id = await _exception_id(request, scope)
    form = await request.form()
    db = db_of(request)
    try:
        await schedule_copy.apply_reopen(db, scope.staff.actor, clinic_id=scope.clinic_id,
                                         exception_id=exception_id,
                                         fingerprint=forms.field(form, "fingerprint"))
    except ChangeRefused as refused:
        if refused.code != "stale":
            return await _page(request, scope, error=week.refusal(refused), status_code=422)
        try:
            plan = await schedule_copy.preview_reopen(db, clinic_id=scope.clinic_id,
                                                      exception_id=exception_id)
        except ChangeRefused as again:
            return await _page(request, scope, error=week.refusal(again), status_code=422)
        return await _page(request, scope, plan=plan, error=week.refusal(refused),
                           status_code=409)
    return RedirectResponse(f"{scope.base}/stenginger?fjernet=1", 303)
