"""Booking and changing a time from the patient pages.

Booking is a wizard of plain GET pages whose state lives in the address
(``for`` = internal patient id or ``me``, ``type`` = appointment type id,
``clinic`` = clinic slug, ``day`` = YYYY-MM-DD; never an identity number):

1. ``GET /bestill``: who (skipped when the user acts for nobody else), what,
   where, when — each a list of links or a GET form; the day of the slot
   picker swaps in place with htmx (block ``day``) and reloads without it.
2. ``POST /bestill/velg``: holds the chosen slot and redirects to
3. ``GET /bestill/bekreft``: the summary, with the hold key and a fresh
   idempotency key in hidden fields, and a confirm button that posts to
4. ``POST /bestill/bekreft``: books (once, however often it is sent) and
   redirects to
5. ``GET /timer/{id}/kvittering``: the receipt.

Changing: ``GET /timer/{id}/endre`` shows the picker for the same clinic and
kind; ``POST`` holds the new slot and calls ``service.change``, which
releases the old time only once the new one is claimed.

The hold key is an HMAC of the login session's (random, server-side) key, the
patient and the slot: a reload or a second tab of the same session holds the
same slot again instead of tripping over its own hold, nobody else's session
can produce or use it, and the value in the confirm form is checked against
it. Who may be booked for is decided by :mod:`web.acting` (404 and an audit
entry otherwise); what may be booked by :mod:`booking.rules`, asked before
holding for a precise message and again by the service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from booking import directory, rules, service
from booking.directory import ClinicListing
from booking.models import Appointment, AppointmentType, Clinic, Patient, Slot
from booking.models import schedule_template_types as template_types
from booking.reasons import N_, Reason
from booking.representation import Access
from booking.search import FreeSlot, free_slots
from booking.statuses import ACTIVE, SlotStatus
from core.db import Database, utcnow
from web import i18n
from web.acting import ME, Acting, acting, parse_id
from web.htmx import page_or_fragment
from web.templating import render
from web.views.clinics import phone_link
from web.views.patient.loading import acting_for_appointment

BOOK: Final = "/bestill"
CHOOSE: Final = "/bestill/velg"
CONFIRM: Final = "/bestill/bekreft"
NO_STORE: Final = {"Cache-Control": "no-store"}
#: The element the day links target, and the block that fills it.
DAY_FRAGMENTS: Final = {"day": "day"}
#: Any query or form value longer than this is refused unread.
MAX_VALUE: Final = 100
MAX_BODY: Final = 4096
NEAREST: Final = 5
#: How far either side of a taken time to look for the nearest free ones.
NEAREST_WINDOW: Final = timedelta(days=7)
_SLUG: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,119}")
_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_KEY: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")

FORM_CHANGED: Final = N_("This time is no longer kept for you. Please choose a time again.")
HOLD_EXPIRED: Final = N_(
    "We kept this time for you for a while, but that has run out. Please choose a time again.")
NO_SUCH_CLINIC: Final = N_("We could not find that clinic. Please choose again.")
NOT_AT_CLINIC: Final = N_(
    "This clinic does not offer this kind of appointment online. Please choose another clinic.")
CHOOSE_TIME: Final = N_("Choose a time.")
NOTHING_CHANGED: Final = N_("Nothing was changed.")


class BadInput(HTTPException):
    """A malformed or over-long value: only a tampered address or form sends one."""

    def __init__(self) -> None:
        super().__init__(400)


# --- reading the input ------------------------------------------------------

def _value(source: Mapping[str, Any], name: str) -> str | None:
    raw = source.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_VALUE:
        raise BadInput()
    return raw


def _id(source: Mapping[str, Any], name: str) -> int | None:
    raw = _value(source, name)
    if raw is None:
        return None
    parsed = parse_id(raw)
    if parsed is None or parsed == 0:
        raise BadInput()
    return parsed


def _day(source: Mapping[str, Any]) -> date | None:
    raw = _value(source, "day")
    if raw is None:
        return None
    if not _DAY.fullmatch(raw):
        raise BadInput()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadInput() from None


def _slug(source: Mapping[str, Any]) -> str | None:
    raw = _value(source, "clinic")
    if raw is not None and not _SLUG.fullmatch(raw):
        raise BadInput()
    return raw


def _subject(source: Mapping[str, Any]) -> tuple[bool, int | None]:
    """(chosen, id) from ``for``: (False, None) when nobody was chosen yet,
    (True, None) for "me"."""
    raw = _value(source, "for")
    if raw is None:
        return False, None
    if raw == ME:
        return True, None
    return True, _id(source, "for")


def _checked_query(request: Request) -> Mapping[str, str]:
    """The query parameters, refused whole when any is over-long or repeated
    too often (only a hand-made address has such)."""
    params = request.query_params
    if len(params.multi_items()) > 20 or any(len(v) > MAX_VALUE for v in params.values()):
        raise BadInput()
    _day(params)
    return params


async def _form(request: Request) -> FormData:
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > MAX_BODY):
        raise BadInput()
    form = await request.form()
    if len(form) > 20 or any(not isinstance(v, str) for v in form.values()):
        raise BadInput()
    return form


# --- what may be booked -----------------------------------------------------

def type_refusal(kind: AppointmentType, birth_date: date, day: date) -> Reason | None:
    """Why this person may not self-book this kind on ``day`` (booking.rules)."""
    return rules.may_self_book_type(kind, birth_date, day).reason


async def _home_county(db: Database, patient: Patient) -> int | None:
    if not patient.municipality_code:
        return None
    async with db.read() as session:
        found: int | None = (await session.execute(
            select(Clinic.county_id).where(Clinic.municipality_code == patient.municipality_code,
                                           Clinic.active.is_(True)).limit(1)
        )).scalar_one_or_none()
    return found


async def offered_types(db: Database, patient: Patient, today: date) -> list[AppointmentType]:
    """Kinds of appointment the person may book online: those of the county
    they live in; when that is unknown, every county's, one per code."""
    county_id = await _home_county(db, patient)
    query = select(AppointmentType).where(AppointmentType.self_bookable.is_(True))
    if county_id is not None:
        query = query.where(AppointmentType.county_id == county_id)
    async with db.read() as session:
        kinds = (await session.execute(query.order_by(AppointmentType.id))).scalars().all()
    offered: dict[str, AppointmentType] = {}
    for kind in kinds:
        if rules.self_bookable_within_horizon(kind, patient.birth_date, today):
            offered.setdefault(kind.code, kind)
    return list(offered.values())


