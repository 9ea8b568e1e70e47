"""Staff book, change and cancel on a patient's behalf, from the patient's
page for staff (``/staff/klinikk/{slug}/pasient/{token}/…``).

* ``GET …/bestill``: choose the kind and the day; every free time of the
  clinic that day (released or not, any chair: :func:`booking.picker.staff_times`);
  a reason. ``POST …/bestill`` books it (:func:`booking.staff_booking.book_for`).
* ``POST …/innkall``: a clinic-issued appointment (innkalling) on a chair at
  any start, overbooking only when ticked with its own reason
  (:func:`booking.staff_booking.issue`).
* ``GET``/``POST …/time/{appointment_id}/endre``: move it to another free
  time of the clinic, with a reason; ``…/avbestill``: cancel with a reason.
  The same page shows the appointment's waitlist entry and its form
  (:mod:`.wishes`; the routes in :mod:`.waitlist`).

The patient is the one the signed link names (issued only after an audited,
purpose-stated look-up; never an identity number in a URL). The clinic, the
patient's link and the appointment are checked on every request: another
clinic's, a bad link or another patient's appointment is a 404 and an audit
entry, before anything is read or changed. Refusals show the service's
translated reason, with the form as it was, and change nothing. For a
child, the guardians are asked for afresh (the population register through
``app.state.relations``), so those who never logged in are told too.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from booking import picker, rules, staff_booking
from booking.models import Appointment, AppointmentType, Chair, Clinic, Patient
from booking.service import BookingRefused, Outcome
from booking.statuses import ACTIVE
from booking.waitlist import Wishes
from core.db import Database, utcnow
from core.locale import OSLO
from web import i18n
from web.acting import guardians_source, parse_id
from web.auth.staff import StaffPrincipal
from web.templating import render
from web.views.clinic.patients import patient_of_link
from web.views.clinic.scope import BASE, at_clinic, db_of, refuse
from web.views.clinic.wishes import DONE_PARAM, waitlist_part

FIELD_LIMIT: Final = 200
_KEY: Final = re.compile(r"[A-Za-z0-9_-]{16,40}")


@dataclass(frozen=True)
class ForPatient:
    staff: StaffPrincipal
    clinic: Clinic
    patient: Patient
    token: str

    @property
    def clinic_base(self) -> str:
        return f"{BASE}/{self.clinic.slug}"

    @property
    def base(self) -> str:
        return f"{self.clinic_base}/pasient/{self.token}"


def _db(request: Request) -> Database:
    return db_of(request)


async def for_patient(request: Request) -> ForPatient:
    """The clinic (in the staff member's scope, :func:`.scope.at_clinic`) and
    the patient of the link, as the patient's page checks them
    (:func:`.patients.patient_of_link`)."""
    here = await at_clinic(request)
    patient, _purpose = await patient_of_link(request, here)
    token = str(request.path_params.get("token", ""))
    return ForPatient(here.staff, here.clinic, patient, token)


async def appointment_of(request: Request, here: ForPatient) -> Appointment:
    """The appointment of the path: this patient's, at this clinic."""
    appointment_id = parse_id(request.path_params.get("appointment_id"))
    found = None
    if appointment_id is not None:
        async with _db(request).read() as session:
            found = await session.get(Appointment, appointment_id)
    if (found is None or found.clinic_id != here.clinic.id
            or found.patient_id != here.patient.id):
        raise await refuse(request, here.staff, clinic_id=here.clinic.id,
                            appointment_id=appointment_id,
                            patient_id=found.patient_id if found is not None else None)
    return found


def _key(values: dict[str, str]) -> str | None:
    """The form's idempotency key as the service keeps it; None for anything
    but a key this page made."""
    key = values.get("key", "")
    return f"staff:{key}" if _KEY.fullmatch(key) else None


def parse_day(text: str) -> date | None:
    """``17.05.2030`` (or ``2030-05-17``); None otherwise."""
    text = text.strip()
    try:
        if "-" in text:
            return date.fromisoformat(text)
        day, month, year = (int(p) for p in text.split("."))
        return date(year, month, day)
    except ValueError:
        return None


def parse_clock(text: str) -> time | None:
    """``09:30`` (or ``9.30``); None otherwise."""
    parts = text.strip().replace(".", ":").split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 2 for p in parts):
        return None
    try:
        return time(int(parts[0]), int(parts[1]))
    except ValueError:
        return None


def oslo_start(day: date, clock: time) -> datetime | None:
    """The instant of a wall-clock time in Oslo; None for a time that does not
    exist that day (the hour skipped in March). In the hour that repeats in
    October, the first."""
    local = datetime.combine(day, clock, tzinfo=OSLO)
    instant = local.astimezone(UTC)
    if instant.astimezone(OSLO).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


