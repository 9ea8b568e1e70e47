"""Bulk resend after an outage (``/staff/support/masseutsending``): choose a
time window and what failed, see the count and a sample, confirm. For
support and county administrators of one county; the rules live in
:mod:`notifications.bulk_resend`.

Nothing about a patient is shown before the confirmation: the sample names
the appointment's time and clinic, the message's purpose and its status.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booking.models import Clinic
from booking.reasons import N_
from core.db import Database, utcnow
from core.locale import OSLO
from notifications import bulk_resend, support
from notifications.statuses import FAILED, Channel, describe
from web import i18n
from web.auth.staff import StaffPrincipal
from web.oversight.refusals import refused
from web.templating import render
from web.views.support import CALL_LIST_PATH, PATH, _support

BULK_PATH: Final = f"{PATH}/masseutsending"

#: Why a bulk resend was refused, in words for support.
REFUSAL_TEXT: Final[dict[str, str]] = {
    "window": N_("Write when the window starts and ends (date and time)."),
    "window_order": N_("The window must end after it starts."),
    "choose_channel": N_("Choose the channel."),
    "choose_status": N_("Choose what failed."),
    "error_code": N_("An error code is digits only, such as 30003."),
    "nothing_matches": N_("No failed messages match. Nothing was sent."),
    "too_many": N_("%(count)s messages match, more than the %(cap)s one bulk resend may send. "
                   "Choose a shorter window or narrow it down. Nothing was sent."),
    "reason_required": N_("Write why the messages are sent again."),
}

CHANNEL_TEXT: Final[dict[str, str]] = {
    Channel.SMS: N_("Text message (SMS)"),
    Channel.HELSENORGE: N_("Helsenorge"),
}

SKIP_TEXT: Final[dict[str, str]] = {
    "appointment_passed": N_("the appointment has already started"),
    "appointment_cancelled": N_("the appointment was cancelled"),
    "already_resent": N_("already sent again"),
    "not_an_sms": N_("not a text message (only text messages can be sent again)"),
    "still_in_flight": N_("still on its way"),
}

_FIELDS: Final = ("since_date", "since_time", "until_date", "until_time", "status",
                  "error_code", "channel", "clinic", "reason")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _values(form: FormData | None) -> dict[str, str]:
    out = {name: "" for name in _FIELDS}
    out["channel"] = Channel.SMS
    if form is not None:
        for name in _FIELDS:
            value = form.get(name)
            if isinstance(value, str):
                out[name] = value.strip()[:200]
    return out


def _moment(day: str, clock: str) -> datetime | None:
    """An Oslo date and time as typed (``7.12.2026`` or ``2026-12-07``; ``08:30``,
    ``8.30`` or ``0830``), in UTC."""
    try:
        if "." in day:
            d, m, y = (int(p) for p in day.split("."))
            on = date(y, m, d)
        else:
            on = date.fromisoformat(day)
        clock = clock.replace(".", ":")
        if clock.isdigit() and len(clock) in (3, 4):
            clock = f"{clock[:-2]}:{clock[-2:]}"
        hours, _, minutes = clock.partition(":")
        at = time(int(hours), int(minutes or 0)) if clock else time(0, 0)
    except ValueError:
        return None
    return datetime.combine(on, at, OSLO).astimezone(UTC)


class _Bad(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


async def _selection(request: Request, staff: StaffPrincipal,
                     values: dict[str, str]) -> bulk_resend.Selection:
    since = _moment(values["since_date"], values["since_time"])
    until = _moment(values["until_date"], values["until_time"])
    if since is None or until is None:
        raise _Bad("window")
    if values["channel"] not in set(Channel):
        raise _Bad("choose_channel")
    if values["status"] and values["status"] not in FAILED:
        raise _Bad("choose_status")
    code = values["error_code"]
    if code and not (code.isdigit() and len(code) <= 9):
        raise _Bad("error_code")
    clinic_id: int | None = None
    if values["clinic"]:
        raw = values["clinic"]
        if not (raw.isdigit() and len(raw) <= 18) or int(raw) not in staff.actor.clinic_ids:
            raise await refused(_db(request), staff.actor, "clinic", raw[:20])
        clinic_id = int(raw)
    return bulk_resend.Selection(
        since=since, until=until, statuses=(values["status"],) if values["status"] else (),
        error_code=int(code) if code else None, channel=values["channel"],
        clinic_id=clinic_id)


async def _page(request: Request, staff: StaffPrincipal, *, values: dict[str, str],
                error: str | None = None, error_values: dict[str, Any] | None = None,
                preview: bulk_resend.Preview | None = None,
                result: bulk_resend.RunResult | None = None,
                status_code: int = 200) -> Response:
    async with _db(request).read() as session:
        clinics = (await session.execute(
            select(Clinic.id, Clinic.name).where(Clinic.id.in_(sorted(staff.actor.clinic_ids)))
            .order_by(Clinic.name))).all()
    return render(request, "support/bulk_resend.html", {
        "values": values, "clinics": clinics,
        "error": i18n.gettext(error) % (error_values or {}) if error else None,
        "preview": preview, "result": result, "statuses": sorted(FAILED),
        "channels": CHANNEL_TEXT, "status_words": describe, "skip_words": SKIP_TEXT,
        "purpose_words": support.MESSAGE_PURPOSE_TEXT,
        "cap": request.app.state.settings.bulk_resend_max,
        "paths": {"find": PATH, "call_list": CALL_LIST_PATH, "bulk": BULK_PATH,
                  "bulk_send": f"{BULK_PATH}/send"},
    }, status_code=status_code)


async def form_page(request: Request) -> Response:
    staff = await _support(request)
    values = _values(None)
    # From the start of today to the end of this minute (Norwegian time).
    now = utcnow().astimezone(OSLO)
    until = (now + timedelta(minutes=1)).astimezone(OSLO)
    values.update(since_date=now.strftime("%d.%m.%Y"), since_time="00:00",
                  until_date=until.strftime("%d.%m.%Y"), until_time=until.strftime("%H:%M"))
    return await _page(request, staff, values=values)


async def _refusal(request: Request, staff: StaffPrincipal, values: dict[str, str],
                   code: str, extra: dict[str, Any] | None = None) -> Response:
    return await _page(request, staff, values=values,
                       error=REFUSAL_TEXT.get(code, REFUSAL_TEXT["nothing_matches"]),
                       error_values=extra, status_code=400)


async def preview(request: Request) -> Response:
    staff = await _support(request)
    values = _values(await request.form())
    try:
        selection = await _selection(request, staff, values)
        found = await bulk_resend.preview(_db(request), staff.actor, staff.grant.county_id,
                                          selection,
                                          cap=request.app.state.settings.bulk_resend_max)
    except _Bad as bad:
        return await _refusal(request, staff, values, bad.code)
    except bulk_resend.BulkRefused as no:
        return await _refusal(request, staff, values, no.code, no.values)
    return await _page(request, staff, values=values, preview=found)


async def send(request: Request) -> Response:
    staff = await _support(request)
    values = _values(await request.form())
    try:
        selection = await _selection(request, staff, values)
        result = await bulk_resend.run(_db(request), staff.actor, staff.grant.county_id,
                                       selection, reason=values["reason"],
                                       cap=request.app.state.settings.bulk_resend_max)
    except _Bad as bad:
        return await _refusal(request, staff, values, bad.code)
    except bulk_resend.BulkRefused as no:
        if no.code == "reason_required":
            # Back to the confirmation, with its error.
            try:
                found = await bulk_resend.preview(
                    _db(request), staff.actor, staff.grant.county_id, selection,
                    cap=request.app.state.settings.bulk_resend_max)
            except bulk_resend.BulkRefused as gone:
                return await _refusal(request, staff, values, gone.code, gone.values)
            return await _page(request, staff, values=values, preview=found,
                               error=REFUSAL_TEXT[no.code], status_code=400)
        return await _refusal(request, staff, values, no.code, no.values)
    return await _page(request, staff, values=values, result=result)


def routes() -> list[BaseRoute]:
    return [
        Route(BULK_PATH, form_page, name="support_bulk"),
        Route(BULK_PATH, preview, methods=["POST"], name="support_bulk_preview"),
        Route(f"{BULK_PATH}/send", send, methods=["POST"], name="support_bulk_send"),
    ]
