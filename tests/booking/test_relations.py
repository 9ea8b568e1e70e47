"""Relations from the local tables, the short cache, and the request's actor."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import func, select

from booking import audit, rules
from booking.audit import Actor
from booking.models import AuditEntry, Guardianship, Patient
from booking.relations import (
    CachedRelations,
    ChildRelation,
    LocalRelations,
    actor_for_guardian,
    guardian_children,
    reconcile_guardianships,
)
from booking.representation import Access, PersonFacts, RepresentationReason
from booking.statuses import ActorKind, ConfidentialAddress
from tests import factories as f

TODAY = date(2025, 3, 10)


async def family(db):
    """Mother lives with the children at addr-home; father at addr-father.
    Children: 8 (home), 13 (home), 16 today, 7 with a confidential address,
    and 9 living with neither parent (addr-grandma). A stranger's child too."""
    async with db.write() as s:
        mother = await f.patient(s, date(1985, 1, 1), address_key="addr-home")
        father = await f.patient(s, date(1983, 1, 1), address_key="addr-father")
        kids = {
            "eight": await f.patient(s, date(2016, 6, 1), address_key="addr-home"),
            "thirteen": await f.patient(s, date(2011, 6, 1), address_key="addr-home"),
            "sixteen": await f.patient(s, date(2009, 3, 10), address_key="addr-home"),
            "hidden": await f.patient(
                s, date(2017, 6, 1), address_key="addr-secret",
                confidential_address=ConfidentialAddress.STRICTLY_CONFIDENTIAL),
            "grandma": await f.patient(s, date(2015, 6, 1), address_key="addr-grandma"),
        }
        for kid in kids.values():
            await f.guardianship(s, mother, kid)
            await f.guardianship(s, father, kid)
        stranger = await f.patient(s, date(1990, 1, 1), address_key="addr-x")
        strangers_child = await f.patient(s, date(2018, 1, 1), address_key="addr-x")
        await f.guardianship(s, stranger, strangers_child)
    return mother, father, kids, strangers_child


async def test_local_relations_list_children_with_other_guardians(db):
    mother, father, kids, strangers_child = await family(db)
    relations = await LocalRelations(db).children_of(mother.id)
    by_child = {r.child_id: r for r in relations}
    assert set(by_child) == {k.id for k in kids.values()}
    assert strangers_child.id not in by_child
    eight = by_child[kids["eight"].id]
    assert eight.guardian == PersonFacts(mother.id, date(1985, 1, 1), "addr-home")
    assert eight.child == PersonFacts(kids["eight"].id, date(2016, 6, 1), "addr-home")
    assert eight.other_guardians == (PersonFacts(father.id, date(1983, 1, 1), "addr-father"),)
    assert eight.parental_responsibility is True
    hidden = by_child[kids["hidden"].id]
    assert hidden.child.confidential_address is ConfidentialAddress.STRICTLY_CONFIDENTIAL


async def test_unknown_guardian_and_childless_patient_have_no_children(db):
    async with db.write() as s:
        lonely = await f.patient(s)
    source = LocalRelations(db)
    assert await source.children_of(lonely.id) == []
    assert await source.children_of(987654) == []
    actor = await actor_for_guardian(db, source, 987654, TODAY)
    assert actor == Actor.guardian(987654, represents=frozenset())


async def test_guardian_children_decisions_for_the_family(db):
    mother, father, kids, _ = await family(db)
    source = LocalRelations(db)
    expected = {
        kids["eight"].id: (Access.FULL, None),
        kids["thirteen"].id: (Access.LOGISTICS, None),
        kids["sixteen"].id: (Access.NONE, RepresentationReason.CHILD_OF_AGE_IN_HEALTH_MATTERS),
        kids["hidden"].id: (Access.NONE, RepresentationReason.CHILD_CONFIDENTIAL_ADDRESS),
        kids["grandma"].id: (Access.NONE, RepresentationReason.NO_GUARDIAN_AT_CHILD_ADDRESS),
    }
    for parent in (mother, father):  # the father lives elsewhere; the mother's address counts
        listed = await guardian_children(source, parent.id, TODAY)
        assert {c.patient_id: (c.access, c.reason) for c in listed} == expected
    relaxed = await guardian_children(source, father.id, TODAY, require_shared_address=False)
    assert {c.patient_id: c.access for c in relaxed}[kids["grandma"].id] is Access.FULL


async def test_actor_for_guardian_represents_full_and_logistics_children_only(db):
    _, father, kids, strangers_child = await family(db)
    source = LocalRelations(db)
    actor = await actor_for_guardian(db, source, father.id, TODAY)
    assert actor.kind is ActorKind.GUARDIAN
    assert actor.id == f"patient:{father.id}"
    assert actor.patient_id == father.id
    assert actor.represents == {kids["eight"].id, kids["thirteen"].id}
    assert rules.may_act_for(actor, kids["thirteen"].id, clinic_id=1)
    for refused in (kids["sixteen"], kids["hidden"], kids["grandma"], strangers_child, father):
        assert not rules.may_act_for(actor, refused.id, clinic_id=1)


