"""On whose behalf a logged-in patient acts in this request: themselves, or a
child they may represent today.

Stateless on purpose: the subject is the query (or form) parameter
``for=<internal patient id>``; without it, or with ``for=me``, the patient acts
for themselves. Never an identity number. Each request asks the relations
source again (briefly cached by :class:`~booking.relations.CachedRelations`
when the app installs one as ``app.state.relations``) and applies today's
representation rules, so a child who turned 16 this morning is no longer
represented this morning.

A subject the user may not act for gets the same 404 page as an address that
does not exist, and, when the id names a real patient, an ``access.refused``
entry in that patient's audit log (in its own transaction, so it is kept
whatever the page does next). Past :data:`web.ratelimits.REFUSED_ACCESS` per
person and patient the answer is a 429 instead (every attempt is still
audited; the patient's access log folds a day's attempts into one line).
Guardians' views of a child's data are audited with :meth:`Acting.audit_view`.

Usage in a view::

    acting = await acting_for(request)            # ?for=… or me
    acting = await acting_for(request, child_id)  # an explicit subject
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request

from booking import audit
from booking.audit import Actor
from booking.models import Patient
from booking.relations import (
    GuardiansSource,
    LocalRelations,
    RelationsSource,
    guardian_children,
    refresh_child_guardians,
)
from booking.representation import (
    Access,
    Capability,
    RepresentedChild,
    allows,
    represented_children,
)
from booking.rules import age_on, local_date
from core.db import Database, utcnow
from web.auth.access import LoginRequired, PatientPrincipal, require_patient
from web.ratelimits import check_refused

#: The query/form parameter that names the subject.
FOR: Final = "for"
#: The value of ``for`` that means the logged-in patient.
ME: Final = "me"
#: Purpose of every entry a guardian's action or view writes.
GUARDIAN_PURPOSE: Final = "guardian_for_child"
REFUSED_ACTION: Final = "access.refused"
VIEW_ACTION: Final = "appointments.view"
#: An internal id as it may appear in a URL: digits, at most 18 (fits BIGINT).
_ID = re.compile(r"[0-9]{1,18}")

__all__ = [
    "FOR",
    "ME",
    "Acting",
    "PersonChoice",
    "Unavailable",
    "acting",
    "acting_for",
    "parse_id",
    "refuse",
    "relations_source",
    "requested_subject",
]


def parse_id(value: str | None) -> int | None:
    """An internal id from a URL or form value; None for anything else
    (signs, spaces, exponents, over-long numbers)."""
    if value is None or not _ID.fullmatch(value):
        return None
    return int(value)


@dataclass(frozen=True)
class PersonChoice:
    """One entry of the "me / child / child" switcher."""

    patient_id: int
    given_name: str
    age: int
    access: Access
    is_me: bool
    current: bool

    @property
    def for_value(self) -> str:
        """The ``for`` parameter that selects this person ("" for me)."""
        return "" if self.is_me else str(self.patient_id)

    def href(self, path: str) -> str:
        return path if self.is_me else f"{path}?{urlencode({FOR: self.patient_id})}"


@dataclass(frozen=True)
class Unavailable:
    """A child of the guardian whom they cannot act for today, with the
    reason's untranslated text (translate where shown). A child with a
    confidential address gets the neutral text only."""

    patient_id: int
    given_name: str
    reason_text: str


@dataclass(frozen=True)
class Acting:
    principal: PatientPrincipal
    me: Patient
    subject: Patient
    #: The actor for actions on ``subject``: the patient themselves, or the
    #: guardian with today's represented children.
    actor: Actor
    #: How much the user may see and do for ``subject`` (FULL for themselves).
    access: Access
    #: Me first, then each child the user may act for today (oldest first).
    people: list[PersonChoice]
    #: The guardian's children they cannot act for today, with why.
    unavailable: list[Unavailable] = field(default_factory=list)
    #: The Europe/Oslo date the rules were applied for.
    today: date = field(default_factory=lambda: local_date(utcnow()))
    #: The rows of me and every child in ``people``, by id.
    patients: dict[int, Patient] = field(default_factory=dict)

    @property
    def for_child(self) -> bool:
        return self.subject.id != self.me.id

    @property
    def subject_age(self) -> int:
        return age_on(self.subject.birth_date, self.today)

    @property
    def subject_choice(self) -> PersonChoice:
        return next(p for p in self.people if p.patient_id == self.subject.id)

    @property
    def for_value(self) -> str:
        """The ``for`` parameter for links and hidden fields ("" for me)."""
        return str(self.subject.id) if self.for_child else ""

    @property
    def guardian_actor(self) -> Actor:
        """The actor for the user's represented children."""
        return Actor.guardian(self.me.id, frozenset(
            p.patient_id for p in self.people if not p.is_me))

    def allows(self, capability: Capability) -> bool:
        return allows(self.access, capability)

    def actor_for(self, patient_id: int) -> Actor:
        """The actor for acting on ``patient_id`` (me, or one of my children)."""
        return Actor.patient(self.me.id) if patient_id == self.me.id else self.guardian_actor

    def access_to(self, patient_id: int) -> Access:
        for person in self.people:
            if person.patient_id == patient_id:
                return person.access
        return Access.NONE

    def link(self, path: str, **params: str | int) -> str:
        """``path`` with ``for=<subject>`` when acting for a child, and ``params``."""
        query: dict[str, str | int] = {FOR: self.subject.id} if self.for_child else {}
        query.update(params)
        return f"{path}?{urlencode(query)}" if query else path

    async def audit_view(self, request: Request, patient_ids: list[int] | None = None, *,
                         action: str = VIEW_ACTION, detail: dict[str, Any] | None = None
                         ) -> None:
        """Record that the guardian saw children's data (``patient_ids``, default
        the subject). Nothing for a patient's own data."""
        ids = [i for i in (patient_ids if patient_ids is not None else [self.subject.id])
               if i != self.me.id]
        if not ids:
            return
        actor = self.guardian_actor
        db: Database = request.app.state.db
        async with db.write() as session:
            for patient_id in ids:
                await audit.record(session, actor, action, purpose=GUARDIAN_PURPOSE,
                                   subject_patient_id=patient_id, on_behalf_of_id=patient_id,
                                   detail=dict(detail or {}))


