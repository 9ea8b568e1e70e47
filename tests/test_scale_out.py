"""Several processes on one database: the serve command's processes, the
pool settings, the 503 when the pool is exhausted, the runner that stops
claiming on shutdown, and the local test ID-porten's logins kept where every
process sees them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
import sqlalchemy.exc
from asyncpg.exceptions import TooManyConnectionsError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

import core.db
from core.db import create_database, database_for
from core.settings import Settings, SettingsError
from idporten.local_provider import LocalProvider, s256
from notifications.runner import InProcessRunner
from tests.databases import drop_postgres_schema, new_postgres_schema
from tests.notifications.helpers import EARLY, Clock, MemorySms, make_runtime
from tests.web.auth.helpers import ADULT_PID
from web import cli
from web.app import create_app
from web.auth.config import LOCAL_PATH, PATIENT_PATHS, local_client_secret
from web.auth.local import local_provider
from web.health import begin_shutdown

SECRET = "scale-out-unit-" + "k" * 32
PG = "postgresql+asyncpg://u@db.invalid:5432/tanntid"


# --- settings and the pool ----------------------------------------------------

def test_pool_and_process_settings_come_from_the_environment():
    settings = Settings.from_env({
        "SECRET_KEY": SECRET, "WEB_CONCURRENCY": "4", "DATABASE_POOL_SIZE": "3",
        "DATABASE_MAX_OVERFLOW": "2", "DATABASE_POOL_TIMEOUT": "2.5",
        "DATABASE_PGBOUNCER": "1"})
    assert (settings.web_concurrency, settings.database_pool_size,
            settings.database_max_overflow, settings.database_pool_timeout,
            settings.database_pgbouncer) == (4, 3, 2, 2.5, True)
    defaults = Settings.from_env({"SECRET_KEY": SECRET})
    assert (defaults.web_concurrency, defaults.database_pool_size,
            defaults.database_max_overflow, defaults.database_pgbouncer) == (1, 10, 0, False)


@pytest.mark.parametrize("name, value", [
    ("WEB_CONCURRENCY", "0"), ("WEB_CONCURRENCY", "many"), ("DATABASE_POOL_SIZE", "0"),
    ("DATABASE_MAX_OVERFLOW", "-1"), ("DATABASE_POOL_TIMEOUT", "0")])
def test_nonsense_pool_settings_are_refused(name: str, value: str):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"SECRET_KEY": SECRET, name: value})


async def test_each_process_opens_at_most_pool_size_plus_overflow():
    db = database_for(Settings(secret_key=SECRET, database_url=PG, database_pool_size=3,
                               database_max_overflow=2, database_pool_timeout=4.0).database)
    pool: Any = db.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 4.0)
    await db.dispose()


@pytest.mark.parametrize("url, flag", [(PG, True), (PG + "?pgbouncer=1", False)])
async def test_pgbouncer_mode_turns_off_asyncpg_statement_caches(monkeypatch, url, flag):
    seen: dict[str, Any] = {}
    real = core.db.create_async_engine

    def spy(url: Any, **kwargs: Any) -> Any:
        seen.update(url=str(url), **kwargs)
        return real(url, **kwargs)

    monkeypatch.setattr(core.db, "create_async_engine", spy)
    db = create_database(url, pgbouncer=flag)
    await db.dispose()
    assert "prepared_statement_cache_size=0" in seen["url"]
    assert "pgbouncer" not in seen["url"]
    assert seen["connect_args"]["statement_cache_size"] == 0
    names = seen["connect_args"]["prepared_statement_name_func"]
    assert names() != names()


async def test_without_pgbouncer_the_caches_stay(monkeypatch):
    seen: dict[str, Any] = {}
    real = core.db.create_async_engine
    monkeypatch.setattr(core.db, "create_async_engine",
                        lambda url, **kw: seen.update(url=str(url), **kw) or real(url, **kw))
    await create_database(PG).dispose()
    assert "prepared_statement_cache_size" not in seen["url"]
    assert "statement_cache_size" not in seen["connect_args"]


# --- 503 when the database has no connection to give ------------------------------

def app_raising(tmp_path: Path, exc: BaseException) -> Starlette:
    app = create_app(Settings(env="test", secret_key=SECRET,
                              database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"))

    async def boom(request: Request) -> Response:
        raise exc

    app.router.routes.insert(0, Route("/boom", boom))
    return app


def wrapped(cause: BaseException) -> sqlalchemy.exc.DBAPIError:
    try:
        raise cause
    except BaseException as inner:
        return sqlalchemy.exc.OperationalError("connect", {}, inner)


@pytest.mark.parametrize("exc", [
    sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"),
    TooManyConnectionsError("sorry, too many clients already"),
    wrapped(TooManyConnectionsError("sorry, too many clients already")),
], ids=["pool-timeout", "too-many-connections", "wrapped"])
@pytest.mark.parametrize("language, heading", [
    ("en", "The service is busy right now"), ("nb", "Tjenesten har mye å gjøre akkurat nå")])
async def test_an_exhausted_database_gives_a_503_page_with_retry_after(
        tmp_path, exc, language, heading):
    app = app_raising(tmp_path, exc)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1:8000") as client:
        response = await client.get("/boom", headers={"Accept-Language": language})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert heading in response.text
    assert response.headers["x-correlation-id"] in response.text


async def test_other_database_errors_stay_500(tmp_path):
    app = app_raising(tmp_path, wrapped(ValueError("syntax")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://127.0.0.1:8000") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "retry-after" not in response.headers


@pytest.mark.postgres
async def test_a_real_pool_timeout_on_postgresql_is_a_503():
    url, schema = await new_postgres_schema()
    app = create_app(Settings(env="test", secret_key=SECRET, database_url=url))
    await app.state.db.dispose()
    app.state.db = create_database(url, pool_size=1, max_overflow=0, pool_timeout=0.3,
                                   connect_args={"server_settings": {"search_path": schema}})
    try:
        async with app.state.db.engine.connect(), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://127.0.0.1:8000") as client:
            response = await client.get("/readyz")
            page = await client.get("/klinikker")
        assert response.status_code == 503  # the probe's connection could not be had either
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
    finally:
        await app.state.db.dispose()
        await drop_postgres_schema(url, schema)


# --- serve --workers ------------------------------------------------------------

@pytest.fixture
def uvicorn_run(monkeypatch) -> list[dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    return calls


def test_serve_starts_the_processes_asked_for(uvicorn_run, monkeypatch):
    assert cli._serve(Settings(web_concurrency=3), None, 8123, False) == 0
    assert cli._serve(Settings(web_concurrency=3), None, 8123, False, workers=2) == 0
    assert cli._serve(Settings(), None, 8123, False) == 0
    assert [call["workers"] for call in uvicorn_run] == [3, 2, None]
    assert {call["app"] for call in uvicorn_run} == {"web.asgi:app"}
    assert {call["timeout_graceful_shutdown"] for call in uvicorn_run} == {
        cli.GRACEFUL_SHUTDOWN_SECONDS}


def test_serve_refuses_reload_with_several_processes_and_zero_processes(uvicorn_run, capsys):
    assert cli._serve(Settings(), None, 8123, True, workers=2) == 2
    assert "--reload runs one process" in capsys.readouterr().err
    assert cli._serve(Settings(), None, 8123, False, workers=0) == 2
    assert uvicorn_run == []


def test_the_workers_option_reaches_serve(monkeypatch):
    seen: dict[str, Any] = {}
    monkeypatch.setattr(cli, "_serve", lambda settings, host, port, reload, **kw:
                        seen.update(kw) or 0)
    monkeypatch.setenv("SECRET_KEY", SECRET)
    assert cli.main(["serve", "--workers", "4"]) == 0
    assert seen["workers"] == 4


# --- shutdown: the in-process runner stops claiming ---------------------------------

async def test_shutdown_makes_the_in_process_runner_stop_claiming(db):
    runner = InProcessRunner(make_runtime(db, MemorySms(), Clock(EARLY)), poll_interval=30)
    await runner.start()
    try:
        assert runner._task is not None and not runner._task.done()
        app = Starlette()
        app.state.notification_queue = runner
        begin_shutdown(app)
        async with asyncio.timeout(5):
            await asyncio.shield(runner._task)
        assert app.state.stopping
    finally:
        await runner.stop()


# --- the local test ID-porten across processes ------------------------------------

def _process(db: Any, settings: Settings) -> tuple[LocalProvider, httpx.AsyncClient]:
    """One "process": its own provider (own fresh key), the shared database."""
    provider = local_provider(settings)
    app = Starlette(routes=[Mount(LOCAL_PATH, app=provider)])
    app.state.db = db
    return provider, httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                       base_url=settings.public_url)


async def _login_split(first: httpx.AsyncClient, second: httpx.AsyncClient,
                       settings: Settings) -> tuple[str, dict[str, str]]:
    client_id = settings.idporten_client_id
    secret = local_client_secret(settings, client_id)
    redirect_uri = settings.public_url + PATIENT_PATHS.callback
    verifier = "v" * 48
    pushed = await first.post(f"{LOCAL_PATH}/par", data={
        "client_id": client_id, "client_secret": secret, "response_type": "code",
        "redirect_uri": redirect_uri, "scope": "openid", "state": "st", "nonce": "no",
        "code_challenge": s256(verifier), "code_challenge_method": "S256"})
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    authorized = await second.post(f"{LOCAL_PATH}/authorize", data={
        "client_id": client_id, "request_uri": request_uri,
        "login_hint": f"testid:{ADULT_PID}"})
    assert authorized.status_code == 303, authorized.text
    code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
    again = await first.post(f"{LOCAL_PATH}/authorize", data={
        "client_id": client_id, "request_uri": request_uri})
    assert again.status_code == 400  # a pushed request works once, in any process
    exchange = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": verifier,
                "client_id": client_id, "client_secret": secret}
    token = await first.post(f"{LOCAL_PATH}/token", data=exchange)
    assert token.status_code == 200, token.text
    return token.json()["id_token"], exchange


async def test_a_login_whose_steps_reach_different_processes_succeeds(db, tmp_path):
    settings = Settings(env="test", secret_key=SECRET, public_url="http://127.0.0.1:8000",
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}")
    one, first = _process(db, settings)
    two, second = _process(db, settings)
    assert one.kid != two.kid  # each process made a key of its own
    async with first, second:
        id_token, exchange = await _login_split(first, second, settings)
        replay = await second.post(f"{LOCAL_PATH}/token", data=exchange)
        keys = [(await c.get(f"{LOCAL_PATH}/jwks.json")).json() for c in (first, second)]
        id_token_2, _ = await _login_split(second, first, settings)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert keys[0] == keys[1]  # one key, whichever process publishes it
    key = jwt.PyJWK(keys[0]["keys"][0]).key
    claims = [jwt.decode(token, key, algorithms=["RS256"], audience=settings.idporten_client_id)
              for token in (id_token, id_token_2)]
    assert claims[0]["pid"] == ADULT_PID
    assert claims[0]["sub"] == claims[1]["sub"]  # pairwise sub: the same in every process


def test_the_load_benchmark_says_so_when_wrk_is_missing(monkeypatch, capsys):
    import shutil

    from benchmarks import scale

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert scale.main(["--duration", "1"]) == 2
    assert "wrk is not installed" in capsys.readouterr().err
