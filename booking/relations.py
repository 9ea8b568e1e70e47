"""Who are a guardian's children: the relations port and its local adapter.

The rules live in :mod:`booking.representation`; this module only fetches
the facts they need. A :class:`RelationsSource` answers "which children does
this guardian have, with their addresses, their other guardians' addresses
and any confidential-address marks". Two implementations:

* :class:`LocalRelations`: the local ``guardianships`` and ``patients`` tables
  (what the demo seed creates); used in development and tests.
* ``registers.person_api.PersonApiRelations``: Norsk helsenett's Person API,
  the health sector's copy of the population register; used in production.

:class:`CachedRelations` keeps answers briefly (60 s by default) so a page
with many fragments does not ask the register each time, and
:func:`actor_for_guardian` turns the answer into the request's
:class:`~booking.audit.Actor`. The caller calls it on every request, so the
age rules and the (briefly cached) relations are checked again at each
action.

Other parts read the local tables, not the register: who gets a child's SMS
(``notifications.recipients``) and the names in a child's access log. So
whenever the register is asked afresh (a :class:`CachedRelations` miss, and
at login), :func:`reconcile_guardianships` brings the guardian's
``guardianships`` rows and the rules' facts on the ``patients`` rows (birth
date, address key, confidential-address mark) in line with its answer, in
one short, audited write transaction.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

import structlog
from sqlalchemy import bindparam, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking import audit
from booking.audit import Actor
from booking.models import Guardianship, Patient
from booking.representation import (
    OF_AGE_IN_HEALTH_MATTERS,
    Access,
    ChildRelation,
    PersonFacts,
    RepresentedChild,
    represented_children,
)
from booking.rules import age_on
from core.db import Database
from core.locale import OSLO

__all__ = [
    "CachedRelations",
    "ChildRelation",
    "GuardiansSource",
    "GuardianshipSync",
    "LocalRelations",
    "RelationsSource",
    "actor_for_guardian",
    "guardian_children",
    "reconcile_child_guardians",
    "reconcile_guardianships",
    "refresh_child_guardians",
]

log = structlog.get_logger(__name__)

DEFAULT_TTL_SECONDS = 60.0


class RelationsSource(Protocol):
    """Where a guardian's children and their facts come from."""

    async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
        """The guardian's children that are local patients, each with the
        guardian's and the child's facts, the child's other guardians' facts,
        and whether this guardian has parental responsibility. An unknown
        guardian has no children."""
        ...


class GuardiansSource(Protocol):
    """Who has parental responsibility for a child, asked from the child's side."""

    async def refresh_guardians(self, child_patient_id: int) -> None:
        """Ask the register for the child's guardians now and bring the local
        tables in step: a guardian the service has never seen (never logged
        in) gets a patient row from the register, and the child's
        ``guardianships`` rows say who has parental responsibility. Who is
        then told is decided from the local tables
        (``notifications.recipients``)."""
        ...


#: The guardian and their children in one query (most have none); built once.
_GUARDIAN_AND_CHILDREN = (
    select(Patient)
    .where(or_(Patient.id == bindparam("guardian_id"),
               Patient.id.in_(select(Guardianship.child_id).where(
                   Guardianship.guardian_id == bindparam("guardian_id")))))
    .order_by(Patient.id))


