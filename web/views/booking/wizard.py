"""The booking wizard's steps before the summary: who (skipped when the user
acts for nobody else), what kind, which clinic, and when — ``GET /bestill``
shows the step the address has come to, ``POST /bestill/velg`` holds the
chosen time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from booking import directory, holds, picker, queries, rules, search
from booking.directory import ClinicListing
from booking.holds import NotHeld
from booking.models import Appointment, AppointmentType
from booking.reasons import Reason
from booking.search import FreeSlot
from core.db import Database, utcnow
from web import i18n
from web.acting import ME, Acting, acting
from web.views.booking import inputs
from web.views.booking.inputs import BadInput
from web.views.booking.pages import (
    BOOK,
    CHOOSE,
    CHOOSE_TIME,
    CONFIRM,
    NO_STORE,
    NO_SUCH_CLINIC,
    NOT_AT_CLINIC,
    Wizard,
    base,
    for_value,
    hold_keys,
    page,
)
from web.views.booking.times import day_picker, explain, picker_page


async def _who_page(request: Request, who: Acting, carried: Wizard, day: str | None
                    ) -> Response:
    """Who: each person's link keeps the kind, clinic and day already chosen
    (from a clinic's page)."""
    people = [(p, Wizard(ME if p.is_me else str(p.patient_id), carried.type_id,
                         carried.clinic).url(day=day)) for p in who.people]
    unavailable = [(u.given_name, i18n.translate(u.reason_text)) for u in who.unavailable]
    return page(request, "booking/who.html",
                {"acting": who, "people": people, "unavailable": unavailable})


@dataclass(frozen=True)
class KindChoice:
    """One kind on the kind step: a link onward, or, when the person has an
    upcoming appointment of the kind already, that one (to change it)."""

    name: str
    minutes: int
    href: str
    booked: Appointment | None


async def _own_upcoming(db: Database, who: Acting) -> list[Appointment]:
    return await queries.read(db, queries.upcoming, who.subject.id, utcnow())


async def _what_page(request: Request, who: Acting, wizard: Wizard,
                     problem: str | None = None, status_code: int = 200,
                     day: str | None = None) -> Response:
    db: Database = request.app.state.db
    kinds = await search.offered_types(db, who.subject, who.today)
    own = await _own_upcoming(db, who)
    now = utcnow()
    locale = i18n.get_locale()
    choices = [KindChoice(kind.name(locale), kind.duration_minutes,
                          Wizard(wizard.for_value, kind.id, wizard.clinic).url(day=day),
                          rules.same_kind_booked(kind, own, now))
               for kind in kinds]
    return page(request, "booking/what.html", {
        **base(who, wizard, problem), "choices": choices,
        "back": BOOK if len(who.people) > 1 else None,
    }, status_code=status_code)


async def _where_page(request: Request, who: Acting, wizard: Wizard, kind: AppointmentType,
                      problem: str | None = None, status_code: int = 200) -> Response:
    db: Database = request.app.state.db
    words = (inputs.value(inputs.checked_query(request), "sok") or "").strip()
    local: list[ClinicListing] = []
    code = who.subject.municipality_code
    if code and code.isdigit():
        local = (await directory.search_clinics(db, municipality_code=code)).clinics
    seen = {c.slug for c in local}
    county = [c for c in (await directory.search_clinics(db, county_id=kind.county_id)).clinics
              if c.slug not in seen]
    found: list[ClinicListing] | None = None
    if words:
        by_name = await directory.search_clinics(db, name=words)
        by_place = await directory.search_clinics(db, municipality=words)
        merged = {c.slug: c for c in [*by_name.clinics, *by_place.clinics]}
        found = sorted(merged.values(), key=lambda c: (c.name, c.slug))
    return page(request, "booking/where.html", {
        **base(who, wizard, problem), "kind_name": kind.name(i18n.get_locale()),
        "local": local, "county": county, "found": found, "words": words,
        "municipality": local[0].municipality_name if local else None,
        "county_name": county[0].county_name if county else None,
        "back": Wizard(wizard.for_value).url(),
    }, status_code=status_code)


@dataclass(frozen=True)
class Step:
    """Where a request is in the wizard: a page to show, or everything the
    later steps need."""

    page: Response | None = None
    who: Acting | None = None
    wizard: Wizard | None = None
    search: picker.Search | None = None


async def when_page(request: Request, step: Step, day: date | None, *,
                    problem: str | None = None, near: Sequence[FreeSlot] = (),
                    slot_error: bool = False, status_code: int = 200) -> Response:
    """The picker of a completed walk (step 4)."""
    assert step.who and step.wizard and step.search
    wizard, offer = step.wizard, step.search
    return picker_page(request, {
        **base(step.who, wizard, problem), "change": None, "search": offer,
        "picker": await day_picker(request.app.state.db, offer, wizard.day_url, day),
        "nearest": list(near), "slot_error": slot_error, "action": CHOOSE,
        "hidden": {"for": wizard.for_value, "type": offer.kind.id, "clinic": offer.clinic.slug},
        "back": Wizard(wizard.for_value, offer.kind.id).url(),
    }, status_code)


async def walk(request: Request, source: Mapping[str, Any], *, require_all: bool = False
               ) -> Step:
    """Follow the choices in ``source`` as far as they are valid: the step to
    show (with a message when a choice was refused), or all of them."""
    db: Database = request.app.state.db
    chosen, subject_id = inputs.subject_of(source)
    type_id = inputs.id_of(source, "type")
    slug = inputs.slug_of(source)
    day = inputs.value(source, "day")
    who = await acting(request, subject_id) if chosen else await acting(request)
    if not chosen and len(who.people) > 1:
        if require_all:
            raise BadInput()
        return Step(await _who_page(request, who, Wizard(ME, type_id, slug), day))
    # The clinic (from its page) travels along until the clinic step.
    wizard = Wizard(for_value(who), clinic=slug)
    problem_status = 400 if require_all else 200
    if type_id is None:
        if require_all:
            raise BadInput()
        return Step(await _what_page(request, who, wizard, day=day))
    kind = await search.appointment_type(db, type_id)
    if kind is None:
        return Step(await _what_page(request, who, wizard, i18n.translate_reason(
            Reason.UNKNOWN_TYPE), problem_status, day))
    refused = rules.why_kind_not_offered(kind, who.subject.birth_date, who.today)
    # Said at the kind step, before a clinic and a time are chosen. Not for a
    # form sent (require_all): the service decides that, after it has
    # recognised a repeated request, which it answers with its booking.
    if refused is None and not require_all and rules.same_kind_booked(
            kind, await _own_upcoming(db, who), utcnow()) is not None:
        refused = Reason.ALREADY_BOOKED_TYPE
    if refused is not None:
        return Step(await _what_page(request, who, wizard, i18n.translate_reason(refused),
                                     problem_status, day))
    wizard = Wizard(wizard.for_value, kind.id)
    if slug is None:
        if require_all:
            raise BadInput()
        return Step(await _where_page(request, who, wizard, kind))
    clinic = await directory.clinic_by_slug(db, slug)
    local_kind = await search.same_kind_at(db, kind, clinic) if clinic is not None else None
    if clinic is None or local_kind is None:
        text = NO_SUCH_CLINIC if clinic is None else NOT_AT_CLINIC
        return Step(await _where_page(request, who, wizard, kind, i18n.gettext(text),
                                      problem_status))
    if local_kind.id != kind.id:  # the same kind as the clinic's county defines it
        if require_all:
            raise BadInput()
        moved = Wizard(wizard.for_value, local_kind.id, clinic.slug)
        return Step(RedirectResponse(moved.url(day=inputs.value(source, "day")),
                                     status_code=303))
    wizard = Wizard(wizard.for_value, kind.id, clinic.slug)
    return Step(who=who, wizard=wizard,
                search=picker.Search(clinic, kind, who.subject, who.today))


async def start(request: Request) -> Response:
    """``GET /bestill``: the step the address has come to."""
    i18n.activate(request)
    query = inputs.checked_query(request)
    step = await walk(request, query)
    if step.page is not None:
        return step.page
    return await when_page(request, step, inputs.day_of(query))


async def refused_time(request: Request, step: Step, refusal: NotHeld, slot_id: int
                       ) -> Response:
    """The picker again with why, and the nearest free times when it was taken."""
    assert step.search is not None
    why = await explain(request.app.state.db, step.search, refusal, slot_id)
    return await when_page(request, step, why.day, problem=why.text, near=why.near,
                           status_code=409)


async def choose(request: Request) -> Response:
    """``POST /bestill/velg``: hold the chosen time, then show the summary."""
    i18n.activate(request)
    form = await inputs.checked_form(request)
    step = await walk(request, form, require_all=True)
    if step.page is not None:
        return step.page
    assert step.who and step.wizard and step.search
    slot_id = inputs.id_of(form, "slot")
    if slot_id is None:
        return await when_page(request, step, inputs.day_of(form),
                               problem=i18n.gettext(CHOOSE_TIME), slot_error=True,
                               status_code=400)
    held = await holds.hold(request.app.state.db, step.who.actor, step.search, slot_id,
                            hold_keys(request, step.who))
    if isinstance(held, NotHeld):
        return await refused_time(request, step, held, slot_id)
    return RedirectResponse(step.wizard.url(CONFIRM, slot=held.slot_id), status_code=303,
                            headers=NO_STORE)