async def _kind(db: Database, type_id: int) -> AppointmentType | None:
    async with db.read() as session:
        return await session.get(AppointmentType, type_id)


async def _kind_at(db: Database, kind: AppointmentType, clinic: Clinic) -> AppointmentType | None:
    """The same kind of appointment as the clinic's county defines it."""
    if kind.county_id == clinic.county_id:
        return kind
    async with db.read() as session:
        found: AppointmentType | None = (await session.execute(
            select(AppointmentType).where(AppointmentType.county_id == clinic.county_id,
                                          AppointmentType.code == kind.code)
        )).scalar_one_or_none()
    return found if found is not None and found.self_bookable else None


# --- the slot picker --------------------------------------------------------

def _bounds(day: date) -> tuple[datetime, datetime]:
    """The Europe/Oslo day as UTC instants (23 or 25 hours on DST days)."""
    start = datetime.combine(day, time(0), tzinfo=i18n.OSLO).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=i18n.OSLO).astimezone(UTC)
    return start, end


def _noon(day: date) -> datetime:
    """A moment inside ``day`` for the date filters of the templates."""
    return datetime.combine(day, time(12), tzinfo=i18n.OSLO)


def _distinct_times(slots: Sequence[FreeSlot]) -> list[FreeSlot]:
    """One choice per start time (the chair is the clinic's business)."""
    seen: dict[datetime, FreeSlot] = {}
    for slot in slots:
        seen.setdefault(slot.starts_at, slot)
    return list(seen.values())


@dataclass(frozen=True)
class DayLink:
    href: str
    day: datetime


@dataclass(frozen=True)
class Picker:
    """One day of free times and the ways to other days."""

    day: datetime
    iso_day: str
    times: list[FreeSlot]
    summary: str
    previous: DayLink | None
    next: DayLink | None
    first_free: DayLink | None
    #: When this day has no free times: the next day that has.
    next_free: DayLink | None
    age_refused: str | None


