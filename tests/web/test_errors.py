"""Error pages: in the reader's language, with the correlation id, and
never a stack trace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tests.apps import client_for
from tests.pages import html, text_of


async def _boom(request: Request) -> None:
    raise RuntimeError("secret internals: SELECT * FROM patients")


@pytest.fixture
async def lenient_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gets the 500 page instead of the re-raised exception."""
    app.router.routes.append(Route("/boom", _boom))
    async with client_for(app, raise_app_exceptions=False) as client:
        yield client


async def test_unknown_path_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/finnes-ikke", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    soup = html(response)
    assert soup.html is not None and soup.html["lang"] == "en"
    assert text_of(soup, "h1") == "Page not found"
    assert text_of(soup, "code.correlation-id") == response.headers["x-correlation-id"]


async def test_server_error_page_shows_reference_not_internals(
        lenient_client: httpx.AsyncClient) -> None:
    lenient_client.cookies.set("lang", "nn")
    response = await lenient_client.get("/boom")
    assert response.status_code == 500
    soup = html(response)
    assert soup.html is not None and soup.html["lang"] == "nn"
    assert text_of(soup, "h1") == "Noko gjekk gale hos oss"
    reference = text_of(soup, "code.correlation-id")
    assert len(reference) == 32
    # Rendered inside the middleware: the same headers as every other page.
    assert response.headers["x-correlation-id"] == reference
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "Traceback" not in response.text
    assert "secret internals" not in response.text
    assert "RuntimeError" not in response.text
