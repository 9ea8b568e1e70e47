"""Who are a guardian's children: the relations port and its local adapter.

The rules live in :mod:`booking.representation`; this module only fetches
the facts they need. A :class:`RelationsSource` answers "which children does
this guardian have, with their addresses, their other guardians' addresses
and any confidential-address marks". Two implementations:

* :class:`LocalRelations`: the local ``guardianships`` and ``patients`` tables
  (what the demo seed creates); used in development and tests.
* ``idporten.person_api.PersonApiRelations``: Norsk helsenett's Person API,
  the health sector's copy of the population register; used in production.

:class:`CachedRelations` keeps answers briefly (60 s by default) so a page
with many fragments does not ask the register each time, and
:func:`actor_for_guardian` turns the answer into the request's
:class:`~booking.audit.Actor`. The caller calls it on every request, so the
age rules and the (briefly cached) relations are checked again at each
action.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Protocol

from sqlalchemy import select

from booking.audit import Actor
from booking.db import Database
from booking.models import Guardianship, Patient
from booking.representation import (
    Access,
    ChildRelation,
    PersonFacts,
    RepresentedChild,
    represented_children,
)

__all__ = [
    "CachedRelations",
    "ChildRelation",
    "LocalRelations",
    "RelationsSource",
    "actor_for_guardian",
    "guardian_children",
]

DEFAULT_TTL_SECONDS = 60.0


class RelationsSource(Protocol):
    """Where a guardian's children and their facts come from."""

    async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
        """The guardian's children that are local patients, each with the
        guardian's and the child's facts, the child's other guardians' facts,
        and whether this guardian has parental responsibility. An unknown
        guardian has no children."""
        ...


class LocalRelations:
    """Relations from the local tables: a :class:`~booking.models.Guardianship`
    row is parental responsibility as the register stated it when the row was
    written."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
        async with self.db.read() as session:
            guardian = await session.get(Patient, guardian_patient_id)
            if guardian is None:
                return []
            child_ids = select(Guardianship.child_id).where(
                Guardianship.guardian_id == guardian_patient_id)
            children = (await session.execute(
                select(Patient).where(Patient.id.in_(child_ids)).order_by(Patient.id)
            )).scalars().all()
            if not children:
                return []
            # Every guardian of these children, this one included.
            rows = (await session.execute(
                select(Guardianship.child_id, Patient)
                .join(Patient, Patient.id == Guardianship.guardian_id)
                .where(Guardianship.child_id.in_([c.id for c in children]))
                .order_by(Guardianship.child_id, Patient.id)
            )).all()
        guardians_of: dict[int, list[PersonFacts]] = defaultdict(list)
        for child_id, other in rows:
            if other.id != guardian_patient_id:
                guardians_of[child_id].append(PersonFacts.from_patient(other))
        me = PersonFacts.from_patient(guardian)
        return [ChildRelation(me, PersonFacts.from_patient(child),
                              tuple(guardians_of[child.id]), parental_responsibility=True)
                for child in children]


class CachedRelations:
    """A :class:`RelationsSource` that remembers another's answers for
    ``ttl`` seconds, keyed by guardian id. Failures are not remembered.
    ``clock`` returns seconds (monotonic); tests inject their own."""

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