@dataclass(frozen=True)
class Search:
    """What the picker shows free times of."""

    clinic: Clinic
    kind: AppointmentType
    patient: Patient
    today: date
    href: Callable[[date], str]

    @property
    def last_day(self) -> date:
        return self.today + timedelta(days=self.kind.booking_horizon_days)

    def fits(self, slot: FreeSlot) -> bool:
        day = rules.local_date(slot.starts_at)
        return type_refusal(self.kind, self.patient.birth_date, day) is None

    async def slots(self, db: Database, start: datetime | None = None,
                    end: datetime | None = None, limit: int = 200) -> list[FreeSlot]:
        found = await free_slots(db, clinic_id=self.clinic.id,
                                 appointment_type_id=self.kind.id, start=start, end=end,
                                 limit=limit)
        return [slot for slot in found if self.fits(slot)]

    def link(self, moment: datetime) -> DayLink:
        day = rules.local_date(moment)
        return DayLink(self.href(day), _noon(day))


async def picker(db: Database, search: Search, wanted: date | None) -> Picker:
    first = await search.slots(db, limit=1)
    first_day = rules.local_date(first[0].starts_at) if first else None
    day = wanted or first_day or search.today
    day = min(max(day, search.today), search.last_day)
    start, end = _bounds(day)
    times = _distinct_times(await search.slots(db, start, end))
    next_free = None
    if not times:
        later = await search.slots(db, start=end, limit=1)
        next_free = search.link(later[0].starts_at) if later else None
    refused = type_refusal(search.kind, search.patient.birth_date, day)
    noon = _noon(day)
    summary = i18n.ngettext("%(day)s, %(num)d free time", "%(day)s, %(num)d free times",
                            len(times)) % {"day": i18n.format_day(noon), "num": len(times)}
    previous = day - timedelta(days=1)
    following = day + timedelta(days=1)
    return Picker(
        day=noon, iso_day=day.isoformat(), times=times, summary=summary,
        previous=DayLink(search.href(previous), _noon(previous))
        if previous >= search.today else None,
        next=DayLink(search.href(following), _noon(following))
        if following <= search.last_day else None,
        first_free=DayLink(search.href(first_day), _noon(first_day))
        if first_day is not None and first_day != day else None,
        next_free=next_free,
        age_refused=i18n.translate_reason(refused) if refused and refused is not
        Reason.TYPE_NOT_SELF_BOOKABLE else None,
    )


async def nearest(db: Database, search: Search, around: datetime,
                  exclude: int | None = None) -> list[FreeSlot]:
    """The free times closest to ``around`` (before or after), in time order."""
    found = _distinct_times([s for s in await search.slots(
        db, around - NEAREST_WINDOW, around + NEAREST_WINDOW, limit=500)
        if s.slot_id != exclude])
    found.sort(key=lambda s: abs(s.starts_at - around))
    return sorted(found[:NEAREST], key=lambda s: s.starts_at)


# --- holding ---------------------------------------------------------------

