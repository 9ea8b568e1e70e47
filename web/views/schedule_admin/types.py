"""The county's appointment types (``/staff/fylke/timetyper``), for county
admins: each type's form, and one to add a type. Another county's type
answers 404 and is audited."""

from __future__ import annotations

from typing import Any, Final

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import appointment_types
from booking.appointment_types import LANGUAGES, TypeSettings
from booking.schedule_changes import ChangeRefused
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal
from web.templating import render
from web.views.schedule_admin import forms, week
from web.views.schedule_admin.scope import db_of, refuse

PATH: Final = "/staff/fylke/timetyper"
NUMBERS: Final = ("duration_minutes", "min_age", "max_age", "booking_horizon_days",
                  "min_notice_hours", "change_cutoff_hours", "max_self_reschedules")


async def _county_admin(request: Request) -> StaffPrincipal:
    staff = await require_staff(request)
    if not staff.has_role(StaffRole.COUNTY_ADMIN):
        raise HTTPException(403)
    return staff


def _number(form: FormData, name: str) -> int | None:
    text = forms.field(form, name)
    if name == "max_age" and not text:
        return None
    if not text.isdigit() or len(text) > 6:
        raise ChangeRefused("type_number", least=0, most=LIMITS_TEXT[name])
    return int(text)


LIMITS_TEXT: Final = {name: most for name, (_, most) in appointment_types.LIMITS.items()}


def _settings(form: FormData) -> TypeSettings:
    numbers = {name: _number(form, name) for name in NUMBERS}
    return TypeSettings(
        names={language: forms.field(form, f"name_{language}") for language in LANGUAGES},
        duration_minutes=numbers["duration_minutes"] or 0, min_age=numbers["min_age"] or 0,
        max_age=numbers["max_age"], self_bookable=form.get("self_bookable") == "1",
        booking_horizon_days=numbers["booking_horizon_days"] or 0,
        min_notice_hours=numbers["min_notice_hours"] or 0,
        change_cutoff_hours=numbers["change_cutoff_hours"] or 0,
        late_cancellation_fee=form.get("late_cancellation_fee") == "1",
        max_self_reschedules=numbers["max_self_reschedules"] or 0)


def _echo(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: forms.field(form, name) for name in NUMBERS}
    values.update({f"name_{language}": forms.field(form, f"name_{language}")
                   for language in LANGUAGES})
    values.update(code=forms.field(form, "code"),
                  self_bookable=form.get("self_bookable") == "1",
                  late_cancellation_fee=form.get("late_cancellation_fee") == "1")
    return values


async def _page(request: Request, staff: StaffPrincipal, *, error: str | None = None,
                form_for: str = "", values: dict[str, Any] | None = None, done: bool = False,
                status_code: int = 200) -> Response:
    rows = await appointment_types.of_county(db_of(request), staff.grant.county_id)
    return render(request, "schedule_admin/types.html", {
        "types": rows, "error": error, "form_for": form_for, "values": values or {},
        "done": done, "type_languages": LANGUAGES, "path": PATH,
    }, status_code=status_code)


async def list_page(request: Request) -> Response:
    staff = await _county_admin(request)
    return await _page(request, staff, done=request.query_params.get("lagret") == "1")


async def add(request: Request) -> Response:
    staff = await _county_admin(request)
    form = await request.form()
    try:
        await appointment_types.add(db_of(request), staff.actor,
                                    county_id=staff.grant.county_id,
                                    code=forms.field(form, "code"), settings=_settings(form))
    except ChangeRefused as refused:
        return await _page(request, staff, error=week.refusal(refused), form_for="new",
                           values=_echo(form), status_code=422)
    return RedirectResponse(f"{PATH}?lagret=1", 303)


async def update(request: Request) -> Response:
    staff = await _county_admin(request)
    type_id: int = request.path_params["type_id"]
    form = await request.form()
    try:
        settings = _settings(form)
        await appointment_types.update(db_of(request), staff.actor,
                                       county_id=staff.grant.county_id, type_id=type_id,
                                       settings=settings)
    except ChangeRefused as refused:
        if refused.code == "unknown_type":
            raise await refuse(request, staff, county_id=staff.grant.county_id,
                               appointment_type_id=type_id) from None
        return await _page(request, staff, error=week.refusal(refused), form_for=f"t{type_id}",
                           values=_echo(form), status_code=422)
    return RedirectResponse(f"{PATH}?lagret=1#type-{type_id}", 303)
