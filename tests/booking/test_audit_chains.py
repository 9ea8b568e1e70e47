"""The audit log's chains (one per patient, one per actor for entries about
no patient) and the seals over their heads: writers of different chains share
no lock, writers of one chain take turns, and what a single chain cannot show
about itself (its newest entries cut off) the seals show."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from booking import audit
from booking.audit import Actor
from booking.models import AuditEntry, AuditSeal
from core.db import Database
from tests import factories as f

STAFF = Actor.staff("s1", {1})


async def _patients(db: Database, n: int) -> list[int]:
    async with db.write() as s:
        return [(await f.patient(s)).id for _ in range(n)]


async def _write(db: Database, patient_id: int | None, i: int) -> None:
    async with db.write() as s:
        await audit.record(s, STAFF, "patient.read", purpose="reception",
                           subject_patient_id=patient_id, detail={"i": i})


async def _verify(db: Database) -> audit.ChainReport:
    async with db.read() as s:
        return await audit.verify(s)


async def _seal(db: Database) -> AuditSeal | None:
    async with db.write() as s:
        return await audit.seal(s)


async def _tamper(db: Database, *statements: tuple[str, dict[str, object]]) -> None:
    """With the append-only triggers off, as a database superuser could."""
    async with db.write() as s:
        if db.dialect == "postgresql":
            await s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"))
            await s.execute(text("ALTER TABLE audit_seals DISABLE TRIGGER audit_seals_no_update"))
        else:
            for trigger in ("audit_log_no_update", "audit_log_no_delete",
                            "audit_seals_no_change", "audit_seals_no_delete"):
                await s.execute(text(f"DROP TRIGGER {trigger}"))
        for statement, params in statements:
            await s.execute(text(statement), params)


async def _ids(db: Database, chain: str) -> list[int]:
    async with db.read() as s:
        return list((await s.execute(
            select(AuditEntry.id).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
        )).scalars())


async def test_each_patient_has_a_chain_of_their_own(db):
    one, two = await _patients(db, 2)
    for i in range(3):
        await _write(db, one, i)
        await _write(db, two, i)
    await _write(db, None, 0)
    async with db.read() as s:
        rows = (await s.execute(
            select(AuditEntry.chain, AuditEntry.seq, AuditEntry.prev_hash)
            .order_by(AuditEntry.id))).all()
    assert [(chain, seq) for chain, seq, _ in rows] == [
        (f"patient:{one}", 1), (f"patient:{two}", 1), (f"patient:{one}", 2),
        (f"patient:{two}", 2), (f"patient:{one}", 3), (f"patient:{two}", 3),
        ("actor:staff:s1", 1)]
    assert [prev for chain, seq, prev in rows if seq == 1] == [audit.GENESIS] * 3
    report = await _verify(db)
    assert report.intact and report.entries == 7 and report.chains == 3


async def test_concurrent_writers_of_many_and_of_one_chain_postgres(pg_db):
    """Twenty writers at once on five patients' chains: no lock between the
    chains, the writers of one chain take turns through (chain, seq), and
    every chain is whole afterwards."""
    patients = await _patients(pg_db, 5)
    await asyncio.gather(*[_write(pg_db, patients[i % 5], i) for i in range(20)])
    async with pg_db.read() as s:
        per_chain = dict((await s.execute(
            select(AuditEntry.chain, func.count()).group_by(AuditEntry.chain))).all())
        seqs = (await s.execute(
            select(AuditEntry.chain, func.min(AuditEntry.seq), func.max(AuditEntry.seq))
            .group_by(AuditEntry.chain))).all()
    assert per_chain == {f"patient:{p}": 4 for p in patients}
    assert all((low, high) == (1, 4) for _, low, high in seqs)
    report = await _verify(pg_db)
    assert report.intact and report.entries == 20


async def test_sealing_while_writers_write_postgres(pg_db):
    """Seals taken while entries are being written cover every entry once all
    are sealed, and the chains and seals verify."""
    patients = await _patients(pg_db, 5)

    async def seals() -> None:
        for _ in range(5):
            await _seal(pg_db)
            await asyncio.sleep(0)

    await asyncio.gather(seals(), *[_write(pg_db, patients[i % 5], i) for i in range(30)])
    await _seal(pg_db)
    async with pg_db.read() as s:
        last = (await s.execute(select(func.max(AuditSeal.through_id)))).scalar_one()
        newest = (await s.execute(select(func.max(AuditEntry.id)))).scalar_one()
    assert last == newest
    report = await _verify(pg_db)
    assert report.intact and report.entries == 30 and report.seals >= 1


async def test_a_seal_names_only_the_chains_that_grew(db):
    one, two = await _patients(db, 2)
    await _write(db, one, 0)
    await _write(db, two, 0)
    first = await _seal(db)
    assert first is not None
    assert [head[:2] for head in first.heads] == [[f"patient:{one}", 1], [f"patient:{two}", 1]]
    assert await _seal(db) is None  # nothing new
    await _write(db, two, 1)
    second = await _seal(db)
    assert second is not None and second.prev_hash == first.seal_hash
    assert [head[:2] for head in second.heads] == [[f"patient:{two}", 2]]
    report = await _verify(db)
    assert report.intact and report.seals == 2


async def test_cutting_a_sealed_chain_short_is_detected(db):
    """The newest entry of a chain leaves no gap in it; the seal still names it."""
    one, two = await _patients(db, 2)
    for i in range(3):
        await _write(db, one, i)
    await _write(db, two, 0)
    await _seal(db)
    newest = (await _ids(db, f"patient:{one}"))[-1]
    await _tamper(db, ("DELETE FROM audit_log WHERE id = :i", {"i": newest}))
    report = await _verify(db)
    assert not report.intact
    assert report.first_broken_id is None  # the chain itself still looks whole
    assert report.cut_chains == (f"patient:{one}",)


async def test_deleting_a_whole_sealed_chain_is_detected(db):
    one, two = await _patients(db, 2)
    await _write(db, one, 0)
    await _write(db, two, 0)
    await _seal(db)
    await _tamper(db, ("DELETE FROM audit_log WHERE chain = :c", {"c": f"patient:{one}"}))
    report = await _verify(db)
    assert report.cut_chains == (f"patient:{one}",) and not report.intact


async def test_editing_a_seal_is_detected(db):
    one, = await _patients(db, 1)
    await _write(db, one, 0)
    sealed = await _seal(db)
    assert sealed is not None
    await _tamper(db, ("UPDATE audit_seals SET through_id = through_id + 1", {}))
    report = await _verify(db)
    assert report.first_broken_seal_id == sealed.id and not report.intact


async def test_reordering_entries_of_a_chain_is_detected(db):
    one, = await _patients(db, 1)
    for i in range(4):
        await _write(db, one, i)
    first, second, *_ = await _ids(db, f"patient:{one}")
    await _tamper(
        db,
        ("UPDATE audit_log SET seq = 100 WHERE id = :i", {"i": first}),
        ("UPDATE audit_log SET seq = 1 WHERE id = :i", {"i": second}),
        ("UPDATE audit_log SET seq = 2 WHERE id = :i", {"i": first}),
    )
    report = await _verify(db)
    assert report.first_broken_id == second


async def test_an_inserted_entry_is_detected(db):
    """A forged entry at the end of a chain with a made-up link."""
    one, = await _patients(db, 1)
    for i in range(2):
        await _write(db, one, i)
    await _tamper(db, (
        "INSERT INTO audit_log (occurred_at, actor_kind, actor_id, subject_patient_id, action,"
        " purpose, detail, prev_hash, entry_hash, chain, seq) VALUES (CURRENT_TIMESTAMP,"
        " 'staff', 'staff:s1', :p, 'patient.read', 'reception', '{}', :prev, :hash, :c, 3)",
        {"p": one, "prev": "1" * 64, "hash": "2" * 64, "c": f"patient:{one}"}))
    report = await _verify(db)
    assert not report.intact
    assert report.first_broken_id == (await _ids(db, f"patient:{one}"))[-1]


async def test_moving_an_entry_to_another_patients_chain_is_detected(db):
    """The chain is not in the hash, but an entry must sit in its subject's chain."""
    one, two = await _patients(db, 2)
    await _write(db, one, 0)
    moved, = await _ids(db, f"patient:{one}")
    await _tamper(db, ("UPDATE audit_log SET chain = :c WHERE id = :i",
                      {"c": f"patient:{two}", "i": moved}))
    report = await _verify(db)
    assert report.first_broken_id == moved