def relations_source(request: Request) -> RelationsSource:
    """The app's relations source (``app.state.relations``), else the local tables."""
    source: RelationsSource | None = getattr(request.app.state, "relations", None)
    return source if source is not None else LocalRelations(request.app.state.db)


def guardians_source(request: Request) -> GuardiansSource | None:
    """The app's register of a child's guardians (the Person API, briefly
    cached), else the local tables (which need no asking)."""
    source = getattr(request.app.state, "relations", None)
    if source is not None and hasattr(source, "refresh_guardians"):
        found: GuardiansSource = source
        return found
    return None


async def refresh_guardians(request: Request, patient_id: int) -> None:
    """Before a booking, change or cancellation for a patient under 16, by
    anyone: the child's guardians asked for afresh, so those who never logged
    in are told too (:func:`booking.relations.refresh_child_guardians`)."""
    await refresh_child_guardians(request.app.state.db, guardians_source(request), patient_id,
                                  utcnow())


async def refuse(request: Request, me_id: int, subject_id: int | None, *,
                 represents: frozenset[int] = frozenset(),
                 detail: dict[str, Any] | None = None) -> HTTPException:
    """Audit a refused access to ``subject_id`` (if it names a patient) and
    return the 404 to raise. The entry is committed on its own."""
    if subject_id is not None and subject_id != me_id:
        db: Database = request.app.state.db
        async with db.write() as session:
            if await session.get(Patient, subject_id) is not None:
                await audit.record(
                    session, Actor.guardian(me_id, represents), REFUSED_ACTION,
                    purpose=GUARDIAN_PURPOSE, subject_patient_id=subject_id,
                    detail={"path": request.url.path[:200], "method": request.method,
                            **(detail or {})})
        # Every attempt is in the audit log; past the limit, the asker waits.
        await check_refused(request, Actor.patient(me_id).id, subject_id)
    return HTTPException(404)


