"""Health and readiness, and the headers every response carries."""

from __future__ import annotations

from core.settings import Settings
from tests.apps import make_app


async def test_healthz_and_readyz(db, app_client):
    c = app_client(make_app(db))
    live = await c.get("/healthz")
    ready = await c.get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert len(ready.headers["x-correlation-id"]) == 32
    assert "frame-ancestors 'none'" in ready.headers["content-security-policy"]
    assert ready.headers["x-content-type-options"] == "nosniff"


async def test_readyz_checks_redis_when_configured(db, redis_server_url, app_client):
    ok = await app_client(make_app(db, redis_url=redis_server_url)).get("/readyz")
    assert ok.json()["checks"] == {"database": "ok", "redis": "ok"}
    down = await app_client(make_app(db, redis_url="redis://127.0.0.1:1/0")).get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["redis"].startswith("unavailable")


async def test_readyz_reports_an_unreachable_database(tmp_path, app_client):
    from core.db import create_database

    broken = create_database(f"sqlite+aiosqlite:///{tmp_path}/missing-dir/x/db.sqlite3")
    response = await app_client(make_app(broken)).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")
    await broken.dispose()


def test_logout_may_lead_to_the_identity_providers():
    from web.app import identity_provider_origins

    settings = Settings(
        secret_key="t" * 40,
        idporten_discovery_url="https://test.idporten.no/.well-known/openid-configuration")
    assert identity_provider_origins(settings) == (
        "https://test.idporten.no", "https://login.test.idporten.no")
