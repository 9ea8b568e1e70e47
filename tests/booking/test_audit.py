"""The audit log is append-only and its hash chain shows tampering."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from booking import audit
from booking.audit import Actor
from tests import factories as f


async def write_entries(db, n: int = 5) -> None:
    async with db.write() as s:
        p = await f.patient(s)
    for i in range(n):
        async with db.write() as s:
            await audit.record(s, Actor.staff("s1", {1}), "patient.read", purpose="reception",
                               subject_patient_id=p.id, detail={"i": i})


async def test_intact_chain_verifies(db):
    await write_entries(db)
    async with db.read() as s:
        report = await audit.verify(s)
    assert report.intact and report.entries == 5


async def test_update_and_delete_are_refused_by_the_database(db):
    await write_entries(db, 2)
    for statement in ("UPDATE audit_log SET purpose = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.write() as s:
                await s.execute(text(statement))
    async with db.read() as s:
        assert (await audit.verify(s)).entries == 2


async def _disable_guards(s, dialect: str) -> None:
    """What an attacker with database superuser rights would do first."""
    if dialect == "postgresql":
        await s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"))
    else:
        await s.execute(text("DROP TRIGGER audit_log_no_update"))
        await s.execute(text("DROP TRIGGER audit_log_no_delete"))


@pytest.mark.parametrize("tamper", [
    "UPDATE audit_log SET purpose = 'innocent' WHERE id = (SELECT MIN(id) + 2 FROM audit_log)",
    "UPDATE audit_log SET subject_patient_id = 999 WHERE id = (SELECT MIN(id) + 1 FROM audit_log)",
    "DELETE FROM audit_log WHERE id = (SELECT MIN(id) + 2 FROM audit_log)",
])
async def test_tampering_is_detected(db, tamper):
    await write_entries(db)
    async with db.read() as s:
        first_id = (await s.execute(text("SELECT MIN(id) FROM audit_log"))).scalar_one()
    async with db.write() as s:
        await _disable_guards(s, db.dialect)
        await s.execute(text(tamper))
    async with db.read() as s:
        report = await audit.verify(s)
    assert not report.intact
    assert report.first_broken_id in (first_id + 1, first_id + 2, first_id + 3)


async def test_rewriting_a_hash_too_is_still_detected(db):
    """Recomputing one entry's hash breaks the link of the entry after it."""
    await write_entries(db)
    async with db.read() as s:
        first_id = (await s.execute(text("SELECT MIN(id) FROM audit_log"))).scalar_one()
    async with db.write() as s:
        await _disable_guards(s, db.dialect)
        await s.execute(text("UPDATE audit_log SET entry_hash = :h WHERE id = :i"),
                        {"h": "f" * 64, "i": first_id + 1})
    async with db.read() as s:
        report = await audit.verify(s)
    assert report.first_broken_id == first_id + 1
