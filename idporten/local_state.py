"""What the local test ID-porten must remember between the steps of a login:
pushed authorization requests, login pages, codes, provider sessions, the
client assertions already seen, and its signing key.

Kept in the service's database (``local_idporten_state``), not in process
memory: behind a load balancer, or with ``tanntid serve --workers N``, the
pushed request, the login page, the callback and the token request of one
login can each reach a different process. Every entry expires; expired ones
are removed as new ones are written. The provider accepts synthetic
identity numbers only, and a code (which names one) lives a minute.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Database, UTCDateTime


class LocalProviderEntry(Base):
    """One remembered thing, keyed ``kind:name`` (``par:…``, ``code:…``)."""

    __tablename__ = "local_idporten_state"
    __table_args__ = (Index("ix_local_idporten_state_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    #: A code that has been exchanged (kept until it expires, so a replay is
    #: recognised as one).
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    #: None: kept for good (the signing key).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProviderState:
    """The provider's shared memory, on the database. ``clock`` is the
    provider's (seconds since the epoch), so tests can move time."""

    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock

    def _at(self, seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    def _live(self, expires_at: datetime | None) -> bool:
        return expires_at is None or expires_at > self._at(self.clock())

    async def put(self, kind: str, name: str, value: dict[str, Any], lifetime: float) -> None:
        async with self.db.write() as session:
            await session.execute(delete(LocalProviderEntry).where(
                LocalProviderEntry.expires_at < self._at(self.clock())))
            session.add(LocalProviderEntry(key=f"{kind}:{name}", value=json.dumps(value),
                                           used=False,
                                           expires_at=self._at(self.clock() + lifetime)))

    async def take(self, kind: str, name: str) -> dict[str, Any] | None:
        """The entry, removed (single use); None when unknown, taken or expired.
        Of two processes taking the same entry at once, one gets it."""
        key = f"{kind}:{name}"
        async with self.db.write() as session:
            row = (await session.execute(
                select(LocalProviderEntry.value, LocalProviderEntry.expires_at)
                .where(LocalProviderEntry.key == key))).first()
            if row is None:
                return None
            removed = await session.execute(
                delete(LocalProviderEntry).where(LocalProviderEntry.key == key))
        if removed.rowcount != 1 or not self._live(row.expires_at):  # type: ignore[attr-defined]
            return None
        value: dict[str, Any] = json.loads(row.value)
        return value

    async def use(self, kind: str, name: str) -> tuple[str, dict[str, Any] | None]:
        """Mark the entry used: ``("ok", value)`` the first time, ``("used",
        value)`` after, ``("unknown", None)`` when there is none. An expired
        entry still answers, so the caller can say "expired"."""
        key = f"{kind}:{name}"
        async with self.db.write() as session:
            row = (await session.execute(
                select(LocalProviderEntry.value).where(LocalProviderEntry.key == key))).first()
            if row is None:
                return "unknown", None
            marked = await session.execute(
                update(LocalProviderEntry).where(LocalProviderEntry.key == key,
                                                 LocalProviderEntry.used.is_(False))
                .values(used=True))
        value: dict[str, Any] = json.loads(row.value)
        return ("ok" if marked.rowcount == 1 else "used"), value  # type: ignore[attr-defined]

    async def first_time(self, kind: str, name: str, until: float) -> bool:
        """Remember ``name`` until ``until``; False when it is already remembered
        (a replay)."""
        key = f"{kind}:{name}"
        try:
            async with self.db.write() as session:
                await session.execute(delete(LocalProviderEntry).where(
                    LocalProviderEntry.key == key,
                    LocalProviderEntry.expires_at < self._at(self.clock())))
                await session.execute(insert(LocalProviderEntry).values(
                    key=key, value="{}", used=False, expires_at=self._at(until)))
        except IntegrityError:
            return False
        return True

    async def keep(self, kind: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
        """The value kept for good under ``kind:name``: the one already there,
        else ``value`` (the first process to get here decides)."""
        key = f"{kind}:{name}"
        async with self.db.read() as session:
            found = await session.scalar(
                select(LocalProviderEntry.value).where(LocalProviderEntry.key == key))
        if found is None:
            try:
                async with self.db.write() as session:
                    await session.execute(insert(LocalProviderEntry).values(
                        key=key, value=json.dumps(value), used=False, expires_at=None))
                return value
            except IntegrityError:
                async with self.db.read() as session:
                    found = await session.scalar(
                        select(LocalProviderEntry.value).where(LocalProviderEntry.key == key))
        assert found is not None
        kept: dict[str, Any] = json.loads(found)
        return kept
