"""Test doubles and helpers for the notification core: an in-memory SMS
channel that can be told how each hand-over goes, a queue that records what
was put on it, a clock the test moves, and a booking world with phones."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as redis_lib
from sqlalchemy import func, select, update

from booking import service
from booking.audit import Actor
from booking.models import Patient
from booking.service import Outcome
from core.db import Database
from notifications.channels.base import SendOutcome, SmsResult
from notifications.models import Notification
from notifications.recipients import ProfileDirectory
from notifications.runtime import DeliveryConfig, Runtime
from notifications.statuses import Channel
from notifications.templates import link_key
from tests.booking.booking_world import NOW, World, make_world

PUBLIC_URL = "https://tanntid.example.no"
ADULT_MOBILE = "+4791234567"
OTHER_MOBILE = "+4741234567"
GUARDIAN_MOBILE = "+4790000001"
GUARDIAN2_MOBILE = "+4790000002"
STAFF = Actor.staff("s1", set())
EARLY = NOW - timedelta(days=3)  # 2030-02-26 09:00Z, so every reminder is still ahead
START = datetime(2030, 3, 4, 9, tzinfo=UTC)  # slot 0: Monday 10:00 in Oslo


@dataclass
class Handed:
    notification_id: int
    to_e164: str
    body: str
    validity_seconds: int
    provider_ref: str


@dataclass
class MemorySms:
    """An :class:`~notifications.channels.base.SmsChannel` in memory.

    ``script`` says how the next hand-overs go, one word each (default
    "accept"): accept, retry, fail (permanent, number unusable), opted_out,
    lost (the provider took it but the answer never came: UNKNOWN),
    unknown (it never reached the provider, and we cannot tell), raise.
    ``lookup`` answers from what the provider really has.
    """

    script: deque[str] = field(default_factory=deque)
    messages: list[Handed] = field(default_factory=list)
    calls: int = 0
    lookups: int = 0
    #: Set whenever a message reaches the "provider".
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def will(self, *words: str) -> None:
        self.script.extend(words)

    def delivered_to(self) -> Counter[int]:
        return Counter(m.notification_id for m in self.messages)

    def _take(self, notification_id: int, to_e164: str, body: str, validity: int) -> Handed:
        handed = Handed(notification_id, to_e164, body, validity,
                        f"SM{len(self.messages) + 1:032d}")
        self.messages.append(handed)
        self.arrived.set()
        return handed

    async def send(self, *, notification_id: int, to_e164: str, body: str,
                   validity_seconds: int) -> SmsResult:
        self.calls += 1
        word = self.script.popleft() if self.script else "accept"
        if word == "accept":
            handed = self._take(notification_id, to_e164, body, validity_seconds)
            return SmsResult(SendOutcome.ACCEPTED, provider_ref=handed.provider_ref,
                             status="sending")
        if word == "retry":
            return SmsResult(SendOutcome.RETRY, error_code=20429, retry_after=30.0,
                             reason="Too many concurrent requests")
        if word == "fail":
            return SmsResult(SendOutcome.FAILED, status="permanent-failure", error_code=21211,
                             reason="Invalid 'To' number", number_unusable=True)
        if word == "opted_out":
            return SmsResult(SendOutcome.FAILED, status="permanent-failure", error_code=21610,
                             reason="Recipient opted out (STOP)", number_unusable=True,
                             opted_out=True)
        if word == "lost":
            self._take(notification_id, to_e164, body, validity_seconds)
            return SmsResult(SendOutcome.UNKNOWN, reason="read timeout")
        if word == "unknown":
            return SmsResult(SendOutcome.UNKNOWN, reason="connection dropped")
        if word == "raise":
            raise RuntimeError("bug in a channel")
        raise AssertionError(f"unknown script word {word!r}")

    async def lookup(self, *, notification_id: int, provider_ref: str | None,
                     to_e164: str | None = None, body: str | None = None,
                     sent_after: datetime | None = None) -> SmsResult | None:
        self.lookups += 1
        for handed in self.messages:
            if handed.notification_id == notification_id:
                return SmsResult(SendOutcome.ACCEPTED, provider_ref=handed.provider_ref,
                                 status="pending")
        return None


class RecordingQueue:
    """A :class:`~notifications.runtime.JobQueue` that only remembers."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[int, int]] = []
        self.receipts: list[int] = []
        self.replies: list[int] = []

    async def enqueue_deliveries(self, items: Any) -> int:
        self.deliveries.extend(items)
        return len(items)

    async def enqueue_receipts(self, receipt_ids: Any) -> int:
        self.receipts.extend(receipt_ids)
        return len(receipt_ids)

    async def enqueue_replies(self, inbound_ids: Any) -> int:
        self.replies.extend(inbound_ids)
        return len(inbound_ids)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def make_runtime(db: Database, sms: Any, clock: Clock, **config: Any) -> Runtime:
    values: dict[str, Any] = {"public_url": PUBLIC_URL, "link_key": link_key("test-secret")}
    values.update(config)
    return Runtime(db=db, sms=sms, contacts=ProfileDirectory(db),
                   config=DeliveryConfig(**values), queue=RecordingQueue(), clock=clock)


