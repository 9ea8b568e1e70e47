"""Fixtures for the pages: compiled catalogs, an app on the ``db`` fixture's
database (SQLite and PostgreSQL) and an in-process HTTP client. Reading the
pages: :mod:`tests.pages`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from core.db import Database
from tests.apps import client_for, make_app
from tests.catalogs import compile_catalogs
from web import i18n


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    compile_catalogs()
    i18n.translations.cache_clear()


@pytest.fixture
def app(db: Database) -> Starlette:
    return make_app(db)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client
