"""``/auth/login`` is rate-limited per client address and per browser
session (each start is a pushed authorization request to ID-porten): a
limited request gets a 429 page in the reader's language with
``Retry-After``, never a 500, and nothing is sent to the provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from core.ratelimit import Limiter, Rule
from tests.apps import BASE_URL
from tests.web.auth.helpers import browser, build_app, local_login
from web import ratelimits


@pytest.fixture
async def limited_app(db: Database) -> AsyncIterator[Starlette]:
    application = build_app(db=db, login_rate_limit="5/minute",
                            login_session_rate_limit="2/minute")
    async with local_login(application):
        yield application


async def test_logins_per_address_are_limited_with_a_translated_429(
        limited_app: Starlette) -> None:
    async with browser(BASE_URL, httpx.ASGITransport(app=limited_app)) as c:
        for _ in range(5):
            c.browser_cookies.clear()  # type: ignore[attr-defined]  # a script keeps no cookies
            assert (await c.get("/auth/login")).status_code == 303
        c.browser_cookies.clear()  # type: ignore[attr-defined]
        refused = await c.get("/auth/login", headers={"Accept-Language": "nb"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Cache-Control"] == "no-store"
    assert "For mange forsøk" in refused.text
    assert "location" not in refused.headers


async def test_logins_per_session_are_limited(limited_app: Starlette) -> None:
    async with browser(BASE_URL, httpx.ASGITransport(app=limited_app)) as c:
        c.headers["Accept-Language"] = "en"
        # The first start sets the login cookie; the session limit counts from then on.
        assert (await c.get("/auth/login")).status_code == 303
        assert (await c.get("/auth/login")).status_code == 303
        assert (await c.get("/auth/login")).status_code == 303
        refused = await c.get("/auth/login")
        assert refused.status_code == 429
        assert "Too many attempts" in refused.text
        # Another browser from the same address still may (the address allows five).
    async with browser(BASE_URL, httpx.ASGITransport(app=limited_app)) as other:
        assert (await other.get("/auth/login")).status_code == 303


async def test_the_default_limits_let_an_ordinary_login_through(app: Starlette,
                                                                client: httpx.AsyncClient
                                                                ) -> None:
    for _ in range(3):
        assert (await client.get("/auth/login")).status_code == 303


@pytest.mark.redis
async def test_counts_are_shared_through_redis(redis_server_url: str, redis_prefix: str
                                               ) -> None:
    """Two processes (two limiters) on one Redis share one count."""
    rule = Rule.parse("login-address", "3/minute")
    first, second = (Limiter(redis_server_url, redis_prefix + "limits"),
                     Limiter(redis_server_url, redis_prefix + "limits"))
    try:
        await first.hit(rule, "192.0.2.1")
        await second.hit(rule, "192.0.2.1")
        await first.hit(rule, "192.0.2.1")
        with pytest.raises(ratelimits.RateLimited) as limited:
            await second.hit(rule, "192.0.2.1")
        assert limited.value.retry_after >= 1
        await second.hit(rule, "192.0.2.2")  # another address has its own count
    finally:
        await first.reset()


async def test_a_limit_whose_redis_does_not_answer_lets_requests_through() -> None:
    """A limit protects the service; it must not take it down."""
    limiter = Limiter("redis://127.0.0.1:1/0")
    rule = Rule.parse("login-address", "1/minute")
    for _ in range(3):
        await limiter.hit(rule, "192.0.2.9")  # neither RateLimited nor a connection error
