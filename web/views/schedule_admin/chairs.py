"""The clinic's chairs (``/staff/klinikk/{slug}/stoler``): add, rename,
deactivate (after seeing the appointments still ahead) and activate again;
and opening or withdrawing a span of days for online booking."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import chairs
from booking.models import AppointmentType, Chair
from booking.schedule_changes import ChangeRefused
from web import i18n
from web.templating import render
from web.views.schedule_admin import forms, week
from web.views.schedule_admin.scope import ClinicScope, clinic_scope, db_of, refuse


async def _page(request: Request, scope: ClinicScope, *, error: str | None = None,
                error_field: str = "", values: dict[Any, str] | None = None,
                confirm: dict[str, Any] | None = None, done: str = "",
                status_code: int = 200) -> Response:
    locale = i18n.activate(request)
    async with db_of(request).read() as session:
        rows = list((await session.execute(
            select(Chair).where(Chair.clinic_id == scope.clinic_id)
            .order_by(Chair.active.desc(), Chair.name, Chair.id))).scalars())
    return render(request, "schedule_admin/chairs.html", {
        "clinic": scope, "chairs": rows, "error": error, "error_field": error_field,
        "values": values or {}, "confirm": confirm, "done": done, "locale": locale,
        "paths": {"week": f"{scope.base}/uke", "stranded": f"{scope.base}/strandet",
                  "chairs": f"{scope.base}/stoler"},
    }, status_code=status_code)


async def list_page(request: Request) -> Response:
    scope = await clinic_scope(request)
    done = request.query_params.get("ferdig", "")
    return await _page(request, scope, done=done if done in (
        "added", "renamed", "deactivated", "activated") else "")


def _chair_id(request: Request) -> int:
    value: int = request.path_params["chair_id"]
    return value


async def add(request: Request) -> Response:
    scope = await clinic_scope(request)
    name = forms.field(await request.form(), "name")
    try:
        await chairs.add_chair(db_of(request), scope.staff.actor, clinic_id=scope.clinic_id,
                               name=name)
    except ChangeRefused as refused:
        return await _page(request, scope, error=week.refusal(refused), error_field="new-name",
                           values={"new": name}, status_code=422)
    return RedirectResponse(f"{scope.base}/stoler?ferdig=added", 303)


async def rename(request: Request) -> Response:
    scope = await clinic_scope(request)
    chair_id = _chair_id(request)
    name = forms.field(await request.form(), "name")
    try:
        await chairs.rename_chair(db_of(request), scope.staff.actor, clinic_id=scope.clinic_id,
                                  chair_id=chair_id, name=name)
    except ChangeRefused as refused:
        if refused.code == "unknown_chair":
            raise await refuse(request, scope.staff, clinic_id=scope.clinic_id,
                               chair_id=chair_id) from None
        return await _page(request, scope, error=week.refusal(refused),
                           error_field=f"name-{chair_id}", values={chair_id: name},
                           status_code=422)
    return RedirectResponse(f"{scope.base}/stoler?ferdig=renamed", 303)


async def _confirm(request: Request, scope: ClinicScope, chair_id: int, *,
                   error: str | None = None, status_code: int = 200) -> Response:
    db = db_of(request)
    appointments = await chairs.future_appointments(db, clinic_id=scope.clinic_id,
                                                    chair_id=chair_id)
    async with db.read() as session:
        chair = await session.get(Chair, chair_id)
        names = {t.id: t.name(i18n.get_locale()) for t in (await session.execute(
            select(AppointmentType).where(AppointmentType.county_id == scope.county_id)
        )).scalars()}
    return await _page(request, scope, error=error, error_field="confirm", status_code=status_code,
                       confirm={"chair": chair, "appointments": appointments, "type_names": names,
                                "seen": chairs.fingerprint(appointments)})


async def deactivate(request: Request) -> Response:
    scope = await clinic_scope(request)
    chair_id = _chair_id(request)
    seen = forms.field(await request.form(), "seen")
    try:
        if not seen:
            return await _confirm(request, scope, chair_id)
        await chairs.deactivate_chair(db_of(request), scope.staff.actor,
                                      clinic_id=scope.clinic_id, chair_id=chair_id, seen=seen)
    except ChangeRefused as refused:
        if refused.code == "unknown_chair":
            raise await refuse(request, scope.staff, clinic_id=scope.clinic_id,
                               chair_id=chair_id) from None
        return await _confirm(request, scope, chair_id, error=week.refusal(refused),
                              status_code=409)
    return RedirectResponse(f"{scope.base}/stoler?ferdig=deactivated", 303)


async def activate(request: Request) -> Response:
    scope = await clinic_scope(request)
    chair_id = _chair_id(request)
    try:
        await chairs.activate_chair(db_of(request), scope.staff.actor,
                                    clinic_id=scope.clinic_id, chair_id=chair_id)
    except ChangeRefused:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id,
                           chair_id=chair_id) from None
    return RedirectResponse(f"{scope.base}/stoler?ferdig=activated", 303)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ChangeRefused("bad_days") from None


async def release(request: Request) -> Response:
    """Open or withdraw the free slots of a span of days for online booking."""
    scope = await clinic_scope(request)
    form = await request.form()
    chair_text = forms.field(form, "chair")
    chair_id = int(chair_text) if chair_text.isdigit() and len(chair_text) < 10 else None
    values = {name: forms.field(form, name) for name in ("first", "last", "scope", "action")}
    active = {c.id for c in await week.chairs_of(scope, request)}
    if chair_id is not None and chair_id not in active:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id, chair_id=chair_id)
    try:
        changed = await chairs.set_released(
            db_of(request), scope.staff.actor, clinic_id=scope.clinic_id,
            chair_id=chair_id if values["scope"] == "chair" else None,
            first=_day(values["first"]), last=_day(values["last"]),
            released=values["action"] == "release")
    except ChangeRefused as refused:
        return await week.render_week(request, scope, chair_id=chair_id,
                                      error=week.refusal(refused), error_field="release-first",
                                      release_values=values, status_code=422)
    action = "release" if values["action"] == "release" else "withdraw"
    return RedirectResponse(
        f"{scope.base}/uke?stol={chair_id or ''}&{action}={changed}#release-heading", 303)

