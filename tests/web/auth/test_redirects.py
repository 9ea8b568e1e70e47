"""`next` after login: an open redirect is ignored, a local path is kept."""

from __future__ import annotations

from tests.web.auth.helpers import ADULT_PID, headless, path_of, start_login


async def test_login_ignores_an_open_redirect_next(client):
    authorize, _ = await start_login(client, "/auth/login?next=%2F%2Fevil.example")
    response = await client.get(path_of(await headless(client, authorize, ADULT_PID)))
    assert response.status_code == 303
    assert response.headers["location"] == "/min-side"


async def test_login_returns_to_a_local_next(client):
    authorize, _ = await start_login(client, "/auth/login?next=%2Ftest%2Fme%3Fx%3D1")
    response = await client.get(path_of(await headless(client, authorize, ADULT_PID)))
    assert response.status_code == 303
    assert response.headers["location"] == "/test/me?x=1"