async def test_actor_is_rechecked_each_day_of_request(db):
    mother, _, kids, _ = await family(db)
    source = LocalRelations(db)
    day_before = await actor_for_guardian(db, source, mother.id, date(2025, 3, 9))
    birthday = await actor_for_guardian(db, source, mother.id, TODAY)
    assert kids["sixteen"].id in day_before.represents
    assert kids["sixteen"].id not in birthday.represents


async def test_guardian_with_confidential_address_represents_nobody(db):
    async with db.write() as s:
        parent = await f.patient(s, address_key="addr-1",
                                 confidential_address=ConfidentialAddress.CONFIDENTIAL)
        kid = await f.patient(s, date(2018, 1, 1), address_key="addr-1")
        await f.guardianship(s, parent, kid)
    source = LocalRelations(db)
    listed = await guardian_children(source, parent.id, TODAY)
    assert [(c.patient_id, c.access, c.reason) for c in listed] == [
        (kid.id, Access.NONE, RepresentationReason.GUARDIAN_CONFIDENTIAL_ADDRESS)]
    assert (await actor_for_guardian(db, source, parent.id, TODAY)).represents == frozenset()


async def test_actor_leaves_out_children_without_a_local_record(db):
    async with db.write() as s:
        parent = await f.patient(s, address_key="addr-1")
        kid = await f.patient(s, date(2018, 1, 1), address_key="addr-1")
    me = PersonFacts.from_patient(parent)

    class Source:
        async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
            return [ChildRelation(me, PersonFacts.from_patient(kid)),
                    ChildRelation(me, PersonFacts(999_999, date(2018, 1, 1), "addr-1"))]

    actor = await actor_for_guardian(db, Source(), parent.id, TODAY)
    assert actor.represents == {kid.id}


# --- The cache ---------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingSource:
    def __init__(self) -> None:
        self.calls: list[int] = []
        self.fail = False
        self.answer: list[ChildRelation] = [ChildRelation(
            PersonFacts(1, date(1980, 1, 1), "a"), PersonFacts(2, date(2018, 1, 1), "a"))]

    async def children_of(self, guardian_patient_id: int) -> list[ChildRelation]:
        self.calls.append(guardian_patient_id)
        if self.fail:
            raise RuntimeError("register unavailable")
        return list(self.answer)


async def test_cache_keeps_answers_for_ttl_seconds_per_guardian():
    clock, source = Clock(), CountingSource()
    cache = CachedRelations(source, ttl=60, clock=clock)
    first = await cache.children_of(1)
    assert first == source.answer
    clock.now += 59.9
    assert await cache.children_of(1) == first
    assert source.calls == [1]
    await cache.children_of(2)  # another guardian: its own entry
    assert source.calls == [1, 2]
    clock.now += 0.1  # 60 s after the first answer
    await cache.children_of(1)
    assert source.calls == [1, 2, 1]


async def test_cache_invalidate_one_or_all():
    clock, source = Clock(), CountingSource()
    cache = CachedRelations(source, clock=clock)
    await cache.children_of(1)
    await cache.children_of(2)
    cache.invalidate(1)
    await cache.children_of(1)
    await cache.children_of(2)
    assert source.calls == [1, 2, 1]
    cache.invalidate()
    await cache.children_of(1)
    await cache.children_of(2)
    assert source.calls == [1, 2, 1, 1, 2]


async def test_cache_does_not_remember_failures_and_returns_copies():
    clock, source = Clock(), CountingSource()
    cache = CachedRelations(source, clock=clock)
    source.fail = True
    with pytest.raises(RuntimeError):
        await cache.children_of(1)
    source.fail = False
    answer = await cache.children_of(1)
    answer.clear()  # a caller's change must not reach the cache
    assert len(await cache.children_of(1)) == 1
    assert source.calls == [1, 1]


async def test_cache_stays_bounded():
    clock, source = Clock(), CountingSource()
    cache = CachedRelations(source, clock=clock, max_entries=3)
    for guardian_id in range(10):
        await cache.children_of(guardian_id)
    assert len(cache._entries) == 3
    await cache.children_of(9)
    assert source.calls.count(9) == 1


async def test_cached_local_relations_see_changes_after_ttl_or_invalidate(db):
    async with db.write() as s:
        parent = await f.patient(s, address_key="addr-1")
        first = await f.patient(s, date(2018, 1, 1), address_key="addr-1")
        await f.guardianship(s, parent, first)
    clock = Clock()
    cache = CachedRelations(LocalRelations(db), ttl=60, clock=clock)
    assert (await actor_for_guardian(db, cache, parent.id, TODAY)).represents == {first.id}
    async with db.write() as s:
        second = await f.patient(s, date(2019, 1, 1), address_key="addr-1")
        await f.guardianship(s, parent, second)
    assert (await actor_for_guardian(db, cache, parent.id, TODAY)).represents == {first.id}
    clock.now += 60
    assert (await actor_for_guardian(db, cache, parent.id, TODAY)).represents == {
        first.id, second.id}
    async with db.write() as s:
        third = await f.patient(s, date(2020, 1, 1), address_key="addr-1")
        await f.guardianship(s, parent, third)
    cache.invalidate(parent.id)
    assert (await actor_for_guardian(db, cache, parent.id, TODAY)).represents == {
        first.id, second.id, third.id}


