"""The landing page, the layout every page shares, and the security headers."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from core.db import Database
from tests import factories as f
from tests.pages import html, text_of


async def test_landing_page_is_in_bokmal_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    soup = html(response)
    assert soup.html is not None and soup.html["lang"] == "nb"
    assert text_of(soup, "h1") == "Timer hos den offentlige tannhelsetjenesten"
    assert soup.select_one("main a[href='/klinikker']") is not None


async def test_layout_has_skip_link_landmarks_and_language_forms(
        client: httpx.AsyncClient) -> None:
    soup = html(await client.get("/"))
    skip = soup.select_one("body > a.ds-skip-link")
    assert skip is not None and skip["href"] == "#main"
    assert soup.select_one("main#main") is not None
    assert soup.select_one("header") is not None and soup.select_one("footer") is not None
    # One compact control: a disclosure naming the language in use, with the form inside.
    switcher = soup.select_one("header details.language-switcher")
    assert switcher is not None
    summary = switcher.select_one("summary")
    assert summary is not None and "NB (Bokmål)" in summary.get_text()
    form = switcher.select_one("nav form")
    assert form is not None and form["method"] == "post" and form["action"] == "/language"
    assert [b["value"] for b in form.select("button[name=lang]")] == ["nb", "nn", "en", "se"]
    assert form.select_one("button[aria-current=true]")["value"] == "nb"  # type: ignore[index]
    # The profile is linked for a logged-in patient only.
    assert soup.select_one("header a[href='/profil']") is None


async def test_security_headers_are_sent(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-correlation-id"]


async def _pages(client: httpx.AsyncClient, db: Database) -> list[httpx.Response]:
    async with db.write() as session:
        clinic = await f.clinic(session, accessibility="Trinnfri inngang")
    return [await client.get(path) for path in
            ("/", "/klinikker", f"/klinikker/{clinic.slug}", "/finnes-ikke")]


async def test_no_inline_script_or_style_anywhere(client: httpx.AsyncClient, db: Database) -> None:
    for response in await _pages(client, db):
        soup = html(response)
        assert soup.select("style") == [], response.url
        assert soup.select("[style]") == [], response.url
        assert all(script.get("src") for script in soup.select("script")), response.url
        for element in soup.find_all(True):
            handlers = [name for name in element.attrs if name.startswith("on")]
            assert handlers == [], (response.url, element.name, handlers)


async def test_stylesheets_and_scripts_the_layout_links_are_served(
        client: httpx.AsyncClient) -> None:
    soup = html(await client.get("/"))
    assets = [link["href"] for link in soup.select("link[rel=stylesheet]")]
    assets += [script["src"] for script in soup.select("script[src]")]
    assert any("htmx" in str(asset) for asset in assets)
    assert any("designsystemet" in str(asset) for asset in assets)
    for asset in assets:
        assert str(asset).startswith("/static/"), "self-hosted only, never a CDN"
        response = await client.get(str(asset))
        assert response.status_code == 200, (
            f"{asset}: run `npm ci && python scripts/copy_static.py` (make setup)")
        # The address names the content, so browsers keep the file for a year.
        version = str(asset).partition("?v=")[2]
        assert version == hashlib.sha256(response.content).hexdigest()[:10], asset
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("query", ["", "?v=0000000000", "?v=a&v=b"])
async def test_an_asset_address_without_its_current_hash_is_revalidated(
        client: httpx.AsyncClient, query: str) -> None:
    """An address of an earlier release (or none) must not be kept: the
    browser asks again and gets the current file."""
    response = await client.get("/static/css/tanntid.css" + query)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert "etag" in response.headers


@pytest.mark.parametrize("path", ["/healthz"])
async def test_health_endpoints_are_kept(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
