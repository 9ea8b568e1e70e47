"""Choosing the language: cookie, Accept-Language, Bokmål; the switch is a
POST that redirects back, and only ever to a path on this site."""

from __future__ import annotations

import httpx
import pytest

from tests.apps import SAME_ORIGIN
from tests.pages import html, text_of
from web.i18n import negotiate
from web.views.language import local_path


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, None, "nb"),
    (None, "en-GB,en;q=0.9", "en"),
    (None, "de-DE,de;q=0.9,nn;q=0.8,en;q=0.7", "nn"),
    (None, "en;q=0.5,se;q=0.9", "se"),
    (None, "no", "nb"),
    (None, "sme", "se"),
    (None, "fr, de", "nb"),
    (None, "en;q=0", "nb"),
    ("nn", "en", "nn"),
    ("xx", "en", "en"),
])
def test_negotiation_order(cookie: str | None, header: str | None, expected: str) -> None:
    assert negotiate(cookie, header) == expected


@pytest.mark.parametrize(("target", "expected"), [
    ("/klinikker?fylke=3&navn=a", "/klinikker?fylke=3&navn=a"),
    ("/", "/"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"),
    ("", "/"),
    (None, "/"),
])
def test_redirect_target_is_a_local_path(target: str | None, expected: str) -> None:
    assert local_path(target) == expected


async def test_pages_follow_accept_language(client: httpx.AsyncClient) -> None:
    soup = html(await client.get("/klinikker", headers={"Accept-Language": "en-US,en;q=0.8"}))
    assert soup.html is not None and soup.html["lang"] == "en"
    assert text_of(soup, "h1") == "Find a clinic"


@pytest.mark.parametrize(("lang", "heading"), [
    ("nn", "Klinikkar"), ("en", "Clinics"), ("se", "Klinihkat"), ("nb", "Klinikker"),
])
async def test_switching_language_sets_a_cookie_and_redirects_back(
        client: httpx.AsyncClient, lang: str, heading: str) -> None:
    response = await client.post("/language", data={"lang": lang, "next": "/klinikker?navn=a"},
                                 headers=SAME_ORIGIN)
    assert response.status_code == 303
    assert response.headers["location"] == "/klinikker?navn=a"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"lang={lang};") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    soup = html(await client.get("/klinikker?navn=a", headers={"Accept-Language": "nb"}))
    assert soup.html is not None and soup.html["lang"] == lang
    assert text_of(soup, "#results-heading") == heading
    current = soup.select_one("button[name=lang][aria-current=true]")
    assert current is not None and current["value"] == lang
    assert soup.select_one("input[name=next]")["value"] == "/klinikker?navn=a"  # type: ignore[index]


async def test_unknown_language_or_foreign_target_changes_nothing_dangerous(
        client: httpx.AsyncClient) -> None:
    response = await client.post("/language", data={"lang": "xx", "next": "//evil.example"},
                                 headers=SAME_ORIGIN)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {},  # neither header: not a browser page of ours
])
async def test_cross_site_post_is_refused_with_a_translated_page(
        client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    client.cookies.set("lang", "en")
    response = await client.post("/language", data={"lang": "nn", "next": "/"}, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    soup = html(response)
    assert soup.html is not None and soup.html["lang"] == "en"
    assert text_of(soup, "h1") == "Request refused"
    assert text_of(soup, "code.correlation-id") == response.headers["x-correlation-id"]
    after = html(await client.get("/"))
    assert after.html is not None and after.html["lang"] == "en"


async def test_get_on_the_language_form_is_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get("/language")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]
    assert html(response).select_one("code.correlation-id") is not None


async def test_language_switch_on_a_refused_post_returns_to_the_front_page(
        client: httpx.AsyncClient) -> None:
    response = await client.post("/language", data={"lang": "nn"},
                                 headers={"Origin": "https://evil.example"})
    assert html(response).select_one("input[name=next]")["value"] == "/"  # type: ignore[index]


async def test_an_origin_matching_only_the_host_header_is_refused(
        client: httpx.AsyncClient) -> None:
    """PUBLIC_URL alone decides our origin: a request that names another host
    and the same as its Origin is still from another site."""
    response = await client.post("/language", data={"lang": "nn", "next": "/"},
                                 headers={"Host": "evil.example",
                                          "Origin": "http://evil.example"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_a_chunked_body_over_the_form_limit_is_refused_while_read(
        client: httpx.AsyncClient) -> None:
    """No Content-Length: the limit counts the bytes as they arrive and stops
    reading at the first chunk past 4 KiB, instead of reading 3 MB."""
    sent = 0

    async def chunks():  # type: ignore[no-untyped-def]
        nonlocal sent
        yield b"lang=nn&next=%2F&pad="
        for _ in range(3 * 1024):
            sent += 1024
            yield b"a" * 1024

    response = await client.post("/language", content=chunks(), headers={
        **SAME_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert "set-cookie" not in response.headers
    assert sent <= 8 * 1024


async def test_an_announced_body_over_the_form_limit_is_refused(
        client: httpx.AsyncClient) -> None:
    response = await client.post("/language", content=b"lang=nn&pad=" + b"a" * 5000,
                                 headers={**SAME_ORIGIN, "Content-Type":
                                          "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert "set-cookie" not in response.headers
