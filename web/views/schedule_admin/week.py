"""The week grid of one chair (days across, hours down), the preview of a
change and its saving. Without JavaScript each block has its own form and
every step is a page; with htmx the preview and the saved grid are swapped
in place (``#week-preview``, ``#week-panel``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import schedule_changes
from booking.holidays import public_holidays
from booking.models import AppointmentType, Chair, ScheduleException
from booking.schedule import local_midnight
from booking.schedule_changes import Change, ChangeRefused, Preview
from core.db import utcnow
from core.locale import OSLO
from web import i18n
from web.htmx import is_htmx, page_or_fragment
from web.views.schedule_admin import forms
from web.views.schedule_admin.scope import ClinicScope, clinic_scope, db_of, refuse

FRAGMENTS = {"week-preview": "preview", "week-panel": "panel"}
#: The grid shows at least these hours.
FIRST_HOUR, LAST_HOUR = 7, 17


@dataclass(frozen=True)
class BlockView:
    id: int
    weekday: int
    starts_at: time
    ends_at: time
    slot_minutes: int
    valid_from: date
    valid_to: date | None
    released: bool
    type_ids: tuple[int, ...]
    type_names: list[str]


@dataclass(frozen=True)
class DayView:
    day: date
    name: str
    holiday: str | None
    closures: list[tuple[datetime, datetime, str]]


def _monday(text: str | None, today: date) -> date:
    try:
        day = date.fromisoformat(text) if text and len(text) == 10 else today
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 10 else None


async def chairs_of(scope: ClinicScope, request: Request) -> list[Chair]:
    async with db_of(request).read() as session:
        return list((await session.execute(
            select(Chair).where(Chair.clinic_id == scope.clinic_id, Chair.active)
            .order_by(Chair.name, Chair.id))).scalars())


async def _chair(scope: ClinicScope, request: Request, chairs: list[Chair],
                 wanted: int | None) -> Chair | None:
    """The chosen chair; another clinic's chair is refused (404, audited)."""
    if wanted is None:
        return chairs[0] if chairs else None
    for chair in chairs:
        if chair.id == wanted:
            return chair
    raise await refuse(request, scope.staff, clinic_id=scope.clinic_id, chair_id=wanted)


async def _grid(scope: ClinicScope, request: Request, chair: Chair | None, monday: date,
                locale: str) -> dict[str, Any]:
    now = utcnow()
    today = now.astimezone(OSLO).date()
    sunday = monday + timedelta(days=6)
    names = i18n.weekday_names(locale)
    async with db_of(request).read() as session:
        types = list((await session.execute(
            select(AppointmentType).where(AppointmentType.county_id == scope.county_id)
            .order_by(AppointmentType.code))).scalars())
        templates = (await schedule_changes.chair_templates(session, chair.id, today)
                     if chair else [])
        closures = list((await session.execute(
            select(ScheduleException).where(
                ScheduleException.clinic_id == scope.clinic_id,
                or_(ScheduleException.chair_id.is_(None),
                    ScheduleException.chair_id == (chair.id if chair else None)),
                ScheduleException.starts_at < local_midnight(sunday + timedelta(days=1)),
                ScheduleException.ends_at > local_midnight(monday)))).scalars())
    type_names = {t.id: t.name(locale) for t in types}
    blocks = [BlockView(t.id, t.weekday, t.starts_at, t.ends_at, t.slot_minutes, t.valid_from,
                        t.valid_to, t.released, b.type_ids,
                        [type_names.get(i, "") for i in b.type_ids])
              for t in templates for b in [schedule_changes.Block.of(t)]]
    holidays = {**public_holidays(monday.year), **public_holidays(sunday.year)}
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
        days.append(DayView(day, names[offset], holidays.get(day),
                            [(c.starts_at, c.ends_at, c.reason) for c in closures
                             if c.starts_at < end and c.ends_at > start]))
    cells: dict[tuple[int, int], list[BlockView]] = defaultdict(list)
    for block in blocks:
        day = monday + timedelta(days=block.weekday)
        if block.valid_from <= day <= (block.valid_to or date.max):
            cells[(block.starts_at.hour, block.weekday)].append(block)
    later = [b for b in blocks
             if not b.valid_from <= monday + timedelta(days=b.weekday) <= (b.valid_to or date.max)]
    first = min([FIRST_HOUR, *(b.starts_at.hour for b in blocks)])
    last = max([LAST_HOUR, *((b.ends_at.hour + (1 if b.ends_at.minute else 0)) for b in blocks)])
    return {"types": types, "type_names": type_names, "days": days, "cells": cells,
            "hours": list(range(first, min(last, 24))), "blocks": blocks, "later": later,
            "monday": monday, "week_number": monday.isocalendar().week,
            "previous_week": (monday - timedelta(days=7)).isoformat(),
            "next_week": (monday + timedelta(days=7)).isoformat(), "today": today,
            "weekday_names": names}