async def world_with_phones(db: Database) -> World:
    world = await make_world(db)
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == world.adult.id)
                              .values(mobile=ADULT_MOBILE))
        await session.execute(update(Patient).where(Patient.id == world.other_adult.id)
                              .values(mobile=OTHER_MOBILE))
    return world


async def book_adult(db: Database, world: World, *, slot: int = 0, now: datetime = EARLY,
                     **kw: Any) -> Outcome:
    """The adult books slot ``slot`` (by default three days before ``NOW``)."""
    return await service.book(db, Actor.patient(world.adult.id), patient_id=world.adult.id,
                              slot_id=world.slots[slot].id, appointment_type_id=world.exam.id,
                              now=now, **kw)


async def rows(db: Database, *, channel: str | None = Channel.SMS, **where: Any
               ) -> list[Notification]:
    """The outbox rows matching ``where``, oldest first: SMS only unless
    ``channel`` says otherwise (None: every channel). Every booking change
    also writes a Helsenorge row; ``tests/notifications/test_helsenorge_sync.py``
    is about those."""
    if channel is not None:
        where["channel"] = channel
    async with db.read() as session:
        query = select(Notification).order_by(Notification.id)
        for name, value in where.items():
            query = query.where(getattr(Notification, name) == value)
        return list((await session.execute(query)).scalars())


async def helsenorge_went(db: Database, at: datetime) -> None:
    """As if every waiting Helsenorge row had been PUT at ``at``: for tests of
    the SMS rows' machinery, which would otherwise meet those due rows too."""
    async with db.write() as session:
        await session.execute(
            update(Notification).where(Notification.channel == Channel.HELSENORGE,
                                       Notification.status == "created")
            .values(status="delivered", status_at=at, handed_over_at=at, attempts=1))


async def row(db: Database, notification_id: int) -> Notification:
    async with db.read() as session:
        found = await session.get(Notification, notification_id)
        assert found is not None
        return found


async def count(db: Database, *, channel: str | None = Channel.SMS) -> int:
    """How many outbox rows there are (SMS only unless ``channel`` says otherwise)."""
    query = select(func.count()).select_from(Notification)
    if channel is not None:
        query = query.where(Notification.channel == channel)
    async with db.read() as session:
        return int((await session.execute(query)).scalar_one())


async def purge_redis(url: str, *patterns: str) -> None:
    """Remove this test's queue, jobs, results and health-check keys."""
    cleaner = redis_lib.Redis.from_url(url)
    try:
        for pattern in patterns:
            keys = [key async for key in cleaner.scan_iter(match=pattern)]
            if keys:
                await cleaner.delete(*keys)
    finally:
        await cleaner.aclose()


__all__ = ["NOW", "World"]