def hold_key(secret: str, session_key: str, patient_id: int, slot_id: int) -> str:
    """The hold key of this login session for this patient and slot."""
    key = hmac.new(secret.encode(), b"tanntid: booking holds", hashlib.sha256).digest()
    mac = hmac.new(key, f"{session_key}\n{patient_id}\n{slot_id}".encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode("ascii")


def _hold_key(request: Request, who: Acting, slot_id: int) -> str:
    return hold_key(request.app.state.settings.secret_key, who.principal.session.key_hash,
                    who.subject.id, slot_id)


async def _load_slot(db: Database, slot_id: int) -> tuple[Slot | None, set[int]]:
    async with db.read() as session:
        slot = (await session.execute(
            select(Slot).options(selectinload(Slot.clinic)).where(Slot.id == slot_id)
        )).scalar_one_or_none()
        if slot is None or slot.template_id is None:
            return slot, set()
        kinds = set((await session.execute(
            select(template_types.c.appointment_type_id)
            .where(template_types.c.template_id == slot.template_id))).scalars())
    return slot, kinds


async def _upcoming(db: Database, patient_id: int, now: datetime) -> list[Appointment]:
    async with db.read() as session:
        return list((await session.execute(
            select(Appointment).where(Appointment.patient_id == patient_id,
                                      Appointment.status.in_([s.value for s in ACTIVE]),
                                      Appointment.ends_at > now))).scalars())


@dataclass(frozen=True)
class Held:
    slot_id: int
    key: str


@dataclass(frozen=True)
class NotHeld:
    reason: Reason
    params: Mapping[str, int]
    #: The time asked for, to look for the nearest free ones.
    starts_at: datetime | None


async def hold_slot(request: Request, who: Acting, search: Search, slot_id: int, *,
                    ignore_appointment_id: int | None = None) -> Held | NotHeld:
    """Hold ``slot_id``, or another free slot at the same time of the same
    clinic and kind, for the subject; or why not (``booking.rules``)."""
    db: Database = request.app.state.db
    now = utcnow()
    slot, kinds = await _load_slot(db, slot_id)
    if slot is None:
        return NotHeld(Reason.UNKNOWN_SLOT, {}, None)
    if slot.clinic_id != search.clinic.id:
        return NotHeld(Reason.WRONG_CLINIC, {}, None)
    key = _hold_key(request, who, slot.id)
    decision = rules.may_book(who.actor, who.subject, search.kind, slot, kinds, now,
                              await _upcoming(db, who.subject.id, now), hold_key=key,
                              ignore_appointment_id=ignore_appointment_id)
    if not decision and decision.reason is not Reason.SLOT_TAKEN:
        assert decision.reason is not None
        return NotHeld(decision.reason, decision.params, slot.starts_at)
    candidates = [slot.id] if decision else []
    candidates += [s.slot_id for s in await search.slots(
        db, slot.starts_at, slot.starts_at + timedelta(seconds=1), limit=20)
        if s.slot_id != slot.id]
    for candidate in candidates:
        key = _hold_key(request, who, candidate)
        if await service.hold(db, slot_id=candidate, hold_key=key, now=now):
            return Held(candidate, key)
    return NotHeld(Reason.SLOT_TAKEN, {}, slot.starts_at)


async def _held_by(db: Database, slot_id: int, key: str) -> Slot | None:
    """The slot if ``key`` holds it now."""
    async with db.read() as session:
        slot = await session.get(Slot, slot_id)
    if (slot is None or slot.status != SlotStatus.HELD or slot.hold_key is None
            or not hmac.compare_digest(slot.hold_key, key)
            or slot.held_until is None or slot.held_until <= utcnow()):
        return None
    return slot


async def _booked_for(db: Database, patient_id: int, slot_id: int) -> int | None:
    """The live appointment of ``patient_id`` in ``slot_id`` (a second tab)."""
    async with db.read() as session:
        found: int | None = (await session.execute(
            select(Appointment.id).where(
                Appointment.patient_id == patient_id, Appointment.slot_id == slot_id,
                Appointment.status.in_([s.value for s in ACTIVE]))
        )).scalar_one_or_none()
    return found


async def _by_key(db: Database, key: str, patient_id: int) -> int | None:
    """The appointment an earlier submit of the same form made."""
    async with db.read() as session:
        found: int | None = (await session.execute(
            select(Appointment.id).where(Appointment.idempotency_key == key,
                                         Appointment.patient_id == patient_id)
        )).scalar_one_or_none()
    return found


def _new_key() -> str:
    return secrets.token_urlsafe(24)


def _receipt(appointment_id: int) -> Response:
    return RedirectResponse(f"/timer/{appointment_id}/kvittering", status_code=303,
                            headers=NO_STORE)


# --- the wizard -------------------------------------------------------------

@dataclass(frozen=True)
class Wizard:
    """The choices made so far, as they travel in the address."""

    for_value: str
    type_id: int | None = None
    clinic: str | None = None

    def url(self, path: str = BOOK, **extra: str | int | None) -> str:
        query: dict[str, str | int] = {"for": self.for_value}
        if self.type_id is not None:
            query["type"] = self.type_id
        if self.clinic is not None:
            query["clinic"] = self.clinic
        query.update({k: v for k, v in extra.items() if v is not None})
        return f"{path}?{urlencode(query)}"

    def day_url(self, day: date) -> str:
        return self.url(day=day.isoformat())


def _for_value(who: Acting) -> str:
    return str(who.subject.id) if who.for_child else ME


def _render(request: Request, name: str, context: dict[str, Any], *,
            status_code: int = 200) -> Response:
    response = render(request, name, context, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


def _base(who: Acting, wizard: Wizard, problem: str | None = None) -> dict[str, Any]:
    return {"acting": who, "wizard": wizard, "problem": problem}


async def _who_page(request: Request, who: Acting) -> Response:
    people = [(p, Wizard(ME if p.is_me else str(p.patient_id)).url()) for p in who.people]
    unavailable = [(u.given_name, i18n.translate(u.reason_text)) for u in who.unavailable]
    return _render(request, "booking/who.html",
                   {"acting": who, "people": people, "unavailable": unavailable})


async def _what_page(request: Request, who: Acting, wizard: Wizard,
                     problem: str | None = None, status_code: int = 200) -> Response:
    db: Database = request.app.state.db
    kinds = await offered_types(db, who.subject, who.today)
    locale = i18n.get_locale()
    choices = [(kind.name(locale), kind.duration_minutes,
                Wizard(wizard.for_value, kind.id).url()) for kind in kinds]
    return _render(request, "booking/what.html", {
        **_base(who, wizard, problem), "choices": choices,
        "back": BOOK if len(who.people) > 1 else None,
    }, status_code=status_code)


async def _where_page(request: Request, who: Acting, wizard: Wizard, kind: AppointmentType,
                      problem: str | None = None, status_code: int = 200) -> Response:
    db: Database = request.app.state.db
    words = (_value(_checked_query(request), "sok") or "").strip()
    local: list[ClinicListing] = []
    code = who.subject.municipality_code
    if code and code.isdigit():
        local = (await directory.search_clinics(db, municipality=code)).clinics
    seen = {c.slug for c in local}
    county = [c for c in (await directory.search_clinics(db, county_id=kind.county_id)).clinics
              if c.slug not in seen]
    found: list[ClinicListing] | None = None
    if words:
        by_name = await directory.search_clinics(db, name=words)
        by_place = await directory.search_clinics(db, municipality=words)
        merged = {c.slug: c for c in [*by_name.clinics, *by_place.clinics]}
        found = sorted(merged.values(), key=lambda c: (c.name, c.slug))
    return _render(request, "booking/where.html", {
        **_base(who, wizard, problem), "kind_name": kind.name(i18n.get_locale()),
        "local": local, "county": county, "found": found, "words": words,
        "municipality": local[0].municipality_name if local else None,
        "county_name": county[0].county_name if county else None,
        "back": Wizard(wizard.for_value).url(),
    }, status_code=status_code)


def _picker_page(request: Request, context: dict[str, Any], status_code: int = 200
                 ) -> Response:
    response = page_or_fragment(request, "booking/when.html", context,
                                fragments=DAY_FRAGMENTS, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


async def _when_page(request: Request, who: Acting, wizard: Wizard, search: Search,
                     day: date | None, *, problem: str | None = None,
                     near: Sequence[FreeSlot] = (), slot_error: bool = False,
                     status_code: int = 200) -> Response:
    db: Database = request.app.state.db
    return _picker_page(request, {
        **_base(who, wizard, problem), "change": None, "search": search,
        "picker": await picker(db, search, day), "nearest": list(near),
        "slot_error": slot_error, "action": CHOOSE,
        "hidden": {"for": wizard.for_value, "type": search.kind.id, "clinic": search.clinic.slug},
        "back": Wizard(wizard.for_value, search.kind.id).url(),
    }, status_code)


@dataclass(frozen=True)
class Step:
    """Where a request is in the wizard: a page to show, or everything the
    later steps need."""

    page: Response | None = None
    who: Acting | None = None
    wizard: Wizard | None = None
    search: Search | None = None


async def _walk(request: Request, source: Mapping[str, Any], *, require_all: bool = False
                ) -> Step:
    """Follow the choices in ``source`` as far as they are valid: the step to
    show (with a message when a choice was refused), or all of them."""
    db: Database = request.app.state.db
    chosen, subject_id = _subject(source)
    type_id = _id(source, "type")
    slug = _slug(source)
    who = await acting(request, subject_id) if chosen else await acting(request)
    if not chosen and len(who.people) > 1:
        if require_all:
            raise BadInput()
        return Step(await _who_page(request, who))
    wizard = Wizard(_for_value(who))
    problem_status = 400 if require_all else 200
    if type_id is None:
        if require_all:
            raise BadInput()
        return Step(await _what_page(request, who, wizard))
    kind = await _kind(db, type_id)
    if kind is None:
        return Step(await _what_page(request, who, wizard, i18n.translate_reason(
            Reason.UNKNOWN_TYPE), problem_status))
    within = rules.self_bookable_within_horizon(kind, who.subject.birth_date, who.today)
    refused = (Reason.TYPE_NOT_SELF_BOOKABLE if not kind.self_bookable
               else None if within else Reason.AGE_NOT_ALLOWED)
    if refused is not None:
        return Step(await _what_page(request, who, wizard, i18n.translate_reason(refused),
                                     problem_status))
    wizard = Wizard(wizard.for_value, kind.id)
    if slug is None:
        if require_all:
            raise BadInput()
        return Step(await _where_page(request, who, wizard, kind))
    clinic = await directory.clinic_by_slug(db, slug)
    local_kind = await _kind_at(db, kind, clinic) if clinic is not None else None
    if clinic is None or local_kind is None:
        text = NO_SUCH_CLINIC if clinic is None else NOT_AT_CLINIC
        return Step(await _where_page(request, who, wizard, kind, i18n.gettext(text),
                                      problem_status))
    if local_kind.id != kind.id:  # the same kind as the clinic's county defines it
        if require_all:
            raise BadInput()
        moved = Wizard(wizard.for_value, local_kind.id, clinic.slug)
        return Step(RedirectResponse(moved.url(day=_value(source, "day")), status_code=303))
    wizard = Wizard(wizard.for_value, kind.id, clinic.slug)
    search = Search(clinic, kind, who.subject, who.today, wizard.day_url)
    return Step(who=who, wizard=wizard, search=search)


async def start(request: Request) -> Response:
    """``GET /bestill``: the step the address has come to."""
    i18n.activate(request)
    query = _checked_query(request)
    step = await _walk(request, query)
    if step.page is not None:
        return step.page
    assert step.who and step.wizard and step.search
    return await _when_page(request, step.who, step.wizard, step.search, _day(query))


@dataclass(frozen=True)
class Explained:
    """A refused time as the picker shows it: why, which day, what instead."""

    text: str
    day: date | None
    near: list[FreeSlot]


async def explain(db: Database, search: Search, refusal: NotHeld, slot_id: int) -> Explained:
    """The reason in words, the day of the time asked for, and when it was
    taken, the nearest free times."""
    near: list[FreeSlot] = []
    day = None
    if refusal.starts_at is not None:
        day = rules.local_date(refusal.starts_at)
        if refusal.reason is Reason.SLOT_TAKEN:
            near = await nearest(db, search, refusal.starts_at, slot_id)
    return Explained(i18n.translate_reason(refusal.reason, refusal.params), day, near)


async def _refused_time(request: Request, step: Step, refusal: NotHeld, slot_id: int
                        ) -> Response:
    """The picker again with why, and the nearest free times when it was taken."""
    assert step.who and step.wizard and step.search
    why = await explain(request.app.state.db, step.search, refusal, slot_id)
    return await _when_page(request, step.who, step.wizard, step.search, why.day,
                            problem=why.text, near=why.near, status_code=409)


async def choose(request: Request) -> Response:
    """``POST /bestill/velg``: hold the chosen time, then show the summary."""
    i18n.activate(request)
    form = await _form(request)
    step = await _walk(request, form, require_all=True)
    if step.page is not None:
        return step.page
    assert step.who and step.wizard and step.search
    slot_id = _id(form, "slot")
    if slot_id is None:
        return await _when_page(request, step.who, step.wizard, step.search, _day(form),
                                problem=i18n.gettext(CHOOSE_TIME), slot_error=True,
                                status_code=400)
    held = await hold_slot(request, step.who, step.search, slot_id)
    if isinstance(held, NotHeld):
        return await _refused_time(request, step, held, slot_id)
    return RedirectResponse(step.wizard.url(CONFIRM, slot=held.slot_id), status_code=303,
                            headers=NO_STORE)


async def _summary_page(request: Request, step: Step, slot: Slot, key: str) -> Response:
    assert step.who and step.wizard and step.search
    assert slot.held_until is not None
    return _render(request, "booking/confirm.html", {
        **_base(step.who, step.wizard), "search": step.search,
        "kind_name": step.search.kind.name(i18n.get_locale()),
        "starts_at": slot.starts_at, "held_until": slot.held_until,
        "ends_at": slot.starts_at + timedelta(minutes=step.search.kind.duration_minutes),
        "hidden": {"for": step.wizard.for_value, "type": step.search.kind.id,
                   "clinic": step.search.clinic.slug, "slot": slot.id, "hold": key,
                   "key": _new_key()},
        "back": step.wizard.day_url(rules.local_date(slot.starts_at)),
    })


async def summary(request: Request) -> Response:
    """``GET /bestill/bekreft``: what is about to be booked, while it is held."""
    i18n.activate(request)
    query = _checked_query(request)
    step = await _walk(request, query, require_all=True)
    if step.page is not None:
        return step.page
    assert step.who and step.wizard and step.search
    db: Database = request.app.state.db
    slot_id = _id(query, "slot")
    if slot_id is None:
        raise BadInput()
    key = _hold_key(request, step.who, slot_id)
    slot = await _held_by(db, slot_id, key)
    if slot is not None and slot.clinic_id == step.search.clinic.id:
        return await _summary_page(request, step, slot, key)
    booked = await _booked_for(db, step.who.subject.id, slot_id)
    if booked is not None:  # back to a summary whose booking is done
        return _receipt(booked)
    found, _ = await _load_slot(db, slot_id)
    starts_at = found.starts_at if found is not None else None
    if found is not None and found.clinic_id == step.search.clinic.id and (
            found.status == SlotStatus.FREE or (found.status == SlotStatus.HELD
                                                and found.hold_key == key)):
        return await _when_page(request, step.who, step.wizard, step.search,
                                rules.local_date(found.starts_at),
                                problem=i18n.gettext(HOLD_EXPIRED))
    return await _refused_time(request, step, NotHeld(Reason.SLOT_TAKEN, {}, starts_at),
                               slot_id)


async def confirm(request: Request) -> Response:
    """``POST /bestill/bekreft``: book the held time, once."""
    i18n.activate(request)
    form = await _form(request)
    step = await _walk(request, form, require_all=True)
    if step.page is not None:
        return step.page
    assert step.who and step.wizard and step.search
    db: Database = request.app.state.db
    slot_id = _id(form, "slot")
    given_hold = _value(form, "hold")
    idempotency_key = _value(form, "key")
    if slot_id is None or given_hold is None or idempotency_key is None \
            or not _KEY.fullmatch(idempotency_key):
        raise BadInput()
    key = _hold_key(request, step.who, slot_id)
    if not hmac.compare_digest(given_hold.encode(), key.encode()):
        return await _when_page(request, step.who, step.wizard, step.search, None,
                                problem=i18n.gettext(FORM_CHANGED), status_code=400)
    try:
        outcome = await service.book(
            db, step.who.actor, patient_id=step.who.subject.id, slot_id=slot_id,
            appointment_type_id=step.search.kind.id, idempotency_key=idempotency_key,
            clinic_id=step.search.clinic.id, hold_key=key)
    except service.BookingRefused as refused:
        if refused.reason is Reason.SLOT_TAKEN:
            booked = await _booked_for(db, step.who.subject.id, slot_id)
            if booked is not None:
                return _receipt(booked)
        found, _ = await _load_slot(db, slot_id)
        starts_at = found.starts_at if found and found.clinic_id == step.search.clinic.id \
            else None
        return await _refused_time(request, step, NotHeld(refused.reason, refused.params,
                                                          starts_at), slot_id)
    return _receipt(outcome.appointment.id)


# --- receipt ----------------------------------------------------------------

async def receipt(request: Request) -> Response:
    """``GET /timer/{id}/kvittering``: what was booked and what happens next."""
    who, appointment = await acting_for_appointment(request)
    i18n.activate(request)
    await who.audit_view(request, detail={"page": "receipt", "appointment_id": appointment.id})
    kind = appointment.appointment_type
    adult = rules.age_on(who.subject.birth_date, rules.local_date(
        appointment.starts_at)) >= rules.ADULT_AGE
    return _render(request, "booking/receipt.html", {
        "acting": who, "appointment": appointment, "clinic": appointment.clinic,
        "phone": phone_link(appointment.clinic.phone),
        "kind_name": kind.name(i18n.get_locale()) if who.access is Access.FULL else None,
        "changed": appointment.replaces_id is not None,
        "active": appointment.status in ACTIVE,
        "cutoff_hours": kind.change_cutoff_hours,
        "fee": adult and kind.late_cancellation_fee,
        "book_again": BOOK,
    })


# --- change -----------------------------------------------------------------

async def _change_step(request: Request) -> tuple[Acting, Appointment, Step, rules.Decision]:
    """Who acts for whose appointment (404 and audited otherwise), where its
    new time may be, and whether it may be moved at all."""
    who, appointment = await acting_for_appointment(request)
    i18n.activate(request)
    kind = appointment.appointment_type
    wizard = Wizard(_for_value(who), kind.id, appointment.clinic.slug)
    base = f"/timer/{appointment.id}/endre"

    def href(day: date) -> str:
        return f"{base}?{urlencode({'day': day.isoformat()})}"

    search = Search(appointment.clinic, kind, who.subject, who.today, href)
    decision = rules.may_change(who.actor, appointment, kind, who.subject, utcnow())
    return who, appointment, Step(who=who, wizard=wizard, search=search), decision


async def _change_page(request: Request, who: Acting, appointment: Appointment, step: Step,
                       decision: rules.Decision, day: date | None, *,
                       problem: str | None = None, near: Sequence[FreeSlot] = (),
                       slot_error: bool = False, status_code: int = 200,
                       key: str | None = None) -> Response:
    assert step.search is not None and step.wizard is not None
    db: Database = request.app.state.db
    refusal = None
    if not decision and decision.reason is not None:
        refusal = i18n.translate_reason(decision.reason, decision.params)
    return _picker_page(request, {
        **_base(who, step.wizard, problem), "search": step.search,
        "change": appointment, "refusal": refusal,
        "phone": phone_link(step.search.clinic.phone),
        "warnings": [i18n.translate_reason(w) for w in decision.warnings],
        "picker": await picker(db, step.search, day) if decision else None,
        "nearest": list(near), "slot_error": slot_error,
        "action": f"/timer/{appointment.id}/endre",
        "hidden": {"key": key or _new_key()},
        "back": f"/timer/{appointment.id}",
    }, status_code)


async def change_page(request: Request) -> Response:
    """``GET /timer/{id}/endre``: choose a new time at the same clinic."""
    who, appointment, step, decision = await _change_step(request)
    await who.audit_view(request, detail={"page": "change", "appointment_id": appointment.id})
    return await _change_page(request, who, appointment, step, decision,
                              _day(_checked_query(request)))


async def change_submit(request: Request) -> Response:
    """``POST /timer/{id}/endre``: hold the new time, then move the appointment."""
    who, appointment, step, decision = await _change_step(request)
    form = await _form(request)
    assert step.search is not None
    db: Database = request.app.state.db
    idempotency_key = _value(form, "key")
    if idempotency_key is None or not _KEY.fullmatch(idempotency_key):
        raise BadInput()
    slot_id = _id(form, "slot")
    done = await _by_key(db, idempotency_key, who.subject.id)
    if done is not None:
        return _receipt(done)

    async def again(problem: str, status_code: int, day: date | None = None,
                    near: Sequence[FreeSlot] = (), slot_error: bool = False) -> Response:
        return await _change_page(request, who, appointment, step, decision, day,
                                  problem=problem, near=near, slot_error=slot_error,
                                  status_code=status_code, key=idempotency_key)

    if not decision:
        assert decision.reason is not None
        return await again(i18n.gettext(NOTHING_CHANGED), 409)
    if slot_id is None:
        return await again(i18n.gettext(CHOOSE_TIME), 400, _day(form), slot_error=True)
    held = await hold_slot(request, who, step.search, slot_id,
                           ignore_appointment_id=appointment.id)
    if isinstance(held, NotHeld):
        why = await explain(db, step.search, held, slot_id)
        return await again(why.text, 409, why.day, why.near)
    try:
        outcome = await service.change(db, who.actor, appointment_id=appointment.id,
                                       new_slot_id=held.slot_id,
                                       idempotency_key=idempotency_key, hold_key=held.key)
    except service.BookingRefused as refused:
        await service.release_hold(db, slot_id=held.slot_id, hold_key=held.key)
        found, _ = await _load_slot(db, held.slot_id)
        why = await explain(db, step.search, NotHeld(
            refused.reason, refused.params, found.starts_at if found else None), slot_id)
        return await again(why.text, 409, why.day, why.near)
    return _receipt(outcome.appointment.id)


def routes() -> list[BaseRoute]:
    return [
        Route(BOOK, start, methods=["GET"], name="book"),
        Route(CHOOSE, choose, methods=["POST"], name="book_choose"),
        Route(CONFIRM, summary, methods=["GET"], name="book_summary"),
        Route(CONFIRM, confirm, methods=["POST"], name="book_confirm"),
        Route("/timer/{appointment_id}/kvittering", receipt, name="receipt"),
        Route("/timer/{appointment_id}/endre", change_page, methods=["GET"], name="change"),
        Route("/timer/{appointment_id}/endre", change_submit, methods=["POST"],
              name="change_submit"),
    ]
