"""Server-side sessions in the database and in Redis: limits, lookup by sid,
and what is (not) stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis_asyncio
from sqlalchemy import select, update

from booking.models import Patient
from core.db import Database
from tests import factories as f
from web.auth.models import AuthSession
from web.auth.sessions import (
    CookiePolicy,
    DatabaseSessionStore,
    RedisSessionStore,
    SessionManager,
    SessionStore,
    derive_fernet,
    key_hash,
)

START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
FERNET = derive_fernet("s" * 40, "session-id-token")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def manager(store: SessionStore, clock: Clock) -> SessionManager:
    return SessionManager(store, idle=timedelta(minutes=30), absolute=timedelta(minutes=120),
                          clock=clock)


class StoreContract:
    """What every session store does; run against each store below."""

    async def test_a_session_is_found_by_its_cookie_and_keyed_by_its_hash(self, store):
        clock = Clock()
        sessions = manager(store, clock)
        value, created = await sessions.create("patient", issuer="iss", sid="sid-1",
                                               data={"acr": "idporten-loa-high"},
                                               id_token="a.b.c")
        assert created.key_hash == key_hash(value) != value
        found = await sessions.get(value, "patient")
        assert found is not None and found.acr == "idporten-loa-high" and found.id_token == "a.b.c"
        assert await sessions.get(value, "staff") is None  # another kind of session
        assert await sessions.get("guess", "patient") is None


    async def test_idle_timeout(self, store):
        clock = Clock()
        sessions = manager(store, clock)
        value, _ = await sessions.create("patient", issuer="iss", sid=None)
        clock.now += timedelta(minutes=29)
        assert await sessions.get(value, "patient") is not None  # and this counts as a visit
        clock.now += timedelta(minutes=29)
        assert await sessions.get(value, "patient") is not None
        clock.now += timedelta(minutes=30)
        assert await sessions.get(value, "patient") is None
        clock.now -= timedelta(minutes=30)  # deleted, not just hidden
        assert await sessions.get(value, "patient") is None


    async def test_absolute_limit(self, store):
        clock = Clock()
        sessions = manager(store, clock)
        value, _ = await sessions.create("patient", issuer="iss", sid=None)
        for _ in range(5):
            clock.now += timedelta(minutes=20)
            assert await sessions.get(value, "patient") is not None
        clock.now = START + timedelta(minutes=120)
        assert await sessions.get(value, "patient") is None


    async def test_end_by_sid_ends_every_session_of_that_sid_only(self, store):
        sessions = manager(store, Clock())
        first, _ = await sessions.create("patient", issuer="iss", sid="sid-1")
        second, _ = await sessions.create("staff", issuer="iss", sid="sid-1")
        other, _ = await sessions.create("patient", issuer="iss", sid="sid-2")
        elsewhere, _ = await sessions.create("patient", issuer="other-iss", sid="sid-1")
        assert await sessions.end_by_sid("iss", "sid-1") == 2
        assert await sessions.get(first, "patient") is None
        assert await sessions.get(second, "staff") is None
        assert await sessions.get(other, "patient") is not None
        assert await sessions.get(elsewhere, "patient") is not None


    async def test_end_returns_the_session_for_the_logout_hint(self, store):
        sessions = manager(store, Clock())
        value, _ = await sessions.create("patient", issuer="iss", sid="s", id_token="x.y.z")
        ended = await sessions.end(value)
        assert ended is not None and ended.id_token == "x.y.z"
        assert await sessions.get(value, "patient") is None


class TestDatabaseStore(StoreContract):
    @pytest.fixture
    def store(self, db: Database) -> SessionStore:
        return DatabaseSessionStore(db, FERNET)


@pytest.mark.redis
class TestRedisStore(StoreContract):
    @pytest.fixture
    async def store(self, redis_server_url: str, redis_prefix: str
                    ) -> AsyncIterator[SessionStore]:
        client = redis_asyncio.Redis.from_url(redis_server_url)
        try:
            yield RedisSessionStore(client, FERNET, prefix=redis_prefix)
        finally:
            keys = [key async for key in client.scan_iter(match=redis_prefix + "*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def test_the_id_token_is_stored_encrypted(db):
    store = DatabaseSessionStore(db, FERNET)
    sessions = manager(store, Clock())
    await sessions.create("patient", issuer="iss", sid="s", id_token="header.payload.sig")
    async with db.read() as session:
        row = (await session.execute(select(AuthSession))).scalar_one()
    assert row.id_token_encrypted and b"payload" not in row.id_token_encrypted


async def test_purge_removes_only_dead_sessions(db):
    clock = Clock()
    store = DatabaseSessionStore(db, FERNET)
    sessions = manager(store, clock)
    await sessions.create("patient", issuer="iss", sid=None)
    clock.now += timedelta(minutes=40)
    fresh, _ = await sessions.create("patient", issuer="iss", sid=None)
    assert await store.purge_expired(clock.now, timedelta(minutes=30)) == 1
    assert await sessions.get(fresh, "patient") is not None


def test_cookie_policy():
    assert CookiePolicy.for_app("s", env="dev", public_url="http://127.0.0.1:8000") == \
        CookiePolicy("s", secure=False)
    assert CookiePolicy.for_app("s", env="test", public_url="http://127.0.0.1:8000") == \
        CookiePolicy("s", secure=True)
    assert CookiePolicy.for_app("s", env="production", public_url="https://t.no") == \
        CookiePolicy("__Host-s", secure=True)


async def test_the_database_store_reads_the_patients_kept_language_with_the_session(db):
    """One query gives every logged-in page both the session and the language
    (web.views.profile.preferred_locale asks no second one)."""
    async with db.write() as session:
        patient = await f.patient(session)
    store = DatabaseSessionStore(db, FERNET)
    sessions = manager(store, Clock())
    value, _ = await sessions.create("patient", issuer="iss", sid=None, patient_id=patient.id)
    loaded = await sessions.get(value, "patient")
    assert loaded is not None and loaded.profile_loaded and loaded.profile_locale is None
    async with db.write() as session:
        await session.execute(update(Patient).where(Patient.id == patient.id)
                              .values(preferred_language="nn"))
    loaded = await sessions.get(value, "patient")
    assert loaded is not None and loaded.profile_locale == "nn"
    anonymous, _ = await sessions.create("patient", issuer="iss", sid=None)
    loaded = await sessions.get(anonymous, "patient")
    assert loaded is not None and not loaded.profile_loaded
