"""The privacy notice, the accessibility statement and help and contact:
open to all, in each of the four languages, one h1 and headings in order,
the links and numbers they promise, and no inline script or style."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette

from tests.apps import client_for
from tests.pages import html, text_of
from tests.web.auth.helpers import build_app
from tests.web.info.helpers import wire
from web import i18n
from web.i18n import LOCALES

PAGES = {
    "/personvern": "Privacy notice",
    "/tilgjengelighet": "Accessibility statement",
    "/hjelp": "Help and contact",
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """No database work is needed: these pages never look anyone up."""
    app = wire(build_app(tmp_path))
    async with client_for(app) as client:
        yield client
    await app.state.db.dispose()


def heading_levels(soup: BeautifulSoup) -> list[int]:
    main = soup.select_one("main")
    assert main is not None
    return [int(h.name[1]) for h in main.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])]


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize(("path", "title"), PAGES.items())
async def test_each_page_in_each_language(client: httpx.AsyncClient, path: str,
                                          title: str, lang: str) -> None:
    response = await client.get(path, headers={"Cookie": f"lang={lang}"})
    assert response.status_code == 200
    soup = html(response)
    assert soup.html is not None and soup.html["lang"] == lang
    expected = i18n.translations(lang).gettext(title)
    assert text_of(soup, "h1") == expected
    if lang == "en":
        assert expected == title
    assert soup.title is not None and soup.title.get_text() == f"{expected} – Tanntid"
    levels = heading_levels(soup)
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
    assert soup.select("style") == [] and soup.select("[style]") == []
    assert all(script.get("src") for script in soup.select("script"))
    for section in soup.select("main section[aria-labelledby]"):
        assert soup.select_one(f"#{section['aria-labelledby']}") is not None


async def test_the_pages_need_no_login(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "public, max-age=600"
        assert html(response).html["lang"] == "nb"  # type: ignore[index]


async def test_privacy_notice_says_who_what_why_and_where_to_complain(
        client: httpx.AsyncClient) -> None:
    soup = html(await client.get("/personvern", headers={"Accept-Language": "en"}))
    main = " ".join(soup.select_one("main").get_text(" ").split())  # type: ignore[union-attr]
    for fact in ("counties (fylkeskommuner)", "data controller", "Article 6(1)(e)",
                 "Article 9(2)(h)", "pasientjournalloven", "helsepersonelloven",
                 "only the clinic, the time and a link",
                 "never contains your national identity number",
                 "Kontakt- og reservasjonsregisteret, KRR", "18 months",
                 "data protection officer", "Datatilsynet"):
        assert fact in main, fact
    assert soup.select_one("main a[href='/innsyn']") is not None
    assert soup.select_one("main a[href='/profil']") is not None
    complaint = soup.select_one("main a[href^='https://www.datatilsynet.no/']")
    assert complaint is not None and "Datatilsynet" in complaint.get_text()
    norge = soup.select_one("main a[href^='https://www.norge.no/en/']")
    assert norge is not None and norge.get_text() == "norge.no"


async def test_accessibility_statement_names_target_tests_limits_and_complaints(
        client: httpx.AsyncClient) -> None:
    soup = html(await client.get("/tilgjengelighet", headers={"Accept-Language": "en"}))
    main = " ".join(soup.select_one("main").get_text(" ").split())  # type: ignore[union-attr]
    for fact in ("(WCAG) 2.1 at level AA", "axe-core", "all four languages",
                 "phone-sized screen", "only the keyboard",
                 "Tilsynet for universell utforming av ikt", "Digdir"):
        assert fact in main, fact
    assert "Northern Sami text has not yet been checked by a native speaker" in text_of(
        soup, "#known-limitations")
    assert soup.select_one("main a[href='https://www.uutilsynet.no/']") is not None
    assert soup.select_one("main a[href='https://www.diskrimineringsnemnda.no/']") is not None
    assert text_of(soup, ".statement-date") == (
        "This statement was last updated on 22 November 2026.")


async def test_help_page_explains_login_age_rules_fees_and_who_to_call(
        client: httpx.AsyncClient) -> None:
    soup = html(await client.get("/hjelp", headers={"Accept-Language": "en"}))
    assert [dt.get_text(" ", strip=True) for dt in soup.select("dl.age-rules dt")] == [
        "Under 12", "12 to 15", "16 and over"]
    late = text_of(soup, "section[aria-labelledby=late-heading]")
    assert "If you are 18 or older and cancel less than 24 hours before the appointment" in late
    assert "Children and young people under 18 are never charged" in late
    assert text_of(soup, "#login-methods") == "You can use BankID, MinID, Buypass or Commfides."
    assert "you are told before you confirm" in late
    assert soup.select_one("main a[href='/auth/login']") is not None
    assert soup.select_one("main a[href='/klinikker']") is not None
    out_of_hours = soup.select_one("main a[href='tel:116117']")
    assert out_of_hours is not None and out_of_hours.get_text() == "116 117"
    assert soup.select_one("main a[href='tel:113']") is not None
    support = soup.select_one("main a[href='tel:+4780030300']")
    assert support is not None and support.get_text() == "800 30 300"
    assert text_of(soup, "#idporten-heading") == "Need help with ID-porten?"
    # The table of contents leads to each section's heading.
    for anchor in soup.select("nav.info-contents a"):
        assert soup.select_one(str(anchor["href"])) is not None


async def test_help_page_follows_the_required_level_of_assurance(tmp_path: Path) -> None:
    app: Starlette = wire(build_app(tmp_path, idporten_acr="idporten-loa-high"))
    async with client_for(app) as client:
        soup = html(await client.get("/hjelp", headers={"Accept-Language": "en"}))
    assert text_of(soup, "#login-methods") == (
        "You need an electronic ID on the high level: BankID, Buypass or Commfides.")
