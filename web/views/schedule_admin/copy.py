"""Copying a chair's week to other chairs (``/staff/klinikk/{slug}/uke/kopier``):
choose the chairs and the first day, see what each chair gets, confirm. The
chairs offered are those of the clinics this admin runs in the clinic's
county; any other chair id is answered 404 and audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import schedule_copy
from booking.models import Clinic
from booking.schedule_changes import ChangeRefused
from booking.schedule_copy import CopyPlan
from core.db import utcnow
from core.locale import OSLO
from web import i18n
from web.templating import render
from web.views.schedule_admin import forms, week
from web.views.schedule_admin.scope import ClinicScope, clinic_scope, db_of, refuse


def _paths(scope: ClinicScope) -> dict[str, str]:
    return {"week": f"{scope.base}/uke", "stranded": f"{scope.base}/strandet",
            "chairs": f"{scope.base}/stoler", "copy": f"{scope.base}/uke/kopier",
            "copy_preview": f"{scope.base}/uke/kopier/forhandsvis",
            "copy_save": f"{scope.base}/uke/kopier/lagre",
            "closures": f"{scope.base}/stenginger"}


async def _allowed(request: Request, scope: ClinicScope) -> list[int]:
    """The clinics of this admin in the clinic's county."""
    async with db_of(request).read() as session:
        return sorted((await session.execute(select(Clinic.id).where(
            Clinic.id.in_(list(scope.staff.actor.clinic_ids)),
            Clinic.county_id == scope.county_id))).scalars())


def refusal(refused: ChangeRefused) -> str:
    params = dict(refused.params)
    if "weekday" in params:
        params["day"] = i18n.weekday_names()[int(params.pop("weekday"))]
    return week.refusal(ChangeRefused(refused.code, **params))


async def _page(request: Request, scope: ClinicScope, *, values: dict[str, Any],
                plan: CopyPlan | None = None, error: str | None = None,
                status_code: int = 200) -> Response:
    i18n.activate(request)
    chairs = await week.chairs_of(scope, request)
    async with db_of(request).read() as session:
        targets = await schedule_copy.copy_targets(session, await _allowed(request, scope))
    today = utcnow().astimezone(OSLO).date()
    return render(request, "schedule_admin/copy.html", {
        "clinic": scope, "paths": _paths(scope), "chairs": chairs, "targets": targets,
        "values": values, "plan": plan, "error": error, "today": today,
        "source": next((c for c in chairs if str(c.id) == values.get("source")), None),
    }, status_code=status_code)


async def copy_page(request: Request) -> Response:
    scope = await clinic_scope(request)
    source = request.query_params.get("stol", "")
    today = utcnow().astimezone(OSLO).date()
    return await _page(request, scope, values={"source": source[:12], "targets": [],
                                               "valid_from": today.isoformat()})


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 10 else None


async def _read(request: Request, scope: ClinicScope
                ) -> tuple[dict[str, Any], int | None, list[int], date | None, list[int]]:
    form: FormData = await request.form()
    targets_text = [v.strip()[:12] for v in form.getlist("target") if isinstance(v, str)][:100]
    values: dict[str, Any] = {"source": forms.field(form, "source"), "targets": targets_text,
                              "valid_from": forms.field(form, "valid_from"),
                              "fingerprint": forms.field(form, "fingerprint")}
    source = _int(values["source"])
    targets = [t for t in (_int(v) for v in targets_text) if t is not None]
    allowed = await _allowed(request, scope)
    own = {c.id for c in await week.chairs_of(scope, request)}
    async with db_of(request).read() as session:
        reachable = {t.chair_id for t in await schedule_copy.copy_targets(
            session, sorted(scope.staff.actor.clinic_ids))}
    if source is not None and source not in own:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id, chair_id=source)
    outside = [t for t in targets if t not in reachable]
    if outside:
        raise await refuse(request, scope.staff, clinic_id=scope.clinic_id, chair_ids=outside)
    try:
        valid_from: date | None = date.fromisoformat(values["valid_from"])
    except ValueError:
        valid_from = None
    return values, source, targets, valid_from, allowed


async def preview(request: Request) -> Response:
    scope = await clinic_scope(request)
    values, source, targets, valid_from, allowed = await _read(request, scope)
    try:
        if source is None or valid_from is None or len(targets) != len(values["targets"]):
            raise ChangeRefused("bad_copy")
        plan = await schedule_copy.preview_copy(
            db_of(request), clinic_id=scope.clinic_id, county_id=scope.county_id,
            source_chair_id=source, target_chair_ids=targets, allowed_clinic_ids=allowed,
            valid_from=valid_from)
    except ChangeRefused as refused:
        return await _page(request, scope, values=values, error=refusal(refused),
                           status_code=422)
    return await _page(request, scope, values=values, plan=plan)


async def save(request: Request) -> Response:
    scope = await clinic_scope(request)
    values, source, targets, valid_from, allowed = await _read(request, scope)
    db = db_of(request)
    try:
        if source is None or valid_from is None or len(targets) != len(values["targets"]):
            raise ChangeRefused("bad_copy")
        await schedule_copy.apply_copy(
            db, scope.staff.actor, clinic_id=scope.clinic_id, county_id=scope.county_id,
            source_chair_id=source, target_chair_ids=targets, allowed_clinic_ids=allowed,
            valid_from=valid_from, fingerprint=str(values["fingerprint"]))
    except ChangeRefused as refused:
        if refused.code != "stale" or source is None or valid_from is None:
            return await _page(request, scope, values=values, error=refusal(refused),
                               status_code=422)
        try:
            plan = await schedule_copy.preview_copy(
                db, clinic_id=scope.clinic_id, county_id=scope.county_id,
                source_chair_id=source, target_chair_ids=targets, allowed_clinic_ids=allowed,
                valid_from=valid_from)
        except ChangeRefused as again:
            return await _page(request, scope, values=values, error=refusal(again),
                               status_code=422)
        return await _page(request, scope, values=values, plan=plan, error=refusal(refused),
                           status_code=409)
    return RedirectResponse(f"{scope.base}/uke?stol={source}&lagret=1", 303)
