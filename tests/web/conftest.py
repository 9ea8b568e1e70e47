"""Fixtures for the pages: compiled catalogs, an app on the ``db`` fixture's
database (SQLite and PostgreSQL), an in-process HTTP client, and an HTML
helper that finds elements by CSS selector."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup
from starlette.applications import Starlette

from core.db import Database
from core.settings import Settings
from web import i18n
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
BASE_URL = "http://127.0.0.1:8000"
#: Headers a browser sends with a form POST from one of our own pages.
SAME_ORIGIN = {"Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}


def compile_catalogs(locales: Path = LOCALES) -> list[Path]:
    """What ``pybabel compile -d locales`` does, for each catalog whose .mo is
    missing or older than its .po. Fuzzy entries are left out, as there."""
    compiled = []
    for po in sorted(locales.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as fp:
            catalog = read_po(fp, locale=po.parent.parent.name)
        partial = mo.with_suffix(f".mo.{os.getpid()}")
        with partial.open("wb") as fp:
            write_mo(fp, catalog, use_fuzzy=False)
        partial.replace(mo)
        compiled.append(mo)
    return compiled


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    compile_catalogs()
    i18n.translations.cache_clear()


@pytest.fixture
async def app(db: Database) -> AsyncIterator[Starlette]:
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(Settings(env="test", secret_key="t" * 40, database_url=url))
    own = app.state.db
    app.state.db = db  # the fixture's database: a fresh schema on either engine
    await own.dispose()
    yield app


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def html(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def text_of(soup: BeautifulSoup, selector: str) -> str:
    """The whitespace-normalised text of the one element ``selector`` finds."""
    found = soup.select(selector)
    assert len(found) == 1, f"{selector!r} matched {len(found)} elements"
    return " ".join(found[0].get_text(" ").split())