# --- Reconciling the local tables with the register's answer ------------------

async def rows_of(db, guardian_id: int) -> set[int]:
    async with db.read() as s:
        return set((await s.execute(select(Guardianship.child_id).where(
            Guardianship.guardian_id == guardian_id))).scalars())


async def audit_count(db) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def test_reconcile_adds_removes_and_updates_from_the_answer(db):
    async with db.write() as s:
        parent = await f.patient(s, date(1985, 1, 1), address_key=None)
        other = await f.patient(s, date(1983, 1, 1), address_key="stale")
        stays = await f.patient(s, date(2016, 6, 1), address_key=None)
        arrives = await f.patient(s, date(2017, 6, 1))
        gone = await f.patient(s, date(2015, 6, 1))
        no_responsibility = await f.patient(s, date(2018, 6, 1))
        elsewhere = await f.patient(s, date(2014, 6, 1))
        for kid in (stays, gone, no_responsibility):
            await f.guardianship(s, parent, kid)
        await f.guardianship(s, other, elsewhere)  # another guardian's row: left alone
    me = PersonFacts(parent.id, date(1985, 1, 1), "home")
    other_facts = PersonFacts(other.id, date(1983, 1, 1), "away",
                              ConfidentialAddress.CONFIDENTIAL)
    answer = [
        ChildRelation(me, PersonFacts(stays.id, date(2016, 6, 2), "home"), (other_facts,)),
        ChildRelation(me, PersonFacts(arrives.id, date(2017, 6, 1), "addr-1")),
        ChildRelation(me, PersonFacts(no_responsibility.id, date(2018, 6, 1), "addr-1"),
                      parental_responsibility=False),
    ]
    before = await audit_count(db)
    result = await reconcile_guardianships(db, parent.id, answer, guardian=me)

    assert result.added == (arrives.id,)
    assert set(result.removed) == {gone.id, no_responsibility.id}
    assert await rows_of(db, parent.id) == {stays.id, arrives.id}
    assert await rows_of(db, other.id) == {elsewhere.id}
    async with db.read() as s:
        rows = {p.id: p for p in (await s.execute(select(Patient))).scalars()}
    assert (rows[parent.id].address_key, rows[stays.id].address_key) == ("home", "home")
    assert rows[stays.id].birth_date == date(2016, 6, 2)
    # A confidential address keeps no address key.
    assert rows[other.id].confidential_address == ConfidentialAddress.CONFIDENTIAL
    assert rows[other.id].address_key is None
    assert dict(result.updated) == {
        parent.id: ("address_key",), other.id: ("address_key", "confidential_address"),
        stays.id: ("birth_date", "address_key")}

    async with db.read() as s:
        entries = (await s.execute(select(AuditEntry).where(AuditEntry.id > before)
                                   .order_by(AuditEntry.id))).scalars().all()
        assert (await audit.verify(s)).intact
    assert [(e.action, e.subject_patient_id) for e in entries] == [
        ("guardianship.add", arrives.id),
        *sorted(("guardianship.remove", c) for c in (gone.id, no_responsibility.id)),
        *(("patient.register_facts", p) for p in sorted((parent.id, other.id, stays.id))),
    ]
    assert {(e.actor_kind, e.actor_id, e.purpose) for e in entries} == {
        (ActorKind.SYSTEM, "system:population-register", "system")}
    assert entries[0].detail == {"guardian_id": parent.id}

    # The same answer again changes nothing and writes nothing.
    after = await audit_count(db)
    again = await reconcile_guardianships(db, parent.id, answer, guardian=me)
    assert not again.changed
    assert await audit_count(db) == after


async def test_reconcile_empty_answer_and_missing_rows(db):
    async with db.write() as s:
        parent = await f.patient(s)
        kid = await f.patient(s, date(2018, 1, 1))
        await f.guardianship(s, parent, kid)
    me = PersonFacts.from_patient(parent)
    # A child the answer names but who is no (longer a) patient here is skipped.
    ghost = ChildRelation(me, PersonFacts(987_654, date(2018, 1, 1), "addr-1"))
    result = await reconcile_guardianships(db, parent.id, [ghost])
    assert (result.added, result.removed) == ((), (kid.id,))
    assert await rows_of(db, parent.id) == set()
    # A guardian who is no patient here: nothing to do.
    assert not (await reconcile_guardianships(db, 987_655, [ghost])).changed


async def test_concurrent_reconciliations_of_one_guardian_agree(db):
    async with db.write() as s:
        parent = await f.patient(s)
        kids = [await f.patient(s, date(2018, 1, 1)) for _ in range(3)]
    me = PersonFacts.from_patient(parent)
    answer = [ChildRelation(me, PersonFacts.from_patient(k)) for k in kids]
    results = await asyncio.gather(*(reconcile_guardianships(db, parent.id, answer)
                                     for _ in range(4)))
    assert await rows_of(db, parent.id) == {k.id for k in kids}
    assert sum(len(r.added) for r in results) == 3
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "guardianship.add")) == 3
