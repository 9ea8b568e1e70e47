"""The waitlist's parts of the patient pages: the wishes form on the
appointment page (``waitlist_context``), its notices, and what Min side shows
(``min_side_context``: waiting entries and open offers with their links).
The routes that change things are in ``web.views.refill``. The form's
choices (``wishes_choices``) and reading it (``parse_wishes``) serve the
clinic console's waitlist form too (``web.views.clinic.waitlist``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import bindparam, exists, select
from starlette.datastructures import FormData
from starlette.requests import Request

from booking import callbacks, refill, waitlist
from booking.models import Appointment, Clinic
from booking.reasons import Reason
from booking.refill_models import WaitlistEntry
from booking.service import BookingRefused
from booking.statuses import ActorKind
from booking.waitlist import Wishes
from core.db import Database
from core.settings import Settings
from notifications.refill_texts import offer_url
from notifications.templates import link_key
from web import i18n
from web.acting import Acting
from web.views.patient.presenting import Notice, upcoming_condition

WAITING_FLAG: Final = "venteliste"
WITHDRAWN_FLAG: Final = "venteliste_trukket"
#: The notice one may ask for, in hours (the form's choices).
NOTICE_CHOICES: Final = (2, 24, 48, 72, 168)
#: Start times one may choose as the earliest or latest (Oslo).
TIME_CHOICES: Final = tuple(time(hour, 0) for hour in range(7, 18))
#: At most this many other clinics are offered on the form (same municipality).
NEARBY_LIMIT: Final = 8


# --- the wishes form (the patient's and the clinic's) ----------------------------

def _ints(values: list[str], allowed: range | None = None) -> set[int] | None:
    found: set[int] = set()
    for value in values:
        if not value.strip().isdigit():
            return None
        number = int(value)
        if allowed is not None and number not in allowed:
            return None
        found.add(number)
    return found


def _time(value: str) -> time | bool | None:
    """A chosen time, None for none, False for something that is not one."""
    if not value:
        return None
    for choice in TIME_CHOICES:
        if value == choice.strftime("%H:%M"):
            return choice
    return False


def parse_wishes(form: FormData) -> Wishes:
    """The wishes a waitlist form names (``clinic``, ``weekday``, ``earliest``,
    ``latest``, ``notice``); refused (``waitlist_bad_wishes``) for anything the
    form does not offer. The service checks the rest (the clinics)."""
    clinics = _ints([str(v) for v in form.getlist("clinic")])
    weekdays = _ints([str(v) for v in form.getlist("weekday")], range(7))
    earliest, latest = _time(str(form.get("earliest", ""))), _time(str(form.get("latest", "")))
    notice = _ints([str(form.get("notice", ""))])
    if (clinics is None or weekdays is None or isinstance(earliest, bool)
            or isinstance(latest, bool) or not notice or len(notice) != 1
            or next(iter(notice)) not in NOTICE_CHOICES):
        raise BookingRefused(Reason.WAITLIST_BAD_WISHES)
    return Wishes(frozenset(clinics), frozenset(weekdays), earliest, latest,
                  next(iter(notice)))


async def wishes_choices(db: Database, clinic: Clinic, entry: WaitlistEntry | None,
                         chosen: Wishes | None = None) -> dict[str, Any]:
    """The form's choices for an appointment at ``clinic``, as ``chosen`` (a
    form sent back with a problem) or ``entry`` (if any) chose them: the clinic
    and others nearby, weekdays, times, notice."""
    async with db.read() as session:
        nearby = list((await session.execute(
            select(Clinic).where(Clinic.county_id == clinic.county_id,
                                 Clinic.municipality_code == clinic.municipality_code,
                                 Clinic.active.is_(True), Clinic.id != clinic.id)
            .order_by(Clinic.name).limit(NEARBY_LIMIT))).scalars())
    if chosen is None and entry is not None:
        chosen = Wishes(frozenset(entry.clinic_ids), frozenset(entry.weekdays),
                        entry.earliest_time, entry.latest_time, entry.notice_hours)
    chosen = chosen or Wishes(frozenset({clinic.id}))
    return {
        "entry": entry, "chosen": chosen,
        "clinics": [(c, c.id in chosen.clinic_ids) for c in [clinic, *nearby]],
        "weekdays": [(day, name, day in chosen.weekdays)
                     for day, name in enumerate(i18n.weekday_names())],
        "times": TIME_CHOICES,
        "notice_choices": NOTICE_CHOICES,
        "notice": chosen.notice_hours,
    }


# --- the waitlist on the appointment page -------------------------------------

async def waitlist_context(db: Database, who: Acting, appointment: Appointment
                           ) -> dict[str, Any]:
    """What the appointment page's waitlist part shows: the entry waiting
    (if any), whether the clinic put the patient on it, and the form's choices."""
    entry = await waitlist.entry_for_appointment(db, appointment.id)
    return {
        **await wishes_choices(db, appointment.clinic, entry),
        "by_clinic": bool(entry and entry.created_by_kind == ActorKind.STAFF.value),
        "action": who.link(f"/timer/{appointment.id}/venteliste"),
        "withdraw_action": who.link(f"/timer/{appointment.id}/venteliste/trekk"),
    }


