"""Closing the clinic or one chair for a day or part of a day, with a note:
previewed on the week page (free slots blocked, booked appointments that go
on the waiting list) and saved only when confirmed. Never in the past."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import schedule_changes
from booking.schedule_changes import ChangeRefused, Closure
from core.db import utcnow
from core.locale import OSLO
from web.views.schedule_admin import forms, week
from web.views.schedule_admin.scope import ClinicScope, clinic_scope, db_of, refuse


def _clock(text: str) -> time | None:
    try:
        return time.fromisoformat(text).replace(second=0, microsecond=0) if text else None
    except ValueError:
        raise ChangeRefused("bad_closure") from None


def _closure(form: FormData, chair_id: int | None) -> Closure:
    try:
        day = date.fromisoformat(forms.field(form, "day"))
    except ValueError:
        raise ChangeRefused("bad_closure") from None
    return schedule_changes.closure_of(
        day, _clock(forms.field(form, "from")), _clock(forms.field(form, "to")),
        chair_id=chair_id if forms.field(form, "scope") == "chair" else None,
        reason=forms.field(form, "reason"), now=utcnow())


async def _read(request: Request, scope: ClinicScope
                ) -> tuple[FormData, int | None, dict[str, Any]]:
    form = await request.form()
    chair_text = forms.field(form, "chair")
    chair_id = int(chair_text) if chair_text.isdigit() and len(chair_text) < 10 else None
    chairs = {c.id for c in await week.chairs_of(scope, request)}
    if chair_id is not None and chair_id not in chairs:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id, chair_id=chair_id)
    values = {name: forms.field(form, name)
              for name in ("scope", "day", "from", "to", "reason", "fingerprint")}
    return form, chair_id, values


async def _refused(request: Request, scope: ClinicScope, chair_id: int | None,
                   values: dict[str, Any], refused: ChangeRefused) -> Response:
    field = {"closure_in_past": "closure-day", "bad_closure": "closure-day",
             "end_before_start": "closure-to"}.get(refused.code, "closure-day")
    return await week.render_week(request, scope, chair_id=chair_id, error=week.refusal(refused),
                                  error_field=field, closure_values=values, status_code=422)


async def preview(request: Request) -> Response:
    scope = await clinic_scope(request)
    form, chair_id, values = await _read(request, scope)
    try:
        plan = await schedule_changes.preview_closure(
            db_of(request), clinic_id=scope.clinic_id, closure=_closure(form, chair_id))
    except ChangeRefused as refused:
        return await _refused(request, scope, chair_id, values, refused)
    return await week.render_week(request, scope, chair_id=chair_id, closure_plan=plan,
                                  closure_values=values)


async def save(request: Request) -> Response:
    scope = await clinic_scope(request)
    form, chair_id, values = await _read(request, scope)
    db = db_of(request)
    try:
        closure = _closure(form, chair_id)
        await schedule_changes.apply_closure(db, scope.staff.actor, clinic_id=scope.clinic_id,
                                             closure=closure,
                                             fingerprint=str(values["fingerprint"]))
    except ChangeRefused as refused:
        if refused.code != "stale":
            return await _refused(request, scope, chair_id, values, refused)
        plan = await schedule_changes.preview_closure(db, clinic_id=scope.clinic_id,
                                                      closure=closure)
        return await week.render_week(request, scope, chair_id=chair_id, closure_plan=plan,
                                      closure_values=values, error=week.refusal(refused),
                                      error_field="week-preview", status_code=409)
    day = closure.starts_at.astimezone(OSLO).date().isoformat()
    return RedirectResponse(f"{scope.base}/uke?stol={chair_id or ''}&fra={day}&lagret=1", 303)
