"""The audit log: who did what to whose data, and why.

Entries form hash chains, one per patient (``patient:<id>``, every entry about
that patient) and one per actor for entries about no patient
(``actor:<actor id>``). Each entry stores the hash of the one before it in its
chain and its position there (``seq``, from 1); its own hash covers its content
and that link. Editing, deleting, inserting or reordering entries breaks a
chain from there on, which :func:`verify` reports. The database refuses UPDATE
and DELETE on the table (triggers), so a break means someone went around the
application and the database's rules.

No lock is shared by writers of different chains. A writer reads its chain's
tail and inserts the next position with ``ON CONFLICT (chain, seq) DO
NOTHING``; the unique ``(chain, seq)`` makes two writers of one chain take
turns (the second waits for the first to commit, finds its position taken and
reads the tail again). A booking already holds the patient's row lock, so its
chain never has a second writer at that moment.

What a chain alone cannot show is its own newest entries cut off. So
:func:`seal` (the worker runs it every few seconds, ``tanntid audit seal``
by hand) writes a seal: the heads (position and hash) of the chains that grew
since the previous seal, hash-chained seal after seal in ``audit_seals``
(append-only too). :func:`verify` checks every chain, the seals' own chain,
and that every chain still reaches the head its latest seal names.

Entries written before there were chains form the ``national`` chain, in id
order, with no ``seq``; they verify as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import AuditEntry, AuditSeal
from booking.statuses import ActorKind
from core.db import utcnow

GENESIS = "0" * 64
#: The chain of the entries written before there were chains (id order).
NATIONAL = "national"
#: A writer that keeps losing its chain's next position to others gives up.
_MAX_APPEND_TRIES = 20

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


def chain_of(actor_id: str, subject_patient_id: int | None) -> str:
    """The chain an entry belongs to."""
    if subject_patient_id is not None:
        return f"patient:{subject_patient_id}"
    return f"actor:{actor_id}"


_log = cast(Table, AuditEntry.__table__)
#: The columns :func:`record` writes.
_WRITTEN = ("occurred_at", "actor_kind", "actor_id", "on_behalf_of_id", "subject_patient_id",
            "action", "purpose", "detail", "chain", "seq", "prev_hash", "entry_hash")
_TAIL = (select(_log.c.seq, _log.c.entry_hash).where(_log.c.chain == bindparam("p_chain"))
         .order_by(_log.c.seq.desc()).limit(1))


def _append_statement(dialect: str) -> Any:
    """Built once per dialect: insert one entry unless its place in its chain is taken."""
    values = {name: bindparam(f"v_{name}", type_=_log.c[name].type) for name in _WRITTEN}
    if dialect == "postgresql":
        return (postgresql.insert(_log).values(values)
                .on_conflict_do_nothing(index_elements=["chain", "seq"]).returning(_log.c.id))
    if dialect == "sqlite":
        return (sqlite.insert(_log).values(values)
                .on_conflict_do_nothing(index_elements=["chain", "seq"]).returning(_log.c.id))
    raise RuntimeError(f"no audit append for {dialect}")


_APPEND: dict[str, Any] = {}


def tail_columns(chain: Any) -> tuple[Any, Any]:
    """The position and hash of the newest entry of ``chain`` (a SQL
    expression), as two scalar subqueries: for a caller that reads other
    things in the same statement and passes the result to :func:`record` as
    ``tail``."""
    newest = (select(_log.c.seq, _log.c.entry_hash).where(_log.c.chain == chain)
              .order_by(_log.c.seq.desc()).limit(1).subquery())
    return select(newest.c.seq).scalar_subquery(), select(newest.c.entry_hash).scalar_subquery()


async def record(session: AsyncSession, actor: Actor, action: str, *, purpose: str,
                 subject_patient_id: int | None = None, on_behalf_of_id: int | None = None,
                 detail: dict[str, Any] | None = None,
                 now: datetime | None = None,
                 tail: tuple[int | None, str | None] | None = None) -> AuditEntry:
    """Append one entry to its chain in the caller's transaction: two
    statements (the chain's tail, the insert), or one when the caller read
    the tail already (``tail``: the newest entry's position and hash, both
    None for an empty chain; see :func:`tail_columns`). A tail that moved
    meanwhile costs a retry, never a fork. ``detail`` holds internal ids
    only: no names, identity numbers or phone numbers."""
    occurred_at = now or utcnow()
    detail = detail or {}
    chain = chain_of(actor.id, subject_patient_id)
    values: dict[str, Any] = dict(
        occurred_at=occurred_at, actor_kind=actor.kind.value, actor_id=actor.id,
        on_behalf_of_id=on_behalf_of_id, subject_patient_id=subject_patient_id,
        action=action, purpose=purpose, detail=detail, chain=chain)
    dialect = session.get_bind().dialect.name
    statement = _APPEND.get(dialect)
    if statement is None:
        statement = _APPEND[dialect] = _append_statement(dialect)
    for _ in range(_MAX_APPEND_TRIES):
        if tail is None:
            found = (await session.execute(_TAIL, {"p_chain": chain})).one_or_none()
            tail = (found[0], found[1]) if found else (None, None)
        last_seq, last_hash = tail
        tail = None  # a retry reads it again
        seq, prev = ((last_seq or 0) + 1, last_hash) if last_hash is not None else (1, GENESIS)
        values.update(seq=seq, prev_hash=prev, entry_hash=entry_hash(
            prev, occurred_at, actor.kind.value, actor.id, on_behalf_of_id,
            subject_patient_id, action, purpose, detail))
        new_id = (await session.execute(
            statement, {f"v_{name}": values[name] for name in _WRITTEN})).scalar_one_or_none()
        if new_id is not None:
            return AuditEntry(id=new_id, **values)
    raise RuntimeError(f"audit chain {chain} kept moving: gave up after "
                       f"{_MAX_APPEND_TRIES} tries")


def seal_hash(prev_hash: str, sealed_at: datetime, through_id: int,
              heads: Sequence[Sequence[Any]]) -> str:
    payload = json.dumps(
        [prev_hash, sealed_at.isoformat(timespec="microseconds"), through_id,
         [list(head) for head in heads]],
        separators=(",", ":"), ensure_ascii=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _position() -> Any:
    """An entry's place in its chain: ``seq``, or the id in the national chain."""
    return func.coalesce(AuditEntry.seq, AuditEntry.id)


async def seal(session: AsyncSession, now: datetime | None = None) -> AuditSeal | None:
    """Seal the heads of the chains that grew since the last seal; None when
    none did. On PostgreSQL it first locks the log against writers (SHARE ROW
    EXCLUSIVE: it waits for the writers in flight to commit and holds new ones
    back for the few milliseconds it takes, so no entry below ``through_id``
    can appear later; and two sealers take turns, so seals never fork)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
    last = (await session.execute(
        select(AuditSeal.through_id, AuditSeal.seal_hash)
        .order_by(AuditSeal.id.desc()).limit(1))).one_or_none()
    low, prev = (last[0], last[1]) if last else (0, GENESIS)
    grown = (select(AuditEntry.chain, func.max(_position()).label("position"),
                    func.max(AuditEntry.id).label("last_id"))
             .where(AuditEntry.id > low).group_by(AuditEntry.chain).subquery())
    rows = (await session.execute(
        select(AuditEntry.chain, grown.c.position, AuditEntry.entry_hash, grown.c.last_id)
        .join(grown, (AuditEntry.chain == grown.c.chain)
              & (_position() == grown.c.position))
        .order_by(AuditEntry.chain))).all()
    if not rows:
        return None
    heads = [[chain, int(position), hash_] for chain, position, hash_, _ in rows]
    through_id = max(int(row[3]) for row in rows)
    sealed_at = now or utcnow()
    entry = AuditSeal(sealed_at=sealed_at, through_id=through_id, heads=heads,
                      prev_hash=prev, seal_hash=seal_hash(prev, sealed_at, through_id, heads))
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    #: The smallest id of an entry that does not fit its chain.
    first_broken_id: int | None
    chains: int = 0
    seals: int = 0
    #: The first seal whose own link or hash does not fit.
    first_broken_seal_id: int | None = None
    #: Chains that no longer reach the head a seal names (cut short or gone).
    cut_chains: tuple[str, ...] = field(default=())

    @property
    def intact(self) -> bool:
        return (self.first_broken_id is None and self.first_broken_seal_id is None
                and not self.cut_chains)


async def _sealed_heads(session: AsyncSession
                        ) -> tuple[int, int | None, dict[str, tuple[int, str]]]:
    """The seals' chain checked; the latest sealed head of every chain."""
    heads: dict[str, tuple[int, str]] = {}
    prev = GENESIS
    count = 0
    result = await session.stream(
        select(AuditSeal.id, AuditSeal.sealed_at, AuditSeal.through_id, AuditSeal.heads,
               AuditSeal.prev_hash, AuditSeal.seal_hash).order_by(AuditSeal.id)
        .execution_options(yield_per=500))
    async for seal_id, sealed_at, through_id, sealed, prev_hash, hash_ in result:
        if prev_hash != prev or hash_ != seal_hash(prev, sealed_at, through_id, sealed):
            await result.close()
            return count, seal_id, heads
        for chain, position, entry in sealed:
            if heads.get(chain, (0, ""))[0] > position:
                await result.close()
                return count, seal_id, heads
            heads[chain] = (position, entry)
        prev = hash_
        count += 1
    return count, None, heads


async def verify(session: AsyncSession, batch: int = 5000) -> ChainReport:
    """Walk every chain in order, then compare the chains' heads with the
    seals: the report names the first entry that does not fit its chain, the
    first seal that does not fit, and the chains cut short behind a seal."""
    seals, broken_seal, sealed = await _sealed_heads(session)
    count = 0
    chains = 0
    broken: int | None = None
    cut: list[str] = []
    current: str | None = None
    prev = GENESIS
    position = 0
    bad_chain = False

    def finish(chain: str | None, reached: int) -> None:
        if chain is not None and chain in sealed and not bad_chain:
            if reached < sealed[chain][0]:
                cut.append(chain)
        if chain is not None:
            sealed.pop(chain, None)

    result = await session.stream(
        select(AuditEntry.id, AuditEntry.chain, AuditEntry.seq, AuditEntry.occurred_at,
               AuditEntry.actor_kind, AuditEntry.actor_id, AuditEntry.on_behalf_of_id,
               AuditEntry.subject_patient_id, AuditEntry.action, AuditEntry.purpose,
               AuditEntry.detail, AuditEntry.prev_hash, AuditEntry.entry_hash)
        .order_by(AuditEntry.chain, AuditEntry.seq, AuditEntry.id)
        .execution_options(yield_per=batch))
    async for (entry_id, chain, seq, occurred_at, actor_kind, actor_id, on_behalf_of_id,
               subject_patient_id, action, purpose, detail, prev_hash, hash_) in result:
        if chain != current:
            finish(current, position)
            current, prev, position, bad_chain = chain, GENESIS, 0, False
            chains += 1
        if bad_chain:
            continue
        national = chain == NATIONAL
        here = int(entry_id if national or seq is None else seq)
        fits = (
            prev_hash == prev
            and hash_ == entry_hash(prev, occurred_at, actor_kind, actor_id, on_behalf_of_id,
                                    subject_patient_id, action, purpose, detail)
            and (seq is None if national
                 else seq == position + 1 and chain == chain_of(actor_id, subject_patient_id))
        )
        if fits and chain in sealed and here == sealed[chain][0]:
            fits = hash_ == sealed[chain][1]
        if not fits:
            bad_chain = True
            broken = entry_id if broken is None else min(broken, entry_id)
            continue
        prev, position = hash_, here
        count += 1
    finish(current, position)
    cut.extend(sealed)  # sealed chains with no entries left at all
    return ChainReport(count, broken, chains, seals, broken_seal, tuple(sorted(cut)))


async def entries_about(session: AsyncSession, patient_id: int,
                        exclude_actor_id: str | None = None) -> list[AuditEntry]:
    """What was done to one patient's data, newest first; for "who has seen my data"."""
    query = select(AuditEntry).where(AuditEntry.subject_patient_id == patient_id)
    if exclude_actor_id is not None:
        query = query.where(AuditEntry.actor_id != exclude_actor_id)
    return list((await session.execute(query.order_by(AuditEntry.id.desc()))).scalars())