class LocalRelations:
    """Relations from the local tables: a :class:`~booking.models.Guardianship`
    row is parental responsibility as the register stated it when the row was
    written."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
        relations, _rows = await self.children_with_rows(guardian_patient_id)
        return relations

    async def children_with_rows(self, guardian_patient_id: int
                                 ) -> tuple[list[ChildRelation], dict[int, Patient]]:
        """:meth:`children_of`, and the rows of the guardian and their
        children it read on the way (by id), so a caller that needs them asks
        no second query (``web.acting`` does, for any ``LocalRelations``: a
        subclass that answers differently overrides this method, which
        :meth:`children_of` calls too)."""
        async with self.db.read() as session:
            found = (await session.execute(
                _GUARDIAN_AND_CHILDREN, {"guardian_id": guardian_patient_id})).scalars().all()
            rows = {p.id: p for p in found}
            guardian = rows.get(guardian_patient_id)
            if guardian is None:
                return [], rows
            children = [p for p in found if p.id != guardian_patient_id]
            if not children:
                return [], rows
            # Every guardian of these children, this one included.
            others = (await session.execute(
                select(Guardianship.child_id, Patient)
                .join(Patient, Patient.id == Guardianship.guardian_id)
                .where(Guardianship.child_id.in_([c.id for c in children]))
                .order_by(Guardianship.child_id, Patient.id)
            )).all()
        guardians_of: dict[int, list[PersonFacts]] = defaultdict(list)
        for child_id, other in others:
            if other.id != guardian_patient_id:
                guardians_of[child_id].append(PersonFacts.from_patient(other))
        me = PersonFacts.from_patient(guardian)
        return [ChildRelation(me, PersonFacts.from_patient(child),
                              tuple(guardians_of[child.id]), parental_responsibility=True)
                for child in children], rows


    async def refresh_guardians(self, child_patient_id: int) -> None:
        """The local tables are the register here (the demo seed writes them):
        nothing to fetch."""
        return None


class CachedRelations:
    """A :class:`RelationsSource` that remembers another's answers for
    ``ttl`` seconds, keyed by guardian id. Failures are not remembered.
    ``clock`` returns seconds (monotonic); tests inject their own.

    Per process, correct by design: each web process keeps its own. The
    population register is the authority; ``ttl`` (``RELATIONS_CACHE_TTL``,
    a minute) bounds how stale an answer may be in any process, the same
    bound a single process has, and a login asks afresh in the process that
    handles it. Nothing is decided from a cached answer that the booking
    rules do not check again."""

    def __init__(self, source: RelationsSource, ttl: float = DEFAULT_TTL_SECONDS, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 10_000) -> None:
        self.source = source
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[int, tuple[float, tuple[ChildRelation, ...]]] = {}

    async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
        now = self.clock()
        hit = self._entries.get(guardian_patient_id)
        if hit is not None and hit[0] > now:
            return list(hit[1])
        relations = await self.source.children_of(guardian_patient_id)
        if len(self._entries) >= self.max_entries:
            self._evict(now)
        self._entries[guardian_patient_id] = (now + self.ttl, tuple(relations))
        return list(relations)

    async def refresh_guardians(self, child_patient_id: int) -> None:
        """Asked afresh each time (a booking for a child is rare enough), and
        the guardians' cached answers are forgotten: they may have changed."""
        refresh = getattr(self.source, "refresh_guardians", None)
        if refresh is not None:
            await refresh(child_patient_id)
            self.invalidate()

    def invalidate(self, guardian_patient_id: int | None = None) -> None:
        """Forget one guardian's answer, or every answer."""
        if guardian_patient_id is None:
            self._entries.clear()
        else:
            self._entries.pop(guardian_patient_id, None)

    def _evict(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= self.max_entries:  # still full: drop the oldest
            del self._entries[next(iter(self._entries))]


async def guardian_children(source: RelationsSource, guardian_patient_id: int, today: date,
                            *, require_shared_address: bool = True) -> list[RepresentedChild]:
    """The guardian's children with today's access and reason (for the
    "me or a child" switcher)."""
    return represented_children(await source.children_of(guardian_patient_id), today,
                                require_shared_address=require_shared_address)


async def actor_for_guardian(db: Database, source: RelationsSource, guardian_patient_id: int,
                             today: date, *, require_shared_address: bool = True) -> Actor:
    """The request's actor for a logged-in guardian: ``represents`` holds the
    children they may handle appointments for today (:attr:`Access.FULL` or
    :attr:`Access.LOGISTICS`), and only those that still exist as local
    patients. Call it on every request; ``today`` is the Europe/Oslo date."""
    children = await guardian_children(source, guardian_patient_id, today,
                                       require_shared_address=require_shared_address)
    allowed = {c.patient_id for c in children if c.access is not Access.NONE}
    if allowed:
        async with db.read() as session:
            allowed = set((await session.execute(
                select(Patient.id).where(Patient.id.in_(allowed))
            )).scalars())
    return Actor.guardian(guardian_patient_id, represents=frozenset(allowed))


# --- Keeping the local tables in step with the register ---------------------

#: Who changes local rows to match the population register (audit log).
REGISTER_SYNC_ACTOR = Actor.system("population-register")
#: The purpose of those changes: the service's own automatic work.
REGISTER_SYNC_PURPOSE = "system"
GUARDIANSHIP_ADDED = "guardianship.add"
GUARDIANSHIP_REMOVED = "guardianship.remove"
FACTS_UPDATED = "patient.register_facts"


@dataclass(frozen=True)
class GuardianshipSync:
    """What :func:`reconcile_guardianships` changed; internal ids only."""

    #: Children given a guardianship row for the guardian.
    added: tuple[int, ...] = ()
    #: Children whose guardianship row for the guardian went.
    removed: tuple[int, ...] = ()
    #: (patient id, names of the fact columns that changed), by patient id.
    updated: tuple[tuple[int, tuple[str, ...]], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.updated)


def _facts_by_patient(guardian: PersonFacts | None,
                      relations: Iterable[ChildRelation]) -> dict[int, PersonFacts]:
    """Every local patient the answer says something about: the guardian,
    the children and the children's other guardians."""
    people: list[PersonFacts] = [guardian] if guardian is not None else []
    for relation in relations:
        people += [relation.guardian, relation.child, *relation.other_guardians]
    facts: dict[int, PersonFacts] = {}
    for person in people:
        if person.patient_id is not None:
            facts.setdefault(person.patient_id, person)
    return facts


def _fact_changes(patient: Patient, facts: PersonFacts) -> tuple[str, ...]:
    """The fact columns of ``patient`` that differ from the register's. A
    confidential address never leaves an address key behind."""
    changed = []
    if patient.birth_date != facts.birth_date:
        changed.append("birth_date")
    if patient.address_key != facts.usable_address_key:
        changed.append("address_key")
    if patient.confidential_address != facts.confidential_address.value:
        changed.append("confidential_address")
    return tuple(changed)


async def _plan(session: AsyncSession, guardian_id: int, wanted: set[int],
                facts: dict[int, PersonFacts]) -> tuple[GuardianshipSync, dict[int, Patient]]:
    """What must change, and the patient rows involved (none when the
    guardian's own row is gone)."""
    ids = wanted | set(facts) | {guardian_id}
    patients = {p.id: p for p in (await session.execute(
        select(Patient).where(Patient.id.in_(ids)))).scalars()}
    if guardian_id not in patients:
        return GuardianshipSync(), {}
    existing = set((await session.execute(
        select(Guardianship.child_id).where(Guardianship.guardian_id == guardian_id)
    )).scalars())
    wanted = {c for c in wanted if c in patients and c != guardian_id}
    updated = []
    for patient_id, person in sorted(facts.items()):
        if patient_id in patients and (fields := _fact_changes(patients[patient_id], person)):
            updated.append((patient_id, fields))
    return GuardianshipSync(tuple(sorted(wanted - existing)), tuple(sorted(existing - wanted)),
                            tuple(updated)), patients


async def _apply(session: AsyncSession, guardian_id: int, plan: GuardianshipSync,
                 patients: dict[int, Patient], facts: dict[int, PersonFacts],
                 now: datetime | None) -> None:
    session.add_all(Guardianship(guardian_id=guardian_id, child_id=child_id)
                    for child_id in plan.added)
    if plan.removed:
        await session.execute(delete(Guardianship).where(
            Guardianship.guardian_id == guardian_id,
            Guardianship.child_id.in_(plan.removed)))
    for patient_id, _fields in plan.updated:
        patient, person = patients[patient_id], facts[patient_id]
        patient.birth_date = person.birth_date
        patient.address_key = person.usable_address_key
        patient.confidential_address = person.confidential_address.value
    await session.flush()
    # The audit entries last: they hold the audit chain's lock until commit.
    for action, child_ids in ((GUARDIANSHIP_ADDED, plan.added),
                              (GUARDIANSHIP_REMOVED, plan.removed)):
        for child_id in child_ids:
            await audit.record(session, REGISTER_SYNC_ACTOR, action,
                               purpose=REGISTER_SYNC_PURPOSE, subject_patient_id=child_id,
                               detail={"guardian_id": guardian_id}, now=now)
    for patient_id, fields in plan.updated:
        await audit.record(session, REGISTER_SYNC_ACTOR, FACTS_UPDATED,
                           purpose=REGISTER_SYNC_PURPOSE, subject_patient_id=patient_id,
                           detail={"fields": list(fields)}, now=now)


async def reconcile_guardianships(db: Database, guardian_patient_id: int,
                                  relations: Iterable[ChildRelation], *,
                                  guardian: PersonFacts | None = None,
                                  now: datetime | None = None) -> GuardianshipSync:
    """Make the local tables say what the register just said about one
    guardian (``relations``, as a :class:`RelationsSource` backed by the
    register answered; ``guardian``: their own facts, also when they have
    no children).

    * ``guardianships``: a row for each listed child who is a local patient
      and for whom the guardian has parental responsibility; rows for any
      other child of this guardian are removed. Other guardians' rows are
      left alone (their own answers reconcile them).
    * ``patients``: birth date, address key and confidential-address mark of
      every local patient in the answer.

    Nothing is written when nothing changed; otherwise one short write
    transaction, each change audited as the register's (system) work, with
    internal ids only. A concurrent reconciliation of the same guardian is
    absorbed by one retry. Errors propagate: callers on a page's path catch
    and log them."""
    relations = list(relations)
    wanted = {r.child_id for r in relations if r.parental_responsibility}
    facts = _facts_by_patient(guardian, relations)
    async with db.read() as session:
        plan, _ = await _plan(session, guardian_patient_id, wanted, facts)
    if not plan.changed:
        return plan
    for attempt in (1, 2):
        try:
            async with db.write() as session:
                plan, patients = await _plan(session, guardian_patient_id, wanted, facts)
                if plan.changed:
                    await _apply(session, guardian_patient_id, plan, patients, facts, now)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    if plan.changed:
        log.info("relations.register_sync", guardian_id=guardian_patient_id,
                 added=len(plan.added), removed=len(plan.removed), updated=len(plan.updated))
    return plan


async def reconcile_child_guardians(db: Database, child_patient_id: int,
                                    guardian_ids: Iterable[int],
                                    facts: Iterable[PersonFacts] = (), *,
                                    now: datetime | None = None) -> GuardianshipSync:
    """Make the local tables say what the register just said about one
    child, from the child's side: a ``guardianships`` row for each of
    ``guardian_ids`` (local patients with parental responsibility for the
    child), none for anyone else, and the facts (:class:`PersonFacts`) of
    every local patient named brought in line. ``added`` and ``removed`` of
    the result are guardian ids here. One short write transaction, each
    change audited as the register's work; nothing written when nothing
    changed."""
    wanted = set(guardian_ids) - {child_patient_id}
    by_patient = {f.patient_id: f for f in facts if f.patient_id is not None}
    result = GuardianshipSync()
    for attempt in (1, 2):
        try:
            async with db.write() as session:
                ids = wanted | set(by_patient) | {child_patient_id}
                patients = {p.id: p for p in (await session.execute(
                    select(Patient).where(Patient.id.in_(ids)))).scalars()}
                if child_patient_id not in patients:
                    return GuardianshipSync()
                existing = set((await session.execute(
                    select(Guardianship.guardian_id)
                    .where(Guardianship.child_id == child_patient_id))).scalars())
                here = {g for g in wanted if g in patients}
                updated = [(pid, fields) for pid, person in sorted(by_patient.items())
                           if pid in patients
                           and (fields := _fact_changes(patients[pid], person))]
                result = GuardianshipSync(tuple(sorted(here - existing)),
                                          tuple(sorted(existing - here)), tuple(updated))
                if not result.changed:
                    return result
                session.add_all(Guardianship(guardian_id=g, child_id=child_patient_id)
                                for g in result.added)
                if result.removed:
                    await session.execute(delete(Guardianship).where(
                        Guardianship.child_id == child_patient_id,
                        Guardianship.guardian_id.in_(result.removed)))
                for patient_id, _fields in updated:
                    patient, person = patients[patient_id], by_patient[patient_id]
                    patient.birth_date = person.birth_date
                    patient.address_key = person.usable_address_key
                    patient.confidential_address = person.confidential_address.value
                await session.flush()
                for action, guardians in ((GUARDIANSHIP_ADDED, result.added),
                                          (GUARDIANSHIP_REMOVED, result.removed)):
                    for guardian_id in guardians:
                        await audit.record(session, REGISTER_SYNC_ACTOR, action,
                                           purpose=REGISTER_SYNC_PURPOSE,
                                           subject_patient_id=child_patient_id,
                                           detail={"guardian_id": guardian_id}, now=now)
                for patient_id, fields in updated:
                    await audit.record(session, REGISTER_SYNC_ACTOR, FACTS_UPDATED,
                                       purpose=REGISTER_SYNC_PURPOSE,
                                       subject_patient_id=patient_id,
                                       detail={"fields": list(fields)}, now=now)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    log.info("relations.child_register_sync", child_id=child_patient_id,
             added=len(result.added), removed=len(result.removed),
             updated=len(result.updated))
    return result


async def refresh_child_guardians(db: Database, guardians: GuardiansSource | None,
                                  patient_id: int, now: datetime) -> None:
    """Before a booking, change or cancellation for a patient under 16, ask
    ``guardians`` for the patient's guardians afresh, so those who never
    logged in are known locally and told (``notifications.recipients``
    reads the local tables). A register that cannot answer is no refusal:
    the notices go to the guardians known locally."""
    if guardians is None:
        return
    async with db.read() as session:
        birth_date = (await session.execute(
            select(Patient.birth_date).where(Patient.id == patient_id))).scalar_one_or_none()
    if birth_date is None:
        return
    if age_on(birth_date, now.astimezone(OSLO).date()) >= OF_AGE_IN_HEALTH_MATTERS:
        return
    try:
        await guardians.refresh_guardians(patient_id)
    except Exception as exc:  # never stand in the way of the booking
        log.warning("relations.guardians_refresh_failed", patient_id=patient_id,
                    error=type(exc).__name__)
