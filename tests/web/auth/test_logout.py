"""Logout: the local session ends, then ID-porten's (with id_token_hint,
post_logout_redirect_uri and state); front-channel logout finds the session
by sid, without a cookie."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from tests.web.auth.helpers import browser, login, path_of, query_of
from web.auth.models import AuthSession

pytestmark = pytest.mark.usefixtures("quiet_browser_log")


async def sid_of_only_session(app) -> str:
    async with app.state.db.read() as session:
        sid = (await session.execute(select(AuthSession.sid))).scalar_one()
    assert sid
    return sid


async def test_logout_ends_the_session_and_goes_to_the_end_session_endpoint(app, client):
    await login(client)
    response = await client.post("/auth/logout")
    assert response.status_code == 303
    target = response.headers["location"]
    assert target.startswith("http://127.0.0.1:8000/dev/idporten/logout?")
    params = query_of(target)
    assert params["post_logout_redirect_uri"] == "http://127.0.0.1:8000/auth/logout/callback"
    assert params["id_token_hint"].count(".") == 2 and params["state"]
    assert re.fullmatch(r"[\x20-\x7E]+", params["state"])  # Digdir's rule for logout state
    assert (await client.get("/test/me")).status_code == 303

    # The provider's page: front-channel iframes, then back to us with the state.
    page = await client.get(path_of(target))
    assert page.status_code == 200
    frames = re.findall(r'<iframe class="frontchannel-logout" src="([^"]+)"', page.text)
    assert len(frames) == 1 and "/auth/frontchannel-logout?" in frames[0]
    onward = re.search(r'<a class="ds-link" id="continue" href="([^"]+)"', page.text)
    assert onward is not None
    back = onward.group(1).replace("&amp;", "&")
    assert query_of(back)["state"] == params["state"]
    done = await client.get(path_of(back))
    assert done.status_code == 200 and "You are logged out" in done.text


async def test_logout_without_a_session_still_ends_the_providers_session(client):
    response = await client.post("/auth/logout")
    assert response.status_code == 303
    assert query_of(response.headers["location"])["client_id"] == "tanntid-local"


async def test_logout_is_a_post_from_our_own_pages_only(app, client):
    await login(client)
    refused = await client.post("/auth/logout", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert (await client.get("/test/me")).status_code == 200
    assert (await client.get("/auth/logout")).status_code == 405


async def test_frontchannel_logout_deletes_the_session_by_sid_without_a_cookie(app, client):
    await login(client)
    sid = await sid_of_only_session(app)
    async with browser("http://127.0.0.1:8000", httpx.ASGITransport(app=app)) as iframe:
        response = await iframe.get("/auth/frontchannel-logout", params={
            "iss": "http://127.0.0.1:8000/dev/idporten", "sid": sid})
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'self' http://127.0.0.1:8000" in policy
    assert response.headers["cache-control"] == "no-store"
    assert (await client.get("/test/me")).status_code == 303


async def test_frontchannel_logout_from_another_issuer_is_ignored(app, client):
    await login(client)
    sid = await sid_of_only_session(app)
    response = await client.get("/auth/frontchannel-logout",
                                params={"iss": "https://evil.example", "sid": sid})
    assert response.status_code == 400
    assert (await client.get("/test/me")).status_code == 200


async def test_frontchannel_logout_without_sid_is_accepted_and_ignored(app, client):
    await login(client)
    response = await client.get("/auth/frontchannel-logout")
    assert response.status_code == 202
    assert (await client.get("/test/me")).status_code == 200


async def test_logout_elsewhere_reaches_us_through_the_providers_page(app, client):
    """Another service in the circle of trust ends the ID-porten session: the
    provider's end-session page loads our front-channel URI."""
    await login(client)
    sid = await sid_of_only_session(app)
    provider_page = await client.get("/dev/idporten/logout", params={
        "id_token_hint": await _id_token(app)})
    frames = re.findall(r'src="([^"]+)"', provider_page.text)
    frame = next(f.replace("&amp;", "&") for f in frames if "frontchannel" in f)
    assert query_of(frame)["sid"] == sid
    async with browser("http://127.0.0.1:8000", httpx.ASGITransport(app=app)) as iframe:
        assert (await iframe.get(path_of(frame))).status_code == 200
    assert (await client.get("/test/me")).status_code == 303


async def _id_token(app) -> str:
    from web.auth.services import services
    from web.auth.sessions import _decrypt

    async with app.state.db.read() as session:
        row = (await session.execute(select(AuthSession))).scalar_one()
    token = _decrypt(services(app).sessions.store.fernet, row.id_token_encrypted)
    assert token
    return token


async def test_the_header_follows_the_live_session_not_the_cookie(app, client):
    """After a front-channel logout the browser still holds the cookie, but
    the session is gone: the header offers "Log in", not "My page"."""
    await login(client)
    before = await client.get("/klinikker")
    assert 'action="/auth/logout"' in before.text and 'href="/min-side"' in before.text
    sid = await sid_of_only_session(app)
    async with browser("http://127.0.0.1:8000", httpx.ASGITransport(app=app)) as iframe:
        await iframe.get("/auth/frontchannel-logout", params={
            "iss": "http://127.0.0.1:8000/dev/idporten", "sid": sid})
    assert any("session" in c.name for c in client.browser_cookies.jar)  # still held
    after = await client.get("/klinikker")
    assert after.status_code == 200
    assert 'action="/auth/logout"' not in after.text
    assert 'href="/auth/login?next=/min-side"' in after.text
