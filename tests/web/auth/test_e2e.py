"""End to end over real HTTP: the app served by uvicorn on a loopback port, its
OIDC client talking to the local ID-porten over that port exactly as it
would to ID-porten, and httpx as the browser."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import time_machine
import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette

from core.db import create_database
from core.loopback import QuickStopServer
from tests.web.auth.helpers import (
    ADULT_PID,
    browser,
    build_app,
    create_tables,
    form_action,
    form_fields,
    headless,
    login,
    path_of,
    query_of,
    rsa_jwk,
    set_cookie_header,
    start_login,
)
from web.auth.models import AuthSession

pytestmark = pytest.mark.usefixtures("quiet_browser_log")


@dataclass
class Live:
    url: str
    app: Starlette
    database_url: str

    def browser(self) -> httpx.AsyncClient:
        return browser(self.url)

    async def sessions(self) -> list[AuthSession]:
        db = create_database(self.database_url)
        try:
            async with db.read() as session:
                return list((await session.execute(select(AuthSession))).scalars())
        finally:
            await db.dispose()


@pytest.fixture(params=["client_secret_post", "private_key_jwt"])
async def live(request, tmp_path: Path) -> AsyncIterator[Live]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    extra = {}
    if request.param == "private_key_jwt":
        extra["idporten_client_jwk"] = rsa_jwk()[1]
        extra["staff_oidc_client_jwk"] = rsa_jwk("staff-key")[1]
    app = build_app(tmp_path, url, **extra)
    await create_tables(app)
    server = QuickStopServer(uvicorn.Config(app, log_config=None, log_level="warning",
                                            access_log=False,
                                            lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield Live(url, app, app.state.settings.database_url)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def test_full_login_logout_and_frontchannel_logout(live):
    async with live.browser() as client:
        response = await login(client)
        assert response.status_code == 303
        assert (await client.get("/test/me")).status_code == 200

        # Logout: our session ends, the browser goes to the provider's end session.
        out = await client.post("/auth/logout")
        assert out.status_code == 303 and out.headers["location"].startswith(
            live.url + "/dev/idporten/logout?")
        assert await live.sessions() == []
        page = await client.get(path_of(out.headers["location"]))
        # The provider's page loads our front-channel URI (the browser does, in an iframe).
        frames = [f.replace("&amp;", "&") for f in
                  re.findall(r'<iframe class="frontchannel-logout" src="([^"]+)"', page.text)]
        assert frames and all(f.startswith(live.url + "/auth/frontchannel-logout?")
                              for f in frames)
        for frame in frames:
            assert (await client.get(path_of(frame))).status_code == 200
        back = re.search(r'id="continue" href="([^"]+)"', page.text)
        assert back is not None
        done = await client.get(path_of(back.group(1).replace("&amp;", "&")))
        assert done.status_code == 200 and "You are logged out" in done.text
        assert (await client.get("/test/me")).status_code == 303


async def test_login_through_the_form(live):
    async with live.browser() as client:
        authorize, _ = await start_login(client)
        assert set(query_of(authorize)) == {"client_id", "request_uri"}  # PAR
        page = await client.get(path_of(authorize))
        assert page.status_code == 200
        submitted = await client.post(form_action(page.text), data={
            **form_fields(page.text), "login": "pid", "pid": ADULT_PID,
            "level": "idporten-loa-high"})
        assert submitted.status_code == 303
        response = await client.get(path_of(submitted.headers["location"]))
        assert response.status_code == 303
        me = await client.get("/test/me")
        assert me.status_code == 200 and me.json()["acr"] == "idporten-loa-high"


async def test_frontchannel_logout_by_sid(live):
    async with live.browser() as client:
        await login(client)
        [session] = await live.sessions()
        async with live.browser() as iframe:  # no cookies: a third-party iframe
            response = await iframe.get("/auth/frontchannel-logout", params={
                "iss": live.url + "/dev/idporten", "sid": session.sid})
        assert response.status_code == 200
        assert f"frame-ancestors 'self' {live.url}" in response.headers["content-security-policy"]
        assert await live.sessions() == []
        assert (await client.get("/test/me")).status_code == 303


async def test_cookie_flags_and_a_new_session_id_at_login(live):
    async with live.browser() as client:
        first = set_cookie_header(await login(client), "tanntid-session")
        flags = first.lower()
        assert "httponly" in flags and "samesite=lax" in flags and "secure" in flags
        second = set_cookie_header(await login(client), "tanntid-session")
        assert first.split(";")[0] != second.split(";")[0]
        assert len(await live.sessions()) == 1


async def test_idle_timeout_and_htmx_redirect(live):
    async with live.browser() as client:
        with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
            await login(client)
            traveller.shift(timedelta(minutes=29))
            assert (await client.get("/test/me")).status_code == 200
            traveller.shift(timedelta(minutes=31))
            response = await client.get("/test/me/fragment", headers={
                "HX-Request": "true", "HX-Current-URL": live.url + "/mine-timer"})
            assert response.status_code == 401
            assert response.headers["HX-Redirect"] == "/auth/login?next=/mine-timer"
            assert response.text == ""
        assert await live.sessions() == []


async def test_absolute_limit(live):
    async with live.browser() as client:
        with time_machine.travel(datetime.now(UTC), tick=True) as traveller:
            await login(client)
            for _ in range(4):
                traveller.shift(timedelta(minutes=25))
                assert (await client.get("/test/me")).status_code == 200
            traveller.shift(timedelta(minutes=21))  # 121 minutes after login
            response = await client.get("/test/me")
            assert response.status_code == 303
            assert response.headers["location"] == "/auth/login?next=/test/me"


async def test_a_replayed_code_is_refused_over_http(live):
    async with live.browser() as client:
        authorize, _ = await start_login(client)
        callback = await headless(client, authorize, ADULT_PID)
        login_cookie = client.browser_cookies.get("tanntid-login")
        assert (await client.get(path_of(callback))).status_code == 303
        async with live.browser() as attacker:
            attacker.browser_cookies.set("tanntid-login", login_cookie, domain="127.0.0.1",
                                         path="/auth")
            replay = await attacker.get(path_of(callback))
        assert replay.status_code == 400 and "Login not completed" in replay.text
        assert len(await live.sessions()) == 1
