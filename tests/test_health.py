"""Health and readiness, and the headers every response carries."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from core.settings import Settings
from web.app import create_app
from web.health import begin_shutdown, code_revisions


async def stamp(db, revision: str | None = None) -> None:
    """What ``tanntid migrate`` leaves behind: the schema's Alembic revision."""
    async with db.write() as session:
        await session.execute(text(
            "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)"))
        await session.execute(text("DELETE FROM alembic_version"))
        await session.execute(text("INSERT INTO alembic_version VALUES (:r)"),
                              {"r": revision or code_revisions()[0]})


def make_app(db, **kw):
    app = create_app(Settings(env="test", secret_key="t" * 40,
                              database_url="sqlite+aiosqlite:///var/unused.sqlite3", **kw))
    app.state.db = db
    return app


def client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://127.0.0.1:8000")


async def test_healthz_and_readyz(db):
    await stamp(db)
    async with client(make_app(db)) as c:
        live = await c.get("/healthz")
        ready = await c.get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok",
                            "checks": {"database": "ok", "migrations": "ok"}}
    assert ready.headers["cache-control"] == "no-store"
    assert len(ready.headers["x-correlation-id"]) == 32
    assert "frame-ancestors 'none'" in ready.headers["content-security-policy"]
    assert ready.headers["x-content-type-options"] == "nosniff"


async def test_readyz_checks_redis_when_configured(db, redis_server_url):
    await stamp(db)
    async with client(make_app(db, redis_url=redis_server_url)) as c:
        ok = await c.get("/readyz")
    assert ok.json()["checks"] == {"database": "ok", "migrations": "ok", "redis": "ok"}
    async with client(make_app(db, redis_url="redis://127.0.0.1:1/0")) as c:
        down = await c.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["redis"].startswith("unavailable")


async def test_readyz_reports_an_unreachable_database(tmp_path):
    from core.db import create_database

    broken = create_database(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x/db.sqlite3")
    async with client(make_app(broken)) as c:
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")
    await broken.dispose()


async def test_readyz_is_not_ready_while_migrations_are_behind_the_code(db):
    head, _ = code_revisions()
    async with client(make_app(db)) as c:
        unmigrated = await c.get("/readyz")
        await stamp(db, "0001")
        behind = await c.get("/readyz")
        await stamp(db, "ffffffffffff")  # a newer release migrated; this one still serves
        ahead = await c.get("/readyz")
        await stamp(db)
        current = await c.get("/readyz")
    assert unmigrated.status_code == 503
    assert unmigrated.json()["checks"]["migrations"].startswith("behind: the database is not")
    assert behind.status_code == 503
    assert behind.json()["checks"]["migrations"] == f"behind: database at 0001, code at {head}"
    assert ahead.status_code == 200 and current.status_code == 200


async def test_readyz_is_not_ready_once_shutdown_began(db):
    await stamp(db)
    app = make_app(db)
    async with client(app) as c:
        assert (await c.get("/readyz")).status_code == 200
        begin_shutdown(app)
        stopping = await c.get("/readyz")
        live = await c.get("/healthz")
    assert stopping.status_code == 503
    assert stopping.json()["checks"]["process"] == "shutting down"
    assert live.status_code == 200


def test_logout_may_lead_to_the_identity_providers():
    from web.app import identity_provider_origins

    settings = Settings(
        secret_key="t" * 40,
        idporten_discovery_url="https://test.idporten.no/.well-known/openid-configuration")
    assert identity_provider_origins(settings) == (
        "https://test.idporten.no", "https://login.test.idporten.no")
