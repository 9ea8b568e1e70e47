"""The audit log: who did what to whose data, and why.

Entries form a hash chain: each stores the hash of the one before it, and its
own hash covers its content and that link. Editing, deleting or inserting an
entry anywhere breaks the chain from there on, which :func:`verify` reports.
The database refuses UPDATE and DELETE on the table (triggers below), so a
break means someone went around the application and the database's rules.

Writers serialise on the chain's tail: PostgreSQL with a transaction-scoped
advisory lock, SQLite through its single writer. Call :func:`record` as the
last statement of a unit of work so that lock is held for as short a time as
possible.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import AuditEntry
from booking.statuses import ActorKind
from core.db import utcnow

GENESIS = "0" * 64
_LOCK_KEY = 0x7A_4E_11_D0  # any constant shared by all writers

@dataclass(frozen=True)
class Actor:
    """Who acts. ``id`` is an internal id (patient id, staff id, system name),
    never an identity number."""

    kind: ActorKind
    id: str
    #: For patients and guardians: their own patient id.
    patient_id: int | None = None
    #: For staff: the clinics they may act for.
    clinic_ids: frozenset[int] = frozenset()
    #: For guardians: the patients they may handle appointments for today,
    #: as the representation rules decided at the start of this request.
    represents: frozenset[int] = frozenset()

    @classmethod
    def patient(cls, patient_id: int) -> Actor:
        return cls(ActorKind.PATIENT, f"patient:{patient_id}", patient_id)

    @classmethod
    def guardian(cls, patient_id: int, represents: frozenset[int] | set[int]) -> Actor:
        return cls(ActorKind.GUARDIAN, f"patient:{patient_id}", patient_id,
                   represents=frozenset(represents))

    @classmethod
    def staff(cls, staff_id: str, clinic_ids: frozenset[int] | set[int]) -> Actor:
        return cls(ActorKind.STAFF, f"staff:{staff_id}", None, frozenset(clinic_ids))

    @classmethod
    def record_system(cls, name: str = "record-system") -> Actor:
        return cls(ActorKind.RECORD_SYSTEM, f"system:{name}")

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(ActorKind.SYSTEM, f"system:{name}")


def entry_hash(prev_hash: str, occurred_at: datetime, actor_kind: str, actor_id: str,
               on_behalf_of_id: int | None, subject_patient_id: int | None, action: str,
               purpose: str, detail: dict[str, Any]) -> str:
    payload = json.dumps(
        [prev_hash, occurred_at.isoformat(timespec="microseconds"), actor_kind, actor_id,
         on_behalf_of_id, subject_patient_id, action, purpose, detail],
        sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


async def _lock_tail(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


async def record(session: AsyncSession, actor: Actor, action: str, *, purpose: str,
                 subject_patient_id: int | None = None, on_behalf_of_id: int | None = None,
                 detail: dict[str, Any] | None = None,
                 now: datetime | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction. ``detail`` holds internal
    ids only: no names, identity numbers or phone numbers."""
    await _lock_tail(session)
    prev = (
        await session.execute(
            select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
        )
    ).scalar_one_or_none() or GENESIS
    occurred_at = now or utcnow()
    detail = detail or {}
    entry = AuditEntry(
        occurred_at=occurred_at,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        on_behalf_of_id=on_behalf_of_id,
        subject_patient_id=subject_patient_id,
        action=action,
        purpose=purpose,
        detail=detail,
        prev_hash=prev,
        entry_hash=entry_hash(prev, occurred_at, actor.kind.value, actor.id, on_behalf_of_id,
                              subject_patient_id, action, purpose, detail),
    )
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_broken_id: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


async def verify(session: AsyncSession, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in order; report the first entry that does not fit."""
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        rows = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id).limit(batch)
            )
        ).scalars().all()
        if not rows:
            return ChainReport(count, None)
        for row in rows:
            expected = entry_hash(prev, row.occurred_at, row.actor_kind, row.actor_id,
                                  row.on_behalf_of_id, row.subject_patient_id, row.action,
                                  row.purpose, row.detail)
            if row.prev_hash != prev or row.entry_hash != expected:
                return ChainReport(count, row.id)
            prev = row.entry_hash
            count += 1
            last_id = row.id
        session.expunge_all()


async def entries_about(session: AsyncSession, patient_id: int,
                        exclude_actor_id: str | None = None) -> list[AuditEntry]:
    """What was done to one patient's data, newest first; for "who has seen my data"."""
    query = select(AuditEntry).where(AuditEntry.subject_patient_id == patient_id)
    if exclude_actor_id is not None:
        query = query.where(AuditEntry.actor_id != exclude_actor_id)
    return list((await session.execute(query.order_by(AuditEntry.id.desc()))).scalars())
