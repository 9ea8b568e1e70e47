"""Call me back (``booking.callbacks``).

Patients and guardians: ``GET``/``POST /klinikker/{slug}/ring-meg`` (``?for=``
a child), from the clinic page and the appointment page; the state of their
requests is on Min side. Staff of the clinic (reception and clinic
administrators for their clinics, support and county administrators for every
clinic of their county): ``GET /staff/klinikk/{slug}/ring-tilbake`` lists the
waiting requests with the number to call, ``POST …/ring-tilbake/{id}`` marks
one done. The same page lists the clinic's call tasks (``booking.call_tasks``:
appointments still unconfirmed shortly before they start, of patients who
missed one in the last year); ``POST …/ring-tilbake/oppgave/{id}`` marks one
done. Another clinic's slug, request or task is a 404 and an audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from booking import audit, call_tasks, callbacks, directory
from booking.callbacks import REASON_TEXT, REFUSAL_TEXT, STATUS_TEXT, CallbackRefused, Window
from booking.models import Clinic
from core.db import Database, utcnow
from web import i18n, phone
from web.acting import Acting, acting, parse_id
from web.auth.access import require_staff
from web.auth.roles import StaffRole
from web.auth.staff import StaffPrincipal
from web.middleware import BodyTooLarge
from web.templating import render
from web.views.profile import RegisterView, oslo_today, register_view, sms_number

PATIENT_PATH: Final = "/klinikker/{slug}/ring-meg"
STAFF_PATH: Final = "/staff/klinikk/{slug}/ring-tilbake"
STAFF_ROLES: Final = (StaffRole.RECEPTION, StaffRole.CLINIC_ADMIN, StaffRole.SUPPORT,
                      StaffRole.COUNTY_ADMIN)
SENT_FLAG: Final = "sendt"
#: Longest value read from a field of this form.
_FIELD_LIMIT: Final = 40
NO_STORE: Final = {"Cache-Control": "no-store"}


def patient_path(slug: str) -> str:
    return PATIENT_PATH.format(slug=slug)


def staff_path(slug: str) -> str:
    return STAFF_PATH.format(slug=slug)


@dataclass(frozen=True)
class WindowChoice:
    key: str
    label: str


def window_label(day_index: int, part: str, window: Window) -> str:
    day = i18n.gettext("Today") if day_index == 0 else i18n.gettext("Tomorrow")
    part_words = (i18n.gettext("morning") if part == callbacks.DayPart.MORNING
                  else i18n.gettext("afternoon"))
    return (f"{day}, {part_words}, "
            f"{i18n.format_clock(window.starts_at)}–{i18n.format_clock(window.ends_at)}")


def _choices(clinic: Clinic) -> list[WindowChoice]:
    today = oslo_today()
    return [WindowChoice(w.key, window_label((w.day - today).days, w.part, w))
            for w in callbacks.windows(clinic, utcnow())]


async def _clinic(request: Request) -> Clinic:
    clinic = await directory.clinic_by_slug(request.app.state.db, request.path_params["slug"])
    if clinic is None:
        raise HTTPException(404)
    return clinic


async def _number(request: Request, who: Acting) -> str | None:
    """The number the clinic calls: the asker's own, else the contact register's."""
    me = who.me
    register = (RegisterView("not_configured") if me.mobile
                else await register_view(request, me))
    number, _source = sms_number(me.mobile, register, oslo_today())
    return number


async def _page(request: Request, who: Acting, clinic: Clinic, *, error: str | None = None,
                error_field: str = "reason", values: dict[str, str] | None = None,
                status_code: int = 200) -> Response:
    i18n.activate(request)
    number = await _number(request, who)
    mine = [r for r in await callbacks.my_requests(request.app.state.db, who.me.id, utcnow())
            if r.clinic_slug == clinic.slug and r.patient_id == who.subject.id]
    return render(request, "callbacks/request.html", {
        "acting": who, "clinic": clinic, "switch_path": patient_path(clinic.slug),
        "action": who.link(patient_path(clinic.slug)),
        "clinic_phone": phone.display(clinic.phone), "clinic_tel": phone.tel_href(clinic.phone),
        "number": phone.display(number) if number else None,
        "reasons": REASON_TEXT, "windows": _choices(clinic),
        "values": values or {}, "error": error, "error_field": error_field,
        "mine": mine, "status_words": STATUS_TEXT, "reason_words": REASON_TEXT,
        "sent": request.query_params.get(SENT_FLAG) == "1",
    }, status_code=status_code, headers=NO_STORE)


async def request_page(request: Request) -> Response:
    clinic = await _clinic(request)
    who = await acting(request)
    return await _page(request, who, clinic)


async def submit(request: Request) -> Response:
    clinic = await _clinic(request)
    who = await acting(request)
    i18n.activate(request)
    try:
        form = await request.form()
    except BodyTooLarge:  # only a hand-made request sends that much: read as nothing
        form = FormData()
    values = {name: (v[:_FIELD_LIMIT] if isinstance(v := form.get(name), str) else "")
              for name in ("reason", "window")}
    try:
        await callbacks.request_call(
            request.app.state.db, who.actor, patient_id=who.subject.id,
            requested_by_id=who.me.id, clinic=clinic, reason=values["reason"],
            window_key=values["window"], phone=await _number(request, who), now=utcnow())
    except CallbackRefused as refused:
        field = {"choose_window": "window", "window_gone": "window"}.get(refused.code, "reason")
        return await _page(request, who, clinic, error=i18n.gettext(REFUSAL_TEXT[refused.code]),
                           error_field=field, values=values, status_code=400)
    return RedirectResponse(who.link(patient_path(clinic.slug), **{SENT_FLAG: 1}),
                            status_code=303)


# --- staff ------------------------------------------------------------------------------

async def _staff_clinic(request: Request) -> tuple[StaffPrincipal, Clinic]:
    staff = await require_staff(request)
    if not staff.has_role(*STAFF_ROLES):
        raise HTTPException(403)
    db: Database = request.app.state.db
    clinic = await directory.clinic_by_slug(db, request.path_params["slug"])
    if clinic is None:
        raise HTTPException(404)
    if clinic.id not in staff.actor.clinic_ids:
        async with db.write() as session:
            await audit.record(session, staff.actor, callbacks.REFUSED_ACTION,
                               purpose=callbacks.PURPOSE,
                               detail={"clinic_id": clinic.id, "path": request.url.path[:200]})
        raise HTTPException(404)
    return staff, clinic


async def staff_list(request: Request) -> Response:
    staff, clinic = await _staff_clinic(request)
    i18n.activate(request)
    lines = await callbacks.clinic_list(request.app.state.db, staff.actor, clinic.id, utcnow())
    tasks = await call_tasks.clinic_list(request.app.state.db, staff.actor, clinic.id, utcnow())
    return render(request, "callbacks/staff_list.html", {
        "clinic": clinic, "callbacks_path": staff_path(clinic.slug),
        "forms_path": f"/staff/klinikk/{clinic.slug}/helseskjema",
        "waiting": [line for line in lines if line.status == callbacks.CallbackStatus.WAITING],
        "done": [line for line in lines if line.status == callbacks.CallbackStatus.DONE],
        "tasks": [t for t in tasks if t.status == call_tasks.CallTaskStatus.WAITING],
        "tasks_done": [t for t in tasks if t.status == call_tasks.CallTaskStatus.DONE],
        "reason_words": REASON_TEXT, "phone_display": phone.display, "tel": phone.tel_href,
        "now": utcnow(), "marked": request.query_params.get("ferdig") == "1",
    }, headers=NO_STORE)


async def mark_done(request: Request) -> Response:
    staff, clinic = await _staff_clinic(request)
    request_id = parse_id(request.path_params.get("request_id"))
    if request_id is None:
        raise HTTPException(404)
    if not await callbacks.mark_done(request.app.state.db, staff.actor, staff.grant.name,
                                     clinic.id, request_id, utcnow()):
        raise HTTPException(404)
    return RedirectResponse(f"{staff_path(clinic.slug)}?{urlencode({'ferdig': 1})}"
                            f"#callback-{request_id}", status_code=303)


async def mark_task_done(request: Request) -> Response:
    staff, clinic = await _staff_clinic(request)
    task_id = parse_id(request.path_params.get("task_id"))
    if task_id is None:
        raise HTTPException(404)
    if not await call_tasks.mark_done(request.app.state.db, staff.actor, staff.grant.name,
                                      clinic.id, task_id, utcnow()):
        raise HTTPException(404)
    return RedirectResponse(f"{staff_path(clinic.slug)}?{urlencode({'ferdig': 1})}"
                            f"#call-task-{task_id}", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route(PATIENT_PATH, request_page, name="callback_request"),
        Route(PATIENT_PATH, submit, methods=["POST"], name="callback_submit"),
        Route(STAFF_PATH, staff_list, name="staff_callbacks"),
        Route(STAFF_PATH + "/{request_id}", mark_done, methods=["POST"],
              name="staff_callback_done"),
        Route(STAFF_PATH + "/oppgave/{task_id}", mark_task_done, methods=["POST"],
              name="staff_call_task_done"),
    ]
