"""Building an app with the login routes, a browser-like httpx client, and the
local provider inside an app."""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import date
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from core.db import Base, Database
from core.identity import synthetic_number
from idporten.local_provider import LocalProvider
from tests.apps import BASE_URL, SECRET_KEY, client_for, make_app
from tests.clock import suite_today
from web.auth.access import require_patient, require_staff
from web.auth.services import install

SECRET = SECRET_KEY
#: A synthetic adult (born 1980, month + 80) and a synthetic child of 8.
ADULT_PID = synthetic_number(date(1980, 5, 17), random.Random(1))
CHILD_PID = synthetic_number(date(suite_today().year - 8, 1, 10), random.Random(2))


async def me(request: Request) -> Response:
    principal = await require_patient(request)
    return JSONResponse({"patient_id": principal.patient_id, "acr": principal.session.acr})


async def me_fragment(request: Request) -> Response:
    principal = await require_patient(request)
    return HTMLResponse(f"<p id='who'>{principal.patient_id}</p>")


async def staff_me(request: Request) -> Response:
    principal = await require_staff(request)
    return JSONResponse({"roles": list(principal.grant.roles),
                         "county_id": principal.grant.county_id,
                         "clinic_ids": sorted(principal.actor.clinic_ids)})


def build_app(tmp_path: Path | None = None, public_url: str = BASE_URL, *,
              db: Database | None = None, **overrides: Any) -> Starlette:
    """The app (:func:`tests.apps.make_app`) with the test routes below: on
    ``db``, or else on an SQLite file of its own in ``tmp_path``."""
    if db is None and tmp_path is not None:
        overrides.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}")
    app = make_app(db, public_url=public_url, **overrides)
    app.router.routes.extend([Route("/test/me", me), Route("/test/me/fragment", me_fragment),
                              Route("/test/staff", staff_me)])
    return app


@asynccontextmanager
async def local_login(app: Starlette) -> AsyncIterator[Starlette]:
    """``app`` with its OIDC client reaching the local provider in-process,
    over the same HTTP interface it uses for ID-porten."""
    backchannel = client_for(app)
    install(app, http=backchannel)
    try:
        yield app
    finally:
        await backchannel.aclose()


async def create_tables(app: Starlette) -> None:
    async with app.state.db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)


def provider_of(app: Starlette) -> LocalProvider:
    for route in app.router.routes:
        if isinstance(route, Mount) and isinstance(route.app, LocalProvider):
            return route.app
    raise LookupError("no local provider mounted")


class _KeepNothing(DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


class BrowserCookies(httpx.AsyncBaseTransport):
    """Cookie handling like a browser on loopback, where Secure cookies count on
    http://127.0.0.1 (httpx's own jar sends them over https only)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.cookies = httpx.Cookies()
        self.cookies.jar.set_policy(
            DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "Cookie" not in request.headers:  # else the test set it on purpose
            self.cookies.set_cookie_header(request)
        response = await self.inner.handle_async_request(request)
        response.request = request
        self.cookies.extract_cookies(response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def browser(base_url: str, transport: httpx.AsyncBaseTransport | None = None,
            language: str | None = "en") -> httpx.AsyncClient:
    """A browser-like client: its own cookie jar, and the same-origin ``Origin``
    header a browser sends with a form POST. It asks for English pages, so
    tests can check the (English) message ids; ``language=None`` sends no
    preference (Bokmål pages)."""
    jar = BrowserCookies(transport or httpx.AsyncHTTPTransport())
    client = httpx.AsyncClient(base_url=base_url, transport=jar,
                               headers={"Origin": base_url,
                                        **({"Accept-Language": language} if language else {})},
                               follow_redirects=False)
    client.cookies.jar.set_policy(_KeepNothing())  # httpx's own jar stays empty
    client.browser_cookies = jar.cookies  # type: ignore[attr-defined]
    return client


def cookie(client: httpx.AsyncClient, name: str) -> str | None:
    jar: httpx.Cookies = client.browser_cookies  # type: ignore[attr-defined]
    for item in jar.jar:
        if item.name == name:
            return item.value
    return None


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def start_login(client: httpx.AsyncClient, path: str = "/auth/login"
                      ) -> tuple[str, httpx.Response]:
    """GET the login route; returns the provider's authorize URL."""
    response = await client.get(path)
    assert response.status_code == 303, response.text
    return response.headers["location"], response


async def headless(client: httpx.AsyncClient, authorize_url: str, hint: str) -> str:
    """Digdir's headless TestID: ``login_hint=testid:…``; sent as a POST form so
    the number stays out of URLs (and httpx's request log). Returns the
    callback URL with the code."""
    base = authorize_url.split("?", 1)[0]
    response = await client.post(base, data={**query_of(authorize_url),
                                              "login_hint": f"testid:{hint}"})
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def login(client: httpx.AsyncClient, pid: str = ADULT_PID, *, level: str = "",
                path: str = "/auth/login") -> httpx.Response:
    authorize_url, _ = await start_login(client, path)
    callback = await headless(client, authorize_url, pid + (f"_{level}" if level else ""))
    return await client.get(path_of(callback))


def session_cookie(response: httpx.Response, name: str = "tanntid-session") -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            value = header.split(";", 1)[0].split("=", 1)[1]
            return value.strip('"') or None
    return None


def set_cookie_header(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


def form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page's form."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def form_action(html: str) -> str:
    found = re.search(r'<form method="post" action="([^"]+)" class="local-login"', html)
    assert found, html
    return found.group(1)


def rsa_jwk(kid: str = "client-key-1") -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: Mapping[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    return key, json.dumps({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
