"""What the tests with the real worker process share (the reliability
proofs, the bulk resend run twice, the refill race): a fresh PostgreSQL
database, a private Redis that a test may stop, the fake Twilio on loopback,
and the worker's environment pointed at all three."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from core.db import Database
from core.loopback import serving
from notifications.fakes.twilio import FakeTwilio
from tests.notifications.reliability_helpers import PrivateRedis, fresh_database, worker_env
from tests.services import postgres_url, service_missing

#: The tests' waits end as soon as the work is done; they are long because on
#: two shared cores these tests run beside others (pytest-xdist, the browser).
SLACK = 2


def missing(what: str) -> None:
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1)")
    pytest.skip(f"{what} not available")


@asynccontextmanager
async def own_database(*, pool_size: int = 10) -> AsyncIterator[tuple[str, Database]]:
    """A fresh PostgreSQL database of the test's own, with ``pool_size``
    connections; skipped, or failed under ``REQUIRE_SERVICES=1``, without a
    server."""
    url = postgres_url()
    reason = await service_missing("postgresql", url)
    if reason:
        missing(f"PostgreSQL ({reason})")
    async with fresh_database(url, pool_size=pool_size) as found:
        yield found


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, Database]]:
    async with own_database() as found:
        yield found


@pytest.fixture
def redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        missing("redis-server (a private Redis that the test may stop)")
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake() -> Iterator[tuple[FakeTwilio, str]]:
    twilio = FakeTwilio(seed=5)
    twilio.callbacks_enabled = False  # no web process here to receive them
    with serving(twilio.app, name="fake-twilio-reliability") as url:
        yield twilio, url


def env(database_url: str, redis: PrivateRedis, fake: tuple[FakeTwilio, str]
        ) -> dict[str, str]:
    """The worker's environment: ``database_url``, the private ``redis`` and
    the ``fake`` Twilio."""
    twilio, url = fake
    return worker_env(database_url, redis.url, account_sid=twilio.account_sid,
                      auth_token=twilio.auth_token, twilio_url=url)