def waitlist_notice(request: Request) -> Notice | None:
    if request.query_params.get(WAITING_FLAG):
        return Notice("success", i18n.gettext(
            "You are on the waitlist. If an earlier time that suits you is freed, you get a "
            "text message and see it on My page. You keep this time until you take another."))
    if request.query_params.get(WITHDRAWN_FLAG):
        return Notice("success", i18n.gettext("You are no longer waiting for an earlier time."))
    return None


@dataclass(frozen=True)
class Found:
    """Which of Min side's lists have anything in them (:func:`min_side_found`)."""

    upcoming: bool
    waiting: bool
    offers: bool
    callbacks: bool


#: Are there upcoming appointments, waiting entries, open offers, calls asked
#: for? One statement, built once.
_ANY_OF_EACH: Final = select(
    exists().where(upcoming_condition(bindparam("patient_ids", expanding=True),
                                      bindparam("now"))),
    exists().where(waitlist.waiting_of(bindparam("patient_ids", expanding=True))),
    exists().where(refill.open_offer_of(bindparam("patient_ids", expanding=True),
                                        bindparam("now"))),
    exists().where(callbacks.my_request_of(bindparam("requested_by_id"),
                                           bindparam("done_since"))))


async def min_side_found(db: Database, who: Acting, now: datetime) -> Found:
    """Most people have none of Min side's lists, or only appointments: one
    statement asks whether each has anything, and only those that do are read."""
    async with db.read() as session:
        row = (await session.execute(_ANY_OF_EACH, {
            "patient_ids": [p.patient_id for p in who.people], "now": now,
            "requested_by_id": who.me.id,
            "done_since": now - timedelta(days=callbacks.MY_REQUESTS_DAYS)})).one()
    return Found(*(bool(value) for value in row))


async def min_side_context(request: Request, who: Acting, found: Found, now: datetime
                           ) -> dict[str, Any]:
    """The waiting entries and open offers of the people the user acts for,
    and the calls the user asked for, where ``found`` says there are any."""
    db: Database = request.app.state.db
    settings: Settings = request.app.state.settings
    ids = [p.patient_id for p in who.people]
    names = {p.patient_id: (None if p.is_me else p.given_name) for p in who.people}
    entries = await waitlist.waiting_for(db, ids) if found.waiting else []
    starts: dict[int, Any] = {}
    if entries:
        async with db.read() as session:
            starts = {row.id: row.starts_at for row in await session.execute(
                select(Appointment.id, Appointment.starts_at).where(
                    Appointment.id.in_([e.appointment_id for e in entries])))}
    offers = []
    open_offers = await refill.open_offers_for(db, ids, now) if found.offers else []
    if open_offers:
        async with db.read() as session:
            clinic_names = {row.id: row.name for row in await session.execute(
                select(Clinic.id, Clinic.name).where(
                    Clinic.id.in_({slot.clinic_id for _offer, slot in open_offers})))}
    for offer, slot in open_offers:
        offers.append({"name": names.get(offer.patient_id), "starts_at": slot.starts_at,
                       "clinic": clinic_names.get(slot.clinic_id, ""),
                       "expires_at": offer.expires_at,
                       "href": offer_url(settings.public_url, link_key(settings.secret_key),
                                         offer.id, who.me.id)})
    return {"waiting": [{"name": names.get(e.patient_id),
                         "starts_at": starts.get(e.appointment_id),
                         "href": f"/timer/{e.appointment_id}"
                         + ("" if names.get(e.patient_id) is None
                            else f"?for={e.patient_id}")} for e in entries],
            "offers": offers,
            "callbacks": (await callbacks.my_requests(db, who.me.id, now)
                          if found.callbacks else [])}