async def _kinds(db: Database, here: ForPatient, today: date) -> list[AppointmentType]:
    """The county's kinds that suit the patient's age today (self-bookable or not)."""
    async with db.read() as session:
        kinds = (await session.execute(
            select(AppointmentType).where(AppointmentType.county_id == here.clinic.county_id)
            .order_by(AppointmentType.id))).scalars().all()
    return [k for k in kinds if rules.fits_age(k, here.patient.birth_date, today)]


async def _chairs(db: Database, here: ForPatient) -> list[Chair]:
    async with db.read() as session:
        return list((await session.execute(
            select(Chair).where(Chair.clinic_id == here.clinic.id, Chair.active.is_(True))
            .order_by(Chair.name))).scalars())


def _error(refused: BookingRefused) -> str:
    return i18n.translate_reason(refused.reason.value, refused.params)


def _common(here: ForPatient, now: datetime) -> dict[str, Any]:
    return {"patient": here.patient, "clinic": here.clinic, "error": None,
            "error_field": "",
            "age": rules.age_on(here.patient.birth_date, rules.local_date(now)),
            "paths": {"patient": here.base, "book": f"{here.base}/bestill",
                      "issue": f"{here.base}/innkall", "day": f"{here.clinic_base}/dag"}}


# --- book ----------------------------------------------------------------------


async def _book_page(request: Request, here: ForPatient, *, values: dict[str, str],
                     error: str | None = None, error_field: str = "slot",
                     status_code: int = 200) -> Response:
    now = utcnow()
    db = _db(request)
    today = rules.local_date(now)
    kinds = await _kinds(db, here, today)
    kind = next((k for k in kinds if str(k.id) == values.get("type")), None)
    day = parse_day(values.get("day", "")) or today
    chairs = await _chairs(db, here)
    chair_names = {c.id: c.name for c in chairs}
    times = (await picker.staff_times(db, clinic_id=here.clinic.id, kind=kind,
                                      patient=here.patient, day=day, now=now)
             if kind is not None else [])
    i18n.activate(request)
    locale = i18n.get_locale()
    context = {
        **_common(here, now), "kinds": [(k.id, k.name(locale)) for k in kinds],
        "kind": kind, "day": day, "times": times, "chair_names": chair_names,
        "chairs": chairs, "values": values, "error": error, "error_field": error_field,
        "key": values["key"] if _key(values) else secrets.token_urlsafe(16),
    }
    return render(request, "clinic/on_behalf_book.html", context, status_code=status_code,
                  headers={"Cache-Control": "no-store"})


def _values(source: Any) -> dict[str, str]:
    names = ("type", "day", "slot", "reason", "chair", "clock", "overbook", "overbook_reason",
             "key")
    return {n: (str(source.get(n))[:FIELD_LIMIT] if source.get(n) is not None else "")
            for n in names}


def blank_values() -> dict[str, str]:
    """The on-behalf forms' values, all empty (a page shown for another form)."""
    return _values({})


async def book_page(request: Request) -> Response:
    here = await for_patient(request)
    return await _book_page(request, here, values=_values(request.query_params))


async def _done(request: Request, here: ForPatient, outcome: Outcome, what: str) -> Response:
    now = utcnow()
    async with _db(request).read() as session:
        chair = await session.get(Chair, outcome.appointment.chair_id)
        kind = await session.get(AppointmentType, outcome.appointment.appointment_type_id)
    i18n.activate(request)
    return render(request, "clinic/on_behalf_done.html", {
        **_common(here, now), "what": what, "appointment": outcome.appointment,
        "chair": chair, "type_name": kind.name(i18n.get_locale()) if kind else "",
    }, headers={"Cache-Control": "no-store"})


async def book(request: Request) -> Response:
    here = await for_patient(request)
    values = _values(await request.form())
    type_id, slot_id = parse_id(values["type"] or None), parse_id(values["slot"] or None)
    if type_id is None or slot_id is None:
        return await _book_page(request, here, values=values, status_code=400,
                                error=i18n.gettext("Choose a kind of appointment and a time."))
    try:
        outcome = await staff_booking.book_for(
            _db(request), here.staff.actor, patient_id=here.patient.id, slot_id=slot_id,
            appointment_type_id=type_id, reason=values["reason"], clinic_id=here.clinic.id,
            idempotency_key=_key(values),
            guardians=guardians_source(request))
    except BookingRefused as refused:
        return await _book_page(request, here, values=values, error=_error(refused),
                                error_field="reason" if "reason" in refused.reason else "slot",
                                status_code=409)
    return await _done(request, here, outcome, "booked")


