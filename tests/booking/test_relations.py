"""Relations from the local tables, the short cache, and the request's actor."""

from __future__ import annotations

from datetime import date

import pytest

from booking import rules
from booking.audit import Actor
from booking.relations import (
    CachedRelations,
    ChildRelation,
    LocalRelations,
    actor_for_guardian,
    guardian_children,
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