def _released(request: Request) -> tuple[str, int] | None:
    """How many slots the last release or withdrawal changed (from the address)."""
    for action in ("release", "withdraw"):
        value = _int(request.query_params.get(action))
        if value is not None:
            return action, value
    return None


def _paths(scope: ClinicScope) -> dict[str, str]:
    return {"week": f"{scope.base}/uke", "preview": f"{scope.base}/uke/forhandsvis",
            "save": f"{scope.base}/uke/lagre", "stranded": f"{scope.base}/strandet",
            "closure_preview": f"{scope.base}/stenging/forhandsvis",
            "closure_save": f"{scope.base}/stenging/lagre",
            "release": f"{scope.base}/uke/apne", "chairs": f"{scope.base}/stoler"}


async def _page(request: Request, scope: ClinicScope, *, chair_id: int | None,
                monday: date, preview: Preview | None = None, error: str | None = None,
                error_field: str = "", form_for: str = "", values: dict[str, Any] | None = None,
                saved: bool = False, closure_plan: schedule_changes.ClosurePlan | None = None,
                closure_values: dict[str, Any] | None = None,
                release_values: dict[str, Any] | None = None,
                status_code: int = 200) -> Response:
    locale = i18n.activate(request)
    chairs = await chairs_of(scope, request)
    chair = await _chair(scope, request, chairs, chair_id)
    context: dict[str, Any] = {
        "clinic": scope, "chairs": chairs, "chair": chair, "paths": _paths(scope),
        "error": error, "error_field": error_field, "form_for": form_for,
        "values": values or {}, "saved": saved, "preview": None,
        "closure": closure_plan, "closure_values": closure_values or {},
        "release_values": release_values or {}, "released_count": _released(request),
        **await _grid(scope, request, chair, monday, locale),
    }
    if preview is not None:
        context["preview"] = _preview_context(preview, context["type_names"])
    return page_or_fragment(request, "schedule_admin/week.html", context,
                            fragments=FRAGMENTS, status_code=status_code)


def _preview_context(preview: Preview, type_names: dict[int, str]) -> dict[str, Any]:
    plan = preview.plan
    return {"change": preview.change, "hidden": forms.hidden(preview.change),
            "fingerprint": preview.fingerprint, "added": plan.added_by_change,
            "removed": len(plan.removed), "stranded": plan.stranded,
            "restored": len(plan.restored), "last_day": plan.last_day,
            "type_names": type_names}


async def render_week(request: Request, scope: ClinicScope, *, chair_id: int | None,
                      error: str | None = None, error_field: str = "",
                      closure_plan: schedule_changes.ClosurePlan | None = None,
                      closure_values: dict[str, Any] | None = None,
                      release_values: dict[str, Any] | None = None,
                      status_code: int = 200) -> Response:
    """The week page of the week a closure falls in (or this week)."""
    today = utcnow().astimezone(OSLO).date()
    day = (closure_plan.closure.starts_at.astimezone(OSLO).date() if closure_plan else today)
    return await _page(request, scope, chair_id=chair_id, monday=_monday(None, day),
                       error=error, error_field=error_field, closure_plan=closure_plan,
                       closure_values=closure_values, release_values=release_values,
                       status_code=status_code)


async def week_page(request: Request) -> Response:
    scope = await clinic_scope(request)
    today = utcnow().astimezone(OSLO).date()
    return await _page(request, scope, chair_id=_int(request.query_params.get("stol")),
                       monday=_monday(request.query_params.get("fra"), today),
                       saved=request.query_params.get("lagret") == "1")


