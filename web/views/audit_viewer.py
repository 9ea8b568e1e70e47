"""County administrators' pages (``/staff/tilsyn``): the audit viewer
(search, pages, CSV export, the chains' verification state and re-verify)
and the access review. For :data:`StaffRole.COUNTY_ADMIN` only, within their
own county; the rules live in :mod:`web.oversight`.

A patient is found through the same purpose-stated, audited look-up as in
the support console (a POSTed form); the search then names the patient by a
short-lived signed token, never by an identity number.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from booking.models import Patient
from booking.reasons import N_
from core.db import Database, utcnow
from core.locale import OSLO
from notifications import support
from web import i18n, signing
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal
from web.oversight import access_review, audit_log, directory
from web.oversight.refusals import refused
from web.templating import render
from web.views.support import CALL_LIST_PATH, PATH, _parse_birth_date

LOG_PATH: Final = "/staff/tilsyn/logg"
REVIEW_PATH: Final = "/staff/tilsyn/tilgang"
TOKEN_PURPOSE: Final = "audit-patient"  # noqa: S105 (a signing purpose)
TOKEN_LIFETIME: Final = timedelta(hours=10)
OVERSIGHT_PURPOSE: Final = "oversight"
_PURPOSES: Final = tuple(support.AUDIT_PURPOSE_TEXT)

ERRORS: Final[dict[str, str]] = {
    "date": N_("Write the dates as day.month.year."),
    "date_order": N_("The end date must not be before the start date."),
    "note_required": N_("Write a note about what you found."),
    "already_reviewed": N_("That look-up has already been reviewed."),
}

ACTION_HINT: Final = N_("An action, or the start of one (for example support.)")


async def _admin(request: Request) -> StaffPrincipal:
    staff = await require_staff(request)
    if not staff.has_role(StaffRole.COUNTY_ADMIN):
        raise HTTPException(403)
    request.state.county_admin = True
    return staff


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _paths() -> dict[str, str]:
    return {"find": PATH, "call_list": CALL_LIST_PATH, "log": LOG_PATH,
            "find_patient": f"{LOG_PATH}/pasient", "verify": f"{LOG_PATH}/verifiser",
            "csv": f"{LOG_PATH}.csv", "review": REVIEW_PATH}


def _token(request: Request, patient_id: int) -> str:
    return signing.sign(TOKEN_PURPOSE, patient_id, utcnow() + TOKEN_LIFETIME,
                        request.app.state.settings.secret_key)


def _day(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    parsed = _parse_birth_date(text)
    if parsed is None:
        raise ValueError("date")
    return parsed


class _Query:
    """The search as the query string gives it."""

    def __init__(self, request: Request) -> None:
        params = request.query_params
        self.token = params.get("pasient", "")[:100]
        self.staff = params.get("ansatt", "")[:64]
        self.action = params.get("handling", "").strip()[:64]
        self.since_text = params.get("fra", "")[:20]
        self.until_text = params.get("til", "")[:20]
        page = params.get("side", "1")
        self.page = int(page) if page.isdigit() and len(page) < 7 else 1

    def params(self, **changes: Any) -> dict[str, str]:
        out = {"pasient": self.token, "ansatt": self.staff, "handling": self.action,
               "fra": self.since_text, "til": self.until_text}
        out.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in out.items() if v}

    def values(self) -> dict[str, str]:
        return {"staff": self.staff, "action": self.action, "since": self.since_text,
                "until": self.until_text}


async def _search(request: Request, staff: StaffPrincipal, query: _Query,
                  names: dict[str, str]) -> audit_log.Search:
    """The search, with the patient and the staff member checked against the
    county (404 and an audit entry otherwise); a bad date raises ValueError."""
    patient_id = None
    if query.token:
        patient_id = signing.verify(TOKEN_PURPOSE, query.token,
                                    request.app.state.settings.secret_key, utcnow())
        if patient_id is None:
            raise await refused(_db(request), staff.actor, "audit_patient_token", None,
                                purpose=OVERSIGHT_PURPOSE)
        if await support.patient_in_scope(_db(request), staff.actor, patient_id) is None:
            raise HTTPException(404)
    if query.staff and query.staff not in names:
        raise await refused(_db(request), staff.actor, "staff", query.staff,
                            purpose=OVERSIGHT_PURPOSE)
    since, until = _day(query.since_text), _day(query.until_text)
    if since and until and until < since:
        raise ValueError("date_order")
    return audit_log.Search(
        patient_id=patient_id, staff=query.staff or None, action=query.action or None,
        since=datetime.combine(since, time(0), OSLO).astimezone(UTC) if since else None,
        until=(datetime.combine(until + timedelta(days=1), time(0), OSLO).astimezone(UTC)
               if until else None))


async def log_page(request: Request, *, hits: list[tuple[support.PatientHit, str]] | None = None,
                   find_error: str | None = None, find_values: dict[str, str] | None = None,
                   not_found: bool = False, status_code: int = 200) -> Response:
    staff = await _admin(request)
    query = _Query(request)
    names = await directory.names(_db(request), staff.grant.county_id)
    error = None
    page = None
    patient = None
    try:
        search = await _search(request, staff, query, names)
    except ValueError as bad:
        error, status_code = ERRORS[str(bad)], 400
    else:
        page = await audit_log.search(_db(request), staff.actor, staff.grant.county_id, search,
                                      page=query.page)
        if search.patient_id is not None:
            async with _db(request).read() as session:
                patient = await session.get(Patient, search.patient_id)
    verification = await audit_log.last_verification(_db(request))
    return render(request, "support/audit_log.html", {
        "page": page, "names": names, "values": query.values(), "token": query.token,
        "patient": patient,
        "error": i18n.gettext(error) if error else None,
        "find_error": i18n.gettext(find_error) if find_error else None,
        "find_values": {"purpose": "", "name": "", "birth_date": "", **(find_values or {})},
        "hits": hits or [], "not_found": not_found,
        "purposes": support.AUDIT_PURPOSE_TEXT, "verification": verification,
        "verified": request.query_params.get("verifisert") == "1",
        "action_hint": ACTION_HINT,
        "page_link": lambda n: f"{LOG_PATH}?{urlencode(query.params(side=n))}",
        "csv_link": f"{LOG_PATH}.csv?{urlencode(query.params())}",
        "paths": _paths(),
    }, status_code=status_code)


async def log_view(request: Request) -> Response:
    return await log_page(request)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:200] if isinstance(value, str) else ""


async def find_patient(request: Request) -> Response:
    staff = await _admin(request)
    form = await request.form()
    purpose = _field(form, "purpose")
    identity_number = "".join(_field(form, "identity_number").split())
    values = {"purpose": purpose, "name": _field(form, "name"),
              "birth_date": _field(form, "birth_date")}
    try:
        if purpose not in _PURPOSES:
            raise support.SupportRefused("choose_purpose")
        if identity_number:
            hits = await support.find_patients(_db(request), request.app.state.vault,
                                               staff.actor, purpose,
                                               identity_number=identity_number)
        else:
            hits = await support.find_patients(
                _db(request), request.app.state.vault, staff.actor, purpose,
                name=values["name"], birth_date=_parse_birth_date(values["birth_date"]))
    except support.SupportRefused as no:
        return await log_page(request, find_error=support.REFUSAL_TEXT[no.code],
                              find_values=values, status_code=400)
    if len(hits) == 1:
        return RedirectResponse(
            f"{LOG_PATH}?{urlencode({'pasient': _token(request, hits[0].patient_id)})}", 303)
    return await log_page(
        request, hits=[(h, f"{LOG_PATH}?{urlencode({'pasient': _token(request, h.patient_id)})}")
                       for h in hits],
        find_values=values, not_found=not hits, status_code=200 if hits else 404)


async def export(request: Request) -> Response:
    staff = await _admin(request)
    query = _Query(request)
    names = await directory.names(_db(request), staff.grant.county_id)
    try:
        search = await _search(request, staff, query, names)
    except ValueError:
        return RedirectResponse(f"{LOG_PATH}?{urlencode(query.params())}", 303)
    body = await audit_log.export_csv(_db(request), staff.actor, staff.grant.county_id,
                                      search, names)
    stamp = utcnow().astimezone(OSLO).strftime("%Y%m%d-%H%M")
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
        "Cache-Control": "no-store"})


async def reverify(request: Request) -> Response:
    staff = await _admin(request)
    await audit_log.verify(_db(request), staff.actor, staff.grant.county_id)
    return RedirectResponse(f"{LOG_PATH}?verifisert=1#verification", 303)


# --- the access review ---------------------------------------------------------

async def _review_page(request: Request, staff: StaffPrincipal, *,
                       errors: dict[int, str] | None = None,
                       notes: dict[int, str] | None = None,
                       status_code: int = 200) -> Response:
    settings = request.app.state.settings
    lines = await access_review.unexplained(_db(request), staff.grant.county_id,
                                            window_days=settings.access_review_window_days)
    show_all = request.query_params.get("alle") == "1"
    shown = lines if show_all else [line for line in lines if line.reviewed_at is None]
    raw = request.query_params.get("side", "1")
    pages = max(1, -(-len(shown) // access_review.PAGE_SIZE))
    page = min(max(1, int(raw) if raw.isdigit() and len(raw) < 7 else 1), pages)
    size = access_review.PAGE_SIZE
    return render(request, "support/access_review.html", {
        "lines": shown[(page - 1) * size:page * size], "page": page, "pages": pages,
        "total": len(shown), "reviewed": sum(1 for line in lines if line.reviewed_at),
        "show_all": show_all, "window_days": settings.access_review_window_days,
        "lookback_days": access_review.LOOKBACK_DAYS,
        "purpose_words": {**support.PURPOSE_TEXT, **support.AUDIT_PURPOSE_TEXT},
        "errors": {k: i18n.gettext(v) for k, v in (errors or {}).items()},
        "notes": notes or {}, "saved": request.query_params.get("lagret") == "1",
        "page_link": lambda n: f"{REVIEW_PATH}?" + urlencode(
            {"side": n, **({"alle": 1} if show_all else {})}),
        "paths": _paths(),
    }, status_code=status_code)


async def review_list(request: Request) -> Response:
    staff = await _admin(request)
    return await _review_page(request, staff)


async def mark_reviewed(request: Request) -> Response:
    staff = await _admin(request)
    entry_id: int = request.path_params["entry_id"]
    form = await request.form()
    raw = form.get("note")
    note = raw[:access_review.NOTE_LIMIT] if isinstance(raw, str) else ""
    try:
        await access_review.mark_reviewed(
            _db(request), staff.actor, staff.grant.county_id, staff.grant.name, entry_id,
            note, window_days=request.app.state.settings.access_review_window_days)
    except access_review.ReviewRefused as no:
        if no.code == "unknown_entry":
            raise await refused(_db(request), staff.actor, "audit_entry", entry_id,
                                purpose=OVERSIGHT_PURPOSE) from None
        return await _review_page(request, staff, errors={entry_id: ERRORS[no.code]},
                                  notes={entry_id: note}, status_code=400)
    return RedirectResponse(f"{REVIEW_PATH}?lagret=1", 303)


def routes() -> list[BaseRoute]:
    return [
        Route(LOG_PATH, log_view, name="oversight_log"),
        Route(f"{LOG_PATH}.csv", export, name="oversight_log_csv"),
        Route(f"{LOG_PATH}/pasient", find_patient, methods=["POST"],
              name="oversight_find_patient"),
        Route(f"{LOG_PATH}/verifiser", reverify, methods=["POST"], name="oversight_verify"),
        Route(REVIEW_PATH, review_list, name="oversight_review"),
        Route(f"{REVIEW_PATH}/{{entry_id:int}}", mark_reviewed, methods=["POST"],
              name="oversight_mark_reviewed"),
    ]