async def issue(request: Request) -> Response:
    here = await for_patient(request)
    values = _values(await request.form())
    type_id, chair_id = parse_id(values["type"] or None), parse_id(values["chair"] or None)
    day, clock = parse_day(values["day"]), parse_clock(values["clock"])
    starts_at = oslo_start(day, clock) if day is not None and clock is not None else None
    if type_id is None or chair_id is None or starts_at is None:
        return await _book_page(
            request, here, values=values, status_code=400, error_field="issue-clock",
            error=i18n.gettext("Choose the kind, the chair, the day (day.month.year) and "
                               "a start time that exists that day (hours:minutes)."))
    try:
        outcome = await staff_booking.issue(
            _db(request), here.staff.actor, patient_id=here.patient.id, chair_id=chair_id,
            starts_at=starts_at, appointment_type_id=type_id, reason=values["reason"],
            overbook=values["overbook"] == "yes", overbook_reason=values["overbook_reason"],
            idempotency_key=_key(values),
            guardians=guardians_source(request))
    except BookingRefused as refused:
        field = {"reason_required": "issue-reason",
                 "overbook_reason_required": "overbook_reason"}.get(refused.reason.value,
                                                                    "issue-clock")
        return await _book_page(request, here, values=values, error=_error(refused),
                                error_field=field, status_code=409)
    return await _done(request, here, outcome, "issued")


# --- change and cancel -----------------------------------------------------------


async def change_page_of(request: Request, here: ForPatient, appointment: Appointment, *,
                         values: dict[str, str], error: str | None = None,
                         error_field: str = "slot", status_code: int = 200,
                         wishes: Wishes | None = None, waitlist_reason: str = ""
                         ) -> Response:
    """The appointment's page for staff; ``wishes``/``waitlist_reason``: the
    waitlist form as sent back with a problem (:mod:`.waitlist`)."""
    now = utcnow()
    db = _db(request)
    async with db.read() as session:
        kind = await session.get(AppointmentType, appointment.appointment_type_id)
    assert kind is not None
    day = parse_day(values.get("day", "")) or rules.local_date(appointment.starts_at)
    times = await picker.staff_times(db, clinic_id=here.clinic.id, kind=kind,
                                     patient=here.patient, day=day, now=now,
                                     changing=appointment.id)
    chairs = {c.id: c.name for c in await _chairs(db, here)}
    i18n.activate(request)
    action = f"{here.base}/time/{appointment.id}"
    part = await waitlist_part(db, here.clinic, appointment.id, action, chosen=wishes,
                               reason=waitlist_reason,
                               done=request.query_params.get(DONE_PARAM))
    return render(request, "clinic/on_behalf_change.html", {
        **_common(here, now), "appointment": appointment,
        "type_name": kind.name(i18n.get_locale()), "day": day, "times": times,
        "chair_names": chairs, "values": values, "error": error, "error_field": error_field,
        "open": appointment.status in ACTIVE and appointment.starts_at > now,
        "action": action, "waitlist": part,
        "key": values["key"] if _key(values) else secrets.token_urlsafe(16),
    }, status_code=status_code, headers={"Cache-Control": "no-store"})


async def change_page(request: Request) -> Response:
    here = await for_patient(request)
    appointment = await appointment_of(request, here)
    return await change_page_of(request, here, appointment, values=_values(request.query_params))


async def change(request: Request) -> Response:
    here = await for_patient(request)
    appointment = await appointment_of(request, here)
    values = _values(await request.form())
    slot_id = parse_id(values["slot"] or None)
    if slot_id is None:
        return await change_page_of(request, here, appointment, values=values, status_code=400,
                                  error=i18n.gettext("Choose the new time."))
    try:
        outcome = await staff_booking.change_for(
            _db(request), here.staff.actor, appointment_id=appointment.id, new_slot_id=slot_id,
            reason=values["reason"], guardians=guardians_source(request),
            idempotency_key=_key(values))
    except BookingRefused as refused:
        return await change_page_of(request, here, appointment, values=values,
                                  error=_error(refused), status_code=409,
                                  error_field="reason" if "reason" in refused.reason
                                  else "slot")
    return await _done(request, here, outcome, "changed")


async def cancel(request: Request) -> Response:
    here = await for_patient(request)
    appointment = await appointment_of(request, here)
    values = _values(await request.form())
    try:
        outcome = await staff_booking.cancel_for(
            _db(request), here.staff.actor, appointment_id=appointment.id,
            reason=values["reason"], guardians=guardians_source(request))
    except BookingRefused as refused:
        return await change_page_of(request, here, appointment, values=values,
                                  error=_error(refused), status_code=409,
                                  error_field="cancel-reason")
    return await _done(request, here, outcome, "cancelled")


def routes() -> list[BaseRoute]:
    patient = f"{BASE}/{{slug}}/pasient/{{token}}"
    appointment = f"{patient}/time/{{appointment_id}}"
    return [
        Route(f"{patient}/bestill", book_page, name="clinic_on_behalf_book_page"),
        Route(f"{patient}/bestill", book, methods=["POST"], name="clinic_on_behalf_book"),
        Route(f"{patient}/innkall", issue, methods=["POST"], name="clinic_on_behalf_issue"),
        Route(appointment, change_page, name="clinic_on_behalf_change_page"),
        Route(f"{appointment}/endre", change, methods=["POST"],
              name="clinic_on_behalf_change"),
        Route(f"{appointment}/avbestill", cancel, methods=["POST"],
              name="clinic_on_behalf_cancel"),
    ]

