"""Shared fixtures.

``db`` is parametrised over the two engines the service runs on: a fresh
SQLite file, and a fresh schema in the PostgreSQL named by
``TEST_DATABASE_URL`` (default: the local ``test`` database). Without a
reachable server the PostgreSQL cases skip with the reason, unless
``REQUIRE_SERVICES=1`` (CI), where they fail. How they are made cheaply:
:mod:`tests.databases`.

Every test runs on the suite's clock (:mod:`tests.clock`): ``TANNTID_TEST_NOW``
moves it; tests marked ``real_clock`` keep the machine's.

Under pytest-xdist each worker has its own databases, schemas, Redis key
prefixes and log files (names carry the worker id or a random part).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hypothesis
import pytest

from booking import events
from core.db import Database
from notifications import outbox
from tests.apps import app_client  # noqa: F401  (a fixture)
from tests.clock import ENV, frozen_clock, suite_now
from tests.databases import (
    drop_spare_postgres_schemas,
    postgres_database,
    sqlite_database,
    worker_id,
)
from tests.services import postgres_url, redis_url, require, service_missing

# Property tests check behaviour, never speed: on a busy 2-core CI machine
# Hypothesis's timing checks (a slow example, slow input generation) would
# fail a test for the machine's load. Every @given in the suite uses this.
hypothesis.settings.register_profile(
    "tanntid", deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile("tanntid")

pytest_plugins = ["tests.logcheck"]

HERE = Path(__file__).parent
#: The browser tests share one server and one Chromium per process
#: (package-scoped). They carry one xdist group, but pytest-xdist 3.8 cannot
#: pin a group to a worker under pytest 9 (the group goes into a node id that
#: pytest 9 no longer lets it change), so each worker takes its share of them,
#: one after another (they run first), with a server and a Chromium of its own.
BROWSER = HERE / "browser"
#: The long reliability proofs with the real worker process (a killed worker,
#: Redis stopped, a failing provider, fifty accepts at once, a bulk resend run
#: twice) and ``serve --workers 2`` under fifty logins: marked
#: ``reliability``. ``make test`` leaves them out; ``make test-reliability``
#: (and CI, ``.ci/run``, after ``make test``) runs them.
RELIABILITY = frozenset({
    HERE / "notifications" / "test_reliability.py",
    HERE / "notifications" / "test_refill_race.py",
    HERE / "notifications" / "test_bulk_resend_worker.py",
    HERE / "test_serve_workers.py",
    # The benchmarks' smoke runs: a simulated county month, booking over HTTP.
    HERE / "test_benchmarks_smoke.py",
    HERE / "test_http_booking_benchmark.py",
})


#: The pages' tests (``tests/web``) run on one engine: PostgreSQL, the
#: engine production runs on, or SQLite where no PostgreSQL answers and none
#: is required (a newcomer's machine). The domain below them (``booking``,
#: ``notifications``, the demo data) is tested on both engines; of the pages,
#: these also run on SQLite, the embedded default: the login and its
#: sessions, the walks that open every staff route, and the pages that read
#: the audit trail and the access logs with queries of their own.
WEB = HERE / "web"
WEB_ON_BOTH_ENGINES = frozenset({
    WEB / "auth",
    WEB / "test_pages.py",
    WEB / "clinic" / "test_scope.py",
    WEB / "schedule_admin" / "test_scope.py",
    WEB / "support" / "test_county_walk.py",
    WEB / "support" / "test_audit_viewer.py",
    WEB / "support" / "test_access_review.py",
    WEB / "patient" / "test_access_log.py",
    WEB / "patient" / "test_access_log_grouping.py",
})


def _web_engine() -> str:
    """``postgresql`` when it answers or is required (CI), else ``sqlite``."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        return "postgresql"
    missing = asyncio.run(service_missing("postgresql", postgres_url()))
    return "sqlite" if missing else "postgresql"


def _on_one_engine(item: pytest.Item, engine: str) -> bool:
    """True when ``item`` is a page test on the engine the pages do not use."""
    path = Path(item.path)
    if WEB not in path.parents or not WEB_ON_BOTH_ENGINES.isdisjoint({path, *path.parents}):
        return False
    callspec = getattr(item, "callspec", None)
    used = callspec.params.get("db") if callspec is not None else None
    return used is not None and used != engine


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers it; without xdist (-p no:xdist) it must still be known.
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker together")


def pytest_report_header(config: pytest.Config) -> str:
    return f"clock: every test starts at {suite_now().isoformat()} ({ENV} moves it)"


@pytest.hookimpl(tryfirst=True)  # before -m selects and xdist groups
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """The pages' tests run on one engine (:data:`WEB_ON_BOTH_ENGINES`);
    the browser tests are ``slow`` and one xdist group; the reliability
    tests are ``reliability``; every ``slow`` test runs first, so the long
    ones start at once, side by side, instead of ending the run (xdist hands
    out the tests in this order)."""
    engine = _web_engine() if any(WEB in Path(i.path).parents for i in items) else ""
    other = [item for item in items if engine and _on_one_engine(item, engine)]
    if other:
        config.hook.pytest_deselected(items=other)
        dropped = set(map(id, other))
        items[:] = [item for item in items if id(item) not in dropped]
    for item in items:
        path = Path(item.path)
        if BROWSER in path.parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("browser"))
        if path in RELIABILITY:
            item.add_marker(pytest.mark.reliability)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the PostgreSQL schemas kept for reuse (:mod:`tests.databases`),
    on an event loop of their own."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, drop_spare_postgres_schemas()).result()


@pytest.fixture(autouse=True)
def _suite_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("real_clock"):
        yield
        return
    with frozen_clock():
        yield


@pytest.fixture(autouse=True, scope="session")
def appointment_events() -> Iterator[None]:
    """Bookings write their notifications through the outbox, as every
    composition root wires it (``tests/test_wiring.py`` checks the roots)."""
    previous = outbox.subscribe()
    yield
    events.set_listener(previous)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        async for database in sqlite_database(tmp_path):
            yield database
        return
    async for database in postgres_database():
        yield database


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    """PostgreSQL only, for tests about real concurrency."""
    async for database in postgres_database(pool_size=30, max_overflow=30):
        yield database


@pytest.fixture
def redis_prefix() -> str:
    return f"tanntid-test:{worker_id()}:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
async def redis_server_url() -> str:
    return await require("redis", redis_url())