def refusal(refused: ChangeRefused) -> str:
    return i18n.translate(schedule_changes.REFUSAL_TEXT[refused.code], refused.params)


_FIELD_OF = {"end_before_start": "ends_at", "slot_not_fitting": "slot_minutes",
             "slot_length": "slot_minutes", "overlap": "starts_at",
             "valid_to_before_from": "valid_to", "valid_from_past": "valid_from",
             "no_types": "types", "unknown_type": "types", "bad_input": "weekday",
             "nothing_to_change": "starts_at"}


async def _change_from(request: Request, scope: ClinicScope
                       ) -> tuple[Change | None, dict[str, Any], ChangeRefused | None]:
    form = await request.form()
    values = forms.values(form)
    values["kind"], values["block"] = forms.field(form, "kind"), forms.field(form, "block")
    values["fingerprint"] = forms.field(form, "fingerprint")
    chair_id = _int(forms.field(form, "chair"))
    chairs = await chairs_of(scope, request)
    if chair_id is not None and chair_id not in {c.id for c in chairs}:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id, chair_id=chair_id)
    try:
        return forms.change(form), values, None
    except ChangeRefused as refused:
        return None, values, refused


def _form_for(values: dict[str, Any]) -> str:
    return f"b{values['block']}" if values.get("kind") in ("edit", "remove") else "new"


async def _refused_page(request: Request, scope: ClinicScope, chair_id: int | None,
                        values: dict[str, Any], refused: ChangeRefused) -> Response:
    form_for = _form_for(values)
    field_name = _FIELD_OF.get(refused.code, "")
    if values.get("kind") == "remove" or not field_name:
        error_field = "week-grid"
    else:
        error_field = f"{form_for}-{field_name}"
    today = utcnow().astimezone(OSLO).date()
    return await _page(request, scope, chair_id=chair_id, monday=_monday(None, today),
                       error=refusal(refused), error_field=error_field, form_for=form_for,
                       values=values, status_code=422)


async def preview(request: Request) -> Response:
    scope = await clinic_scope(request)
    change, values, refused = await _change_from(request, scope)
    chair_id = change.chair_id if change else _int(str(values.get("chair", "")))
    if change is None:
        assert refused is not None
        return await _refused_page(request, scope, chair_id, values, refused)
    try:
        result = await schedule_changes.preview(db_of(request), clinic_id=scope.clinic_id,
                                                county_id=scope.county_id, change=change)
    except ChangeRefused as error:
        return await _refused_page(request, scope, change.chair_id, values, error)
    monday = _monday(None, utcnow().astimezone(OSLO).date())
    return await _page(request, scope, chair_id=change.chair_id, monday=monday,
                       preview=result, form_for=_form_for(values), values=values)


async def save(request: Request) -> Response:
    scope = await clinic_scope(request)
    change, values, refused = await _change_from(request, scope)
    if change is None:
        assert refused is not None
        return await _refused_page(request, scope, None, values, refused)
    db = db_of(request)
    try:
        await schedule_changes.apply(db, scope.staff.actor, clinic_id=scope.clinic_id,
                                     county_id=scope.county_id, change=change,
                                     fingerprint=str(values["fingerprint"]))
    except ChangeRefused as error:
        if error.code != "stale":
            return await _refused_page(request, scope, change.chair_id, values, error)
        # The week moved under the preview: show the new one, nothing saved.
        try:
            fresh = await schedule_changes.preview(db, clinic_id=scope.clinic_id,
                                                   county_id=scope.county_id, change=change)
        except ChangeRefused as again:
            return await _refused_page(request, scope, change.chair_id, values, again)
        monday = _monday(None, utcnow().astimezone(OSLO).date())
        return await _page(request, scope, chair_id=change.chair_id, monday=monday,
                           preview=fresh, error=refusal(error), error_field="week-preview",
                           values=values, status_code=409)
    if is_htmx(request):
        monday = _monday(None, utcnow().astimezone(OSLO).date())
        return await _page(request, scope, chair_id=change.chair_id, monday=monday,
                           saved=True)
    return RedirectResponse(f"{scope.base}/uke?stol={change.chair_id}&lagret=1", 303)