def requested_subject(request: Request) -> tuple[bool, int | None]:
    """(given, id) from ``?for=``: (False, None) for me; (True, None) for a
    value that is no id at all."""
    raw = request.query_params.get(FOR)
    if raw is None or raw in ("", ME):
        return False, None
    return True, parse_id(raw)


def _person(patient: Patient, today: date, access: Access, *, is_me: bool,
            current: bool) -> PersonChoice:
    return PersonChoice(patient.id, patient.given_name, age_on(patient.birth_date, today),
                        access, is_me, current)


async def acting(request: Request, subject_id: int | None = None, *,
                 refusal_detail: dict[str, Any] | None = None) -> Acting:
    """Who the logged-in patient acts for in this request.

    ``subject_id`` names the subject explicitly (e.g. the patient of an
    appointment); otherwise the ``for`` query parameter does, defaulting to
    the patient themselves. Raises :class:`~web.auth.access.LoginRequired`
    without a login, and ``HTTPException(404)`` (after auditing) for a
    subject the patient may not act for today. ``refusal_detail`` (internal
    ids only) goes into that audit entry.
    """
    principal = await require_patient(request)
    if subject_id is None:
        given, subject_id = requested_subject(request)
        if given and subject_id is None:
            raise HTTPException(404)  # not an id: nothing to audit
    today = local_date(utcnow())
    db: Database = request.app.state.db
    source = relations_source(request)
    loaded: dict[int, Patient] = {}
    if isinstance(source, LocalRelations):
        # The local tables give the rows with the relations: one query for
        # a patient without children instead of two.
        relations, loaded = await source.children_with_rows(principal.patient_id)
        children: list[RepresentedChild] = represented_children(relations, today)
    else:
        children = await guardian_children(source, principal.patient_id, today)
    access_of = {c.patient_id: c.access for c in children}
    wanted = [principal.patient_id, *access_of]
    if all(patient_id in loaded for patient_id in wanted):
        rows = {patient_id: loaded[patient_id] for patient_id in wanted}
    else:
        async with db.read() as session:
            rows = {p.id: p for p in (await session.execute(
                select(Patient).where(Patient.id.in_(wanted)))).scalars()}
    me = rows.get(principal.patient_id)
    if me is None:  # the patient row is gone: the session is worth nothing
        raise LoginRequired(request, "patient")
    represented = [c for c in children
                   if c.access is not Access.NONE and c.patient_id in rows]
    represents = frozenset(c.patient_id for c in represented)
    target = me.id if subject_id is None else subject_id
    if target != me.id and target not in represents:
        raise await refuse(request, me.id, target, represents=represents,
                           detail=refusal_detail)

    people = [_person(me, today, Access.FULL, is_me=True, current=target == me.id)]
    people += [_person(rows[c.patient_id], today, c.access, is_me=False,
                       current=c.patient_id == target) for c in represented]
    unavailable = [Unavailable(c.patient_id, rows[c.patient_id].given_name, c.decision.text)
                   for c in children
                   if c.access is Access.NONE and c.patient_id in rows
                   and c.decision.text is not None]
    patients = {p.patient_id: rows[p.patient_id] for p in people}
    if target == me.id:
        return Acting(principal, me, me, Actor.patient(me.id), Access.FULL, people,
                      unavailable, today, patients)
    return Acting(principal, me, rows[target], Actor.guardian(me.id, represents),
                  access_of[target], people, unavailable, today, patients)


#: A clearer name at call sites in views: ``await acting_for(request)``.
acting_for = acting
